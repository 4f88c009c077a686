//! One request in, one response out (DESIGN.md, "Data flow"). No I/O, no clock:
//! the time and the peer are arguments, so tests and fuzz targets drive it
//! without sockets.

use std::net::SocketAddr;

use crate::store::{Reader, Store, StoreError};

/// How the request arrived; decides the response size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One datagram; the answer is limited by EDNS (RFC 6891 §6.2.5).
    Udp,
    /// One TCP frame without its length prefix (RFC 7766); up to 65535 octets.
    Tcp,
}

/// Settings of the request path.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Largest UDP response we send, whatever the client offers (RFC 6891 §6.2.5;
    /// 1232 by default, the DNS Flag Day 2020 value). Never below 512.
    pub max_udp_payload: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_udp_payload: 1232,
        }
    }
}

/// The request handler of one worker.
pub struct Handler {
    reader: Reader,
    config: Config,
}

impl Handler {
    /// A handler reading `store`.
    pub fn new(store: &Store, config: Config) -> Result<Handler, StoreError> {
        Ok(Handler {
            reader: store.reader()?,
            config,
        })
    }

    /// Moves the read snapshot to the newest committed data if a write committed
    /// (an import, an update on another worker). Call it once per wake-up and on
    /// a timer; it costs one read of LMDB's meta page.
    pub fn refresh(&mut self) {
        if let Err(e) = self.reader.refresh() {
            log::error!("renewing the read snapshot failed: {e:?}");
        }
    }

    /// Answers `request` into `response` and returns the response length, or
    /// `None` when the request must be dropped (RFC 1035 §4.1.1: shorter than a
    /// header, or QR=1). `now` is seconds since the Unix epoch.
    pub fn handle(
        &mut self,
        now: u64,
        peer: SocketAddr,
        transport: Transport,
        request: &[u8],
        response: &mut [u8],
    ) -> Option<usize> {
        let _ = (now, peer, transport, request, response, &self.config);
        None
    }
}

//! Process signals, received in the main thread through signal-hook's
//! self-pipe and a `mio::Poll` of their own (no code runs in signal context
//! beyond signal-hook's write to the pipe).

use std::io;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

const SIGNALS: Token = Token(0);

/// What a signal asks the server to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// SIGINT or SIGTERM: stop cleanly.
    Stop(&'static str),
    /// SIGHUP: reopen the log file (after logrotate moved it).
    Reopen,
}

/// SIGINT, SIGTERM and SIGHUP caught from creation on: from then the default
/// action (terminating the process) no longer applies to them.
pub struct SignalWatch {
    poll: Poll,
    events: Events,
    signals: Signals,
}

impl SignalWatch {
    /// Starts catching the signals.
    pub fn new() -> io::Result<SignalWatch> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        Ok(SignalWatch {
            poll,
            events: Events::with_capacity(4),
            signals,
        })
    }

    /// Waits up to `timeout` for signals and calls `on_request` for each one
    /// that arrived, in order.
    pub fn wait(
        &mut self,
        timeout: Duration,
        on_request: &mut dyn FnMut(Request),
    ) -> io::Result<()> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        // Read the pipe whether or not an event was reported: draining it is
        // cheap and a signal is never left waiting for the next edge.
        for signal in self.signals.pending() {
            match signal {
                SIGHUP => on_request(Request::Reopen),
                SIGINT => on_request(Request::Stop("SIGINT")),
                SIGTERM => on_request(Request::Stop("SIGTERM")),
                _ => {}
            }
        }
        Ok(())
    }
}

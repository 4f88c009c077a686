//! One request in, one response out (DESIGN.md, "Data flow"). No I/O, no clock:
//! the time and the peer are arguments, so tests and fuzz targets drive it
//! without sockets.

use std::net::SocketAddr;

use crate::query::{self, AnswerError, Outcome};
use crate::store::{Reader, Store, StoreError};
use crate::wire::{
    BuildError, Edns, Header, MAX_MESSAGE, Message, MessageBuilder, Opcode, Rcode, Rtype, Section,
    UDP_LIMIT,
};

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
    /// header; a response, QR=1, sent to us). `now` is seconds since the Unix
    /// epoch; `peer` is who sent the request.
    pub fn handle(
        &mut self,
        now: u64,
        peer: SocketAddr,
        transport: Transport,
        request: &[u8],
        response: &mut [u8],
    ) -> Option<usize> {
        let _ = (now, peer);
        let header = Header::parse(request).ok()?;
        if header.flags.qr() {
            return None;
        }
        let msg = match Message::parse(request) {
            Ok(msg) => msg,
            // RFC 1035 §4.1.1 / RFC 6891 §7: a malformed request gets FORMERR
            // with the header echoed and nothing else.
            Err(e) => return error_reply(&header, e.rcode()?, response),
        };
        let edns = msg.edns();
        let limit = match transport {
            Transport::Tcp => MAX_MESSAGE,
            // RFC 6891 §6.2.5: a payload size below 512 is treated as 512.
            Transport::Udp => match edns {
                Some(e) => usize::from(
                    e.udp_payload
                        .clamp(512, self.config.max_udp_payload.max(512)),
                ),
                None => UDP_LIMIT,
            },
        };
        match self.answer(&msg, edns, limit, response) {
            Ok(len) => Some(len),
            Err(e) => {
                log::error!("answering a query failed: {e:?}");
                // RFC 1035 §4.1.1: SERVFAIL, "unable to process this query due
                // to a problem with the name server".
                let has_edns = edns.is_some();
                reply_with_question(
                    &msg,
                    has_edns,
                    Rcode::ServFail,
                    limit,
                    self.config,
                    response,
                )
            }
        }
    }

    /// Answers a parsed request whose EDNS information (`edns`, read once by
    /// the caller) sets the size `limit`.
    fn answer(
        &mut self,
        msg: &Message<'_>,
        edns: Option<Edns<'_>>,
        limit: usize,
        response: &mut [u8],
    ) -> Result<usize, AnswerError> {
        if let Err(e) = self.reader.refresh() {
            return Err(AnswerError::Read(e));
        }
        let header = msg.header();
        // RFC 6891 §6.1.3: a version we do not implement gets BADVERS, with an
        // OPT of the highest version we do implement (0).
        let opcode = header.flags.opcode();
        let rcode = if edns.is_some_and(|e| e.version > 0) {
            Some(Rcode::BadVers)
        } else if opcode != Opcode::Query {
            // RFC 1035 §4.1.1: NOTIMP. NOTIFY and UPDATE come with later work.
            Some(Rcode::NotImp)
        } else if header.count(Section::Question) != 1 {
            // RFC 1035 §4.1.2 in practice (RFC 9619): exactly one question.
            Some(Rcode::FormErr)
        } else {
            None
        };
        if let Some(rcode) = rcode {
            return reply_with_question(msg, edns.is_some(), rcode, limit, self.config, response)
                .ok_or(AnswerError::Build(BuildError::NoRoomForHeader));
        }
        let question = msg
            .question()
            .ok_or(AnswerError::Build(BuildError::SectionOrder))?;
        let mut b = start_reply(msg, limit, response).map_err(AnswerError::Build)?;
        if edns.is_some() {
            b.reserve(OPT_LEN).map_err(AnswerError::Build)?;
        }
        b.question(question.name, question.qtype, question.qclass)
            .map_err(AnswerError::Build)?;
        let rcode = if question.qtype == Rtype::Axfr || question.qtype == Rtype::Ixfr {
            // Zone transfers are not offered (yet): REFUSED, as BIND and Knot
            // answer a transfer their ACL does not allow.
            Rcode::Refused
        } else if matches!(question.qtype, Rtype::Opt | Rtype::Tsig | Rtype::Tkey)
            || question.qtype == Rtype::Unknown(0)
        {
            // Pseudo-types cannot be asked for (RFC 6891 §6.1.1, RFC 8945 §5.1).
            Rcode::FormErr
        } else if matches!(question.qtype, Rtype::Maila | Rtype::Mailb) {
            Rcode::NotImp
        } else {
            match query::answer(
                &self.reader,
                question.name,
                question.qtype,
                question.qclass,
                &mut b,
            )? {
                Outcome::Answered {
                    rcode,
                    authoritative,
                } => {
                    b.flags_mut().set_aa(authoritative);
                    rcode
                }
                Outcome::NotOurs => Rcode::Refused,
            }
        };
        if b.is_truncated() || b.header().flags.tc() {
            // RFC 2181 §9: a truncated answer is discarded by the client, which
            // asks again over TCP; send no partial RRsets, only the question
            // with TC (as Knot does), so nothing half-complete can be cached.
            let aa = b.header().flags.aa();
            let mut b = start_reply(msg, limit, response).map_err(AnswerError::Build)?;
            if edns.is_some() {
                b.reserve(OPT_LEN).map_err(AnswerError::Build)?;
            }
            b.question(question.name, question.qtype, question.qclass)
                .map_err(AnswerError::Build)?;
            b.flags_mut().set_tc(true);
            b.flags_mut().set_aa(aa);
            return finish(b, rcode, edns.is_some(), self.config).map_err(AnswerError::Build);
        }
        finish(b, rcode, edns.is_some(), self.config).map_err(AnswerError::Build)
    }
}

/// Sets the RCODE, adds our OPT when the request had one, and ends the message.
fn finish(
    mut b: MessageBuilder<'_>,
    rcode: Rcode,
    edns: bool,
    config: Config,
) -> Result<usize, BuildError> {
    b.set_rcode(rcode);
    if edns {
        add_opt(&mut b, rcode, config)?;
    }
    Ok(b.finish())
}

/// Size of our OPT record: root owner, type, class, TTL, empty RDLENGTH.
const OPT_LEN: usize = 11;

/// A response header for `msg`: same ID and opcode, QR set, RD and CD copied
/// (RFC 1035 §4.1.1, RFC 6840 §5.9).
fn start_reply<'b>(
    msg: &Message<'_>,
    limit: usize,
    response: &'b mut [u8],
) -> Result<MessageBuilder<'b>, BuildError> {
    let mut b = MessageBuilder::new(response, limit)?;
    reply_header(&mut b, &msg.header());
    Ok(b)
}

/// The response's ID, QR, opcode, RD and CD from the request's header.
fn reply_header(b: &mut MessageBuilder<'_>, request: &Header) {
    b.set_id(request.id);
    let flags = b.flags_mut();
    flags.set_qr(true);
    flags.set_opcode(request.flags.opcode());
    flags.set_rd(request.flags.rd());
    flags.set_cd(request.flags.cd());
}

/// Our OPT (RFC 6891 §6.1.2): our payload size, version 0, no flags (no DO:
/// nothing here is signed), and the upper bits of an extended RCODE.
fn add_opt(b: &mut MessageBuilder<'_>, rcode: Rcode, config: Config) -> Result<(), BuildError> {
    b.opt(
        config.max_udp_payload.max(512),
        rcode.extended_bits(),
        0,
        0,
        &[],
    )
}

/// A reply carrying only the question(s) of `msg` and an RCODE, with OPT when
/// the request had one (`edns`).
fn reply_with_question(
    msg: &Message<'_>,
    edns: bool,
    rcode: Rcode,
    limit: usize,
    config: Config,
    response: &mut [u8],
) -> Option<usize> {
    let mut b = start_reply(msg, limit, response).ok()?;
    if edns {
        b.reserve(OPT_LEN).ok()?;
    }
    for q in msg.questions() {
        if b.question(q.name, q.qtype, q.qclass).is_err() {
            break;
        }
    }
    finish(b, rcode, edns, config).ok()
}

/// A header-only reply to a request that did not parse (FORMERR).
fn error_reply(request: &Header, rcode: Rcode, response: &mut [u8]) -> Option<usize> {
    let mut b = MessageBuilder::new(response, UDP_LIMIT).ok()?;
    reply_header(&mut b, request);
    b.set_rcode(rcode);
    Some(b.finish())
}

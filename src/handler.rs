//! One request in, one response out (DESIGN.md, "Data flow"). No I/O, no clock:
//! the time and the peer are arguments, so tests and fuzz targets drive it
//! without sockets.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::query::{self, AnswerError, Outcome};
use crate::store::{Reader, Replay, Store, StoreError, WriteBatch};
use crate::tsig::{self, KeySet, Responder, Signer, Verification};
use crate::update::{Failure, Policy, Rules, Signed, Updater};
use crate::wire::{
    BuildError, Edns, Header, MAX_MESSAGE, Message, MessageBuilder, Opcode, Rcode, Rtype, Section,
    UDP_LIMIT,
};
use crate::zone::Limits;

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
    /// The quotas every UPDATE is held to.
    pub limits: Limits,
    /// The longest TSIG time window an UPDATE gets, in seconds: its fudge,
    /// at most this (300 by default, nsupdate's fudge). The replay memory
    /// keeps each UPDATE for as long.
    pub tsig_fudge_max: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_udp_payload: 1232,
            limits: Limits::default(),
            tsig_fudge_max: DEFAULT_TSIG_FUDGE_MAX,
        }
    }
}

/// Default of [`Config::tsig_fudge_max`].
pub const DEFAULT_TSIG_FUDGE_MAX: u16 = 300;

/// Who may sign requests and what their updates may change; shared by the
/// workers.
#[derive(Default)]
pub struct Auth {
    /// The TSIG keys (RFC 8945).
    pub keys: KeySet,
    /// The grants of each key.
    pub policy: Policy,
}

/// An answer written by [`Handler::handle_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Length of the response.
    pub len: usize,
    /// The response reports an UPDATE held in the batch: it may leave only
    /// after [`WriteBatch::commit`] returned `Ok`, and must be dropped if the
    /// commit failed (RFC 2136 §3.5: "the response is not sent until ... the
    /// update has been committed to stable storage").
    pub held: bool,
}

/// The request handler of one worker.
pub struct Handler {
    reader: Reader,
    store: Store,
    config: Config,
    auth: Arc<Auth>,
    updater: Updater,
}

impl Handler {
    /// A handler reading `store`, with no TSIG keys (every UPDATE is REFUSED).
    pub fn new(store: &Store, config: Config) -> Result<Handler, StoreError> {
        Ok(Handler {
            reader: store.reader()?,
            store: store.clone(),
            config,
            auth: Arc::new(Auth::default()),
            updater: Updater::new(),
        })
    }

    /// The store this handler reads and writes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The same handler with these keys and grants.
    pub fn with_auth(mut self, auth: Arc<Auth>) -> Handler {
        self.auth = auth;
        self
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
    /// epoch; `peer` is who sent the request. An UPDATE is committed before
    /// this returns (its own transaction and `fsync`).
    pub fn handle(
        &mut self,
        now: u64,
        peer: SocketAddr,
        transport: Transport,
        request: &[u8],
        response: &mut [u8],
    ) -> Option<usize> {
        // Only an UPDATE writes: other requests get a batch without a store
        // (no reference count touched on the query path).
        let is_update = Header::parse(request).is_ok_and(|h| h.flags.opcode() == Opcode::Update);
        let store = is_update.then(|| self.store.clone());
        let mut batch = match &store {
            Some(store) => WriteBatch::new(store),
            None => WriteBatch::none(),
        };
        let reply = self.handle_in(&mut batch, now, peer, transport, request, response)?;
        if reply.held
            && let Err(e) = batch.commit()
        {
            log::error!("committing an update from {peer} failed, nothing applied: {e:?}");
            return self.servfail(now, peer, transport, request, response);
        }
        Some(reply.len)
    }

    /// SERVFAIL for `request`, signed when it was validly signed: the answer
    /// to an UPDATE whose batch failed to commit (RFC 2136 §3.8 leaves
    /// SERVFAIL for "some internal error"), so that nothing unapplied is ever
    /// acknowledged.
    pub fn servfail(
        &mut self,
        now: u64,
        peer: SocketAddr,
        transport: Transport,
        request: &[u8],
        response: &mut [u8],
    ) -> Option<usize> {
        log::debug!("answering SERVFAIL to {peer}");
        let msg = Message::parse(request).ok()?;
        let out = self.out(msg.edns(), transport, now);
        let auth: &Auth = &self.auth;
        let tsig = match verify(auth, &self.config, &msg, now) {
            Verification::Valid(signer) => Some(signer.responder),
            _ => None,
        };
        reply_with_question(&msg, Rcode::ServFail, &out, tsig.as_ref(), response)
    }

    /// How the response to a request with `edns`, received over `transport`,
    /// is written.
    fn out(&self, edns: Option<Edns<'_>>, transport: Transport, now: u64) -> Out {
        Out {
            edns: edns.is_some(),
            limit: self.limit(transport, edns),
            config: self.config,
            now,
        }
    }

    /// The size limit of a response (RFC 6891 §6.2.5: a payload size below
    /// 512 is treated as 512; our own cap applies above).
    fn limit(&self, transport: Transport, edns: Option<Edns<'_>>) -> usize {
        match transport {
            Transport::Tcp => MAX_MESSAGE,
            Transport::Udp => match edns {
                Some(e) => usize::from(
                    e.udp_payload
                        .clamp(512, self.config.max_udp_payload.max(512)),
                ),
                None => UDP_LIMIT,
            },
        }
    }

    /// Like [`Handler::handle`], but an UPDATE joins `batch` (group commit,
    /// DESIGN.md "Storage schema"): the caller commits the batch once for all
    /// the updates of a wake-up, and sends their answers only after that.
    pub fn handle_in(
        &mut self,
        batch: &mut WriteBatch<'_>,
        now: u64,
        peer: SocketAddr,
        transport: Transport,
        request: &[u8],
        response: &mut [u8],
    ) -> Option<Reply> {
        let header = Header::parse(request).ok()?;
        if header.flags.qr() {
            return None;
        }
        let msg = match Message::parse(request) {
            Ok(msg) => msg,
            // RFC 1035 §4.1.1 / RFC 6891 §7 / RFC 8945 §5.1: a malformed
            // request (a TSIG that is not last, two TSIGs, TSIG RDATA cut
            // short) gets FORMERR with the header echoed, unsigned.
            Err(e) => {
                let len = error_reply(&header, e.rcode()?, response)?;
                return Some(Reply { len, held: false });
            }
        };
        let edns = msg.edns();
        let out = self.out(edns, transport, now);
        // RFC 8945 §5.2: the signature is checked before anything else is
        // done with the request.
        let auth: &Auth = &self.auth;
        let signer = match verify(auth, &self.config, &msg, now) {
            Verification::Unsigned => None,
            Verification::Valid(signer) => Some(signer),
            Verification::Failed(failure) => {
                log::warn!(
                    "TSIG check failed for a request from {peer}: {} (key {})",
                    failure.reason,
                    msg.tsig()
                        .map(|t| t.key_name)
                        .unwrap_or(crate::wire::Name::ROOT)
                );
                let len = reply_with_question(
                    &msg,
                    failure.rcode,
                    &out,
                    failure.reply.as_ref(),
                    response,
                )?;
                return Some(Reply { len, held: false });
            }
        };
        let mut tsig = signer.map(|s| s.responder);
        let result = if edns.is_some_and(|e| e.version > 0) {
            // RFC 6891 §6.1.3: a version we do not implement gets BADVERS, with
            // an OPT of the highest version we do implement (0).
            Err(Rcode::BadVers)
        } else {
            match header.flags.opcode() {
                Opcode::Query => {
                    return Self::answer(&mut self.reader, &msg, &out, tsig.as_ref(), response)
                        .or_else(|e| {
                            log::error!("answering a query failed: {e:?}");
                            // RFC 1035 §4.1.1: SERVFAIL, "unable to process this
                            // query due to a problem with the name server".
                            reply_with_question(
                                &msg,
                                Rcode::ServFail,
                                &out,
                                tsig.as_ref(),
                                response,
                            )
                            .ok_or(())
                        })
                        .ok()
                        .map(|len| Reply { len, held: false });
                }
                Opcode::Update => {
                    let rules = Rules {
                        policy: &auth.policy,
                        limits: self.config.limits,
                        max_window: u64::from(self.config.tsig_fudge_max),
                    };
                    let (rcode, held, replayed) =
                        Self::update(&mut self.updater, &rules, batch, &msg, signer, peer, now);
                    if replayed {
                        tsig = signer.map(|s| s.replayed());
                    }
                    Ok((rcode, held))
                }
                // RFC 1035 §4.1.1: NOTIMP. NOTIFY comes with later work.
                _ => Err(Rcode::NotImp),
            }
        };
        let (rcode, held) = match result {
            Ok((rcode, held)) => (rcode, held),
            Err(rcode) => (rcode, false),
        };
        let len = reply_with_question(&msg, rcode, &out, tsig.as_ref(), response)?;
        Some(Reply { len, held })
    }

    /// RFC 2136 §3: an UPDATE, authenticated by `signer`. Returns the RCODE,
    /// whether the answer is held until the batch commits, and whether the
    /// UPDATE was a replay (answered NOTAUTH, signed with TSIG error BADTIME).
    fn update(
        updater: &mut Updater,
        rules: &Rules<'_>,
        batch: &mut WriteBatch<'_>,
        msg: &Message<'_>,
        signer: Option<Signer<'_>>,
        peer: SocketAddr,
        now: u64,
    ) -> (Rcode, bool, bool) {
        // An UPDATE without a valid TSIG changes nothing: REFUSED (RFC 2136
        // §3.3 leaves the policy to the server; BIND and Knot answer so).
        let Some(signer) = signer else {
            log::warn!("unsigned UPDATE from {peer} refused");
            return (Rcode::Refused, false, false);
        };
        let key_name = signer.key.name();
        let signed = Signed {
            key: signer.key_index,
            replay: Replay {
                key_name,
                time_signed: signer.time_signed,
                mac: signer.mac,
                window: u64::from(signer.window),
            },
        };
        let zone = msg
            .zone()
            .next()
            .map_or(crate::wire::Name::ROOT, |z| z.name);
        match updater.apply(batch, msg, &signed, rules, now) {
            Ok(applied) => {
                log::debug!(
                    "UPDATE from {peer} applied: changed {}, serial {}",
                    applied.changed,
                    applied.serial
                );
                (Rcode::NoError, true, false)
            }
            Err(Failure::Refused(rcode)) => {
                log::debug!("UPDATE from {peer}: {rcode:?}");
                (rcode, true, false)
            }
            Err(Failure::Quota(quota)) => {
                log::warn!(
                    "UPDATE from {peer} for zone {zone} with key {key_name} refused: {quota}; nothing applied"
                );
                (Rcode::Refused, true, false)
            }
            Err(Failure::Replayed) => {
                log::warn!(
                    "UPDATE from {peer} for zone {zone} with key {key_name} (time signed {}) was seen before: a replay, answered NOTAUTH (BADTIME), nothing applied",
                    signer.time_signed
                );
                (Rcode::NotAuth, false, true)
            }
            Err(Failure::Storage(e)) => {
                log::error!("applying an UPDATE from {peer} failed in the store: {e:?}");
                (Rcode::ServFail, true, false)
            }
        }
    }

    /// Answers a parsed QUERY whose EDNS information and transport set `out`;
    /// signs the answer when `tsig` is given (RFC 8945 §5.3).
    fn answer(
        reader: &mut Reader,
        msg: &Message<'_>,
        out: &Out,
        tsig: Option<&Responder<'_>>,
        response: &mut [u8],
    ) -> Result<usize, AnswerError> {
        if let Err(e) = reader.refresh() {
            return Err(AnswerError::Read(e));
        }
        let header = msg.header();
        if header.count(Section::Question) != 1 {
            // RFC 1035 §4.1.2 in practice (RFC 9619): exactly one question.
            return reply_with_question(msg, Rcode::FormErr, out, tsig, response)
                .ok_or(AnswerError::Build(BuildError::NoRoomForHeader));
        }
        let question = msg
            .question()
            .ok_or(AnswerError::Build(BuildError::SectionOrder))?;
        let mut b = start_reply(msg, out, tsig, response).map_err(AnswerError::Build)?;
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
                reader,
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
            let mut b = start_reply(msg, out, tsig, response).map_err(AnswerError::Build)?;
            b.question(question.name, question.qtype, question.qclass)
                .map_err(AnswerError::Build)?;
            b.flags_mut().set_tc(true);
            b.flags_mut().set_aa(aa);
            return finish(b, rcode, out, tsig).map_err(AnswerError::Build);
        }
        finish(b, rcode, out, tsig).map_err(AnswerError::Build)
    }
}

/// RFC 8945 §5.2 for `msg`; an UPDATE's window is its fudge capped by
/// `--tsig-fudge-max` (so the replay memory is bounded), a query's is its
/// fudge.
fn verify<'a>(auth: &'a Auth, config: &Config, msg: &Message<'a>, now: u64) -> Verification<'a> {
    if msg.header().flags.opcode() == Opcode::Update {
        tsig::verify_capped(&auth.keys, msg, now, config.tsig_fudge_max)
    } else {
        tsig::verify(&auth.keys, msg, now)
    }
}

/// How a response to one request is written: whether the request had EDNS,
/// the size limit, the settings, and the time for a TSIG.
struct Out {
    edns: bool,
    limit: usize,
    config: Config,
    now: u64,
}

/// Sets the RCODE, adds our OPT when the request had one, signs when `tsig`
/// says so, and ends the message.
fn finish(
    mut b: MessageBuilder<'_>,
    rcode: Rcode,
    out: &Out,
    tsig: Option<&Responder<'_>>,
) -> Result<usize, BuildError> {
    b.set_rcode(rcode);
    if out.edns {
        add_opt(&mut b, rcode, out.config)?;
    }
    match tsig {
        Some(t) => t.finish(b, out.now),
        None => Ok(b.finish()),
    }
}

/// Size of our OPT record: root owner, type, class, TTL, empty RDLENGTH.
const OPT_LEN: usize = 11;

/// A response header for `msg`: same ID and opcode, QR set, RD and CD copied
/// (RFC 1035 §4.1.1, RFC 6840 §5.9), with room held back for our OPT and TSIG.
fn start_reply<'b>(
    msg: &Message<'_>,
    out: &Out,
    tsig: Option<&Responder<'_>>,
    response: &'b mut [u8],
) -> Result<MessageBuilder<'b>, BuildError> {
    let mut b = MessageBuilder::new(response, out.limit)?;
    reply_header(&mut b, &msg.header());
    if out.edns {
        b.reserve(OPT_LEN)?;
    }
    if let Some(t) = tsig {
        b.reserve(t.reserve_len())?;
    }
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

/// A reply carrying only the question(s) of `msg` (in an UPDATE, the zone
/// section, RFC 2136 §3.8) and an RCODE, with OPT when the request had one and
/// a TSIG when `tsig` says so.
fn reply_with_question(
    msg: &Message<'_>,
    rcode: Rcode,
    out: &Out,
    tsig: Option<&Responder<'_>>,
    response: &mut [u8],
) -> Option<usize> {
    let mut b = start_reply(msg, out, tsig, response).ok()?;
    for q in msg.questions() {
        if b.question(q.name, q.qtype, q.qclass).is_err() {
            break;
        }
    }
    finish(b, rcode, out, tsig).ok()
}

/// A header-only reply to a request that did not parse (FORMERR).
fn error_reply(request: &Header, rcode: Rcode, response: &mut [u8]) -> Option<usize> {
    let mut b = MessageBuilder::new(response, UDP_LIMIT).ok()?;
    reply_header(&mut b, request);
    b.set_rcode(rcode);
    Some(b.finish())
}

//! One request in, one response out (DESIGN.md, "Data flow"). No I/O, no clock:
//! the time and the peer are arguments, so tests and fuzz targets drive it
//! without sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use crate::metrics::{self, Counters, TransferResult, TsigResult, UpdateResult};
use crate::query::{self, AnswerError, Outcome};
use crate::rrl::{Action as RrlAction, Rrl};
use crate::store::{NameKey, ReadError, Reader, Replay, Store, StoreError, WriteBatch};
use crate::throttle::{More, Noise, Throttle, Verdict};
use crate::transfer::{self, Stream, StreamError, Streams};
use crate::tsig::{self, KeySet, Reason, Responder, Signer, Verification};
use crate::update::{Failure, Policy, Rules, Signed, Updater};
use crate::wire::{
    BuildError, Class, Edns, Header, MAX_MESSAGE, Message, MessageBuilder, Name, NameBuf, OPT_LEN,
    Opcode, RData, Rcode, Rtype, Section, UDP_LIMIT,
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
    /// Response rate limiting of this handler ([`crate::rrl`]): responses
    /// a second per flow, 0 for none (the default here; `serve` turns it on).
    pub rrl_rate: u32,
    /// Every `rrl_slip`-th limited response goes out truncated (0: none).
    pub rrl_slip: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_udp_payload: 1232,
            limits: Limits::default(),
            tsig_fudge_max: DEFAULT_TSIG_FUDGE_MAX,
            rrl_rate: 0,
            rrl_slip: crate::rrl::DEFAULT_SLIP,
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
    /// Who may transfer which zone.
    pub transfer: transfer::Acl,
}

/// A zone whose new serial a commit made durable, for the notifier (NOTIFY
/// out, RFC 1996). Plain data, sent through a bounded channel.
#[derive(Debug, Clone, Copy)]
pub struct Notice {
    /// The zone.
    pub zone: NameBuf,
    /// Its new serial.
    pub serial: u32,
}

/// An answer written by [`Handler::handle_in`].
#[derive(Debug)]
pub struct Reply {
    /// Length of the response.
    pub len: usize,
    /// The response reports an UPDATE held in the batch: it may leave only
    /// after [`Handler::settle`] said the batch is durable (RFC 2136 §3.5:
    /// "the response is not sent until ... the update has been committed to
    /// stable storage").
    pub held: bool,
    /// The response is the first message of a stream (a zone transfer):
    /// the rest comes from the producer [`Handler::take_stream`] hands over,
    /// which the TCP connection drains before it answers any later request
    /// (RFC 7766 §6.2.1.1). Only ever set over TCP. (The producer, about
    /// 1 KiB, stays in the handler until taken, so that the reply of every
    /// other request is three words to move, not a kilobyte.)
    pub stream: bool,
}

/// Where, when and how a request arrived.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// Seconds since the Unix epoch (for TSIG).
    pub now: u64,
    /// Who sent the request.
    pub peer: SocketAddr,
    /// How it came.
    pub transport: Transport,
}

impl Origin {
    /// A request from `peer` over `transport`, received at `now`.
    pub fn new(now: u64, peer: SocketAddr, transport: Transport) -> Origin {
        Origin {
            now,
            peer,
            transport,
        }
    }
}

/// Where the I/O layer keeps a request and its answer: opaque to the core,
/// handed back by [`Settled::servfail`] so that the I/O layer can find the
/// bytes to rewrite. UDP: the datagram's slot and the answer's slot; TCP:
/// offsets in the connection's buffers, and the connection (the answers of
/// several connections may wait for one commit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticket {
    /// Where the request is.
    pub request: usize,
    /// Where the answer is.
    pub answer: usize,
    /// Who holds them: TCP, the connection's serial number; UDP, 0.
    pub holder: u64,
}

/// An answer held until its batch is settled.
#[derive(Debug, Clone, Copy)]
pub struct Held {
    /// What the I/O layer said about where the request and answer are.
    pub ticket: Ticket,
    /// Length of the answer written (a SERVFAIL for the same request has the
    /// same length: same question, OPT and TSIG).
    pub len: usize,
    origin: Origin,
    /// The RCODE written, and what became of the UPDATE, if its batch
    /// commits: counted by [`Handler::settle`], once the outcome is final.
    rcode: Rcode,
    result: UpdateResult,
}

/// Most answers one batch holds: a UDP receive batch or the frames of one TCP
/// wake-up (32 each), with room to spare. An UPDATE that finds the book full
/// is answered SERVFAIL and changes nothing.
pub const HELD_MAX: usize = 64;

/// The core's bookkeeping of one batch (group commit, DESIGN.md "Storage
/// schema"): which answers wait for the commit, for which requests, and which
/// zones moved to which serial. Allocated once per handler.
struct Book {
    held: [Option<Held>; HELD_MAX],
    count: usize,
    /// Zones an UPDATE of this batch changed, each with its newest serial.
    zones: [(NameBuf, u32); HELD_MAX],
    zone_count: usize,
    /// [`Handler::settle`] read the batch; the next request starts a new one.
    settled: bool,
}

impl Book {
    fn new() -> Book {
        Book {
            held: [None; HELD_MAX],
            count: 0,
            zones: [(NameBuf::root(), 0); HELD_MAX],
            zone_count: 0,
            settled: false,
        }
    }

    fn clear(&mut self) {
        self.count = 0;
        self.zone_count = 0;
        self.settled = false;
    }

    fn is_full(&self) -> bool {
        self.count >= HELD_MAX
    }

    fn hold(&mut self, held: Held) {
        if let Some(slot) = self.held.get_mut(self.count) {
            *slot = Some(held);
            self.count += 1;
        }
    }

    /// Notes that `zone` is at `serial` once the batch commits.
    fn changed(&mut self, zone: Name<'_>, serial: u32) {
        let known = self.zones.get_mut(..self.zone_count).unwrap_or_default();
        if let Some(entry) = known.iter_mut().find(|(z, _)| z.as_name() == zone) {
            entry.1 = serial;
        } else if let Some(slot) = self.zones.get_mut(self.zone_count) {
            *slot = (zone.to_canonical(), serial);
            self.zone_count += 1;
        }
    }

    fn held(&self) -> impl Iterator<Item = Held> + '_ {
        self.held
            .get(..self.count)
            .unwrap_or_default()
            .iter()
            .flatten()
            .copied()
    }
}

/// What [`Handler::settle`] decided for the batch it was given.
pub struct Settled<'h> {
    handler: &'h Handler,
    committed: bool,
}

impl Settled<'_> {
    /// Whether the batch is durable: every held answer may leave as written.
    pub fn committed(&self) -> bool {
        self.committed
    }

    /// The held answers that must be rewritten with [`Settled::rewrite`]
    /// before anything is sent: all of them when the commit failed, none
    /// otherwise.
    pub fn servfail(&self) -> impl Iterator<Item = Held> + '_ {
        self.handler.book.held().filter(|_| !self.committed)
    }

    /// The zones whose new serial is now durable (where NOTIFY starts).
    pub fn durable_zones(&self) -> impl Iterator<Item = (Name<'_>, u32)> + '_ {
        let book = &self.handler.book;
        book.zones
            .get(..book.zone_count)
            .unwrap_or_default()
            .iter()
            .filter(|_| self.committed)
            .map(|(zone, serial)| (zone.as_name(), *serial))
    }

    /// Writes into `response` the SERVFAIL that replaces `held`, whose
    /// request is `request`: signed when the request was validly signed, so
    /// that nothing unapplied is ever acknowledged (RFC 2136 §3.8 leaves
    /// SERVFAIL for "some internal error"). `None`: drop the answer.
    pub fn rewrite(&self, held: &Held, request: &[u8], response: &mut [u8]) -> Option<usize> {
        let Origin {
            now,
            peer,
            transport,
        } = held.origin;
        self.handler
            .servfail(now, peer, transport, request, response)
    }
}

/// What the core decided for one parsed request; the reply is written from
/// it in one place ([`Handler::handle_in`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// A QUERY, answered in full from the store.
    Answered,
    /// Only the question (an UPDATE's zone section) and this RCODE.
    QuestionOnly(Rcode),
    /// An UPDATE that went into the batch: question only, held until the
    /// batch settles. The zone's new serial when records changed.
    Held(Rcode, Option<u32>),
    /// Several messages (TCP only): the first is the reply, the rest come
    /// from the [`Stream`] handed to the connection.
    Stream(transfer::Kind),
    /// A NOTIFY (RFC 1996): the question echoed, AA when acknowledged;
    /// decided by [`notify`] where the store is read.
    Notify,
}

/// The request handler of one worker.
pub struct Handler {
    reader: Reader,
    store: Store,
    config: Config,
    auth: Arc<Auth>,
    updater: Updater,
    book: Box<Book>,
    counters: Box<Counters>,
    /// The streams this handler started that are still running.
    streams: Streams,
    /// The stream the last request started, until the I/O layer takes it.
    started: Option<Stream>,
    /// Lines anyone can cause, logged once per reason per interval.
    throttle: Throttle,
    /// Answers to forgeable sources, limited per flow.
    rrl: Rrl,
    /// Where the zones a commit made durable go (the notifier), if anywhere.
    notices: Option<SyncSender<Notice>>,
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
            book: Box::new(Book::new()),
            counters: Box::default(),
            streams: Streams::default(),
            started: None,
            throttle: Throttle::default(),
            rrl: Rrl::new(config.rrl_rate, config.rrl_slip),
            notices: None,
        })
    }

    /// The handler, telling `notices` of every zone whose new serial a
    /// commit made durable.
    pub fn with_notices(mut self, notices: SyncSender<Notice>) -> Handler {
        self.notices = Some(notices);
        self
    }

    /// What this handler counted (see [`crate::metrics`]).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The counters, for what the I/O layer counts itself (drops, TCP).
    pub fn counters_mut(&mut self) -> &mut Counters {
        &mut self.counters
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

    /// The streams this handler started that are still running.
    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    /// Whether another UPDATE answer can be held in the batch now; when not,
    /// an UPDATE would be answered SERVFAIL, so the I/O layer settles first.
    pub fn can_hold(&self) -> bool {
        // A settled book is cleared by the next request.
        self.book.settled || !self.book.is_full()
    }

    /// Ends the log windows whose interval is over, saying how many lines
    /// each kept back (see [`crate::throttle`]); call it on every wake-up.
    pub fn flush_logs(&mut self, now: u64) {
        self.throttle.flush(now);
    }

    /// The stream whose first message the last [`Handler::handle_in`] wrote
    /// (its [`Reply::stream`] said so); the next request drops one not taken.
    pub fn take_stream(&mut self) -> Option<Stream> {
        self.started.take()
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
    /// this returns (its own transaction and `fsync`). A request answered by
    /// a stream of messages gets its first message only (the TCP connection
    /// uses [`Handler::handle_in`], which hands the stream over).
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
        let origin = Origin::new(now, peer, transport);
        let reply = self.handle_in(&mut batch, Ticket::default(), origin, request, response)?;
        // The first message only: the stream, and its snapshot, end here.
        if reply.stream {
            drop(self.take_stream());
        }
        // Only an UPDATE can be held; a query's batch has nothing to settle.
        if !is_update {
            return Some(reply.len);
        }
        let settled = self.settle(batch);
        match settled.servfail().next() {
            Some(held) => settled.rewrite(&held, request, response),
            None => Some(reply.len),
        }
    }

    /// Ends a batch: commits it when it holds answers (one `fsync` for all its
    /// UPDATEs), and says what each held answer becomes. The I/O layer calls
    /// it once its batch is over (a UDP receive batch, the frames of one TCP
    /// wake-up), before it sends any answer of the batch.
    pub fn settle(&mut self, mut batch: WriteBatch<'_>) -> Settled<'_> {
        // Settled already, and no request since: nothing is held any more.
        if self.book.settled {
            self.book.clear();
        }
        let commit = if self.book.count == 0 {
            // Nothing waits: nothing to make durable (a batch of queries, or
            // UPDATEs refused before they reached the store).
            batch.abort();
            Ok(())
        } else {
            let started = std::time::Instant::now();
            let result = batch.commit();
            self.counters.commit(started.elapsed());
            result
        };
        self.conclude(commit)
    }

    /// What the held answers of the batch become, given how its commit
    /// went; counts each of them once, with that final outcome.
    fn conclude(&mut self, commit: Result<(), ReadError>) -> Settled<'_> {
        let committed = match commit {
            Ok(()) => {
                let book = &self.book;
                let now = book.held().map(|h| h.origin.now).max().unwrap_or(0);
                for (zone, serial) in book.zones.iter().take(book.zone_count) {
                    self.counters.zone_updated(zone.as_name(), now);
                    // Never waits: a full channel drops the notice (a later
                    // change announces a newer serial).
                    if let Some(notices) = &self.notices {
                        let _ = notices.try_send(Notice {
                            zone: *zone,
                            serial: *serial,
                        });
                    }
                }
                true
            }
            Err(e) => {
                log::error!(
                    "committing a batch of {} updates failed, nothing applied: {e:?}",
                    self.book.count
                );
                false
            }
        };
        // The held answers are counted now that their outcome is final: as
        // written when the batch committed, SERVFAIL when it did not (what
        // the I/O layer then sends, [`Settled::rewrite`]).
        for held in self.book.held() {
            let (rcode, result) = if committed {
                (held.rcode, held.result)
            } else {
                (Rcode::ServFail, UpdateResult::ServFail)
            };
            self.counters.response(rcode, false);
            self.counters.update(result);
        }
        self.book.settled = true;
        Settled {
            handler: self,
            committed,
        }
    }

    /// Ends a batch without committing it: nothing of it is applied, and its
    /// held answers must not be sent (nor are they counted as responses).
    pub fn abort(&mut self, mut batch: WriteBatch<'_>) {
        batch.abort();
        self.book.clear();
    }

    /// SERVFAIL for `request`, signed when it was validly signed: the answer
    /// to an UPDATE whose batch failed to commit (RFC 2136 §3.8 leaves
    /// SERVFAIL for "some internal error"), so that nothing unapplied is ever
    /// acknowledged.
    pub fn servfail(
        &self,
        now: u64,
        peer: SocketAddr,
        transport: Transport,
        request: &[u8],
        response: &mut [u8],
    ) -> Option<usize> {
        log::debug!("answering SERVFAIL to {peer}");
        let msg = Message::parse(request).ok()?;
        let tsig = match verify(&self.auth, &self.config, &msg, now) {
            Verification::Valid(signer) => Some(signer.responder),
            _ => None,
        };
        writer(&self.config, &msg, transport, now, tsig).question_only(
            &msg,
            Rcode::ServFail,
            response,
        )
    }

    /// Like [`Handler::handle`], but an UPDATE joins `batch` (group commit,
    /// DESIGN.md "Storage schema"), and its answer is held: the I/O layer
    /// hands the batch to [`Handler::settle`] once for all the requests of a
    /// wake-up, and sends the answers only after that. `ticket` says where
    /// the I/O layer keeps this request and its answer. A request answered
    /// by several messages (over TCP only) gets its first message in
    /// `response` and the rest from [`Handler::take_stream`].
    ///
    /// The one exit of the request path: every reply is written here, from
    /// what `dispatch` decided.
    pub fn handle_in(
        &mut self,
        batch: &mut WriteBatch<'_>,
        ticket: Ticket,
        origin: Origin,
        request: &[u8],
        response: &mut [u8],
    ) -> Option<Reply> {
        let Origin {
            now,
            peer,
            transport,
        } = origin;
        if self.book.settled {
            self.book.clear();
        }
        // RFC 1035 §4.1.1: shorter than a header, or a response: dropped.
        let Ok(header) = Header::parse(request) else {
            self.counters.dropped(metrics::Drop::ShortHeader);
            return None;
        };
        if header.flags.qr() {
            self.counters.dropped(metrics::Drop::Response);
            return None;
        }
        let counters = &mut self.counters;
        counters.request(
            transport == Transport::Tcp,
            peer.is_ipv6(),
            header.flags.opcode(),
        );
        // A stream the I/O layer did not take ends here (its snapshot too).
        self.started = None;
        let (len, disposition, result, stream) = match Message::parse(request) {
            Ok(msg) => {
                let auth: &Auth = &self.auth;
                let (writer, disposition, result) = dispatch(
                    auth,
                    &self.config,
                    &mut self.updater,
                    counters,
                    &mut self.throttle,
                    self.book.is_full(),
                    batch,
                    now,
                    peer,
                    transport,
                    &msg,
                );
                let mut stream = false;
                let len = match disposition {
                    Disposition::Stream(kind) => {
                        let streams = &self.streams;
                        let refusal =
                            transfer_refusal(&self.reader, auth, kind, &msg, &writer, peer);
                        let count = |counters: &mut Counters, result| {
                            if let Some(ixfr) = kind.is_ixfr() {
                                counters.transfer(ixfr, result);
                            }
                        };
                        match refusal {
                            Some(rcode) => {
                                count(counters, TransferResult::of_refusal(rcode));
                                writer.question_only(&msg, rcode, response)
                            }
                            None => match start_stream(
                                &self.store,
                                streams,
                                kind,
                                &msg,
                                &writer,
                                response,
                            ) {
                                Ok((len, started)) => {
                                    log_transfer(kind, &msg, &writer, peer, &started);
                                    let result = if started.soa_only() {
                                        TransferResult::SoaOnly
                                    } else if started.incremental() {
                                        TransferResult::Incremental
                                    } else {
                                        TransferResult::Zone
                                    };
                                    count(counters, result);
                                    self.started = Some(started);
                                    stream = true;
                                    Some(len)
                                }
                                Err(e) => {
                                    // RFC 5936 §2.2.1: not a zone of ours
                                    // (Missing); else SERVFAIL.
                                    let rcode = if e == StreamError::Missing {
                                        Rcode::NotAuth
                                    } else {
                                        log::error!("starting a stream for {peer} failed: {e:?}");
                                        Rcode::ServFail
                                    };
                                    count(counters, TransferResult::of_refusal(rcode));
                                    writer.question_only(&msg, rcode, response)
                                }
                            },
                        }
                    }
                    Disposition::Answered => {
                        if let Some(q) = msg.question() {
                            counters.query_type(q.qtype);
                        }
                        answer(&mut self.reader, &msg, &writer, response)
                            .or_else(|e| {
                                log::error!("answering a query failed: {e:?}");
                                // RFC 1035 §4.1.1: SERVFAIL, "unable to process
                                // this query due to a problem with the name server".
                                writer
                                    .question_only(&msg, Rcode::ServFail, response)
                                    .ok_or(e)
                            })
                            .ok()
                    }
                    Disposition::Notify => {
                        let rcode = notify(&mut self.reader, &msg);
                        log_notify(&mut self.throttle, rcode, &msg, &writer, peer, now);
                        writer.notify_answer(&msg, rcode, response)
                    }
                    Disposition::QuestionOnly(rcode) | Disposition::Held(rcode, _) => {
                        writer.question_only(&msg, rcode, response)
                    }
                };
                if let Disposition::Held(_, Some(serial)) = disposition
                    && let Some(zone) = msg.zone().next()
                {
                    self.book.changed(zone.name, serial);
                }
                // Response rate limiting: UDP answers to unsigned queries,
                // whose source anyone can forge (TCP and TSIG prove theirs).
                // Not a NOTIFY's answer (README: never limited): no larger
                // than the NOTIFY, so nothing to amplify.
                let mut len = len?;
                if transport == Transport::Udp
                    && self.rrl.is_on()
                    && msg.tsig().is_none()
                    && matches!(
                        disposition,
                        Disposition::Answered | Disposition::QuestionOnly(_)
                    )
                {
                    let rcode = written_rcode(response);
                    let question = msg.question();
                    let qtype = question.map_or(Rtype::from(0), |q| q.qtype);
                    match self
                        .rrl
                        .check(peer, question.map(|q| q.name), qtype, rcode, now)
                    {
                        RrlAction::Send => {}
                        RrlAction::Drop => {
                            counters.dropped(metrics::Drop::RateLimited);
                            return None;
                        }
                        // RFC 1035 §4.1.1 TC: the client asks again over TCP.
                        RrlAction::Slip => {
                            counters.dropped(metrics::Drop::RateSlipped);
                            len = writer.question_only(&msg, rcode, response)?;
                            if let Some(flags) = response.get_mut(2) {
                                *flags |= 0x02;
                            }
                        }
                    }
                }
                (len, disposition, result, stream)
            }
            // RFC 1035 §4.1.1 / RFC 6891 §7 / RFC 8945 §5.1: a malformed
            // request (a TSIG that is not last, two TSIGs, TSIG RDATA cut
            // short) gets FORMERR with the header echoed, unsigned.
            Err(e) => {
                let rcode = e.rcode()?;
                let result =
                    (header.flags.opcode() == Opcode::Update).then_some(UpdateResult::FormErr);
                (
                    error_reply(&header, rcode, response)?,
                    Disposition::QuestionOnly(rcode),
                    result,
                    false,
                )
            }
        };
        // Every reply counted once: here the RCODE and TC as written, and
        // what became of an UPDATE; a held answer when its batch settles,
        // since a failed commit turns it into SERVFAIL.
        let (rcode, tc) = match disposition {
            Disposition::QuestionOnly(rcode) | Disposition::Held(rcode, _) => (rcode, false),
            // A stream is counted once, by its first message.
            Disposition::Answered | Disposition::Stream(_) | Disposition::Notify => (
                written_rcode(response),
                response.get(2).is_some_and(|flags| flags & 0x02 != 0),
            ),
        };
        let held = matches!(disposition, Disposition::Held(..));
        if held {
            self.book.hold(Held {
                ticket,
                len,
                origin,
                rcode,
                result: result.unwrap_or(UpdateResult::ServFail),
            });
        } else {
            counters.response(rcode, tc);
            if let Some(result) = result {
                counters.update(result);
            }
        }
        Some(Reply { len, held, stream })
    }
}

/// The RCODE in the header of a response just written (its low four bits;
/// SERVFAIL if there is no header).
fn written_rcode(response: &[u8]) -> Rcode {
    response
        .get(3)
        .map_or(Rcode::ServFail, |low| Rcode::from(u16::from(low & 0x0f)))
}

/// Decides what to do with a parsed request: TSIG first, then EDNS, then
/// the opcode. Returns the writer of the reply (its size limit, OPT and
/// TSIG responder), what the reply says, and for an UPDATE what became of
/// it (counted by the caller, once the outcome is final).
#[allow(clippy::too_many_arguments)]
fn dispatch<'a>(
    auth: &'a Auth,
    config: &Config,
    updater: &mut Updater,
    counters: &mut Counters,
    throttle: &mut Throttle,
    book_full: bool,
    batch: &mut WriteBatch<'_>,
    now: u64,
    peer: SocketAddr,
    transport: Transport,
    msg: &Message<'a>,
) -> (ReplyWriter<'a>, Disposition, Option<UpdateResult>) {
    // RFC 8945 §5.2: the signature is checked before anything else is
    // done with the request.
    let signer = match verify(auth, config, msg, now) {
        Verification::Unsigned => None,
        Verification::Valid(signer) => {
            counters.tsig(TsigResult::Ok);
            Some(signer)
        }
        Verification::Failed(failure) => {
            counters.tsig(match failure.reason {
                Reason::UnknownKey | Reason::WrongAlgorithm => TsigResult::BadKey,
                Reason::BadMac => TsigResult::BadSig,
                Reason::MacTooShort | Reason::MacTooLong => TsigResult::BadMacSize,
                Reason::BadTime => TsigResult::BadTime,
            });
            let key_name = msg.tsig().map(|t| t.key_name);
            let noise = Noise::BadTsig {
                reason: failure.reason,
                key: key_name.and_then(|name| auth.keys.find_index(name)),
            };
            if let Verdict::Log { earlier } = throttle.admit(noise, now) {
                log::warn!(
                    "TSIG check failed for a request from {peer}: {} (key {}){}",
                    failure.reason,
                    key_name.unwrap_or(Name::ROOT),
                    More(earlier)
                );
            }
            let writer = writer(config, msg, transport, now, failure.reply);
            let result =
                (msg.header().flags.opcode() == Opcode::Update).then_some(UpdateResult::NotAuth);
            return (writer, Disposition::QuestionOnly(failure.rcode), result);
        }
    };
    let mut writer = writer(config, msg, transport, now, signer.map(|s| s.responder));
    let (disposition, result) = if msg.edns().is_some_and(|e| e.version > 0) {
        // RFC 6891 §6.1.3: a version we do not implement gets BADVERS, with
        // an OPT of the highest version we do implement (0).
        (Disposition::QuestionOnly(Rcode::BadVers), None)
    } else {
        match msg.header().flags.opcode() {
            Opcode::Query => match transfer::requested(msg) {
                Some(kind) if transport == Transport::Udp => {
                    let disposition = over_udp(kind);
                    if let Some(ixfr) = kind.is_ixfr() {
                        // IXFR over UDP is answered with the SOA alone.
                        let result = match disposition {
                            Disposition::QuestionOnly(rcode) => TransferResult::of_refusal(rcode),
                            _ => TransferResult::SoaOnly,
                        };
                        counters.transfer(ixfr, result);
                    }
                    (disposition, None)
                }
                Some(kind) => (Disposition::Stream(kind), None),
                None => (Disposition::Answered, None),
            },
            Opcode::Update => {
                let rules = Rules {
                    policy: &auth.policy,
                    limits: config.limits,
                    max_window: u64::from(config.tsig_fudge_max),
                };
                let (disposition, result) = update(
                    updater, &rules, batch, throttle, book_full, msg, signer, peer, now,
                );
                if result == UpdateResult::Replay {
                    counters.tsig(TsigResult::Replay);
                    writer.tsig = signer.map(|s| s.replayed());
                }
                (disposition, Some(result))
            }
            // RFC 1996: answered where the store is read ([`notify`]).
            Opcode::Notify => (Disposition::Notify, None),
            // RFC 1035 §4.1.1: NOTIMP.
            _ => (Disposition::QuestionOnly(Rcode::NotImp), None),
        }
    };
    (writer, disposition, result)
}

/// What a request that would stream gets over UDP, which never streams: one
/// datagram is all a UDP answer can be. The transfer issue decides per kind
/// here: AXFR over UDP is NOTIMP (as Knot and NSD answer; RFC 5936 §4.2
/// leaves AXFR over UDP undefined), IXFR over UDP the SOA alone (RFC 1995
/// §2).
fn over_udp(kind: transfer::Kind) -> Disposition {
    match kind {
        transfer::Kind::Axfr => Disposition::QuestionOnly(Rcode::NotImp),
        // The query path answers the SOA alone.
        transfer::Kind::Ixfr { .. } => Disposition::Answered,
        #[cfg(test)]
        transfer::Kind::Synthetic { .. } => Disposition::QuestionOnly(Rcode::NotImp),
    }
}

/// RFC 1996 as the primary of every zone we serve: what a NOTIFY is
/// answered. A NOTIFY tells a secondary to refresh; dynzone is only ever a
/// primary, so one for a zone of ours needs nothing done and is
/// acknowledged, as BIND does for its primary zones (`dns_zone_notifyreceive`:
/// "If we are a primary zone just succeed"). Checked in BIND's order
/// (`ns_notify_start`): the question, its type, then the zone. Changes
/// nothing.
fn notify(reader: &mut Reader, msg: &Message<'_>) -> Rcode {
    // RFC 1996 §3.7 names one <QNAME, QCLASS, QTYPE> per NOTIFY; none, or
    // more than one, is FORMERR (as BIND answers).
    let question = match msg.question() {
        Some(q) if msg.header().count(Section::Question) == 1 => q,
        _ => return Rcode::FormErr,
    };
    match question.qtype {
        // RFC 1996 §4.7: "with QTYPE=SOA".
        Rtype::Soa => {}
        // The generalized NOTIFY of CDS and CSYNC (type 62) is for a
        // parent's agent, not a primary: NOTIMP, as BIND answers it.
        Rtype::Cds | Rtype::Unknown(62) => return Rcode::NotImp,
        // RFC 1996 §1.2 "only allows slaves to be notified of SOA RR
        // changes": any other type is FORMERR, as BIND answers.
        _ => return Rcode::FormErr,
    }
    // Not the apex of a zone of ours, in the only class we hold: NOTAUTH,
    // as BIND answers (and as a transfer of it is, RFC 5936 §2.2.1).
    if question.qclass != Class::In {
        return Rcode::NotAuth;
    }
    if let Err(e) = reader.refresh() {
        log::error!("reading the store for a NOTIFY failed: {e:?}");
        return Rcode::ServFail;
    }
    match is_apex(reader, question.name) {
        Ok(true) => Rcode::NoError,
        Ok(false) => Rcode::NotAuth,
        Err(e) => {
            log::error!("reading the store for a NOTIFY failed: {e:?}");
            Rcode::ServFail
        }
    }
}

/// One line per NOTIFY received, with the serial it carries (RFC 1996 §3.7:
/// "If ANCOUNT>0, then the answer section represents an unsecure hint at
/// the new RRset"). A NOTIFY signed with one of our keys is always logged;
/// the lines anyone can cause (an unsigned NOTIFY acknowledged, any NOTIFY
/// refused) once per reason per interval ([`Throttle`]).
fn log_notify(
    throttle: &mut Throttle,
    rcode: Rcode,
    msg: &Message<'_>,
    writer: &ReplyWriter<'_>,
    peer: SocketAddr,
    now: u64,
) {
    let signed_with = writer.tsig.as_ref().and(msg.tsig()).map(|t| t.key_name);
    let noise = match (rcode, signed_with) {
        (Rcode::NoError, Some(_)) => None,
        (Rcode::NoError, None) => Some(Noise::UnsignedNotify),
        _ => Some(Noise::NotifyRefused),
    };
    let earlier = match noise.map(|noise| throttle.admit(noise, now)) {
        None => 0,
        Some(Verdict::Log { earlier }) => earlier,
        Some(Verdict::Quiet) => return,
    };
    let zone = msg.question().map_or(Name::ROOT, |q| q.name);
    let serial = SerialShown(msg.answers().find_map(|r| match r.data {
        RData::Soa(soa) if r.owner == zone => Some(soa.serial),
        _ => None,
    }));
    let what = match rcode {
        Rcode::NoError => "we are its primary, nothing to do",
        Rcode::NotAuth => "not a zone of ours, NOTAUTH",
        Rcode::FormErr => "not one question of type SOA, FORMERR",
        Rcode::NotImp => "a NOTIFY for CDS or CSYNC, NOTIMP",
        _ => "the store could not be read, SERVFAIL",
    };
    let key = KeyShown(signed_with);
    log::info!(
        "notify: zone {zone} serial {serial} from peer {peer} key {key}: {what}{}",
        More(earlier)
    );
}

/// A serial in a log line, `none` when the message carries none.
struct SerialShown(Option<u32>);

impl core::fmt::Display for SerialShown {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(serial) => write!(f, "{serial}"),
            None => f.write_str("none"),
        }
    }
}

/// Whether `name` is the apex of a zone of ours.
fn is_apex(reader: &Reader, name: Name<'_>) -> Result<bool, ReadError> {
    let key = NameKey::new(name);
    Ok(reader.find_zone(&key)? == Some(key.labels()))
}

/// Whether a transfer may not start, and its RCODE: NOTAUTH when the QNAME
/// is not the apex of a zone of ours (RFC 5936 §2.2.1, as Knot answers) or
/// the QCLASS is not IN, the only class we hold (the question names the
/// zone by name and class, RFC 5936 §2.1: class IN records under another
/// class's question are no transfer of it),
/// REFUSED when `--allow-transfer` does not allow it (RFC 5936 §6; the
/// answer is signed when the request was). The synthetic stream of test
/// builds needs no permission.
fn transfer_refusal(
    reader: &Reader,
    auth: &Auth,
    kind: transfer::Kind,
    msg: &Message<'_>,
    writer: &ReplyWriter<'_>,
    peer: SocketAddr,
) -> Option<Rcode> {
    if !matches!(kind, transfer::Kind::Axfr | transfer::Kind::Ixfr { .. }) {
        return None;
    }
    let question = msg.question()?;
    if question.qclass != Class::In {
        return Some(Rcode::NotAuth);
    }
    match is_apex(reader, question.name) {
        Ok(true) => {}
        Ok(false) => return Some(Rcode::NotAuth),
        Err(_) => return Some(Rcode::ServFail),
    }
    // The key of a request whose TSIG verified (the writer signs with it).
    let signed_with = writer
        .tsig
        .as_ref()
        .and(msg.tsig())
        .and_then(|t| auth.keys.find_index(t.key_name));
    if auth.transfer.allows(question.name, signed_with, peer.ip()) {
        return None;
    }
    log::debug!(
        "transfer of {} to {peer} (key {}) refused: not allowed by --allow-transfer",
        question.name,
        KeyShown(msg.tsig().map(|t| t.key_name))
    );
    Some(Rcode::Refused)
}

/// A key name in a log line, `none` for an unsigned request.
struct KeyShown<'a>(Option<Name<'a>>);

impl core::fmt::Display for KeyShown<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(name) => write!(f, "{name}"),
            None => f.write_str("none"),
        }
    }
}

/// One line per transfer started, as Knot logs outgoing transfers.
fn log_transfer(
    kind: transfer::Kind,
    msg: &Message<'_>,
    writer: &ReplyWriter<'_>,
    peer: SocketAddr,
    stream: &Stream,
) {
    let (what, from) = match kind {
        transfer::Kind::Ixfr { serial } => ("IXFR", serial),
        _ => ("AXFR", None),
    };
    let zone = msg.question().map_or(Name::ROOT, |q| q.name);
    let key = KeyShown(writer.tsig.as_ref().and(msg.tsig()).map(|t| t.key_name));
    match from {
        Some(from) => log::info!(
            "transfer: {what} of zone {zone} from serial {from} to peer {peer} key {key}: serial {}, {}",
            stream.serial(),
            stream.shape()
        ),
        None => log::info!(
            "transfer: {what} of zone {zone} to peer {peer} key {key}: serial {}, {}",
            stream.serial(),
            stream.shape()
        ),
    }
}

/// Starts the stream `kind` answering `msg` and writes its first message
/// into `response` with the request's writer settings (OPT, TSIG); returns
/// the message length and the stream. Fails (the request is answered
/// SERVFAIL: the transfer issue may choose per kind) when the worker runs
/// [`transfer::STREAMS_PER_WORKER`] streams already, when no snapshot can be
/// opened, or when the stream's data is missing. The stream owns a snapshot of the
/// newest committed data and a signer that copies the request MAC, so it
/// outlives the request's buffer.
fn start_stream(
    store: &Store,
    streams: &Streams,
    kind: transfer::Kind,
    msg: &Message<'_>,
    writer: &ReplyWriter<'_>,
    response: &mut [u8],
) -> Result<(usize, Stream), StreamError> {
    let question = msg.question().ok_or(StreamError::Missing)?;
    let signer = match &writer.tsig {
        Some(responder) => Some(responder.stream().ok_or(StreamError::Missing)?),
        None => None,
    };
    let payload = writer.edns.then(|| writer.config.max_udp_payload.max(512));
    let open = || store.snapshot();
    let mut stream = Stream::new(
        streams,
        kind,
        &question,
        writer.header,
        payload,
        signer,
        open,
    )?;
    let len = stream.first(&question, response, writer.now)?;
    Ok((len, stream))
}

/// RFC 2136 §3: an UPDATE, authenticated by `signer`. Returns what its
/// answer is, and what became of it (a replay is answered NOTAUTH, signed
/// with TSIG error BADTIME).
#[allow(clippy::too_many_arguments)]
fn update(
    updater: &mut Updater,
    rules: &Rules<'_>,
    batch: &mut WriteBatch<'_>,
    throttle: &mut Throttle,
    book_full: bool,
    msg: &Message<'_>,
    signer: Option<Signer<'_>>,
    peer: SocketAddr,
    now: u64,
) -> (Disposition, UpdateResult) {
    // An UPDATE without a valid TSIG changes nothing: REFUSED (RFC 2136
    // §3.3 leaves the policy to the server; BIND and Knot answer so).
    let Some(signer) = signer else {
        if let Verdict::Log { earlier } = throttle.admit(Noise::Unsigned, now) {
            log::warn!("unsigned UPDATE from {peer} refused{}", More(earlier));
        }
        return (
            Disposition::QuestionOnly(Rcode::Refused),
            UpdateResult::Unsigned,
        );
    };
    if book_full {
        log::error!("UPDATE from {peer}: more than {HELD_MAX} answers held in one batch");
        return (
            Disposition::QuestionOnly(Rcode::ServFail),
            UpdateResult::ServFail,
        );
    }
    let key_name = signer.key.name();
    let signed = Signed {
        key: signer.key_index,
        replay: Replay {
            key_name,
            time_signed: signer.time_signed,
            mac: signer.mac,
            window: u64::from(signer.window),
        },
        peer: Some(peer),
    };
    let zone = msg.zone().next().map_or(Name::ROOT, |z| z.name);
    match updater.apply(batch, msg, &signed, rules, now) {
        Ok(applied) => {
            // One line per applied update, as Knot logs DDNS: who changed
            // which zone, and how far the serial moved.
            let records = msg.header().count(Section::UPDATE);
            let plural = if records == 1 { "" } else { "s" };
            if applied.changed {
                log::info!(
                    "update: zone {zone} key {key_name} peer {peer}: serial {} -> {}, {records} record{plural}",
                    applied.previous,
                    applied.serial
                );
            } else {
                log::info!(
                    "update: zone {zone} key {key_name} peer {peer}: no change (serial {}), {records} record{plural}",
                    applied.serial
                );
            }
            let serial = applied.changed.then_some(applied.serial);
            let result = if applied.changed {
                UpdateResult::Applied
            } else {
                UpdateResult::NoOp
            };
            (Disposition::Held(Rcode::NoError, serial), result)
        }
        // One line per refusal by a valid key (authenticated, so not
        // throttled): the first record that failed and the rule, formatted
        // only here, from views into the message.
        Err(Failure::Refused(refusal)) => {
            log::info!("update refused: zone {zone} key {key_name} peer {peer}: {refusal}");
            (
                Disposition::Held(refusal.rcode, None),
                UpdateResult::of_refusal(refusal.rcode),
            )
        }
        Err(Failure::Quota(quota, record)) => {
            log::warn!(
                "update refused: zone {zone} key {key_name} peer {peer}: {record} {quota} (REFUSED); nothing applied"
            );
            (Disposition::Held(Rcode::Refused, None), UpdateResult::Quota)
        }
        Err(Failure::Replayed) => {
            if let Verdict::Log { earlier } = throttle.admit(Noise::Replay, now) {
                log::warn!(
                    "UPDATE from {peer} for zone {zone} with key {key_name} (time signed {}) was seen before: a replay, answered NOTAUTH (BADTIME), nothing applied{}",
                    signer.time_signed,
                    More(earlier)
                );
            }
            (
                Disposition::QuestionOnly(Rcode::NotAuth),
                UpdateResult::Replay,
            )
        }
        Err(Failure::Storage(e)) => {
            log::error!("applying an UPDATE from {peer} failed in the store: {e:?}");
            (
                Disposition::Held(Rcode::ServFail, None),
                UpdateResult::ServFail,
            )
        }
    }
}

/// Answers a parsed QUERY with `writer`.
fn answer(
    reader: &mut Reader,
    msg: &Message<'_>,
    writer: &ReplyWriter<'_>,
    response: &mut [u8],
) -> Result<usize, AnswerError> {
    if let Err(e) = reader.refresh() {
        return Err(AnswerError::Read(e));
    }
    let question = match msg.question() {
        // RFC 1035 §4.1.2 in practice (RFC 9619): exactly one question.
        Some(q) if msg.header().count(Section::Question) == 1 => q,
        _ => {
            return writer
                .question_only(msg, Rcode::FormErr, response)
                .ok_or(AnswerError::Build(BuildError::Truncated));
        }
    };
    let mut b = writer.start(response).map_err(AnswerError::Build)?;
    b.question(question.name, question.qtype, question.qclass)
        .map_err(AnswerError::Build)?;
    let rcode = if question.qtype == Rtype::Ixfr {
        // Only over UDP (TCP streams): RFC 1995 §2, "If the UDP reply does
        // not fit, the query is responded to with a single SOA record of
        // the server's current version"; we always send that. Not an apex
        // of ours: NOTAUTH, as over TCP.
        match is_apex(reader, question.name).map_err(AnswerError::Read)? {
            true => {
                match query::answer(reader, question.name, Rtype::Soa, question.qclass, &mut b)? {
                    Outcome::Answered {
                        rcode,
                        authoritative,
                    } => {
                        b.flags_mut().set_aa(authoritative);
                        rcode
                    }
                    Outcome::NotOurs => Rcode::NotAuth,
                }
            }
            false => Rcode::NotAuth,
        }
    } else if question.qtype == Rtype::Axfr {
        // Only reached without a stream: REFUSED, as BIND and Knot answer a
        // transfer their ACL does not allow.
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
        let mut b = writer.start(response).map_err(AnswerError::Build)?;
        b.question(question.name, question.qtype, question.qclass)
            .map_err(AnswerError::Build)?;
        b.flags_mut().set_tc(true);
        b.flags_mut().set_aa(aa);
        return writer.finish(b, rcode).map_err(AnswerError::Build);
    }
    writer.finish(b, rcode).map_err(AnswerError::Build)
}

/// The reply writer for `msg`, received over `transport`.
fn writer<'r>(
    config: &Config,
    msg: &Message<'_>,
    transport: Transport,
    now: u64,
    tsig: Option<Responder<'r>>,
) -> ReplyWriter<'r> {
    let edns = msg.edns();
    ReplyWriter {
        header: msg.header(),
        edns: edns.is_some(),
        limit: limit(config, transport, edns),
        config: *config,
        now,
        tsig,
    }
}

/// The size limit of a response (RFC 6891 §6.2.5: a payload size below 512
/// is treated as 512; our own cap applies above).
fn limit(config: &Config, transport: Transport, edns: Option<Edns<'_>>) -> usize {
    match transport {
        Transport::Tcp => MAX_MESSAGE,
        Transport::Udp => match edns {
            Some(e) => usize::from(e.udp_payload.clamp(512, config.max_udp_payload.max(512))),
            None => UDP_LIMIT,
        },
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

/// Writes the reply to one request: owns its size limit (EDNS, transport),
/// whether it carries our OPT, and its TSIG responder, so that every reply
/// gets them the same way.
struct ReplyWriter<'r> {
    /// The request's header.
    header: Header,
    /// The request had EDNS: the reply carries our OPT (RFC 6891 §7).
    edns: bool,
    limit: usize,
    config: Config,
    /// For the TSIG's time signed.
    now: u64,
    tsig: Option<Responder<'r>>,
}

impl ReplyWriter<'_> {
    /// A response header for the request: same ID and opcode, QR set, RD and
    /// CD copied (RFC 1035 §4.1.1, RFC 6840 §5.9), with room held back for
    /// our OPT and TSIG.
    fn start<'b>(&self, response: &'b mut [u8]) -> Result<MessageBuilder<'b>, BuildError> {
        let mut b = MessageBuilder::new(response, self.limit)?;
        b.reply_to(&self.header);
        if self.edns {
            b.reserve(OPT_LEN)?;
        }
        if let Some(t) = &self.tsig {
            b.reserve(t.reserve_len())?;
        }
        Ok(b)
    }

    /// Sets the RCODE, adds our OPT when the request had one, signs when the
    /// reply is to be signed, and ends the message.
    fn finish(&self, mut b: MessageBuilder<'_>, rcode: Rcode) -> Result<usize, BuildError> {
        b.set_rcode(rcode);
        if self.edns {
            // RFC 6891 §6.1.2: our payload size, version 0, no flags (no DO:
            // nothing here is signed), and the upper bits of an extended RCODE.
            b.opt(
                self.config.max_udp_payload.max(512),
                rcode.extended_bits(),
                0,
                0,
                &[],
            )?;
        }
        match &self.tsig {
            Some(t) => t.finish(b, self.now),
            None => Ok(b.finish()),
        }
    }

    /// A reply carrying only the question(s) of `msg` (in an UPDATE, the zone
    /// section, RFC 2136 §3.8) and an RCODE.
    fn question_only(&self, msg: &Message<'_>, rcode: Rcode, response: &mut [u8]) -> Option<usize> {
        self.echo(msg, rcode, false, response)
    }

    /// The answer to a NOTIFY (RFC 1996 §4.7: "query ID: (same), op: NOTIFY
    /// (4), resp: NOERROR, flags: QR AA, ... This is intended to be
    /// identical to the NOTIFY request, except that the QR bit is also
    /// set"): its question, and AA only when acknowledged (BIND clears AA
    /// on an error answer).
    fn notify_answer(&self, msg: &Message<'_>, rcode: Rcode, response: &mut [u8]) -> Option<usize> {
        self.echo(msg, rcode, rcode == Rcode::NoError, response)
    }

    /// The question(s) of `msg`, the RCODE and the AA bit.
    fn echo(
        &self,
        msg: &Message<'_>,
        rcode: Rcode,
        aa: bool,
        response: &mut [u8],
    ) -> Option<usize> {
        let mut b = self.start(response).ok()?;
        b.flags_mut().set_aa(aa);
        for q in msg.questions() {
            if b.question(q.name, q.qtype, q.qclass).is_err() {
                break;
            }
        }
        self.finish(b, rcode).ok()
    }
}

/// A header-only reply to a request that did not parse (FORMERR).
fn error_reply(request: &Header, rcode: Rcode, response: &mut [u8]) -> Option<usize> {
    let mut b = MessageBuilder::new(response, UDP_LIMIT).ok()?;
    b.reply_to(request);
    b.set_rcode(rcode);
    Some(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Board;
    use crate::store::ZoneRecord;
    use crate::tsig::parse_spec;
    use crate::wire::{RData, Soa, write_rdata};
    use std::net::Ipv4Addr;

    const NOW: u64 = 1_700_000_000;

    fn name(text: &str) -> NameBuf {
        NameBuf::from_text(text).unwrap()
    }

    fn record(owner: &str, rtype: Rtype, data: &RData<'_>) -> ZoneRecord {
        let mut buf = [0u8; 512];
        let len = write_rdata(&mut buf, data).unwrap();
        ZoneRecord {
            owner: name(owner),
            rtype,
            ttl: 300,
            rdata: buf[..len].to_vec(),
        }
    }

    /// An UPDATE of example.test adding one A record, signed with `key`.
    fn signed_update(key: &tsig::Key, owner: &str) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
        b.set_id(0x2136);
        b.flags_mut().set_opcode(Opcode::Update);
        b.question(name("example.test").as_name(), Rtype::Soa, Class::In)
            .unwrap();
        b.record(
            Section::UPDATE,
            name(owner).as_name(),
            Rtype::A,
            Class::In,
            60,
            &RData::A(Ipv4Addr::new(192, 0, 2, 7)),
        )
        .unwrap();
        let len = tsig::sign_request(key, b, NOW, 300).unwrap();
        buf.truncate(len);
        buf
    }

    /// A store in `dir` holding example.test: its SOA (serial 1) and NS.
    fn example_test(dir: &std::path::Path) -> Store {
        let store = Store::open(dir, 1 << 24).unwrap();
        let (ns1, host) = (name("ns1.example.test"), name("hostmaster.example.test"));
        let soa = RData::Soa(Soa {
            mname: ns1.as_name(),
            rname: host.as_name(),
            serial: 1,
            refresh: 3600,
            retry: 900,
            expire: 1_209_600,
            minimum: 300,
        });
        let zone = [
            record("example.test", Rtype::Soa, &soa),
            record("example.test", Rtype::Ns, &RData::Ns(ns1.as_name())),
        ];
        store
            .replace_zone(name("example.test").as_name(), &zone)
            .unwrap();
        store
    }

    /// The value of the line of `page` that starts with `sample `.
    fn sample(page: &str, sample: &str) -> String {
        page.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {sample} in:\n{page}"))
            .to_string()
    }

    #[test]
    fn a_failed_commit_counts_its_held_answers_as_servfail() {
        let dir = tempfile::tempdir().unwrap();
        let store = example_test(dir.path());
        let spec = "hmac-sha256:k:ZHluem9uZSBzaGEyNTYgdGVzdCBrZXksIDMyIGJ5dGU=";
        let mut keys = KeySet::new();
        keys.add(parse_spec(spec).unwrap()).unwrap();
        let key = parse_spec(spec).unwrap();
        let mut handler = Handler::new(&store, Config::default())
            .unwrap()
            .with_auth(Arc::new(Auth {
                keys,
                policy: Policy::open(),
                transfer: Default::default(),
            }));
        let origin = Origin::new(NOW, "127.0.0.1:5300".parse().unwrap(), Transport::Udp);
        let mut out = [0u8; 512];

        // Two UPDATEs held in one batch whose commit fails: both SERVFAIL.
        let mut batch = WriteBatch::new(&store);
        for owner in ["a.example.test", "b.example.test"] {
            let request = signed_update(&key, owner);
            let reply = handler
                .handle_in(&mut batch, Ticket::default(), origin, &request, &mut out)
                .unwrap();
            assert!(reply.held);
        }
        batch.abort();
        let settled = handler.conclude(Err(ReadError::Lmdb(-30792)));
        assert!(!settled.committed());
        assert_eq!(settled.servfail().count(), 2);

        // One more that commits: NOERROR, applied.
        let mut batch = WriteBatch::new(&store);
        let request = signed_update(&key, "c.example.test");
        handler
            .handle_in(&mut batch, Ticket::default(), origin, &request, &mut out)
            .unwrap();
        assert!(handler.settle(batch).committed());

        let board = Board::new(1);
        board.publish(0, handler.counters());
        let page = crate::metrics::render(&board, &store);
        for (line, want) in [
            ("dynzone_responses_total{rcode=\"SERVFAIL\"}", "2"),
            ("dynzone_responses_total{rcode=\"NOERROR\"}", "1"),
            ("dynzone_updates_total{result=\"servfail\"}", "2"),
            ("dynzone_updates_total{result=\"applied\"}", "1"),
            ("dynzone_tsig_total{result=\"ok\"}", "3"),
            ("dynzone_update_commit_seconds_count", "1"),
            ("dynzone_zone_serial{zone=\"example.test.\"}", "2"),
            ("dynzone_zone_records{zone=\"example.test.\"}", "3"),
            (
                "dynzone_zone_last_update_timestamp_seconds{zone=\"example.test.\"}",
                "1700000000",
            ),
        ] {
            assert_eq!(sample(&page, line), want, "{line}");
        }
    }

    #[test]
    fn a_notify_is_acknowledged_for_an_apex_and_counted_by_opcode() {
        let dir = tempfile::tempdir().unwrap();
        let store = example_test(dir.path());
        let mut handler = Handler::new(&store, Config::default()).unwrap();
        let peer = "127.0.0.1:5300".parse().unwrap();
        let mut out = [0u8; 512];
        for (zone, qtype, rcode) in [
            ("example.test", Rtype::Soa, Rcode::NoError),
            ("EXAMPLE.test", Rtype::Soa, Rcode::NoError),
            ("nothere.test", Rtype::Soa, Rcode::NotAuth),
            ("a.example.test", Rtype::Soa, Rcode::NotAuth),
            ("example.test", Rtype::Txt, Rcode::FormErr),
            ("example.test", Rtype::Cds, Rcode::NotImp),
        ] {
            let mut buf = [0u8; 512];
            let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
            b.set_id(0x1996);
            b.flags_mut().set_opcode(Opcode::Notify);
            b.flags_mut().set_aa(true);
            b.question(name(zone).as_name(), qtype, Class::In).unwrap();
            let len = b.finish();
            let n = handler
                .handle(NOW, peer, Transport::Udp, &buf[..len], &mut out)
                .unwrap();
            let msg = Message::parse(&out[..n]).unwrap();
            let h = msg.header();
            assert_eq!(msg.rcode(), rcode, "{zone} {qtype:?}");
            assert_eq!(h.id, 0x1996);
            assert_eq!(h.flags.opcode(), Opcode::Notify);
            assert!(h.flags.qr());
            assert_eq!(h.flags.aa(), rcode == Rcode::NoError);
            assert_eq!(msg.question().map(|q| q.name), Some(name(zone).as_name()));
            assert_eq!(msg.answers().count() + msg.additional().count(), 0);
        }
        let board = Board::new(1);
        board.publish(0, handler.counters());
        let page = crate::metrics::render(&board, &store);
        for (line, want) in [
            (
                "dynzone_requests_total{transport=\"udp\",family=\"ipv4\",opcode=\"notify\"}",
                "6",
            ),
            ("dynzone_responses_total{rcode=\"NOERROR\"}", "2"),
            ("dynzone_responses_total{rcode=\"NOTAUTH\"}", "2"),
            ("dynzone_responses_total{rcode=\"FORMERR\"}", "1"),
            ("dynzone_responses_total{rcode=\"NOTIMP\"}", "1"),
            ("dynzone_zone_serial{zone=\"example.test.\"}", "1"),
        ] {
            assert_eq!(sample(&page, line), want, "{line}");
        }
    }

    #[test]
    fn a_transfer_of_another_class_is_notauth_not_a_stream_of_class_in() {
        // Found by fuzz/fuzz_targets/transfer.rs: AXFR example.test CH
        // streamed the class IN zone.
        let dir = tempfile::tempdir().unwrap();
        let store = example_test(dir.path());
        let mut acl = transfer::Acl::default();
        acl.add(
            name("example.test"),
            transfer::Allow::Prefix("127.0.0.0".parse().unwrap(), 8),
        );
        let mut handler = Handler::new(&store, Config::default())
            .unwrap()
            .with_auth(Arc::new(Auth {
                transfer: acl,
                ..Default::default()
            }));
        let origin = Origin::new(NOW, "127.0.0.1:5300".parse().unwrap(), Transport::Tcp);
        let mut out = vec![0u8; MAX_MESSAGE];
        for (qtype, qclass, streams) in [
            (Rtype::Axfr, Class::In, true),
            (Rtype::Axfr, Class::Ch, false),
            (Rtype::Ixfr, Class::Any, false),
            (Rtype::Axfr, Class::from(2), false),
        ] {
            let mut buf = vec![0u8; 512];
            let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
            b.set_id(0x5936);
            b.question(name("example.test").as_name(), qtype, qclass)
                .unwrap();
            let len = b.finish();
            let reply = handler
                .handle_in(
                    &mut WriteBatch::none(),
                    Ticket::default(),
                    origin,
                    &buf[..len],
                    &mut out,
                )
                .unwrap();
            assert_eq!(reply.stream, streams, "{qtype:?} {qclass:?}");
            let msg = Message::parse(&out[..reply.len]).unwrap();
            let want = if streams {
                Rcode::NoError
            } else {
                Rcode::NotAuth
            };
            assert_eq!(msg.rcode(), want, "{qtype:?} {qclass:?}");
            drop(handler.take_stream());
        }
    }
}

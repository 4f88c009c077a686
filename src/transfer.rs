//! Multi-message responses (DESIGN.md, "Data flow": the transfer producer).
//!
//! A request that is answered by a stream of messages (AXFR, RFC 5936; IXFR,
//! RFC 1995) gets a [`Stream`]: a resumable producer that owns everything it
//! needs until its last message — its read [`Snapshot`] of the store, its
//! owned TSIG [`StreamSigner`], the request's header — and borrows nothing
//! from the request's buffer. The handler writes the first message as the
//! reply to the request; the TCP connection keeps the stream and asks it for
//! the next message each time its write buffer has room for a whole frame.
//!
//! Two requests stream: AXFR (RFC 5936), answered by a walk of the zone in
//! the snapshot ([`ZoneWalk`]): `SOA, every other record, SOA`; and IXFR
//! (RFC 1995 §4): the SOA alone when the client's serial is not older than
//! ours; when the snapshot's journal holds every change from the client's
//! serial to ours, those changes (`SOA, then per change old SOA, deletions,
//! new SOA, additions, then SOA`: [`Changes`], records sent as the journal
//! stored them); otherwise the whole zone (an AXFR-style answer), never an
//! error (`../shared/XFR-NOTES.md`: NSD stays stuck after a SERVFAIL and
//! remembers NOTIMP for 48 hours). Test builds add a synthetic producer.
//!
//! Nothing here allocates: messages are written into the caller's buffer,
//! the producer's state is fixed-size. (LMDB allocates a cursor for each
//! message of a zone walk.)

use core::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::store::journal::split_record;
use crate::store::key::{self, Entry, MAX_KEY};
use crate::store::{NameKey, Node, ReadError, Rrset, Snapshot};
use crate::tsig::StreamSigner;
use crate::wire::{
    BuildError, Class, Header, MAX_MESSAGE, MAX_NAME_LEN, Message, MessageBuilder, Name, NameBuf,
    OPT_LEN, Question, RData, Rcode, Rtype, Section, SoaRdata,
};

/// Where a stream closes a message: about 16 KiB, as Knot and NSD cut their
/// AXFR messages (the reach of a compression pointer is 16 KiB;
/// `../shared/XFR-NOTES.md`). A message holds at least one record, so one
/// larger record makes a larger message, up to [`MAX_MESSAGE`].
pub const MESSAGE_TARGET: usize = 16 * 1024;

/// What a request asks to have streamed; decided by the handler's dispatch
/// ([`requested`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// AXFR (RFC 5936): the whole zone named by the QNAME.
    Axfr,
    /// IXFR (RFC 1995) from the client's serial (the SOA of the request's
    /// authority section, RFC 1995 §3; `None` when it has none, which gets
    /// the whole zone).
    Ixfr {
        /// The client's serial.
        serial: Option<u32>,
    },
    /// Test builds only: `records` TXT records between two copies of the
    /// SOA of the zone whose apex is the QNAME without its first label, read
    /// from the stream's snapshot (the shape of an AXFR, RFC 5936 §2.2).
    /// Asked for with QTYPE 65280 (private use, RFC 6895 §3.1) and a QNAME
    /// whose first label is the decimal count.
    #[cfg(test)]
    Synthetic {
        /// TXT records between the SOAs.
        records: u32,
    },
}

impl Kind {
    /// For a zone transfer, whether it is an IXFR (`None`: not a transfer).
    pub fn is_ixfr(self) -> Option<bool> {
        match self {
            Kind::Axfr => Some(false),
            Kind::Ixfr { .. } => Some(true),
            #[cfg(test)]
            Kind::Synthetic { .. } => None,
        }
    }
}

/// QTYPE of the synthetic stream (test builds).
#[cfg(test)]
pub(crate) const SYNTHETIC_QTYPE: u16 = 0xff00;

/// Whether `msg`, a QUERY, asks for a stream, and which.
pub fn requested(msg: &Message<'_>) -> Option<Kind> {
    // RFC 5936 §2.2.1 (one question); anything else is the query path's
    // FORMERR.
    if msg.header().count(crate::wire::Section::Question) != 1 {
        return None;
    }
    let q = msg.question()?;
    if q.qtype == Rtype::Axfr {
        return Some(Kind::Axfr);
    }
    if q.qtype == Rtype::Ixfr {
        // RFC 1995 §3: "the authority section of the IXFR query message
        // contains the SOA RR of the version of the zone the client has".
        let serial = msg.authority().find_map(|r| match r.data {
            RData::Soa(soa) if r.owner.eq_ignore_case(&q.name) => Some(soa.serial),
            _ => None,
        });
        return Some(Kind::Ixfr { serial });
    }
    #[cfg(test)]
    if let Some(q) = msg.question()
        && u16::from(q.qtype) == SYNTHETIC_QTYPE
    {
        let (first, _) = q.name.split_first()?;
        let records = core::str::from_utf8(first).ok()?.parse().ok()?;
        return Some(Kind::Synthetic { records });
    }
    let _ = msg;
    None
}

/// Who may transfer which zone (`--allow-transfer ZONE:KEY` and
/// `--allow-transfer ZONE:PREFIX`). RFC 5936 §6 leaves the policy to the
/// server and warns against offering zones to everyone: nothing is
/// transferable unless listed. For each zone, a request must be signed with
/// one of the zone's keys when any is listed, and come from one of its
/// prefixes when any is listed (both, when both are), as BIND's
/// `allow-transfer { key K; 192.0.2.0/24; }` reads in a matching list.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    rules: Vec<(NameBuf, Allow)>,
}

/// One `--allow-transfer` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allow {
    /// Requests signed with this key (its index in the key set).
    Key(usize),
    /// Requests from this prefix: an address and its prefix length.
    Prefix(IpAddr, u8),
}

impl Acl {
    /// Adds `allow` for `zone`.
    pub fn add(&mut self, zone: NameBuf, allow: Allow) {
        self.rules.push((zone, allow));
    }

    /// The zones with entries.
    pub fn zones(&self) -> impl Iterator<Item = &NameBuf> {
        self.rules.iter().map(|(zone, _)| zone)
    }

    /// Whether `zone` may be transferred to `peer` by a request signed with
    /// key `key` (verified), or unsigned (`None`).
    pub fn allows(&self, zone: Name<'_>, key: Option<usize>, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        let (mut keys, mut key_ok, mut prefixes, mut prefix_ok) = (false, false, false, false);
        for (_, allow) in self
            .rules
            .iter()
            .filter(|(z, _)| z.as_name().eq_ignore_case(&zone))
        {
            match *allow {
                Allow::Key(index) => {
                    keys = true;
                    key_ok |= key == Some(index);
                }
                Allow::Prefix(net, len) => {
                    prefixes = true;
                    prefix_ok |= in_prefix(peer, net, len);
                }
            }
        }
        (keys || prefixes) && (key_ok || !keys) && (prefix_ok || !prefixes)
    }
}

/// Whether `addr` is in `net`/`len` (of the same family).
fn in_prefix(addr: IpAddr, net: IpAddr, len: u8) -> bool {
    match (addr, net.to_canonical()) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// How many streams one worker lets run at once. Each holds a [`Snapshot`],
/// which takes one of LMDB's reader slots (256 for the environment, shared by
/// every worker and by the admin commands): 8 per worker leaves room for each
/// worker's own reader and for a renewal, which begins a new snapshot before
/// it ends the old one, on machines of up to 24 cores.
pub const STREAMS_PER_WORKER: usize = 8;

/// The streams of one worker that are still running: a count shared by the
/// worker's handler and its streams, each of which gives its place back when
/// it is dropped (ended, failed, or its connection closed). Cloning it and
/// taking a place allocate nothing.
#[derive(Debug, Clone, Default)]
pub struct Streams {
    live: Arc<AtomicUsize>,
}

/// A place among a worker's [`Streams`], held by one stream.
#[derive(Debug)]
struct Place {
    live: Arc<AtomicUsize>,
}

impl Streams {
    /// How many streams are running.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// A place for one more stream, unless [`STREAMS_PER_WORKER`] run.
    fn admit(&self) -> Option<Place> {
        self.live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < STREAMS_PER_WORKER).then_some(n + 1)
            })
            .ok()?;
        Some(Place {
            live: Arc::clone(&self.live),
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a stream stopped before its end. The connection then closes: a
/// transfer cut short is recognised by the client as incomplete (no closing
/// SOA, RFC 5936 §2.2), which is safer than an error in the middle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError {
    /// The snapshot could not be read.
    Read(ReadError),
    /// A message could not be written (or signed).
    Build(BuildError),
    /// One record does not fit in a message of [`MAX_MESSAGE`] octets.
    RecordTooLarge,
    /// The data the stream was to send is not there (no such zone, no SOA).
    Missing,
    /// [`STREAMS_PER_WORKER`] streams are running already: none was started.
    Busy,
}

impl From<ReadError> for StreamError {
    fn from(e: ReadError) -> Self {
        StreamError::Read(e)
    }
}

impl From<BuildError> for StreamError {
    fn from(e: BuildError) -> Self {
        StreamError::Build(e)
    }
}

/// A response of several messages, in the making. Owns its snapshot and its
/// signer; the TCP connection that answers the request owns the stream.
pub struct Stream {
    /// The request's header: every message has its ID, opcode, RD and CD.
    request: Header,
    /// The request had EDNS: every message carries our OPT with this payload
    /// size (RFC 5936 §2.2.5: one OPT in the first message, and it MAY be in
    /// later ones; a client that sent EDNS is ready for it in each).
    opt_payload: Option<u16>,
    /// Signs every message when the request was signed (RFC 8945 §5.3.1).
    signer: Option<StreamSigner>,
    snapshot: Snapshot,
    producer: Producer,
    /// Messages written so far.
    messages: u32,
    /// The last message was written.
    done: bool,
    /// Its place among the worker's running streams.
    _place: Place,
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("id", &self.request.id)
            .field("signer", &self.signer)
            .field("snapshot", &self.snapshot.id())
            .field("messages", &self.messages)
            .field("done", &self.done)
            .finish()
    }
}

impl Stream {
    /// A stream of `kind` answering the request whose header is `request`
    /// and whose question is `question`, reading the snapshot `open` gives,
    /// if `streams` has a place for it (the snapshot is opened only then).
    pub fn new(
        streams: &Streams,
        kind: Kind,
        question: &Question<'_>,
        request: Header,
        opt_payload: Option<u16>,
        signer: Option<StreamSigner>,
        open: impl FnOnce() -> Result<Snapshot, ReadError>,
    ) -> Result<Stream, StreamError> {
        let place = streams.admit().ok_or(StreamError::Busy)?;
        let snapshot = open()?;
        let producer = Producer::new(kind, question, &snapshot)?;
        Ok(Stream {
            _place: place,
            request,
            opt_payload,
            signer,
            snapshot,
            producer,
            messages: 0,
            done: false,
        })
    }

    /// How many messages have been written.
    pub fn messages(&self) -> u32 {
        self.messages
    }

    /// The serial of the zone the stream sends (0 for the synthetic one).
    pub fn serial(&self) -> u32 {
        match &self.producer {
            Producer::Zone(walk) => walk.serial,
            Producer::Changes(changes) => changes.serial,
            #[cfg(test)]
            Producer::Synthetic(_) => 0,
        }
    }

    /// Whether the stream is the SOA alone (an up-to-date IXFR client).
    pub fn soa_only(&self) -> bool {
        matches!(&self.producer, Producer::Zone(walk) if walk.soa_only)
    }

    /// Whether the stream sends the journal's changes (an IXFR answered
    /// incrementally).
    pub fn incremental(&self) -> bool {
        matches!(&self.producer, Producer::Changes(_))
    }

    /// What the stream sends, in words, for the log.
    pub fn shape(&self) -> &'static str {
        match &self.producer {
            Producer::Zone(walk) if walk.soa_only => "up to date (the SOA alone)",
            Producer::Zone(_) => "the whole zone",
            Producer::Changes(_) => "the changes from the journal",
            #[cfg(test)]
            Producer::Synthetic(_) => "synthetic",
        }
    }

    /// Whether the last message has been written.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Writes the first message, the only one with the question (RFC 5936
    /// §2.2.2: copied from the query in the first message, which later ones
    /// may leave empty), into `out`; returns its length. `now` is the time
    /// signed.
    pub fn first(
        &mut self,
        question: &Question<'_>,
        out: &mut [u8],
        now: u64,
    ) -> Result<usize, StreamError> {
        self.write(Some(question), out, now)
    }

    /// Writes the next message into `out` and returns its length, or `None`
    /// once the last message has been written.
    pub fn next(&mut self, out: &mut [u8], now: u64) -> Result<Option<usize>, StreamError> {
        if self.done {
            return Ok(None);
        }
        self.write(None, out, now).map(Some)
    }

    fn write(
        &mut self,
        question: Option<&Question<'_>>,
        out: &mut [u8],
        now: u64,
    ) -> Result<usize, StreamError> {
        let mut b = MessageBuilder::new(out, MAX_MESSAGE)?;
        b.reply_to(&self.request);
        // RFC 5936 §2.2.1: AA "MUST be 1 if the RCODE is 0 (no error)".
        b.flags_mut().set_aa(true);
        b.set_rcode(Rcode::NoError);
        if self.opt_payload.is_some() {
            b.reserve(OPT_LEN)?;
        }
        if let Some(signer) = &self.signer {
            b.reserve(signer.reserve_len())?;
        }
        if let Some(q) = question {
            b.question(q.name, q.qtype, q.qclass)?;
        }
        let more = self.producer.fill(&self.snapshot, &mut b)?;
        if let Some(payload) = self.opt_payload {
            b.opt(payload, 0, 0, 0, &[])?;
        }
        let len = match &mut self.signer {
            Some(signer) => signer.sign(b, now)?,
            None => b.finish(),
        };
        self.messages = self.messages.saturating_add(1);
        self.done = !more;
        Ok(len)
    }
}

/// Whether a record of `wire_len` octets (uncompressed: an upper bound) goes
/// into the message being built, which holds `records_in_message` records
/// so far. A producer asks before each record, so that the builder never
/// refuses one: a refusal would set TC, which a transfer message must not
/// carry.
pub fn room_for(b: &MessageBuilder<'_>, records_in_message: usize, wire_len: usize) -> Room {
    if records_in_message > 0 && (b.len() >= MESSAGE_TARGET || b.remaining() < wire_len) {
        Room::CloseMessage
    } else if b.remaining() < wire_len {
        Room::Never
    } else {
        Room::Fits
    }
}

/// What [`room_for`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Write the record into this message.
    Fits,
    /// Close this message; the record opens the next one.
    CloseMessage,
    /// Not even an empty message has room for it.
    Never,
}

/// The producers; each adds the records of the next message. (The zone
/// walk is the large one; every stream has one, so boxing it would only
/// add an allocation.)
#[allow(clippy::large_enum_variant)]
enum Producer {
    Zone(ZoneWalk),
    Changes(Changes),
    #[cfg(test)]
    Synthetic(Synthetic),
}

impl Producer {
    fn new(
        kind: Kind,
        question: &Question<'_>,
        snapshot: &Snapshot,
    ) -> Result<Producer, StreamError> {
        match kind {
            Kind::Axfr => ZoneWalk::new(question.name, snapshot, false).map(Producer::Zone),
            Kind::Ixfr { serial } => {
                let walk = ZoneWalk::new(question.name, snapshot, false)?;
                // RFC 1995 §2: a client whose serial is not older than ours
                // is up to date: our SOA alone.
                let current =
                    serial.is_some_and(|theirs| !crate::update::serial_gt(walk.serial, theirs));
                if current {
                    return ZoneWalk::new(question.name, snapshot, true).map(Producer::Zone);
                }
                // RFC 1995 §4: the changes from their serial to ours, if the
                // journal holds every one; otherwise the whole zone, as RFC
                // 1995 §4 allows ("the server may send ... the entire zone").
                let chain = match serial {
                    Some(theirs) => snapshot.ixfr_chain(walk.apex(), theirs, walk.serial)?,
                    None => None,
                };
                match chain {
                    Some(range) => Ok(Producer::Changes(Changes::new(&walk, range))),
                    None => Ok(Producer::Zone(walk)),
                }
            }
            #[cfg(test)]
            Kind::Synthetic { records } => Ok(Producer::Synthetic(Synthetic::new(
                records, question, snapshot,
            )?)),
        }
    }

    /// Adds the next message's records to `b`; returns whether more messages
    /// follow this one.
    fn fill(
        &mut self,
        snapshot: &Snapshot,
        b: &mut MessageBuilder<'_>,
    ) -> Result<bool, StreamError> {
        match *self {
            Producer::Zone(ref mut walk) => walk.fill(snapshot, b),
            Producer::Changes(ref mut changes) => changes.fill(snapshot, b),
            #[cfg(test)]
            Producer::Synthetic(ref mut s) => s.fill(snapshot, b),
        }
    }
}

/// The TTL and RDATA of the SOA at `apex` in `snapshot`; `Missing` when
/// there is none (not a zone of ours).
fn apex_soa<'s>(apex: Name<'_>, snapshot: &'s Snapshot) -> Result<(u32, &'s [u8]), StreamError> {
    let key = NameKey::new(apex);
    let set = snapshot
        .rrset(&key, key.labels(), Rtype::Soa)?
        .ok_or(StreamError::Missing)?;
    let rdata = set.iter().next().ok_or(StreamError::Missing)?;
    Ok((set.ttl(), rdata))
}

/// Where a [`ZoneWalk`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The first SOA is next.
    FirstSoa,
    /// The records from `resume` on are next.
    Records,
    /// The last SOA is next.
    LastSoa,
    /// All is written.
    Done,
}

/// A walk of one zone in the snapshot, in key order (a name before its
/// descendants, RRsets by type), as an AXFR answer (RFC 5936 §2.2): the apex
/// SOA, every other RRset of the zone, the apex SOA again; or, for an
/// up-to-date IXFR client, the SOA alone. The subtrees of other zones of
/// ours below the apex (a node holding a SOA) are left out, as
/// `dynzone export` leaves them. Resumes between messages from the key of
/// the RRset it stopped in and the index of the record in it.
pub struct ZoneWalk {
    /// The apex, encoded as in the store's keys.
    apex: [u8; key::MAX_ENCODED_NAME],
    apex_len: usize,
    /// The apex in wire form.
    apex_name: NameBuf,
    /// The zone's serial in the snapshot.
    serial: u32,
    step: Step,
    /// The key to go on from.
    resume: [u8; MAX_KEY],
    resume_len: usize,
    /// The record of the RRset at `resume` to go on from.
    record: usize,
    /// Only the SOA, once.
    soa_only: bool,
}

/// Octets that sort after every key of the subtree encoded as `encoded`:
/// label lengths are at most 63, so `encoded` + 0x40 follows them all.
const PAST_SUBTREE: u8 = 0x40;

impl ZoneWalk {
    /// A walk of the zone whose apex is `apex`; `Missing` when the snapshot
    /// has no SOA there (not a zone of ours: the handler answers NOTAUTH).
    fn new(apex: Name<'_>, snapshot: &Snapshot, soa_only: bool) -> Result<ZoneWalk, StreamError> {
        let name_key = NameKey::new(apex);
        let encoded = name_key.name_prefix(name_key.labels());
        let mut walk = ZoneWalk {
            apex: [0; key::MAX_ENCODED_NAME],
            apex_len: encoded.len(),
            apex_name: apex.to_canonical(),
            serial: 0,
            step: Step::FirstSoa,
            resume: [0; MAX_KEY],
            resume_len: encoded.len(),
            record: 0,
            soa_only,
        };
        walk.apex
            .get_mut(..encoded.len())
            .ok_or(StreamError::Missing)?
            .copy_from_slice(encoded);
        walk.resume
            .get_mut(..encoded.len())
            .ok_or(StreamError::Missing)?
            .copy_from_slice(encoded);
        let (_, rdata) = walk.soa(snapshot)?;
        walk.serial = SoaRdata::new(rdata).ok_or(StreamError::Missing)?.serial();
        Ok(walk)
    }

    fn apex(&self) -> &[u8] {
        self.apex.get(..self.apex_len).unwrap_or(&[])
    }

    /// The TTL and RDATA of the apex SOA in `snapshot`.
    fn soa<'s>(&self, snapshot: &'s Snapshot) -> Result<(u32, &'s [u8]), StreamError> {
        apex_soa(self.apex_name.as_name(), snapshot)
    }

    /// Writes the apex SOA if it fits; `false` when the message is full.
    fn write_soa(
        &self,
        snapshot: &Snapshot,
        b: &mut MessageBuilder<'_>,
        written: &mut usize,
    ) -> Result<bool, StreamError> {
        let apex = self.apex_name.as_name();
        let (ttl, rdata) = self.soa(snapshot)?;
        match room_for(b, *written, apex.wire_len() + 10 + rdata.len()) {
            Room::Fits => {}
            Room::CloseMessage => return Ok(false),
            Room::Never => return Err(StreamError::RecordTooLarge),
        }
        b.raw_record(Section::Answer, apex, Rtype::Soa, Class::In, ttl, rdata)?;
        *written += 1;
        Ok(true)
    }

    fn fill(
        &mut self,
        snapshot: &Snapshot,
        b: &mut MessageBuilder<'_>,
    ) -> Result<bool, StreamError> {
        let mut written = 0;
        loop {
            match self.step {
                Step::FirstSoa => {
                    if !self.write_soa(snapshot, b, &mut written)? {
                        return Ok(true);
                    }
                    self.step = if self.soa_only {
                        Step::Done
                    } else {
                        Step::Records
                    };
                }
                Step::Records => {
                    if !self.records(snapshot, b, &mut written)? {
                        return Ok(true);
                    }
                    self.step = Step::LastSoa;
                }
                Step::LastSoa => {
                    if !self.write_soa(snapshot, b, &mut written)? {
                        return Ok(true);
                    }
                    self.step = Step::Done;
                }
                Step::Done => return Ok(false),
            }
        }
    }

    /// Writes records from the resume point on; `true` once the zone's
    /// last record is written, `false` when the message is full (the resume
    /// point then names the next record).
    fn records(
        &mut self,
        snapshot: &Snapshot,
        b: &mut MessageBuilder<'_>,
        written: &mut usize,
    ) -> Result<bool, StreamError> {
        // A skipped subtree restarts the cursor past it.
        'restart: loop {
            let from = self.resume;
            let from = from.get(..self.resume_len).unwrap_or(&[]);
            for entry in snapshot.entries_from(from)? {
                let (k, v) = entry?;
                if !k.starts_with(self.apex()) {
                    return Ok(true);
                }
                let (encoded, what) = key::split_key(k).ok_or(ReadError::Damaged)?;
                match what {
                    Entry::Node => {
                        let node = Node::from_value(v).ok_or(ReadError::Damaged)?;
                        if encoded.len() > self.apex_len && node.has(Rtype::Soa) {
                            // Another zone of ours: not part of this one.
                            self.set_resume(encoded, Some(PAST_SUBTREE))?;
                            continue 'restart;
                        }
                    }
                    Entry::Rrset(rtype) => {
                        if encoded == self.apex() && rtype.rtype() == Rtype::Soa {
                            continue;
                        }
                        let set = Rrset::from_value(v).ok_or(ReadError::Damaged)?;
                        if !self.rrset(encoded, rtype.rtype(), &set, b, written)? {
                            self.set_resume(k, None)?;
                            return Ok(false);
                        }
                        self.record = 0;
                    }
                }
            }
            return Ok(true);
        }
    }

    /// Writes the records of one RRset from `self.record` on; `false` when
    /// the message filled first (`self.record` then is the next one).
    fn rrset(
        &mut self,
        encoded: &[u8],
        rtype: Rtype,
        set: &Rrset<'_>,
        b: &mut MessageBuilder<'_>,
        written: &mut usize,
    ) -> Result<bool, StreamError> {
        let mut wire = [0u8; MAX_NAME_LEN];
        let len = key::decode_name(encoded, &mut wire).ok_or(ReadError::Damaged)?;
        let owner = wire
            .get(..len)
            .and_then(|w| Name::from_wire(w).ok())
            .ok_or(ReadError::Damaged)?;
        for (i, rdata) in set.iter().enumerate().skip(self.record) {
            match room_for(b, *written, owner.wire_len() + 10 + rdata.len()) {
                Room::Fits => {}
                Room::CloseMessage => {
                    self.record = i;
                    return Ok(false);
                }
                Room::Never => return Err(StreamError::RecordTooLarge),
            }
            b.raw_record(Section::Answer, owner, rtype, Class::In, set.ttl(), rdata)?;
            *written += 1;
        }
        Ok(true)
    }

    /// Sets the resume point to `key`, followed by `then` if given.
    fn set_resume(&mut self, key: &[u8], then: Option<u8>) -> Result<(), StreamError> {
        let len = key.len() + usize::from(then.is_some());
        let to = self.resume.get_mut(..len).ok_or(ReadError::KeyTooLong)?;
        let (head, tail) = to.split_at_mut(key.len());
        head.copy_from_slice(key);
        if let (Some(byte), Some(slot)) = (then, tail.first_mut()) {
            *slot = byte;
        }
        self.resume_len = len;
        Ok(())
    }
}

/// An incremental answer (RFC 1995 §4): our SOA, then each change of the
/// journal from the client's serial on as it is stored (the old SOA, the
/// records deleted, the new SOA, the records added; uncondensed), then our
/// SOA again. Resumes between messages from a change and an offset in it.
pub struct Changes {
    /// The apex, encoded as in the store's keys.
    apex: [u8; key::MAX_ENCODED_NAME],
    apex_len: usize,
    apex_name: NameBuf,
    /// The zone's serial in the snapshot.
    serial: u32,
    step: Step,
    /// The change to go on from, and the end of the chain.
    seq: u64,
    end: u64,
    /// The offset in the change's records to go on from.
    offset: usize,
}

impl Changes {
    fn new(walk: &ZoneWalk, range: core::ops::Range<u64>) -> Changes {
        Changes {
            apex: walk.apex,
            apex_len: walk.apex_len,
            apex_name: walk.apex_name,
            serial: walk.serial,
            step: Step::FirstSoa,
            seq: range.start,
            end: range.end,
            offset: 0,
        }
    }

    fn apex(&self) -> &[u8] {
        self.apex.get(..self.apex_len).unwrap_or(&[])
    }

    /// Writes our SOA if it fits; `false` when the message is full.
    fn write_soa(
        &self,
        snapshot: &Snapshot,
        b: &mut MessageBuilder<'_>,
        written: &mut usize,
    ) -> Result<bool, StreamError> {
        let apex = self.apex_name.as_name();
        let (ttl, rdata) = apex_soa(apex, snapshot)?;
        match room_for(b, *written, apex.wire_len() + 10 + rdata.len()) {
            Room::Fits => {}
            Room::CloseMessage => return Ok(false),
            Room::Never => return Err(StreamError::RecordTooLarge),
        }
        b.raw_record(Section::Answer, apex, Rtype::Soa, Class::In, ttl, rdata)?;
        *written += 1;
        Ok(true)
    }

    fn fill(
        &mut self,
        snapshot: &Snapshot,
        b: &mut MessageBuilder<'_>,
    ) -> Result<bool, StreamError> {
        let mut written = 0;
        loop {
            match self.step {
                Step::FirstSoa => {
                    if !self.write_soa(snapshot, b, &mut written)? {
                        return Ok(true);
                    }
                    self.step = Step::Records;
                }
                Step::Records => {
                    if !self.changes(snapshot, b, &mut written)? {
                        return Ok(true);
                    }
                    self.step = Step::LastSoa;
                }
                Step::LastSoa => {
                    if !self.write_soa(snapshot, b, &mut written)? {
                        return Ok(true);
                    }
                    self.step = Step::Done;
                }
                Step::Done => return Ok(false),
            }
        }
    }

    /// Writes the records of the changes from the resume point on; `true`
    /// once the last is written, `false` when the message is full.
    fn changes(
        &mut self,
        snapshot: &Snapshot,
        b: &mut MessageBuilder<'_>,
        written: &mut usize,
    ) -> Result<bool, StreamError> {
        while self.seq < self.end {
            // The snapshot is the one the chain was found in: every change
            // of it is there.
            let change = snapshot
                .change(self.apex(), self.seq)?
                .ok_or(ReadError::Damaged)?;
            let mut rest = change.body.get(self.offset..).ok_or(ReadError::Damaged)?;
            while !rest.is_empty() {
                let (record, after) = split_record(rest).ok_or(ReadError::Damaged)?;
                match room_for(b, *written, record.wire.len()) {
                    Room::Fits => {}
                    Room::CloseMessage => return Ok(false),
                    Room::Never => return Err(StreamError::RecordTooLarge),
                }
                b.raw_record(
                    Section::Answer,
                    record.owner,
                    record.rtype,
                    Class::In,
                    record.ttl,
                    record.rdata,
                )?;
                *written += 1;
                self.offset += record.wire.len();
                rest = after;
            }
            self.seq += 1;
            self.offset = 0;
        }
        Ok(true)
    }
}

/// The synthetic producer of test builds: SOA, `records` TXT records of
/// about 260 octets each, SOA. Both SOAs are read from the snapshot when
/// they are written, so a write committed during the stream must not show.
#[cfg(test)]
struct Synthetic {
    apex: crate::wire::NameBuf,
    records: u32,
    /// The next record to write: 0 is the first SOA, 1..=records the TXT
    /// records, records + 1 the last SOA.
    next: u32,
}

#[cfg(test)]
impl Synthetic {
    /// Octets of each TXT record's RDATA.
    const TXT_LEN: usize = 251;

    fn new(
        records: u32,
        question: &Question<'_>,
        snapshot: &Snapshot,
    ) -> Result<Synthetic, StreamError> {
        let (_, apex) = question.name.split_first().ok_or(StreamError::Missing)?;
        let synthetic = Synthetic {
            apex: apex.to_canonical(),
            records,
            next: 0,
        };
        synthetic.soa(snapshot)?;
        Ok(synthetic)
    }

    /// The TTL and RDATA of the apex SOA in `snapshot`.
    fn soa<'s>(&self, snapshot: &'s Snapshot) -> Result<(u32, &'s [u8]), StreamError> {
        apex_soa(self.apex.as_name(), snapshot)
    }

    fn fill(
        &mut self,
        snapshot: &Snapshot,
        b: &mut MessageBuilder<'_>,
    ) -> Result<bool, StreamError> {
        use crate::wire::{Class, Rtype, Section};
        let apex = self.apex.as_name();
        let last = self.records.saturating_add(1);
        let mut written = 0;
        while self.next <= last {
            let soa = self.next == 0 || self.next == last;
            let (ttl, rtype, rdata_len) = if soa {
                let (ttl, rdata) = self.soa(snapshot)?;
                (ttl, Rtype::Soa, rdata.len())
            } else {
                (60, Rtype::Txt, Self::TXT_LEN)
            };
            match room_for(b, written, apex.wire_len() + 10 + rdata_len) {
                Room::Fits => {}
                Room::CloseMessage => return Ok(true),
                Room::Never => return Err(StreamError::RecordTooLarge),
            }
            if soa {
                let (_, rdata) = self.soa(snapshot)?;
                b.raw_record(Section::Answer, apex, rtype, Class::In, ttl, rdata)?;
            } else {
                let mut txt = [b'x'; Self::TXT_LEN];
                txt[0] = (Self::TXT_LEN - 1) as u8;
                txt[1..11].copy_from_slice(&txt_text(self.next));
                b.raw_record(Section::Answer, apex, rtype, Class::In, ttl, &txt)?;
            }
            written += 1;
            self.next += 1;
        }
        Ok(false)
    }
}

/// The first ten octets of synthetic TXT record `i`: its number, decimal,
/// zero-padded.
#[cfg(test)]
fn txt_text(i: u32) -> [u8; 10] {
    let mut out = [b'0'; 10];
    let mut n = i;
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_acl_needs_a_listed_key_and_a_listed_prefix_when_both_are_given() {
        let zone = NameBuf::from_text("example.net").unwrap();
        let name = zone.as_name();
        let mut acl = Acl::default();
        assert!(
            !acl.allows(name, Some(0), ip("127.0.0.1")),
            "nothing by default"
        );
        acl.add(zone, Allow::Key(1));
        assert!(acl.allows(name, Some(1), ip("192.0.2.1")));
        assert!(!acl.allows(name, Some(0), ip("192.0.2.1")), "another key");
        assert!(!acl.allows(name, None, ip("192.0.2.1")), "unsigned");
        let upper = NameBuf::from_text("EXAMPLE.NET").unwrap();
        assert!(
            acl.allows(upper.as_name(), Some(1), ip("192.0.2.1")),
            "case"
        );
        let other = NameBuf::from_text("example.org").unwrap();
        assert!(
            !acl.allows(other.as_name(), Some(1), ip("192.0.2.1")),
            "another zone"
        );
        acl.add(zone, Allow::Prefix(ip("192.0.2.0"), 24));
        acl.add(zone, Allow::Prefix(ip("2001:db8::"), 32));
        assert!(acl.allows(name, Some(1), ip("192.0.2.200")));
        assert!(
            acl.allows(name, Some(1), ip("::ffff:192.0.2.7")),
            "v4-mapped"
        );
        assert!(acl.allows(name, Some(1), ip("2001:db8:ffff::1")));
        assert!(
            !acl.allows(name, Some(1), ip("192.0.3.1")),
            "outside the prefixes"
        );
        assert!(
            !acl.allows(name, None, ip("192.0.2.200")),
            "the key is needed too"
        );
    }

    #[test]
    fn prefixes_of_every_length_match_as_masks() {
        assert!(in_prefix(ip("10.1.2.3"), ip("0.0.0.0"), 0));
        assert!(in_prefix(ip("10.1.2.3"), ip("10.1.2.3"), 32));
        assert!(!in_prefix(ip("10.1.2.4"), ip("10.1.2.3"), 32));
        assert!(in_prefix(ip("10.1.2.3"), ip("10.1.0.0"), 16));
        assert!(in_prefix(ip("::1"), ip("::"), 0));
        assert!(in_prefix(ip("::1"), ip("::1"), 128));
        assert!(!in_prefix(ip("::2"), ip("::1"), 128));
        assert!(!in_prefix(ip("10.1.2.3"), ip("::"), 0), "families differ");
    }
}

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
//! No request type streams yet: AXFR and IXFR come with the transfer issue
//! (`issues show 12`). Until then the only producer is a synthetic one that
//! exists in test builds, so that the path from dispatch through the TCP
//! connection is exercised end to end.
//!
//! Nothing here allocates: messages are written into the caller's buffer,
//! the producer's state is fixed-size.

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::store::{ReadError, Snapshot};
use crate::tsig::StreamSigner;
use crate::wire::{
    BuildError, Header, MAX_MESSAGE, Message, MessageBuilder, OPT_LEN, Question, Rcode,
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

/// QTYPE of the synthetic stream (test builds).
#[cfg(test)]
pub(crate) const SYNTHETIC_QTYPE: u16 = 0xff00;

/// Whether `msg`, a QUERY, asks for a stream, and which. Nothing does yet
/// outside test builds (AXFR and IXFR are refused by the query path until
/// the transfer issue).
pub fn requested(msg: &Message<'_>) -> Option<Kind> {
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

/// The producers; each adds the records of the next message.
enum Producer {
    #[cfg(test)]
    Synthetic(Synthetic),
}

impl Producer {
    fn new(
        kind: Kind,
        question: &Question<'_>,
        snapshot: &Snapshot,
    ) -> Result<Producer, StreamError> {
        let _ = (question, snapshot);
        match kind {
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
        let _ = (snapshot, &b);
        match *self {
            #[cfg(test)]
            Producer::Synthetic(ref mut s) => s.fill(snapshot, b),
        }
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
        let key = crate::store::NameKey::new(self.apex.as_name());
        let set = snapshot
            .rrset(&key, key.labels(), crate::wire::Rtype::Soa)?
            .ok_or(StreamError::Missing)?;
        let rdata = set.iter().next().ok_or(StreamError::Missing)?;
        Ok((set.ttl(), rdata))
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

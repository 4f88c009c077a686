//! TCP connections of one worker (RFC 7766): a slab of fixed slots, all
//! allocated when the worker starts.
//!
//! - Every slot has small buffers ([`SMALL_READ`], [`SMALL_WRITE`]): enough
//!   for the queries, UPDATEs and answers of ordinary clients. A connection
//!   takes one of the worker's [`LARGE_BUFFERS`] large buffers (a read buffer
//!   for one whole largest frame and a write buffer for two largest responses)
//!   only while a frame, an answer or a stream needs it, and gives it back as
//!   soon as what is left fits the small ones. An idle connection therefore
//!   holds 6 KiB, not 192 KiB, and a thousand connections each sending a
//!   64 KiB frame hold at most [`LARGE_BUFFERS`] large buffers per worker: the
//!   others wait, their bytes in the kernel's socket buffers, until a large
//!   buffer is free or their frame times out. Nothing is allocated after the
//!   start: the buffers move between the slots and the pool.
//! - Pipelined queries are answered in the order they arrive (RFC 7766 §6.2.1.1
//!   allows any order; in order is what every client handles).
//! - A connection whose write buffer has no room for another full-size response
//!   is not read from until the buffer drains, so a client that never reads
//!   blocks only itself, and only until its idle timeout.
//! - A connection is closed when it has been idle (no complete request) for the
//!   idle timeout, or when a frame has been arriving for longer than that (a slow
//!   sender, RFC 7766 §6.2.3).
//! - A frame that cannot hold a request, one shorter than a header (0 to 11
//!   octets) or a response (QR set), closes the connection once the answers
//!   before it are sent, as BIND does. Dropping the frame alone, as UDP does,
//!   would let `00 00` sent every few seconds hold a slot forever, each one
//!   renewing the idle timeout.
//! - A request answered by several messages (a zone transfer) leaves its
//!   [`Stream`] with the connection, at most one at a time: whenever the write
//!   buffer has room for a whole frame, the stream writes its next message
//!   there. Until its last message is written, no further frame of the
//!   connection is read or answered, so the answers stay in request order
//!   (RFC 7766 §6.2.1.1) and the earlier answers are already ahead of it. A
//!   stream has a time limit ([`STREAM_TIME`]); one that runs out, or fails,
//!   closes the connection once what was written is sent (the client sees a
//!   transfer without its end, not a wrong one).
//! - The UPDATEs of every connection served in one wake-up join one batch of
//!   the worker and commit together ([`Slab::settle`]): their answers, and
//!   everything behind them on their connection, wait in the write buffer
//!   (neither buffer moves meanwhile), then leave in request order, rewritten
//!   as SERVFAIL if the commit failed (RFC 2136 §3.5: no answer before the
//!   update is on stable storage).
//! - When every slot is taken, a new connection evicts the one whose last
//!   complete request is oldest (RFC 7766 §6.2.2 lets a server close idle
//!   connections under pressure); an attacker holding connections open without
//!   sending requests therefore cannot lock out clients that do.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::handler::{Handler, Origin, Reply, Settled, Ticket, Transport};
use crate::metrics::{self, TcpCounts};
use crate::rrl::source_prefix;
use crate::store::WriteBatch;
use crate::transfer::Stream;
use crate::wire::{Frame, Header, MAX_MESSAGE, Opcode, frame_prefix, parse_frame};

/// One frame: the length prefix and the largest message.
const FRAME_MAX: usize = 2 + MAX_MESSAGE;
/// Read buffer of a connection: exactly one largest frame, so a complete frame
/// always fits once the bytes before it have been answered.
const READ_CAP: usize = FRAME_MAX;
/// Write buffer of a connection: room for one largest response plus as much
/// again of earlier output still waiting to be sent.
const WRITE_CAP: usize = 2 * FRAME_MAX;
/// The small read buffer of every slot: a frame up to this long (a query, an
/// UPDATE of a few records, certbot's TXT) needs no large buffer.
const SMALL_READ: usize = 2048;
/// The small write buffer of every slot.
const SMALL_WRITE: usize = 4096;
/// Both small buffers of a slot.
const SMALL: usize = SMALL_READ + SMALL_WRITE;
/// The room a small write buffer must have before a request is answered:
/// more than the largest answer to an UPDATE (a header, the zone, OPT without
/// options, and a TSIG with a 255-octet key name, a 64-octet MAC and the
/// 6-octet BADTIME data: under 700 octets), so that a held answer always
/// lands where its ticket says without a large buffer.
const SMALL_ROOM: usize = 1024;
/// The large buffers of a worker (fewer when the slab is smaller): the
/// streams of the worker ([`crate::transfer::STREAMS_PER_WORKER`]) and as
/// many large frames or answers again.
pub(super) const LARGE_BUFFERS: usize = 32;
/// The large buffers of a slab of `capacity` connections.
pub(super) fn large_buffers(capacity: usize) -> usize {
    LARGE_BUFFERS.min(capacity)
}

/// A large buffer: the read buffer, then the write buffer.
const LARGE: usize = READ_CAP + WRITE_CAP;
/// Frames answered (or stream messages written) on one connection per
/// wake-up before the others get a turn.
const FRAME_BUDGET: usize = 32;
/// The longest a stream may take from its request to its last message.
/// While it lasts, its snapshot keeps LMDB from reusing freed pages.
pub(super) const STREAM_TIME: Duration = Duration::from_secs(300);

/// The header of a TCP frame that can be a request at all: it holds a header
/// and QR is clear (`None` otherwise). BIND's `ns__client_request` answers anything else on TCP with
/// `isc_nm_bad_request`, which closes the connection:
///
/// ```text
/// result = dns_message_peekheader(client->buffer, &id, &flags);
/// if (result != ISC_R_SUCCESS) {
///         /*
///          * There isn't enough header to determine whether
///          * this was a request or a response.  Drop it.
///          */
///         ...
///         isc_nm_bad_request(handle);
/// ...
/// /*
///  * The client object handles requests, not responses.
///  * If this is a UDP response, forward it to the dispatcher.
///  * If it's a TCP response, discard it here.
///  */
/// if ((flags & DNS_MESSAGEFLAG_QR) != 0) {
///         ...
///         isc_nm_bad_request(handle);
/// ```
fn request_header(message: &[u8]) -> Option<Header> {
    Header::parse(message).ok().filter(|h| !h.flags.qr())
}

/// What the caller must do with a connection after servicing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Keep it.
    Open,
    /// Close it: the peer went away, an error occurred, or all is said.
    Close,
}

/// The state of one open connection.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Unanswered input is `read[rstart..rend]`.
    rstart: usize,
    rend: usize,
    /// Unsent output is `write[wstart..wend]`.
    wstart: usize,
    wend: usize,
    /// When the connection was accepted or its last complete request arrived.
    last_request: Instant,
    /// When the first byte of the frame now in progress arrived.
    frame_started: Option<Instant>,
    /// Whether WRITABLE is part of the registered interest.
    writable: bool,
    /// The peer shut down its sending side.
    peer_closed: bool,
    /// A frame that cannot be a request arrived: read nothing more, close
    /// once the output before it is sent.
    closing: bool,
    /// Work is left over because the frame budget ran out.
    again: bool,
    /// Waiting for a large buffer: a frame or an answer too large for the
    /// small ones, or a stream, waits until one is free ([`Slab::wake`]).
    starved: bool,
    /// The multi-message response being written; later frames wait.
    transfer: Option<Stream>,
    /// This connection's number in the slab, unique for the worker's life:
    /// the `holder` of its tickets, so that a settle never touches another
    /// connection that took the slot meanwhile.
    serial: u64,
    /// Where the frame of the first answer waiting for the batch's commit
    /// starts in the write buffer: nothing from there on is sent, and neither
    /// buffer moves, until [`Slab::settle`].
    held_from: Option<usize>,
    /// When the stream must have written its last message.
    stream_until: Instant,
}

/// What [`Conn::pump`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pumped {
    /// Wrote one message of the stream.
    Wrote,
    /// The stream had written its last message and is gone.
    Ended,
    /// No room in the write buffer, or no budget: try again later.
    Wait,
    /// The stream failed or ran out of time; the connection closes.
    Aborted,
}

impl Conn {
    /// When this connection is closed unless something happens first.
    fn deadline(&self, timeout: Duration) -> Instant {
        let since = self.frame_started.unwrap_or(self.last_request);
        let idle = since.checked_add(timeout).unwrap_or(since);
        // A stream's messages count as activity (`last_request`), so a client
        // that reads on keeps it going, up to the stream's own limit.
        match self.transfer {
            Some(_) => idle.min(self.stream_until),
            None => idle,
        }
    }

    /// Writes the next message of the stream into the write buffer, if there
    /// is room for a whole frame and budget left.
    fn pump(
        &mut self,
        write: &mut [u8],
        unix_now: u64,
        now: Instant,
        budget: &mut usize,
    ) -> Pumped {
        if let Some(stream) = self.transfer.take_if(|s| s.is_done()) {
            log::debug!(
                "stream to {} ended after {} messages",
                self.peer,
                stream.messages()
            );
            return Pumped::Ended;
        }
        if *budget == 0 {
            self.again = true;
            return Pumped::Wait;
        }
        if now >= self.stream_until {
            log::warn!(
                "closing TCP connection from {}: a stream took longer than {} s",
                self.peer,
                STREAM_TIME.as_secs()
            );
            return self.abort_stream();
        }
        if !self.make_room(write, FRAME_MAX) {
            return Pumped::Wait;
        }
        let Some(stream) = self.transfer.as_mut() else {
            return Pumped::Ended;
        };
        let body = self.wend.saturating_add(2);
        let Some(out) = write.get_mut(body..body.saturating_add(MAX_MESSAGE)) else {
            return self.abort_stream();
        };
        match stream.next(out, unix_now) {
            Ok(Some(len)) => {
                let Some(prefix) = frame_prefix(len) else {
                    return self.abort_stream();
                };
                let Some(slot) = write.get_mut(self.wend..body) else {
                    return self.abort_stream();
                };
                slot.copy_from_slice(&prefix);
                self.wend = body.saturating_add(len);
                *budget = budget.saturating_sub(1);
                self.last_request = now;
                Pumped::Wrote
            }
            // Not reached: a stream that is done was taken above.
            Ok(None) => {
                self.transfer = None;
                Pumped::Ended
            }
            Err(e) => {
                log::error!("stream to {} failed: {e:?}", self.peer);
                self.abort_stream()
            }
        }
    }

    /// Drops the stream, and every frame after it: the connection closes once
    /// what was written is sent.
    fn abort_stream(&mut self) -> Pumped {
        self.transfer = None;
        self.closing = true;
        self.rstart = self.rend;
        Pumped::Aborted
    }

    /// Makes room for `need` more octets at the end of the write buffer
    /// (one largest framed response in a large buffer, [`SMALL_ROOM`] in a
    /// small one), moving unsent output to the front if that is what it
    /// takes. `false` when the unsent output leaves no room.
    fn make_room(&mut self, write: &mut [u8], need: usize) -> bool {
        if self.wstart == self.wend {
            self.wstart = 0;
            self.wend = 0;
        }
        if write.len().saturating_sub(self.wend) >= need {
            return true;
        }
        // Held answers stay where their tickets say until the settle.
        if self.held_from.is_some() {
            return false;
        }
        let pending = self.wend.saturating_sub(self.wstart);
        if self.wstart > 0
            && self.wstart <= self.wend
            && self.wend <= write.len()
            && write.len().saturating_sub(pending) >= need
        {
            write.copy_within(self.wstart..self.wend, 0);
            self.wstart = 0;
            self.wend = pending;
            return true;
        }
        false
    }

    /// Answers the complete frames at the front of the read buffer, in order,
    /// while the write buffer has room and the budget lasts.
    ///
    /// The UPDATEs among them join `batch`, the worker's TCP batch of this
    /// wake-up, which every connection shares (group commit, as the UDP path
    /// does: certbot and `nsupdate -v` send over TCP); their answers wait in
    /// the write buffer until [`Slab::settle`] says the batch is durable. A
    /// request that is not an UPDATE, behind a held answer, waits for that
    /// settle too, so that it sees what the UPDATEs wrote: the answers stay
    /// in request order and in effect order (RFC 7766 §6.2.1.1).
    #[allow(clippy::too_many_arguments)]
    fn answer(
        &mut self,
        space: &mut Space<'_>,
        handler: &mut Handler,
        batch: &mut WriteBatch<'_>,
        unix_now: u64,
        now: Instant,
        budget: &mut usize,
    ) {
        loop {
            // A stream in progress goes first: later frames wait for its end.
            // A connection with a stream always has a large buffer.
            if self.transfer.is_some() {
                let (_, write, _) = space.parts();
                match self.pump(write, unix_now, now, budget) {
                    Pumped::Wrote | Pumped::Ended => continue,
                    Pumped::Wait | Pumped::Aborted => break,
                }
            }
            let large = space.is_large();
            let (read, write, scratch) = space.parts();
            let input = read.get(self.rstart..self.rend).unwrap_or(&[]);
            let Frame::Complete { message, consumed } = parse_frame(input) else {
                break;
            };
            let Some(header) = request_header(message) else {
                log::debug!(
                    "closing TCP connection from {}: a {}-octet frame that is not a request",
                    self.peer,
                    message.len()
                );
                handler.counters_mut().dropped(metrics::Drop::NotARequest);
                self.closing = true;
                self.rstart = self.rend;
                break;
            };
            if *budget == 0 {
                self.again = true;
                break;
            }
            let is_update = header.flags.opcode() == Opcode::Update;
            // Wait for the settle: a request that must see the held UPDATEs'
            // effect, an UPDATE the batch has no room to hold, or no room
            // left without moving the held answers.
            let holding = self.held_from.is_some();
            if (holding && !is_update) || (is_update && !handler.can_hold()) {
                self.again = true;
                break;
            }
            if !self.make_room(write, room(large)) {
                break;
            }
            *budget = budget.saturating_sub(1);
            let body = self.wend.saturating_add(2);
            let ticket = Ticket {
                request: self.rstart.saturating_add(2),
                answer: body,
                holder: self.serial,
            };
            // In a large buffer the answer is built where it is sent from;
            // in a small one, in the worker's scratch buffer, then copied
            // (see below).
            let out = if large {
                write.get_mut(body..body.saturating_add(MAX_MESSAGE))
            } else {
                Some(scratch)
            };
            let Some(out) = out else {
                break;
            };
            let origin = Origin::new(unix_now, self.peer, Transport::Tcp);
            let reply = handler.handle_in(batch, ticket, origin, message, out);
            // A dropped answer (None) produces nothing for this frame.
            if let Some(reply) = reply {
                if !large && !self.place(space, handler, &reply, body) {
                    break;
                }
                let (_, write, _) = space.parts();
                if let Some(prefix) = frame_prefix(reply.len)
                    && let Some(slot) = write.get_mut(self.wend..body)
                {
                    slot.copy_from_slice(&prefix);
                    if reply.held && self.held_from.is_none() {
                        self.held_from = Some(self.wend);
                    }
                    self.wend = body.saturating_add(reply.len);
                    if reply.stream
                        && let Some(stream) = handler.take_stream()
                    {
                        // Not an UPDATE: nothing is held before it.
                        self.transfer = Some(stream);
                        self.stream_until = now.checked_add(STREAM_TIME).unwrap_or(now);
                    }
                }
            }
            self.rstart = self.rstart.saturating_add(consumed);
            self.last_request = now;
            self.frame_started = None;
        }
        // The held requests stay where their tickets say until the settle.
        if self.rstart >= self.rend && self.held_from.is_none() {
            self.rstart = 0;
            self.rend = 0;
            self.frame_started = None;
        } else if self.rstart < self.rend && self.frame_started.is_none() {
            self.frame_started = Some(now);
        }
    }

    /// Copies an answer built in the scratch buffer to `body` in the write
    /// buffer, taking a large buffer first when it does not fit the small one
    /// or starts a stream. `false` when the frame waits instead: a query's
    /// answer (or a stream) with no large buffer free is answered again once
    /// one is, and an UPDATE's answer that fits nowhere (which
    /// [`SMALL_ROOM`] rules out) closes the connection.
    fn place(
        &mut self,
        space: &mut Space<'_>,
        handler: &mut Handler,
        reply: &Reply,
        body: usize,
    ) -> bool {
        let fits = body.saturating_add(reply.len) <= SMALL_WRITE;
        if (!fits || reply.stream) && !space.grow(self) {
            // The stream, if one started, ends here with its snapshot.
            drop(handler.take_stream());
            if reply.held {
                log::error!(
                    "closing TCP connection from {}: no buffer for the answer to an UPDATE",
                    self.peer
                );
                self.closing = true;
                self.rstart = self.rend;
            } else {
                self.starved = true;
            }
            return false;
        }
        let (_, write, scratch) = space.parts();
        let answer = scratch.get(..reply.len);
        let to = write.get_mut(body..body.saturating_add(reply.len));
        match (answer, to) {
            (Some(answer), Some(to)) => {
                to.copy_from_slice(answer);
                true
            }
            // Not reached: the scratch buffer holds MAX_MESSAGE octets and
            // the write buffer has room for them.
            _ => {
                self.closing = true;
                self.rstart = self.rend;
                false
            }
        }
    }

    /// After the batch settled: rewrites in place this connection's answers
    /// whose commit failed, then lets its output go. A rewritten answer has
    /// the length of the one it replaces (the same question, OPT and TSIG);
    /// if one cannot be written so, it and every answer after it are dropped
    /// and the connection closes, so that no answer for an unapplied UPDATE
    /// is ever sent.
    fn settled(&mut self, settled: &Settled<'_>, read: &[u8], write: &mut [u8]) {
        let mine = settled
            .servfail()
            .filter(|held| held.ticket.holder == self.serial);
        for held in mine {
            let Ticket {
                request, answer, ..
            } = held.ticket;
            let request_len = request
                .checked_sub(2)
                .and_then(|at| read.get(at..request))
                .and_then(|p| <[u8; 2]>::try_from(p).ok())
                .map_or(0, |p| usize::from(u16::from_be_bytes(p)));
            let request = read
                .get(request..request.saturating_add(request_len))
                .unwrap_or_default();
            let rewritten = write
                .get_mut(answer..answer.saturating_add(held.len))
                .and_then(|output| settled.rewrite(&held, request, output));
            if rewritten != Some(held.len) {
                log::error!(
                    "closing TCP connection from {}: the answer to an update that failed to commit could not be rewritten",
                    self.peer
                );
                self.wend = answer.saturating_sub(2).min(self.wend);
                self.closing = true;
                self.rstart = self.rend;
                break;
            }
        }
        self.held_from = None;
        if self.rstart >= self.rend {
            self.rstart = 0;
            self.rend = 0;
        }
        // Read and answer on at the next round, now that the frames behind
        // the held answers may go on.
        self.again = true;
    }

    /// Sends unsent output until it is gone or the socket would block.
    fn flush(&mut self, write: &[u8]) -> io::Result<()> {
        // Answers waiting for the batch's commit are not sent before it.
        let end = self.held_from.map_or(self.wend, |h| h.min(self.wend));
        while self.wstart < end {
            let pending = write.get(self.wstart..end).unwrap_or(&[]);
            match self.stream.write(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.wstart = self.wstart.saturating_add(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.wstart >= self.wend {
            self.wstart = 0;
            self.wend = 0;
        }
        Ok(())
    }

    /// Reads what the socket holds into the read buffer. Returns whether bytes
    /// arrived; a would-block or a full buffer ends the reading.
    fn fill(&mut self, read: &mut [u8], now: Instant) -> io::Result<bool> {
        if self.rstart > 0 && self.rstart <= self.rend && self.rend <= read.len() {
            read.copy_within(self.rstart..self.rend, 0);
            self.rend = self.rend.saturating_sub(self.rstart);
            self.rstart = 0;
        }
        loop {
            let Some(free) = read.get_mut(self.rend..) else {
                return Ok(false);
            };
            if free.is_empty() {
                return Ok(false);
            }
            match self.stream.read(free) {
                Ok(0) => {
                    self.peer_closed = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.rend = self.rend.saturating_add(n);
                    if self.frame_started.is_none() {
                        self.frame_started = Some(now);
                    }
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// One slot of the slab. Its small buffers are its part of
/// [`Slab::small`].
struct Slot {
    /// The large buffer taken from the pool, while the connection needs it.
    large: Option<Box<[u8]>>,
    conn: Option<Conn>,
}

/// The buffers a connection works in: its small ones, or the large one it
/// took, and the worker's scratch buffer for answers.
struct Space<'a> {
    small: &'a mut [u8],
    large: &'a mut Option<Box<[u8]>>,
    /// The worker's free large buffers.
    spare: &'a mut Vec<Box<[u8]>>,
    scratch: &'a mut [u8],
}

/// The room [`Conn::answer`] needs in the write buffer for one answer.
fn room(large: bool) -> usize {
    if large { FRAME_MAX } else { SMALL_ROOM }
}

/// How long the frame at the front of `input` is with its prefix, once the
/// prefix is there.
fn frame_need(input: &[u8]) -> Option<usize> {
    let prefix = <[u8; 2]>::try_from(input.get(..2)?).ok()?;
    Some(2 + usize::from(u16::from_be_bytes(prefix)))
}

impl Space<'_> {
    fn is_large(&self) -> bool {
        self.large.is_some()
    }

    /// The read buffer, the write buffer and the scratch buffer.
    fn parts(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (buf, cut): (&mut [u8], usize) = match self.large {
            Some(large) => (large, READ_CAP),
            None => (self.small, SMALL_READ),
        };
        let (read, write) = buf.split_at_mut(cut.min(buf.len()));
        (read, write, self.scratch)
    }

    /// Moves the connection into a large buffer from the pool, its input and
    /// output at the same offsets, so that the tickets of held answers stay
    /// true. `false` when none is free.
    fn grow(&mut self, conn: &Conn) -> bool {
        if self.large.is_some() {
            return true;
        }
        let Some(mut large) = self.spare.pop() else {
            return false;
        };
        let (small_read, small_write) = self.small.split_at(SMALL_READ.min(self.small.len()));
        let (read, write) = large.split_at_mut(READ_CAP.min(LARGE));
        copy(small_read, read, conn.rend);
        copy(small_write, write, conn.wend);
        *self.large = Some(large);
        true
    }

    /// Gives the large buffer back when the connection no longer needs it:
    /// no stream, nothing held, and its unanswered input (with the whole
    /// frame it starts) and unsent output fit the small buffers. Returns
    /// whether a buffer went back.
    fn shrink(&mut self, conn: &mut Conn) -> bool {
        let Some(large) = self.large.as_deref() else {
            return false;
        };
        if conn.transfer.is_some() || conn.held_from.is_some() {
            return false;
        }
        let (read, write) = large.split_at(READ_CAP.min(large.len()));
        let input = read.get(conn.rstart..conn.rend).unwrap_or(&[]);
        let output = write.get(conn.wstart..conn.wend).unwrap_or(&[]);
        if input.len() > SMALL_READ
            || frame_need(input).is_some_and(|n| n > SMALL_READ)
            || output.len() > SMALL_WRITE
        {
            return false;
        }
        let (small_read, small_write) = self.small.split_at_mut(SMALL_READ.min(self.small.len()));
        copy(input, small_read, input.len());
        copy(output, small_write, output.len());
        (conn.rstart, conn.rend) = (0, input.len());
        (conn.wstart, conn.wend) = (0, output.len());
        if let Some(large) = self.large.take()
            && self.spare.len() < self.spare.capacity()
        {
            self.spare.push(large);
        }
        true
    }
}

/// Copies the first `len` octets of `from` to the front of `to`.
fn copy(from: &[u8], to: &mut [u8], len: usize) {
    if let (Some(from), Some(to)) = (from.get(..len), to.get_mut(..len)) {
        to.copy_from_slice(from);
    }
}

/// The TCP connections of one worker.
pub(super) struct Slab {
    slots: Vec<Slot>,
    /// The small buffers of every slot, [`SMALL`] octets each, in one
    /// allocation (the pages of slots never used are never backed).
    small: Box<[u8]>,
    /// The free large buffers; its capacity is the pool's, so pushing never
    /// grows it.
    spare: Vec<Box<[u8]>>,
    /// Where answers on connections with small buffers are built.
    scratch: Box<[u8]>,
    /// Where the search for a starved connection to wake starts.
    wake_from: usize,
    /// Indices of empty slots; its capacity is the slab's, so pushing never grows it.
    free: Vec<usize>,
    /// Token of slot 0; slot `i` is registered as `base + i`.
    base: usize,
    idle_timeout: Duration,
    /// Counted at accept, eviction and close, for the metrics.
    counts: TcpCounts,
    /// The serial number of the next connection.
    next_serial: u64,
    /// Slots whose connection holds answers for the current batch; its
    /// capacity is the slab's, so pushing never grows it.
    pending: Vec<usize>,
    /// Most connections from one source prefix (see [`same_prefix`]).
    per_prefix: usize,
}

/// Whether two peers are in the same source prefix (a /24 or a /56, as
/// rate limiting groups them: [`source_prefix`]).
fn same_prefix(a: SocketAddr, b: SocketAddr) -> bool {
    source_prefix(a.ip()) == source_prefix(b.ip())
}

impl Slab {
    /// A slab of `capacity` connections registered from token `base` on,
    /// with `min(capacity, LARGE_BUFFERS)` large buffers. The buffers are
    /// allocated here, zeroed; the operating system backs their pages only
    /// when a connection first uses them.
    pub(super) fn new(
        capacity: usize,
        base: usize,
        idle_timeout: Duration,
        per_prefix: usize,
    ) -> Slab {
        Slab::with_pool(
            capacity,
            large_buffers(capacity),
            base,
            idle_timeout,
            per_prefix,
        )
    }

    /// A slab of `capacity` connections and `large` large buffers.
    fn with_pool(
        capacity: usize,
        large: usize,
        base: usize,
        idle_timeout: Duration,
        per_prefix: usize,
    ) -> Slab {
        let mut slots = Vec::with_capacity(capacity);
        for _ in 0..capacity {
            slots.push(Slot {
                large: None,
                conn: None,
            });
        }
        let mut spare = Vec::with_capacity(large);
        for _ in 0..large {
            spare.push(vec![0u8; LARGE].into_boxed_slice());
        }
        // Popped from the end: slot 0 is used first.
        let mut free = Vec::with_capacity(capacity);
        free.extend((0..capacity).rev());
        Slab {
            slots,
            small: vec![0u8; capacity.saturating_mul(SMALL)].into_boxed_slice(),
            spare,
            scratch: vec![0u8; MAX_MESSAGE].into_boxed_slice(),
            wake_from: 0,
            free,
            base,
            idle_timeout,
            counts: TcpCounts::default(),
            next_serial: 1,
            pending: Vec::with_capacity(capacity),
            per_prefix: per_prefix.max(1),
        }
    }

    /// What this slab counted so far.
    pub(super) fn counts(&self) -> TcpCounts {
        self.counts
    }

    /// The slot index of `token`, if it names a slot of this slab.
    pub(super) fn slot_of(&self, token: Token) -> Option<usize> {
        token
            .0
            .checked_sub(self.base)
            .filter(|i| *i < self.slots.len())
    }

    /// Takes a newly accepted connection, evicting the least recently active one
    /// when every slot is taken. Returns the slot used, or `None` (the stream is
    /// then closed) when the slab has no slots or registration failed.
    pub(super) fn insert(
        &mut self,
        mut stream: TcpStream,
        peer: SocketAddr,
        now: Instant,
        registry: &Registry,
    ) -> Option<usize> {
        // A prefix at its share makes room among its own connections: its
        // newest connection replaces its oldest, and the others keep theirs.
        if self.count_from_prefix(peer) >= self.per_prefix
            && let Some(oldest) = self.least_recent_where(|c| same_prefix(c.peer, peer))
        {
            log::debug!(
                "TCP connections from the prefix of {peer} at their limit: closing the oldest"
            );
            self.close(oldest, registry);
            self.counts.evicted = self.counts.evicted.wrapping_add(1);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let oldest = self.least_recent()?;
                if let Some(old) = self.slots.get(oldest).and_then(|s| s.conn.as_ref()) {
                    log::debug!("TCP connections full: closing the one from {}", old.peer);
                }
                self.close(oldest, registry);
                self.counts.evicted = self.counts.evicted.wrapping_add(1);
                self.free.pop()?
            }
        };
        let token = Token(self.base.checked_add(index)?);
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("TCP_NODELAY for {peer}: {e}");
        }
        if let Err(e) = registry.register(&mut stream, token, Interest::READABLE) {
            log::warn!("registering a TCP connection from {peer}: {e}");
            self.free.push(index);
            return None;
        }
        let slot = self.slots.get_mut(index)?;
        slot.conn = Some(Conn {
            stream,
            peer,
            rstart: 0,
            rend: 0,
            wstart: 0,
            wend: 0,
            last_request: now,
            frame_started: None,
            writable: false,
            peer_closed: false,
            closing: false,
            again: false,
            starved: false,
            transfer: None,
            stream_until: now,
            serial: self.next_serial,
            held_from: None,
        });
        self.next_serial = self.next_serial.wrapping_add(1);
        self.counts.accepted = self.counts.accepted.wrapping_add(1);
        self.counts.open = self.counts.open.wrapping_add(1);
        Some(index)
    }

    /// Closes the connection idle the longest, counted as an eviction;
    /// `false` when there is none (or only ones whose answers wait for the
    /// batch's commit, which must not be lost).
    pub(super) fn evict_oldest(&mut self, registry: &Registry) -> bool {
        let Some(oldest) = self.least_recent() else {
            return false;
        };
        self.close(oldest, registry);
        self.counts.evicted = self.counts.evicted.wrapping_add(1);
        true
    }

    /// The open connection whose last complete request (or acceptance) is oldest.
    fn least_recent(&self) -> Option<usize> {
        self.least_recent_where(|_| true)
    }

    /// Among the open connections `pick` takes, not waiting for a commit,
    /// the one whose last complete request (or acceptance) is oldest.
    fn least_recent_where(&self, pick: impl Fn(&Conn) -> bool) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.pending.contains(i))
            .filter_map(|(i, s)| {
                s.conn
                    .as_ref()
                    .filter(|c| pick(c))
                    .map(|c| (i, c.last_request))
            })
            .min_by_key(|(_, t)| *t)
            .map(|(i, _)| i)
    }

    /// How many open connections come from the prefix of `peer`.
    fn count_from_prefix(&self, peer: SocketAddr) -> usize {
        self.slots
            .iter()
            .filter_map(|s| s.conn.as_ref())
            .filter(|c| same_prefix(c.peer, peer))
            .count()
    }

    /// Closes the connection in slot `index`, if any, and frees the slot.
    pub(super) fn close(&mut self, index: usize, registry: &Registry) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if let Some(mut conn) = slot.conn.take() {
            // Closing the descriptor removes it from epoll as well; deregistering
            // first keeps mio's bookkeeping honest on every platform.
            let _ = registry.deregister(&mut conn.stream);
            self.counts.open = self.counts.open.saturating_sub(1);
            if self.free.len() < self.free.capacity() {
                self.free.push(index);
            }
        }
        if let Some(large) = slot.large.take()
            && self.spare.len() < self.spare.capacity()
        {
            self.spare.push(large);
            self.wake();
        }
    }

    /// A large buffer is free: the next connection waiting for one (round
    /// robin over the slots) is served again on the next round.
    fn wake(&mut self) {
        let n = self.slots.len();
        for step in 0..n {
            let index = (self.wake_from + step) % n;
            if let Some(conn) = self.slots.get_mut(index).and_then(|s| s.conn.as_mut())
                && conn.starved
            {
                conn.starved = false;
                conn.again = true;
                self.wake_from = (index + 1) % n;
                return;
            }
        }
    }

    /// Reads, answers and writes on the connection in slot `index` for as long
    /// as it makes progress, then registers the interest it needs next. Closes
    /// the connection when it is finished or failed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn service(
        &mut self,
        index: usize,
        handler: &mut Handler,
        batch: &mut WriteBatch<'_>,
        unix_now: u64,
        now: Instant,
        registry: &Registry,
    ) {
        let Some((token, conn, mut space)) = self.parts(index) else {
            return;
        };
        conn.again = false;
        conn.starved = false;
        let core = (handler, batch);
        let status = drive(conn, &mut space, core, unix_now, now, token, registry);
        let holds = conn.held_from.is_some();
        let returned = status == Status::Open && space.shrink(conn);
        if status == Status::Close {
            log::debug!("closing TCP connection from {}", conn.peer);
            self.close(index, registry);
        } else if returned {
            self.wake();
        }
        if status == Status::Open
            && holds
            && !self.pending.contains(&index)
            && self.pending.len() < self.pending.capacity()
        {
            self.pending.push(index);
        }
    }

    /// Ends the worker's TCP batch of this wake-up: commits it once for
    /// every connection's held UPDATE answers (the handler says what each
    /// becomes), rewrites those whose commit failed, and sends them. Call it
    /// after the wake-up's TCP events, and before anything else settles a
    /// batch of the same handler (the UDP path).
    pub(super) fn settle(
        &mut self,
        handler: &mut Handler,
        batch: WriteBatch<'_>,
        registry: &Registry,
    ) {
        let settled = handler.settle(batch);
        let mut i = 0;
        while let Some(&index) = self.pending.get(i) {
            i += 1;
            let Some((token, conn, mut space)) = self.parts(index) else {
                continue;
            };
            let (read, write, _) = space.parts();
            conn.settled(&settled, read, write);
            let status = match conn.flush(write) {
                Ok(()) => register(conn, token, registry),
                Err(_) => Status::Close,
            };
            if status == Status::Close {
                log::debug!("closing TCP connection from {}", conn.peer);
                self.close(index, registry);
            } else if space.shrink(conn) {
                self.wake();
            }
        }
        self.pending.clear();
    }

    /// The token, connection and buffers of the open connection in slot `index`.
    fn parts(&mut self, index: usize) -> Option<(Token, &mut Conn, Space<'_>)> {
        let token = self.base.checked_add(index).map(Token)?;
        let slot = self.slots.get_mut(index)?;
        let conn = slot.conn.as_mut()?;
        let at = index.checked_mul(SMALL)?;
        let space = Space {
            small: self.small.get_mut(at..at.checked_add(SMALL)?)?,
            large: &mut slot.large,
            spare: &mut self.spare,
            scratch: &mut self.scratch,
        };
        Some((token, conn, space))
    }

    /// Slots whose connection has work left over from an exhausted budget.
    pub(super) fn has_leftover(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.conn.as_ref().is_some_and(|c| c.again))
    }

    /// Services every connection that has work left over.
    pub(super) fn service_leftovers(
        &mut self,
        handler: &mut Handler,
        batch: &mut WriteBatch<'_>,
        unix_now: u64,
        now: Instant,
        registry: &Registry,
    ) {
        for index in 0..self.slots.len() {
            let again = self
                .slots
                .get(index)
                .and_then(|s| s.conn.as_ref())
                .is_some_and(|c| c.again);
            if again {
                self.service(index, handler, batch, unix_now, now, registry);
            }
        }
    }

    /// Closes connections whose deadline has passed; returns the earliest
    /// deadline among those left open.
    pub(super) fn expire(&mut self, now: Instant, registry: &Registry) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for index in 0..self.slots.len() {
            let Some(conn) = self.slots.get(index).and_then(|s| s.conn.as_ref()) else {
                continue;
            };
            let deadline = conn.deadline(self.idle_timeout);
            if deadline <= now {
                if conn.transfer.is_some() {
                    log::debug!("closing TCP connection from {}: stream stalled", conn.peer);
                } else if conn.frame_started.is_some() {
                    log::debug!("closing TCP connection from {}: frame too slow", conn.peer);
                } else {
                    log::debug!("closing idle TCP connection from {}", conn.peer);
                }
                self.close(index, registry);
            } else {
                next = Some(next.map_or(deadline, |n| n.min(deadline)));
            }
        }
        next
    }

    /// The deadline of the connection in slot `index`.
    pub(super) fn deadline_of(&self, index: usize) -> Option<Instant> {
        self.slots
            .get(index)
            .and_then(|s| s.conn.as_ref())
            .map(|c| c.deadline(self.idle_timeout))
    }

    /// Closes every connection.
    pub(super) fn close_all(&mut self, registry: &Registry) {
        for index in 0..self.slots.len() {
            self.close(index, registry);
        }
    }
}

/// One round of work on a connection: answer what is complete, send, read
/// more while there is room for the answers, until nothing moves.
fn drive(
    conn: &mut Conn,
    space: &mut Space<'_>,
    (handler, batch): (&mut Handler, &mut WriteBatch<'_>),
    unix_now: u64,
    now: Instant,
    token: Token,
    registry: &Registry,
) -> Status {
    let mut budget = FRAME_BUDGET;
    loop {
        conn.answer(space, handler, batch, unix_now, now, &mut budget);
        let large = space.is_large();
        let (read, write, _) = space.parts();
        if conn.flush(write).is_err() {
            return Status::Close;
        }
        // Held answers wait for the settle; reading more would move the
        // requests they answer.
        if conn.closing
            || conn.again
            || conn.starved
            || conn.held_from.is_some()
            || !conn.make_room(write, room(large))
        {
            break;
        }
        if conn.transfer.is_some() {
            // Room for the stream's next message; nothing is read meanwhile.
            continue;
        }
        if conn.peer_closed {
            break;
        }
        // A frame longer than the small read buffer: read on only into a
        // large one, or wait (its bytes stay in the socket) until one is free.
        let input = read.get(conn.rstart..conn.rend).unwrap_or(&[]);
        if frame_need(input).is_some_and(|n| n > read.len()) {
            if space.grow(conn) {
                continue;
            }
            conn.starved = true;
            break;
        }
        match conn.fill(read, now) {
            Ok(true) => {}
            Ok(false) => {
                if conn.peer_closed {
                    // Answer what the last read completed before finishing.
                    continue;
                }
                break;
            }
            Err(_) => return Status::Close,
        }
    }
    register(conn, token, registry)
}

/// Closes a connection that is done, or registers the interest it needs:
/// WRITABLE too while output it may send is waiting.
fn register(conn: &mut Conn, token: Token, registry: &Registry) -> Status {
    let sendable = conn.held_from.map_or(conn.wend, |h| h.min(conn.wend));
    let output_pending = conn.wstart < sendable;
    if (conn.peer_closed || conn.closing)
        && conn.wstart >= conn.wend
        && !conn.again
        && conn.held_from.is_none()
        && conn.transfer.is_none()
    {
        return Status::Close;
    }
    if output_pending != conn.writable {
        let interest = if output_pending {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if registry
            .reregister(&mut conn.stream, token, interest)
            .is_err()
        {
            return Status::Close;
        }
        conn.writable = output_pending;
    }
    Status::Open
}

#[cfg(test)]
mod tests {
    //! A stream through a real connection: a loopback TCP socket, a real
    //! store, a TSIG key, and the client's side checked without the crate's
    //! TSIG code.

    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::sync::Arc;
    use std::thread;

    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use super::*;
    use crate::handler::{Auth, Config};
    use crate::store::Store;
    use crate::transfer::SYNTHETIC_QTYPE;
    use crate::tsig::{Algorithm, Key, KeySet, sign_request};
    use crate::wire::{Class, Message, MessageBuilder, NameBuf, RData, Rtype, Section};

    const T0: u64 = 1_700_000_000;
    const SECRET: [u8; 32] = [0x5a; 32];
    /// TXT records of the synthetic stream: about 1.3 MB.
    const RECORDS: u32 = 5000;
    /// `xfr-key.` and `hmac-sha256.`, uncompressed.
    const KEY_WIRE: &[u8] = b"\x07xfr-key\x00";
    const ALG_WIRE: &[u8] = b"\x0bhmac-sha256\x00";
    /// The TSIG record of a response signed with that key: owner, TYPE,
    /// CLASS, TTL, RDLENGTH, algorithm, time signed, fudge, MAC size, MAC,
    /// original ID, error, other len.
    const TSIG_LEN: usize = KEY_WIRE.len() + 10 + ALG_WIRE.len() + 6 + 2 + 2 + 32 + 2 + 2 + 2;

    fn zone(serial: u32) -> String {
        format!(
            "$ORIGIN example.test.\n\
             @ 3600 IN SOA ns1 hostmaster {serial} 3600 900 604800 300\n\
             @ 3600 IN NS ns1\n\
             ns1 3600 IN A 127.0.0.1\n"
        )
    }

    fn load(store: &Store, serial: u32) {
        let parsed = crate::zonefile::parse(&zone(serial), None).unwrap();
        store
            .replace_zone(parsed.apex.as_name(), &parsed.records)
            .unwrap();
    }

    fn key() -> Key {
        let name = NameBuf::from_text("xfr-key.").unwrap();
        Key::new(name.as_name(), Algorithm::HmacSha256, SECRET.to_vec()).unwrap()
    }

    /// A handler over `store` that knows [`key`], with no grants.
    fn keyed_handler(store: &Store) -> Handler {
        let mut keys = KeySet::new();
        keys.add(key()).unwrap();
        let auth = Arc::new(Auth {
            keys,
            ..Default::default()
        });
        Handler::new(store, Config::default())
            .unwrap()
            .with_auth(auth)
    }

    /// A signed query, framed, and its MAC (read from where RFC 8945 §4.2
    /// puts it: before the original ID, error and other len).
    fn request(id: u16, qname: &str, qtype: Rtype, edns: bool, time: u64) -> (Vec<u8>, Vec<u8>) {
        let mut buf = vec![0u8; 512];
        let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
        b.set_id(id);
        b.question(
            NameBuf::from_text(qname).unwrap().as_name(),
            qtype,
            Class::In,
        )
        .unwrap();
        if edns {
            b.opt(1232, 0, 0, 0, &[]).unwrap();
        }
        let len = sign_request(&key(), b, time, 300).unwrap();
        let msg = &buf[..len];
        let mac = msg[len - 6 - 32..len - 6].to_vec();
        let mut framed = (len as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(msg);
        (framed, mac)
    }

    /// RFC 8945 §5.3.1, checked from the bytes: the message without its
    /// TSIG record (ARCOUNT one less) is what the digest covers; the first
    /// message chains from the request MAC with all TSIG variables, each
    /// later one from the prior MAC with the timers only. Returns the MAC.
    fn check_tsig(message: &[u8], prior: &[u8], first: bool) -> Vec<u8> {
        assert!(message.len() > 12 + TSIG_LEN);
        let start = message.len() - TSIG_LEN;
        let tsig = &message[start..];
        assert_eq!(&tsig[..KEY_WIRE.len()], KEY_WIRE, "TSIG owner");
        let rr = &tsig[KEY_WIRE.len()..];
        assert_eq!(&rr[..4], &[0, 250, 0, 255], "TYPE TSIG, CLASS ANY");
        let rdata = &rr[10..];
        assert_eq!(&rdata[..ALG_WIRE.len()], ALG_WIRE);
        let fields = &rdata[ALG_WIRE.len()..];
        let (time, fudge, mac_size) = (&fields[..6], &fields[6..8], &fields[8..10]);
        assert_eq!(mac_size, &[0, 32]);
        let mac = &fields[10..42];
        assert_eq!(&fields[44..48], &[0, 0, 0, 0], "no error, no other data");

        let mut unsigned = message[..start].to_vec();
        let arcount = u16::from_be_bytes([unsigned[10], unsigned[11]]) - 1;
        unsigned[10..12].copy_from_slice(&arcount.to_be_bytes());
        let mut h = <Hmac<Sha256> as Mac>::new_from_slice(&SECRET).unwrap();
        h.update(&(prior.len() as u16).to_be_bytes());
        h.update(prior);
        h.update(&unsigned);
        if first {
            h.update(KEY_WIRE);
            h.update(&[0, 255, 0, 0, 0, 0]);
            h.update(ALG_WIRE);
            h.update(time);
            h.update(fudge);
            h.update(&[0, 0, 0, 0]);
        } else {
            h.update(time);
            h.update(fudge);
        }
        let expected = h.finalize().into_bytes();
        assert_eq!(mac, expected.as_slice(), "TSIG MAC");
        mac.to_vec()
    }

    fn soa_serial(msg: &Message<'_>) -> Option<u32> {
        msg.records(Section::Answer).find_map(|r| match r.data {
            RData::Soa(soa) => Some(soa.serial),
            _ => None,
        })
    }

    /// Reads framed messages until the one with `last_id` arrived.
    fn read_until(mut client: StdStream, last_id: u16) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        loop {
            let mut prefix = [0u8; 2];
            client.read_exact(&mut prefix).unwrap();
            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
            client.read_exact(&mut msg).unwrap();
            let id = u16::from_be_bytes([msg[0], msg[1]]);
            messages.push(msg);
            if id == last_id {
                return messages;
            }
        }
    }

    /// A worker's side of one connection: a store holding `example.test`
    /// (serial 1), a handler that knows the key, a slab of one slot.
    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        handler: Handler,
        poll: mio::Poll,
        slab: Slab,
        index: usize,
        /// The time requests are signed with and the connection is
        /// serviced at: now, so that dnspython accepts the TSIG times.
        unix: u64,
    }

    impl Fixture {
        /// The fixture and the client's end of its connection. Both ends
        /// have small socket buffers, so that a stream outruns the client.
        fn new() -> (Fixture, StdStream) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), 64 << 20).unwrap();
            load(&store, 1);
            let handler = keyed_handler(&store);
            let poll = mio::Poll::new().unwrap();
            let mut slab = Slab::new(1, 0, Duration::from_secs(30), 8);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
            let (accepted, peer) = listener.accept().unwrap();
            accepted.set_nonblocking(true).unwrap();
            socket2::SockRef::from(&accepted)
                .set_send_buffer_size(16 << 10)
                .unwrap();
            socket2::SockRef::from(&client)
                .set_recv_buffer_size(16 << 10)
                .unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let stream = TcpStream::from_std(accepted);
            let index = slab
                .insert(stream, peer, Instant::now(), poll.registry())
                .unwrap();
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let fixture = Fixture {
                _dir: dir,
                store,
                handler,
                poll,
                slab,
                index,
                unix,
            };
            (fixture, client)
        }

        /// A signed `example.test. SOA` query, framed, and its MAC.
        fn soa_query(&self, id: u16) -> (Vec<u8>, Vec<u8>) {
            request(id, "example.test.", Rtype::Soa, false, self.unix)
        }

        /// A signed request for a synthetic stream of `records` TXT
        /// records, framed, and its MAC.
        fn stream_request(&self, id: u16, records: u32, edns: bool) -> (Vec<u8>, Vec<u8>) {
            let qname = format!("{records}.example.test.");
            let qtype = Rtype::Unknown(SYNTHETIC_QTYPE);
            request(id, &qname, qtype, edns, self.unix)
        }

        /// One wake-up of the connection at `now`.
        fn service(&mut self, now: Instant) {
            let registry = self.poll.registry();
            let handler = &mut self.handler;
            let mut batch = WriteBatch::new(&self.store);
            self.slab
                .service(self.index, handler, &mut batch, self.unix, now, registry);
            self.slab.settle(handler, batch, registry);
        }

        fn conn(&self) -> Option<&Conn> {
            self.slab.slots[self.index].conn.as_ref()
        }

        /// Services the connection, whose client does not read, until a
        /// stream has started and waits for the socket (the messages it has
        /// written stop growing); returns how many it wrote.
        fn serve_until_blocked(&mut self) -> u32 {
            let started = Instant::now();
            let mut last = None;
            let mut unchanged = 0;
            while unchanged < 20 {
                assert!(started.elapsed() < Duration::from_secs(30));
                self.service(Instant::now());
                let written = self
                    .conn()
                    .and_then(|c| c.transfer.as_ref())
                    .map(Stream::messages);
                if written.is_some() && written == last {
                    unchanged += 1;
                } else {
                    unchanged = 0;
                }
                last = written;
                thread::sleep(Duration::from_millis(1));
            }
            last.expect("the stream started and waits for the socket")
        }
    }

    #[test]
    fn a_large_signed_stream_arrives_in_order_between_pipelined_answers() {
        let (mut f, client) = Fixture::new();

        // Pipelined: a query, the large stream, a query, a small stream
        // without EDNS, a query.
        let (q1, mac1) = f.soa_query(1);
        let (q2, mac2) = f.stream_request(2, RECORDS, true);
        let (q3, mac3) = f.soa_query(3);
        let (q4, mac4) = f.stream_request(4, 100, false);
        let (q5, mac5) = f.soa_query(5);
        let sent = [q1, q2, q3, q4, q5].concat();
        let mut writer = client.try_clone().unwrap();
        writer.write_all(&sent).unwrap();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let reader = thread::spawn(move || {
            wait.recv().unwrap();
            read_until(client, 5)
        });

        // The client does not read yet: the first answer goes out, the stream
        // starts and writes until the socket and the write buffer are full,
        // and then it waits, however often the connection is serviced.
        let blocked_at = f.serve_until_blocked();
        assert!(
            blocked_at < 20,
            "{blocked_at} messages before the socket is full"
        );
        let conn = f.conn().unwrap();
        assert!(conn.wstart < conn.wend, "output waits in the write buffer");
        assert!(
            conn.rend > conn.rstart,
            "the later requests wait unanswered"
        );
        // A write commits while the stream runs: the stream keeps its
        // snapshot, what comes after it sees the new serial.
        load(&f.store, 2);
        go.send(()).unwrap();
        let started = Instant::now();
        let mut wake_ups = 0;
        let mut allocations = 0;
        while !reader.is_finished() {
            assert!(started.elapsed() < Duration::from_secs(60), "stream stuck");
            let ((), n) = crate::counting::count(|| f.service(Instant::now()));
            allocations += n;
            wake_ups += 1;
            thread::sleep(Duration::from_millis(1));
        }
        let messages = reader.join().unwrap();
        // More than 60 messages were left, at most 32 per wake-up (the budget).
        assert!(wake_ups >= 2, "{wake_ups} wake-ups");
        // Writing and signing the streams' messages, and answering the
        // queries between them, allocate nothing on the Rust side (DESIGN.md,
        // "Zero allocation"; the snapshots are LMDB's, in C).
        assert_eq!(allocations, 0, "allocations while streaming");

        // In request order: each answer where its request was.
        let ids: Vec<u16> = messages
            .iter()
            .map(|m| u16::from_be_bytes([m[0], m[1]]))
            .collect();
        let at = |id: u16| ids.iter().position(|&i| i == id).unwrap();
        let (a3, a5) = (at(3), at(5));
        assert_eq!(at(1), 0);
        assert_eq!(a5, messages.len() - 1);
        assert!(ids[1..a3].iter().all(|&i| i == 2));
        assert!(ids[a3 + 1..a5].iter().all(|&i| i == 4));
        for (index, mac, serial) in [(0, &mac1, 1), (a3, &mac3, 2), (a5, &mac5, 2)] {
            let answer = Message::parse(&messages[index]).unwrap();
            assert_eq!(soa_serial(&answer), Some(serial));
            check_tsig(&messages[index], mac, true);
        }

        let stream = &messages[1..a3];
        let total: usize = stream.iter().map(|m| m.len() + 2).sum();
        assert!(total > 1 << 20, "more than 1 MiB: {total}");
        assert!(stream.len() > 60, "{} messages", stream.len());
        check_stream(stream, &mac2, true, RECORDS, 1);
        check_stream(&messages[a3 + 1..a5], &mac4, false, 100, 2);
        dnspython_agrees(&sent, &messages);
        eprintln!(
            "{} messages, {total} octets; {blocked_at} written before the client read, \
             then {wake_ups} wake-ups",
            stream.len()
        );
    }

    /// dnspython's zone-transfer client code verifies every response and
    /// the TSIG chain of each stream (tests/py/stream_chain.py). Fails,
    /// never skips, without /usr/bin/python3 and dnspython (as
    /// tests/crosscheck.rs does).
    fn dnspython_agrees(sent: &[u8], received: &[Vec<u8>]) {
        use base64::Engine as _;
        let dir = tempfile::tempdir().unwrap();
        let requests = dir.path().join("requests");
        let responses = dir.path().join("responses");
        std::fs::write(&requests, sent).unwrap();
        let framed: Vec<u8> = received
            .iter()
            .flat_map(|m| [&(m.len() as u16).to_be_bytes()[..], m].concat())
            .collect();
        std::fs::write(&responses, framed).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/stream_chain.py");
        let secret = base64::engine::general_purpose::STANDARD.encode(SECRET);
        let out = std::process::Command::new("/usr/bin/python3")
            .arg(script)
            .arg(secret)
            .arg(&requests)
            .arg(&responses)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run /usr/bin/python3 ({e}): install python3-dnspython")
            });
        assert!(
            out.status.success(),
            "dnspython refused the stream:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = String::from_utf8_lossy(&out.stdout).lines().count();
        assert_eq!(lines, received.len(), "dnspython read every message");
    }

    /// The messages of one synthetic stream, answering a request whose MAC
    /// was `request_mac`: each parses, has AA and no TC, OPT when the request
    /// had EDNS, the question in the first only; SOA, `records` TXT records
    /// in order, SOA, both SOAs at `serial`; and the TSIG chain verifies.
    fn check_stream(stream: &[Vec<u8>], request_mac: &[u8], edns: bool, records: u32, serial: u32) {
        let mut prior = request_mac.to_vec();
        let mut txt = 0u32;
        let mut soas = Vec::new();
        for (i, bytes) in stream.iter().enumerate() {
            assert!(bytes.len() <= crate::transfer::MESSAGE_TARGET + 512);
            let msg = Message::parse(bytes).unwrap();
            let h = msg.header();
            assert!(h.flags.qr() && h.flags.aa() && !h.flags.tc());
            assert_eq!(h.flags.rcode_bits(), 0);
            let questions = if i == 0 { 1 } else { 0 };
            assert_eq!(h.count(Section::Question), questions);
            assert_eq!(msg.edns().is_some(), edns, "OPT in every message or none");
            for r in msg.records(Section::Answer) {
                match r.data {
                    RData::Soa(soa) => soas.push(soa.serial),
                    RData::Txt(t) => {
                        txt += 1;
                        let text = t.strings().next().unwrap();
                        assert_eq!(&text[..10], format!("{txt:010}").as_bytes());
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            prior = check_tsig(bytes, &prior, i == 0);
        }
        assert_eq!(txt, records);
        assert_eq!(
            soas,
            [serial, serial],
            "SOA first and last, from the snapshot"
        );
    }

    #[test]
    fn a_stream_out_of_time_closes_its_connection_once_its_output_is_sent() {
        let (mut f, mut client) = Fixture::new();
        let (q1, _) = f.stream_request(1, RECORDS, false);
        let (q2, _) = f.soa_query(2);
        client.write_all(&[q1, q2].concat()).unwrap();
        let blocked_at = f.serve_until_blocked();
        // While it streams, the connection's deadline is the idle timeout
        // after its last message, at most the stream's own limit.
        let conn = f.conn().unwrap();
        assert!(conn.deadline(Duration::from_secs(30)) <= conn.stream_until);
        // The stream's time is up: it stops, the answer to the second
        // request is never written, and the connection closes once the
        // client has taken what was written.
        let late = Instant::now() + STREAM_TIME + Duration::from_secs(1);
        f.service(late);
        let conn = f.conn().unwrap();
        assert!(conn.transfer.is_none() && conn.closing);
        let reader = thread::spawn(move || {
            let mut all = Vec::new();
            client.read_to_end(&mut all).unwrap();
            all
        });
        let started = Instant::now();
        while f.conn().is_some() {
            assert!(started.elapsed() < Duration::from_secs(30), "not closed");
            f.service(late);
            thread::sleep(Duration::from_millis(1));
        }
        let all = reader.join().unwrap();
        let mut rest = &all[..];
        let mut messages = 0;
        while let [hi, lo, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            let msg = Message::parse(&tail[..len]).unwrap();
            assert_eq!(msg.header().id, 1, "only the stream's messages");
            messages += 1;
            rest = &tail[len..];
        }
        assert!(
            messages >= blocked_at && messages < 80,
            "{messages} messages"
        );
    }

    #[test]
    fn a_stalled_stream_is_closed_at_the_idle_timeout() {
        let (mut f, mut client) = Fixture::new();
        let (q1, _) = f.stream_request(1, RECORDS, false);
        client.write_all(&q1).unwrap();
        f.serve_until_blocked();
        let registry = f.poll.registry();
        let soon = Instant::now() + Duration::from_secs(1);
        assert!(f.slab.expire(soon, registry).is_some(), "still open");
        assert!(f.conn().is_some());
        let idle = Instant::now() + Duration::from_secs(31);
        f.slab.expire(idle, registry);
        assert!(f.conn().is_none(), "closed: the client stopped reading");
    }

    #[test]
    fn streams_are_tcp_only_and_bounded_per_worker() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 16 << 20).unwrap();
        load(&store, 1);
        let mut handler = Handler::new(&store, Config::default()).unwrap();
        let mut buf = vec![0u8; 512];
        let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
        b.set_id(9);
        let name = NameBuf::from_text("10.example.test.").unwrap();
        b.question(name.as_name(), Rtype::Unknown(SYNTHETIC_QTYPE), Class::In)
            .unwrap();
        let len = b.finish();
        let mut out = vec![0u8; 4096];
        let peer = "127.0.0.1:5353".parse().unwrap();
        let n = handler
            .handle(T0, peer, Transport::Udp, &buf[..len], &mut out)
            .unwrap();
        let reply = Message::parse(&out[..n]).unwrap();
        assert_eq!(reply.header().flags.rcode_bits(), 4);
        // Over TCP the same request streams: SOA, ten TXT, SOA in one message.
        let n = handler
            .handle(T0, peer, Transport::Tcp, &buf[..len], &mut out)
            .unwrap();
        let reply = Message::parse(&out[..n]).unwrap();
        assert_eq!(reply.header().flags.rcode_bits(), 0);
        assert_eq!(reply.header().count(Section::Answer), 12);
        assert_eq!(handler.streams().live(), 0, "handle() ends the stream");

        // At most STREAMS_PER_WORKER run at once; the next is SERVFAIL until
        // one of them ends.
        let origin = Origin::new(T0, peer, Transport::Tcp);
        let mut ask = |handler: &mut Handler| {
            let mut batch = WriteBatch::none();
            let request = &buf[..len];
            let reply = handler
                .handle_in(&mut batch, Ticket::default(), origin, request, &mut out)
                .unwrap();
            let rcode = Message::parse(&out[..reply.len])
                .unwrap()
                .header()
                .flags
                .rcode_bits();
            (rcode, reply.stream.then(|| handler.take_stream()).flatten())
        };
        let mut running = Vec::new();
        for _ in 0..crate::transfer::STREAMS_PER_WORKER {
            let (rcode, stream) = ask(&mut handler);
            assert_eq!(rcode, 0);
            running.push(stream.unwrap());
        }
        let (rcode, stream) = ask(&mut handler);
        assert_eq!((rcode, stream.is_none()), (2, true), "SERVFAIL, no stream");
        running.pop();
        let (rcode, stream) = ask(&mut handler);
        assert_eq!((rcode, stream.is_some()), (0, true));
        drop(stream);
        drop(running);
        assert_eq!(handler.streams().live(), 0);
    }

    /// A signed UPDATE of `example.test` adding `u<id>.example.test A`, framed.
    fn update_request(id: u16, time: u64) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
        b.set_id(id);
        b.flags_mut().set_opcode(Opcode::Update);
        let zone = NameBuf::from_text("example.test.").unwrap();
        b.question(zone.as_name(), Rtype::Soa, Class::In).unwrap();
        let owner = NameBuf::from_text(&format!("u{id}.example.test.")).unwrap();
        let a = RData::A([192, 0, 2, id as u8].into());
        b.record(
            Section::UPDATE,
            owner.as_name(),
            Rtype::A,
            Class::In,
            300,
            &a,
        )
        .unwrap();
        let len = sign_request(&key(), b, time, 300).unwrap();
        let mut framed = (len as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&buf[..len]);
        framed
    }

    /// A store in a temporary directory with the zone at serial 1, and a
    /// handler that knows the TSIG key.
    fn keyed_store() -> (tempfile::TempDir, Store, Handler) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 64 << 20).unwrap();
        load(&store, 1);
        let handler = keyed_handler(&store);
        (dir, store, handler)
    }

    /// Now, in seconds since the epoch.
    fn unix_now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// `n` loopback connections in `slab`: the clients' ends (reading with
    /// a timeout) and the slots.
    fn connect(slab: &mut Slab, registry: &Registry, n: usize) -> (Vec<StdStream>, Vec<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut clients = Vec::new();
        let mut slots = Vec::new();
        for _ in 0..n {
            let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let (accepted, peer) = listener.accept().unwrap();
            accepted.set_nonblocking(true).unwrap();
            let stream = TcpStream::from_std(accepted);
            slots.push(slab.insert(stream, peer, Instant::now(), registry).unwrap());
            clients.push(client);
        }
        (clients, slots)
    }

    /// The UPDATEs of several connections served in one wake-up share one
    /// commit: nothing is sent before [`Slab::settle`], then every
    /// connection gets its answer, and LMDB counted one transaction.
    #[test]
    fn updates_of_several_connections_in_one_wake_up_share_one_commit() {
        let (_dir, store, mut handler) = keyed_store();
        let poll = mio::Poll::new().unwrap();
        let registry = poll.registry();
        let mut slab = Slab::new(3, 0, Duration::from_secs(30), 8);
        let unix = unix_now();
        let (mut clients, slots) = connect(&mut slab, registry, 3);
        for (client, id) in clients.iter_mut().zip(1..=3u16) {
            client.write_all(&update_request(id, unix)).unwrap();
        }
        // Loopback delivers at once; leave the kernel a moment all the same.
        thread::sleep(Duration::from_millis(50));
        let before = store.snapshot().unwrap().id();
        let mut batch = WriteBatch::new(&store);
        for &index in &slots {
            slab.service(
                index,
                &mut handler,
                &mut batch,
                unix,
                Instant::now(),
                registry,
            );
        }
        for client in &mut clients {
            client.set_nonblocking(true).unwrap();
            let mut byte = [0u8; 1];
            let early = client.read(&mut byte);
            assert!(
                early
                    .as_ref()
                    .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock),
                "an answer left before the commit: {early:?}"
            );
            client.set_nonblocking(false).unwrap();
        }
        assert_eq!(
            store.snapshot().unwrap().id(),
            before,
            "nothing committed yet"
        );
        slab.settle(&mut handler, batch, registry);
        assert_eq!(
            store.snapshot().unwrap().id(),
            before + 1,
            "one commit for three"
        );
        for (client, id) in clients.iter_mut().zip(1..=3u16) {
            let mut len = [0u8; 2];
            client.read_exact(&mut len).unwrap();
            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
            client.read_exact(&mut msg).unwrap();
            let reply = Message::parse(&msg).unwrap();
            assert_eq!(reply.header().id, id);
            assert_eq!(reply.rcode(), crate::wire::Rcode::NoError);
        }
        let reader = store.reader().unwrap();
        for id in 1..=3u16 {
            let owner = NameBuf::from_text(&format!("u{id}.example.test.")).unwrap();
            let key = crate::store::NameKey::new(owner.as_name());
            let set = reader.rrset(&key, key.labels(), Rtype::A).unwrap();
            assert!(set.is_some(), "u{id} applied");
        }
    }

    /// A query for `ns1.example.test A` padded (RFC 7830) to more than the
    /// small read buffer holds, framed.
    fn padded_query(id: u16, padding: usize) -> Vec<u8> {
        let mut msg = Vec::new();
        msg.extend_from_slice(&id.to_be_bytes());
        msg.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
        msg.extend_from_slice(b"\x03ns1\x07example\x04test\x00\x00\x01\x00\x01");
        let rdlen = u16::try_from(4 + padding).unwrap();
        msg.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
        msg.extend_from_slice(&rdlen.to_be_bytes());
        msg.extend_from_slice(&[0, 12]);
        msg.extend_from_slice(&u16::try_from(padding).unwrap().to_be_bytes());
        msg.resize(msg.len() + padding, 0);
        let mut framed = u16::try_from(msg.len()).unwrap().to_be_bytes().to_vec();
        framed.extend_from_slice(&msg);
        framed
    }

    /// Reads one framed answer and returns its ID and RCODE.
    fn read_answer(client: &mut StdStream) -> (u16, crate::wire::Rcode) {
        let mut len = [0u8; 2];
        client.read_exact(&mut len).unwrap();
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        client.read_exact(&mut msg).unwrap();
        let reply = Message::parse(&msg).unwrap();
        (reply.header().id, reply.rcode())
    }

    /// Large buffers come from a fixed pool: a frame too large for the small
    /// buffers waits, unread, while every large buffer is taken, small
    /// requests on other connections are answered meanwhile, and the
    /// waiting frame is answered as soon as a large buffer comes back; an
    /// idle connection keeps none.
    #[test]
    fn large_frames_wait_for_a_large_buffer_and_small_ones_do_not() {
        let (_dir, store, mut handler) = keyed_store();
        let poll = mio::Poll::new().unwrap();
        let registry = poll.registry();
        let mut slab = Slab::with_pool(3, 1, 0, Duration::from_secs(30), 8);
        let unix = unix_now();
        let (mut clients, slots) = connect(&mut slab, registry, 3);
        let mut service = |slab: &mut Slab, index: Option<usize>| {
            let mut batch = WriteBatch::new(&store);
            match index {
                Some(index) => slab.service(
                    index,
                    &mut handler,
                    &mut batch,
                    unix,
                    Instant::now(),
                    registry,
                ),
                None => {
                    slab.service_leftovers(&mut handler, &mut batch, unix, Instant::now(), registry)
                }
            }
            slab.settle(&mut handler, batch, registry);
        };
        // A: half of a 10,000-octet frame takes the only large buffer.
        clients[0].write_all(&[0x27, 0x10]).unwrap();
        clients[0].write_all(&[0u8; 5000]).unwrap();
        thread::sleep(Duration::from_millis(50));
        service(&mut slab, Some(slots[0]));
        assert!(slab.slots[slots[0]].large.is_some());
        assert!(slab.spare.is_empty());
        // B: a complete 3,000-octet query waits for it, its answer unsent.
        let big = padded_query(0xb, 3000);
        assert!(big.len() > SMALL_READ);
        clients[1].write_all(&big).unwrap();
        thread::sleep(Duration::from_millis(50));
        service(&mut slab, Some(slots[1]));
        let b = slab.slots[slots[1]].conn.as_ref().unwrap();
        assert!(b.starved && !b.again, "B waits for a large buffer");
        clients[1].set_nonblocking(true).unwrap();
        let early = clients[1].read(&mut [0u8; 1]);
        assert!(
            early.is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock),
            "B was answered without a large buffer"
        );
        clients[1].set_nonblocking(false).unwrap();
        // C: a small query is answered at once, in its small buffers.
        let (small, _) = request(0xc, "ns1.example.test.", Rtype::A, true, unix);
        clients[2].write_all(&small).unwrap();
        thread::sleep(Duration::from_millis(50));
        service(&mut slab, Some(slots[2]));
        assert_eq!(
            read_answer(&mut clients[2]),
            (0xc, crate::wire::Rcode::NoError)
        );
        assert!(slab.slots[slots[2]].large.is_none());
        // A goes away: its buffer goes back and wakes B, answered next round.
        clients
            .remove(0)
            .shutdown(std::net::Shutdown::Both)
            .unwrap();
        thread::sleep(Duration::from_millis(50));
        service(&mut slab, Some(slots[0]));
        assert!(slab.slots[slots[0]].conn.is_none(), "A closed");
        assert!(slab.has_leftover(), "B woken");
        service(&mut slab, None);
        assert_eq!(
            read_answer(&mut clients[0]),
            (0xb, crate::wire::Rcode::NoError)
        );
        // Answered and idle, B gave the large buffer back.
        assert!(slab.slots[slots[1]].large.is_none());
        assert_eq!(slab.spare.len(), 1);
    }
}

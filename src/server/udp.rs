//! The UDP path of one worker: datagrams are taken from a socket in batches
//! with recvmmsg(2), answered one by one, and the answers leave in one
//! sendmmsg(2), so that a busy socket costs two system calls per batch rather
//! than two per datagram (as in Knot DNS, and NSD built with recvmmsg).
//!
//! Every buffer is allocated before the worker's loop starts: one receive
//! buffer per batch slot that holds the largest datagram, one answer buffer
//! per slot that holds the largest UDP answer the handler writes, and nix's
//! preallocated message headers ([`MultiHeaders`]). `recvmmsg` and `sendmmsg`
//! of nix 0.32 fill those headers in place and allocate nothing (unlike its
//! `sendmsg`, which builds a `Vec` for control messages on every call).
//!
//! A socket bound to a wildcard address learns each datagram's destination
//! from an IP_PKTINFO / IPV6_PKTINFO control message, and its answer leaves
//! from that address with the same control message (as NSD and Knot do; see
//! [`Local`]). Each header of such a socket has one control buffer, allocated
//! with the headers; a socket bound to one address has none.

use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;

use nix::cmsg_space;
use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg,
    sendmmsg,
};

use super::socket::answers_from_destination;

use crate::handler::{Handler, Origin, Ticket, Transport};
use crate::metrics;
use crate::store::{Store, WriteBatch};
use crate::wire::{MAX_MESSAGE, UDP_LIMIT};

/// Datagrams moved per `recvmmsg` or `sendmmsg` call.
const BATCH: usize = 32;
/// Datagrams handled per socket per wake-up before the other sockets get a
/// turn; a multiple of [`BATCH`] so that no call is cut short by it.
const BUDGET: usize = 2 * BATCH;
/// Receive buffer of one slot: the largest datagram (a UDP payload is at most
/// 65507 octets over IPv4 and 65527 over IPv6 without jumbograms, RFC 768,
/// RFC 8200), so that nothing a peer can send is cut.
const DATAGRAM_MAX: usize = MAX_MESSAGE;

/// What `recvmmsg` said about one datagram.
#[derive(Clone, Copy)]
struct Datagram {
    /// Octets stored in the slot's receive buffer.
    len: usize,
    /// The datagram was longer than the buffer (MSG_TRUNC, recvmsg(2)).
    truncated: bool,
    /// Who sent it.
    peer: Option<SockaddrStorage>,
    /// Where it was sent, on a wildcard socket.
    local: Option<Local>,
}

/// The local address a datagram was sent to, as the kernel reported it in
/// its IP_PKTINFO or IPV6_PKTINFO control message, and so the address its
/// answer must leave from (RFC 1122 §3.3.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    /// ip(7): "ipi_spec_dst is the local address of the packet and ipi_addr
    /// is the destination address in the packet header" (they differ for a
    /// broadcast). On sending, "If IP_PKTINFO is passed to sendmsg(2) and
    /// ipi_spec_dst is not zero, then it is used as the local source address
    /// for the routing table lookup"; `ipi_ifindex` is sent as 0, so that the
    /// route to the peer picks the interface, as it would without PKTINFO.
    V4 { spec_dst: Ipv4Addr },
    /// RFC 3542 §6: a received packet's IPV6_PKTINFO gives "the destination
    /// IPv6 address" and "the arriving interface index"; the same structure
    /// on an outgoing packet specifies "the source IPv6 address" and "the
    /// outgoing interface index". Both are sent back as received: the index
    /// is what scopes a link-local address.
    V6 { addr: Ipv6Addr, ifindex: u32 },
}

impl Local {
    /// The address in a received control message, if it is a PKTINFO.
    fn from_control(message: &ControlMessageOwned) -> Option<Local> {
        match message {
            ControlMessageOwned::Ipv4PacketInfo(info) => Some(Local::V4 {
                spec_dst: Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr)),
            }),
            ControlMessageOwned::Ipv6PacketInfo(info) => Some(Local::V6 {
                addr: Ipv6Addr::from(info.ipi6_addr.s6_addr),
                ifindex: info.ipi6_ifindex,
            }),
            _ => None,
        }
    }
}

/// The PKTINFO structures of one answer's control message, kept in a place
/// that outlives the `ControlMessage` that points at them.
struct Pktinfo {
    v4: libc::in_pktinfo,
    v6: libc::in6_pktinfo,
}

impl Pktinfo {
    fn new() -> Pktinfo {
        Pktinfo {
            v4: libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr { s_addr: 0 },
                ipi_addr: libc::in_addr { s_addr: 0 },
            },
            v6: libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr { s6_addr: [0; 16] },
                ipi6_ifindex: 0,
            },
        }
    }

    /// The control message that makes an answer leave from `local`.
    fn control(&mut self, local: Local) -> ControlMessage<'_> {
        match local {
            Local::V4 { spec_dst } => {
                self.v4.ipi_spec_dst.s_addr = u32::from(spec_dst).to_be();
                ControlMessage::Ipv4PacketInfo(&self.v4)
            }
            Local::V6 { addr, ifindex } => {
                self.v6.ipi6_addr.s6_addr = addr.octets();
                self.v6.ipi6_ifindex = ifindex;
                ControlMessage::Ipv6PacketInfo(&self.v6)
            }
        }
    }
}

impl Datagram {
    /// A slot that holds nothing yet.
    const EMPTY: Datagram = Datagram {
        len: 0,
        truncated: false,
        peer: None,
        local: None,
    };
}

/// The buffers of one worker's UDP path, shared by all its UDP sockets (one
/// socket is served at a time). Allocated in [`Batch::new`]; plain memory, so
/// they can be built before the worker thread starts.
pub(super) struct Batch {
    /// `BATCH` receive buffers of `DATAGRAM_MAX` octets, one after the other.
    /// Only the pages datagrams touch become resident.
    recv: Box<[u8]>,
    /// `BATCH` answer buffers of `answer_cap` octets, one after the other.
    send: Box<[u8]>,
    /// Size of one answer buffer.
    answer_cap: usize,
    /// The datagrams of the last `recvmmsg`.
    received: [Datagram; BATCH],
    /// Length of answer `k`, which is in answer buffer `k`.
    answer_len: [usize; BATCH],
    /// Where answer `k` goes.
    answer_to: [Option<SockaddrStorage>; BATCH],
    /// The address answer `k` leaves from, on a wildcard socket.
    answer_from: [Option<Local>; BATCH],
}

/// The message headers of the system calls, which hold raw pointers and so
/// cannot move between threads: built by the worker thread itself before its
/// loop starts.
pub(super) struct Headers {
    /// One set per UDP socket, in the order of the worker's sockets. The kernel
    /// overwrites `msg_namelen` with the length of the address it stored and
    /// nix does not reset it (nix issue #2506), so a set must only ever see one
    /// address family: a socket has one.
    /// The same holds for `msg_controllen`: each header of a wildcard
    /// socket has a control buffer that holds exactly the one PKTINFO message
    /// the socket asked for, of the same length every time.
    recv: Vec<MultiHeaders<SockaddrStorage>>,
    /// For `sendmmsg`, which points each header at its answer's address.
    send: SendHeaders,
}

/// The `sendmmsg` headers. nix writes the control messages into each header's
/// buffer but leaves `msg_controllen` at the buffer's size, so a set is kept
/// per kind of control message, with a buffer that one such message fills
/// exactly: none, one IP_PKTINFO, one IPV6_PKTINFO.
struct SendHeaders {
    plain: MultiHeaders<SockaddrStorage>,
    v4: MultiHeaders<SockaddrStorage>,
    v6: MultiHeaders<SockaddrStorage>,
}

impl SendHeaders {
    /// The set for answers that leave from `from`.
    fn for_local(&mut self, from: Option<Local>) -> &mut MultiHeaders<SockaddrStorage> {
        match from {
            None => &mut self.plain,
            Some(Local::V4 { .. }) => &mut self.v4,
            Some(Local::V6 { .. }) => &mut self.v6,
        }
    }
}

impl Headers {
    /// Headers for UDP sockets bound to `locals`, in the worker's order.
    pub(super) fn new(locals: impl ExactSizeIterator<Item = SocketAddr>) -> Headers {
        let mut recv = Vec::with_capacity(locals.len());
        for addr in locals {
            let control = match (answers_from_destination(addr), addr) {
                (false, _) => None,
                (true, SocketAddr::V4(_)) => Some(cmsg_space!(libc::in_pktinfo)),
                (true, SocketAddr::V6(_)) => Some(cmsg_space!(libc::in6_pktinfo)),
            };
            recv.push(MultiHeaders::preallocate(BATCH, control));
        }
        Headers {
            recv,
            send: SendHeaders {
                plain: MultiHeaders::preallocate(BATCH, None),
                v4: MultiHeaders::preallocate(BATCH, Some(cmsg_space!(libc::in_pktinfo))),
                v6: MultiHeaders::preallocate(BATCH, Some(cmsg_space!(libc::in6_pktinfo))),
            },
        }
    }
}

/// Where a socket was left after [`Batch::serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drained {
    /// It would block, or failed: a new datagram raises a new event.
    Yes,
    /// The budget ran out first: datagrams may be waiting without an event.
    BudgetSpent,
}

impl Batch {
    /// Buffers for answers of at most `max_udp_payload` octets (never below
    /// 512: the handler answers a request without EDNS in up to 512, RFC 1035
    /// §4.2.1, and caps an EDNS answer at `max(512, max_udp_payload)`, RFC 6891
    /// §6.2.5).
    pub(super) fn new(max_udp_payload: u16) -> Batch {
        let answer_cap = usize::from(max_udp_payload).clamp(UDP_LIMIT, MAX_MESSAGE);
        Batch {
            recv: vec![0u8; BATCH * DATAGRAM_MAX].into_boxed_slice(),
            send: vec![0u8; BATCH * answer_cap].into_boxed_slice(),
            answer_cap,
            received: [Datagram::EMPTY; BATCH],
            answer_len: [0; BATCH],
            answer_to: [None; BATCH],
            answer_from: [None; BATCH],
        }
    }

    /// Answers datagrams on `fd` (socket `index` of the worker, bound to
    /// `local`) until it would block or [`BUDGET`] datagrams were handled.
    /// Every failure drops datagrams or answers, never more.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn serve(
        &mut self,
        fd: RawFd,
        local: SocketAddr,
        headers: &mut Headers,
        index: usize,
        handler: &mut Handler,
        store: &Store,
        unix_now: u64,
    ) -> Drained {
        let Some(recv_headers) = headers.recv.get_mut(index) else {
            return Drained::Yes;
        };
        let mut handled = 0;
        while handled < BUDGET {
            let want = BUDGET.saturating_sub(handled).min(BATCH);
            let got = match self.receive(fd, recv_headers, want) {
                Ok(0) => return Drained::Yes,
                Ok(got) => got,
                Err(Errno::EAGAIN) => return Drained::Yes,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    log::debug!("UDP receive on {local}: {e}");
                    return Drained::Yes;
                }
            };
            handled = handled.saturating_add(got);
            let answers = self.answer(got, handler, store, unix_now);
            let lost = self.send(fd, &mut headers.send, answers);
            for _ in 0..lost {
                handler.counters_mut().dropped(metrics::Drop::SendFailed);
            }
            // A short batch usually means the queue is empty, but recvmmsg(2)
            // also stops early when an error follows a datagram; only EAGAIN
            // proves that the next datagram will raise a new edge-triggered
            // event, so the loop reads again.
        }
        Drained::BudgetSpent
    }

    /// Takes up to `want` (at most [`BATCH`]) datagrams from `fd` into the
    /// receive buffers; returns how many arrived.
    fn receive(
        &mut self,
        fd: RawFd,
        headers: &mut MultiHeaders<SockaddrStorage>,
        want: usize,
    ) -> nix::Result<usize> {
        let mut buffers = self.recv.chunks_exact_mut(DATAGRAM_MAX);
        let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(buffers.next().unwrap_or_default())]);
        let slots = iovs.get_mut(..want.min(BATCH)).unwrap_or_default();
        // MSG_DONTWAIT: the socket is nonblocking already; the flag makes sure
        // that no call waits even so (recvmmsg(2): without it, a batch would
        // wait for `vlen` datagrams on a blocking socket).
        let results = recvmmsg(fd, headers, slots.iter_mut(), MsgFlags::MSG_DONTWAIT, None)?;
        let mut got = 0;
        for (slot, message) in self.received.iter_mut().zip(results) {
            // A socket bound to one address has no control buffer, and so no
            // messages; a wildcard socket gets one PKTINFO per datagram. If it
            // were missing (or cut, ENOBUFS), the answer would leave as from a
            // specific socket, its source picked by the routing table. nix
            // copies a control message it does not know into a Vec; the
            // socket asks for PKTINFO alone, which it decodes in place.
            let local = message
                .cmsgs()
                .ok()
                .and_then(|mut cmsgs| cmsgs.find_map(|c| Local::from_control(&c)));
            *slot = Datagram {
                len: message.bytes,
                truncated: message.flags.contains(MsgFlags::MSG_TRUNC),
                peer: message.address,
                local,
            };
            got += 1;
        }
        Ok(got)
    }

    /// Runs the handler on the first `got` received datagrams; the answers go
    /// to the answer buffers in order. Returns how many answers there are.
    ///
    /// The UPDATEs among them share one write transaction (group commit,
    /// DESIGN.md "Storage schema"), which the handler settles before any
    /// answer leaves; the answers it says failed are rewritten (SERVFAIL, or
    /// dropped when that cannot be written).
    fn answer(&mut self, got: usize, handler: &mut Handler, store: &Store, unix_now: u64) -> usize {
        let requests = self.recv.chunks_exact(DATAGRAM_MAX);
        let mut batch = WriteBatch::new(store);
        let mut answers: usize = 0;
        for (index, (datagram, request)) in self.received.iter().take(got).zip(requests).enumerate()
        {
            let Some(peer) = datagram.peer.as_ref().and_then(socket_addr) else {
                continue;
            };
            if datagram.truncated {
                // Longer than any DNS message (512 octets over UDP, RFC 1035
                // §2.3.4; at most 65535 with EDNS, RFC 6891 §6.2.5): garbage,
                // dropped like any other.
                log::debug!("UDP datagram from {peer} longer than {DATAGRAM_MAX} octets dropped");
                handler.counters_mut().dropped(metrics::Drop::Oversize);
                continue;
            }
            let Some(request) = request.get(..datagram.len) else {
                continue;
            };
            let at = answers.saturating_mul(self.answer_cap);
            let Some(output) = self.send.get_mut(at..at.saturating_add(self.answer_cap)) else {
                break;
            };
            let ticket = Ticket {
                request: index,
                answer: answers,
                holder: 0,
            };
            // None: the request is dropped (RFC 1035 §4.1.1), and the answer
            // buffer serves the next one.
            let origin = Origin::new(unix_now, peer, Transport::Udp);
            let Some(reply) = handler.handle_in(&mut batch, ticket, origin, request, output) else {
                continue;
            };
            if let (Some(slot_len), Some(slot_to), Some(slot_from)) = (
                self.answer_len.get_mut(answers),
                self.answer_to.get_mut(answers),
                self.answer_from.get_mut(answers),
            ) {
                *slot_len = reply.len;
                *slot_to = datagram.peer;
                *slot_from = datagram.local;
                answers += 1;
            }
        }
        let settled = handler.settle(batch);
        for held in settled.servfail() {
            let Ticket {
                request, answer, ..
            } = held.ticket;
            let start = request.saturating_mul(DATAGRAM_MAX);
            let len = self.received.get(request).map_or(0, |d| d.len);
            let request = self
                .recv
                .get(start..start.saturating_add(len))
                .unwrap_or_default();
            let at = answer.saturating_mul(self.answer_cap);
            let output = self
                .send
                .get_mut(at..at.saturating_add(self.answer_cap))
                .unwrap_or_default();
            let len = settled.rewrite(&held, request, output);
            if let Some(slot) = self.answer_len.get_mut(answer) {
                *slot = len.unwrap_or(0);
            }
            if len.is_none()
                && let Some(to) = self.answer_to.get_mut(answer)
            {
                // No destination: sendmmsg fails on this one answer alone,
                // and `send` drops it (never the NOERROR it replaced).
                *to = None;
            }
        }
        answers
    }

    /// Sends the first `answers` answers with as few `sendmmsg` calls as the
    /// kernel allows; returns how many were dropped. nix's `sendmmsg` gives
    /// every message of a call the same control messages, so the answers are
    /// grouped by the local address they leave from, each group in arrival
    /// order, and each group is one call: queries to two addresses of a
    /// wildcard socket, interleaved, cost two calls, not one per answer. (On
    /// a socket bound to one address, the whole batch is one group.) Answers
    /// to different peers may leave in another order than their queries
    /// came; UDP promises no order, and those to one peer from one address
    /// keep theirs.
    fn send(&self, fd: RawFd, headers: &mut SendHeaders, answers: usize) -> usize {
        let answers = answers.min(BATCH);
        let froms = self.answer_from.get(..answers).unwrap_or_default();
        // The group of answer `k`: the first answer from the same address.
        let group = |k: usize| {
            let from = froms.get(k);
            froms.iter().position(|f| Some(f) == from).unwrap_or(k)
        };
        let mut order = [0usize; BATCH];
        for (k, slot) in order.iter_mut().enumerate() {
            *slot = k;
        }
        let order = order.get_mut(..answers).unwrap_or_default();
        // At most BATCH² comparisons; the keys are distinct, so an unstable
        // sort (which allocates nothing) keeps each group in arrival order.
        order.sort_unstable_by_key(|&k| (group(k), k));
        let nth = |i: usize| order.get(i).copied().unwrap_or(BATCH);
        let iovs: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
            let k = nth(i);
            let at = k.saturating_mul(self.answer_cap);
            let len = self.answer_len.get(k).copied().unwrap_or(0);
            let output = self.send.get(at..at.saturating_add(len));
            [IoSlice::new(output.unwrap_or_default())]
        });
        let to: [Option<SockaddrStorage>; BATCH] =
            std::array::from_fn(|i| self.answer_to.get(nth(i)).copied().flatten());
        let from: [Option<Local>; BATCH] =
            std::array::from_fn(|i| self.answer_from.get(nth(i)).copied().flatten());
        let mut pktinfo = Pktinfo::new();
        let mut start = 0;
        let mut dropped = 0;
        while start < answers {
            let local = from.get(start).copied().flatten();
            let run = from
                .get(start..answers)
                .unwrap_or_default()
                .iter()
                .take_while(|f| **f == local)
                .count()
                .max(1);
            let end = start.saturating_add(run);
            let (Some(slots), Some(to)) = (iovs.get(start..end), to.get(start..end)) else {
                return dropped + answers.saturating_sub(start);
            };
            let control = local.map(|local| pktinfo.control(local));
            let control = control.as_slice();
            match send_run(fd, headers.for_local(local), slots, to, control) {
                RunSent::Dropped(lost) => dropped += lost,
                RunSent::BufferFull(lost) => return dropped + lost + answers.saturating_sub(end),
            }
            start = end;
        }
        dropped
    }
}

/// How one run of answers went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunSent {
    /// Sent, but for this many, dropped one by one.
    Dropped(usize),
    /// The send buffer is full: this many of the run were dropped, and the
    /// rest of the batch should be too.
    BufferFull(usize),
}

/// Sends `slots` to `to` with `control` on each, in as few `sendmmsg` calls
/// as the kernel allows.
fn send_run(
    fd: RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    slots: &[[IoSlice<'_>; 1]],
    to: &[Option<SockaddrStorage>],
    control: &[ControlMessage<'_>],
) -> RunSent {
    let answers = slots.len();
    let mut start = 0;
    let mut dropped = 0;
    while start < answers {
        let (Some(slots), Some(to)) = (slots.get(start..), to.get(start..)) else {
            return RunSent::Dropped(dropped + answers.saturating_sub(start));
        };
        // sendmmsg(2): "A nonblocking call sends as many messages as
        // possible (up to the limit specified by vlen) and returns
        // immediately"; when an error follows at least one message, the
        // count is returned and the error is lost, and the next call
        // starts with the message that failed and so reports it.
        match sendmmsg(fd, headers, slots, to, control, MsgFlags::MSG_DONTWAIT) {
            Ok(results) => {
                let sent = results.count();
                if sent == 0 {
                    // Not documented; never spin on it.
                    log::debug!(
                        "UDP: sendmmsg sent nothing, {} answers dropped",
                        answers.saturating_sub(start)
                    );
                    return RunSent::Dropped(dropped + answers.saturating_sub(start));
                }
                start = start.saturating_add(sent);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                // The send buffer is full: waiting for it would stall every
                // other client, and UDP allows loss.
                log::debug!(
                    "UDP send buffer full: {} answers dropped",
                    answers.saturating_sub(start)
                );
                return RunSent::BufferFull(dropped + answers.saturating_sub(start));
            }
            Err(e) => {
                // An error that belongs to the first message left (its
                // destination, e.g. EACCES for a broadcast address or
                // ENETUNREACH, or its source, e.g. EINVAL for one no longer
                // configured): drop that answer only, as a lone sendto
                // would, so that a forged address in one request cannot
                // cost the rest of the batch its answers.
                let peer = to.first().and_then(|a| a.as_ref()).and_then(socket_addr);
                match peer {
                    Some(peer) => log::debug!("UDP answer to {peer} dropped: {e}"),
                    None => log::debug!("UDP answer dropped: {e}"),
                }
                start = start.saturating_add(1);
                dropped += 1;
            }
        }
    }
    RunSent::Dropped(dropped)
}

/// The standard library's form of an IPv4 or IPv6 socket address, by copy.
fn socket_addr(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    addr.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

    use super::*;

    #[test]
    fn socket_addresses_round_trip() {
        let v4 = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 7), 5353));
        let v6 = SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            53,
            0,
            0,
        ));
        for addr in [v4, v6] {
            assert_eq!(socket_addr(&SockaddrStorage::from(addr)), Some(addr));
        }
    }

    /// The address read from a received PKTINFO is the one written into the
    /// answer's, in network byte order, with the IPv4 interface left to the
    /// route and the IPv6 one kept.
    #[test]
    fn pktinfo_is_read_and_written_back() {
        let spec_dst = Ipv4Addr::new(127, 0, 0, 2);
        let received = ControlMessageOwned::Ipv4PacketInfo(libc::in_pktinfo {
            ipi_ifindex: 1,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(spec_dst).to_be(),
            },
            ipi_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::new(127, 255, 255, 255)).to_be(),
            },
        });
        let local = Local::from_control(&received);
        assert_eq!(local, Some(Local::V4 { spec_dst }));
        let mut pktinfo = Pktinfo::new();
        match local.map(|l| pktinfo.control(l)) {
            Some(ControlMessage::Ipv4PacketInfo(info)) => {
                assert_eq!(info.ipi_spec_dst.s_addr, u32::from(spec_dst).to_be());
                assert_eq!(info.ipi_ifindex, 0);
            }
            other => panic!("{other:?}"),
        }

        let addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
        let received = ControlMessageOwned::Ipv6PacketInfo(libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: addr.octets(),
            },
            ipi6_ifindex: 3,
        });
        let local = Local::from_control(&received);
        assert_eq!(local, Some(Local::V6 { addr, ifindex: 3 }));
        match local.map(|l| pktinfo.control(l)) {
            Some(ControlMessage::Ipv6PacketInfo(info)) => {
                assert_eq!(info.ipi6_addr.s6_addr, addr.octets());
                assert_eq!(info.ipi6_ifindex, 3);
            }
            other => panic!("{other:?}"),
        }
    }
}

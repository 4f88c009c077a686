//! Listening sockets made with socket2, so that every worker binds the same
//! address: SO_REUSEPORT lets the kernel spread datagrams and connections over
//! the workers' sockets, SO_REUSEADDR lets a restart bind while old connections
//! linger in TIME_WAIT.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, UdpSocket};
use nix::sys::socket::{setsockopt, sockopt};
pub(super) use socket2::Protocol;
use socket2::{Domain, Socket, Type};

/// Pending connections the kernel queues per listener before we accept them.
const TCP_BACKLOG: i32 = 1024;

/// Receive buffer asked for on each UDP socket. The kernel default (about
/// 208 KiB, some 270 small datagrams once the kernel's per-packet overhead is
/// counted) overflows while a worker waits for an update batch's `fsync` with
/// hundreds of updates in flight; the kernel caps the request at
/// `net.core.rmem_max` (socket(7)); NSD offers `so-rcvbuf` for the same reason.
const UDP_RCVBUF: usize = 4 << 20;

/// A nonblocking socket of type `ty` bound to `addr`. An IPv6 socket is made
/// IPv6-only, so that `0.0.0.0:53` and `[::]:53` can both be bound.
fn bound(addr: SocketAddr, ty: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Checks that no other process holds `addr` for `protocol`, by binding a
/// socket without SO_REUSEPORT for a moment. The real sockets share the port
/// with SO_REUSEPORT, which on its own would let a second dynzone (or anything
/// else of the same user that sets it) bind the same port and quietly take a
/// share of the queries. A TCP probe keeps SO_REUSEADDR so that connections of
/// a previous run in TIME_WAIT do not count as "in use".
pub(super) fn probe(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
    let ty = if protocol == Protocol::TCP {
        Type::STREAM
    } else {
        Type::DGRAM
    };
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if protocol == Protocol::TCP {
        socket.set_reuse_address(true)?;
    }
    socket.bind(&addr.into())
}

/// Whether a UDP socket bound to `addr` learns each datagram's destination
/// and answers from it: only a wildcard socket (`0.0.0.0`, `[::]`) can receive
/// on more than one local address. A socket bound to one address sends from
/// that address anyway and needs no control messages.
///
/// RFC 1122 §3.3.4.2, multihoming: "If the datagram is sent in response to a
/// received datagram, the source address for the response SHOULD be the
/// specific-destination address of the request"; §4.1.3.5: "When a UDP
/// datagram is received, its specific-destination address MUST be passed up
/// to the application layer." A resolver drops an answer from another address.
pub(super) fn answers_from_destination(addr: SocketAddr) -> bool {
    addr.ip().is_unspecified()
}

/// A nonblocking UDP socket bound to `addr`. A wildcard socket asks for the
/// destination of each datagram ([`answers_from_destination`]), with
/// IP_PKTINFO for IPv4 (ip(7): "Pass an IP_PKTINFO ancillary message that
/// contains a pktinfo structure that supplies some information about the
/// incoming packet") or IPV6_RECVPKTINFO for IPv6 (RFC 3542 §6.1). An IPv6
/// socket is IPv6-only ([`bound`]), so no v4-mapped datagram reaches `[::]`:
/// IPv4 queries arrive on the `0.0.0.0` socket and its IP_PKTINFO.
pub(super) fn udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = bound(addr, Type::DGRAM, Protocol::UDP)?;
    if answers_from_destination(addr) {
        let set = if addr.is_ipv6() {
            setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)
        } else {
            setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)
        };
        // Not best effort: without it, answers would leave from whichever
        // address the routing table picks, and resolvers would drop them.
        set.map_err(io::Error::from)?;
    }
    if let Err(e) = socket.set_recv_buffer_size(UDP_RCVBUF) {
        // Best effort: the default buffer works, only with less headroom.
        log::debug!("SO_RCVBUF on {addr}: {e}");
    }
    Ok(UdpSocket::from_std(socket.into()))
}

/// A nonblocking TCP listener bound to `addr`.
pub(super) fn tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = bound(addr, Type::STREAM, Protocol::TCP)?;
    socket.listen(TCP_BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

//! Raw exchanges with a server on loopback, for what the real clients cannot
//! send: one datagram, one framed request, a connection left open.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use super::wire::{frame, take_frames};

/// How long one UDP try waits for its reply.
const UDP_TRY: Duration = Duration::from_secs(1);

/// Sends `request` over UDP and waits for a reply, sending it again after each
/// second without one (as dig does, `+tries`), up to `tries` times, all from
/// one socket so that a late reply still counts. A reply lost to a busy
/// machine is not a failure; a server that never answers is.
pub fn udp_exchange_tries(addr: SocketAddr, request: &[u8], tries: usize) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("a local UDP socket");
    sock.set_read_timeout(Some(UDP_TRY))
        .expect("a read timeout");
    let mut buf = [0u8; 65535];
    for _ in 0..tries {
        sock.send_to(request, addr).expect("sending a datagram");
        if let Ok(n) = sock.recv(&mut buf) {
            return Some(buf[..n].to_vec());
        }
    }
    None
}

/// Sends `request` to `addr` from a socket `connect`ed to it, which takes
/// datagrams only from that exact address and port, and returns the reply:
/// an answer from any other source address is never seen, as by a resolver.
/// Five tries, as [`udp_exchange`].
pub fn udp_exchange_connected(addr: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind(unspecified(addr)).expect("a local UDP socket");
    sock.connect(addr).expect("connecting a UDP socket");
    sock.set_read_timeout(Some(UDP_TRY))
        .expect("a read timeout");
    let mut buf = [0u8; 65535];
    for _ in 0..5 {
        sock.send(request).expect("sending a datagram");
        if let Ok(n) = sock.recv(&mut buf) {
            return Some(buf[..n].to_vec());
        }
    }
    None
}

/// Sends `request` to `addr` from an unconnected socket and returns the
/// source address of the first reply; five tries.
pub fn udp_reply_source(addr: SocketAddr, request: &[u8]) -> Option<SocketAddr> {
    let sock = UdpSocket::bind(unspecified(addr)).expect("a local UDP socket");
    sock.set_read_timeout(Some(UDP_TRY))
        .expect("a read timeout");
    let mut buf = [0u8; 65535];
    for _ in 0..5 {
        sock.send_to(request, addr).expect("sending a datagram");
        if let Ok((_, from)) = sock.recv_from(&mut buf) {
            return Some(from);
        }
    }
    None
}

/// The wildcard address of `addr`'s family with port 0 (an ephemeral port).
fn unspecified(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    }
}

/// [`udp_exchange_tries`] with five tries.
pub fn udp_exchange(addr: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    udp_exchange_tries(addr, request, 5)
}

/// Sends `request` once and says whether no reply came within a second (for
/// requests the server must drop; ask something it answers first, so that
/// silence means the drop and not a server still starting).
pub fn udp_silence(addr: SocketAddr, request: &[u8]) -> bool {
    udp_exchange_tries(addr, request, 1).is_none()
}

/// Reads whole frames from `stream` until `count` arrived or the stream ends
/// (EOF, an error or its read timeout); returns them.
pub fn read_frames(stream: &mut TcpStream, count: usize) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    while out.len() < count {
        out.extend(take_frames(&mut buf));
        if out.len() >= count {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    out
}

/// Sends one framed request on a new connection and reads one framed reply,
/// waiting up to ten seconds; fails the test when none comes.
pub fn tcp_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connecting over TCP");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream.write_all(&frame(request)).expect("sending a frame");
    match read_frames(&mut stream, 1).pop() {
        Some(reply) => reply,
        None => panic!("no TCP reply"),
    }
}

/// Waits up to `limit` for the server to close `stream` (EOF or a reset);
/// how long that took, or `None` when it stayed open. Bytes the server sends
/// before closing are read and dropped.
pub fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(limit))
        .expect("a read timeout");
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(start.elapsed()),
            Err(_) => return None,
        }
    }
}

//! The release binary on loopback, asked by the real clients: `dig` (package
//! bind9-dnsutils) and `kdig` (package knot-dnsutils) check rcode, flags,
//! sections and TTLs; raw sockets send the bad input and the TCP abuse of
//! PROTOCOL-NOTES.md. A missing tool fails the test with the package's name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::net::{self, closed_within, read_frames};
use common::printed::{dig, dig_at, kdig, rr};
use common::wire::{frame, query, rcode_of};
use common::{LIVENESS_BOUND, TestServer, time_until};
use dynzone::wire::{Message, NameBuf, Rcode, Rtype};

const ZONE: &str = r#"$ORIGIN example.test.
$TTL 300
@       3600 IN SOA ns1 hostmaster 2026112601 3600 900 1209600 300
@       3600 IN NS  ns1
@       3600 IN NS  ns2
@            IN MX  10 mail
ns1          IN A   192.0.2.1
ns2          IN AAAA 2001:db8::2
mail         IN A   192.0.2.25
www          IN A   192.0.2.10
www          IN A   192.0.2.11
www          IN AAAA 2001:db8::10
alias        IN CNAME www
chain        IN CNAME alias
dangling     IN CNAME nothere
a.b.c        IN TXT "deep"
*.wild       IN A   192.0.2.99
sub          IN NS  ns.sub
ns.sub       IN A   192.0.2.53
_sip._udp    IN SRV 10 60 5060 www
@            IN CAA 0 issue "ca.example.net"
"#;

fn start() -> TestServer {
    TestServer::start(ZONE, "example.test", &["--tcp-idle-timeout", "2"])
}

#[test]
fn dig_and_kdig_see_authoritative_answers() {
    let server = start();
    for printed in [
        dig(&server, &["www.example.test", "A"]),
        kdig(&server, &["www.example.test", "A"]),
    ] {
        assert_eq!(printed.status, "NOERROR");
        assert!(printed.has_flag("aa") && printed.has_flag("qr"));
        let mut answer: Vec<_> = printed.answer.iter().map(|f| rr(f)).collect();
        answer.sort();
        assert_eq!(
            answer,
            vec![
                (
                    "www.example.test.".into(),
                    300,
                    "A".into(),
                    "192.0.2.10".into()
                ),
                (
                    "www.example.test.".into(),
                    300,
                    "A".into(),
                    "192.0.2.11".into()
                ),
            ]
        );
        assert!(printed.authority.is_empty());
    }
    let soa = dig(&server, &["example.test", "SOA"]);
    assert_eq!(soa.answer.len(), 1);
    let (_, ttl, t, data) = rr(&soa.answer[0]);
    assert_eq!((ttl, t.as_str()), (3600, "SOA"));
    assert_eq!(
        data,
        "ns1.example.test. hostmaster.example.test. 2026112601 3600 900 1209600 300"
    );
    let srv = kdig(&server, &["_sip._udp.example.test", "SRV"]);
    assert_eq!(rr(&srv.answer[0]).3, "10 60 5060 www.example.test.");
    let caa = dig(&server, &["example.test", "CAA"]);
    assert_eq!(rr(&caa.answer[0]).3, "0 issue \"ca.example.net\"");
}

/// Listening on the wildcards, an answer leaves from the address the query
/// was sent to (RFC 1122 §3.3.4.2): a query to 127.0.0.2 (Linux routes all of
/// 127/8 to `lo`) is answered from 127.0.0.2, not from 127.0.0.1, which the
/// routing table would pick. A connected socket, like a resolver, takes no
/// answer from another address; `recv_from` shows the source itself.
#[test]
fn wildcard_listens_answer_from_the_address_asked() {
    let server = TestServer::start_listening(
        ZONE,
        "example.test",
        &["0.0.0.0", "[::]"],
        &["--tcp-idle-timeout", "2"],
    );
    let port = server.port();
    let request = query_bytes(21, "www.example.test", Rtype::A);
    for ip in ["127.0.0.2", "127.0.0.1", "::1"] {
        let asked = SocketAddr::new(ip.parse().unwrap(), port);
        let reply = net::udp_exchange_connected(asked, &request)
            .unwrap_or_else(|| panic!("no answer from {asked} on a connected socket"));
        assert_eq!(rcode_of(&reply), Rcode::NoError, "asked at {asked}");
        assert_eq!(reply[..2], request[..2], "asked at {asked}: the same id");
        assert_eq!(
            net::udp_reply_source(asked, &request),
            Some(asked),
            "the answer to a query sent to {asked} comes from it"
        );
    }
    // Interleaved queries to two addresses, sent at once so that they
    // likely share a receive batch: each answer leaves from its own.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let asked = |id: u16| SocketAddr::new([127, 0, 0, 1 + (id % 2) as u8].into(), port);
    for id in 0..40u16 {
        sock.send_to(&query_bytes(id, "www.example.test", Rtype::A), asked(id))
            .unwrap();
    }
    let mut buf = [0u8; 4096];
    let mut seen = 0;
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        assert!(n > 12 && id < 40, "an answer to one of the 40");
        assert_eq!(from, asked(id), "answer {id} comes from the address asked");
        seen += 1;
        if seen == 40 {
            break;
        }
    }
    assert!(seen >= 30, "{seen} of 40 interleaved queries answered");
    // dig checks the source too: before, it timed out at 127.0.0.2.
    let printed = dig_at("127.0.0.2", &server, &["www.example.test", "A"]);
    assert_eq!(printed.status, "NOERROR");
    assert_eq!(printed.answer.len(), 2);
}

#[test]
fn negative_answers_carry_the_soa() {
    let server = start();
    for printed in [
        dig(&server, &["nope.example.test", "A"]),
        kdig(&server, &["nope.example.test", "A"]),
    ] {
        assert_eq!(printed.status, "NXDOMAIN");
        assert!(printed.has_flag("aa"));
        assert!(printed.answer.is_empty());
        assert_eq!(printed.authority.len(), 1);
        let (owner, ttl, t, _) = rr(&printed.authority[0]);
        assert_eq!(
            (owner.as_str(), ttl, t.as_str()),
            ("example.test.", 300, "SOA")
        );
    }
    // NODATA, and an empty non-terminal.
    for name in ["www.example.test", "b.c.example.test"] {
        let p = dig(&server, &[name, "MX"]);
        assert_eq!(p.status, "NOERROR", "{name}");
        assert!(p.has_flag("aa") && p.answer.is_empty());
        assert_eq!(rr(&p.authority[0]).2, "SOA");
    }
}

#[test]
fn cnames_referrals_and_wildcards() {
    let server = start();
    let p = kdig(&server, &["chain.example.test", "AAAA"]);
    let types: Vec<_> = p.answer.iter().map(|f| rr(f).2).collect();
    assert_eq!(types, ["CNAME", "CNAME", "AAAA"]);
    assert_eq!(rr(&p.answer[2]).3, "2001:db8::10");

    let p = dig(&server, &["dangling.example.test", "A"]);
    assert_eq!(p.status, "NXDOMAIN");
    assert_eq!(p.answer.len(), 1);

    let p = dig(&server, &["host.sub.example.test", "A"]);
    assert_eq!(p.status, "NOERROR");
    assert!(!p.has_flag("aa"), "a referral is not authoritative");
    assert!(p.answer.is_empty());
    assert_eq!(rr(&p.authority[0]).2, "NS");
    assert_eq!(rr(&p.authority[0]).0, "sub.example.test.");
    let glue: Vec<_> = p.additional.iter().map(|f| rr(f)).collect();
    assert!(glue.contains(&(
        "ns.sub.example.test.".into(),
        300,
        "A".into(),
        "192.0.2.53".into()
    )));

    let p = kdig(&server, &["Anything.wild.example.test", "A"]);
    assert!(p.has_flag("aa"));
    assert_eq!(rr(&p.answer[0]).0, "anything.wild.example.test.");
    assert_eq!(rr(&p.answer[0]).3, "192.0.2.99");
}

#[test]
fn refused_notimp_any_and_badvers() {
    let server = start();
    let p = dig(&server, &["example.com", "A"]);
    assert_eq!(p.status, "REFUSED");
    let p = dig(&server, &["-c", "CH", "version.bind", "TXT"]);
    assert_eq!(p.status, "REFUSED");
    let p = dig(&server, &["www.example.test", "ANY"]);
    assert_eq!(p.status, "NOERROR");
    let types: std::collections::BTreeSet<_> = p.answer.iter().map(|f| rr(f).2).collect();
    assert_eq!(types.len(), 1, "RFC 8482: one RRset for ANY");
    let p = dig(
        &server,
        &["+edns=1", "+noednsnegotiation", "www.example.test", "A"],
    );
    assert_eq!(p.status, "BADVERS");
    let p = dig(&server, &["+opcode=status", "www.example.test", "A"]);
    assert_eq!(p.status, "NOTIMP");
    // NOTIFY is answered (tests/transfer.rs): a name that is no apex of
    // ours is NOTAUTH.
    let p = dig(&server, &["+opcode=notify", "www.example.test", "SOA"]);
    assert_eq!(p.status, "NOTAUTH");
}

#[test]
fn udp_is_capped_and_truncated_and_tcp_carries_it_all() {
    let mut zone = ZONE.to_string();
    for i in 0..40 {
        zone.push_str(&format!("big IN TXT \"{i:02}-{}\"\n", "x".repeat(60)));
    }
    let server = TestServer::start(&zone, "example.test", &[]);
    let p = dig(&server, &["+bufsize=4096", "www.example.test", "A"]);
    assert_eq!(p.udp_size, Some(1232), "RFC 6891: our payload size in OPT");
    let p = dig(&server, &["+ignore", "+noedns", "big.example.test", "TXT"]);
    assert!(p.has_flag("tc"), "over 512 octets without EDNS: TC");
    let p = dig(
        &server,
        &["+ignore", "+bufsize=4096", "big.example.test", "TXT"],
    );
    assert!(p.has_flag("tc"), "over 1232 octets: TC");
    // dig retries over TCP by itself; kdig asked for TCP directly.
    let p = dig(&server, &["big.example.test", "TXT"]);
    assert!(!p.has_flag("tc"));
    assert_eq!(p.answer.len(), 40);
    let p = kdig(&server, &["+tcp", "big.example.test", "TXT"]);
    assert_eq!(p.answer.len(), 40);
}

// --- raw bytes -----------------------------------------------------------------

/// The plain query `name`/`qtype` with ID `id`.
fn query_bytes(id: u16, name: &str, qtype: Rtype) -> Vec<u8> {
    query(id, name, qtype)
}

fn udp_exchange(server: &TestServer, request: &[u8]) -> Option<Vec<u8>> {
    net::udp_exchange(server.addr(), request)
}

fn udp_silence(server: &TestServer, request: &[u8]) -> bool {
    net::udp_silence(server.addr(), request)
}

fn server_addr(server: &TestServer) -> SocketAddr {
    server.addr()
}

#[test]
fn bad_datagrams_get_the_rfc_answer_or_silence() {
    let server = start();
    let good = query_bytes(7, "www.example.test", Rtype::A);
    assert_eq!(
        rcode_of(&udp_exchange(&server, &good).unwrap()),
        Rcode::NoError
    );

    // Dropped: shorter than a header, and responses.
    assert!(udp_silence(&server, &good[..11]));
    assert!(udp_silence(&server, &[]));
    let mut response = good.clone();
    response[2] |= 0x80;
    assert!(udp_silence(&server, &response));

    let formerr = |bytes: &[u8], what: &str| {
        let reply = udp_exchange(&server, bytes).unwrap_or_else(|| panic!("{what}: no reply"));
        assert_eq!(rcode_of(&reply), Rcode::FormErr, "{what}");
        assert_eq!(&reply[..2], &bytes[..2], "{what}: id echoed");
    };
    // Counts promising more than the bytes hold.
    let mut more = good.clone();
    more[7] = 3;
    formerr(&more, "ANCOUNT 3 without records");
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0, 0, 0]);
    formerr(&trailing, "trailing bytes");
    // Pointers: to itself, forward, into the header, past the end.
    let header = &good[..12];
    for (what, name) in [
        ("pointer to itself", vec![0xc0, 12]),
        ("forward pointer", vec![0xc0, 14, 0]),
        ("pointer into the header", vec![0xc0, 2]),
        ("pointer past the end", vec![0xc0, 200]),
        ("reserved label type", vec![0x80, 0]),
        (
            "label over 63",
            [vec![64], vec![b'a'; 64], vec![0]].concat(),
        ),
    ] {
        let mut msg = header.to_vec();
        msg.extend_from_slice(&name);
        msg.extend_from_slice(&[0, 1, 0, 1]);
        formerr(&msg, what);
    }
    // A name over 255 octets.
    let mut long = header.to_vec();
    for _ in 0..5 {
        long.push(60);
        long.extend_from_slice(&[b'a'; 60]);
    }
    long.extend_from_slice(&[0, 0, 1, 0, 1]);
    formerr(&long, "name over 255 octets");
    // Two OPT records.
    let mut two_opt = good.clone();
    two_opt[11] = 2;
    for _ in 0..2 {
        two_opt.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    formerr(&two_opt, "two OPT records");
    // OPT with a non-root owner.
    let mut named_opt = good.clone();
    named_opt[11] = 1;
    named_opt.extend_from_slice(&[1, b'x', 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    formerr(&named_opt, "OPT with a non-root owner");
    // QDCOUNT 2.
    let mut two_q = good.clone();
    two_q[5] = 2;
    two_q.extend_from_slice(&good[12..]);
    formerr(&two_q, "two questions");

    // The server is still there.
    assert_eq!(
        rcode_of(&udp_exchange(&server, &good).unwrap()),
        Rcode::NoError
    );
}

// --- TCP -----------------------------------------------------------------------

#[test]
fn pipelined_tcp_queries_are_answered_in_order() {
    let server = start();
    let mut stream = TcpStream::connect(server_addr(&server)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let names = ["www", "nope", "alias", "ns1", "mail"];
    let mut all = Vec::new();
    for (i, n) in names.iter().enumerate() {
        all.extend(frame(&query_bytes(
            100 + i as u16,
            &format!("{n}.example.test"),
            Rtype::A,
        )));
    }
    // One write, and then the same again one byte at a time (partial reads).
    stream.write_all(&all).unwrap();
    for b in &all {
        stream.write_all(std::slice::from_ref(b)).unwrap();
    }
    let replies = read_frames(&mut stream, names.len() * 2);
    assert_eq!(replies.len(), names.len() * 2);
    for (i, reply) in replies.iter().enumerate() {
        let msg = Message::parse(reply).unwrap();
        assert_eq!(msg.header().id, 100 + (i % names.len()) as u16, "in order");
    }
    assert_eq!(
        Message::parse(&replies[1]).unwrap().rcode(),
        Rcode::NxDomain
    );
}

#[test]
fn idle_and_slow_tcp_clients_are_closed() {
    let server = start(); // idle timeout 2 s
    // A length prefix, then silence.
    let mut silent = TcpStream::connect(server_addr(&server)).unwrap();
    silent.write_all(&[0, 40]).unwrap();
    // A connection that never sends anything.
    let mut idle = TcpStream::connect(server_addr(&server)).unwrap();
    // One byte per second: never completes a frame within the timeout.
    let mut slow = TcpStream::connect(server_addr(&server)).unwrap();
    let query = frame(&query_bytes(9, "www.example.test", Rtype::A));
    let slow_start = Instant::now();
    let mut sent = 0;
    let mut slow_closed = false;
    while slow_start.elapsed() < Duration::from_secs(8) && sent < query.len() {
        if slow.write_all(&query[sent..sent + 1]).is_err() {
            slow_closed = true;
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(1000));
    }
    assert!(
        slow_closed || closed_within(&mut slow, Duration::from_secs(1)).is_some(),
        "a 1-byte-per-second sender is cut off (sent {sent} bytes)"
    );
    assert!(sent < query.len(), "closed before the frame completed");
    assert!(closed_within(&mut silent, Duration::from_secs(4)).is_some());
    assert!(closed_within(&mut idle, Duration::from_secs(4)).is_some());
}

#[test]
fn many_idle_connections_and_a_client_that_never_reads_block_no_one() {
    let mut zone = ZONE.to_string();
    for i in 0..40 {
        zone.push_str(&format!("big IN TXT \"{i:02}-{}\"\n", "x".repeat(60)));
    }
    let server = TestServer::start(
        &zone,
        "example.test",
        &["--tcp-idle-timeout", "5", "--tcp-max-connections", "64"],
    );
    // Thousands of idle connections, far more than the limit.
    let idle: Vec<_> = (0..2000)
        .filter_map(|_| TcpStream::connect(server_addr(&server)).ok())
        .collect();
    assert!(idle.len() > 1000, "{} connections made", idle.len());
    // A client that sends many queries with big answers and never reads them.
    let mut hog = TcpStream::connect(server_addr(&server)).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let big = frame(&query_bytes(1, "big.example.test", Rtype::Txt));
    for _ in 0..2000 {
        if hog.write_all(&big).is_err() {
            break;
        }
    }
    // UDP is still answered, eventually: a liveness bound of 20 server ticks,
    // not a speed claim (a stalled worker never answers; a busy machine may
    // cost a retry or two). The time it took is printed.
    let good = query_bytes(7, "www.example.test", Rtype::A);
    let mut reply = None;
    let waited = time_until(LIVENESS_BOUND, || {
        reply = net::udp_exchange_tries(server.addr(), &good, 1);
        reply.is_some()
    });
    let Some(waited) = waited else {
        panic!("UDP stalled behind TCP: no answer within {LIVENESS_BOUND:?}");
    };
    println!("UDP answered beside the TCP hog after {waited:?}");
    assert_eq!(rcode_of(&reply.expect("a reply")), Rcode::NoError);
    // A new TCP client is served (the oldest idle connections make room).
    let mut fresh = TcpStream::connect(server_addr(&server)).unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    fresh.write_all(&frame(&good)).unwrap();
    let replies = read_frames(&mut fresh, 1);
    assert_eq!(replies.len(), 1, "a new TCP client is answered");
    drop(idle);
    drop(hog);
}

// --- zone files ----------------------------------------------------------------

#[test]
fn export_then_import_then_export_is_byte_identical() {
    let server = start();
    let first = server.export("example.test");
    assert!(first.contains("www.example.test.") && first.contains("SOA"));
    let again = TestServer::start(&first, "example.test", &[]);
    let second = again.export("example.test");
    assert_eq!(first, second);
    // And the re-imported zone answers the same.
    let p = dig(&again, &["_sip._udp.example.test", "SRV"]);
    assert_eq!(rr(&p.answer[0]).3, "10 60 5060 www.example.test.");
}

/// Every supported type and syntax (tests/data/zones/), through `dynzone import`
/// into LMDB and `dynzone export` out of it: what comes out is what the library
/// writer makes of the parsed file, and it comes out the same the second time.
#[test]
fn every_supported_type_round_trips_through_the_database() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/zones");
    for (file, origin) in [
        ("example.com.zone", "example.com"),
        ("legacy-types.zone", "example.org"),
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let server = TestServer::start(&text, origin, &[]);
        let first = server.export(origin);
        let parsed =
            dynzone::zonefile::parse(&text, Some(&NameBuf::from_text(origin).unwrap())).unwrap();
        let records_in_file = parsed.records.len();
        let exported = dynzone::zonefile::parse(&first, None).unwrap();
        let mut a: Vec<_> = parsed
            .records
            .iter()
            .map(|r| (r.owner.to_string(), r.rtype, r.ttl, r.rdata.clone()))
            .collect();
        let mut b: Vec<_> = exported
            .records
            .iter()
            .map(|r| {
                (
                    r.owner.to_string().to_ascii_lowercase(),
                    r.rtype,
                    r.ttl,
                    r.rdata.clone(),
                )
            })
            .collect();
        for r in &mut a {
            r.0 = r.0.to_ascii_lowercase();
        }
        a.sort();
        a.dedup();
        b.sort();
        assert_eq!(a, b, "{file}: the same records come back out of LMDB");
        assert!(records_in_file >= 10, "{file}: {records_in_file} records");
        let again = TestServer::start(&first, origin, &[]);
        assert_eq!(
            first,
            again.export(origin),
            "{file}: export → import → export"
        );
    }
}

/// A process that ends without closing the database (`kill -9`) leaves its
/// LMDB reader slots behind, and the pages its snapshot saw can then never
/// be reused. The server clears such slots every
/// `server::STALE_READERS_EVERY` (10 s) and says how many (issue 11).
#[test]
fn reader_slots_of_a_killed_process_are_cleared_and_logged() {
    let server = TestServer::start(ZONE, "example.test", &[]);
    // A second server on the same database: its worker holds a read snapshot.
    let port = common::pick_port();
    let listen = format!("127.0.0.1:{port}");
    let db = server.db_path();
    let mut other = std::process::Command::new(common::binary())
        .args(["serve", "--listen", &listen, "--workers", "1", "--db"])
        .arg(&db)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting a second dynzone serve");
    // An answer, not just a bound socket: the worker opens its reader (and
    // takes its slot) after the listeners are bound.
    let query = common::wire::Query::new(0x5107, "www.example.test", Rtype::A).bytes();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a read timeout");
    let serving = time_until(LIVENESS_BOUND, || {
        let mut buf = [0u8; 512];
        socket.send_to(&query, ("127.0.0.1", port)).is_ok()
            && socket.recv(&mut buf).is_ok_and(|n| n >= 12)
    });
    assert!(serving.is_some(), "the second server did not answer");
    other.kill().expect("SIGKILL to the second server");
    other.wait().expect("reaping the second server");
    let bound = dynzone::server::STALE_READERS_EVERY + LIVENESS_BOUND;
    let cleared = time_until(bound, || {
        server
            .log_contents()
            .contains("stale LMDB reader slot(s) left by a process")
    });
    println!("stale reader slots cleared after {cleared:?} (bound {bound:?})");
    assert!(cleared.is_some(), "log:\n{}", server.log_contents());
    // And the server still answers from the same database.
    assert_eq!(dig(&server, &["www.example.test", "A"]).status, "NOERROR");
}

/// Anyone can send unsigned UPDATEs, from spoofed addresses: 20,000 of them
/// are each answered REFUSED and counted, but the log gets one line per
/// reason per 10 s, not one per datagram (issue 11: under 64 KiB; before,
/// 1.8 MB).
#[test]
fn a_flood_of_unsigned_updates_writes_a_few_log_lines() {
    let server = TestServer::start(ZONE, "example.test", &[]);
    let before = std::fs::metadata(server.dir().join("server.log"))
        .map(|m| m.len())
        .unwrap_or(0);
    let update = common::wire::Query::new(0x2136, "example.test", Rtype::Soa)
        .opcode(dynzone::wire::Opcode::Update)
        .bytes();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    socket
        .connect(("127.0.0.1", server.port()))
        .expect("connecting the UDP socket");
    let mut answers = 0u32;
    let mut refused = 0u32;
    let mut buf = [0u8; 512];
    let started = Instant::now();
    for i in 0..20_000u32 {
        if let Err(e) = socket.send(&update) {
            panic!(
                "sending UPDATE {i} of 20000: {e}\nserver log:\n{}",
                server.log_contents()
            );
        }
        // Read the answers in flight now and then, so that neither side's
        // buffer overflows; the last round waits for the stragglers.
        if i % 32 == 31 || i == 19_999 {
            let wait = if i == 19_999 { 500 } else { 20 };
            socket
                .set_read_timeout(Some(Duration::from_millis(wait)))
                .expect("a read timeout");
            while answers <= i {
                let Ok(n) = socket.recv(&mut buf) else {
                    break;
                };
                answers += 1;
                if rcode_of(&buf[..n]) == Rcode::Refused {
                    refused += 1;
                }
            }
        }
    }
    let log = server.log_contents();
    let written = log.len() as u64 - before.min(log.len() as u64);
    println!(
        "{answers} answers ({refused} REFUSED) to 20000 unsigned UPDATEs in {:?}; {written} octets of log:\n{log}",
        started.elapsed()
    );
    assert!(refused > 15_000, "the server answered {refused} of 20000");
    assert_eq!(refused, answers, "every answer is REFUSED");
    assert!(written < 64 * 1024, "{written} octets of log lines");
    let lines = log.matches("unsigned UPDATE from").count();
    assert!((1..=3).contains(&lines), "{lines} lines for the flood");
}

/// With fewer descriptors than TCP slots (the limit lowered under a running
/// server with `prlimit`, package util-linux), 300 idle connections cannot
/// lock out a new query: when `accept` fails with EMFILE, the connection
/// idle the longest is closed and the new one accepted (issue 11).
#[test]
fn out_of_descriptors_a_new_tcp_query_is_still_answered() {
    let server = TestServer::start(ZONE, "example.test", &[]);
    let pid = server.pid().to_string();
    let limit = common::run_tool("prlimit", &["--pid", &pid, "--nofile=128:128"]);
    assert!(limit.status.success(), "prlimit --nofile=128:128 failed");
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(server.addr()).expect("an idle TCP connection"));
    }
    let answer = net::tcp_exchange(server.addr(), &query(0x7cc, "www.example.test", Rtype::A));
    assert_eq!(rcode_of(&answer), Rcode::NoError);
    assert_eq!(Message::parse(&answer).unwrap().header().id, 0x7cc);
    // The oldest idle ones were closed to make room.
    let mut closed = 0;
    for stream in &mut idle {
        if closed_within(stream, Duration::from_millis(1)).is_some() {
            closed += 1;
        }
    }
    println!("{closed} of 300 idle connections closed to stay under 128 descriptors");
    assert!(closed > 0, "no idle connection was closed");
}

/// A TCP connection from `source` (any 127/8 address works on Linux).
fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("a TCP socket");
    let source: SocketAddr = format!("{source}:0").parse().expect("an address");
    socket
        .bind(&source.into())
        .expect("binding the client's source");
    socket.connect(&server.into()).expect("connecting");
    socket.into()
}

/// One /24 cannot take every TCP slot: at `--tcp-max-per-prefix`, a new
/// connection from the prefix replaces that prefix's oldest, and the
/// connections of other prefixes stay (issue 11).
#[test]
fn one_prefix_gets_at_most_its_share_of_tcp_connections() {
    let server = TestServer::start(ZONE, "example.test", &["--tcp-max-per-prefix", "2"]);
    let mut first = connect_from("127.0.1.1", server.addr());
    thread_pause();
    let mut other = connect_from("127.0.2.1", server.addr());
    thread_pause();
    let mut second = connect_from("127.0.1.2", server.addr());
    thread_pause();
    let mut third = connect_from("127.0.1.3", server.addr());
    // The prefix's oldest makes room; the other prefix and the newer two stay.
    assert!(
        closed_within(&mut first, LIVENESS_BOUND).is_some(),
        "the oldest of 127.0.1.0/24 is still open"
    );
    for (what, stream) in [
        ("127.0.2.1", &mut other),
        ("127.0.1.2", &mut second),
        ("127.0.1.3", &mut third),
    ] {
        assert!(
            closed_within(stream, Duration::from_millis(300)).is_none(),
            "{what} was closed"
        );
    }
    // And the newest answers.
    third
        .write_all(&frame(&query(0x24, "www.example.test", Rtype::A)))
        .expect("a query");
    let answer = read_frames(&mut third, 1);
    assert_eq!(rcode_of(&answer[0]), Rcode::NoError);
}

/// Lets the server accept the connection just made before the next.
fn thread_pause() {
    std::thread::sleep(Duration::from_millis(50));
}

/// A flood of queries for the largest RRset from one (forgeable) source:
/// octets answered per octet asked, and how the answers went out.
fn flood(server: &TestServer, count: u32) -> (f64, u32, u32) {
    let request = common::wire::Query::new(0x5151, "big.example.test", Rtype::Txt)
        .edns(1232, 0)
        .bytes();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    socket
        .connect(("127.0.0.1", server.port()))
        .expect("connecting the UDP socket");
    let (mut sent, mut received, mut full, mut truncated) = (0usize, 0usize, 0u32, 0u32);
    let mut buf = [0u8; 2048];
    for i in 0..count {
        sent += socket.send(&request).expect("sending a query");
        if i % 16 == 15 || i + 1 == count {
            let wait = if i + 1 == count { 300 } else { 5 };
            socket
                .set_read_timeout(Some(Duration::from_millis(wait)))
                .expect("a read timeout");
            while let Ok(n) = socket.recv(&mut buf) {
                received += n;
                let msg = Message::parse(&buf[..n]).expect("an answer parses");
                if msg.header().flags.tc() {
                    truncated += 1;
                } else {
                    full += 1;
                }
            }
        }
    }
    (received as f64 / sent as f64, full, truncated)
}

/// Response rate limiting (issue 11): a flood of spoofable queries for the
/// largest RRset gets `--rrl-rate` full answers a second, every
/// `--rrl-slip`-th of the rest a small truncated one, and the rest nothing;
/// the same flood over TCP, or without the limit, is answered in full.
#[test]
fn rate_limiting_cuts_what_a_flood_of_spoofable_queries_reflects() {
    let mut zone = ZONE.to_string();
    for i in 0..12 {
        zone.push_str(&format!(
            "big IN TXT \"{}\"\n",
            format!("{i:02}").repeat(40)
        ));
    }
    let open = TestServer::start(&zone, "example.test", &["--rrl-rate", "0"]);
    let (without, full_open, tc_open) = flood(&open, 1000);
    drop(open);
    let limited = TestServer::start(
        &zone,
        "example.test",
        &["--rrl-rate", "20", "--rrl-slip", "2"],
    );
    let started = Instant::now();
    let (with, full, truncated) = flood(&limited, 1000);
    let seconds = started.elapsed().as_secs() + 1;
    println!(
        "1000 queries: without RRL {without:.1} octets out per octet in ({full_open} full, {tc_open} TC); \
         with --rrl-rate 20 --rrl-slip 2 {with:.2} ({full} full, {truncated} TC, over {seconds} s)"
    );
    assert!(
        full_open >= 990 && tc_open == 0,
        "without RRL: {full_open} full, {tc_open} TC"
    );
    assert!(
        full <= 20 * seconds as u32 + 20,
        "{full} full answers in {seconds} s"
    );
    assert!(truncated >= 300, "{truncated} truncated answers");
    assert!(
        with < without / 4.0,
        "amplification {with:.2} vs {without:.2}"
    );
    // TCP is never limited: the same name, many times, all answered.
    let mut stream = TcpStream::connect(limited.addr()).expect("TCP");
    let request = query(0x5152, "big.example.test", Rtype::Txt);
    for _ in 0..50 {
        stream.write_all(&frame(&request)).expect("a TCP query");
    }
    let answers = read_frames(&mut stream, 50);
    assert!(answers.iter().all(|a| rcode_of(a) == Rcode::NoError));
}

/// The resident memory of process `pid` in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status")
}

/// Raises this process's soft descriptor limit to its hard one.
fn raise_own_descriptor_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
}

/// Large TCP buffers come from a fixed pool (issue 11): 1,000 connections
/// each holding a 64 KiB frame (all of it but the last octet) cost the
/// server a bounded amount of memory, not 1,000 × 64 KiB, while a new query
/// is answered at once; and the memory of an idle server is reported.
#[test]
fn a_thousand_connections_holding_64_kib_frames_take_bounded_memory() {
    raise_own_descriptor_limit();
    let server = TestServer::start(
        ZONE,
        "example.test",
        &[
            "--tcp-max-connections",
            "1100",
            "--tcp-max-per-prefix",
            "1100",
            "--tcp-idle-timeout",
            "120",
        ],
    );
    let pid = server.pid();
    // One query over each transport first, so that idle means warmed up.
    let answer = net::tcp_exchange(server.addr(), &query(0x1d1e, "www.example.test", Rtype::A));
    assert_eq!(rcode_of(&answer), Rcode::NoError);
    std::thread::sleep(Duration::from_millis(200));
    let idle = rss_kib(pid);
    let mut frame = vec![0xffu8, 0xff];
    frame.resize(2 + 65_535 - 1, 0);
    let mut held = Vec::new();
    let started = Instant::now();
    for i in 0..1000 {
        let mut stream =
            TcpStream::connect(server.addr()).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .expect("a write timeout");
        stream
            .write_all(&frame)
            .unwrap_or_else(|e| panic!("a 64 KiB frame on connection {i}: {e}"));
        held.push(stream);
    }
    println!("1000 frames sent in {:?}", started.elapsed());
    // The most the server holds resident while they wait.
    let mut under = 0;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        under = under.max(rss_kib(pid));
    }
    let answer = net::tcp_exchange(server.addr(), &query(0x1d1f, "www.example.test", Rtype::A));
    assert_eq!(rcode_of(&answer), Rcode::NoError, "a new query is answered");
    let mut open = 0;
    for stream in &mut held {
        if closed_within(stream, Duration::from_millis(1)).is_none() {
            open += 1;
        }
    }
    println!(
        "RSS idle {idle} KiB; under 1000 connections each holding a 64 KiB frame {under} KiB \
         (+{} KiB; 1000 x 64 KiB would be 64000 KiB); {open} of them still open",
        under.saturating_sub(idle)
    );
    assert_eq!(
        open, 1000,
        "every connection is kept (none is over a limit)"
    );
    assert!(
        under.saturating_sub(idle) < 16 * 1024,
        "{under} KiB resident under 1000 large frames, {idle} KiB idle"
    );
}

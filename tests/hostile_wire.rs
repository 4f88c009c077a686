//! Input built by an attacker to make one message cost as much as possible,
//! and a TCP peer that holds a connection slot without ever asking anything
//! (issue 9): every such input must be refused after a bounded amount of work.
//!
//! - compression pointer chains: at most 16 pointers per name (BIND's
//!   `DNS_POINTER_MAXHOPS`), a 17th is FORMERR, in the parser, the handler and
//!   the running binary over UDP and TCP; the builder never writes more;
//! - TCP frames that cannot be a request (0 to 11 octets, or QR set) close the
//!   connection;
//! - a referral looks up glue for a bounded number of name servers and stops
//!   when the additional section is full.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use common::TestServer;
use common::net::{self, tcp_exchange};
use common::wire::{frame, rcode_of};
use common::zone::{a, aaaa, name, ns, soa};
use dynzone::store::Store;
use dynzone::wire::{
    Class, HEADER_LEN, MAX_MESSAGE, Message, MessageBuilder, NameBuf, ParseError, RData, Rcode,
    Rtype, Section, parse_frame,
};

/// BIND's `DNS_POINTER_MAXHOPS`: the most pointers one name may use.
const MAX_HOPS: usize = 16;
/// Largest offset a compression pointer holds (RFC 1035 §4.1.4: 14 bits).
const MAX_POINTER: usize = 0x3fff;

// --- messages ----------------------------------------------------------------

/// A header with ID 0x4242, RD, and the given counts.
fn header(counts: [u16; 4]) -> Vec<u8> {
    let mut m = vec![0x42, 0x42, 0x01, 0x00];
    for c in counts {
        m.extend_from_slice(&c.to_be_bytes());
    }
    m
}

fn set_count(m: &mut [u8], section: usize, count: usize) {
    let at = 4 + 2 * section;
    m[at..at + 2].copy_from_slice(&u16::try_from(count).unwrap().to_be_bytes());
}

fn pointer(offset: usize) -> [u8; 2] {
    assert!(offset <= MAX_POINTER);
    (0xc000 | offset as u16).to_be_bytes()
}

/// `questions` questions: the first `a.`, each next one's name a bare pointer
/// to the previous one's, so question `i` (from 0) uses `i` pointer hops.
fn chained_questions(questions: usize) -> Vec<u8> {
    let mut m = header([0; 4]);
    m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
    let mut previous = HEADER_LEN;
    for _ in 1..questions {
        let here = m.len();
        m.extend_from_slice(&pointer(previous));
        m.extend_from_slice(&[0, 1, 0, 1]);
        previous = here;
    }
    set_count(&mut m, 0, questions);
    m
}

/// A query for `qname` A, then `records` A records in the additional section
/// whose owners each point at the previous owner (the first at the question):
/// record `i` (from 1) uses `i` hops, as long as 14-bit offsets reach; once
/// they do not, every further owner points at the deepest one reachable. With
/// enough records this is the "thousands of records whose owners each point
/// to the previous one" message of issue 9.
fn chained_owners(qname: &str, records: usize) -> Vec<u8> {
    let mut m = header([1, 0, 0, 0]);
    m.extend_from_slice(name(qname).as_wire());
    m.extend_from_slice(&[0, 1, 0, 1]);
    let mut previous = HEADER_LEN;
    for i in 0..records {
        let here = m.len();
        m.extend_from_slice(&pointer(previous));
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2]);
        m.push(i as u8);
        if here <= MAX_POINTER {
            previous = here;
        }
    }
    set_count(&mut m, 3, records);
    m
}

/// As many chained records as fit in one 65535-octet message.
fn chained_owners_64k(qname: &str) -> Vec<u8> {
    let question = 12 + name(qname).as_wire().len() + 4;
    let m = chained_owners(qname, (MAX_MESSAGE - question) / 16);
    assert!(m.len() > 65_000, "{} octets", m.len());
    m
}

fn parse_err(bytes: &[u8]) -> ParseError {
    let e = Message::parse(bytes).expect_err("must be rejected");
    assert_eq!(e.rcode(), Some(Rcode::FormErr), "{e:?} answers FORMERR");
    e
}

// --- the parser --------------------------------------------------------------

#[test]
fn a_question_name_with_16_pointer_hops_parses_and_17_is_formerr() {
    let ok = chained_questions(MAX_HOPS + 1);
    let msg = Message::parse(&ok).expect("16 hops are allowed");
    let last = msg.questions().last().expect("questions");
    assert_eq!(last.name.to_string(), "a.");
    assert_eq!(last.name.labels().count(), 1);

    let bad = chained_questions(MAX_HOPS + 2);
    assert_eq!(parse_err(&bad), ParseError::TooManyPointers);
    assert!(!ParseError::TooManyPointers.to_string().is_empty());
}

#[test]
fn record_owners_with_16_hops_parse_and_17_is_formerr() {
    let ok = chained_owners("www.example.test", MAX_HOPS);
    let msg = Message::parse(&ok).expect("16 hops are allowed");
    for r in msg.additional() {
        assert_eq!(r.owner.to_string(), "www.example.test.");
        assert_eq!(r.owner.labels().count(), 3);
    }
    let bad = chained_owners("www.example.test", MAX_HOPS + 1);
    assert_eq!(parse_err(&bad), ParseError::TooManyPointers);
}

/// Before the limit this message parsed, following about a million pointers
/// per pass (records 1000 to 4000 each 1000 hops deep). Now the 17th record
/// ends it. No time is asserted; the error says where it stopped.
#[test]
fn a_64k_message_of_chained_owners_is_rejected() {
    let m = chained_owners_64k("www.example.test");
    assert_eq!(parse_err(&m), ParseError::TooManyPointers);
}

/// Before the limit, a chain of more than 128 pointers parsed, and walking
/// its labels stopped after 128 pointers: the name came out as the root. A
/// builder echoing it wrote an empty label in the middle of the name.
#[test]
fn a_name_is_never_cut_short() {
    for hops in [MAX_HOPS, MAX_HOPS + 1, 129, 200] {
        let m = chained_questions(hops + 1);
        match Message::parse(&m) {
            Ok(msg) => {
                for q in msg.questions() {
                    assert_eq!(q.name.labels().count(), q.name.label_count());
                    assert_eq!(q.name.to_string(), "a.", "{hops} hops");
                }
                let mut buf = vec![0u8; MAX_MESSAGE];
                let b = MessageBuilder::copy_of(&mut buf, &msg).expect("copy");
                let copy = Message::parse(b.finish_bytes()).expect("the copy parses");
                assert_eq!(copy, msg, "{hops} hops");
            }
            Err(e) => {
                assert!(hops > MAX_HOPS, "{hops} hops rejected: {e}");
                assert_eq!(e, ParseError::TooManyPointers);
            }
        }
    }
}

/// The fuzz seeds of this limit say in their names what they are: a file
/// ending `_16_hops.bin` parses, one ending `_17_hops.bin` is refused.
#[test]
fn the_pointer_chain_fuzz_seeds_are_what_their_names_say() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_message");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        if file.ends_with("_16_hops.bin") {
            let msg = Message::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
            for q in msg.questions() {
                assert_eq!(q.name.labels().count(), q.name.label_count(), "{file}");
            }
            seen += 1;
        } else if file.ends_with("_17_hops.bin") {
            assert_eq!(parse_err(&bytes), ParseError::TooManyPointers, "{file}");
            seen += 1;
        }
    }
    assert!(seen >= 6, "{seen} seeds found in {}", dir.display());
}

// --- the builder -------------------------------------------------------------

/// Names that each extend the previous one by a label (`n1.x.test`,
/// `n2.n1.x.test`, ...) compress best as a pointer to the previous name: a
/// chain as long as the names. The builder must stop compressing before the
/// chain passes 16 pointers, or the message it writes is one that BIND and
/// this crate's parser reject.
#[test]
fn the_builder_never_writes_more_than_16_pointers_in_a_name() {
    let mut text = String::from("x.test.");
    let mut names = Vec::new();
    for i in 0..60 {
        text = format!("n{i}.{text}");
        names.push(NameBuf::from_text(&text).unwrap());
    }
    let apex = NameBuf::from_text("x.test.").unwrap();
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut b = MessageBuilder::new(&mut buf, MAX_MESSAGE).unwrap();
    b.question(apex.as_name(), Rtype::Ns, Class::In).unwrap();
    for n in &names {
        let data = RData::Ns(n.as_name());
        b.record(
            Section::Answer,
            apex.as_name(),
            Rtype::Ns,
            Class::In,
            60,
            &data,
        )
        .unwrap();
    }
    for n in &names {
        let data = RData::A(Ipv4Addr::new(192, 0, 2, 1));
        b.record(
            Section::Additional,
            n.as_name(),
            Rtype::A,
            Class::In,
            60,
            &data,
        )
        .unwrap();
    }
    let msg = Message::parse(b.finish_bytes()).expect("the builder's output parses");
    let targets: Vec<String> = msg
        .answers()
        .map(|r| match r.data {
            RData::Ns(n) => n.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<String> = names.iter().map(NameBuf::to_string).collect();
    assert_eq!(targets, expected);
    let owners: Vec<String> = msg.additional().map(|r| r.owner.to_string()).collect();
    assert_eq!(owners, expected);
}

// --- the running binary --------------------------------------------------------

const ZONE: &str = r#"$ORIGIN example.test.
$TTL 300
@       3600 IN SOA ns1 hostmaster 2026112601 3600 900 1209600 300
@       3600 IN NS  ns1
ns1          IN A   192.0.2.1
www          IN A   192.0.2.10
"#;

/// A server whose idle timeout (30 s) is far beyond any wait below: a close
/// seen within seconds is the server's decision about what was sent.
fn start() -> TestServer {
    TestServer::start(ZONE, "example.test", &["--tcp-idle-timeout", "30"])
}

fn query(id: u16, qname: &str) -> Vec<u8> {
    common::wire::query(id, qname, Rtype::A)
}

/// Sends `request` over UDP, again after each second without a reply, up to
/// five times; fails the test when none comes.
fn udp_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    net::udp_exchange(addr, request).expect("no UDP reply")
}

#[test]
fn pointer_chains_get_formerr_from_the_server_over_udp_and_tcp() {
    let server = start();
    let addr = server.addr();
    let good = chained_owners("www.example.test", MAX_HOPS);
    assert_eq!(rcode_of(&udp_exchange(addr, &good)), Rcode::NoError);

    let bad = chained_owners("www.example.test", MAX_HOPS + 1);
    let reply = udp_exchange(addr, &bad);
    assert_eq!(rcode_of(&reply), Rcode::FormErr, "17 hops over UDP");
    assert_eq!(&reply[..2], &bad[..2], "ID echoed");

    let big = chained_owners_64k("www.example.test");
    let reply = tcp_exchange(addr, &big);
    assert_eq!(rcode_of(&reply), Rcode::FormErr, "64 KiB chain over TCP");
    assert_eq!(&reply[..2], &big[..2], "ID echoed");

    assert_eq!(
        rcode_of(&tcp_exchange(addr, &query(7, "www.example.test"))),
        Rcode::NoError
    );
}

/// Whether the server closes `stream` within `limit` (EOF or a reset).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    net::closed_within(stream, limit).is_some()
}

/// BIND closes a TCP connection on a frame that cannot hold a request: one
/// shorter than a header, or a response (QR set). Without that, `00 00`
/// sent every few seconds keeps a connection slot forever.
#[test]
fn tcp_frames_that_cannot_be_requests_close_the_connection() {
    let server = start();
    let addr = server.addr();
    let mut response = query(9, "www.example.test");
    response[2] |= 0x80;
    let cases = [
        ("a zero length", vec![0, 0]),
        ("a 5-octet frame", frame(&[1, 2, 3, 4, 5])),
        ("an 11-octet frame", frame(&[0; 11])),
        (
            "a 12-octet frame with QR set",
            frame(&[0x42, 0x42, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ),
        ("a whole response", frame(&response)),
    ];
    for (what, bytes) in &cases {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(bytes).unwrap();
        assert!(
            closed_within(&mut stream, Duration::from_secs(5)),
            "{what}: the connection stays open"
        );
    }
    // A query answered before the bad frame is still sent, then the close.
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut both = frame(&query(10, "www.example.test"));
    both.extend_from_slice(&[0, 0]);
    stream.write_all(&both).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    let dynzone::wire::Frame::Complete { message, consumed } = parse_frame(&got) else {
        panic!("the query before the bad frame was not answered: {got:?}");
    };
    assert_eq!(rcode_of(message), Rcode::NoError);
    assert_eq!(consumed, got.len(), "nothing after the answer");
    // A fresh connection is served as always.
    let reply = tcp_exchange(addr, &query(11, "www.example.test"));
    assert_eq!(rcode_of(&reply), Rcode::NoError);
    assert_eq!(&reply[..2], &[0, 11]);
}

// --- referral glue -------------------------------------------------------------

/// `example.test` delegating `sub.example.test` to `servers` name servers
/// `nsNN.sub.example.test`, each with glue A and AAAA. The count stays below
/// BIND's default `max-records-per-type` (100), which an import may enforce.
fn delegation(servers: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 64 << 20).unwrap();
    let z = "example.test";
    let mut records = vec![soa(z, 1), ns(z, "ns1.example.test")];
    records.push(a("ns1.example.test", [192, 0, 2, 1]));
    for i in 0..servers {
        let target = format!("ns{i:02}.sub.example.test");
        records.push(ns("sub.example.test", &target));
        records.push(a(&target, [192, 0, 2, i as u8]));
        records.push(aaaa(&target, &format!("2001:db8::{i:x}")));
    }
    store.replace_zone(name(z).as_name(), &records).unwrap();
    (dir, store)
}

/// The referral for `www.sub.example.test A` written with a size limit of
/// `limit`: its header, the NS targets of the authority section, and the
/// (owner, type) of each additional record.
fn referral(store: &Store, limit: usize) -> (bool, Vec<String>, Vec<(String, Rtype)>) {
    let reader = store.reader().unwrap();
    let qname = name("www.sub.example.test");
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut b = MessageBuilder::new(&mut buf, limit).unwrap();
    b.question(qname.as_name(), Rtype::A, Class::In).unwrap();
    dynzone::query::answer(&reader, qname.as_name(), Rtype::A, Class::In, &mut b).unwrap();
    let msg = Message::parse(b.finish_bytes()).expect("the referral parses");
    let targets = msg
        .authority()
        .map(|r| match r.data {
            RData::Ns(n) => n.to_string(),
            other => panic!("{other:?} in authority"),
        })
        .collect();
    let glue = msg
        .additional()
        .map(|r| (r.owner.to_string(), r.rtype))
        .collect();
    (msg.header().flags.tc(), targets, glue)
}

/// How many NS targets of one referral get their glue looked up: BIND's
/// additional-section limit per RRset (CVE-2024-11187).
const GLUE_TARGETS: usize = 13;

#[test]
fn a_referral_with_many_name_servers_looks_up_glue_for_at_most_13() {
    let (_dir, store) = delegation(90);
    let (tc, targets, glue) = referral(&store, MAX_MESSAGE);
    assert!(!tc);
    assert_eq!(
        targets.len(),
        90,
        "every NS record is in the authority section"
    );
    let looked_up: Vec<(String, Rtype)> = targets
        .iter()
        .take(GLUE_TARGETS)
        .flat_map(|t| [(t.clone(), Rtype::A), (t.clone(), Rtype::Aaaa)])
        .collect();
    assert_eq!(
        glue, looked_up,
        "glue of the first {GLUE_TARGETS} name servers, A then AAAA, and no more"
    );
}

/// Once one glue record does not fit, no later one is looked up or written:
/// the additional section is always a prefix of the full glue list, whatever
/// the size limit. (Before, an AAAA that did not fit was followed by the A of
/// the next server that did.)
#[test]
fn glue_stops_at_the_first_record_that_does_not_fit() {
    let (_dir, store) = delegation(GLUE_TARGETS);
    let (_, _, full) = referral(&store, MAX_MESSAGE);
    assert_eq!(full.len(), 2 * GLUE_TARGETS);
    for limit in 300..1200 {
        let (tc, targets, glue) = referral(&store, limit);
        if targets.is_empty() {
            continue; // the NS RRset itself did not fit
        }
        assert!(
            full.starts_with(&glue),
            "limit {limit}: glue {glue:?} is not a prefix of {full:?}"
        );
        assert_eq!(
            tc,
            glue.len() < full.len(),
            "limit {limit}: TC iff glue missing"
        );
    }
}

//! Wire-format hot paths, one message per iteration:
//!
//! - `parse_query`: a dig A query with EDNS and a COOKIE option, parsed, its
//!   question and EDNS read (what every UDP query costs before the lookup).
//! - `parse_update_tsig`: an nsupdate UPDATE of seven changes signed with TSIG,
//!   parsed, every record walked and the TSIG fields and signed parts read.
//! - `build_answer`: a referral-shaped answer built into a stack buffer: the
//!   question copied, 2 A answers, 2 NS in authority, 2 glue A, OPT.
//! - `parse_64k_<shape>`: `Message::parse` alone (what every received message
//!   costs before anything is decided) of 64 KiB messages of six shapes:
//!   - `typical`: a full-size answer of ordinary records (A, AAAA, MX, TXT
//!     of hundreds of hosts) compressed as this builder does;
//!   - `chain16`: the costliest message under the 16-hop rule without the
//!     memo (see [`pointer_chain`]): 10,878 questions of 6 octets whose names
//!     each follow 16 pointers to 127 labels; `parse_64k_unremembered_chain16`
//!     parses it with the memo off, as before;
//!   - `fresh_labels`: names of 127 one-octet labels, nothing to remember;
//!   - `hidden_names`: names hidden inside 63-octet labels, each reached by
//!     a pointer once before it is remembered (see [`hidden_names`]);
//!   - `empty_records`: the most records a message holds (11 octets each);
//!   - `rdata_names`: 14-octet NS records, two compressed names each.
//! - `parse_walk_64k_<shape>`: the same, then every question and record
//!   visited through the section iterators and every owner's labels read. The
//!   iterators take the names the parse remembered (while no other parse has
//!   begun on the thread), but reading every label is bounded by the
//!   decompressed size (127 labels behind a 2-octet pointer), so `chain16`
//!   costs here what its 1.4 million labels cost.
//! - `parse_64k_unbounded_chain`: the costliest message with no hop limit
//!   (the question names form one chain of backward pointers as long as 14-bit
//!   offsets allow). Rejected after 16 hops now; before the limit it parsed,
//!   following some 26 million pointers.
//!
//! Run: `cargo bench --bench wire -- --warm-up-time 1 --measurement-time 3`.
//! The time per iteration is the time per message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, criterion_group};
#[path = "../tests/common/wire.rs"]
mod test_wire;
use dynzone::wire::{
    BuildError, Class, HEADER_LEN, MAX_LABELS, MAX_MESSAGE, Message, MessageBuilder, Name, NameBuf,
    RData, Rtype, Section, Txt, UDP_LIMIT,
};

/// Hex with spaces and `#` comments allowed, decoded once before measuring
/// (the decoder of the integration tests).
fn hex(text: &str) -> Vec<u8> {
    test_wire::unhex(text)
}

/// `dig example.com A`: RD AD, EDNS 1232 with a client COOKIE.
const QUERY: &str = "
    1234 0120 0001 0000 0000 0001
    07 6578616d706c65 03 636f6d 00 0001 0001
    00 0029 04d0 00000000 000c 000a 0008 0123456789abcdef
";

/// nsupdate: zone example.com, one prerequisite, seven updates, TSIG
/// hmac-sha256 (the same message as the fuzz seed `update_tsig`).
const UPDATE: &str = "
    5a5a 2800 0001 0001 0007 0001
    07 6578616d706c65 03 636f6d 00 0006 0001
    04 686f7374 c00c 00ff 00fe 00000000 0000
    c01d 0001 00ff 00000000 0000
    c01d 0001 0001 0000012c 0004 c000020a
    c01d 0010 0001 0000012c 000c 0b 68656c6c6f20776f726c64
    c01d 001c 0001 0000012c 0010 20010db8000000000000000000000001
    c01d 000f 00fe 00000000 0007 000a 02 6d78 c00c
    04 5f736970 04 5f746370 c00c 0021 0001 0000012c 0017
      000a 0005 13c4 03 736970 07 6578616d706c65 03 636f6d 00
    c00c 0101 0001 0000012c 0016
      00 05 6973737565 6c657473656e63727970742e6f7267
    0a 7570646174652d6b6579 00 00fa 00ff 00000000 003d
      0b 686d61632d736861323536 00 0000 6553f100 012c
      0020 8f3c1d2e4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
      5a5a 0000 0000
";

fn parse_query(c: &mut Criterion) {
    let bytes = hex(QUERY);
    Message::parse(&bytes).expect("query parses");
    c.bench_function("parse_query", |b| {
        b.iter(|| {
            let msg = Message::parse(black_box(&bytes)).expect("query parses");
            let q = msg.question().expect("one question");
            black_box((q.name, q.qtype, q.qclass));
            let edns = msg.edns().expect("EDNS");
            black_box((edns.udp_payload, edns.version, edns.dnssec_ok()));
            let cookie = edns.options.options().find(|&(code, _)| code == 10);
            black_box(cookie);
        })
    });
}

fn parse_update_tsig(c: &mut Criterion) {
    let bytes = hex(UPDATE);
    let msg = Message::parse(&bytes).expect("update parses");
    assert!(msg.tsig().is_some());
    c.bench_function("parse_update_tsig", |b| {
        b.iter(|| {
            let msg = Message::parse(black_box(&bytes)).expect("update parses");
            black_box(msg.zone().next());
            for section in [Section::Answer, Section::Authority, Section::Additional] {
                for rec in msg.records(section) {
                    black_box((rec.owner, rec.rtype, rec.class, rec.ttl, rec.data));
                }
            }
            let tsig = msg.tsig().expect("TSIG");
            let t = tsig.data;
            black_box((tsig.key_name, t.algorithm, t.time_signed, t.fudge, t.mac));
            black_box((t.original_id, t.error, t.other));
            black_box(msg.tsig_signed_parts());
        })
    });
}

/// What the answer is made of: the query and the zone's data, ready before
/// the clock starts.
struct Referral<'a> {
    query: Message<'a>,
    zone: Name<'a>,
    answers: [Ipv4Addr; 2],
    glue: [(Name<'a>, Ipv4Addr); 2],
}

/// Builds the answer into `buf`; returns its length.
fn build(buf: &mut [u8], r: &Referral<'_>) -> usize {
    let q = r.query.question().expect("one question");
    let header = r.query.header();
    let mut m = MessageBuilder::new(buf, UDP_LIMIT).expect("room for a header");
    m.set_id(header.id);
    let flags = m.flags_mut();
    flags.set_qr(true);
    flags.set_aa(true);
    flags.set_rd(header.flags.rd());
    m.question(q.name, q.qtype, q.qclass).expect("question");
    for ip in r.answers {
        let data = RData::A(ip);
        m.record(Section::Answer, q.name, Rtype::A, Class::In, 3600, &data)
            .expect("answer");
    }
    for (ns, _) in r.glue {
        let data = RData::Ns(ns);
        m.record(
            Section::Authority,
            r.zone,
            Rtype::Ns,
            Class::In,
            86400,
            &data,
        )
        .expect("authority");
    }
    for (owner, ip) in r.glue {
        let data = RData::A(ip);
        m.record(
            Section::Additional,
            owner,
            Rtype::A,
            Class::In,
            86400,
            &data,
        )
        .expect("glue");
    }
    m.opt(1232, 0, 0, 0, &[]).expect("OPT");
    m.finish()
}

fn build_answer(c: &mut Criterion) {
    let query_bytes = hex(QUERY);
    let zone = NameBuf::from_text("example.com.").expect("name");
    let ns1 = NameBuf::from_text("ns1.example.com.").expect("name");
    let ns2 = NameBuf::from_text("ns2.example.com.").expect("name");
    let referral = Referral {
        query: Message::parse(&query_bytes).expect("query parses"),
        zone: zone.as_name(),
        answers: [
            Ipv4Addr::new(93, 184, 216, 34),
            Ipv4Addr::new(93, 184, 216, 35),
        ],
        glue: [
            (ns1.as_name(), Ipv4Addr::new(192, 0, 2, 1)),
            (ns2.as_name(), Ipv4Addr::new(192, 0, 2, 2)),
        ],
    };

    let mut buf = [0u8; UDP_LIMIT];
    let len = build(&mut buf, &referral);
    let built = Message::parse(&buf[..len]).expect("answer parses");
    assert_eq!(built.header().counts, [1, 2, 2, 3]);
    assert!(built.edns().is_some());

    c.bench_function("build_answer", |b| {
        b.iter(|| {
            let mut buf = [0u8; UDP_LIMIT];
            let len = build(&mut buf, black_box(&referral));
            black_box(&buf);
            black_box(len)
        })
    });
}

/// Largest offset a compression pointer can hold (RFC 1035 §4.1.4: 14 bits).
const MAX_POINTER: usize = 0x3fff;

/// A message of as many questions as fit in 65535 octets, built to make name
/// decoding as costly per octet as possible:
///
/// - the first question's name is `base_labels` one-octet labels (127 is the
///   most a name can have: 2 octets each, 255 with the root);
/// - each next question's name is a bare pointer to the previous question's
///   name, until the chain is `hops - 1` pointers long (or 14-bit offsets run
///   out);
/// - every question after that is a 6-octet pointer to the end of the chain,
///   so each costs `hops` pointer hops and `base_labels` labels to decode.
///
/// Questions, not records: 6 octets per name is the least any name costs
/// (a record with a pointer owner and a pointer in its RDATA is 14 octets for
/// two names). The header's QDCOUNT holds them all (at most 10,919).
fn pointer_chain(base_labels: usize, hops: usize) -> Vec<u8> {
    let mut m = vec![0u8; HEADER_LEN];
    m[0..2].copy_from_slice(&0x4242u16.to_be_bytes());
    let mut count = 0u16;
    let question_tail = [0, 1, 0, 1];
    let mut deepest = m.len();
    for _ in 0..base_labels {
        m.extend_from_slice(&[1, b'a']);
    }
    m.push(0);
    m.extend_from_slice(&question_tail);
    count += 1;
    let mut chain = 0;
    while m.len() + 6 <= MAX_MESSAGE {
        let here = m.len();
        m.extend_from_slice(&(0xc000 | deepest as u16).to_be_bytes());
        m.extend_from_slice(&question_tail);
        count += 1;
        // The deepest name so far takes `chain` hops; one pointing at it, one more.
        if chain + 1 < hops && here <= MAX_POINTER {
            chain += 1;
            deepest = here;
        }
    }
    m[4..6].copy_from_slice(&count.to_be_bytes());
    m
}

/// A 64 KiB answer of ordinary data, as this crate's builder writes one: the
/// question `www.example.com A`, then for host0, host1, ... of example.com an
/// A, an AAAA, an MX and a TXT record, until the next record does not fit.
fn typical_64k() -> Vec<u8> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let qname = NameBuf::from_text("www.example.com.").expect("name");
    let mail = NameBuf::from_text("mail.example.com.").expect("name");
    let txt = b"\x0ev=spf1 mx -all";
    let txt = Txt::new(txt).expect("TXT");
    let mut b = MessageBuilder::new(&mut buf, MAX_MESSAGE).expect("room for a header");
    b.set_id(0x4242);
    b.flags_mut().set_qr(true);
    b.flags_mut().set_aa(true);
    b.question(qname.as_name(), Rtype::A, Class::In)
        .expect("question");
    'fill: for i in 0u32.. {
        let owner = NameBuf::from_text(&format!("host{i}.example.com.")).expect("name");
        let owner = owner.as_name();
        let [_, _, hi, lo] = i.to_be_bytes();
        let records = [
            (Rtype::A, RData::A(Ipv4Addr::new(192, 0, hi, lo))),
            (
                Rtype::Aaaa,
                RData::Aaaa(std::net::Ipv6Addr::new(
                    0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16,
                )),
            ),
            (
                Rtype::Mx,
                RData::Mx {
                    preference: 10,
                    exchange: mail.as_name(),
                },
            ),
            (Rtype::Txt, RData::Txt(txt)),
        ];
        for (rtype, data) in records {
            match b.record(Section::Answer, owner, rtype, Class::In, 3600, &data) {
                Ok(()) => {}
                Err(BuildError::Truncated) => break 'fill,
                Err(e) => panic!("building the typical message: {e}"),
            }
        }
    }
    let len = b.finish();
    buf.truncate(len);
    // Without TC: the records that fit make a complete message of their own.
    buf[2] &= !0x02;
    buf
}

/// What a handler reading a whole message does: every question and record
/// visited through the section iterators (each parsed again), every owner's
/// labels read. Returns the labels seen, so nothing is optimised away.
fn walk(msg: &Message<'_>) -> usize {
    let mut labels = 0;
    for q in msg.questions() {
        labels += q.name.labels().count();
        black_box((q.qtype, q.qclass));
    }
    for section in Section::RECORDS {
        for r in msg.records(section) {
            labels += r.owner.labels().count();
            black_box((r.rtype, r.class, r.ttl, r.data));
        }
    }
    labels
}

/// Parses and walks `bytes`; a rejected message costs what finding the error did.
fn parse_and_walk(bytes: &[u8]) -> usize {
    match Message::parse(black_box(bytes)) {
        Ok(msg) => walk(&msg),
        Err(e) => {
            black_box(e);
            0
        }
    }
}

/// A message of questions whose names are 127 one-octet labels each, no
/// pointers: every octet of every name is new, so nothing can be remembered.
fn fresh_labels() -> Vec<u8> {
    let mut m = vec![0u8; HEADER_LEN];
    let mut count = 0u16;
    while m.len() + 2 * MAX_LABELS + 1 + 4 <= MAX_MESSAGE {
        for _ in 0..MAX_LABELS {
            m.extend_from_slice(&[1, b'a']);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        count += 1;
    }
    m[4..6].copy_from_slice(&count.to_be_bytes());
    m
}

/// Names hidden inside labels: below the 14-bit limit, questions whose name is
/// one 63-octet label made of 31 labels `\x01a` and a root, so each of its odd
/// octets starts a name no earlier walk stepped on; then 6-octet questions
/// pointing at those hidden names one after another, round robin.
fn hidden_names() -> Vec<u8> {
    let mut m = vec![0u8; HEADER_LEN];
    let mut count = 0u16;
    let mut hidden = Vec::new();
    while m.len() + 69 <= MAX_POINTER {
        m.push(63);
        let content = m.len();
        for k in 0..31 {
            hidden.push(content + 2 * k);
            m.extend_from_slice(&[1, b'a']);
        }
        m.push(0);
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        count += 1;
    }
    for target in hidden.iter().cycle() {
        if m.len() + 6 > MAX_MESSAGE {
            break;
        }
        m.extend_from_slice(&(0xc000 | *target as u16).to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 1]);
        count += 1;
    }
    m[4..6].copy_from_slice(&count.to_be_bytes());
    m
}

/// The most records a message holds: 11 octets each (root owner, a private
/// type, no RDATA), 5,956 of them.
fn empty_records() -> Vec<u8> {
    let mut m = vec![0u8; HEADER_LEN];
    let mut count = 0u16;
    while m.len() + 11 <= MAX_MESSAGE {
        m.extend_from_slice(&[0, 0xff, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        count += 1;
    }
    m[6..8].copy_from_slice(&count.to_be_bytes());
    m
}

/// Names in RDATA as well as owners: after a question `example.com NS`,
/// 14-octet NS records whose owner and target are pointers, 4,680 of them.
fn rdata_names() -> Vec<u8> {
    let mut m = vec![0u8; HEADER_LEN];
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x02\x00\x01");
    let mut count = 0u16;
    while m.len() + 14 <= MAX_MESSAGE {
        m.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 0x0e, 0x10, 0, 2, 0xc0, 12]);
        count += 1;
    }
    m[4..6].copy_from_slice(&1u16.to_be_bytes());
    m[6..8].copy_from_slice(&count.to_be_bytes());
    m
}

/// The 64 KiB shapes, by name.
fn shapes() -> [(&'static str, Vec<u8>); 6] {
    [
        ("typical", typical_64k()),
        ("chain16", pointer_chain(MAX_LABELS, 16)),
        ("fresh_labels", fresh_labels()),
        ("hidden_names", hidden_names()),
        ("empty_records", empty_records()),
        ("rdata_names", rdata_names()),
    ]
}

fn parse_64k(c: &mut Criterion) {
    let shapes = shapes();
    let unbounded = pointer_chain(MAX_LABELS, usize::MAX);
    for (what, bytes) in &shapes {
        let msg = Message::parse(bytes).unwrap_or_else(|e| panic!("{what} parses: {e}"));
        let names = msg.header().count(Section::Question) as usize
            + Section::RECORDS
                .iter()
                .map(|&s| msg.header().count(s) as usize)
                .sum::<usize>();
        eprintln!(
            "{what}: {} octets, {names} questions and records, {} labels walked",
            bytes.len(),
            walk(&msg)
        );
    }
    eprintln!(
        "unbounded chain: {} octets, {}",
        unbounded.len(),
        match Message::parse(&unbounded) {
            Ok(_) => "parses".to_string(),
            Err(e) => format!("rejected: {e}"),
        }
    );
    for (what, bytes) in &shapes {
        c.bench_function(&format!("parse_64k_{what}"), |b| {
            b.iter(|| Message::parse(black_box(bytes)).map(|m| m.header()))
        });
    }
    for (what, bytes) in &shapes {
        c.bench_function(&format!("parse_walk_64k_{what}"), |b| {
            b.iter(|| parse_and_walk(bytes))
        });
    }
    c.bench_function("parse_64k_unremembered_chain16", |b| {
        b.iter(|| Message::parse_unremembered(black_box(&shapes[1].1)).map(|m| m.header()))
    });
    let mut group = c.benchmark_group("slow");
    group.sample_size(10);
    group.bench_function("parse_64k_unbounded_chain", |b| {
        b.iter(|| parse_and_walk(&unbounded))
    });
    group.finish();
}

criterion_group!(
    benches,
    parse_query,
    parse_update_tsig,
    build_answer,
    parse_64k
);

/// Visits every question and record through the section iterators, reading
/// what they decode but not following the names: what the iterators cost.
fn iterate(msg: &Message<'_>) -> usize {
    let mut octets = 0;
    for q in msg.questions() {
        octets += q.name.wire_len();
    }
    for section in Section::RECORDS {
        for r in msg.records(section) {
            octets += r.owner.wire_len();
            black_box((r.rtype, r.class, r.ttl, r.data));
        }
    }
    octets
}

/// `WIRE_PARSE_COUNT=<shape>:<n>[:unremembered|:iterate]` parses that 64 KiB
/// shape `n` times and exits, without criterion: `benches/parse_instructions.sh`
/// runs this under callgrind to count instructions per message, which unlike
/// time does not vary from run to run. With `iterate`, each parse is followed
/// by one pass of the section iterators ([`iterate`]).
fn main() {
    if let Ok(spec) = std::env::var("WIRE_PARSE_COUNT") {
        let mut parts = spec.split(':');
        let shape = parts.next().unwrap_or("");
        let n: u64 = parts
            .next()
            .and_then(|n| n.parse().ok())
            .expect("WIRE_PARSE_COUNT=<shape>:<n>");
        let mode = parts.next();
        let unremembered = mode == Some("unremembered");
        let iterated = mode == Some("iterate");
        let (_, bytes) = shapes()
            .into_iter()
            .find(|(name, _)| *name == shape)
            .unwrap_or_else(|| panic!("no shape {shape}"));
        for _ in 0..n {
            let parsed = if unremembered {
                Message::parse_unremembered(black_box(&bytes))
            } else {
                Message::parse(black_box(&bytes))
            };
            let msg = parsed.expect("the shape parses");
            if iterated {
                black_box(iterate(&msg));
            }
            black_box(msg.header());
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

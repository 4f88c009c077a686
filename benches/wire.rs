//! Wire-format hot paths, one message per iteration:
//!
//! - `parse_query`: a dig A query with EDNS and a COOKIE option, parsed, its
//!   question and EDNS read (what every UDP query costs before the lookup).
//! - `parse_update_tsig`: an nsupdate UPDATE of seven changes signed with TSIG,
//!   parsed, every record walked and the TSIG fields and signed parts read.
//! - `build_answer`: a referral-shaped answer built into a stack buffer: the
//!   question copied, 2 A answers, 2 NS in authority, 2 glue A, OPT.
//! - `parse_64k_typical`: a full-size (64 KiB) answer of ordinary records
//!   (A, AAAA, MX, TXT of 1000-odd hosts) compressed as this builder does,
//!   parsed and every section walked, every owner's labels read: what a large
//!   message costs when nobody is trying to make it expensive.
//! - `parse_64k_worst`: the costliest 64 KiB message under the 16-hop rule
//!   (see [`pointer_chain`]): 10,878 questions of 6 octets whose names each
//!   follow 16 pointers to 127 labels; parsed and walked the same way.
//! - `parse_64k_unbounded_chain`: the costliest message with no hop limit
//!   (the question names form one chain of backward pointers as long as 14-bit
//!   offsets allow). Rejected after 16 hops now; before the limit it parsed,
//!   following some 26 million pointers.
//!
//! Run: `cargo bench --bench wire -- --warm-up-time 1 --measurement-time 3`.
//! The time per iteration is the time per message.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, criterion_group, criterion_main};
use dynzone::wire::{
    BuildError, Class, HEADER_LEN, MAX_LABELS, MAX_MESSAGE, Message, MessageBuilder, Name, NameBuf,
    RData, Rtype, Section, Txt, UDP_LIMIT,
};

/// Hex with spaces and `#` comments allowed, decoded once before measuring.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .flat_map(|line| line.split('#').next().unwrap_or("").bytes())
        .filter(u8::is_ascii_hexdigit)
        .collect();
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).expect("ascii");
            u8::from_str_radix(s, 16).expect("hex digit pair")
        })
        .collect()
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

fn parse_64k(c: &mut Criterion) {
    let typical = typical_64k();
    let worst = pointer_chain(MAX_LABELS, 16);
    let unbounded = pointer_chain(MAX_LABELS, usize::MAX);
    for (what, bytes) in [("typical", &typical), ("worst", &worst)] {
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
    c.bench_function("parse_64k_typical", |b| b.iter(|| parse_and_walk(&typical)));
    c.bench_function("parse_64k_worst", |b| b.iter(|| parse_and_walk(&worst)));
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
criterion_main!(benches);

//! Wire-format hot paths, one message per iteration:
//!
//! - `parse_query`: a dig A query with EDNS and a COOKIE option, parsed, its
//!   question and EDNS read (what every UDP query costs before the lookup).
//! - `parse_update_tsig`: an nsupdate UPDATE of seven changes signed with TSIG,
//!   parsed, every record walked and the TSIG fields and signed parts read.
//! - `build_answer`: a referral-shaped answer built into a stack buffer: the
//!   question copied, 2 A answers, 2 NS in authority, 2 glue A, OPT.
//!
//! Run: `cargo bench --bench wire -- --warm-up-time 1 --measurement-time 3`.
//! The time per iteration is the time per message.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, criterion_group, criterion_main};
use dynzone::wire::{
    Class, Message, MessageBuilder, Name, NameBuf, RData, Rtype, Section, UDP_LIMIT,
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

criterion_group!(benches, parse_query, parse_update_tsig, build_answer);
criterion_main!(benches);

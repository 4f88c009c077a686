//! Messages captured from real clients (dig, kdig, nsupdate; see tests/data/README.md
//! and tests/data/capture.py): each parses with the fields its client sent, and
//! survives parse → `MessageBuilder::copy_of` → parse unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::wire::name;
use dynzone::wire::{
    Caa, Class, Frame, HEADER_LEN, MAX_MESSAGE, Message, MessageBuilder, Opcode, RData, Rcode,
    Record, Rtype, Section, Srv, TsigError, Txt, frame_prefix, parse_frame, write_rdata,
};

const DIG_A: &[u8] = include_bytes!("data/dig-a.bin");
const DIG_NOEDNS: &[u8] = include_bytes!("data/dig-noedns.bin");
const DIG_TXT_MIXEDCASE: &[u8] = include_bytes!("data/dig-txt-mixedcase.bin");
const KDIG_AAAA: &[u8] = include_bytes!("data/kdig-aaaa.bin");
const KDIG_TCP: &[u8] = include_bytes!("data/kdig-tcp.bin");
const NSUPDATE_SHA256: &[u8] = include_bytes!("data/nsupdate-update-sha256.bin");
const NSUPDATE_MD5: &[u8] = include_bytes!("data/nsupdate-update-md5.bin");
const NSUPDATE_SOA: &[u8] = include_bytes!("data/nsupdate-soa-discovery.bin");

const ALL: [(&str, &[u8]); 8] = [
    ("dig-a", DIG_A),
    ("dig-noedns", DIG_NOEDNS),
    ("dig-txt-mixedcase", DIG_TXT_MIXEDCASE),
    ("kdig-aaaa", KDIG_AAAA),
    ("kdig-tcp", KDIG_TCP),
    ("nsupdate-update-sha256", NSUPDATE_SHA256),
    ("nsupdate-update-md5", NSUPDATE_MD5),
    ("nsupdate-soa-discovery", NSUPDATE_SOA),
];

/// EDNS option code of DNS COOKIE (RFC 7873 §4).
const COOKIE: u16 = 10;
/// RD and AD: what dig and kdig set on a query by default.
const RD_AD: u16 = 0x0120;

fn parse(label: &str, bytes: &'static [u8]) -> Message<'static> {
    Message::parse(bytes).unwrap_or_else(|e| panic!("{label}: {e:?}"))
}

/// Header flags word, opcode and the four counts.
fn assert_header(msg: &Message<'_>, flags: u16, opcode: Opcode, counts: [u16; 4]) {
    let h = msg.header();
    assert_eq!(h.flags.0, flags, "flags {:#06x}", h.flags.0);
    assert_eq!(h.flags.opcode(), opcode);
    assert_eq!(h.counts, counts);
    assert_eq!(msg.rcode(), Rcode::NoError);
}

/// The only question: name (case-insensitively and as text, case kept), type, class.
fn assert_question(msg: &Message<'_>, text: &str, qtype: Rtype) {
    let mut questions = msg.questions();
    let q = questions.next().expect("a question");
    assert!(questions.next().is_none(), "one question only");
    assert_eq!(q.name.to_string(), text);
    assert_eq!(q.name, name(text).as_name());
    assert_eq!(q.qtype, qtype);
    assert_eq!(q.qclass, Class::In);
}

/// dig's EDNS: 1232 octets (the DNS Flag Day 2020 default), version 0, no DO,
/// one option, a client-only COOKIE of 8 octets.
fn assert_dig_edns(msg: &Message<'_>) {
    let edns = msg.edns().expect("dig sends EDNS");
    assert_eq!(edns.udp_payload, 1232);
    assert_eq!(edns.version, 0);
    assert_eq!(edns.ext_rcode, 0);
    assert_eq!(edns.flags, 0);
    assert!(!edns.dnssec_ok());
    let options: Vec<(u16, &[u8])> = edns.options.options().collect();
    assert_eq!(options.len(), 1, "{options:?}");
    assert_eq!(options[0].0, COOKIE);
    assert_eq!(options[0].1.len(), 8, "client cookie only");
    // The OPT record is the whole additional section: root owner, type OPT.
    let opt: Vec<Record<'_>> = msg.additional().collect();
    assert_eq!(opt.len(), 1);
    assert!(opt[0].owner.is_root());
    assert_eq!(opt[0].rtype, Rtype::Opt);
    assert_eq!(u16::from(opt[0].class), 1232);
    assert!(msg.tsig().is_none());
}

#[test]
fn dig_a_with_edns_and_cookie() {
    let msg = parse("dig-a", DIG_A);
    assert_header(&msg, RD_AD, Opcode::Query, [1, 0, 0, 1]);
    assert_question(&msg, "example.test.", Rtype::A);
    assert_dig_edns(&msg);
}

#[test]
fn dig_without_edns() {
    let msg = parse("dig-noedns", DIG_NOEDNS);
    assert_header(&msg, RD_AD, Opcode::Query, [1, 0, 0, 0]);
    assert_question(&msg, "example.test.", Rtype::A);
    assert!(msg.edns().is_none());
    assert!(msg.tsig().is_none());
    assert_eq!(msg.additional().count(), 0);
}

#[test]
fn dig_txt_keeps_mixed_case() {
    let msg = parse("dig-txt-mixedcase", DIG_TXT_MIXEDCASE);
    assert_header(&msg, RD_AD, Opcode::Query, [1, 0, 0, 1]);
    assert_question(&msg, "MiXeD.ExAmPlE.TeSt.", Rtype::Txt);
    let q = msg.question().unwrap();
    let labels: Vec<&[u8]> = q.name.labels().collect();
    assert_eq!(labels, [&b"MiXeD"[..], b"ExAmPlE", b"TeSt"]);
    assert_eq!(
        q.name.to_buf().as_wire(),
        b"\x05MiXeD\x07ExAmPlE\x04TeSt\x00"
    );
    assert_eq!(
        q.name.to_canonical().as_wire(),
        b"\x05mixed\x07example\x04test\x00"
    );
    assert_dig_edns(&msg);
}

#[test]
fn kdig_aaaa_without_edns() {
    let msg = parse("kdig-aaaa", KDIG_AAAA);
    // kdig 3.2 sends no OPT unless asked (+edns).
    assert_header(&msg, RD_AD, Opcode::Query, [1, 0, 0, 0]);
    assert_question(&msg, "example.test.", Rtype::Aaaa);
    assert!(msg.edns().is_none());
    assert!(msg.tsig().is_none());
}

#[test]
fn kdig_over_tcp_frames_and_parses() {
    let msg = parse("kdig-tcp", KDIG_TCP);
    assert_header(&msg, RD_AD, Opcode::Query, [1, 0, 0, 0]);
    assert_question(&msg, "example.test.", Rtype::Soa);
    assert!(msg.edns().is_none());

    // As it came over the connection: length prefix, the message, and the start
    // of a pipelined next one.
    let mut stream = frame_prefix(KDIG_TCP.len()).unwrap().to_vec();
    stream.extend_from_slice(KDIG_TCP);
    stream.extend_from_slice(&[0, 30, 0xbe]);
    let Frame::Complete { message, consumed } = parse_frame(&stream) else {
        panic!("a whole frame");
    };
    assert_eq!(message, KDIG_TCP);
    assert_eq!(consumed, KDIG_TCP.len() + 2);
    assert_eq!(
        parse_frame(&stream[consumed..]),
        Frame::Partial { needed: 29 }
    );
    assert_eq!(
        parse_frame(&stream[..consumed - 1]),
        Frame::Partial { needed: 1 }
    );
}

/// The TSIG record of an nsupdate message: key, algorithm, MAC length, fudge
/// 300, original ID = message ID, no error, no other data, last in the message.
fn assert_nsupdate_tsig(msg: &Message<'_>, algorithm: &str, mac_len: usize) {
    let tsig = msg.tsig().expect("signed");
    assert_eq!(tsig.key_name, name("key.example.").as_name());
    assert_eq!(tsig.key_name.to_string(), "key.example.");
    assert_eq!(tsig.data.algorithm.to_string(), algorithm);
    assert_eq!(tsig.data.mac.len(), mac_len);
    assert_eq!(tsig.data.fudge, 300);
    assert_eq!(tsig.data.original_id, msg.header().id);
    assert_eq!(tsig.data.error, TsigError::NoError);
    assert!(tsig.data.other.is_empty());
    // Captured in the 2020s..2090s: a 48-bit time read with its halves swapped
    // or cut to 32 bits would land far outside.
    assert!(
        (1_577_836_800..4_000_000_000).contains(&tsig.data.time_signed),
        "time {}",
        tsig.data.time_signed
    );

    // The TSIG record is the last of the additional section and of the message.
    let bytes = msg.as_bytes();
    let (rec, next) = Record::parse(bytes, tsig.start).unwrap();
    assert_eq!(next, bytes.len());
    assert_eq!(rec.rtype, Rtype::Tsig);
    assert_eq!(rec.class, Class::Any);
    assert_eq!(rec.ttl, 0);
    assert_eq!(msg.additional().last().unwrap().rtype, Rtype::Tsig);

    // What the MAC covers: header with ARCOUNT one less, then up to the record.
    let (header, body) = msg.tsig_signed_parts().unwrap();
    let mut expected = bytes[..HEADER_LEN].to_vec();
    let arcount = u16::from_be_bytes([expected[10], expected[11]]) - 1;
    expected[10..12].copy_from_slice(&arcount.to_be_bytes());
    assert_eq!(header.as_slice(), expected.as_slice());
    assert_eq!(body, &bytes[HEADER_LEN..tsig.start]);
}

/// One expected record: owner, type, class, TTL and RDATA.
fn assert_record(
    rec: &Record<'_>,
    owner: &str,
    rtype: Rtype,
    class: Class,
    ttl: u32,
    data: &RData<'_>,
) {
    assert_eq!(rec.owner.to_string(), owner);
    assert_eq!(
        (rec.rtype, rec.class, rec.ttl),
        (rtype, class, ttl),
        "{owner}"
    );
    assert_eq!(&rec.data, data, "{owner} {rtype}");
}

/// The update both nsupdate fixtures carry (tests/data/capture.py, update_script).
fn assert_nsupdate_update(msg: &Message<'_>) {
    assert_header(msg, 0x2800, Opcode::Update, [1, 1, 8, 1]);
    assert!(msg.edns().is_none(), "nsupdate sends no OPT by default");

    let zone: Vec<_> = msg.zone().collect();
    assert_eq!(zone.len(), 1);
    assert_eq!(zone[0].name.to_string(), "example.test.");
    assert_eq!((zone[0].qtype, zone[0].qclass), (Rtype::Soa, Class::In));

    // `prereq yxdomain example.test.`: class ANY, type ANY, TTL 0, no RDATA.
    let prereqs: Vec<Record<'_>> = msg.prerequisites().collect();
    assert_eq!(prereqs.len(), 1);
    assert_record(
        &prereqs[0],
        "example.test.",
        Rtype::Any,
        Class::Any,
        0,
        &RData::Empty,
    );
    assert!(prereqs[0].rdata.is_empty());

    let mail = name("mail.example.test.");
    let sip = name("sip.example.test.");
    let txt = Txt::new(b"\x0bhello world\x0dsecond string").unwrap();
    let updates: Vec<Record<'_>> = msg.updates().collect();
    assert_eq!(updates.len(), 8);
    let host = "host.example.test.";
    let expected: [(&str, Rtype, Class, u32, RData<'_>); 8] = [
        (
            host,
            Rtype::A,
            Class::In,
            300,
            RData::A(Ipv4Addr::new(192, 0, 2, 1)),
        ),
        (
            host,
            Rtype::Aaaa,
            Class::In,
            300,
            RData::Aaaa(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ),
        (host, Rtype::Txt, Class::In, 300, RData::Txt(txt)),
        (
            "example.test.",
            Rtype::Mx,
            Class::In,
            3600,
            RData::Mx {
                preference: 10,
                exchange: mail.as_name(),
            },
        ),
        (
            "_sip._tcp.example.test.",
            Rtype::Srv,
            Class::In,
            300,
            RData::Srv(Srv {
                priority: 10,
                weight: 20,
                port: 5060,
                target: sip.as_name(),
            }),
        ),
        (
            "example.test.",
            Rtype::Caa,
            Class::In,
            3600,
            RData::Caa(Caa {
                flags: 0,
                tag: b"issue",
                value: b"ca.example.net",
            }),
        ),
        // `update delete old.example.test. A`: the whole RRset, class ANY.
        ("old.example.test.", Rtype::A, Class::Any, 0, RData::Empty),
        // `update delete host.example.test. A 192.0.2.9`: one RR, class NONE.
        (
            host,
            Rtype::A,
            Class::None,
            0,
            RData::A(Ipv4Addr::new(192, 0, 2, 9)),
        ),
    ];
    for (rec, (owner, rtype, class, ttl, data)) in updates.iter().zip(&expected) {
        assert_record(rec, owner, *rtype, *class, *ttl, data);
    }
    let RData::Txt(txt) = updates[2].data else {
        panic!("TXT");
    };
    let strings: Vec<&[u8]> = txt.strings().collect();
    assert_eq!(strings, [&b"hello world"[..], b"second string"]);
}

#[test]
fn nsupdate_update_hmac_sha256() {
    let msg = parse("nsupdate-update-sha256", NSUPDATE_SHA256);
    assert_nsupdate_update(&msg);
    assert_nsupdate_tsig(&msg, "hmac-sha256.", 32);
}

#[test]
fn nsupdate_update_hmac_md5() {
    let msg = parse("nsupdate-update-md5", NSUPDATE_MD5);
    assert_nsupdate_update(&msg);
    assert_nsupdate_tsig(&msg, "hmac-md5.sig-alg.reg.int.", 16);
}

#[test]
fn nsupdate_signed_soa_discovery() {
    let msg = parse("nsupdate-soa-discovery", NSUPDATE_SOA);
    // A plain QUERY, RD clear, signed with the update key.
    assert_header(&msg, 0x0000, Opcode::Query, [1, 0, 0, 1]);
    assert_question(&msg, "host.example.test.", Rtype::Soa);
    assert!(msg.edns().is_none());
    assert_nsupdate_tsig(&msg, "hmac-sha256.", 32);
}

/// Every name and RDATA in uncompressed wire form with its case, in message order.
fn exact_form(msg: &Message<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for q in msg.questions() {
        out.push(q.name.to_buf().as_wire().to_vec());
    }
    for section in Section::RECORDS {
        for r in msg.records(section) {
            out.push(r.owner.to_buf().as_wire().to_vec());
            let mut rdata = vec![0; MAX_MESSAGE];
            let len = write_rdata(&mut rdata, &r.data).unwrap();
            rdata.truncate(len);
            out.push(rdata);
        }
    }
    out
}

#[test]
fn every_fixture_survives_copy_of() {
    for (label, bytes) in ALL {
        let original = parse(label, bytes);
        let mut buf = vec![0u8; MAX_MESSAGE];
        let copy = MessageBuilder::copy_of(&mut buf, &original)
            .unwrap_or_else(|e| panic!("{label}: copy_of: {e:?}"))
            .finish_bytes();
        let copied = Message::parse(copy).unwrap_or_else(|e| panic!("{label}: reparse: {e:?}"));
        assert_eq!(copied, original, "{label}");
        // `==` ignores case; the copy must also keep every octet of every name.
        assert_eq!(exact_form(&copied), exact_form(&original), "{label}");
        assert_eq!(copied.edns(), original.edns(), "{label}");
        assert_eq!(
            copied.tsig().map(|t| (t.key_name, t.data)),
            original.tsig().map(|t| (t.key_name, t.data)),
            "{label}"
        );
        // Nothing was truncated (`==` already compared the counts).
        assert!(!copied.header().flags.tc(), "{label}");
    }
}

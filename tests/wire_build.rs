//! The message builder: sections in order, compression, limits and TC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::net::Ipv4Addr;

use common::wire::name;
use dynzone::wire::{
    BuildError, Class, HEADER_LEN, Message, MessageBuilder, Opcode, RData, Rcode, Rtype, Section,
    Soa, UDP_LIMIT,
};

#[test]
fn builds_a_compressed_answer_that_parses_back() {
    let qname = name("WwW.Example.com");
    let zone = name("example.com");
    let ns1 = name("ns1.example.com");
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, UDP_LIMIT).unwrap();
    b.set_id(0xbeef);
    b.flags_mut().set_qr(true);
    b.flags_mut().set_aa(true);
    b.question(qname.as_name(), Rtype::A, Class::In).unwrap();
    b.record(
        Section::Answer,
        qname.as_name(),
        Rtype::A,
        Class::In,
        300,
        &RData::A(Ipv4Addr::new(192, 0, 2, 1)),
    )
    .unwrap();
    b.record(
        Section::Authority,
        zone.as_name(),
        Rtype::Ns,
        Class::In,
        3600,
        &RData::Ns(ns1.as_name()),
    )
    .unwrap();
    let bytes = b.finish_bytes();
    // header 12, question 17+4, answer: pointer 2 + 10 + 4, authority: owner
    // "example" + pointer to the question's "com" (10; "Example" differs in
    // case, so no pointer to it) + 10 + "ns1" + pointer to "example" (6).
    assert_eq!(bytes.len(), 12 + 21 + 16 + 26);
    // The answer owner points at the question: c0 0c.
    assert_eq!(&bytes[33..35], &[0xc0, 0x0c]);

    let msg = Message::parse(bytes).unwrap();
    assert_eq!(msg.header().id, 0xbeef);
    assert!(msg.header().flags.qr() && msg.header().flags.aa());
    let q = msg.question().unwrap();
    assert_eq!(q.name.to_string(), "WwW.Example.com.");
    let a = msg.answers().next().unwrap();
    // Case preserved through compression (pointer to the question as written).
    assert_eq!(a.owner.to_string(), "WwW.Example.com.");
    assert_eq!(a.data, RData::A(Ipv4Addr::new(192, 0, 2, 1)));
    let ns = msg.authority().next().unwrap();
    assert_eq!(ns.owner.to_string(), "example.com.");
    assert_eq!(ns.data, RData::Ns(ns1.as_name()));
}

#[test]
fn compression_is_case_exact() {
    let lower = name("www.example.com");
    let upper = name("WWW.EXAMPLE.COM");
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.question(lower.as_name(), Rtype::A, Class::In).unwrap();
    b.record(
        Section::Answer,
        upper.as_name(),
        Rtype::A,
        Class::In,
        1,
        &RData::A(Ipv4Addr::LOCALHOST),
    )
    .unwrap();
    let msg = Message::parse(b.finish_bytes()).unwrap();
    assert_eq!(
        msg.answers().next().unwrap().owner.to_string(),
        "WWW.EXAMPLE.COM."
    );
}

fn fill_answers(limit: usize) -> (Vec<u8>, usize, Result<(), BuildError>) {
    let qname = name("host.example.com");
    let mut buf = vec![0u8; 4096];
    let mut b = MessageBuilder::new(&mut buf, limit).unwrap();
    b.question(qname.as_name(), Rtype::A, Class::In).unwrap();
    let mut added = 0;
    let mut last = Ok(());
    for i in 0..200u8 {
        last = b.record(
            Section::Answer,
            qname.as_name(),
            Rtype::A,
            Class::In,
            60,
            &RData::A(Ipv4Addr::new(10, 0, 0, i)),
        );
        if last.is_err() {
            break;
        }
        added += 1;
    }
    assert!(b.len() <= limit);
    let len = b.finish();
    buf.truncate(len);
    (buf, added, last)
}

#[test]
fn sets_tc_when_an_answer_does_not_fit() {
    let (bytes, added, last) = fill_answers(UDP_LIMIT);
    assert_eq!(last, Err(BuildError::Truncated));
    // 12 + 22 (question) + n * 16 <= 512
    assert_eq!(added, (512 - 12 - 22) / 16);
    let msg = Message::parse(&bytes).unwrap();
    assert!(msg.header().flags.tc());
    assert_eq!(msg.answers().count(), added);
}

#[test]
fn no_tc_when_everything_fits() {
    let (bytes, added, last) = fill_answers(65535);
    assert_eq!(last, Ok(()));
    assert_eq!(added, 200);
    assert!(!Message::parse(&bytes).unwrap().header().flags.tc());
}

#[test]
fn additional_that_does_not_fit_is_left_out_without_tc() {
    let qname = name("a.example");
    let mut buf = [0u8; 64];
    let mut b = MessageBuilder::new(&mut buf, 64).unwrap();
    b.question(qname.as_name(), Rtype::Mx, Class::In).unwrap();
    let mut added = 0;
    let err = loop {
        match b.record(
            Section::Additional,
            qname.as_name(),
            Rtype::A,
            Class::In,
            1,
            &RData::A(Ipv4Addr::BROADCAST),
        ) {
            Ok(()) => added += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err, BuildError::NoSpace);
    assert!(!b.is_truncated());
    let msg = Message::parse(b.finish_bytes()).unwrap();
    assert!(!msg.header().flags.tc());
    assert_eq!(msg.additional().count(), added);
}

#[test]
fn truncation_stops_later_data_but_not_opt() {
    let qname = name("x.example");
    let mut buf = [0u8; 100];
    let mut b = MessageBuilder::new(&mut buf, 100).unwrap();
    b.reserve(11).unwrap(); // an OPT record without options
    b.question(qname.as_name(), Rtype::Txt, Class::In).unwrap();
    // One 79-octet character-string: 80 bytes of RDATA, more than the room left.
    let mut big = [b'x'; 80];
    big[0] = 79;
    let err = b
        .raw_record(
            Section::Answer,
            qname.as_name(),
            Rtype::Txt,
            Class::In,
            1,
            &big,
        )
        .unwrap_err();
    assert_eq!(err, BuildError::Truncated);
    assert_eq!(
        b.raw_record(
            Section::Authority,
            qname.as_name(),
            Rtype::Txt,
            Class::In,
            1,
            b"\x01a"
        ),
        Err(BuildError::Truncated)
    );
    b.opt(1232, 0, 0, 0, &[]).unwrap();
    let msg = Message::parse(b.finish_bytes()).unwrap();
    assert!(msg.header().flags.tc());
    assert_eq!(msg.answers().count(), 0);
    assert_eq!(msg.edns().unwrap().udp_payload, 1232);
}

#[test]
fn sections_must_go_in_order() {
    let n = name("a.example");
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.raw_record(
        Section::Authority,
        n.as_name(),
        Rtype::A,
        Class::In,
        1,
        &[1, 2, 3, 4],
    )
    .unwrap();
    assert_eq!(
        b.raw_record(
            Section::Answer,
            n.as_name(),
            Rtype::A,
            Class::In,
            1,
            &[1, 2, 3, 4]
        ),
        Err(BuildError::SectionOrder)
    );
    assert_eq!(
        b.question(n.as_name(), Rtype::A, Class::In),
        Err(BuildError::SectionOrder)
    );
}

#[test]
fn tiny_buffers() {
    let mut buf = [0u8; 11];
    assert_eq!(
        MessageBuilder::new(&mut buf, 512).err(),
        Some(BuildError::NoRoomForHeader)
    );
    let mut buf = [0u8; 512];
    assert_eq!(
        MessageBuilder::new(&mut buf, 11).err(),
        Some(BuildError::NoRoomForHeader)
    );
    let mut buf = [0u8; HEADER_LEN];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    assert_eq!(
        b.question(name("a").as_name(), Rtype::A, Class::In),
        Err(BuildError::Truncated)
    );
    assert_eq!(b.finish(), HEADER_LEN);
}

#[test]
fn extended_rcode_goes_in_opt() {
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.flags_mut().set_qr(true);
    b.flags_mut().set_opcode(Opcode::Update);
    b.set_rcode(Rcode::BadVers);
    b.opt(1232, Rcode::BadVers.extended_bits(), 0, 0x8000, &[])
        .unwrap();
    let msg = Message::parse(b.finish_bytes()).unwrap();
    assert_eq!(msg.rcode(), Rcode::BadVers);
    assert_eq!(msg.header().flags.opcode(), Opcode::Update);
    assert!(msg.edns().unwrap().dnssec_ok());
}

#[test]
fn soa_names_compress_against_each_other() {
    let zone = name("example.net");
    let mname = name("ns.example.net");
    let rname = name("hostmaster.example.net");
    let soa = RData::Soa(Soa {
        mname: mname.as_name(),
        rname: rname.as_name(),
        serial: 2026112601,
        refresh: 3600,
        retry: 600,
        expire: 864000,
        minimum: 300,
    });
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.record(
        Section::Answer,
        zone.as_name(),
        Rtype::Soa,
        Class::In,
        300,
        &soa,
    )
    .unwrap();
    let bytes = b.finish_bytes();
    // owner 13, fixed 10, mname "ns"+ptr 5, rname "hostmaster"+ptr 13, 20.
    assert_eq!(bytes.len(), 12 + 13 + 10 + 5 + 13 + 20);
    let msg = Message::parse(bytes).unwrap();
    assert_eq!(msg.answers().next().unwrap().data, soa);
}

#[test]
fn srv_target_is_never_compressed() {
    let owner = name("_sip._udp.example.org");
    let target = name("example.org");
    let srv = RData::Srv(dynzone::wire::Srv {
        priority: 1,
        weight: 2,
        port: 5060,
        target: target.as_name(),
    });
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.record(
        Section::Answer,
        owner.as_name(),
        Rtype::Srv,
        Class::In,
        1,
        &srv,
    )
    .unwrap();
    let bytes = b.finish_bytes();
    let msg = Message::parse(bytes).unwrap();
    let rec = msg.answers().next().unwrap();
    assert_eq!(rec.rdata, b"\x00\x01\x00\x02\x13\xc4\x07example\x03org\x00");
    assert_eq!(rec.data, srv);
}

#[test]
fn after_truncation_a_smaller_record_is_still_refused() {
    // No reserve at all: once an answer did not fit, a record that would fit
    // must not slip in after it (the answer section would be silently partial).
    let qname = name("x.example");
    let mut buf = [0u8; 60];
    let mut b = MessageBuilder::new(&mut buf, 60).unwrap();
    b.question(qname.as_name(), Rtype::Txt, Class::In).unwrap();
    let mut big = [b'x'; 40];
    big[0] = 39;
    assert_eq!(
        b.raw_record(
            Section::Answer,
            qname.as_name(),
            Rtype::Txt,
            Class::In,
            1,
            &big
        ),
        Err(BuildError::Truncated)
    );
    assert_eq!(
        b.raw_record(
            Section::Answer,
            qname.as_name(),
            Rtype::Txt,
            Class::In,
            1,
            b"\x00"
        ),
        Err(BuildError::Truncated)
    );
    assert_eq!(
        b.raw_record(
            Section::Additional,
            qname.as_name(),
            Rtype::A,
            Class::In,
            1,
            &[1, 2, 3, 4]
        ),
        Err(BuildError::Truncated)
    );
    let msg = Message::parse(b.finish_bytes()).unwrap();
    assert!(msg.header().flags.tc());
    assert_eq!(msg.answers().count() + msg.additional().count(), 0);
}

#[test]
fn names_in_rfc1035_mail_types_are_decompressed() {
    // Captured from nsupdate (BIND 9.18), which compresses the names in MG and
    // MINFO: `update add host.example.test. 300 IN MG mail.example.test.` and a
    // MINFO. RFC 3597 §4: receivers MUST decompress them.
    let bytes = b"\x00\x00\x28\x00\x00\x01\x00\x00\x00\x02\x00\x00\
\x07example\x04test\x00\x00\x06\x00\x01\
\xc0\x0c\x00\x08\x00\x01\x00\x00\x01\x2c\x00\x07\x04mail\xc0\x0c\
\xc0\x0c\x00\x0e\x00\x01\x00\x00\x01\x2c\x00\x10\x05rmail\xc0\x0c\x05email\xc0\x0c";
    let msg = Message::parse(bytes).unwrap();
    let mut stored = [0u8; 512];
    let mut updates = msg.updates();
    let mg = updates.next().unwrap();
    assert_eq!(mg.rtype, Rtype::Mg);
    let n = dynzone::wire::write_rdata(&mut stored, &mg.data).unwrap();
    assert_eq!(&stored[..n], b"\x04mail\x07example\x04test\x00");
    let minfo = updates.next().unwrap();
    assert_eq!(minfo.rtype, Rtype::Minfo);
    let n = dynzone::wire::write_rdata(&mut stored, &minfo.data).unwrap();
    assert_eq!(
        &stored[..n],
        b"\x05rmail\x07example\x04test\x00\x05email\x07example\x04test\x00"
    );
    // And the stored form reads back as the same value.
    assert_eq!(
        dynzone::wire::RData::from_wire(Rtype::Minfo, &stored[..n]).unwrap(),
        minfo.data
    );
}

#[test]
fn naptr_and_afsdb_names_are_read_and_written_uncompressed() {
    let owner = name("example.com");
    let target = name("_sip._udp.example.com");
    // NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp.example.com.
    let mut wire = b"\x00\x64\x00\x0a\x01S\x07SIP+D2U\x00".to_vec();
    wire.extend_from_slice(target.as_wire());
    let naptr = RData::from_wire(Rtype::Naptr, &wire).unwrap();
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.question(owner.as_name(), Rtype::Naptr, Class::In)
        .unwrap();
    b.record(
        Section::Answer,
        owner.as_name(),
        Rtype::Naptr,
        Class::In,
        60,
        &naptr,
    )
    .unwrap();
    let bytes = b.finish_bytes();
    let msg = Message::parse(bytes).unwrap();
    let rec = msg.answers().next().unwrap();
    // RFC 3597 §4: not an RFC 1035 type, so the name went out uncompressed.
    assert_eq!(rec.rdata, &wire[..]);
    assert_eq!(rec.data, naptr);
    let fields: Vec<_> = match rec.data {
        RData::Compound(c) => c.fields().collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(fields.len(), 6);
    assert_eq!(fields[0], dynzone::wire::Field::U16(100));
    assert_eq!(fields[3], dynzone::wire::Field::CharString(b"SIP+D2U"));
    // A NAPTR cut inside its strings is malformed, not opaque.
    assert!(RData::from_wire(Rtype::Naptr, &wire[..6]).is_err());
}

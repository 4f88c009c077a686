//! Every parser-level bad input of PROTOCOL-NOTES.md, and more, with the exact
//! error and the reply it maps to.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use dynzone::wire::{Message, NameBuf, Opcode, ParseError, Rcode, Rtype};

/// A message: header with the given counts, then `body`.
fn msg(counts: [u16; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xab, 0xcd, 0x01, 0x00];
    for c in counts {
        m.extend_from_slice(&c.to_be_bytes());
    }
    m.extend_from_slice(body);
    m
}

/// A question for `example.com. A IN`.
const Q: &[u8] = b"\x07example\x03com\x00\x00\x01\x00\x01";
/// An OPT record: root owner, payload 1232, version 0, no options.
const OPT: &[u8] = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";

/// A TSIG record owned by `key.` with a 32-octet MAC.
fn tsig(class: u16, ttl: u32) -> Vec<u8> {
    let mut r = b"\x03key\x00\x00\xfa".to_vec();
    r.extend_from_slice(&class.to_be_bytes());
    r.extend_from_slice(&ttl.to_be_bytes());
    let mut rdata = b"\x0bhmac-sha256\x00".to_vec();
    rdata.extend_from_slice(&[0, 0, 0x69, 0x26, 0x7a, 0x00]); // time
    rdata.extend_from_slice(&300u16.to_be_bytes()); // fudge
    rdata.extend_from_slice(&32u16.to_be_bytes());
    rdata.extend_from_slice(&[0x55; 32]);
    rdata.extend_from_slice(&[0xab, 0xcd, 0, 0, 0, 0]); // orig id, error, other len
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(&rdata);
    r
}

fn err(bytes: &[u8]) -> ParseError {
    let e = Message::parse(bytes).expect_err("must be rejected");
    assert_eq!(e.rcode(), Some(Rcode::FormErr), "{e:?} answers FORMERR");
    e
}

#[test]
fn shorter_than_a_header_is_dropped() {
    for len in 0..12 {
        let e = Message::parse(&vec![0; len]).unwrap_err();
        assert_eq!(e, ParseError::ShortHeader);
        assert_eq!(e.rcode(), None, "dropped, not answered");
    }
    // Exactly a header with zero counts is a (useless) valid message.
    assert!(Message::parse(&[0; 12]).is_ok());
}

#[test]
fn counts_that_promise_more_than_the_bytes_hold() {
    assert_eq!(err(&msg([1, 0, 0, 0], b"")), ParseError::ShortInput);
    assert_eq!(err(&msg([2, 0, 0, 0], Q)), ParseError::ShortInput);
    assert_eq!(err(&msg([1, 1, 0, 0], Q)), ParseError::ShortInput);
    assert_eq!(err(&msg([1, 0, 0, 65535], Q)), ParseError::ShortInput);
    // A question cut inside QTYPE.
    assert_eq!(
        err(&msg([1, 0, 0, 0], &Q[..Q.len() - 3])),
        ParseError::ShortInput
    );
    // A record whose RDLENGTH runs past the end.
    let mut body = Q.to_vec();
    body.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03");
    assert_eq!(err(&msg([1, 1, 0, 0], &body)), ParseError::ShortInput);
}

#[test]
fn trailing_bytes() {
    let mut body = Q.to_vec();
    body.push(0);
    assert_eq!(err(&msg([1, 0, 0, 0], &body)), ParseError::TrailingBytes);
    assert_eq!(err(&msg([0, 0, 0, 0], b"\x00")), ParseError::TrailingBytes);
}

#[test]
fn compression_pointer_to_itself() {
    assert_eq!(
        err(&msg([1, 0, 0, 0], b"\xc0\x0c\x00\x01\x00\x01")),
        ParseError::ForwardPointer
    );
}

#[test]
fn compression_pointer_to_a_later_offset() {
    // Points at the label right after it.
    assert_eq!(
        err(&msg([1, 0, 0, 0], b"\xc0\x0e\x01a\x00\x00\x01\x00\x01")),
        ParseError::ForwardPointer
    );
}

#[test]
fn compression_pointer_loop_between_two_names() {
    // Question at 12: "a" + pointer to 21; answer owner at 21 points to 12.
    // Each pointer alone is "somewhere else"; together they would loop.
    let body = b"\x01a\xc0\x15\x00\x01\x00\x01\xff\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00";
    assert_eq!(err(&msg([1, 1, 0, 0], body)), ParseError::ForwardPointer);
}

#[test]
fn compression_pointer_into_the_header() {
    for target in 0..12u8 {
        assert_eq!(
            err(&msg([1, 0, 0, 0], &[0xc0, target, 0, 1, 0, 1])),
            ParseError::PointerIntoHeader
        );
    }
}

#[test]
fn compression_pointer_past_the_end() {
    let mut body = Q.to_vec();
    body.extend_from_slice(b"\xc1\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00");
    assert_eq!(err(&msg([1, 1, 0, 0], &body)), ParseError::PointerPastEnd);
    assert_eq!(
        err(&msg([1, 0, 0, 0], b"\xff\xff\x00\x01\x00\x01")),
        ParseError::PointerPastEnd
    );
    // A pointer cut in half at the very end.
    assert_eq!(err(&msg([1, 0, 0, 0], b"\xc0")), ParseError::ShortInput);
}

#[test]
fn names_over_255_octets() {
    let mut body = Vec::new();
    for _ in 0..4 {
        body.push(63);
        body.extend_from_slice(&[b'a'; 63]);
    }
    body.push(0);
    body.extend_from_slice(&[0, 1, 0, 1]);
    assert_eq!(err(&msg([1, 0, 0, 0], &body)), ParseError::NameTooLong);
    // Also when the excess comes through a pointer: 200 + 60 octets.
    let mut body = Vec::new();
    for _ in 0..4 {
        body.push(49);
        body.extend_from_slice(&[b'x'; 49]);
    }
    body.extend_from_slice(&[0, 0, 1, 0, 1]);
    body.push(59);
    body.extend_from_slice(&[b'y'; 59]);
    body.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(err(&msg([2, 0, 0, 0], &body)), ParseError::NameTooLong);
}

#[test]
fn labels_over_63_octets_and_reserved_label_types() {
    // 64 in a length octet has the 0b01 prefix: the retired extended label type.
    let mut body = vec![64];
    body.extend_from_slice(&[b'a'; 64]);
    body.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(
        err(&msg([1, 0, 0, 0], &body)),
        ParseError::ReservedLabelType
    );
    assert_eq!(
        err(&msg([1, 0, 0, 0], b"\x80\x00\x00\x01\x00\x01")),
        ParseError::ReservedLabelType
    );
}

#[test]
fn two_opt_records() {
    let mut body = Q.to_vec();
    body.extend_from_slice(OPT);
    body.extend_from_slice(OPT);
    assert_eq!(err(&msg([1, 0, 0, 2], &body)), ParseError::MultipleOpt);
}

#[test]
fn opt_with_a_non_root_owner() {
    let mut body = Q.to_vec();
    body.extend_from_slice(b"\xc0\x0c");
    body.extend_from_slice(&OPT[1..]);
    assert_eq!(err(&msg([1, 0, 0, 1], &body)), ParseError::BadOpt);
}

#[test]
fn opt_outside_the_additional_section() {
    let mut body = Q.to_vec();
    body.extend_from_slice(OPT);
    assert_eq!(err(&msg([1, 1, 0, 0], &body)), ParseError::BadOpt);
    assert_eq!(err(&msg([1, 0, 1, 0], &body)), ParseError::BadOpt);
}

#[test]
fn opt_with_a_cut_option() {
    let mut body = Q.to_vec();
    // One option claiming 8 data octets with 2 present.
    body.extend_from_slice(b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x06\x00\x0a\x00\x08\xaa\xbb");
    assert_eq!(err(&msg([1, 0, 0, 1], &body)), ParseError::BadRdata);
}

#[test]
fn edns_version_above_zero_parses_for_badvers() {
    let mut body = Q.to_vec();
    body.extend_from_slice(b"\x00\x00\x29\x10\x00\x00\x01\x80\x00\x00\x00");
    let bytes = msg([1, 0, 0, 1], &body);
    let m = Message::parse(&bytes).unwrap();
    let edns = m.edns().unwrap();
    assert_eq!(edns.version, 1, "the handler answers BADVERS from this");
    assert_eq!(edns.udp_payload, 4096);
    assert!(edns.dnssec_ok());
}

#[test]
fn tsig_not_last() {
    let mut body = Q.to_vec();
    body.extend_from_slice(&tsig(255, 0));
    body.extend_from_slice(OPT);
    assert_eq!(err(&msg([1, 0, 0, 2], &body)), ParseError::TsigNotLast);
}

#[test]
fn tsig_outside_the_additional_section() {
    let mut body = Q.to_vec();
    body.extend_from_slice(&tsig(255, 0));
    assert_eq!(err(&msg([1, 1, 0, 0], &body)), ParseError::TsigNotLast);
}

#[test]
fn two_tsig_records() {
    let mut body = Q.to_vec();
    body.extend_from_slice(&tsig(255, 0));
    body.extend_from_slice(&tsig(255, 0));
    assert_eq!(err(&msg([1, 0, 0, 2], &body)), ParseError::TsigNotLast);
}

#[test]
fn tsig_with_wrong_class_or_ttl() {
    let mut body = Q.to_vec();
    body.extend_from_slice(&tsig(1, 0));
    assert_eq!(err(&msg([1, 0, 0, 1], &body)), ParseError::BadTsig);
    let mut body = Q.to_vec();
    body.extend_from_slice(&tsig(255, 60));
    assert_eq!(err(&msg([1, 0, 0, 1], &body)), ParseError::BadTsig);
}

#[test]
fn tsig_rdata_cut_short() {
    let full = tsig(255, 0);
    let rdata_at = 5 + 2 + 2 + 4 + 2;
    // Every shorter RDLENGTH (and the bytes cut to match) is malformed.
    for cut in 1..(full.len() - rdata_at) {
        let mut rec = full[..full.len() - cut].to_vec();
        let len = (full.len() - cut - rdata_at) as u16;
        rec[rdata_at - 2..rdata_at].copy_from_slice(&len.to_be_bytes());
        let mut body = Q.to_vec();
        body.extend_from_slice(&rec);
        assert_eq!(
            err(&msg([1, 0, 0, 1], &body)),
            ParseError::BadRdata,
            "cut {cut}"
        );
    }
    // RDLENGTH 0 for TSIG is never the "empty" form.
    let mut body = Q.to_vec();
    body.extend_from_slice(b"\x03key\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x00");
    assert_eq!(err(&msg([1, 0, 0, 1], &body)), ParseError::BadRdata);
    // A MAC size larger than what is left.
    let mut rec = full.clone();
    let mac_size_at = rdata_at + 13 + 6 + 2;
    rec[mac_size_at..mac_size_at + 2].copy_from_slice(&200u16.to_be_bytes());
    let mut body = Q.to_vec();
    body.extend_from_slice(&rec);
    assert_eq!(err(&msg([1, 0, 0, 1], &body)), ParseError::BadRdata);
}

fn answer_with_rdata(rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut body = Q.to_vec();
    body.extend_from_slice(b"\xc0\x0c");
    body.extend_from_slice(&rtype.to_be_bytes());
    body.extend_from_slice(b"\x00\x01\x00\x00\x0e\x10");
    body.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    body.extend_from_slice(rdata);
    msg([1, 1, 0, 0], &body)
}

#[test]
fn short_and_long_rdata_of_fixed_size_types() {
    assert_eq!(err(&answer_with_rdata(1, &[1, 2, 3])), ParseError::BadRdata);
    assert_eq!(
        err(&answer_with_rdata(1, &[1, 2, 3, 4, 5])),
        ParseError::BadRdata
    );
    assert_eq!(err(&answer_with_rdata(28, &[0; 15])), ParseError::BadRdata);
    assert_eq!(
        err(&answer_with_rdata(6, &[0, 0, 0, 0, 0])),
        ParseError::BadRdata
    );
}

#[test]
fn rdata_names_must_end_at_rdlength() {
    // NS rdata "\x02ns" + pointer, but RDLENGTH says 3: the name runs past it.
    assert_eq!(err(&answer_with_rdata(2, b"\x02ns")), ParseError::BadRdata);
    // A name followed by a stray octet inside RDLENGTH.
    assert_eq!(
        err(&answer_with_rdata(5, b"\x02ns\xc0\x0c\x00")),
        ParseError::BadRdata
    );
    // MX with only the preference.
    assert_eq!(
        err(&answer_with_rdata(15, b"\x00\x0a")),
        ParseError::BadRdata
    );
    // A forward pointer inside rdata.
    assert_eq!(
        err(&answer_with_rdata(2, b"\xc0\xff")),
        ParseError::PointerPastEnd
    );
}

#[test]
fn txt_and_caa_structure() {
    assert_eq!(
        err(&answer_with_rdata(16, b"\x05abc")),
        ParseError::BadRdata
    );
    assert_eq!(
        err(&answer_with_rdata(16, b"\x01a\x02b")),
        ParseError::BadRdata
    );
    assert_eq!(
        err(&answer_with_rdata(257, b"\x00\x00issue")),
        ParseError::BadRdata
    );
    assert_eq!(
        err(&answer_with_rdata(257, b"\x00\x09issue")),
        ParseError::BadRdata
    );
    // Well-formed ones pass, and an unknown type keeps its bytes whatever they are.
    assert!(Message::parse(&answer_with_rdata(16, b"\x01a\x00")).is_ok());
    assert!(Message::parse(&answer_with_rdata(257, b"\x80\x05issueca.example")).is_ok());
    let bytes = answer_with_rdata(65280, b"\xc0\xff\x00");
    let m = Message::parse(&bytes).unwrap();
    let rec = m.answers().next().unwrap();
    assert_eq!(rec.rtype, Rtype::Unknown(65280));
    assert_eq!(rec.rdata, b"\xc0\xff\x00");
}

#[test]
fn update_owner_with_a_dot_inside_a_label_is_not_in_the_zone() {
    // UPDATE for zone example.com with an owner whose one label is
    // "evil.example" followed by "com": label by label it is not below the zone.
    let mut bytes = msg([1, 0, 1, 0], Q);
    bytes[2] = 0x28; // opcode UPDATE
    bytes.extend_from_slice(
        b"\x0cevil.example\x03com\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01",
    );
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.header().flags.opcode(), Opcode::Update);
    let zone = m.zone().next().unwrap().name;
    let owner = m.updates().next().unwrap().owner;
    assert_eq!(owner.to_string(), "evil\\.example.com.");
    assert!(!owner.is_at_or_below(&zone), "NOTZONE, not inside");
    let inside = NameBuf::from_text("evil.example.com").unwrap();
    assert!(inside.as_name().is_at_or_below(&zone));
}

#[test]
fn header_fields_the_handler_acts_on_survive_parsing() {
    // Unknown opcode 3 (NOTIMP) and QDCOUNT 2 (FORMERR on a query) parse; the
    // handler decides. QR=1 (dropped) is visible too.
    let mut two = Q.to_vec();
    two.extend_from_slice(Q);
    let mut bytes = msg([2, 0, 0, 0], &two);
    bytes[2] = 0x80 | (3 << 3);
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.header().flags.opcode(), Opcode::Unknown(3));
    assert!(m.header().flags.qr());
    assert_eq!(m.questions().count(), 2);
}

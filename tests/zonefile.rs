//! Master files (RFC 1035 §5): parsing the test zones in `tests/data/zones/`,
//! printing them back byte-identically, refusing bad input at the right line,
//! and agreeing with BIND's `named-checkzone` and Knot's `kzonecheck`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::path::{Path, PathBuf};

use common::run_tool;
use common::wire::name;
use dynzone::wire::{NameBuf, Rtype};
use dynzone::zone::{ZoneRecord, check};
use dynzone::zonefile::{ParsedZone, parse, write};

const GOOD: &str = include_str!("data/zones/example.com.zone");
const LEGACY: &str = include_str!("data/zones/legacy-types.zone");

fn zones_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zones")
}

fn wire(text: &str) -> Vec<u8> {
    name(text).as_wire().to_vec()
}

fn origin() -> NameBuf {
    name("example.com.")
}

fn good() -> ParsedZone {
    parse(GOOD, Some(&origin())).unwrap()
}

fn export(zone: &ParsedZone) -> String {
    let mut out = Vec::new();
    write(&zone.apex, &zone.records, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The records of `owner` and `rtype`, in file order.
fn find<'z>(zone: &'z ParsedZone, owner: &str, rtype: Rtype) -> Vec<&'z ZoneRecord> {
    let owner = name(owner);
    zone.records
        .iter()
        .filter(|r| r.owner == owner && r.rtype == rtype)
        .collect()
}

fn one<'z>(zone: &'z ParsedZone, owner: &str, rtype: Rtype) -> &'z ZoneRecord {
    let found = find(zone, owner, rtype);
    assert_eq!(found.len(), 1, "{owner} {rtype}: {found:?}");
    found[0]
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn good_zone_parses_with_and_without_an_origin() {
    let zone = good();
    assert_eq!(zone.apex, origin());
    assert_eq!(zone.records.len(), 45);
    check(&zone.apex, &zone.records).unwrap();
    // The file has its own $ORIGIN, so the apex can come from the SOA.
    let again = parse(GOOD, None).unwrap();
    assert_eq!(again, zone);
    // Every type the file names is there.
    for t in [
        Rtype::Soa,
        Rtype::Ns,
        Rtype::Mx,
        Rtype::Txt,
        Rtype::Caa,
        Rtype::A,
        Rtype::Aaaa,
        Rtype::Cname,
        Rtype::Srv,
        Rtype::Hinfo,
        Rtype::Minfo,
        Rtype::Rp,
        Rtype::Afsdb,
        Rtype::Rt,
        Rtype::Naptr,
        Rtype::Dname,
        Rtype::Ptr,
        Rtype::Ds,
        Rtype::from(65280),
        Rtype::from(65281),
    ] {
        assert!(zone.records.iter().any(|r| r.rtype == t), "no {t}");
    }
}

#[test]
fn soa_over_parentheses_with_units_and_ttl_from_dollar_ttl() {
    let zone = good();
    let soa = one(&zone, "example.com.", Rtype::Soa);
    assert_eq!(soa.ttl, 5400, "$TTL 1h30m");
    let mut rdata = cat(&[&wire("ns1.example.com."), &wire("hostmaster.example.com.")]);
    for n in [2_024_010_101u32, 7200, 1800, 9 * 86400, 300] {
        rdata.extend_from_slice(&n.to_be_bytes());
    }
    assert_eq!(soa.rdata, rdata);
    assert_eq!(zone.records[0], *soa, "the SOA is the first record");
}

#[test]
fn blank_owners_ttl_and_class_in_either_order() {
    let zone = good();
    let ns = find(&zone, "example.com.", Rtype::Ns);
    assert_eq!(ns.len(), 2);
    assert_eq!(ns[0].rdata, wire("ns1.example.com."));
    assert_eq!(ns[1].rdata, wire("ns2.example.com."));
    assert!(ns.iter().all(|r| r.ttl == 5400));
    let mx = find(&zone, "example.com.", Rtype::Mx);
    assert_eq!(mx[0].rdata, cat(&[&[0, 10], &wire("mail.example.com.")]));
    assert_eq!(mx[1].rdata, cat(&[&[0, 20], &wire("example.com.")]));
    assert!(mx.iter().all(|r| r.ttl == 86400), "IN 1d and 1D IN");
    assert_eq!(one(&zone, "ns1.example.com.", Rtype::Aaaa).ttl, 300);
    // $TTL wins over the last TTL written (RFC 2308 §4).
    assert_eq!(one(&zone, "ns2.example.com.", Rtype::A).ttl, 5400);
    assert_eq!(
        one(&zone, "ns2.example.com.", Rtype::Aaaa).rdata,
        "2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
        "TYPE28"
    );
    let ftp = one(&zone, "ftp.example.com.", Rtype::Cname);
    assert_eq!((ftp.ttl, &ftp.rdata), (60, &wire("www.example.com.")));
    assert_eq!(
        one(&zone, "4.2.0.192.in-addr.example.com.", Rtype::Ptr).rdata,
        wire("ns1.example.com.")
    );
}

#[test]
fn txt_strings_quoted_unquoted_escaped_and_over_lines() {
    let zone = good();
    let txt = find(&zone, "txt.example.com.", Rtype::Txt);
    let strings: &[&[u8]] = &[
        b"one string with spaces; and a semicolon",
        b"second",
        b"say \"hi\"",
        b"ABC",
    ];
    let mut want = Vec::new();
    for s in strings {
        want.push(s.len() as u8);
        want.extend_from_slice(s);
    }
    assert_eq!(txt[0].rdata, want);
    assert_eq!(
        txt[1].rdata,
        b"\x12a string continued\x10on the next line".to_vec()
    );
    assert_eq!(one(&zone, "empty.example.com.", Rtype::Txt).rdata, [0]);
    let max = one(&zone, "max.example.com.", Rtype::Txt);
    assert_eq!(max.rdata.len(), 256);
    assert_eq!(max.rdata[0], 255);
    assert_eq!(
        one(&zone, "utf8.example.com.", Rtype::Txt).rdata,
        b"\x05caf\xc3\xa9\x04tab\t"
    );
}

#[test]
fn escaped_owner_names() {
    let zone = good();
    let dotted = zone
        .records
        .iter()
        .find(|r| r.owner.as_wire() == b"\x09odd.label\x07example\x03com\x00")
        .expect("odd\\.label is one label");
    assert_eq!(dotted.rtype, Rtype::Txt);
    assert!(
        zone.records
            .iter()
            .any(|r| r.owner.as_wire() == b"\x0aspace here\x07example\x03com\x00")
    );
    assert!(
        zone.records
            .iter()
            .any(|r| r.owner.as_wire() == b"\x0asemi;colon\x07example\x03com\x00")
    );
}

#[test]
fn other_text_forms() {
    let zone = good();
    assert_eq!(
        one(&zone, "_sip._udp.example.com.", Rtype::Srv).rdata,
        cat(&[&[0, 10, 0, 60, 0x13, 0xc4], &wire("sip.example.com.")])
    );
    assert_eq!(
        one(&zone, "host.example.com.", Rtype::Hinfo).rdata,
        b"\x0fPC-Intel-700mhz\x10Debian GNU/Linux".to_vec()
    );
    let caa = find(&zone, "example.com.", Rtype::Caa);
    assert_eq!(
        caa[0].rdata,
        b"\x00\x05issueca.example.net; account=12345".to_vec()
    );
    assert_eq!(
        caa[1].rdata,
        b"\x80\x05iodefmailto:security@example.com".to_vec()
    );
    assert_eq!(
        one(&zone, "mbox.example.com.", Rtype::Minfo).rdata,
        cat(&[&wire("admin.example.com."), &wire("errors.example.com.")])
    );
    assert_eq!(
        one(&zone, "afs.example.com.", Rtype::Afsdb).rdata,
        cat(&[&[0, 1], &wire("afsserver.example.com.")])
    );
    let naptr = find(&zone, "naptr.example.com.", Rtype::Naptr);
    assert_eq!(
        naptr[0].rdata,
        cat(&[
            &[0, 100, 0, 10],
            b"\x01S\x07SIP+D2U\x00",
            &wire("_sip._udp.example.com.")
        ])
    );
    assert_eq!(*naptr[1].rdata.last().unwrap(), 0, "replacement '.'");
    assert_eq!(
        one(&zone, "alias.example.com.", Rtype::Dname).rdata,
        wire("example.net.")
    );
}

#[test]
fn generic_rdata_for_unknown_and_known_types() {
    let zone = good();
    let ds = one(&zone, "sub.example.com.", Rtype::Ds);
    assert_eq!(ds.rdata.len(), 36);
    assert_eq!(ds.rdata[..4], [0xec, 0x45, 0x0d, 0x02]);
    assert_eq!(ds.rdata[35], 0xa6);
    assert_eq!(
        one(&zone, "unknown.example.com.", Rtype::from(65280)).rdata,
        [10, 0, 0, 1]
    );
    assert!(
        one(&zone, "unknown.example.com.", Rtype::from(65281))
            .rdata
            .is_empty()
    );
    assert_eq!(
        one(&zone, "generic.example.com.", Rtype::A).rdata,
        [192, 0, 2, 99]
    );
    // After the second $ORIGIN, @ and relative names use it.
    assert_eq!(
        one(&zone, "sub2.example.com.", Rtype::A).rdata,
        [192, 0, 2, 100]
    );
    assert_eq!(
        one(&zone, "deep.sub2.example.com.", Rtype::Aaaa).rdata[10..],
        [0xff, 0xff, 192, 0, 2, 101]
    );
}

#[test]
fn export_import_export_is_byte_identical() {
    for (text, apex) in [(GOOD, "example.com."), (LEGACY, "example.org.")] {
        let zone = parse(text, Some(&name(apex))).unwrap();
        let first = export(&zone);
        let back = parse(&first, None).unwrap();
        assert_eq!(back, zone, "same records in the same order");
        let second = export(&back);
        assert_eq!(first, second);
        let again = parse(&second, Some(&name(apex))).unwrap();
        assert_eq!(export(&again), first);
    }
}

#[test]
fn export_format() {
    let out = export(&good());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "; zone example.com. exported by dynzone");
    assert_eq!(
        lines[1],
        "example.com.\t5400\tIN\tSOA\tns1.example.com. hostmaster.example.com. \
         2024010101 7200 1800 777600 300"
    );
    for want in [
        "txt.example.com.\t5400\tIN\tTXT\t\"one string with spaces; and a semicolon\" \
         \"second\" \"say \\\"hi\\\"\" \"ABC\"",
        "utf8.example.com.\t5400\tIN\tTXT\t\"caf\\195\\169\" \"tab\\009\"",
        "odd\\.label.example.com.\t5400\tIN\tTXT\t\"one label holding a dot\"",
        "space\\032here.example.com.\t5400\tIN\tTXT\t\"a label holding a space\"",
        "example.com.\t5400\tIN\tCAA\t128 iodef \"mailto:security@example.com\"",
        "sub.example.com.\t5400\tIN\tDS\t\\# 36 EC450D024C6FE33E2CB5BE6EF10E0F0E3A1D5AB7DE0A2D3AC79D20E1DEF3C4A3 A4D7C5A6",
        "unknown.example.com.\t5400\tIN\tTYPE65280\t\\# 4 0A000001",
        "unknown.example.com.\t5400\tIN\tTYPE65281\t\\# 0",
        "generic.example.com.\t5400\tIN\tA\t192.0.2.99",
        "naptr.example.com.\t5400\tIN\tNAPTR\t102 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .",
        "deep.sub2.example.com.\t5400\tIN\tAAAA\t::ffff:192.0.2.101",
    ] {
        assert!(lines.contains(&want), "missing line {want:?} in\n{out}");
    }
    assert_eq!(lines.len(), 1 + good().records.len());
}

#[test]
fn write_prints_malformed_rdata_generically_and_soa_first() {
    let apex = origin();
    let records = vec![
        ZoneRecord {
            owner: name("a.example.com."),
            rtype: Rtype::A,
            ttl: 1,
            rdata: vec![1, 2, 3],
        },
        ZoneRecord {
            owner: name("example.com."),
            rtype: Rtype::Soa,
            ttl: 2,
            rdata: cat(&[&wire("ns.example.com."), &wire("h.example.com."), &[0; 20]]),
        },
    ];
    let mut out = Vec::new();
    write(&apex, &records, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "; zone example.com. exported by dynzone\n\
         example.com.\t2\tIN\tSOA\tns.example.com. h.example.com. 0 0 0 0 0\n\
         a.example.com.\t1\tIN\tA\t\\# 3 010203\n"
    );
}

#[test]
fn legacy_mail_types_and_px() {
    let zone = parse(LEGACY, None).unwrap();
    assert_eq!(zone.apex, name("example.org."));
    assert_eq!(zone.records[0].ttl, 3600);
    for (owner, rtype, target) in [
        ("md.example.org.", Rtype::Md, "mailhost.example.org."),
        ("mf.example.org.", Rtype::Mf, "mailhost.example.net."),
        ("mb.example.org.", Rtype::Mb, "mailhost.example.org."),
        ("mg.example.org.", Rtype::Mg, "someone.example.org."),
        ("mr.example.org.", Rtype::Mr, "someone.else.example.org."),
    ] {
        assert_eq!(one(&zone, owner, rtype).rdata, wire(target), "{rtype}");
    }
    assert_eq!(
        one(&zone, "px.example.org.", Rtype::Px).rdata,
        cat(&[
            &[0, 10],
            &wire("net2.it."),
            &wire("PRMD-net2.ADMD-p400.C-it.")
        ])
    );
}

#[test]
fn ttl_defaults_without_dollar_ttl() {
    // RFC 2308 §4 as BIND: the SOA without a TTL takes its MINIMUM, and that
    // becomes the default.
    let text = "@ SOA ns h 1 2 3 4 300\n NS ns\nns 60 A 192.0.2.1\nx A 192.0.2.2\n";
    let zone = parse(text, Some(&origin())).unwrap();
    let ttls: Vec<u32> = zone.records.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [300, 300, 60, 300]);
    // RFC 1035 §5.1: without $TTL and SOA default, the last TTL written.
    let text = "@ 100 SOA ns h 1 2 3 4 300\n NS ns\nns 60 A 192.0.2.1\nx A 192.0.2.2\n";
    let zone = parse(text, Some(&origin())).unwrap();
    let ttls: Vec<u32> = zone.records.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [100, 100, 60, 60]);
}

#[test]
fn duplicates_are_kept_and_case_is_kept() {
    let text = "$TTL 1h\n@ SOA ns h 1 2 3 4 5\n NS ns\nNS A 192.0.2.1\nns A 192.0.2.1\n";
    let zone = parse(text, Some(&origin())).unwrap();
    assert_eq!(zone.records.len(), 4);
    assert_eq!(
        zone.records[2].owner.as_wire(),
        b"\x02NS\x07example\x03com\x00"
    );
    assert!(export(&zone).contains("\nNS.example.com.\t3600\tIN\tA\t192.0.2.1\n"));
}

/// The header every inline bad zone starts with: lines 1 to 4.
const HEAD: &str = "$TTL 1h\n@ SOA ns hostmaster 1 2h 1h 1w 5m\n NS ns\nns A 192.0.2.1\n";

#[test]
fn bad_inline_inputs_give_the_right_line() {
    let long_owner = format!("{}.", vec!["a".repeat(63); 4].join("."));
    let cases: Vec<(String, usize, &str)> = vec![
        ("www A 192.0.2.1.5\n".into(), 5, "IPv4"),
        ("www AAAA 192.0.2.1\n".into(), 5, "IPv6"),
        (
            format!("{} A 192.0.2.1\n", "b".repeat(64)),
            5,
            "label of 64",
        ),
        (format!("{long_owner} A 192.0.2.1\n"), 5, "257 octets"),
        (format!("t TXT \"{}\"\n", "x".repeat(256)), 5, "256 octets"),
        ("www BOGUS 1\n".into(), 5, "unknown type 'BOGUS'"),
        ("www 300 HS A 192.0.2.1\n".into(), 5, "class HS"),
        ("www CLASS3 A 192.0.2.1\n".into(), 5, "class CLASS3"),
        (
            "$INCLUDE other.zone\n".into(),
            5,
            "$INCLUDE is not supported",
        ),
        ("$GENERATE 1-2 a$ A 192.0.2.$\n".into(), 5, "$GENERATE"),
        ("$FOO bar\n".into(), 5, "unknown directive"),
        ("$TTL\n".into(), 5, "takes one"),
        ("$TTL 1y\n".into(), 5, "TTL"),
        ("www 2147483648 A 192.0.2.1\n".into(), 5, "RFC 2181"),
        ("www TXT (\n \"a\"\n".into(), 5, "'('"),
        ("www A 192.0.2.2\n\nx A 192.0.2.3 )\n".into(), 7, "')'"),
        ("www TYPE65280 \\# 2 010203\n".into(), 5, "\\# says 2"),
        ("www TYPE65280 \\# 2 01\n".into(), 5, "but 1 follow"),
        ("www TYPE65280 \\# 2 0x02\n".into(), 5, "hexadecimal"),
        ("www MX \\# 4 000a0161\n".into(), 5, "not a valid MX"),
        ("www TYPE65280 1 2\n".into(), 5, "generic form"),
        ("sub DS 1 8 2 abcd\n".into(), 5, "DS \\# <length> <hex>"),
        ("www SSHFP 1 1 abcd\n".into(), 5, "SSHFP \\#"),
        ("www ANY \\# 0\n".into(), 5, "meta type"),
        ("www TYPE0 \\# 0\n".into(), 5, "type 0"),
        ("www MX 10\n".into(), 5, "RDATA ends"),
        ("www MX ( 10\n\n  mail extra )\n".into(), 7, "'extra'"),
        ("www MX 65536 mail\n".into(), 5, "65535"),
        ("www SOA ns h 1h 2 3 4 5\n".into(), 5, "number"),
        ("www CAA 256 issue \"x\"\n".into(), 5, "255"),
        ("www CAA 0 is_sue \"x\"\n".into(), 5, "CAA tag"),
        ("www TXT \"abc\n".into(), 5, "closing"),
        ("a\\25 A 192.0.2.1\n".into(), 5, "\\DDD"),
        ("a..b A 192.0.2.1\n".into(), 5, "empty label"),
        ("\"quoted\" A 192.0.2.1\n".into(), 5, "quoted"),
        ("www A \"192.0.2.1\"\n".into(), 5, "quoted"),
        ("www\n".into(), 5, "without a type"),
        (
            "www CNAME ns\nx A 192.0.2.2\nwww A 192.0.2.3\n".into(),
            7,
            "beside a CNAME",
        ),
        (
            "www A 192.0.2.3\n\nwww CNAME ns\n".into(),
            7,
            "CNAME beside",
        ),
        ("@ CNAME other.example.\n".into(), 5, "CNAME beside"),
        (
            "x A 192.0.2.3\n@ SOA ns h 2 2 3 4 5\n".into(),
            6,
            "a second SOA",
        ),
        ("sub SOA ns h 1 2 3 4 5\n".into(), 5, "not at the zone apex"),
        (
            "www.example.net. A 192.0.2.1\n".into(),
            5,
            "outside the zone",
        ),
    ];
    for (tail, line, needle) in cases {
        let text = format!("{HEAD}{tail}last A 192.0.2.200\n");
        let err = parse(&text, Some(&origin())).expect_err(&text);
        assert_eq!(err.line, line, "{err} for\n{text}");
        assert!(err.message.contains(needle), "{err} lacks {needle:?}");
        assert!(err.to_string().starts_with(&format!("line {line}: ")));
    }
}

#[test]
fn bad_whole_files_give_the_right_line() {
    let zone = |text: &str| parse(text, Some(&origin())).unwrap_err();
    let err = zone("$TTL 1h\n\nns A 192.0.2.1\n@ NS ns\n");
    assert_eq!(
        (err.line, err.message.contains("no SOA")),
        (3, true),
        "{err}"
    );
    let err = parse("$TTL 1h\n\nns.example. A 192.0.2.1\n", None).unwrap_err();
    assert_eq!(
        (err.line, err.message.contains("no SOA")),
        (3, true),
        "{err}"
    );
    let err = zone("$TTL 1h\n@ SOA ns h 1 2 3 4 5\nns A 192.0.2.1\n");
    assert_eq!(
        (err.line, err.message.contains("no NS")),
        (2, true),
        "{err}"
    );
    let err = zone("ns A 192.0.2.1\n@ SOA ns h 1 2 3 4 5\n");
    assert_eq!(
        (err.line, err.message.contains("no TTL")),
        (1, true),
        "{err}"
    );
    let err = parse("$TTL 1h\n\n@ SOA ns h 1 2 3 4 5\n", None).unwrap_err();
    assert_eq!((err.line, err.message.contains("'@'")), (3, true), "{err}");
    let err = parse("$TTL 1h\nexample. SOA ns h 1 2 3 4 5\n", None).unwrap_err();
    assert_eq!(
        (err.line, err.message.contains("relative")),
        (2, true),
        "{err}"
    );
    let err = zone(" A 192.0.2.1\n");
    assert_eq!(
        (err.line, err.message.contains("previous owner")),
        (1, true)
    );
    let err = zone("");
    assert!(err.message.contains("no SOA"), "{err}");
}

/// Each file of `tests/data/zones/bad/`: the line dynzone reports, words of
/// its message, and whether BIND's named-checkzone rejects the file too.
const BAD_FILES: &[(&str, usize, &str, bool)] = &[
    ("bad-escape", 5, "above 255", true),
    ("bad-ipv4", 5, "not an IPv4 address", true),
    ("bad-ipv6", 5, "not an IPv6 address", true),
    ("bad-ttl", 5, "TTL '1h30'", true),
    ("caa-bad-tag", 5, "CAA tag", true),
    ("class-ch", 5, "class CH", true),
    ("cname-and-other", 7, "data beside a CNAME", true),
    ("cname-at-apex", 5, "CNAME beside other data", true),
    ("generic-invalid", 5, "not a valid A", true),
    ("generic-length", 5, "\\# says 3", true),
    ("include", 5, "$INCLUDE is not supported", true),
    ("label-too-long", 5, "label of 64 octets", true),
    ("name-too-long", 5, "257 octets", true),
    ("no-ns", 2, "no NS record", true),
    ("no-soa", 3, "no SOA record", true),
    ("no-ttl", 2, "no TTL", true),
    ("soa-not-at-apex", 5, "not at the zone apex", true),
    ("trailing-data", 5, "'extra'", true),
    ("two-soa", 6, "a second SOA", true),
    ("txt-too-long", 5, "256 octets", true),
    ("unbalanced-close", 5, "')' without", true),
    ("unbalanced-open", 5, "'(' without", true),
    ("unknown-type", 5, "unknown type 'FOO'", true),
    ("unterminated-quote", 5, "closing", true),
    // dynzone is stricter than BIND here: BIND reads DS in text form, and
    // drops out-of-zone records with a warning where dynzone refuses the file.
    ("ds-text", 6, "generic form", false),
    ("outside-zone", 5, "outside the zone", false),
];

fn bad_file(stem: &str) -> PathBuf {
    zones_dir().join("bad").join(format!("{stem}.zone"))
}

#[test]
fn bad_files_give_the_right_line() {
    let dir = zones_dir().join("bad");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = BAD_FILES.iter().map(|f| format!("{}.zone", f.0)).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every bad file is in BAD_FILES");
    for &(stem, line, needle, _) in BAD_FILES {
        let text = std::fs::read_to_string(bad_file(stem)).unwrap();
        let err = parse(&text, Some(&origin())).expect_err(stem);
        assert_eq!(err.line, line, "{stem}: {err}");
        assert!(
            err.message.contains(needle),
            "{stem}: {err} lacks {needle:?}"
        );
    }
}

/// Runs a zone checker on `file`; a missing tool fails the test with the
/// package to install (`common::run_tool`), it never skips.
fn check_with(program: &str, args: &[&str], file: &Path) -> (bool, String) {
    let mut all = args.to_vec();
    all.push(file.to_str().expect("a UTF-8 path"));
    let output = run_tool(program, &all);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn named_checkzone(apex: &str, file: &Path) -> (bool, String) {
    check_with("named-checkzone", &[apex], file)
}

fn kzonecheck(apex: &str, file: &Path) -> (bool, String) {
    check_with("kzonecheck", &["-o", apex], file)
}

#[test]
fn bind_and_knot_accept_the_good_zone_and_our_export_of_it() {
    let source = zones_dir().join("example.com.zone");
    let exported = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zonefile-export.example.com.zone");
    std::fs::write(&exported, export(&good())).unwrap();
    for file in [&source, &exported] {
        let (ok, out) = named_checkzone("example.com.", file);
        assert!(ok, "named-checkzone rejects {}:\n{out}", file.display());
        let (ok, out) = kzonecheck("example.com.", file);
        assert!(ok, "kzonecheck rejects {}:\n{out}", file.display());
    }
}

#[test]
fn bind_agrees_on_the_bad_files() {
    for &(stem, _, _, bind_rejects) in BAD_FILES {
        let (ok, out) = named_checkzone("example.com.", &bad_file(stem));
        assert_eq!(!ok, bind_rejects, "named-checkzone on {stem}:\n{out}");
    }
}

mod props {
    //! Any zone of valid records prints and reads back to the same records,
    //! and no text makes the parser panic.

    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn label() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            vec(any::<u8>(), 1..8),
            vec(prop::sample::select(b"aZ09-_.\\\"();@$ *".to_vec()), 1..6),
        ]
    }

    /// An absolute name of up to three labels, in wire form.
    fn name_wire() -> impl Strategy<Value = Vec<u8>> {
        vec(label(), 0..4).prop_map(|labels| {
            let mut w = Vec::new();
            for l in labels {
                w.push(l.len() as u8);
                w.extend_from_slice(&l);
            }
            w.push(0);
            w
        })
    }

    fn owner() -> impl Strategy<Value = NameBuf> {
        vec(label(), 0..3).prop_map(|labels| {
            let mut w = Vec::new();
            for l in labels {
                w.push(l.len() as u8);
                w.extend_from_slice(&l);
            }
            w.extend_from_slice(origin().as_wire());
            dynzone::wire::Name::from_wire(&w).unwrap().to_buf()
        })
    }

    fn char_string() -> impl Strategy<Value = Vec<u8>> {
        vec(any::<u8>(), 0..20).prop_map(|s| [vec![s.len() as u8], s].concat())
    }

    fn u16b() -> impl Strategy<Value = Vec<u8>> {
        any::<u16>().prop_map(|n| n.to_be_bytes().to_vec())
    }

    /// A type and RDATA that is valid for it.
    fn typed_rdata() -> impl Strategy<Value = (Rtype, Vec<u8>)> {
        let one_name = prop::sample::select(vec![
            Rtype::Ns,
            Rtype::Ptr,
            Rtype::Md,
            Rtype::Mf,
            Rtype::Mb,
            Rtype::Mg,
            Rtype::Mr,
            Rtype::Dname,
        ]);
        let pref_name = prop::sample::select(vec![Rtype::Mx, Rtype::Afsdb, Rtype::Rt]);
        let two_names = prop::sample::select(vec![Rtype::Minfo, Rtype::Rp]);
        let opaque = prop_oneof![
            prop::sample::select(vec![43u16, 44, 48, 52, 64, 65, 99, 256]),
            1000u16..=65535,
        ];
        prop_oneof![
            any::<[u8; 4]>().prop_map(|a| (Rtype::A, a.to_vec())),
            any::<[u8; 16]>().prop_map(|a| (Rtype::Aaaa, a.to_vec())),
            (one_name, name_wire()),
            (pref_name, u16b(), name_wire()).prop_map(|(t, p, n)| (t, [p, n].concat())),
            (two_names, name_wire(), name_wire()).prop_map(|(t, a, b)| (t, [a, b].concat())),
            (u16b(), name_wire(), name_wire())
                .prop_map(|(p, a, b)| (Rtype::Px, [p, a, b].concat())),
            (u16b(), u16b(), u16b(), name_wire())
                .prop_map(|(a, b, c, n)| (Rtype::Srv, [a, b, c, n].concat())),
            (char_string(), char_string()).prop_map(|(a, b)| (Rtype::Hinfo, [a, b].concat())),
            (
                u16b(),
                u16b(),
                char_string(),
                char_string(),
                char_string(),
                name_wire()
            )
                .prop_map(|(a, b, c, d, e, n)| (Rtype::Naptr, [a, b, c, d, e, n].concat())),
            vec(char_string(), 1..4).prop_map(|s| (Rtype::Txt, s.concat())),
            (any::<u8>(), "[a-zA-Z0-9]{1,15}", vec(any::<u8>(), 0..40)).prop_map(|(f, tag, v)| {
                (
                    Rtype::Caa,
                    [vec![f, tag.len() as u8], tag.into_bytes(), v].concat(),
                )
            }),
            (opaque, vec(any::<u8>(), 0..80)).prop_map(|(t, d)| (Rtype::from(t), d)),
        ]
    }

    fn record() -> impl Strategy<Value = ZoneRecord> {
        (owner(), typed_rdata(), 0u32..=0x7fff_ffff).prop_map(|(owner, (rtype, rdata), ttl)| {
            ZoneRecord {
                owner,
                rtype,
                ttl,
                rdata,
            }
        })
    }

    fn apex_records() -> Vec<ZoneRecord> {
        let text = "@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\n";
        parse(text, Some(&origin())).unwrap().records
    }

    proptest! {
        #![proptest_config(crate::common::props::config("zonefile", 256))]

        #[test]
        fn write_then_parse_gives_the_same_records(records in vec(record(), 0..12)) {
            let records = [apex_records(), records].concat();
            let mut first = Vec::new();
            write(&origin(), &records, &mut first).unwrap();
            let text = String::from_utf8(first.clone()).unwrap();
            let back = parse(&text, None).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back.apex, origin());
            prop_assert_eq!(&back.records, &records);
            for (a, b) in back.records.iter().zip(&records) {
                prop_assert_eq!(a.owner.as_wire(), b.owner.as_wire());
            }
            let mut second = Vec::new();
            write(&back.apex, &back.records, &mut second).unwrap();
            prop_assert_eq!(first, second);
        }

        #[test]
        fn parse_never_panics_on_zone_like_text(
            text in "([ \t]|[a-z0-9]{1,5}|[.@$;()\"\\\\#]|\n|IN|TXT|A|MX|SOA|TYPE65280|\\$TTL|\\$ORIGIN){0,60}",
        ) {
            let _ = parse(&text, Some(&origin()));
            let _ = parse(&text, None);
        }

        #[test]
        fn parse_never_panics_on_a_damaged_good_zone(
            cuts in vec((0usize..GOOD.len(), any::<char>()), 1..6),
        ) {
            let mut text: Vec<char> = GOOD.chars().collect();
            for (at, c) in cuts {
                let at = at % text.len();
                text[at] = c;
            }
            let text: String = text.into_iter().collect();
            let _ = parse(&text, Some(&origin()));
        }
    }
}

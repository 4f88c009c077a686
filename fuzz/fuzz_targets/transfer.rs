//! AXFR and IXFR out (RFC 5936, RFC 1995) over TCP, over a real LMDB store
//! holding `tests/data/zones/example.com.zone` and big.example.com, a zone
//! of 300 TXT records below it (a stream of several messages, left out of
//! example.com's), drained as the TCP connection drains a stream
//! (`Handler::take_stream`, `Stream::next`). big.example.com is imported
//! three times (serials 7, 8 and 9: changed, removed, added records and a
//! TTL change), so its journal holds two changes and an IXFR from 7 or 8
//! is answered with the changes.
//!
//! The first input byte picks how the rest is used: a multiple of 4 hands the
//! rest to the handler as a raw request; anything else reads it as choices
//! that build a well-formed transfer request (AXFR or IXFR; either apex in
//! any case, a name near them or another zone; any QCLASS; an extra question; up to
//! two authority SOAs with any serial and owner; EDNS of version 0 or not;
//! unsigned, signed with the fixture key at the fixture clock, signed with an
//! unknown key or at the wrong time; from a peer inside or outside
//! 127.0.0.0/8; to a handler whose `--allow-transfer` is the prefix alone or
//! the prefix and the key), so that the stream path is reached often.
//!
//! The oracle: no panic; every reply parses and carries the ID with QR set. A
//! stream's messages all have the ID, QR, AA, NOERROR, no TC, the question in
//! the first only, a TSIG in each when the request was signed (the first
//! verified against the request MAC), an OPT in the first when the request
//! had EDNS; they are at most one per record, and a stream of more messages
//! than the zone has records fails. Their records are the zone's SOA (current
//! serial), then either nothing more (the SOA alone: only for an IXFR whose
//! client serial is not older, RFC 1982), or exactly the zone's other records
//! (as a multiset of owner, type, TTL, RDATA) and the SOA again, or (only for
//! an IXFR from a serial the journal holds, and then always) the changes:
//! old SOA, deletions, new SOA, additions, chained from the client's serial
//! to the current one, which applied strictly (each deletion present, each
//! addition absent) to the zone as it was at the client's serial give the
//! zone as it is, and the SOA again (RFC 1995 §4). A structured
//! request's RCODE is what it must be: NOTAUTH for a bad TSIG or a QNAME that
//! is not the apex of a zone of ours in class IN, BADVERS for EDNS above 0,
//! REFUSED when the ACL says no, and a stream otherwise.

#![no_main]

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;

use dynzone::handler::{Auth, Config, Handler, Origin, Ticket, Transport};
use dynzone::store::{Store, WriteBatch};
use dynzone::transfer::{Acl, Allow};
use dynzone::tsig::{Algorithm, Key, KeySet};
use dynzone::wire::{
    Class, Message, MessageBuilder, Name, NameBuf, RData, Rcode, Rtype, Section, Soa, SoaRdata,
};
use libfuzzer_sys::fuzz_target;

mod common;

const NOW: u64 = 1_790_000_000;

/// One record as compared: canonical owner, type, TTL, RDATA.
type Rr = (Vec<u8>, u16, u32, Vec<u8>);

/// One zone of the fixture, as a transfer must send it.
struct Zone {
    apex: NameBuf,
    /// The zone's SOA: TTL, RDATA, serial.
    soa_ttl: u32,
    soa: Vec<u8>,
    serial: u32,
    /// The zone's records but the SOA, sorted.
    rest: Vec<Rr>,
    /// The earlier versions the journal holds, oldest first: serial and
    /// records but the SOA, sorted.
    versions: Vec<(u32, Vec<Rr>)>,
    /// The records of every change in the journal, SOAs included.
    journal_records: usize,
}

/// How a transfer stream answers (RFC 1995 §4, RFC 5936).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// The SOA alone: the client is up to date.
    SoaAlone,
    /// The whole zone, AXFR-style.
    Whole,
    /// The changes from the client's serial, from the journal.
    Incremental,
}

struct Fixture {
    /// `--allow-transfer ZONE:127.0.0.0/8` for each zone.
    open: Handler,
    /// The same prefix and the fixture key: both needed.
    keyed: Handler,
    _store: Store,
    key: Key,
    /// A key the handler does not know.
    stranger: Key,
    /// example.com, and big.example.com: a zone of its own below it, of
    /// about 70 KiB (several messages; left out of example.com's stream).
    zones: Vec<Zone>,
    request: Vec<u8>,
    response: Vec<u8>,
}

/// Records of big.example.com at `serial` (7, 8 or 9): its SOA and NS, and
/// 300 TXT records of 200 octets. At 8, t0 says something else and t1 has
/// a TTL of 600; at 9, t2 is gone, an A record and a second NS are added.
fn big_zone(serial: u32) -> String {
    let mut text = format!(
        "$ORIGIN big.example.com.\n$TTL 300\n\
         @ SOA ns1.example.com. hostmaster.example.com. {serial} 3600 900 1209600 300\n\
         @ NS ns1.example.com.\n"
    );
    for i in 0..300 {
        match (i, serial) {
            (0, 8..) => text.push_str("t0 TXT \"changed\"\n"),
            (1, 8..) => text.push_str(&format!("t1 600 TXT \"{i:0>200}\"\n")),
            (2, 9..) => {}
            _ => text.push_str(&format!("t{i} TXT \"{i:0>200}\"\n")),
        }
    }
    if serial >= 9 {
        text.push_str("new A 192.0.2.9\n@ NS ns2.example.com.\n");
    }
    text
}

/// The records of a change from `old` to `new` (two SOAs, the deleted
/// and the added), as the journal's differ makes it: an RRset whose TTL
/// changes is deleted and added whole.
fn change_records(old: &[Rr], new: &[Rr]) -> usize {
    let set = |rr: &Rr| (rr.0.clone(), rr.1);
    let ttls = |rrs: &[Rr]| -> std::collections::BTreeMap<(Vec<u8>, u16), u32> {
        rrs.iter().map(|rr| (set(rr), rr.2)).collect()
    };
    let (old_ttl, new_ttl) = (ttls(old), ttls(new));
    let retimed = |rr: &Rr| {
        old_ttl
            .get(&set(rr))
            .zip(new_ttl.get(&set(rr)))
            .is_some_and(|(a, b)| a != b)
    };
    let deleted = old
        .iter()
        .filter(|rr| retimed(rr) || !new.contains(rr))
        .count();
    let added = new
        .iter()
        .filter(|rr| retimed(rr) || !old.contains(rr))
        .count();
    2 + deleted + added
}

/// What a transfer of the zone at `apex` must send, read from `store`.
fn zone(store: &Store, apex: NameBuf) -> Zone {
    let records = store.zone_records(apex.as_name()).expect("the zone reads");
    let mut soa = None;
    let mut rest = Vec::new();
    for r in &records {
        let owner = canonical(r.owner.as_name());
        if r.rtype == Rtype::Soa && owner == canonical(apex.as_name()) {
            soa = Some((r.ttl, r.rdata.clone()));
        } else {
            rest.push((owner, u16::from(r.rtype), r.ttl, r.rdata.clone()));
        }
    }
    rest.sort();
    let (soa_ttl, soa) = soa.expect("the zone has a SOA");
    let serial = SoaRdata::new(&soa).expect("SOA RDATA").serial();
    Zone {
        apex,
        soa_ttl,
        soa,
        serial,
        rest,
        versions: Vec::new(),
        journal_records: 0,
    }
}

fn key(name: &str, byte: u8) -> Key {
    let name = NameBuf::from_text(name).expect("key name");
    Key::new(name.as_name(), Algorithm::HmacSha256, vec![byte; 32]).expect("key")
}

fn fixture() -> Fixture {
    let store = common::example_store("transfer");
    let key = key("fuzz-key", 7);
    let mut versions: Vec<Zone> = Vec::new();
    let mut big_apex = None;
    for serial in 7..=9 {
        let big = dynzone::zonefile::parse(&big_zone(serial), None).expect("the big zone parses");
        let stored = store
            .replace_zone(big.apex.as_name(), &big.records)
            .expect("the big zone loads");
        assert_eq!(stored, serial, "an import of a newer serial keeps it");
        versions.push(zone(&store, big.apex));
        big_apex = Some(big.apex);
    }
    let big_apex = big_apex.expect("the big zone");
    if let Err(violations) = store.check_invariants() {
        panic!("the fixture's store invariant:\n{}", violations.join("\n"));
    }
    let apexes = [NameBuf::from_text("example.com").expect("apex"), big_apex];
    let handler = |with_key: bool| {
        let mut keys = KeySet::new();
        let index = keys.add(key.clone()).expect("one key");
        let mut transfer = Acl::default();
        for apex in apexes {
            let prefix = "127.0.0.0".parse().expect("address");
            transfer.add(apex, Allow::Prefix(prefix, 8));
            if with_key {
                transfer.add(apex, Allow::Key(index));
            }
        }
        let auth = Auth {
            keys,
            transfer,
            ..Default::default()
        };
        Handler::new(&store, Config::default())
            .expect("handler")
            .with_auth(Arc::new(auth))
    };
    let (open, keyed) = (handler(false), handler(true));
    let mut zones: Vec<Zone> = apexes.iter().map(|apex| zone(&store, *apex)).collect();
    if let Some(big) = zones.get_mut(1) {
        for pair in versions.windows(2) {
            if let [old, new] = pair {
                big.journal_records += change_records(&old.rest, &new.rest);
                big.versions.push((old.serial, old.rest.clone()));
            }
        }
    }
    Fixture {
        open,
        keyed,
        _store: store,
        key,
        stranger: self::key("stranger", 9),
        zones,
        request: vec![0; 65535],
        response: vec![0; 65535],
    }
}

thread_local! {
    static FIXTURE: RefCell<Fixture> = RefCell::new(fixture());
}

fn canonical(name: Name<'_>) -> Vec<u8> {
    name.to_canonical().as_wire().to_vec()
}

/// RFC 1982 §3.2: `a > b`; `None` when undefined (2^31 apart).
fn serial_gt(a: u32, b: u32) -> Option<bool> {
    match a.wrapping_sub(b) {
        0 => Some(false),
        0x8000_0000 => None,
        d => Some(d < 0x8000_0000),
    }
}

/// The input as a sequence of choices; zeros once it runs out.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// What a structured request must get.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// A reply of this RCODE, not a stream.
    Rcode(Rcode),
    /// A reply that is not a stream, of an RCODE the query path picks.
    NoStream,
    /// A stream of this shape, or (`None`: RFC 1982 leaves the comparison
    /// undefined) the SOA alone or the whole zone.
    Stream(Option<Shape>),
}

/// The shape an IXFR from `theirs` (`None`: an AXFR, or an IXFR without
/// the client's SOA) must get from `zone`.
fn expected_shape(zone: &Zone, theirs: Option<u32>) -> Option<Shape> {
    let Some(theirs) = theirs else {
        return Some(Shape::Whole);
    };
    match serial_gt(zone.serial, theirs) {
        None => None,
        Some(false) => Some(Shape::SoaAlone),
        Some(true) if zone.versions.iter().any(|(s, _)| *s == theirs) => Some(Shape::Incremental),
        Some(true) => Some(Shape::Whole),
    }
}

/// What the request asked, as far as the stream is checked against it.
struct Asked {
    id: u16,
    question: Option<(Vec<u8>, Rtype, Class)>,
    edns: bool,
    /// The request MAC and the key, when signed with a key we hold.
    mac: Option<(Vec<u8>, Key)>,
    signed: bool,
}

const NAMES: [&str; 11] = [
    "example.com",
    "EXAMPLE.com",
    "eXaMpLe.CoM",
    "big.example.com",
    "www.example.com",
    "sub.example.com",
    "sub2.example.com",
    "example.net",
    "com",
    "BIG.Example.COM",
    "t1.big.example.com",
];

/// The zone whose apex `NAMES[index]` is.
fn zone_of(index: usize) -> Option<usize> {
    match index {
        0..=2 => Some(0),
        3 | 9 => Some(1),
        _ => None,
    }
}

/// Builds a structured request into `f.request`; returns its length, the
/// handler to use (keyed or not), the peer and what must come back.
#[allow(clippy::type_complexity)]
fn build(f: &mut Fixture, c: &mut Choices<'_>) -> Option<(usize, bool, SocketAddr, usize, Expect)> {
    let b0 = c.u8();
    let keyed = b0 & 1 != 0;
    let peer: SocketAddr = match (b0 >> 1) & 3 {
        0 | 1 => "127.0.0.1:40000",
        2 => "192.0.2.1:40000",
        _ => "[::ffff:127.0.0.1]:40000",
    }
    .parse()
    .expect("address");
    let in_prefix = (b0 >> 1) & 3 != 2;
    let ixfr = b0 & 8 != 0;
    let rd = b0 & 16 != 0;
    let tsig = (b0 >> 5) & 3;
    let edns = b0 & 0x80 != 0;

    let qname_index = usize::from(c.u8()) % NAMES.len();
    let qname = NameBuf::from_text(NAMES[qname_index]).expect("name");
    let zone = zone_of(qname_index);
    let serial = f.zones[zone.unwrap_or(0)].serial;
    let qclass = match c.u8() {
        0..=199 => Class::In,
        200..=209 => Class::Ch,
        210..=219 => Class::Any,
        220..=229 => Class::None,
        230..=239 => Class::Hs,
        _ => Class::from(c.u16()),
    };
    let extra_question = c.u8() >= 230;
    let soas = c.u8() % 4;
    let mut authority = Vec::new();
    for i in 0..soas.min(2) {
        let serial = match c.u8() % 8 {
            0 => serial,
            1 => serial.wrapping_sub(1),
            2 => serial.wrapping_add(1),
            3 => serial.wrapping_add(0x8000_0000),
            4 => serial.wrapping_sub(0x7fff_ffff),
            5 => 0,
            // A serial of the journal (big.example.com's 7 and 8).
            6 => {
                let versions = &f.zones[1].versions;
                versions
                    .get(usize::from(c.u8()) % versions.len().max(1))
                    .map_or(serial, |(s, _)| *s)
            }
            _ => c.u32(),
        };
        // The fourth choice: one SOA owned by another name.
        let owner = if soas == 3 && i == 0 {
            NameBuf::from_text(NAMES[4 + usize::from(c.u8()) % 5]).expect("name")
        } else {
            qname
        };
        authority.push((owner, serial));
    }
    let version = match c.u8() {
        0..=239 => 0,
        v => v - 239,
    };
    let payload = c.u16();
    let skew: i64 = match c.u8() {
        0..=239 => 0,
        // Past the fudge (300 s) either way: BADTIME.
        s if s % 2 == 0 => 301 + (i64::from(s) - 240) * 100,
        s => -301 - (i64::from(s) - 240) * 100,
    };
    let id = c.u16();

    let mut b = MessageBuilder::new(&mut f.request, 65535).ok()?;
    b.set_id(id);
    b.flags_mut().set_rd(rd);
    let qtype = if ixfr { Rtype::Ixfr } else { Rtype::Axfr };
    b.question(qname.as_name(), qtype, qclass).ok()?;
    if extra_question {
        b.question(qname.as_name(), Rtype::Soa, Class::In).ok()?;
    }
    let mname = NameBuf::from_text("ns1.example.com").expect("name");
    let rname = NameBuf::from_text("hostmaster.example.com").expect("name");
    for (owner, serial) in &authority {
        let soa = RData::Soa(Soa {
            mname: mname.as_name(),
            rname: rname.as_name(),
            serial: *serial,
            refresh: 7200,
            retry: 1800,
            expire: 1_382_400,
            minimum: 300,
        });
        b.record(
            Section::Authority,
            owner.as_name(),
            Rtype::Soa,
            Class::In,
            3600,
            &soa,
        )
        .ok()?;
    }
    if edns {
        b.opt(payload, 0, version, 0, &[]).ok()?;
    }
    let now = NOW.checked_add_signed(skew)?;
    let len = match tsig {
        0 => b.finish(),
        1 | 2 => dynzone::tsig::sign_request(&f.key, b, now, 300).ok()?,
        _ => dynzone::tsig::sign_request(&f.stranger, b, now, 300).ok()?,
    };

    let good_tsig = matches!(tsig, 1 | 2);
    let expect = if tsig == 3 || (tsig != 0 && skew != 0) {
        Expect::Rcode(Rcode::NotAuth)
    } else if edns && version > 0 {
        Expect::Rcode(Rcode::BadVers)
    } else if extra_question {
        Expect::NoStream
    } else if zone.is_none() || qclass != Class::In {
        Expect::Rcode(Rcode::NotAuth)
    } else if !in_prefix || (keyed && !good_tsig) {
        Expect::Rcode(Rcode::Refused)
    } else if !ixfr {
        Expect::Stream(Some(Shape::Whole))
    } else {
        // RFC 1995 §3: the first SOA of the authority section owned by the
        // QNAME is the client's.
        let theirs = authority
            .iter()
            .find(|(owner, _)| owner.as_name().eq_ignore_case(&qname.as_name()))
            .map(|(_, serial)| *serial);
        Expect::Stream(expected_shape(&f.zones[zone.unwrap_or(0)], theirs))
    };
    Some((len, keyed, peer, zone.unwrap_or(0), expect))
}

/// What a raw request that streams must get, read from the request itself.
fn raw_expectation(zone: &Zone, msg: &Message<'_>) -> Option<Shape> {
    let q = msg.question()?;
    if q.qtype != Rtype::Ixfr {
        return Some(Shape::Whole);
    }
    let theirs = msg.authority().find_map(|r| match r.data {
        RData::Soa(soa) if r.owner.eq_ignore_case(&q.name) => Some(soa.serial),
        _ => None,
    });
    expected_shape(zone, theirs)
}

fn asked(f: &Fixture, request: &Message<'_>) -> Asked {
    let tsig = request.tsig();
    let mac = tsig
        .filter(|t| t.key_name.eq_ignore_case(&f.key.name()))
        .map(|t| (t.data.mac.to_vec(), f.key.clone()));
    Asked {
        id: request.header().id,
        question: request
            .question()
            .map(|q| (canonical(q.name), q.qtype, q.qclass)),
        edns: request.edns().is_some(),
        mac,
        signed: tsig.is_some(),
    }
}

/// Checks one message of a stream and adds its records to `records`.
fn check_message(bytes: &[u8], index: usize, asked: &Asked, records: &mut Vec<Rr>) {
    let msg = Message::parse(bytes).expect("a stream message parses");
    let header = msg.header();
    assert_eq!(header.id, asked.id, "message {index}: same ID");
    assert!(header.flags.qr(), "message {index}: QR");
    assert!(header.flags.aa(), "message {index}: AA");
    assert!(!header.flags.tc(), "message {index}: TC in a transfer");
    assert_eq!(msg.rcode(), Rcode::NoError, "message {index}: RCODE");
    let questions: Vec<_> = msg
        .questions()
        .map(|q| (canonical(q.name), q.qtype, q.qclass))
        .collect();
    if index == 0 {
        let question = asked.question.clone().expect("a stream answers a question");
        assert_eq!(questions, [question], "the first message has the question");
    } else {
        assert!(questions.is_empty(), "message {index} repeats the question");
    }
    match msg.tsig() {
        Some(_) => assert!(asked.signed, "message {index} signed, the request was not"),
        None => assert!(!asked.signed, "message {index} of a signed stream unsigned"),
    }
    if index == 0
        && let Some((mac, key)) = &asked.mac
    {
        dynzone::tsig::verify_response(key, mac, &msg).expect("the first message verifies");
    }
    if index == 0 {
        assert_eq!(msg.edns().is_some(), asked.edns, "OPT in the first message");
    }
    assert_eq!(
        header.count(Section::Authority),
        0,
        "message {index}: authority"
    );
    for r in msg.answers() {
        assert_eq!(r.class, Class::In, "message {index}: class");
        records.push((
            canonical(r.owner),
            u16::from(r.rtype),
            r.ttl,
            r.rdata.to_vec(),
        ));
    }
    assert!(
        msg.answers().next().is_some(),
        "message {index} holds no record"
    );
}

/// Drains the stream the handler started and checks it; `shape` is the
/// shape it must have (`None`: the SOA alone or the whole zone).
fn check_stream(
    f: &mut Fixture,
    keyed: bool,
    zone: usize,
    first: usize,
    asked: &Asked,
    shape: Option<Shape>,
) {
    let handler = if keyed { &mut f.keyed } else { &mut f.open };
    let zone = &f.zones[zone];
    let mut stream = handler.take_stream().expect("a stream was started");
    // Every record but the SOA, and the SOA twice; or every change.
    let most_records = (zone.rest.len() + 2).max(zone.journal_records + 2);
    let mut records = Vec::new();
    check_message(&f.response[..first], 0, asked, &mut records);
    let mut messages = 1usize;
    loop {
        match stream.next(&mut f.response, NOW) {
            Ok(Some(len)) => {
                check_message(&f.response[..len], messages, asked, &mut records);
                messages += 1;
                assert!(
                    messages <= most_records,
                    "{messages} messages for at most {most_records} records"
                );
            }
            Ok(None) => break,
            Err(e) => panic!("the stream failed after {messages} messages: {e:?}"),
        }
    }
    assert!(stream.is_done(), "the stream ended without saying so");
    assert!(
        messages <= records.len(),
        "{messages} messages, {} records",
        records.len()
    );
    assert!(records.len() <= most_records, "{} records", records.len());
    let soa: Rr = (
        canonical(zone.apex.as_name()),
        u16::from(Rtype::Soa),
        zone.soa_ttl,
        zone.soa.clone(),
    );
    assert_eq!(records.first(), Some(&soa), "the stream opens with the SOA");
    assert_eq!(records.last(), Some(&soa), "the stream closes with the SOA");
    let is_soa = |rr: &Rr| rr.0 == soa.0 && rr.1 == soa.1;
    let seen = match records.get(1) {
        None => Shape::SoaAlone,
        Some(rr) if is_soa(rr) && records.len() > 2 => Shape::Incremental,
        Some(_) => Shape::Whole,
    };
    match shape {
        Some(want) => assert_eq!(seen, want, "the stream's shape"),
        None => assert_ne!(seen, Shape::Incremental, "changes for an undefined serial"),
    }
    let middle = records.get(1..records.len() - 1).unwrap_or_default();
    match seen {
        Shape::SoaAlone => {}
        Shape::Whole => {
            let mut middle = middle.to_vec();
            middle.sort();
            assert!(
                middle == zone.rest,
                "the stream's records are not the zone's"
            );
        }
        Shape::Incremental => check_changes(zone, middle, &is_soa),
    }
}

/// RFC 1995 §4: `changes` (between the opening and closing SOA) are
/// sequences of old SOA, deletions, new SOA, additions, chained from a
/// serial the journal holds to the zone's; applied strictly to the zone as
/// it was at that serial they give the zone as it is.
fn check_changes(zone: &Zone, changes: &[Rr], is_soa: &dyn Fn(&Rr) -> bool) {
    let serial_of = |rr: &Rr| SoaRdata::new(&rr.3).expect("SOA RDATA").serial();
    let first = changes.first().expect("a change");
    assert!(is_soa(first), "the changes open with the client's SOA");
    let from = serial_of(first);
    let (_, base) = zone
        .versions
        .iter()
        .find(|(s, _)| *s == from)
        .unwrap_or_else(|| panic!("changes from {from}, a serial the journal does not hold"));
    let mut content: std::collections::BTreeSet<Rr> = base.iter().cloned().collect();
    let mut serial = from;
    let mut deleting = true;
    for rr in &changes[1..] {
        if is_soa(rr) {
            if deleting {
                let to = serial_of(rr);
                assert_eq!(
                    serial_gt(to, serial),
                    Some(true),
                    "a change to an older serial"
                );
                serial = to;
            } else {
                assert_eq!(
                    serial_of(rr),
                    serial,
                    "a change starts where the last ended"
                );
            }
            deleting = !deleting;
        } else if deleting {
            assert!(
                content.remove(rr),
                "a deletion of a record absent at {serial}: {rr:?}"
            );
        } else {
            assert!(
                content.insert(rr.clone()),
                "an addition of a record present at {serial}: {rr:?}"
            );
        }
    }
    assert!(!deleting, "the last change has no new SOA");
    assert_eq!(serial, zone.serial, "the changes end at the zone's serial");
    let content: Vec<Rr> = content.into_iter().collect();
    assert!(
        content == zone.rest,
        "the changes applied do not give the zone"
    );
}

fn raw(f: &mut Fixture, keyed: bool, request: &[u8]) {
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let origin = Origin::new(NOW, peer, Transport::Tcp);
    let handler = if keyed { &mut f.keyed } else { &mut f.open };
    let mut batch = WriteBatch::none();
    let Some(reply) = handler.handle_in(
        &mut batch,
        Ticket::default(),
        origin,
        request,
        &mut f.response,
    ) else {
        return;
    };
    let len = reply.len;
    let msg = Message::parse(&f.response[..len]).expect("the reply parses");
    assert_eq!(&f.response[..2], &request[..2], "same ID");
    assert!(msg.header().flags.qr());
    let Ok(req) = Message::parse(request) else {
        assert!(!reply.stream, "a request that does not parse streams");
        return;
    };
    let transfer = req.header().count(Section::Question) == 1
        && req
            .question()
            .is_some_and(|q| q.qtype == Rtype::Axfr || q.qtype == Rtype::Ixfr);
    if reply.stream {
        let q = req.question().expect("a stream answers a question");
        assert!(transfer, "a stream for a {:?} query", q.qtype);
        let zone = f
            .zones
            .iter()
            .position(|z| q.name.eq_ignore_case(&z.apex.as_name()))
            .unwrap_or_else(|| panic!("a stream of {}", q.name));
        assert_eq!(q.qclass, Class::In, "a stream for class {:?}", q.qclass);
        let shape = raw_expectation(&f.zones[zone], &req);
        let asked = asked(f, &req);
        check_stream(f, keyed, zone, len, &asked, shape);
    } else if transfer {
        let rcode = msg.rcode();
        assert!(
            matches!(
                rcode,
                Rcode::NotAuth
                    | Rcode::Refused
                    | Rcode::NotImp
                    | Rcode::FormErr
                    | Rcode::ServFail
                    | Rcode::BadVers
            ),
            "a transfer request answered {rcode:?} without a stream"
        );
    }
}

fn structured(f: &mut Fixture, c: &mut Choices<'_>) {
    let Some((len, keyed, peer, zone, expect)) = build(f, c) else {
        return;
    };
    let origin = Origin::new(NOW, peer, Transport::Tcp);
    let handler = if keyed { &mut f.keyed } else { &mut f.open };
    let mut batch = WriteBatch::none();
    let reply = handler
        .handle_in(
            &mut batch,
            Ticket::default(),
            origin,
            &f.request[..len],
            &mut f.response,
        )
        .expect("a well-formed request gets a reply");
    let msg = Message::parse(&f.response[..reply.len]).expect("the reply parses");
    assert_eq!(&f.response[..2], &f.request[..2], "same ID");
    assert!(msg.header().flags.qr());
    let rcode = msg.rcode();
    match expect {
        Expect::Stream(shape) => {
            assert!(
                reply.stream,
                "no stream ({rcode:?}) for a transfer that must stream"
            );
            let req = Message::parse(&f.request[..len]).expect("our request parses");
            let asked = asked(f, &req);
            check_stream(f, keyed, zone, reply.len, &asked, shape);
        }
        Expect::Rcode(want) => {
            assert!(!reply.stream, "a stream where {want:?} was due");
            assert_eq!(rcode, want, "the RCODE");
            if want == Rcode::Refused && msg.tsig().is_none() {
                let req = Message::parse(&f.request[..len]).expect("our request parses");
                assert!(req.tsig().is_none(), "a signed request refused unsigned");
            }
        }
        Expect::NoStream => {
            assert!(!reply.stream, "a stream for a request of two questions");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    FIXTURE.with(|f| {
        let f = &mut *f.borrow_mut();
        if selector % 4 == 0 {
            raw(f, selector & 4 != 0, rest);
        } else {
            structured(f, &mut Choices(rest));
        }
    });
});

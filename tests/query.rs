//! The request handler over a real LMDB store: every kind of answer RFC 1034
//! §4.3.2, RFC 2308, RFC 4592, RFC 6891 and RFC 8482 describe, checked field by
//! field. The same behaviour is checked against the running binary with dig and
//! kdig in `tests/serve.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::net::SocketAddr;

use common::zone::{a, name, open_store, soa};
use dynzone::handler::{Config, Handler, Transport};
use dynzone::wire::{Class, Message, Opcode, RData, Rcode, Rtype, Section};

const PEER: &str = "127.0.0.1:5353";
const NOW: u64 = 1_790_000_000;

struct Reply {
    rcode: Rcode,
    aa: bool,
    tc: bool,
    rd: bool,
    id: u16,
    len: usize,
    question: String,
    answer: Vec<String>,
    authority: Vec<String>,
    additional: Vec<String>,
    opt: Option<(u16, u8, u8)>,
}

fn show(r: &dynzone::wire::Record<'_>) -> String {
    let data = match r.data {
        RData::A(ip) => ip.to_string(),
        RData::Aaaa(ip) => ip.to_string(),
        RData::Ns(n) | RData::Cname(n) => n.to_string(),
        RData::Soa(s) => format!("{} {}", s.mname, s.serial),
        RData::Txt(t) => t
            .strings()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        other => format!("{other:?}"),
    };
    format!("{} {} {} {}", r.owner, r.ttl, r.rtype, data)
}

struct Query<'a> {
    name: &'a str,
    qtype: Rtype,
    class: Class,
    edns: Option<(u16, u8)>,
    opcode: Opcode,
    transport: Transport,
}

fn q(name: &str, qtype: Rtype) -> Query<'_> {
    Query {
        name,
        qtype,
        class: Class::In,
        edns: None,
        opcode: Opcode::Query,
        transport: Transport::Udp,
    }
}

fn build(query: &Query<'_>) -> Vec<u8> {
    let mut q = common::wire::Query::new(0xbeef, query.name, query.qtype)
        .class(query.class)
        .opcode(query.opcode)
        .rd();
    if let Some((size, version)) = query.edns {
        q = q.edns(size, version);
    }
    q.bytes()
}

fn ask_bytes(handler: &mut Handler, transport: Transport, request: &[u8]) -> Option<Reply> {
    let mut out = [0u8; 65535];
    let peer: SocketAddr = PEER.parse().unwrap();
    let len = handler.handle(NOW, peer, transport, request, &mut out)?;
    let msg = Message::parse(&out[..len]).expect("the reply parses");
    let h = msg.header();
    let records = |s: Section| {
        msg.records(s)
            .filter(|r| r.rtype != Rtype::Opt)
            .map(|r| show(&r))
            .collect::<Vec<_>>()
    };
    Some(Reply {
        rcode: msg.rcode(),
        aa: h.flags.aa(),
        tc: h.flags.tc(),
        rd: h.flags.rd(),
        id: h.id,
        len,
        question: msg
            .question()
            .map(|q| format!("{} {} {}", q.name, q.qtype, q.qclass))
            .unwrap_or_default(),
        answer: records(Section::Answer),
        authority: records(Section::Authority),
        additional: records(Section::Additional),
        opt: msg.edns().map(|e| (e.udp_payload, e.version, e.ext_rcode)),
    })
}

fn ask(handler: &mut Handler, query: Query<'_>) -> Reply {
    ask_bytes(handler, query.transport, &build(&query)).expect("a reply")
}

fn setup() -> (tempfile::TempDir, dynzone::store::Store, Handler) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let handler = Handler::new(&store, Config::default()).unwrap();
    (dir, store, handler)
}

const SOA: &str = "example.test. 300 SOA ns1.example.test. 1";

#[test]
fn exact_match_is_authoritative_and_echoes_the_question() {
    let (_d, _s, mut h) = setup();
    let r = ask(&mut h, q("WwW.Example.TEST", Rtype::A));
    assert_eq!(r.rcode, Rcode::NoError);
    assert!(r.aa && !r.tc && r.rd);
    assert_eq!(r.id, 0xbeef);
    assert_eq!(r.question, "WwW.Example.TEST. A IN", "case kept (0x20)");
    assert_eq!(
        r.answer,
        vec![
            "WwW.Example.TEST. 300 A 192.0.2.10",
            "WwW.Example.TEST. 300 A 192.0.2.11"
        ]
    );
    assert!(r.authority.is_empty() && r.additional.is_empty());
    assert_eq!(r.opt, None, "no OPT without EDNS in the request");
}

#[test]
fn apex_soa_and_ns() {
    let (_d, _s, mut h) = setup();
    let r = ask(&mut h, q("example.test", Rtype::Soa));
    assert!(r.aa);
    assert_eq!(r.answer, vec!["example.test. 3600 SOA ns1.example.test. 1"]);
    let r = ask(&mut h, q("example.test", Rtype::Ns));
    assert_eq!(
        r.answer,
        vec![
            "example.test. 3600 NS ns1.example.test.",
            "example.test. 3600 NS ns2.example.test."
        ]
    );
}

#[test]
fn nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl() {
    let (_d, _s, mut h) = setup();
    let r = ask(&mut h, q("nope.example.test", Rtype::A));
    assert_eq!(r.rcode, Rcode::NxDomain);
    assert!(r.aa);
    assert!(r.answer.is_empty());
    assert_eq!(r.authority, vec![SOA], "RFC 2308 §3: TTL min(3600, 300)");
    // Header 12, question 23, SOA: owner pointer 2, fixed 10, MNAME "ns1" and
    // RNAME "hostmaster" each ending in a pointer to the apex, 20 octets of
    // numbers (RFC 3597 §4 allows compressing SOA names).
    assert_eq!(r.len, 12 + 23 + 2 + 10 + (1 + 3 + 2) + (1 + 10 + 2) + 20);

    let r = ask(&mut h, q("ns1.example.test", Rtype::Aaaa));
    assert_eq!(r.rcode, Rcode::NoError);
    assert!(r.aa && r.answer.is_empty());
    assert_eq!(r.authority, vec![SOA]);
}

#[test]
fn empty_non_terminals_are_nodata_not_nxdomain() {
    let (_d, _s, mut h) = setup();
    for ent in ["c.example.test", "b.c.example.test"] {
        let r = ask(&mut h, q(ent, Rtype::A));
        assert_eq!(r.rcode, Rcode::NoError, "{ent}");
        assert!(r.answer.is_empty());
        assert_eq!(r.authority, vec![SOA]);
    }
    let r = ask(&mut h, q("x.b.c.example.test", Rtype::A));
    assert_eq!(r.rcode, Rcode::NxDomain);
    let r = ask(&mut h, q("a.b.c.example.test", Rtype::Txt));
    assert_eq!(r.answer, vec!["a.b.c.example.test. 300 TXT deep"]);
}

#[test]
fn cname_chains_are_followed_inside_the_zone() {
    let (_d, _s, mut h) = setup();
    let r = ask(&mut h, q("chain.example.test", Rtype::A));
    assert_eq!(r.rcode, Rcode::NoError);
    assert!(r.aa);
    assert_eq!(
        r.answer,
        vec![
            "chain.example.test. 300 CNAME alias.example.test.",
            "alias.example.test. 300 CNAME www.example.test.",
            "www.example.test. 300 A 192.0.2.10",
            "www.example.test. 300 A 192.0.2.11",
        ]
    );
    // Asking for the CNAME itself does not follow it.
    let r = ask(&mut h, q("alias.example.test", Rtype::Cname));
    assert_eq!(
        r.answer,
        vec!["alias.example.test. 300 CNAME www.example.test."]
    );
    // Out of the zone: the CNAME alone.
    let r = ask(&mut h, q("outside.example.test", Rtype::A));
    assert_eq!(r.rcode, Rcode::NoError);
    assert_eq!(
        r.answer,
        vec!["outside.example.test. 300 CNAME www.elsewhere.net."]
    );
    assert!(r.authority.is_empty());
    // RFC 6604: the RCODE is that of the last name of the chain.
    let r = ask(&mut h, q("dangling.example.test", Rtype::A));
    assert_eq!(r.rcode, Rcode::NxDomain);
    assert_eq!(
        r.answer,
        vec!["dangling.example.test. 300 CNAME nothere.example.test."]
    );
    assert_eq!(r.authority, vec![SOA]);
    // NODATA at the end of a chain.
    let r = ask(&mut h, q("alias.example.test", Rtype::Mx));
    assert_eq!(r.rcode, Rcode::NoError);
    assert_eq!(r.answer.len(), 1);
    assert_eq!(r.authority, vec![SOA]);
}

#[test]
fn a_cname_loop_ends() {
    let (_d, _s, mut h) = setup();
    let r = ask(&mut h, q("loop1.example.test", Rtype::A));
    assert_eq!(r.rcode, Rcode::NoError);
    assert_eq!(r.answer.len(), dynzone::query::MAX_CNAME_CHAIN);
}

#[test]
fn delegations_are_referrals_with_glue_and_no_aa() {
    let (_d, _s, mut h) = setup();
    for qname in [
        "sub.example.test",
        "host.sub.example.test",
        "occluded.sub.example.test",
    ] {
        let r = ask(&mut h, q(qname, Rtype::A));
        assert_eq!(r.rcode, Rcode::NoError, "{qname}");
        assert!(!r.aa, "{qname}: RFC 1034 §4.3.2 step 3b: not authoritative");
        assert!(
            r.answer.is_empty(),
            "{qname}: occluded data is never answered"
        );
        assert_eq!(
            r.authority,
            vec![
                "sub.example.test. 3600 NS ns.sub.example.test.",
                "sub.example.test. 3600 NS ns1.example.test.",
            ]
        );
        assert_eq!(
            r.additional,
            vec![
                "ns.sub.example.test. 300 A 192.0.2.53",
                "ns1.example.test. 300 A 192.0.2.1"
            ]
        );
    }
    // NS at the cut is a referral too; DS at the cut is the parent's (NODATA here).
    let r = ask(&mut h, q("sub.example.test", Rtype::Ns));
    assert!(!r.aa && r.answer.is_empty() && r.authority.len() == 2);
    let r = ask(&mut h, q("sub.example.test", Rtype::Ds));
    assert!(r.aa);
    assert_eq!(r.rcode, Rcode::NoError);
    assert_eq!(r.authority, vec![SOA]);
}

#[test]
fn wildcards_synthesize_with_the_query_name() {
    let (_d, _s, mut h) = setup();
    let r = ask(&mut h, q("Anything.wild.example.test", Rtype::A));
    assert_eq!(r.rcode, Rcode::NoError);
    assert!(r.aa);
    assert_eq!(
        r.answer,
        vec!["Anything.wild.example.test. 300 A 192.0.2.99"]
    );
    let r = ask(&mut h, q("x.y.wild.example.test", Rtype::Txt));
    assert_eq!(r.answer, vec!["x.y.wild.example.test. 300 TXT wild"]);
    // NODATA from a wildcard.
    let r = ask(&mut h, q("other.wild.example.test", Rtype::Aaaa));
    assert_eq!(r.rcode, Rcode::NoError);
    assert!(r.answer.is_empty());
    assert_eq!(r.authority, vec![SOA]);
    // RFC 4592 §2.2.1: an existing name blocks the wildcard.
    let r = ask(&mut h, q("exists.wild.example.test", Rtype::A));
    assert_eq!(r.answer, vec!["exists.wild.example.test. 300 A 192.0.2.98"]);
    let r = ask(&mut h, q("exists.wild.example.test", Rtype::Txt));
    assert!(r.answer.is_empty(), "NODATA, not the wildcard's TXT");
    // ...and so does an existing name below which the query falls.
    let r = ask(&mut h, q("below.exists.wild.example.test", Rtype::A));
    assert_eq!(r.rcode, Rcode::NxDomain);
    // The wildcard itself, asked literally.
    let r = ask(&mut h, q("*.wild.example.test", Rtype::A));
    assert_eq!(r.answer, vec!["*.wild.example.test. 300 A 192.0.2.99"]);
    // A wildcard CNAME is followed.
    let r = ask(&mut h, q("foo.cnwild.example.test", Rtype::Aaaa));
    assert_eq!(
        r.answer,
        vec![
            "foo.cnwild.example.test. 300 CNAME www.example.test.",
            "www.example.test. 300 AAAA 2001:db8::10",
        ]
    );
}

#[test]
fn any_gets_one_rrset() {
    let (_d, _s, mut h) = setup();
    let r = ask(&mut h, q("www.example.test", Rtype::Any));
    assert_eq!(r.rcode, Rcode::NoError);
    assert!(r.aa);
    assert_eq!(r.answer.len(), 2, "RFC 8482 §4.2: one RRset (the A set)");
    assert!(r.answer.iter().all(|l| l.contains(" A ")));
    let r = ask(&mut h, q("c.example.test", Rtype::Any));
    assert!(r.answer.is_empty() && r.rcode == Rcode::NoError);
}

#[test]
fn names_outside_our_zones_and_other_classes_are_refused() {
    let (_d, _s, mut h) = setup();
    for qname in ["example.com", "test", ".", "xexample.test"] {
        let r = ask(&mut h, q(qname, Rtype::A));
        assert_eq!(r.rcode, Rcode::Refused, "{qname}");
        assert!(!r.aa && r.answer.is_empty() && r.authority.is_empty());
    }
    let mut chaos = q("version.bind", Rtype::Txt);
    chaos.class = Class::Ch;
    assert_eq!(ask(&mut h, chaos).rcode, Rcode::Refused);
    let mut chaos = q("www.example.test", Rtype::A);
    chaos.class = Class::Ch;
    assert_eq!(ask(&mut h, chaos).rcode, Rcode::Refused);
    // AXFR over UDP: NOTIMP, as Knot and NSD answer (tests/transfer.rs
    // has AXFR over TCP).
    let r = ask(&mut h, q("example.test", Rtype::Axfr));
    assert_eq!(r.rcode, Rcode::NotImp);
}

#[test]
fn unknown_opcodes_are_notimp() {
    let (_d, _s, mut h) = setup();
    for op in [Opcode::Status, Opcode::Unknown(3), Opcode::Unknown(15)] {
        let mut query = q("www.example.test", Rtype::A);
        query.opcode = op;
        let r = ask(&mut h, query);
        assert_eq!(r.rcode, Rcode::NotImp, "{op:?}");
        assert!(r.answer.is_empty());
    }
    // NOTIFY (RFC 1996) is answered: acknowledged with AA for the apex of a
    // zone of ours (tests/transfer.rs has the rest), FORMERR for a type
    // other than SOA, NOTAUTH for a name that is no apex.
    for (name, qtype, rcode) in [
        ("example.test", Rtype::Soa, Rcode::NoError),
        ("www.example.test", Rtype::A, Rcode::FormErr),
        ("www.example.test", Rtype::Soa, Rcode::NotAuth),
    ] {
        let mut notify = q(name, qtype);
        notify.opcode = Opcode::Notify;
        let r = ask(&mut h, notify);
        assert_eq!(r.rcode, rcode, "NOTIFY {name} {qtype}");
        assert_eq!(r.aa, rcode == Rcode::NoError, "NOTIFY {name} {qtype}");
        assert!(r.answer.is_empty() && r.authority.is_empty());
        assert!(r.question.contains(name), "{}", r.question);
    }
    // An UPDATE without TSIG (and this handler has no keys) is refused.
    let mut update = q("example.test", Rtype::Soa);
    update.opcode = Opcode::Update;
    let r = ask(&mut h, update);
    assert_eq!(r.rcode, Rcode::Refused);
}

#[test]
fn edns_is_echoed_and_bad_versions_get_badvers() {
    let (_d, _s, mut h) = setup();
    let mut query = q("www.example.test", Rtype::A);
    query.edns = Some((4096, 0));
    let r = ask(&mut h, query);
    assert_eq!(r.opt, Some((1232, 0, 0)));
    assert_eq!(r.answer.len(), 2);

    let mut query = q("www.example.test", Rtype::A);
    query.edns = Some((4096, 1));
    let r = ask(&mut h, query);
    assert_eq!(r.rcode, Rcode::BadVers, "RFC 6891 §6.1.3");
    assert_eq!(r.opt.map(|o| (o.1, o.2)), Some((0, 1)));
    assert!(r.answer.is_empty());
}

#[test]
fn udp_answers_are_limited_and_truncated() {
    let (_d, _s, mut h) = setup();
    // No EDNS: 512 octets, TC set, the client retries over TCP.
    let r = ask(&mut h, q("big.example.test", Rtype::Txt));
    assert!(r.tc && r.len <= 512);
    // RFC 2181 §9: nothing partial; the question, TC, and AA (it is our data).
    assert!(r.answer.is_empty() && r.authority.is_empty());
    assert_eq!(r.question, "big.example.test. TXT IN");
    assert!(r.aa);
    assert_eq!(r.rcode, Rcode::NoError);
    // EDNS 4096 offered, but we cap at 1232.
    let mut query = q("big.example.test", Rtype::Txt);
    query.edns = Some((4096, 0));
    let r = ask(&mut h, query);
    assert!(r.tc && r.len <= 1232);
    assert!(r.answer.is_empty());
    assert!(r.opt.is_some(), "OPT kept even when truncated");
    // 1232 octets are enough for part of the set: it is still all or nothing.
    let mut query = q("big.example.test", Rtype::Txt);
    query.edns = Some((4096, 0));
    query.transport = Transport::Tcp;
    assert!(ask(&mut h, query).len > 1232);
    // An offer below 512 counts as 512.
    let mut query = q("big.example.test", Rtype::Txt);
    query.edns = Some((100, 0));
    let r = ask(&mut h, query);
    assert!(r.tc && r.len <= 512);
    // TCP: everything.
    let mut query = q("big.example.test", Rtype::Txt);
    query.transport = Transport::Tcp;
    let r = ask(&mut h, query);
    assert!(!r.tc);
    assert_eq!(r.answer.len(), 40);
}

#[test]
fn malformed_requests_get_formerr_or_are_dropped() {
    let (_d, _s, mut h) = setup();
    let good = build(&q("www.example.test", Rtype::A));
    // Shorter than a header: dropped.
    assert!(ask_bytes(&mut h, Transport::Udp, &good[..11]).is_none());
    // A response sent to us: dropped.
    let mut resp = good.clone();
    resp[2] |= 0x80;
    assert!(ask_bytes(&mut h, Transport::Udp, &resp).is_none());
    // Trailing bytes: FORMERR, header only.
    let mut trailing = good.clone();
    trailing.push(0);
    let r = ask_bytes(&mut h, Transport::Udp, &trailing).unwrap();
    assert_eq!(r.rcode, Rcode::FormErr);
    assert_eq!(r.id, 0xbeef);
    assert!(r.question.is_empty());
    // Two questions: FORMERR.
    let mut two = good.clone();
    let qbytes = two[12..].to_vec();
    two.extend_from_slice(&qbytes);
    two[5] = 2;
    let r = ask_bytes(&mut h, Transport::Udp, &two).unwrap();
    assert_eq!(r.rcode, Rcode::FormErr);
    // No question: FORMERR.
    let r = ask_bytes(
        &mut h,
        Transport::Udp,
        &[0xbe, 0xef, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )
    .unwrap();
    assert_eq!(r.rcode, Rcode::FormErr);
    // Asking for OPT: FORMERR.
    assert_eq!(
        ask(&mut h, q("www.example.test", Rtype::Opt)).rcode,
        Rcode::FormErr
    );
}

#[test]
fn a_new_import_is_seen_without_a_new_handler() {
    let (_d, store, mut h) = setup();
    assert_eq!(
        ask(&mut h, q("new.example.test", Rtype::A)).rcode,
        Rcode::NxDomain
    );
    let (apex, mut records) = common::zone::example_zone();
    records[0] = soa("example.test", 2);
    records.push(a("new.example.test", [198, 51, 100, 7]));
    store.replace_zone(apex.as_name(), &records).unwrap();
    let r = ask(&mut h, q("new.example.test", Rtype::A));
    assert_eq!(r.answer, vec!["new.example.test. 300 A 198.51.100.7"]);
    let r = ask(&mut h, q("example.test", Rtype::Soa));
    assert_eq!(r.answer, vec!["example.test. 3600 SOA ns1.example.test. 2"]);
}

#[test]
fn the_deepest_zone_answers() {
    let (_d, store, mut h) = setup();
    let child = name("deep.sub.example.test");
    store
        .replace_zone(
            child.as_name(),
            &[
                soa("deep.sub.example.test", 7),
                common::zone::ns("deep.sub.example.test", "ns1.example.test"),
                a("www.deep.sub.example.test", [203, 0, 113, 1]),
            ],
        )
        .unwrap();
    let r = ask(&mut h, q("www.deep.sub.example.test", Rtype::A));
    assert!(r.aa);
    assert_eq!(
        r.answer,
        vec!["www.deep.sub.example.test. 300 A 203.0.113.1"]
    );
    let r = ask(&mut h, q("nx.deep.sub.example.test", Rtype::A));
    assert_eq!(r.rcode, Rcode::NxDomain);
    assert_eq!(
        r.authority,
        vec!["deep.sub.example.test. 300 SOA ns1.deep.sub.example.test. 7"]
    );
    // The parent's export leaves the child zone out.
    let parent = store.zone_records(name("example.test").as_name()).unwrap();
    assert!(
        parent
            .iter()
            .all(|r| !r.owner.as_name().is_at_or_below(&child.as_name()))
    );
}

#[test]
fn more_zones_than_the_reader_caches_are_still_found() {
    let (_d, store, mut h) = setup();
    // 40 zones (the reader keeps 32 apexes in memory, then asks LMDB per label).
    for i in 0..40 {
        let apex = format!("z{i:02}.test");
        store
            .replace_zone(
                name(&apex).as_name(),
                &[
                    soa(&apex, i),
                    common::zone::ns(&apex, "ns1.example.test"),
                    a(&format!("www.{apex}"), [192, 0, 2, i as u8]),
                ],
            )
            .unwrap();
    }
    for i in [0u32, 31, 32, 39] {
        let r = ask(&mut h, q(&format!("www.z{i:02}.test"), Rtype::A));
        assert_eq!(
            r.answer,
            vec![format!("www.z{i:02}.test. 300 A 192.0.2.{i}")]
        );
        let r = ask(&mut h, q(&format!("nx.z{i:02}.test"), Rtype::A));
        assert_eq!(r.rcode, Rcode::NxDomain);
        assert_eq!(
            r.authority,
            vec![format!("z{i:02}.test. 300 SOA ns1.z{i:02}.test. {i}")]
        );
    }
    assert_eq!(ask(&mut h, q("www.example.test", Rtype::A)).answer.len(), 2);
    assert_eq!(
        ask(&mut h, q("www.z40.test", Rtype::A)).rcode,
        Rcode::Refused
    );
}

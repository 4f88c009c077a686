//! RFC 2136 UPDATE and RFC 8945 TSIG through the request handler over a real
//! LMDB store, with a fixed clock: every prerequisite kind, the prescan, the
//! four update operations, the apex and CNAME rules, all-or-nothing, the
//! serial, node bookkeeping seen through queries, grants, and the signed or
//! unsigned replies. The real clients do the same against the running binary
//! in `tests/update.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use dynzone::handler::{Auth, Config, Handler, Origin, Reply, Ticket, Transport};
use dynzone::store::{Store, WriteBatch};
use dynzone::tsig::{self, Algorithm, Key, KeySet};
use dynzone::update::{Grant, Policy};
use dynzone::wire::{
    Class, Message, MessageBuilder, NameBuf, Opcode, RData, Rcode, Rtype, Section, TsigError,
};
use dynzone::zonefile;

const NOW: u64 = 1_790_000_000;
const PEER: &str = "192.0.2.200:5300";

fn key(name: &str, secret: &[u8]) -> Key {
    Key::new(
        NameBuf::from_text(name).unwrap().as_name(),
        Algorithm::HmacSha256,
        secret.to_vec(),
    )
    .unwrap()
}

fn ddns() -> Key {
    key("ddns", b"a secret of thirty-two bytes....")
}

fn acme() -> Key {
    key("acme", b"another secret, also 32 bytes...")
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    handler: Handler,
}

/// The example zone, keys `ddns` (everything) and `acme` (TXT at
/// _acme-challenge.example.test only) when `grants`, else both open.
fn setup(grants: bool) -> Setup {
    setup_with(grants, Config::default())
}

/// [`setup`] with the handler settings `config`.
fn setup_with(grants: bool, config: Config) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = common::zone::open_store(dir.path());
    let mut keys = KeySet::new();
    let ddns_index = keys.add(ddns()).unwrap();
    let acme_index = keys.add(acme()).unwrap();
    let policy = if grants {
        Policy::new(vec![
            Grant {
                key: ddns_index,
                name: NameBuf::from_text("example.test").unwrap(),
                types: vec![],
            },
            Grant {
                key: acme_index,
                name: NameBuf::from_text("_acme-challenge.example.test").unwrap(),
                types: vec![Rtype::Txt],
            },
        ])
    } else {
        Policy::open()
    };
    let handler = Handler::new(&store, config)
        .unwrap()
        .with_auth(Arc::new(Auth {
            keys,
            policy,
            transfer: Default::default(),
        }));
    Setup {
        _dir: dir,
        store,
        handler,
    }
}

/// One line of an UPDATE's prerequisite or update section:
/// `IN <owner> <ttl> <type> <rdata>`, `ANY <owner> <type>`,
/// `NONE <owner> <type> [<rdata>]` (names relative to example.test).
fn add_line(b: &mut MessageBuilder<'_>, section: Section, line: &str) {
    let (class, rest) = line.split_once(' ').unwrap();
    let origin = NameBuf::from_text("example.test").unwrap();
    let (class, text, ttl) = match class {
        "IN" => (Class::In, rest.to_owned(), None),
        "ANY" | "NONE" => {
            let class = if class == "ANY" {
                Class::Any
            } else {
                Class::None
            };
            let (owner, tail) = rest.split_once(' ').unwrap();
            (class, format!("{owner} 0 {tail}"), Some(0))
        }
        other => panic!("class {other}"),
    };
    let parts: Vec<&str> = text.split_whitespace().collect();
    let owner =
        NameBuf::from_text(&format!("{}.example.test", parts[0]).replace("@.", "")).unwrap();
    if parts.len() == 3 {
        // No RDATA: a type (or ANY) with RDLENGTH 0.
        let rtype = zonefile::parse_type(parts[2]).unwrap();
        b.record(section, owner.as_name(), rtype, class, 0, &RData::Empty)
            .unwrap();
        return;
    }
    if parts[2].starts_with("TYPE") && parts[3] == "\\#" {
        // Generic form, built by hand: the zone parser refuses meta types.
        let rtype = zonefile::parse_type(parts[2]).unwrap();
        let hex = parts.get(5).copied().unwrap_or("");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let data = if bytes.is_empty() {
            RData::Empty
        } else {
            RData::Unknown(&bytes)
        };
        let ttl = ttl.unwrap_or_else(|| parts[1].parse().unwrap());
        b.record(section, owner.as_name(), rtype, class, ttl, &data)
            .unwrap();
        return;
    }
    // The master-file parser checks a whole zone: give it an SOA and NS.
    let header = if parts[2] == "SOA" {
        "@ 0 NS a.\n"
    } else {
        "@ 0 SOA a. b. 1 1 1 1 1\n@ 0 NS a.\n"
    };
    let zone = format!("{header}{text}\n");
    let parsed = zonefile::parse(&zone, Some(&origin)).unwrap();
    let rec = parsed.records.last().unwrap();
    let data = RData::from_wire(rec.rtype, &rec.rdata).unwrap();
    b.record(
        section,
        rec.owner.as_name(),
        rec.rtype,
        class,
        ttl.unwrap_or(rec.ttl),
        &data,
    )
    .unwrap();
}

/// Builds an UPDATE for zone `zone` (type SOA, class IN), signed with `key`
/// at `time` when given.
fn update_msg(
    zone: &str,
    prereqs: &[&str],
    updates: &[&str],
    key: Option<&Key>,
    time: u64,
) -> Vec<u8> {
    update_msg_fudge(zone, prereqs, updates, key, time, 300)
}

/// [`update_msg`] signed with TSIG fudge `fudge`.
fn update_msg_fudge(
    zone: &str,
    prereqs: &[&str],
    updates: &[&str],
    key: Option<&Key>,
    time: u64,
    fudge: u16,
) -> Vec<u8> {
    let mut buf = vec![0u8; 65535];
    let mut b = MessageBuilder::new(&mut buf, 65535).unwrap();
    b.set_id(0x2136);
    b.flags_mut().set_opcode(Opcode::Update);
    let zone = NameBuf::from_text(zone).unwrap();
    b.question(zone.as_name(), Rtype::Soa, Class::In).unwrap();
    for p in prereqs {
        add_line(&mut b, Section::PREREQUISITE, p);
    }
    for u in updates {
        add_line(&mut b, Section::UPDATE, u);
    }
    let len = match key {
        Some(k) => tsig::sign_request(k, b, time, fudge).unwrap(),
        None => b.finish(),
    };
    buf.truncate(len);
    buf
}

struct Answer {
    rcode: Rcode,
    tsig_error: Option<TsigError>,
    signed: bool,
    bytes: Vec<u8>,
}

fn send(h: &mut Handler, request: &[u8]) -> Answer {
    let mut out = vec![0u8; 65535];
    let peer: SocketAddr = PEER.parse().unwrap();
    let len = h
        .handle(NOW, peer, Transport::Tcp, request, &mut out)
        .expect("a reply");
    out.truncate(len);
    // Whatever the request did, the store's own bookkeeping holds.
    if let Err(violations) = h.store().check_invariants() {
        panic!("the store invariant is broken:\n{}", violations.join("\n"));
    }
    let msg = Message::parse(&out).unwrap();
    assert_eq!(
        msg.header().id,
        Message::parse(request).unwrap().header().id
    );
    let tsig = msg.tsig();
    let (rcode, tsig_error) = (msg.rcode(), tsig.map(|t| t.data.error));
    let signed = tsig.is_some_and(|t| !t.data.mac.is_empty());
    Answer {
        rcode,
        tsig_error,
        signed,
        bytes: out,
    }
}

/// Sends a signed update (key `ddns`) and returns the RCODE; the reply must be
/// signed and verify.
fn apply(h: &mut Handler, prereqs: &[&str], updates: &[&str]) -> Rcode {
    let k = ddns();
    let request = update_msg("example.test", prereqs, updates, Some(&k), NOW);
    let answer = send(h, &request);
    let req = Message::parse(&request).unwrap();
    let reply = Message::parse(&answer.bytes).unwrap();
    tsig::verify_response(&k, req.tsig().unwrap().data.mac, &reply)
        .expect("the reply to a signed update is signed with the same key");
    answer.rcode
}

/// The records of `owner`/`rtype` as the query path serves them, sorted,
/// as "ttl rdata-debug".
fn served(h: &mut Handler, owner: &str, rtype: Rtype) -> (Rcode, Vec<String>) {
    let name = NameBuf::from_text(owner).unwrap();
    let a = send(h, &query_msg(owner, rtype));
    let msg = Message::parse(&a.bytes).unwrap();
    let mut out: Vec<String> = msg
        .answers()
        .filter(|r| r.rtype == rtype && r.owner == name.as_name())
        .map(|r| format!("{} {:?}", r.ttl, r.data))
        .collect();
    out.sort();
    (a.rcode, out)
}

/// A plain query (ID 1) for `owner`/`rtype`.
fn query_msg(owner: &str, rtype: Rtype) -> Vec<u8> {
    common::wire::query(1, owner, rtype)
}

fn serial(h: &mut Handler) -> u32 {
    let a = send(h, &query_msg("example.test", Rtype::Soa));
    let msg = Message::parse(&a.bytes).unwrap();
    match msg.answers().next().unwrap().data {
        RData::Soa(s) => s.serial,
        other => panic!("{other:?}"),
    }
}

fn dump(s: &Setup) -> Vec<String> {
    let apex = NameBuf::from_text("example.test").unwrap();
    s.store
        .zone_records(apex.as_name())
        .unwrap()
        .iter()
        .map(|r| format!("{} {} {} {:?}", r.owner, r.ttl, r.rtype, r.rdata))
        .collect()
}

#[test]
fn adds_deletes_and_the_serial_moves_once_per_change() {
    let mut s = setup(false);
    let h = &mut s.handler;
    assert_eq!(serial(h), 1);
    let r = apply(
        h,
        &[],
        &[
            "IN home 60 A 198.51.100.7",
            "IN home 60 AAAA 2001:db8::7",
            "IN home 60 TXT \"one\"",
            "IN home 60 TXT \"two\"",
        ],
    );
    assert_eq!(r, Rcode::NoError);
    assert_eq!(serial(h), 2, "one step for a four-record update");
    assert_eq!(served(h, "home.example.test", Rtype::Txt).1.len(), 2);
    assert_eq!(
        served(h, "Home.Example.Test", Rtype::A).1,
        vec!["60 A(198.51.100.7)"]
    );
    // The same record again: no change, no serial step.
    assert_eq!(
        apply(h, &[], &["IN home 60 A 198.51.100.7"]),
        Rcode::NoError
    );
    assert_eq!(serial(h), 2);
    // A new TTL for the set (RFC 2181 §5.2: one TTL per RRset).
    assert_eq!(
        apply(h, &[], &["IN home 120 A 198.51.100.8"]),
        Rcode::NoError
    );
    assert_eq!(
        served(h, "home.example.test", Rtype::A).1,
        vec!["120 A(198.51.100.7)", "120 A(198.51.100.8)"]
    );
    assert_eq!(serial(h), 3);
    // Delete one RR (class NONE), one RRset (ANY type), then the name (ANY ANY).
    assert_eq!(apply(h, &[], &["NONE home TXT \"one\""]), Rcode::NoError);
    assert_eq!(served(h, "home.example.test", Rtype::Txt).1.len(), 1);
    assert_eq!(apply(h, &[], &["ANY home AAAA"]), Rcode::NoError);
    let (rcode, aaaa) = served(h, "home.example.test", Rtype::Aaaa);
    assert_eq!((rcode, aaaa.len()), (Rcode::NoError, 0), "NODATA");
    assert_eq!(apply(h, &[], &["ANY home ANY"]), Rcode::NoError);
    assert_eq!(served(h, "home.example.test", Rtype::A).0, Rcode::NxDomain);
    assert_eq!(serial(h), 6);
    // Deleting what is not there changes nothing.
    assert_eq!(
        apply(h, &[], &["NONE home A 192.0.2.1", "ANY nothere ANY"]),
        Rcode::NoError
    );
    assert_eq!(serial(h), 6);
}

#[test]
fn empty_non_terminals_come_and_go_with_their_children() {
    let mut s = setup(false);
    let h = &mut s.handler;
    assert_eq!(apply(h, &[], &["IN x.y.z 60 A 192.0.2.1"]), Rcode::NoError);
    // y.z and z now exist without data: NODATA, not NXDOMAIN (RFC 8020).
    assert_eq!(served(h, "y.z.example.test", Rtype::A).0, Rcode::NoError);
    assert_eq!(served(h, "z.example.test", Rtype::A).0, Rcode::NoError);
    assert_eq!(apply(h, &[], &["ANY x.y.z A"]), Rcode::NoError);
    assert_eq!(served(h, "x.y.z.example.test", Rtype::A).0, Rcode::NxDomain);
    assert_eq!(served(h, "y.z.example.test", Rtype::A).0, Rcode::NxDomain);
    assert_eq!(served(h, "z.example.test", Rtype::A).0, Rcode::NxDomain);
    // A name with data keeps existing when its child goes.
    assert_eq!(
        apply(h, &[], &["IN p 60 TXT \"p\"", "IN c.p 60 TXT \"c\""]),
        Rcode::NoError
    );
    assert_eq!(apply(h, &[], &["ANY c.p ANY"]), Rcode::NoError);
    assert_eq!(served(h, "p.example.test", Rtype::Txt).1.len(), 1);
    // An existing ENT with a remaining child stays.
    assert_eq!(apply(h, &[], &["ANY deep ANY"]), Rcode::NoError);
    assert_eq!(served(h, "b.c.example.test", Rtype::A).0, Rcode::NoError);
}

#[test]
fn every_prerequisite_kind() {
    let mut s = setup(false);
    let before = dump(&s);
    let h = &mut s.handler;
    // RFC 2136 §2.4.1–§2.4.5, failing: each RCODE, nothing applied.
    let cases: [(&str, Rcode); 7] = [
        ("ANY nothere ANY", Rcode::NxDomain),      // name is in use
        ("ANY www TXT", Rcode::NxRrset),           // RRset exists
        ("NONE www ANY", Rcode::YxDomain),         // name is not in use
        ("NONE www A", Rcode::YxRrset),            // RRset does not exist
        ("IN www 0 A 192.0.2.10", Rcode::NxRrset), // value-dependent: only one of two
        ("IN www 0 A 192.0.2.99", Rcode::NxRrset), // value-dependent: wrong value
        ("ANY b.c ANY", Rcode::NxDomain),          // an empty non-terminal owns nothing
    ];
    for (prereq, rcode) in cases {
        assert_eq!(
            apply(h, &[prereq], &["IN marker 60 A 192.0.2.1"]),
            rcode,
            "{prereq}"
        );
    }
    assert_eq!(dump(&s), before, "a failed prerequisite applies nothing");
    let h = &mut s.handler;
    // Satisfied forms.
    let ok: [&[&str]; 6] = [
        &["ANY www ANY"],
        &["ANY www A"],
        &["NONE nothere ANY"],
        &["NONE www TXT"],
        &["IN www 0 A 192.0.2.11", "IN www 0 A 192.0.2.10"],
        &[
            "IN www 0 A 192.0.2.10",
            "IN www 0 A 192.0.2.11",
            "IN www 0 A 192.0.2.10",
        ],
    ];
    for prereqs in ok {
        assert_eq!(
            apply(h, prereqs, &["IN marker 60 A 192.0.2.1"]),
            Rcode::NoError,
            "{prereqs:?}"
        );
    }
    // Names inside RDATA compare without case.
    assert_eq!(
        apply(h, &["IN alias 0 CNAME WWW.EXAMPLE.TEST."], &[]),
        Rcode::NoError
    );
    // Malformed prerequisites: TTL not 0, RDATA with class ANY.
    let k = ddns();
    let bad = update_msg(
        "example.test",
        &["IN www 60 A 192.0.2.10", "IN www 0 A 192.0.2.11"],
        &[],
        Some(&k),
        NOW,
    );
    assert_eq!(send(h, &bad).rcode, Rcode::FormErr);
}

#[test]
fn prescan_and_zone_section_errors_apply_nothing() {
    let mut s = setup(false);
    let before = dump(&s);
    let k = ddns();
    let h = &mut s.handler;
    let cases: Vec<(Vec<u8>, Rcode)> = vec![
        // Zone not ours, zone not an apex of ours: NOTAUTH.
        (
            update_msg(
                "example.org",
                &[],
                &["IN www 60 A 192.0.2.1"],
                Some(&k),
                NOW,
            ),
            Rcode::NotAuth,
        ),
        (
            update_msg("www.example.test", &[], &[], Some(&k), NOW),
            Rcode::NotAuth,
        ),
        // A good record then a meta type: FORMERR, the good one not applied.
        (
            update_msg(
                "example.test",
                &[],
                &["IN ok 60 A 192.0.2.1", "IN ok 60 TYPE255 \\# 0"],
                Some(&k),
                NOW,
            ),
            Rcode::FormErr,
        ),
        // Class ANY with RDATA: FORMERR.
        (
            update_msg(
                "example.test",
                &[],
                &["IN ok 60 A 192.0.2.1", "ANY www A 192.0.2.10"],
                Some(&k),
                NOW,
            ),
            Rcode::FormErr,
        ),
        // DNSSEC types: REFUSED.
        (
            update_msg(
                "example.test",
                &[],
                &["IN ok 60 A 192.0.2.1", "IN ok 60 TYPE47 \\# 4 00000140"],
                Some(&k),
                NOW,
            ),
            Rcode::Refused,
        ),
    ];
    for (request, rcode) in cases {
        let a = send(h, &request);
        assert_eq!(a.rcode, rcode);
        assert!(a.signed, "errors after a good TSIG are signed");
    }
    assert_eq!(dump(&s), before);
}

/// A signed UPDATE of zone `zone` adding one record with `data` at `owner`
/// (absolute names; for owners `add_line` cannot write).
fn add_one(zone: &str, owner: &str, data: &RData<'_>, k: &Key) -> Vec<u8> {
    let owner = NameBuf::from_text(owner).unwrap();
    let zone = NameBuf::from_text(zone).unwrap();
    let mut buf = vec![0u8; 2048];
    let mut b = MessageBuilder::new(&mut buf, 2048).unwrap();
    b.flags_mut().set_opcode(Opcode::Update);
    b.question(zone.as_name(), Rtype::Soa, Class::In).unwrap();
    let rtype = match data {
        RData::A(_) => Rtype::A,
        RData::Ns(_) => Rtype::Ns,
        other => panic!("add_one: {other:?}"),
    };
    b.record(Section::UPDATE, owner.as_name(), rtype, Class::In, 60, data)
        .unwrap();
    let len = tsig::sign_request(k, b, NOW, 300).unwrap();
    buf.truncate(len);
    buf
}

#[test]
fn names_outside_the_zone_are_notzone() {
    let mut s = setup(false);
    let before = dump(&s);
    let k = ddns();
    // An owner in another zone, and one label "a.example" followed by "test":
    // not below example.test.
    for owner in ["www.example.org", "a\\.example.test"] {
        let add = add_one("example.test", owner, &RData::A([192, 0, 2, 1].into()), &k);
        let a = send(&mut s.handler, &add);
        assert_eq!(a.rcode, Rcode::NotZone, "{owner}");
    }
    assert_eq!(dump(&s), before);
}

#[test]
fn apex_soa_last_ns_and_cname_rules() {
    let mut s = setup(false);
    let h = &mut s.handler;
    // The apex SOA and NS cannot be deleted as RRsets or with the name.
    assert_eq!(
        apply(
            h,
            &[],
            &[
                "ANY @ SOA",
                "ANY @ NS",
                "ANY @ ANY",
                "NONE @ SOA ns1 hostmaster 1 3600 900 1209600 300"
            ]
        ),
        Rcode::NoError
    );
    assert_eq!(served(h, "example.test", Rtype::Ns).1.len(), 2);
    assert_eq!(serial(h), 1, "nothing changed");
    // One NS can go, the last one cannot.
    assert_eq!(
        apply(h, &[], &["NONE @ NS ns1", "NONE @ NS ns2"]),
        Rcode::NoError
    );
    assert_eq!(
        served(h, "example.test", Rtype::Ns).1,
        vec!["3600 Ns(Name(ns2.example.test.))"]
    );
    // CNAME and other data: the later record is ignored (RFC 2136 §3.4.2.2).
    assert_eq!(
        apply(h, &[], &["IN www 60 CNAME elsewhere.example."]),
        Rcode::NoError
    );
    assert_eq!(served(h, "www.example.test", Rtype::Cname).1.len(), 0);
    assert_eq!(apply(h, &[], &["IN alias 60 A 192.0.2.1"]), Rcode::NoError);
    assert_eq!(served(h, "alias.example.test", Rtype::A).1.len(), 0);
    // A CNAME replaces a CNAME.
    assert_eq!(
        apply(h, &[], &["IN alias 60 CNAME ns1.example.test."]),
        Rcode::NoError
    );
    assert_eq!(
        served(h, "alias.example.test", Rtype::Cname).1,
        vec!["60 Cname(Name(ns1.example.test.))"]
    );
    // An SOA with a newer serial replaces the SOA and is not bumped again;
    // an older serial is ignored.
    let before = serial(h);
    assert_eq!(
        apply(
            h,
            &[],
            &["IN @ 300 SOA ns1 hostmaster 100 3600 900 1209600 300"]
        ),
        Rcode::NoError
    );
    assert_eq!(serial(h), 100);
    assert!(before < 100);
    assert_eq!(
        apply(
            h,
            &[],
            &["IN @ 300 SOA ns1 hostmaster 50 3600 900 1209600 300"]
        ),
        Rcode::NoError
    );
    assert_eq!(serial(h), 100);
}

#[test]
fn any_type_is_stored_as_wire_rdata() {
    let mut s = setup(false);
    let h = &mut s.handler;
    assert_eq!(
        apply(
            h,
            &[],
            &[
                "IN t 60 TYPE65280 \\# 4 deadbeef",
                "IN t 60 CAA 0 issue \"ca.example\"",
                "IN t 60 SRV 0 5 443 www.example.test.",
                "IN t 60 MX 10 mail.example.test.",
            ]
        ),
        Rcode::NoError
    );
    assert_eq!(
        served(h, "t.example.test", Rtype::Unknown(65280)).1,
        vec!["60 Unknown([222, 173, 190, 239])"]
    );
    assert_eq!(served(h, "t.example.test", Rtype::Caa).1.len(), 1);
    assert_eq!(served(h, "t.example.test", Rtype::Srv).1.len(), 1);
    assert_eq!(served(h, "t.example.test", Rtype::Mx).1.len(), 1);
}

#[test]
fn authentication_failures_and_signed_replies() {
    let mut s = setup(false);
    let before = dump(&s);
    let h = &mut s.handler;
    let add = ["IN evil 60 A 192.0.2.66"];
    // Unsigned: REFUSED, no TSIG.
    let a = send(h, &update_msg("example.test", &[], &add, None, NOW));
    assert_eq!((a.rcode, a.tsig_error), (Rcode::Refused, None));
    // Unknown key: NOTAUTH/BADKEY, unsigned.
    let stranger = key("stranger", b"a secret of thirty-two bytes....");
    let a = send(
        h,
        &update_msg("example.test", &[], &add, Some(&stranger), NOW),
    );
    assert_eq!(a.rcode, Rcode::NotAuth);
    assert_eq!(a.tsig_error, Some(TsigError::BadKey));
    assert!(!a.signed);
    // Right name, wrong secret: NOTAUTH/BADSIG, unsigned.
    let forged = key("ddns", b"not the secret at all, but 32 b.");
    let a = send(
        h,
        &update_msg("example.test", &[], &add, Some(&forged), NOW),
    );
    assert_eq!(
        (a.rcode, a.tsig_error),
        (Rcode::NotAuth, Some(TsigError::BadSig))
    );
    assert!(!a.signed);
    // Right key, an hour late: NOTAUTH/BADTIME, signed.
    let a = send(
        h,
        &update_msg("example.test", &[], &add, Some(&ddns()), NOW - 3600),
    );
    assert_eq!(
        (a.rcode, a.tsig_error),
        (Rcode::NotAuth, Some(TsigError::BadTime))
    );
    assert!(a.signed);
    // The key name in another case is the same key.
    let upper = key("DDNS", b"a secret of thirty-two bytes....");
    let a = send(h, &update_msg("example.test", &[], &[], Some(&upper), NOW));
    assert_eq!(a.rcode, Rcode::NoError);
    assert_eq!(
        dump(&s),
        before,
        "no failed authentication changed anything"
    );
}

#[test]
fn signed_queries_get_signed_answers() {
    let mut s = setup(false);
    let k = ddns();
    let name = NameBuf::from_text("www.example.test").unwrap();
    let mut buf = vec![0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.set_id(77);
    b.question(name.as_name(), Rtype::A, Class::In).unwrap();
    let len = tsig::sign_request(&k, b, NOW, 300).unwrap();
    let request = buf[..len].to_vec();
    let a = send(&mut s.handler, &request);
    assert_eq!(a.rcode, Rcode::NoError);
    let reply = Message::parse(&a.bytes).unwrap();
    assert_eq!(reply.answers().count(), 2);
    let req = Message::parse(&request).unwrap();
    tsig::verify_response(&k, req.tsig().unwrap().data.mac, &reply).unwrap();
}

#[test]
fn grants_limit_a_key_to_its_names_and_types() {
    let mut s = setup(true);
    let before = dump(&s);
    let k = acme();
    let h = &mut s.handler;
    let refused: [&str; 4] = [
        "IN _acme-challenge 60 A 192.0.2.1",
        "IN www 60 TXT \"token\"",
        "ANY _acme-challenge ANY",
        "ANY @ NS",
    ];
    for u in refused {
        let a = send(h, &update_msg("example.test", &[], &[u], Some(&k), NOW));
        assert_eq!(a.rcode, Rcode::Refused, "{u}");
        assert!(a.signed);
    }
    // Allowed and refused together: nothing applied.
    let a = send(
        h,
        &update_msg(
            "example.test",
            &[],
            &["IN _acme-challenge 60 TXT \"token\"", "IN www 60 TXT \"x\""],
            Some(&k),
            NOW,
        ),
    );
    assert_eq!(a.rcode, Rcode::Refused);
    assert_eq!(dump(&s), before);
    let h = &mut s.handler;
    let a = send(
        h,
        &update_msg(
            "example.test",
            &[],
            &[
                "IN _acme-challenge 60 TXT \"token\"",
                "IN sub._acme-challenge 60 TXT \"t2\"",
            ],
            Some(&k),
            NOW,
        ),
    );
    assert_eq!(a.rcode, Rcode::NoError);
    assert_eq!(
        served(h, "_acme-challenge.example.test", Rtype::Txt)
            .1
            .len(),
        1
    );
    // The other key may change anything in the zone.
    assert_eq!(apply(h, &[], &["IN www 60 TXT \"ok\""]), Rcode::NoError);
}

/// `request` from PEER over UDP, into `batch`.
fn in_batch(
    handler: &mut Handler,
    batch: &mut WriteBatch<'_>,
    request: &[u8],
    out: &mut [u8],
) -> Option<Reply> {
    let origin = Origin::new(NOW, PEER.parse().unwrap(), Transport::Udp);
    handler.handle_in(batch, Ticket::default(), origin, request, out)
}

#[test]
fn a_batch_commits_its_updates_together() {
    let mut s = setup(false);
    let k = ddns();
    let mut out = vec![0u8; 4096];
    let store = s.store.clone();
    let mut batch = WriteBatch::new(&store);
    for (i, name) in ["b1", "b2", "b3"].iter().enumerate() {
        let line = format!("IN {name} 60 A 192.0.2.{}", i + 1);
        let req = update_msg("example.test", &[], &[&line], Some(&k), NOW);
        let reply = in_batch(&mut s.handler, &mut batch, &req, &mut out).unwrap();
        assert!(reply.held, "an update's answer waits for the commit");
    }
    // A failing update in the middle of a batch rolls back alone.
    let bad = update_msg(
        "example.test",
        &["ANY nothere ANY"],
        &["IN b4 60 A 192.0.2.4"],
        Some(&k),
        NOW,
    );
    let reply = in_batch(&mut s.handler, &mut batch, &bad, &mut out).unwrap();
    assert!(reply.held);
    assert_eq!(batch.pending(), 3);
    let settled = s.handler.settle(batch);
    assert!(settled.committed());
    assert_eq!(settled.servfail().count(), 0);
    // The zone the batch changed, at the serial its last update left.
    let durable: Vec<(String, u32)> = settled
        .durable_zones()
        .map(|(zone, serial)| (zone.to_string(), serial))
        .collect();
    assert_eq!(durable, [("example.test.".to_string(), 4)]);
    let h = &mut s.handler;
    for name in ["b1", "b2", "b3"] {
        assert_eq!(
            served(h, &format!("{name}.example.test"), Rtype::A).1.len(),
            1
        );
    }
    assert_eq!(served(h, "b4.example.test", Rtype::A).0, Rcode::NxDomain);
    assert_eq!(serial(h), 4);
    // An aborted batch leaves nothing.
    let mut batch = WriteBatch::new(&store);
    let req = update_msg(
        "example.test",
        &[],
        &["IN b5 60 A 192.0.2.5"],
        Some(&k),
        NOW,
    );
    in_batch(&mut s.handler, &mut batch, &req, &mut out).unwrap();
    s.handler.abort(batch);
    assert_eq!(
        served(&mut s.handler, "b5.example.test", Rtype::A).0,
        Rcode::NxDomain
    );
}

#[test]
fn a_full_map_is_servfail_with_nothing_applied() {
    // A 1 MiB map fills after a few dozen updates of ~15 KiB each.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let (apex, records) = common::zone::example_zone();
    store.replace_zone(apex.as_name(), &records).unwrap();
    let mut keys = KeySet::new();
    keys.add(ddns()).unwrap();
    let mut h = Handler::new(&store, Config::default())
        .unwrap()
        .with_auth(Arc::new(Auth {
            keys,
            policy: Policy::open(),
            transfer: Default::default(),
        }));
    let chunk = "x".repeat(250);
    let mut full_at = None;
    for i in 0..400 {
        // 60 strings of 250 octets: one 15 KiB TXT record per update (the
        // largest record that fits a 16 KiB transfer message is 15507).
        let txt = vec![format!("\"{chunk}\""); 60].join(" ");
        let line = format!("IN big{i} 60 TXT {txt}");
        let rcode = apply(&mut h, &[], &[&line]);
        if rcode == Rcode::ServFail {
            full_at = Some(i);
            break;
        }
        assert_eq!(rcode, Rcode::NoError);
    }
    let full_at = full_at.expect("the map fills up");
    assert!(full_at > 5, "some updates fit first ({full_at})");
    // Everything answered NOERROR is there, the refused one is not, the serial
    // counts only the applied ones, and the server still answers and updates.
    for i in 0..full_at {
        assert_eq!(
            served(&mut h, &format!("big{i}.example.test"), Rtype::Txt)
                .1
                .len(),
            1
        );
    }
    assert_eq!(
        served(&mut h, &format!("big{full_at}.example.test"), Rtype::Txt).0,
        Rcode::NxDomain
    );
    assert_eq!(serial(&mut h), 1 + full_at as u32);
    assert_eq!(apply(&mut h, &[], &["ANY big0 ANY"]), Rcode::NoError);
}

// ------------------------------------------------------------ hostile input

#[test]
fn type_0_is_formerr_everywhere_and_never_reaches_the_node_entry() {
    // Type 0 keys the store's node entry (store::key). Before, a class ANY or
    // NONE delete of TYPE0 deleted the node entry of www (which then answered
    // NXDOMAIN while its A record stayed in the database), and a TYPE0
    // prerequisite read the node entry as an RRset.
    let mut s = setup(false);
    let before = dump(&s);
    let h = &mut s.handler;
    let www = served(h, "www.example.test", Rtype::A);
    assert!(!www.1.is_empty());
    for (prereqs, updates) in [
        (&[][..], &["ANY www TYPE0"][..]),
        (&[], &["NONE www TYPE0 \\# 0"]),
        (&[], &["NONE www TYPE0 \\# 2 0001"]),
        (&[], &["IN www 60 TYPE0 \\# 2 0001"]),
        (&["ANY www TYPE0"], &["IN ok 60 A 192.0.2.1"]),
        (&["NONE www TYPE0"], &["IN ok 60 A 192.0.2.1"]),
        (&["IN www 0 TYPE0 \\# 0"], &["IN ok 60 A 192.0.2.1"]),
    ] {
        assert_eq!(
            apply(h, prereqs, updates),
            Rcode::FormErr,
            "{prereqs:?} {updates:?}"
        );
    }
    assert_eq!(served(h, "www.example.test", Rtype::A), www);
    assert_eq!(dump(&s), before);
}

#[test]
fn notzone_comes_before_permission() {
    // acme may change TXT at _acme-challenge only. An owner outside the zone
    // is NOTZONE for it too (BIND's order); before, it was REFUSED.
    let mut s = setup(true);
    let k = acme();
    let buf = add_one(
        "example.test",
        "www.example.org",
        &RData::A([192, 0, 2, 1].into()),
        &k,
    );
    assert_eq!(send(&mut s.handler, &buf).rcode, Rcode::NotZone);
    // In the zone but not granted: REFUSED, as before.
    let r = update_msg(
        "example.test",
        &[],
        &["IN www 60 A 192.0.2.1"],
        Some(&k),
        NOW,
    );
    assert_eq!(send(&mut s.handler, &r).rcode, Rcode::Refused);
}

fn soa_fields(h: &mut Handler) -> (u32, u32) {
    let a = send(h, &query_msg("example.test", Rtype::Soa));
    let msg = Message::parse(&a.bytes).unwrap();
    match msg.answers().next().unwrap().data {
        RData::Soa(s) => (s.serial, s.refresh),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_soa_with_a_serial_not_newer_is_ignored_and_the_serial_still_moves() {
    // Before, an equal serial was applied (refresh changed) and the bump was
    // skipped: the zone changed without a new serial.
    let mut s = setup(false);
    let h = &mut s.handler;
    let (serial0, refresh0) = soa_fields(h);
    let soa = |serial: u32| {
        format!(
            "IN @ 3600 SOA ns1.example.test. hostmaster.example.test. {serial} 1234 900 604800 300"
        )
    };
    let equal = soa(serial0);
    assert_eq!(
        apply(h, &[], &[&equal, "IN new1 60 A 192.0.2.1"]),
        Rcode::NoError
    );
    assert_eq!(
        soa_fields(h),
        (serial0 + 1, refresh0),
        "SOA ignored, serial +1"
    );
    // Older (RFC 1982): ignored as well; alone it changes nothing at all.
    let older = soa(serial0);
    assert_eq!(apply(h, &[], &[&older]), Rcode::NoError);
    assert_eq!(soa_fields(h), (serial0 + 1, refresh0));
    // Newer: applied as given, no extra bump.
    let newer = soa(serial0 + 10);
    assert_eq!(
        apply(h, &[], &[&newer, "IN new2 60 A 192.0.2.2"]),
        Rcode::NoError
    );
    assert_eq!(soa_fields(h), (serial0 + 10, 1234));
}

#[test]
fn sig_and_nxt_are_refused_like_rrsig_and_nsec() {
    let mut s = setup(false);
    let before = dump(&s);
    let h = &mut s.handler;
    for rr in [
        "IN www 60 TYPE24 \\# 4 01020304",
        "IN www 60 TYPE30 \\# 4 01020304",
    ] {
        assert_eq!(
            apply(h, &[], &["IN ok 60 A 192.0.2.1", rr]),
            Rcode::Refused,
            "{rr}"
        );
    }
    assert_eq!(dump(&s), before);
}

#[test]
fn prerequisite_groups_in_any_order_compare_as_sets() {
    let mut s = setup(false);
    let h = &mut s.handler;
    assert_eq!(
        apply(
            h,
            &[],
            &[
                "IN g 60 A 192.0.2.1",
                "IN g 60 A 192.0.2.2",
                "IN g 60 TXT \"t\"",
                "IN G2 60 A 192.0.2.9",
            ]
        ),
        Rcode::NoError
    );
    // Interleaved groups, duplicates and case: equal as sets.
    let ok = [
        "IN g 0 A 192.0.2.2",
        "IN g2 0 A 192.0.2.9",
        "IN G 0 TXT \"t\"",
        "IN g 0 A 192.0.2.1",
        "IN g 0 A 192.0.2.2",
    ];
    assert_eq!(apply(h, &ok, &["IN p1 60 A 192.0.2.1"]), Rcode::NoError);
    // A group missing one zone record, or holding one more: NXRRSET.
    let short = [
        "IN g2 0 A 192.0.2.9",
        "IN g 0 A 192.0.2.1",
        "IN g 0 TXT \"t\"",
    ];
    assert_eq!(apply(h, &short, &["IN p2 60 A 192.0.2.1"]), Rcode::NxRrset);
    let long = [
        "IN g 0 A 192.0.2.1",
        "IN g 0 A 192.0.2.2",
        "IN g 0 A 192.0.2.3",
    ];
    assert_eq!(apply(h, &long, &["IN p3 60 A 192.0.2.1"]), Rcode::NxRrset);
    assert_eq!(served(h, "p2.example.test", Rtype::A).0, Rcode::NxDomain);
    // Thousands of prerequisites in a few groups: still one answer, correct.
    let mut many: Vec<String> = Vec::new();
    for _ in 0..1500 {
        many.push("IN g 0 A 192.0.2.1".into());
        many.push("IN g 0 A 192.0.2.2".into());
    }
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(apply(h, &many, &["IN p4 60 A 192.0.2.1"]), Rcode::NoError);
}

fn limits(rrset: u32, types: u32, zone: u64) -> Config {
    Config {
        limits: dynzone::zone::Limits {
            max_records_per_rrset: rrset,
            max_types_per_name: types,
            max_zone_records: zone,
        },
        ..Config::default()
    }
}

#[test]
fn quotas_refuse_the_whole_update_and_apply_nothing() {
    // Records per RRset.
    let mut s = setup_with(false, limits(3, 100, 100_000));
    let h = &mut s.handler;
    let three = [
        "IN q 60 A 192.0.2.1",
        "IN q 60 A 192.0.2.2",
        "IN q 60 A 192.0.2.3",
    ];
    assert_eq!(apply(h, &[], &three), Rcode::NoError);
    let before = dump(&s);
    let h = &mut s.handler;
    assert_eq!(
        apply(h, &[], &["IN other 60 A 192.0.2.9", "IN q 60 A 192.0.2.4"]),
        Rcode::Refused
    );
    // Replacing a record in a full set is no growth.
    assert_eq!(apply(h, &[], &["IN q 60 A 192.0.2.3"]), Rcode::NoError);
    assert_eq!(dump(&s), before);

    // Types per name.
    let mut s = setup_with(false, limits(100, 2, 100_000));
    let h = &mut s.handler;
    assert_eq!(
        apply(h, &[], &["IN t 60 A 192.0.2.1", "IN t 60 TXT \"x\""]),
        Rcode::NoError
    );
    let before = dump(&s);
    let h = &mut s.handler;
    assert_eq!(
        apply(
            h,
            &[],
            &["IN t2 60 A 192.0.2.1", "IN t 60 AAAA 2001:db8::1"]
        ),
        Rcode::Refused
    );
    assert_eq!(dump(&s), before);

    // Records per zone: what the zone holds now, plus one.
    let s0 = setup(false);
    let held = dump(&s0).len() as u64;
    drop(s0);
    let mut s = setup_with(false, limits(100, 100, held + 1));
    let h = &mut s.handler;
    assert_eq!(apply(h, &[], &["IN z1 60 A 192.0.2.1"]), Rcode::NoError);
    let before = dump(&s);
    let h = &mut s.handler;
    assert_eq!(apply(h, &[], &["IN z2 60 A 192.0.2.2"]), Rcode::Refused);
    // Deleting makes room again.
    assert_eq!(dump(&s), before);
    let h = &mut s.handler;
    assert_eq!(
        apply(h, &[], &["ANY z1 A", "IN z2 60 A 192.0.2.2"]),
        Rcode::NoError
    );

    // One record too large for a 16 KiB transfer message.
    let mut s = setup(false);
    let before = dump(&s);
    // 62 strings of 250 octets (15562 octets of RDATA), in the generic form:
    // the master-file parser would refuse it already.
    let string = format!("fa{}", "78".repeat(250));
    let line = format!("IN big 60 TYPE16 \\# 15562 {}", string.repeat(62));
    assert_eq!(apply(&mut s.handler, &[], &[&line]), Rcode::Refused);
    assert_eq!(dump(&s), before);
    // The largest record that fits is taken: owner (18 octets in wire form),
    // type, class, TTL and length (10), RDATA.
    let fits = dynzone::zone::MAX_RECORD_LEN - 10 - 18;
    let last = fits - 61 * 251 - 1;
    let line = format!(
        "IN big 60 TYPE16 \\# {fits} {}{last:02x}{}",
        string.repeat(61),
        "79".repeat(last)
    );
    assert_eq!(apply(&mut s.handler, &[], &[&line]), Rcode::NoError);
}

#[test]
fn a_replayed_update_is_notauth_badtime_signed_and_applies_nothing() {
    let mut s = setup(false);
    let k = ddns();
    let old = update_msg(
        "example.test",
        &[],
        &["ANY home A", "IN home 60 A 192.0.2.1"],
        Some(&k),
        NOW,
    );
    assert_eq!(send(&mut s.handler, &old).rcode, Rcode::NoError);
    let new = update_msg(
        "example.test",
        &[],
        &["ANY home A", "IN home 60 A 192.0.2.2"],
        Some(&k),
        NOW + 1,
    );
    assert_eq!(send(&mut s.handler, &new).rcode, Rcode::NoError);
    let before = dump(&s);
    // The captured first update, sent again: refused, signed, nothing applied.
    let a = send(&mut s.handler, &old);
    assert_eq!(
        (a.rcode, a.tsig_error),
        (Rcode::NotAuth, Some(TsigError::BadTime))
    );
    assert!(a.signed);
    let req = Message::parse(&old).unwrap();
    tsig::verify_response(
        &k,
        req.tsig().unwrap().data.mac,
        &Message::parse(&a.bytes).unwrap(),
    )
    .expect("the BADTIME answer is signed with the key");
    assert_eq!(dump(&s), before);
    assert_eq!(
        served(&mut s.handler, "home.example.test", Rtype::A).1,
        vec!["60 A(192.0.2.2)"]
    );
    // A refused update is remembered too: it cannot succeed later.
    let refused = update_msg(
        "example.test",
        &["ANY later ANY"],
        &["IN later 60 A 192.0.2.3"],
        Some(&k),
        NOW + 2,
    );
    assert_eq!(send(&mut s.handler, &refused).rcode, Rcode::NxDomain);
    assert_eq!(
        apply(&mut s.handler, &[], &["IN later 60 TXT \"now\""]),
        Rcode::NoError
    );
    assert_eq!(send(&mut s.handler, &refused).rcode, Rcode::NotAuth);
    // Across handlers (workers) and a reopened store (a restart).
    let dir = s._dir;
    let path = dir.path().to_owned();
    drop(s.handler);
    drop(s.store);
    let store = Store::open(&path, 16 << 20).unwrap();
    let mut keys = KeySet::new();
    keys.add(ddns()).unwrap();
    let mut h = Handler::new(&store, Config::default())
        .unwrap()
        .with_auth(Arc::new(Auth {
            keys,
            policy: Policy::open(),
            transfer: Default::default(),
        }));
    assert_eq!(send(&mut h, &old).rcode, Rcode::NotAuth);
    assert_eq!(send(&mut h, &new).rcode, Rcode::NotAuth);
    // Queries are not affected: the same signed query twice is answered twice.
    let name = NameBuf::from_text("home.example.test").unwrap();
    let mut buf = vec![0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.set_id(9);
    b.question(name.as_name(), Rtype::A, Class::In).unwrap();
    let len = tsig::sign_request(&k, b, NOW, 300).unwrap();
    buf.truncate(len);
    assert_eq!(send(&mut h, &buf).rcode, Rcode::NoError);
    assert_eq!(send(&mut h, &buf).rcode, Rcode::NoError);
}

#[test]
fn the_tsig_window_of_an_update_is_capped() {
    // A client asking for a fudge of 65535 s gets --tsig-fudge-max (300):
    // signed 1000 s ago, it is BADTIME; before, it was applied.
    let mut s = setup(false);
    let before = dump(&s);
    let k = ddns();
    let late = update_msg_fudge(
        "example.test",
        &[],
        &["IN late 60 A 192.0.2.1"],
        Some(&k),
        NOW - 1000,
        65535,
    );
    let a = send(&mut s.handler, &late);
    assert_eq!(
        (a.rcode, a.tsig_error),
        (Rcode::NotAuth, Some(TsigError::BadTime))
    );
    assert_eq!(dump(&s), before);
    // Within the cap it is accepted.
    let fresh = update_msg_fudge(
        "example.test",
        &[],
        &["IN late 60 A 192.0.2.1"],
        Some(&k),
        NOW - 200,
        65535,
    );
    assert_eq!(send(&mut s.handler, &fresh).rcode, Rcode::NoError);
}

#[test]
fn the_root_zone_takes_updates() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 16 << 20).unwrap();
    let text = ". 3600 SOA a.root-servers.test. nstld.test. 1 1800 900 604800 86400\n\
                . 3600 NS a.root-servers.test.\n\
                test. 3600 NS ns.test.\n";
    let root = NameBuf::from_text(".").unwrap();
    let parsed = zonefile::parse(text, Some(&root)).unwrap();
    store.replace_zone(root.as_name(), &parsed.records).unwrap();
    store.check_invariants().unwrap();
    assert_eq!(store.zone_records(root.as_name()).unwrap().len(), 3);
    let mut keys = KeySet::new();
    keys.add(ddns()).unwrap();
    let mut h = Handler::new(&store, Config::default())
        .unwrap()
        .with_auth(Arc::new(Auth {
            keys,
            policy: Policy::open(),
            transfer: Default::default(),
        }));
    let owner = NameBuf::from_text("example.").unwrap();
    let target = NameBuf::from_text("ns.example.").unwrap();
    let buf = add_one(".", "example.", &RData::Ns(target.as_name()), &ddns());
    assert_eq!(send(&mut h, &buf).rcode, Rcode::NoError);
    let records = store.zone_records(root.as_name()).unwrap();
    assert_eq!(records.len(), 4);
    assert!(
        records
            .iter()
            .any(|r| r.owner == owner && r.rtype == Rtype::Ns)
    );
    let a = send(&mut h, &query_msg(".", Rtype::Soa));
    let msg = Message::parse(&a.bytes).unwrap();
    match msg.answers().next().unwrap().data {
        RData::Soa(s) => assert_eq!(s.serial, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_default_quotas_hold() {
    // --max-records-per-rrset 100 by default: before, any key could grow an
    // RRset (and a zone) until the LMDB map was full.
    let mut s = setup(false);
    let before = dump(&s);
    let lines: Vec<String> = (0..101)
        .map(|i| format!("IN many 60 A 10.0.{}.{}", i / 250, i % 250))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(apply(&mut s.handler, &[], &lines), Rcode::Refused);
    assert_eq!(dump(&s), before);
    assert_eq!(apply(&mut s.handler, &[], &lines[..100]), Rcode::NoError);
}

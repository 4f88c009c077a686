//! RFC 2136 UPDATE and RFC 8945 TSIG through the request handler over a real
//! LMDB store, with a fixed clock: every prerequisite kind, the prescan, the
//! four update operations, the apex and CNAME rules, all-or-nothing, the
//! serial, node bookkeeping seen through queries, grants, and the signed or
//! unsigned replies. The real clients do the same against the running binary
//! in `tests/update.rs`.

mod testzone;

use std::net::SocketAddr;
use std::sync::Arc;

use dynzone::handler::{Auth, Config, Handler, Transport};
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
    let dir = tempfile::tempdir().unwrap();
    let store = testzone::open_store(dir.path());
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
    let handler = Handler::new(&store, Config::default())
        .unwrap()
        .with_auth(Arc::new(Auth { keys, policy }));
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
        Some(k) => tsig::sign_request(k, b, time, 300).unwrap(),
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
    let name = NameBuf::from_text(owner).unwrap();
    let mut buf = vec![0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.set_id(1);
    b.question(name.as_name(), rtype, Class::In).unwrap();
    let len = b.finish();
    buf.truncate(len);
    buf
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

#[test]
fn names_outside_the_zone_are_notzone() {
    let mut s = setup(false);
    let before = dump(&s);
    let k = ddns();
    // A signed UPDATE of zone example.test adding an A record at `owner`.
    let add_a = |owner: &str| {
        let owner = NameBuf::from_text(owner).unwrap();
        let zone = NameBuf::from_text("example.test").unwrap();
        let mut buf = vec![0u8; 2048];
        let mut b = MessageBuilder::new(&mut buf, 2048).unwrap();
        b.flags_mut().set_opcode(Opcode::Update);
        b.question(zone.as_name(), Rtype::Soa, Class::In).unwrap();
        b.record(
            Section::UPDATE,
            owner.as_name(),
            Rtype::A,
            Class::In,
            60,
            &RData::A([192, 0, 2, 1].into()),
        )
        .unwrap();
        let len = tsig::sign_request(&k, b, NOW, 300).unwrap();
        buf.truncate(len);
        buf
    };
    // An owner in another zone, and one label "a.example" followed by "test":
    // not below example.test.
    for owner in ["www.example.org", "a\\.example.test"] {
        let a = send(&mut s.handler, &add_a(owner));
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

#[test]
fn a_batch_commits_its_updates_together() {
    let mut s = setup(false);
    let k = ddns();
    let peer: SocketAddr = PEER.parse().unwrap();
    let mut out = vec![0u8; 4096];
    let store = s.store.clone();
    let mut batch = WriteBatch::new(&store);
    for (i, name) in ["b1", "b2", "b3"].iter().enumerate() {
        let line = format!("IN {name} 60 A 192.0.2.{}", i + 1);
        let req = update_msg("example.test", &[], &[&line], Some(&k), NOW);
        let reply = s
            .handler
            .handle_in(&mut batch, NOW, peer, Transport::Udp, &req, &mut out)
            .unwrap();
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
    let reply = s
        .handler
        .handle_in(&mut batch, NOW, peer, Transport::Udp, &bad, &mut out)
        .unwrap();
    assert!(reply.held);
    assert_eq!(batch.pending(), 3);
    batch.commit().unwrap();
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
    s.handler
        .handle_in(&mut batch, NOW, peer, Transport::Udp, &req, &mut out)
        .unwrap();
    batch.abort();
    assert_eq!(
        served(&mut s.handler, "b5.example.test", Rtype::A).0,
        Rcode::NxDomain
    );
}

#[test]
fn a_full_map_is_servfail_with_nothing_applied() {
    // A 1 MiB map fills after a few dozen updates of ~16 KiB each.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let (apex, records) = testzone::example_zone();
    store.replace_zone(apex.as_name(), &records).unwrap();
    let mut keys = KeySet::new();
    keys.add(ddns()).unwrap();
    let mut h = Handler::new(&store, Config::default())
        .unwrap()
        .with_auth(Arc::new(Auth {
            keys,
            policy: Policy::open(),
        }));
    let chunk = "x".repeat(250);
    let mut full_at = None;
    for i in 0..400 {
        // 64 strings of 250 octets: one 16 KiB TXT record per update.
        let txt = vec![format!("\"{chunk}\""); 64].join(" ");
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

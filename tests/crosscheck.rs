//! A second opinion on the wire format from an independent implementation:
//! dnspython, driven through tests/py/crosscheck.py with /usr/bin/python3.
//!
//! Both sides turn a message into the same line-based description (the format is
//! documented at the top of the script): names and RDATA in uncompressed wire form
//! with their case, numbers for everything else. Rust → Python: messages written
//! by `MessageBuilder` (and the captured fixtures) are described by dnspython and
//! by our parser, and must agree. Python → Rust: dnspython writes messages
//! (compression, EDNS options, UPDATE, TSIG with hmac-sha256 and hmac-md5) and
//! our parser must describe them as dnspython does.
//!
//! Without /usr/bin/python3 or dnspython these tests fail, naming the Debian
//! package python3-dnspython; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

use common::wire::{Edns, Query, hex, name, unhex};
use dynzone::wire::{
    Caa, Class, MAX_MESSAGE, Message, MessageBuilder, Name, NameBuf, Opcode, RData, Rcode, Rtype,
    Section, Soa, Srv, TsigError, Txt, write_rdata,
};

const PYTHON: &str = "/usr/bin/python3";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/crosscheck.py");
const HINT: &str = "the cross-check needs /usr/bin/python3 with dnspython: \
                    install the Debian package python3-dnspython";

/// The same secret as tests/data/README.md and tests/py/crosscheck.py.
const SECRET_BASE64: &str = "ZHluem9uZS1maXh0dXJlLXNlY3JldC0zMi1ieXRlcyE=";

fn run_python(mode: &str, input: String) -> String {
    let mut child = Command::new(PYTHON)
        .arg(SCRIPT)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}; {HINT}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Written from another thread so that a large output cannot block the input.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {PYTHON}: {e}; {HINT}"));
    writer
        .join()
        .expect("writer thread")
        .unwrap_or_else(|e| panic!("writing to {PYTHON}: {e}; {HINT}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{PYTHON} {SCRIPT} {mode} failed ({}):\n{stderr}\n{HINT}",
        out.status
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Uncompressed wire form, case kept.
fn name_hex(name: &Name<'_>) -> String {
    hex(name.to_buf().as_wire())
}

/// Our description of a message, in the format of tests/py/crosscheck.py.
fn describe(msg: &Message<'_>) -> Vec<String> {
    let h = msg.header();
    let mut lines = vec![format!(
        "header id={} flags={} opcode={} rcode={}",
        h.id,
        h.flags.0,
        u8::from(h.flags.opcode()),
        u16::from(msg.rcode())
    )];
    let names = if h.flags.opcode() == Opcode::Update {
        ["zone", "prereq", "update", "additional"]
    } else {
        ["question", "answer", "authority", "additional"]
    };
    for q in msg.questions() {
        lines.push(format!(
            "{} name={} type={} class={}",
            names[0],
            name_hex(&q.name),
            u16::from(q.qtype),
            u16::from(q.qclass)
        ));
    }
    let mut rdata = vec![0u8; MAX_MESSAGE];
    for section in Section::RECORDS {
        for r in msg.records(section) {
            // dnspython keeps these out of the sections (message.opt / .tsig).
            if matches!(r.rtype, Rtype::Opt | Rtype::Tsig) {
                continue;
            }
            let len = write_rdata(&mut rdata, &r.data).expect("rdata fits");
            lines.push(format!(
                "{} owner={} type={} class={} ttl={} rdata={}",
                names[section.index()],
                name_hex(&r.owner),
                u16::from(r.rtype),
                u16::from(r.class),
                r.ttl,
                hex(&rdata[..len])
            ));
        }
    }
    if let Some(e) = msg.edns() {
        lines.push(format!(
            "edns payload={} ext_rcode={} version={} flags={}",
            e.udp_payload, e.ext_rcode, e.version, e.flags
        ));
        for (code, data) in e.options.options() {
            lines.push(format!("option code={code} data={}", hex(data)));
        }
    }
    if let Some(t) = msg.tsig() {
        let d = t.data;
        lines.push(format!(
            "tsig key={} algorithm={} time={} fudge={} mac={} original_id={} error={} other={}",
            name_hex(&t.key_name),
            name_hex(&d.algorithm),
            d.time_signed,
            d.fudge,
            hex(d.mac),
            d.original_id,
            u16::from(d.error),
            hex(d.other)
        ));
    }
    lines.push("end".to_string());
    lines
}

/// Splits the script's output into descriptions, each ending with `end`.
fn split_descriptions(output: &str) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    let mut current = Vec::new();
    for line in output.lines() {
        current.push(line.to_string());
        if line == "end" {
            all.push(std::mem::take(&mut current));
        }
    }
    assert!(current.is_empty(), "unterminated description: {current:?}");
    all
}

/// `parse → copy_of → parse` keeps the description, octet for octet.
fn assert_copy_keeps(label: &str, msg: &Message<'_>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let copy = MessageBuilder::copy_of(&mut buf, msg)
        .unwrap_or_else(|e| panic!("{label}: copy_of: {e:?}"))
        .finish_bytes();
    let copied = Message::parse(copy).unwrap_or_else(|e| panic!("{label}: reparse: {e:?}"));
    assert_eq!(&copied, msg, "{label}");
    assert_eq!(describe(&copied), describe(msg), "{label}");
}

// ---------------------------------------------------------------- Rust → Python

/// One message to hand to dnspython: label, bytes, and for a signed one the
/// TSIG algorithm and the time to validate at.
struct Outgoing {
    label: &'static str,
    bytes: Vec<u8>,
    tsig: Option<(String, u64)>,
}

fn outgoing(label: &'static str, bytes: &[u8]) -> Outgoing {
    Outgoing {
        label,
        bytes: bytes.to_vec(),
        tsig: None,
    }
}

fn query() -> Vec<u8> {
    Query::new(1, "www.example.test.", Rtype::A).rd().bytes()
}

fn chaos_query() -> Vec<u8> {
    Query::new(0xffff, "VeRsIoN.BiNd.", Rtype::Txt)
        .class(Class::Ch)
        .cd()
        .bytes()
}

/// Options for the OPT records: a client COOKIE (RFC 7873), an ECS option
/// (RFC 7871, family 1, /24, 192.0.2) and an empty option with a private code.
const OPTIONS: &[u8] = b"\x00\x0a\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08\
                         \x00\x08\x00\x07\x00\x01\x18\x00\xc0\x00\x02\
                         \xfd\xe9\x00\x00";

fn query_with_edns() -> Vec<u8> {
    Query::new(0x0a0b, "Example.TEST.", Rtype::Soa)
        .rd()
        .ad()
        .edns_with(Edns {
            udp_payload: 4096,
            version: 0,
            flags: 0x8000,
            options: OPTIONS,
        })
        .bytes()
}

/// A response with every typed RDATA, an unknown type, names that compress
/// (and a mixed-case qname that only partly does), and OPT with DO.
fn response(compress: bool) -> Vec<u8> {
    let qname = name("WWW.Example.test.");
    let www = name("www.example.test.");
    let zone = name("example.test.");
    let host = name("host.example.test.");
    let ns1 = name("ns1.example.test.");
    let ns2 = name("ns2.Example.test.");
    let mail = name("mail.example.test.");
    let hostmaster = name("hostmaster.example.test.");
    let sip = name("sip.example.test.");
    let srv_owner = name("_sip._tcp.example.test.");
    let ptr_owner = name("1.2.0.192.in-addr.arpa.");
    let txt = Txt::new(b"\x0bv=spf1 -all\x00\x01x").unwrap();

    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut b = MessageBuilder::new(&mut buf, MAX_MESSAGE).unwrap();
    b.set_compression(compress);
    b.set_id(0xbeef);
    let flags = b.flags_mut();
    flags.set_qr(true);
    flags.set_aa(true);
    flags.set_rd(true);
    b.question(qname.as_name(), Rtype::Cname, Class::In)
        .unwrap();
    let answers: [(&NameBuf, Rtype, u32, RData<'_>); 12] = [
        (&qname, Rtype::Cname, 300, RData::Cname(www.as_name())),
        (&www, Rtype::Cname, 300, RData::Cname(host.as_name())),
        (&host, Rtype::A, 300, RData::A(Ipv4Addr::new(192, 0, 2, 1))),
        (
            &host,
            Rtype::Aaaa,
            300,
            RData::Aaaa(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ),
        (&zone, Rtype::Ns, 3600, RData::Ns(ns1.as_name())),
        (&ptr_owner, Rtype::Ptr, 300, RData::Ptr(host.as_name())),
        (
            &zone,
            Rtype::Soa,
            3600,
            RData::Soa(Soa {
                mname: ns1.as_name(),
                rname: hostmaster.as_name(),
                serial: 2_024_010_101,
                refresh: 7200,
                retry: 900,
                expire: 1_209_600,
                minimum: 300,
            }),
        ),
        (
            &zone,
            Rtype::Mx,
            3600,
            RData::Mx {
                preference: 10,
                exchange: mail.as_name(),
            },
        ),
        (&zone, Rtype::Txt, 3600, RData::Txt(txt)),
        (
            &srv_owner,
            Rtype::Srv,
            300,
            RData::Srv(Srv {
                priority: 10,
                weight: 20,
                port: 5060,
                target: sip.as_name(),
            }),
        ),
        (
            &zone,
            Rtype::Caa,
            3600,
            RData::Caa(Caa {
                flags: 128,
                tag: b"issue",
                value: b"ca.example.net; account=1",
            }),
        ),
        (
            &host,
            Rtype::Unknown(65280),
            0x7fff_ffff,
            RData::Unknown(b"\xde\xad\xbe\xef\x00"),
        ),
    ];
    for (owner, rtype, ttl, data) in &answers {
        b.record(
            Section::Answer,
            owner.as_name(),
            *rtype,
            Class::In,
            *ttl,
            data,
        )
        .unwrap();
    }
    // Stored RDATA (what LMDB hands back) written as it is.
    b.raw_record(
        Section::Answer,
        host.as_name(),
        Rtype::Txt,
        Class::In,
        60,
        b"\x06stored",
    )
    .unwrap();
    b.record(
        Section::Authority,
        zone.as_name(),
        Rtype::Ns,
        Class::In,
        3600,
        &RData::Ns(ns2.as_name()),
    )
    .unwrap();
    b.record(
        Section::Additional,
        ns2.as_name(),
        Rtype::A,
        Class::In,
        3600,
        &RData::A(Ipv4Addr::new(192, 0, 2, 2)),
    )
    .unwrap();
    b.opt(1232, 0, 0, 0x8000, &[]).unwrap();
    assert!(!b.is_truncated());
    b.finish_bytes().to_vec()
}

/// RFC 2136 shapes: zone, the five prerequisite forms, the four update forms.
fn update() -> Vec<u8> {
    let zone = name("example.test.");
    let host = name("host.example.test.");
    let new = name("new.example.test.");
    let old = name("old.example.test.");
    let a1 = RData::A(Ipv4Addr::new(192, 0, 2, 1));
    let a9 = RData::A(Ipv4Addr::new(192, 0, 2, 9));

    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut b = MessageBuilder::new(&mut buf, MAX_MESSAGE).unwrap();
    b.set_id(0x2136);
    b.flags_mut().set_opcode(Opcode::Update);
    b.question(zone.as_name(), Rtype::Soa, Class::In).unwrap();
    let prereqs: [(&NameBuf, Rtype, Class, RData<'_>); 5] = [
        (&zone, Rtype::Any, Class::Any, RData::Empty), // name in use
        (&new, Rtype::Any, Class::None, RData::Empty), // name not in use
        (&host, Rtype::A, Class::Any, RData::Empty),   // RRset exists
        (&host, Rtype::A, Class::In, a1),              // RRset exists (value)
        (&new, Rtype::Aaaa, Class::None, RData::Empty), // RRset does not exist
    ];
    for (owner, rtype, class, data) in &prereqs {
        b.record(
            Section::PREREQUISITE,
            owner.as_name(),
            *rtype,
            *class,
            0,
            data,
        )
        .unwrap();
    }
    let updates: [(&NameBuf, Rtype, Class, u32, RData<'_>); 4] = [
        (&new, Rtype::A, Class::In, 300, a1),            // add
        (&old, Rtype::A, Class::Any, 0, RData::Empty),   // delete RRset
        (&old, Rtype::Any, Class::Any, 0, RData::Empty), // delete all RRsets
        (&host, Rtype::A, Class::None, 0, a9),           // delete one RR
    ];
    for (owner, rtype, class, ttl, data) in &updates {
        b.record(Section::UPDATE, owner.as_name(), *rtype, *class, *ttl, data)
            .unwrap();
    }
    b.finish_bytes().to_vec()
}

/// A BADVERS answer: header RCODE 0, the upper bits in OPT (RFC 6891 §6.1.3).
fn badvers() -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    b.set_id(0x0bad);
    b.flags_mut().set_qr(true);
    b.set_rcode(Rcode::BadVers);
    b.question(name("example.test.").as_name(), Rtype::A, Class::In)
        .unwrap();
    b.opt(1232, Rcode::BadVers.extended_bits(), 0, 0, &[])
        .unwrap();
    b.finish_bytes().to_vec()
}

const FIXTURES: [(&str, &[u8]); 8] = [
    ("fixture dig-a", include_bytes!("data/dig-a.bin")),
    ("fixture dig-noedns", include_bytes!("data/dig-noedns.bin")),
    (
        "fixture dig-txt-mixedcase",
        include_bytes!("data/dig-txt-mixedcase.bin"),
    ),
    ("fixture kdig-aaaa", include_bytes!("data/kdig-aaaa.bin")),
    ("fixture kdig-tcp", include_bytes!("data/kdig-tcp.bin")),
    (
        "fixture nsupdate-update-sha256",
        include_bytes!("data/nsupdate-update-sha256.bin"),
    ),
    (
        "fixture nsupdate-update-md5",
        include_bytes!("data/nsupdate-update-md5.bin"),
    ),
    (
        "fixture nsupdate-soa-discovery",
        include_bytes!("data/nsupdate-soa-discovery.bin"),
    ),
];

fn outgoing_messages() -> Vec<Outgoing> {
    let compressed = response(true);
    let plain = response(false);
    // The same records, so compression must have saved room.
    assert!(
        compressed.len() + 100 < plain.len(),
        "compressed {} vs plain {}",
        compressed.len(),
        plain.len()
    );
    let mut all = vec![
        outgoing("query", &query()),
        outgoing("chaos query", &chaos_query()),
        outgoing("query with EDNS options and DO", &query_with_edns()),
        outgoing("response, compressed", &compressed),
        outgoing("response, uncompressed", &plain),
        outgoing("update", &update()),
        outgoing("badvers", &badvers()),
    ];
    for (label, bytes) in FIXTURES {
        // Signed fixtures: dnspython checks the MAC against the documented secret
        // at the time our parser read from the record (a wrong time is BADTIME).
        let tsig = Message::parse(bytes)
            .unwrap()
            .tsig()
            .map(|t| (t.data.algorithm.to_string(), t.data.time_signed));
        all.push(Outgoing {
            label,
            bytes: bytes.to_vec(),
            tsig,
        });
    }
    all
}

#[test]
fn rust_to_python() {
    let messages = outgoing_messages();
    let mut input = String::new();
    for m in &messages {
        input.push_str(&hex(&m.bytes));
        if let Some((algorithm, time)) = &m.tsig {
            let _ = write!(input, " {algorithm} {SECRET_BASE64} {time}");
        }
        input.push('\n');
    }
    let theirs = split_descriptions(&run_python("describe", input));
    assert_eq!(theirs.len(), messages.len());
    for (m, theirs) in messages.iter().zip(&theirs) {
        let msg = Message::parse(&m.bytes).unwrap_or_else(|e| panic!("{}: {e:?}", m.label));
        assert_eq!(&describe(&msg), theirs, "{}", m.label);
        assert_copy_keeps(m.label, &msg);
    }

    // Spot checks that the descriptions carry what the messages were built with.
    let find = |label: &str| {
        let i = messages.iter().position(|m| m.label == label).unwrap();
        theirs[i].join("\n")
    };
    assert!(find("badvers").contains("rcode=16"));
    assert!(find("query with EDNS options and DO").contains("flags=32768"));
    assert!(find("update").contains(
        "update owner=036f6c64076578616d706c65047465737400 type=255 class=255 ttl=0 rdata=\n"
    ));
    assert!(find("chaos query").contains("name=0756655273496f4e0442694e6400 type=16 class=3"));
    let response = find("response, compressed");
    assert_eq!(response, find("response, uncompressed"));
    assert!(response.contains("type=65280 class=1 ttl=2147483647 rdata=deadbeef00"));
    assert!(find("fixture nsupdate-update-md5").contains("mac="));
}

// ---------------------------------------------------------------- Python → Rust

/// One message dnspython wrote, with its description and, when signed, what
/// the MAC covers.
struct Incoming {
    label: String,
    wire: Vec<u8>,
    signed: Option<Vec<u8>>,
    description: Vec<String>,
}

fn incoming_messages() -> Vec<Incoming> {
    let output = run_python("generate", String::new());
    let mut all = Vec::new();
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        let label = line
            .strip_prefix("message ")
            .unwrap_or_else(|| panic!("expected `message`, got {line:?}"));
        let wire = lines
            .next()
            .and_then(|l| l.strip_prefix("wire "))
            .expect("wire");
        let mut next = lines.next().expect("description");
        let mut signed = None;
        if let Some(parts) = next.strip_prefix("signed ") {
            signed = Some(unhex(parts));
            next = lines.next().expect("description");
        }
        let mut description = vec![next.to_string()];
        while description.last().map(String::as_str) != Some("end") {
            description.push(lines.next().expect("end").to_string());
        }
        all.push(Incoming {
            label: label.to_string(),
            wire: unhex(wire),
            signed,
            description,
        });
    }
    all
}

#[test]
fn python_to_rust() {
    let messages = incoming_messages();
    let labels: Vec<&str> = messages.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "query-edns-options",
            "response-compressed",
            "response-badvers",
            "update-unsigned",
            "update-hmac-sha256",
            "update-hmac-md5",
            "query-signed-edns-sha256",
        ]
    );
    for m in &messages {
        let msg = Message::parse(&m.wire).unwrap_or_else(|e| panic!("{}: {e:?}", m.label));
        assert_eq!(describe(&msg), m.description, "{}", m.label);
        assert_copy_keeps(&m.label, &msg);
        match (&m.signed, msg.tsig_signed_parts()) {
            (Some(theirs), Some((header, body))) => {
                let mut ours = header.to_vec();
                ours.extend_from_slice(body);
                assert_eq!(&ours, theirs, "{}: signed parts", m.label);
            }
            (None, None) => {}
            (theirs, ours) => panic!("{}: signed {theirs:?} vs {ours:?}", m.label),
        }
    }

    let parsed = |label: &str| {
        let m = messages.iter().find(|m| m.label == label).unwrap();
        Message::parse(&m.wire).unwrap()
    };

    let query = parsed("query-edns-options");
    let edns = query.edns().unwrap();
    assert!(edns.dnssec_ok());
    assert_eq!(edns.udp_payload, 1400);
    let codes: Vec<u16> = edns.options.options().map(|(code, _)| code).collect();
    assert_eq!(codes, [10, 8, 65001]);

    assert_eq!(parsed("response-badvers").rcode(), Rcode::BadVers);

    // dnspython compresses case-insensitively: "host.example.test." points at
    // the question's "Example.TEST.", and reads back in that case.
    let response = parsed("response-compressed");
    assert!(response.as_bytes().windows(2).any(|w| w == [0xc0, 0x10]));
    let aaaa = response.answers().find(|r| r.rtype == Rtype::Aaaa).unwrap();
    assert_eq!(aaaa.owner.to_string(), "host.Example.TEST.");

    let update = parsed("update-unsigned");
    assert_eq!(update.header().flags.opcode(), Opcode::Update);
    assert_eq!(update.header().counts, [1, 5, 7, 0]);
    let classes: Vec<Class> = update.updates().map(|r| r.class).collect();
    assert_eq!(
        classes,
        [
            Class::In,
            Class::In,
            Class::Any,
            Class::Any,
            Class::None,
            Class::Any,
            Class::In
        ]
    );

    for (label, algorithm, mac_len, fudge) in [
        ("update-hmac-sha256", "hmac-sha256.", 32, 300),
        ("update-hmac-md5", "hmac-md5.sig-alg.reg.int.", 16, 300),
        ("query-signed-edns-sha256", "hmac-sha256.", 32, 600),
    ] {
        let msg = parsed(label);
        let tsig = msg.tsig().unwrap_or_else(|| panic!("{label}: no TSIG"));
        assert_eq!(tsig.key_name, name("key.example.").as_name(), "{label}");
        // Compared case-insensitively: dnspython writes HMAC-MD5.SIG-ALG.REG.INT.
        assert_eq!(tsig.data.algorithm, name(algorithm).as_name(), "{label}");
        assert_eq!(tsig.data.mac.len(), mac_len, "{label}");
        assert_eq!(tsig.data.fudge, fudge, "{label}");
        assert_eq!(tsig.data.original_id, msg.header().id, "{label}");
        assert_eq!(tsig.data.error, TsigError::NoError, "{label}");
        assert!(tsig.data.other.is_empty(), "{label}");
    }
    assert!(parsed("query-signed-edns-sha256").edns().is_some());
}

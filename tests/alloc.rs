//! Zero allocation, measured: a counting global allocator shows that parsing a
//! full message — every section, name and RDATA walked — and building a response
//! make no heap allocation, and that the request handler answering 10,000 mixed
//! queries over a real LMDB store makes none after warm-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;
#[path = "common/counting.rs"]
mod counting;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use counting::count;
use dynzone::wire::{
    Caa, Class, Message, MessageBuilder, NameBuf, Opcode, RData, Rtype, Section, Soa, Srv,
    TsigData, TsigError, Txt, parse_frame, write_rdata,
};

/// A `fmt::Write` into a fixed array, so Display can be exercised without a String.
struct FixedText {
    buf: [u8; 1024],
    len: usize,
}

impl std::fmt::Write for FixedText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// An UPDATE with every typed RDATA, OPT and TSIG, built before counting starts.
fn sample_update() -> Vec<u8> {
    let zone = NameBuf::from_text("example.test").unwrap();
    let host = NameBuf::from_text("Home.example.test").unwrap();
    let acme = NameBuf::from_text("_acme-challenge.example.test").unwrap();
    let ns = NameBuf::from_text("ns1.example.test").unwrap();
    let key = NameBuf::from_text("key.example.").unwrap();
    let alg = NameBuf::from_text("hmac-sha256").unwrap();
    let mut buf = vec![0u8; 4096];
    let mut b = MessageBuilder::new(&mut buf, 4096).unwrap();
    b.set_id(4242);
    b.flags_mut().set_opcode(Opcode::Update);
    b.question(zone.as_name(), Rtype::Soa, Class::In).unwrap();
    // Prerequisite: host has no CNAME (NXRRSET form).
    b.record(
        Section::PREREQUISITE,
        host.as_name(),
        Rtype::Cname,
        Class::None,
        0,
        &RData::Empty,
    )
    .unwrap();
    let txt = b"\x2avalue-one-of-the-acme-challenge-tokens-xyz\x03two";
    let datas = [
        RData::A(Ipv4Addr::new(198, 51, 100, 7)),
        RData::Aaaa(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
        RData::Ns(ns.as_name()),
        RData::Cname(host.as_name()),
        RData::Ptr(host.as_name()),
        RData::Mx {
            preference: 10,
            exchange: host.as_name(),
        },
        RData::Txt(Txt::new(txt).unwrap()),
        RData::Srv(Srv {
            priority: 0,
            weight: 5,
            port: 443,
            target: host.as_name(),
        }),
        RData::Caa(Caa {
            flags: 0,
            tag: b"issue",
            value: b"ca.example",
        }),
        RData::Soa(Soa {
            mname: ns.as_name(),
            rname: host.as_name(),
            serial: 7,
            refresh: 1,
            retry: 2,
            expire: 3,
            minimum: 4,
        }),
        RData::Unknown(b"\x01\x02\x03"),
    ];
    let types = [
        Rtype::A,
        Rtype::Aaaa,
        Rtype::Ns,
        Rtype::Cname,
        Rtype::Ptr,
        Rtype::Mx,
        Rtype::Txt,
        Rtype::Srv,
        Rtype::Caa,
        Rtype::Soa,
        Rtype::Unknown(65280),
    ];
    for (t, d) in types.iter().zip(&datas) {
        b.record(Section::UPDATE, acme.as_name(), *t, Class::In, 300, d)
            .unwrap();
    }
    b.record(
        Section::UPDATE,
        host.as_name(),
        Rtype::A,
        Class::Any,
        0,
        &RData::Empty,
    )
    .unwrap();
    b.opt(1232, 0, 0, 0x8000, b"\x00\x0a\x00\x08abcdefgh")
        .unwrap();
    let mac = [0x5a; 32];
    b.tsig(
        key.as_name(),
        &TsigData {
            algorithm: alg.as_name(),
            time_signed: 1_795_000_000,
            fudge: 300,
            mac: &mac,
            original_id: 4242,
            error: TsigError::NoError,
            other: &[],
        },
    )
    .unwrap();
    let len = b.finish();
    buf.truncate(len);
    buf
}

/// Parses and reads everything, as the server's request path does.
fn walk_everything(bytes: &[u8], scratch: &mut [u8; 65535], text: &mut FixedText) -> usize {
    let msg = Message::parse(bytes).expect("sample parses");
    let zone = msg
        .zone()
        .next()
        .map_or(dynzone::wire::Name::ROOT, |q| q.name);
    let mut seen = 0;
    let canon = zone.to_canonical();
    seen += canon.as_wire().len();
    for q in msg.questions() {
        text.len = 0;
        write!(text, "{} {} {}", q.name, q.qtype, q.qclass).unwrap();
        seen += text.len;
    }
    for section in Section::RECORDS {
        for r in msg.records(section) {
            text.len = 0;
            write!(text, "{} {} {} {}", r.owner, r.ttl, r.class, r.rtype).unwrap();
            seen += text.len;
            seen += usize::from(r.owner.is_at_or_below(&zone));
            seen += r.owner.to_canonical().as_wire().len();
            seen += write_rdata(scratch, &r.data).unwrap();
            match r.data {
                RData::Txt(t) => seen += t.strings().map(<[u8]>::len).sum::<usize>(),
                RData::Soa(s) => seen += s.mname.labels().count() + s.rname.wire_len(),
                RData::Opt(o) => seen += o.options().count(),
                _ => {}
            }
        }
    }
    if let Some(edns) = msg.edns() {
        seen += edns.options.options().count() + usize::from(edns.udp_payload);
    }
    if let Some(tsig) = msg.tsig() {
        seen += tsig.data.mac.len() + tsig.key_name.wire_len();
    }
    if let Some((header, body)) = msg.tsig_signed_parts() {
        seen += header.len() + body.len();
    }
    seen
}

/// Builds a typical response to the update's question.
fn build_response(request: &[u8], out: &mut [u8]) -> usize {
    let msg = Message::parse(request).expect("request parses");
    let q = msg.question().expect("question");
    let mut b = MessageBuilder::new(out, 1232).expect("room");
    b.set_id(msg.header().id);
    b.flags_mut().set_qr(true);
    b.flags_mut().set_aa(true);
    b.reserve(11).expect("room for OPT");
    b.question(q.name, q.qtype, q.qclass)
        .expect("question fits");
    for r in msg.updates() {
        let _ = b.record(Section::Answer, r.owner, r.rtype, Class::In, 60, &r.data);
    }
    // Stored RDATA is uncompressed wire form: re-encode, then copy it raw, as
    // the query path will copy bytes out of LMDB.
    let mut stored = [0u8; 512];
    for r in msg.updates().take(3) {
        if let Ok(n) = write_rdata(&mut stored, &r.data) {
            let _ = b.raw_record(
                Section::Authority,
                q.name,
                r.rtype,
                Class::In,
                60,
                &stored[..n],
            );
        }
    }
    b.opt(1232, 0, 0, 0, &[]).expect("opt fits");
    b.finish()
}

#[test]
fn parsing_and_walking_a_full_message_allocates_nothing() {
    let update = sample_update();
    let mut scratch = Box::new([0u8; 65535]);
    let mut text = Box::new(FixedText {
        buf: [0; 1024],
        len: 0,
    });
    // Warm-up outside the count (first-use initialisation, if any).
    let expected = walk_everything(&update, &mut scratch, &mut text);
    let (seen, n) = count(|| walk_everything(&update, &mut scratch, &mut text));
    assert_eq!(seen, expected);
    assert!(seen > 500, "the walk really read the message ({seen})");
    assert_eq!(n, 0, "allocations while parsing and walking");
}

#[test]
fn parsing_the_captured_client_messages_allocates_nothing() {
    let captures: [(&str, &[u8]); 8] = [
        ("dig-a", include_bytes!("data/dig-a.bin")),
        ("dig-noedns", include_bytes!("data/dig-noedns.bin")),
        (
            "dig-txt-mixedcase",
            include_bytes!("data/dig-txt-mixedcase.bin"),
        ),
        ("kdig-aaaa", include_bytes!("data/kdig-aaaa.bin")),
        ("kdig-tcp", include_bytes!("data/kdig-tcp.bin")),
        (
            "nsupdate-update-sha256",
            include_bytes!("data/nsupdate-update-sha256.bin"),
        ),
        (
            "nsupdate-update-md5",
            include_bytes!("data/nsupdate-update-md5.bin"),
        ),
        (
            "nsupdate-soa-discovery",
            include_bytes!("data/nsupdate-soa-discovery.bin"),
        ),
    ];
    let mut scratch = Box::new([0u8; 65535]);
    let mut text = Box::new(FixedText {
        buf: [0; 1024],
        len: 0,
    });
    for (what, bytes) in captures {
        let expected = walk_everything(bytes, &mut scratch, &mut text);
        let (seen, n) = count(|| walk_everything(bytes, &mut scratch, &mut text));
        assert_eq!(seen, expected, "{what}");
        assert_eq!(n, 0, "allocations while parsing and walking {what}");
    }
}

#[test]
fn building_a_response_allocates_nothing() {
    let update = sample_update();
    let mut out = [0u8; 1232];
    let first = build_response(&update, &mut out);
    let (len, n) = count(|| build_response(&update, &mut out));
    assert_eq!(len, first);
    let reply = Message::parse(&out[..len]).unwrap();
    assert!(reply.answers().count() >= 10, "the response holds answers");
    assert_eq!(n, 0, "allocations while building a response");
}

#[test]
fn tcp_framing_allocates_nothing() {
    let update = sample_update();
    let mut stream = Vec::new();
    for _ in 0..3 {
        stream.extend_from_slice(&(update.len() as u16).to_be_bytes());
        stream.extend_from_slice(&update);
    }
    let (frames, n) = count(|| {
        let mut rest = &stream[..];
        let mut frames = 0;
        while let dynzone::wire::Frame::Complete { message, consumed } = parse_frame(rest) {
            assert!(Message::parse(message).is_ok());
            rest = &rest[consumed..];
            frames += 1;
        }
        frames
    });
    assert_eq!(frames, 3);
    assert_eq!(n, 0, "allocations while framing");
}

#[test]
fn the_counter_counts() {
    // The instrument itself: a real allocation must register.
    let (v, n) = count(|| vec![1u8; 100]);
    assert_eq!(v.len(), 100);
    assert!(n >= 1, "counting allocator missed an allocation");
}

/// The mix of the issue: hits, NXDOMAIN, NODATA, CNAME, referral, wildcard, EDNS,
/// truncation, and TCP-framed requests, plus the error paths.
fn mixed_requests() -> Vec<(dynzone::handler::Transport, Vec<u8>)> {
    use dynzone::handler::Transport::{Tcp, Udp};
    let questions: &[(&str, Rtype, Option<u16>, u8)] = &[
        ("www.example.test", Rtype::A, None, 0),
        ("WWW.example.test", Rtype::Aaaa, Some(1232), 0),
        ("nope.example.test", Rtype::A, None, 0),
        ("ns1.example.test", Rtype::Mx, Some(4096), 0),
        ("c.example.test", Rtype::A, None, 0),
        ("chain.example.test", Rtype::A, Some(1232), 0),
        ("dangling.example.test", Rtype::A, None, 0),
        ("loop1.example.test", Rtype::A, None, 0),
        ("host.sub.example.test", Rtype::A, Some(1232), 0),
        ("any.wild.example.test", Rtype::Txt, None, 0),
        ("foo.cnwild.example.test", Rtype::Aaaa, None, 0),
        ("big.example.test", Rtype::Txt, None, 0),
        ("big.example.test", Rtype::Txt, Some(1232), 0),
        ("www.example.test", Rtype::Any, None, 0),
        ("example.com", Rtype::A, None, 0),
        ("www.example.test", Rtype::A, Some(1232), 1),
        ("example.test", Rtype::Soa, Some(512), 0),
    ];
    let mut out = Vec::new();
    for (i, (qname, qtype, edns, version)) in questions.iter().enumerate() {
        let name = NameBuf::from_text(qname).unwrap();
        let mut buf = [0u8; 512];
        let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
        b.set_id(i as u16);
        b.question(name.as_name(), *qtype, Class::In).unwrap();
        if let Some(size) = edns {
            b.opt(*size, 0, *version, 0, &[]).unwrap();
        }
        let bytes = b.finish_bytes().to_vec();
        out.push((Udp, bytes.clone()));
        // The same request as a TCP stream carries it: length prefix, then bytes.
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        out.push((Tcp, framed));
    }
    // Malformed: trailing byte (FORMERR), too short (dropped), NOTIMP opcode
    // (3); NOTIFY (RFC 1996) of a name (FORMERR: type A) and of the apex
    // (acknowledged).
    let mut trailing = out[0].1.clone();
    trailing.push(0);
    out.push((Udp, trailing));
    out.push((Udp, vec![0; 5]));
    let apex_soa = 2 * (questions.len() - 1);
    for (request, opcode) in [(0, 3), (0, 4), (apex_soa, 4)] {
        let mut other = out[request].1.clone();
        other[2] |= opcode << 3;
        out.push((Udp, other));
    }
    out
}

#[test]
fn answering_10000_mixed_queries_over_lmdb_allocates_nothing() {
    use dynzone::handler::{Config, Handler, Transport};
    let dir = tempfile::tempdir().unwrap();
    let store = common::zone::open_store(dir.path());
    let mut handler = Handler::new(&store, Config::default()).unwrap();
    let requests = mixed_requests();
    let peer: std::net::SocketAddr = "127.0.0.1:53000".parse().unwrap();
    let mut response = vec![0u8; 65535];

    let mut run = |n: usize| -> (usize, usize) {
        let mut answered = 0;
        let mut bytes = 0;
        for i in 0..n {
            let (transport, request) = &requests[i % requests.len()];
            let request: &[u8] = match transport {
                Transport::Udp => request,
                Transport::Tcp => match parse_frame(request) {
                    dynzone::wire::Frame::Complete { message, .. } => message,
                    dynzone::wire::Frame::Partial { .. } => panic!("whole frame"),
                },
            };
            if let Some(len) =
                handler.handle(1_790_000_000, peer, *transport, request, &mut response)
            {
                answered += 1;
                bytes += len;
            }
        }
        (answered, bytes)
    };
    // Warm-up: one pass over every kind of request.
    let _ = run(requests.len());
    let ((answered, bytes), allocs) = count(|| run(10_000));
    assert_eq!(allocs, 0, "allocations while answering 10,000 queries");
    assert!(
        answered > 9_000,
        "almost every request is answered ({answered})"
    );
    assert!(bytes > 10_000 * 30);
}

/// A signed UPDATE for example.test: `add` adds (else deletes) one TXT record
/// at `label.example.test`, with a value-dependent prerequisite that the apex
/// NS RRset is `prereq` (none when empty).
fn signed_update(
    key: &dynzone::tsig::Key,
    id: u16,
    label: &str,
    add: bool,
    prereq: &[&str],
    now: u64,
) -> Vec<u8> {
    let zone = NameBuf::from_text("example.test").unwrap();
    let owner = NameBuf::from_text(&format!("{label}.example.test")).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut b = MessageBuilder::new(&mut buf, 4096).unwrap();
    b.set_id(id);
    b.flags_mut().set_opcode(Opcode::Update);
    b.question(zone.as_name(), Rtype::Soa, Class::In).unwrap();
    for ns in prereq {
        let ns = NameBuf::from_text(ns).unwrap();
        b.record(
            Section::PREREQUISITE,
            zone.as_name(),
            Rtype::Ns,
            Class::In,
            0,
            &RData::Ns(ns.as_name()),
        )
        .unwrap();
    }
    let raw = b"\x0bhello-world";
    let (class, ttl) = if add {
        (Class::In, 60)
    } else {
        (Class::None, 0)
    };
    b.record(
        Section::UPDATE,
        owner.as_name(),
        Rtype::Txt,
        class,
        ttl,
        &RData::Txt(Txt::new(raw).unwrap()),
    )
    .unwrap();
    let len = dynzone::tsig::sign_request(key, b, now, 300).unwrap();
    buf.truncate(len);
    buf
}

#[test]
fn applying_signed_updates_over_lmdb_allocates_nothing() {
    use dynzone::handler::{Auth, Config, Handler, Origin, Ticket, Transport};
    use dynzone::store::WriteBatch;
    use dynzone::tsig::{Algorithm, Key, KeySet};
    let dir = tempfile::tempdir().unwrap();
    let store = common::zone::open_store(dir.path());
    let key = Key::new(
        NameBuf::from_text("ddns-key").unwrap().as_name(),
        Algorithm::HmacSha256,
        b"0123456789abcdef0123456789abcdef".to_vec(),
    )
    .unwrap();
    let mut keys = KeySet::new();
    keys.add(key.clone()).unwrap();
    let auth = Auth {
        keys,
        ..Default::default()
    };
    let mut handler = Handler::new(&store, Config::default())
        .unwrap()
        .with_auth(std::sync::Arc::new(auth));
    let now = 1_790_000_000;
    // 100 names, each added then deleted: 200 messages that each change the
    // zone, half of them with a prerequisite.
    let mut updates = Vec::new();
    for round in 0..2 {
        for i in 0..100u16 {
            let add = round == 0;
            updates.push(signed_update(
                &key,
                i,
                &format!("h{i}"),
                add,
                if i % 2 == 0 { &APEX_NS } else { &[] },
                now,
            ));
        }
    }
    let peer: std::net::SocketAddr = "127.0.0.1:53000".parse().unwrap();
    let mut response = vec![0u8; 65535];
    let serial = |h: &mut Handler, response: &mut [u8]| -> u32 {
        let q = query("example.test", Rtype::Soa);
        let len = h.handle(now, peer, Transport::Udp, &q, response).unwrap();
        let msg = Message::parse(&response[..len]).unwrap();
        match msg.answers().next().unwrap().data {
            RData::Soa(soa) => soa.serial,
            other => panic!("not an SOA: {other:?}"),
        }
    };
    // Warm-up: one add and one delete of a name not used below, one at a time
    // and in a batch.
    let warm = [
        signed_update(&key, 9, "warm", true, &APEX_NS, now),
        signed_update(&key, 9, "warm", false, &[], now),
    ];
    for w in &warm {
        assert!(
            handler
                .handle(now, peer, Transport::Udp, w, &mut response)
                .is_some()
        );
    }
    // New IDs, so new MACs: the same bytes again would be a replay.
    let warm = [
        signed_update(&key, 10, "warm", true, &APEX_NS, now),
        signed_update(&key, 10, "warm", false, &[], now),
    ];
    let mut batch = WriteBatch::new(&store);
    for w in &warm {
        handler
            .handle_in(
                &mut batch,
                Ticket::default(),
                Origin::new(now, peer, Transport::Udp),
                w,
                &mut response,
            )
            .unwrap();
    }
    assert!(handler.settle(batch).committed());
    let before = serial(&mut handler, &mut response);

    // One commit per update (the TCP path), then group commits of 20 (UDP).
    let (rcodes, allocs) = count(|| {
        let mut ok = 0;
        for u in &updates[..100] {
            let len = handler
                .handle(now, peer, Transport::Udp, u, &mut response)
                .unwrap_or(0);
            ok += usize::from(len > 12 && response[3] & 0x0f == 0);
        }
        for chunk in updates[100..].chunks(20) {
            let mut batch = WriteBatch::new(&store);
            for u in chunk {
                let reply = handler
                    .handle_in(
                        &mut batch,
                        Ticket::default(),
                        Origin::new(now, peer, Transport::Udp),
                        u,
                        &mut response,
                    )
                    .unwrap();
                ok += usize::from(reply.held && response[3] & 0x0f == 0);
            }
            assert!(handler.settle(batch).committed());
        }
        ok
    });
    assert_eq!(allocs, 0, "allocations while applying 200 signed updates");
    assert_eq!(rcodes, 200, "every update answered NOERROR");
    let after = serial(&mut handler, &mut response);
    assert_eq!(after, before + 200, "one serial step per update");
    // Answers `messages` one at a time; how many got `rcode`, and the
    // allocations made meanwhile.
    let mut answered_with = |messages: &[Vec<u8>], rcode: u8| {
        count(|| {
            messages
                .iter()
                .filter(|u| {
                    let len = handler
                        .handle(now, peer, Transport::Udp, u, &mut response)
                        .unwrap_or(0);
                    len > 12 && response[3] & 0x0f == rcode
                })
                .count()
        })
    };
    // Replays are refused (NOTAUTH, rcode 9) without allocating either.
    let (refused, allocs) = answered_with(&updates[..20], 9);
    assert_eq!(allocs, 0, "allocations while refusing 20 replays");
    assert_eq!(refused, 20);
    // So are refusals by RFC 2136's rules (here a value-dependent
    // prerequisite that differs: NXRRSET, rcode 8), whose record and rule
    // are views into the request.
    let differing = ["ns1.example.test", "ns9.example.test"];
    let refusals: Vec<Vec<u8>> = (0..20u16)
        .map(|i| signed_update(&key, 500 + i, &format!("r{i}"), true, &differing, now))
        .collect();
    let (nxrrset, allocs) = answered_with(&refusals, 8);
    assert_eq!(allocs, 0, "allocations while refusing 20 updates");
    assert_eq!(nxrrset, 20);
    assert_eq!(serial(&mut handler, &mut response), after);
}

/// The apex NS RRset of the zone in `common::zone::open_store`.
const APEX_NS: [&str; 2] = ["ns1.example.test", "ns2.example.test"];

/// A plain query (ID 7) for `name`/`rtype`.
fn query(name: &str, rtype: Rtype) -> Vec<u8> {
    common::wire::query(7, name, rtype)
}

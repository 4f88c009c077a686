//! The request handler over a real LMDB store, one query per iteration, from
//! received bytes to response bytes (no sockets): what each query costs in
//! dynzone itself, apart from the kernel.
//!
//! - `hit`: an A query with EDNS for a name of the zone;
//! - `nxdomain`: a name that does not exist (SOA in authority);
//! - `cname_chain`: a CNAME followed to an AAAA;
//! - `referral`: a name below a delegation (NS and glue);
//! - `wildcard`: an answer synthesized from `*.wild`.
//!
//! The zone is `tests/data/zones/example.com.zone` (which delegates `sub`) plus
//! a CNAME chain and a wildcard added here.
//!
//! And one UPDATE, `update_prereqs_64k`: a signed 64 KiB UPDATE whose
//! prerequisite section holds about 2,900 value-dependent records, each its
//! own (name, type) group, all of which hold (the zone gets `h0` … `h2999`
//! for it): the most groups a message can carry, the worst case of RFC 2136
//! §3.2.5's grouping; its cost must be about linear in its size.
//! Each iteration runs in a batch that is then dropped, so nothing commits and
//! the replay memory does not see the same message twice.
//! Run: `cargo bench --bench handler -- --warm-up-time 1 --measurement-time 3`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, criterion_group, criterion_main};
/// The query builder of the integration tests (it uses only the library).
#[path = "../tests/common/wire.rs"]
mod wire;
use dynzone::handler::{Auth, Config, Handler, Origin, Ticket, Transport};
use dynzone::store::{Store, WriteBatch};
use dynzone::tsig::{Algorithm, Key, KeySet};
use dynzone::wire::{Class, MessageBuilder, NameBuf, Opcode, RData, Rcode, Rtype, Section};
use wire::Query;

const ZONE: &str = include_str!("../tests/data/zones/example.com.zone");
const EXTRA: &str = "
chain.example.com. 300 IN CNAME link.example.com.
link.example.com. 300 IN CNAME ns1.example.com.
*.wild.example.com. 300 IN A 192.0.2.99
";

fn query(name: &str, qtype: Rtype) -> Vec<u8> {
    Query::new(0x1234, name, qtype).edns(1232, 0).bytes()
}

fn handler(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), 64 << 20).expect("store");
    let text = format!("{ZONE}\n$ORIGIN example.com.\n{EXTRA}");
    let zone = dynzone::zonefile::parse(&text, None).expect("zone parses");
    store
        .replace_zone(zone.apex.as_name(), &zone.records)
        .expect("zone loads");
    let mut handler = Handler::new(&store, Config::default()).expect("handler");
    let peer: SocketAddr = "127.0.0.1:5300".parse().expect("address");
    let mut out = vec![0u8; 65535];
    for (label, name, qtype) in [
        ("hit", "ns1.example.com", Rtype::A),
        ("nxdomain", "nothere.example.com", Rtype::A),
        ("cname_chain", "chain.example.com", Rtype::Aaaa),
        ("referral", "host.sub.example.com", Rtype::A),
        ("wildcard", "x.wild.example.com", Rtype::A),
    ] {
        let request = query(name, qtype);
        assert!(
            handler
                .handle(0, peer, Transport::Udp, &request, &mut out)
                .is_some(),
            "{label} is answered"
        );
        // `HANDLER_COUNT=<label>:<n>` answers that query n times and exits,
        // without criterion: benches/handler_instructions.sh counts the
        // instructions under callgrind, which unlike time is the same from
        // run to run.
        if let Ok(spec) = std::env::var("HANDLER_COUNT") {
            let Some((which, n)) = spec.split_once(':') else {
                panic!("HANDLER_COUNT=<label>:<n>");
            };
            if which != label {
                continue;
            }
            let n: u64 = n.parse().expect("HANDLER_COUNT=<label>:<n>");
            for _ in 0..n {
                black_box(handler.handle(
                    0,
                    peer,
                    Transport::Udp,
                    black_box(&request),
                    black_box(&mut out),
                ));
            }
            std::process::exit(0);
        }
        c.bench_function(label, |b| {
            b.iter(|| {
                handler.handle(
                    0,
                    peer,
                    Transport::Udp,
                    black_box(&request),
                    black_box(&mut out),
                )
            })
        });
    }
}

/// Names `h0` … of the UPDATE bench, each with one A record.
const HOSTS: usize = 3000;

/// A signed UPDATE of example.com filling 64 KiB with prerequisites, one per
/// name `h<i>`: "h<i> A 192.0.2.1 exists, exactly".
fn prereq_update(key: &Key) -> Vec<u8> {
    let zone = NameBuf::from_text("example.com").expect("zone");
    let mut buf = vec![0u8; 65535];
    let mut b = MessageBuilder::new(&mut buf, 65535).expect("buffer");
    b.set_id(0x2136);
    b.flags_mut().set_opcode(Opcode::Update);
    b.question(zone.as_name(), Rtype::Soa, Class::In)
        .expect("zone");
    for i in 0..HOSTS {
        let owner = NameBuf::from_text(&format!("h{i}.example.com")).expect("name");
        let a = RData::A([192, 0, 2, 1].into());
        // Room left for the TSIG record.
        if b.remaining() < 200
            || b.record(
                Section::PREREQUISITE,
                owner.as_name(),
                Rtype::A,
                Class::In,
                0,
                &a,
            )
            .is_err()
        {
            break;
        }
    }
    let len = dynzone::tsig::sign_request(key, b, 0, 300).expect("signed");
    buf.truncate(len);
    buf
}

fn update(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), 64 << 20).expect("store");
    let hosts: String = (0..HOSTS)
        .map(|i| format!("h{i}.example.com. 300 IN A 192.0.2.1\n"))
        .collect();
    let text = format!("{ZONE}\n{hosts}");
    let zone = dynzone::zonefile::parse(&text, None).expect("zone parses");
    store
        .replace_zone(zone.apex.as_name(), &zone.records)
        .expect("zone loads");
    let name = NameBuf::from_text("bench-key").expect("key name");
    let key = Key::new(name.as_name(), Algorithm::HmacSha256, vec![7; 32]).unwrap();
    let mut keys = KeySet::new();
    keys.add(key.clone()).expect("one key");
    let auth = Auth {
        keys,
        ..Default::default()
    };
    let mut handler = Handler::new(&store, Config::default())
        .expect("handler")
        .with_auth(std::sync::Arc::new(auth));
    let peer: SocketAddr = "127.0.0.1:5300".parse().expect("address");
    let mut out = vec![0u8; 65535];
    let request = prereq_update(&key);
    let msg = dynzone::wire::Message::parse(&request).expect("parses");
    eprintln!(
        "update_prereqs_64k: {} octets, {} prerequisites",
        request.len(),
        msg.prerequisites().count()
    );
    let mut run = |out: &mut [u8]| {
        let mut batch = WriteBatch::new(&store);
        let reply = handler.handle_in(
            &mut batch,
            Ticket::default(),
            Origin::new(0, peer, Transport::Tcp),
            &request,
            out,
        );
        handler.abort(batch);
        reply
    };
    let reply = run(&mut out).expect("answered");
    let rcode = dynzone::wire::Message::parse(&out[..reply.len])
        .expect("reply parses")
        .rcode();
    assert_eq!(rcode, Rcode::NoError, "the prerequisites hold");
    c.bench_function("update_prereqs_64k", |b| {
        b.iter(|| run(black_box(&mut out)))
    });
}

criterion_group!(benches, handler, update);
criterion_main!(benches);

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
//! Run: `cargo bench --bench handler -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use dynzone::handler::{Config, Handler, Transport};
use dynzone::store::Store;
use dynzone::wire::{Class, MessageBuilder, NameBuf, Rtype};

const ZONE: &str = include_str!("../tests/data/zones/example.com.zone");
const EXTRA: &str = "
chain.example.com. 300 IN CNAME link.example.com.
link.example.com. 300 IN CNAME ns1.example.com.
*.wild.example.com. 300 IN A 192.0.2.99
";

fn query(name: &str, qtype: Rtype) -> Vec<u8> {
    let name = NameBuf::from_text(name).expect("name");
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).expect("buffer");
    b.set_id(0x1234);
    b.question(name.as_name(), qtype, Class::In)
        .expect("question");
    b.opt(1232, 0, 0, 0, &[]).expect("opt");
    b.finish_bytes().to_vec()
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

criterion_group!(benches, handler);
criterion_main!(benches);

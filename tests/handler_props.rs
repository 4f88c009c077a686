//! Properties of the request handler over a real LMDB store: for any bytes and
//! for any mutation of a real query, it never panics, a reply (when there is one)
//! parses, answers the same ID with QR set, fits the size the transport allows,
//! and the store's key encoding keeps subtrees together.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;

use common::wire::Query;
use dynzone::handler::{Config, Handler, Transport};
use dynzone::store::{NameKey, key};
use dynzone::wire::{Message, NameBuf, Rtype};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    common::props::config("handler_props", 1024)
}

/// One store for the whole process (LMDB opens a directory once per process).
fn store() -> &'static dynzone::store::Store {
    static STORE: OnceLock<(tempfile::TempDir, dynzone::store::Store)> = OnceLock::new();
    let (_, store) = STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = common::zone::open_store(dir.path());
        (dir, store)
    });
    store
}

const NAMES: &[&str] = &[
    "www.example.test",
    "nope.example.test",
    "c.example.test",
    "chain.example.test",
    "host.sub.example.test",
    "x.wild.example.test",
    "big.example.test",
    "example.test",
    "example.com",
];

fn query(name: &str, qtype: u16, edns: Option<(u16, u8)>) -> Vec<u8> {
    let mut q = Query::new(0x4242, name, Rtype::from(qtype));
    if let Some((size, version)) = edns {
        q = q.edns(size, version);
    }
    q.bytes()
}

/// Answers `request` and checks what every reply must satisfy.
fn check(handler: &mut Handler, transport: Transport, request: &[u8]) -> Result<(), TestCaseError> {
    let mut out = vec![0u8; 65535];
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let Some(len) = handler.handle(0, peer, transport, request, &mut out) else {
        // Dropped only when too short for a header or a response (QR=1).
        prop_assert!(request.len() < 12 || request[2] & 0x80 != 0);
        return Ok(());
    };
    let reply = Message::parse(&out[..len]);
    prop_assert!(reply.is_ok(), "reply parses: {:?}", reply.err());
    let reply = reply.unwrap();
    prop_assert_eq!(&out[..2], &request[..2], "same ID");
    prop_assert!(reply.header().flags.qr());
    if transport == Transport::Udp {
        let limit = match Message::parse(request).ok().and_then(|m| m.edns()) {
            Some(e) => usize::from(e.udp_payload.clamp(512, 1232)),
            None => 512,
        };
        prop_assert!(len <= limit, "{len} > {limit}");
    }
    Ok(())
}

fn transport() -> impl Strategy<Value = Transport> {
    prop_oneof![Just(Transport::Udp), Just(Transport::Tcp)]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_get_a_well_formed_reply_or_none(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        transport in transport(),
    ) {
        let mut handler = Handler::new(store(), Config::default()).unwrap();
        check(&mut handler, transport, &bytes)?;
    }

    #[test]
    fn mutated_queries_get_a_well_formed_reply_or_none(
        name in proptest::sample::select(NAMES),
        qtype in prop_oneof![Just(1u16), Just(16), Just(28), Just(255), any::<u16>()],
        edns in proptest::option::of((any::<u16>(), 0u8..3)),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        transport in transport(),
    ) {
        let mut bytes = query(name, qtype, edns);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let mut handler = Handler::new(store(), Config::default()).unwrap();
        check(&mut handler, transport, &bytes)?;
    }

    #[test]
    fn a_subtree_is_one_key_range(
        parent in proptest::collection::vec("[a-zA-Z0-9*-]{1,10}", 0..4),
        child in proptest::collection::vec("[a-zA-Z0-9*.-]{1,10}", 1..3),
        other in proptest::collection::vec("[a-zA-Z0-9*-]{1,10}", 1..5),
    ) {
        let text = |labels: &[String]| if labels.is_empty() { ".".to_string() } else { labels.join(".") };
        let parent_name = NameBuf::from_text(&text(&parent)).unwrap();
        let below: Vec<String> = child.iter().chain(parent.iter()).cloned().collect();
        let child_name = NameBuf::from_text(&text(&below));
        prop_assume!(child_name.is_ok());
        let child_name = child_name.unwrap();
        let other_name = NameBuf::from_text(&text(&other)).unwrap();
        let pk = NameKey::new(parent_name.as_name());
        let ck = NameKey::new(child_name.as_name());
        let ok = NameKey::new(other_name.as_name());
        let prefix = pk.name_prefix(pk.labels());
        // Every descendant's key starts with the ancestor's encoding...
        prop_assert!(ck.name_prefix(ck.labels()).starts_with(prefix));
        // ...and a name starts with it exactly when it is at or below it.
        prop_assert_eq!(
            ok.name_prefix(ok.labels()).starts_with(prefix),
            other_name.as_name().is_at_or_below(&parent_name.as_name())
        );
        // The encoding decodes back to the name in lower case, and every
        // ancestor's prefix to that ancestor.
        let mut wire = [0u8; 255];
        for labels in 0..=ck.labels() {
            let len = key::decode_name(ck.name_prefix(labels), &mut wire).unwrap();
            let ancestor = child_name.as_name().suffix(ck.labels() - labels).to_canonical();
            prop_assert_eq!(&wire[..len], ancestor.as_wire());
        }
        // Case never matters.
        let upper = NameBuf::from_text(&text(&below).to_ascii_uppercase()).unwrap();
        let uk = NameKey::new(upper.as_name());
        prop_assert_eq!(uk.name_prefix(uk.labels()), ck.name_prefix(ck.labels()));
    }
}

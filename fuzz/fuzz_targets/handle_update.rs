//! RFC 2136 processing on arbitrary UPDATE messages, signed: the input is parsed
//! as a DNS message (inputs that do not parse are left to `handle_query`),
//! turned into an UPDATE, signed with the fixture's key at a clock that moves
//! one second per input (so the replay memory fills and is pruned as in
//! service) and handed to the handler over a real LMDB store holding
//! `tests/data/zones/example.com.zone`. Whatever the update says, the handler
//! must not panic; the reply must parse, carry the ID, be signed with the key;
//! a reply other than NOERROR must leave the zone's records as they were; and
//! after every input the store invariant must hold
//! (`Store::check_invariants`: nodes and RRsets agree, no empty RRset, every
//! ancestor exists, CNAME alone, the apex SOA and NS there, the record count
//! right; and the journal: its bookkeeping matches its changes, each is old
//! SOA, deletions, new SOA, additions, they chain to the zone's serial). A
//! NOERROR that corrupts the store or its journal fails here.

#![no_main]

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;

use dynzone::handler::{Auth, Config, Handler, Transport};
use dynzone::store::Store;
use dynzone::tsig::{Algorithm, Key, KeySet};
use dynzone::wire::{Message, MessageBuilder, Opcode, Rcode};
use libfuzzer_sys::fuzz_target;

mod common;

const NOW: u64 = 1_790_000_000;

struct Fixture {
    handler: Handler,
    store: Store,
    key: Key,
    request: Vec<u8>,
    response: Vec<u8>,
    /// Seconds since NOW: one more per input.
    clock: u64,
}

fn fixture() -> Fixture {
    let store = common::example_store("update");
    let name = dynzone::wire::NameBuf::from_text("fuzz-key").expect("key name");
    let key = Key::new(name.as_name(), Algorithm::HmacSha256, vec![7; 32]).unwrap();
    let mut keys = KeySet::new();
    keys.add(key.clone()).expect("one key");
    let auth = Auth {
        keys,
        ..Default::default()
    };
    let handler = Handler::new(&store, Config::default())
        .expect("handler")
        .with_auth(Arc::new(auth));
    Fixture {
        handler,
        store,
        key,
        request: vec![0; 65535],
        response: vec![0; 65535],
        clock: 0,
    }
}

/// The zone's records, as the store holds them.
fn zone_content(store: &Store) -> Vec<dynzone::zone::ZoneRecord> {
    let apex = dynzone::wire::NameBuf::from_text("example.com").expect("apex");
    store.zone_records(apex.as_name()).expect("the zone reads")
}

thread_local! {
    static FIXTURE: RefCell<Fixture> = RefCell::new(fixture());
}

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(data) else {
        return;
    };
    if msg.tsig().is_some() {
        return;
    }
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    FIXTURE.with(|f| {
        let f = &mut *f.borrow_mut();
        let Ok(mut b) = MessageBuilder::copy_of(&mut f.request, &msg) else {
            return;
        };
        b.flags_mut().set_qr(false);
        b.flags_mut().set_opcode(Opcode::Update);
        f.clock += 1;
        let now = NOW + f.clock;
        let Ok(len) = dynzone::tsig::sign_request(&f.key, b, now, 300) else {
            return;
        };
        let request = &f.request[..len];
        let before = zone_content(&f.store);
        let len = f
            .handler
            .handle(now, peer, Transport::Tcp, request, &mut f.response)
            .expect("a signed UPDATE always gets a reply");
        let reply = Message::parse(&f.response[..len]).expect("the reply parses");
        assert_eq!(&f.response[..2], &request[..2], "same ID");
        assert!(reply.header().flags.qr());
        let req = Message::parse(request).expect("our request parses");
        let mac = req.tsig().expect("signed").data.mac;
        dynzone::tsig::verify_response(&f.key, mac, &reply).expect("the reply is signed");
        if reply.rcode() != Rcode::NoError {
            assert!(
                zone_content(&f.store) == before,
                "a refused update ({:?}) changed the zone",
                reply.rcode()
            );
        }
        if let Err(violations) = f.store.check_invariants() {
            panic!(
                "the store invariant is broken after a {:?}:\n{}",
                reply.rcode(),
                violations.join("\n")
            );
        }
    });
});

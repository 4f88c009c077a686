//! RFC 2136 processing on arbitrary UPDATE messages, signed: the input is parsed
//! as a DNS message (inputs that do not parse are left to `handle_query`),
//! turned into an UPDATE, signed with the fixture's key at a fixed time and
//! handed to the handler over a real LMDB store holding
//! `tests/data/zones/example.com.zone`. Whatever the update says, the handler
//! must not panic; the reply must parse, carry the ID, be signed with the key,
//! and a reply other than NOERROR must leave the database untouched (no
//! transaction committed).

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
}

fn fixture() -> Fixture {
    let store = common::example_store("update");
    let name = dynzone::wire::NameBuf::from_text("fuzz-key").expect("key name");
    let key = Key::new(name.as_name(), Algorithm::HmacSha256, vec![7; 32]);
    let mut keys = KeySet::new();
    keys.add(key.clone()).expect("one key");
    let auth = Auth {
        keys,
        policy: Default::default(),
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
    }
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
        let Ok(len) = dynzone::tsig::sign_request(&f.key, b, NOW, 300) else {
            return;
        };
        let request = &f.request[..len];
        let before = f.store.env().info().last_txn_id;
        let len = f
            .handler
            .handle(NOW, peer, Transport::Tcp, request, &mut f.response)
            .expect("a signed UPDATE always gets a reply");
        let reply = Message::parse(&f.response[..len]).expect("the reply parses");
        assert_eq!(&f.response[..2], &request[..2], "same ID");
        assert!(reply.header().flags.qr());
        let req = Message::parse(request).expect("our request parses");
        let mac = req.tsig().expect("signed").data.mac;
        dynzone::tsig::verify_response(&f.key, mac, &reply).expect("the reply is signed");
        if reply.rcode() != Rcode::NoError {
            assert_eq!(
                f.store.env().info().last_txn_id,
                before,
                "a refused update ({:?}) committed something",
                reply.rcode()
            );
        }
    });
});

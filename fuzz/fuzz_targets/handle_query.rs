//! The request handler on arbitrary bytes, over a real LMDB store holding
//! `tests/data/zones/example.com.zone` (the seeds are queries for that zone).
//! The first input byte picks the transport. Whatever comes in, the handler must
//! not panic, and a reply must parse, carry the request's ID with QR set, and
//! fit the size the transport allows (512, or the EDNS size capped at 1232).

#![no_main]

use std::cell::RefCell;
use std::net::SocketAddr;

use dynzone::handler::{Config, Handler, Transport};
use dynzone::store::Store;
use dynzone::wire::Message;
use libfuzzer_sys::fuzz_target;

mod common;

struct Fixture {
    handler: Handler,
    _store: Store,
    response: Vec<u8>,
}

fn fixture() -> Fixture {
    let store = common::example_store("query");
    let handler = Handler::new(&store, Config::default()).expect("handler");
    Fixture {
        handler,
        _store: store,
        response: vec![0; 65535],
    }
}

thread_local! {
    static FIXTURE: RefCell<Fixture> = RefCell::new(fixture());
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, request)) = data.split_first() else {
        return;
    };
    let transport = if selector & 1 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    FIXTURE.with(|f| {
        let f = &mut *f.borrow_mut();
        let Some(len) = f
            .handler
            .handle(0, peer, transport, request, &mut f.response)
        else {
            assert!(
                request.len() < 12 || request[2] & 0x80 != 0,
                "dropped for no reason"
            );
            return;
        };
        let reply = &f.response[..len];
        let msg = Message::parse(reply).expect("the reply parses");
        assert_eq!(&reply[..2], &request[..2], "same ID");
        assert!(msg.header().flags.qr());
        if transport == Transport::Udp {
            let limit = match Message::parse(request).ok().and_then(|m| m.edns()) {
                Some(e) => usize::from(e.udp_payload.clamp(512, 1232)),
                None => 512,
            };
            assert!(len <= limit, "{len} octets over UDP, limit {limit}");
        }
    });
});

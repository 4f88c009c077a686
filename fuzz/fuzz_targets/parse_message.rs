//! `Message::parse` on arbitrary bytes; on success, every view it hands out is
//! walked and checked (see `dynzone_fuzz::walk_message`). On failure, the error
//! must say whether the message can be answered: only a short header is dropped.
//! Either way the parse that remembers names behind pointers must decide
//! exactly as the plain one (`Message::parse_unremembered`).

#![no_main]

use dynzone::wire::{HEADER_LEN, Message, ParseError, Rcode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert_eq!(
        format!("{:?}", Message::parse(data)),
        format!("{:?}", Message::parse_unremembered(data)),
        "the name memo changed the parse"
    );
    match Message::parse(data) {
        Ok(msg) => {
            assert_eq!(msg.as_bytes(), data);
            dynzone_fuzz::walk_message(&msg);
        }
        Err(e) => {
            assert_eq!(e == ParseError::ShortHeader, data.len() < HEADER_LEN);
            let expected = (e != ParseError::ShortHeader).then_some(Rcode::FormErr);
            assert_eq!(e.rcode(), expected);
            assert!(!e.to_string().is_empty());
        }
    }
});

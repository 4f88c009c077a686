//! A TCP byte stream cut into frames (RFC 1035 §4.2.2, RFC 7766 §8) two ways:
//! the whole input at once, frames pipelined; and one octet at a time into a
//! fixed receive buffer, as a slow peer would send it. Both must see the same
//! messages, `consumed` must add up to no more than the input, and `Partial`
//! must say exactly how many octets are missing once the prefix is known.
//! Each message is then parsed and walked.

#![no_main]

use dynzone::wire::{
    Frame, HEADER_LEN, MAX_MESSAGE, Message, ParseError, frame_prefix, parse_frame,
};
use libfuzzer_sys::fuzz_target;

/// Length prefix plus the largest message.
const RECEIVE_BUFFER: usize = 2 + MAX_MESSAGE;

fuzz_target!(|data: &[u8]| {
    let (messages, consumed, tail_needed) = whole_stream(data);
    octet_by_octet(data, &messages, consumed, tail_needed);
    for message in messages {
        match Message::parse(message) {
            Ok(msg) => dynzone_fuzz::walk_message(&msg),
            Err(e) => assert_eq!(e == ParseError::ShortHeader, message.len() < HEADER_LEN),
        }
    }
});

/// Frames of the whole input; returns them, the octets they used and what the
/// trailing partial frame still needs.
fn whole_stream(data: &[u8]) -> (Vec<&[u8]>, usize, usize) {
    let mut messages = Vec::new();
    let mut offset = 0usize;
    loop {
        let rest = data.get(offset..).expect("offset within input");
        match parse_frame(rest) {
            Frame::Complete { message, consumed } => {
                assert_eq!(consumed, 2 + message.len());
                assert!(offset + consumed <= data.len(), "consumed past the input");
                assert_eq!(rest.get(2..consumed), Some(message));
                assert_eq!(
                    frame_prefix(message.len()).as_ref(),
                    rest.first_chunk::<2>()
                );
                messages.push(message);
                offset += consumed;
            }
            Frame::Partial { needed } => {
                assert_eq!(needed, missing(rest));
                return (messages, offset, needed);
            }
        }
    }
}

/// Octets missing before `buf` holds a whole frame, computed independently.
fn missing(buf: &[u8]) -> usize {
    match buf {
        [high, low, body @ ..] => {
            let len = usize::from(u16::from_be_bytes([*high, *low]));
            assert!(body.len() < len, "a whole frame reported partial");
            len - body.len()
        }
        _ => 2 - buf.len(),
    }
}

fn octet_by_octet(data: &[u8], expected: &[&[u8]], expected_consumed: usize, tail: usize) {
    let mut buf = vec![0u8; RECEIVE_BUFFER];
    let mut filled = 0usize;
    let mut seen = 0usize;
    let mut consumed_total = 0usize;
    let mut last_needed: Option<usize> = None;
    for &octet in data {
        let slot = buf
            .get_mut(filled)
            .expect("a frame completes before the buffer is full");
        *slot = octet;
        filled += 1;
        let window = buf.get(..filled).expect("filled within buffer");
        match parse_frame(window) {
            Frame::Complete { message, consumed } => {
                assert_eq!(consumed, filled, "one octet completes at most one frame");
                if filled > 2 {
                    assert_eq!(last_needed, Some(1), "completed before Partial said so");
                }
                let want = expected
                    .get(seen)
                    .expect("more frames than whole-input parsing");
                assert_eq!(message, *want, "frame {seen} differs");
                seen += 1;
                consumed_total += consumed;
                assert!(consumed_total <= data.len());
                buf.copy_within(consumed..filled, 0);
                filled -= consumed;
                last_needed = None;
            }
            Frame::Partial { needed } => {
                assert!(needed >= 1);
                assert_eq!(needed, missing(window));
                if filled > 2
                    && let Some(previous) = last_needed
                {
                    assert_eq!(needed + 1, previous, "needed must drop by one per octet");
                }
                last_needed = (filled >= 2).then_some(needed);
            }
        }
    }
    assert_eq!(seen, expected.len());
    assert_eq!(consumed_total, expected_consumed);
    assert_eq!(filled, data.len() - expected_consumed);
    let left = buf.get(..filled).expect("filled within buffer");
    assert_eq!(parse_frame(left), Frame::Partial { needed: tail });
}

//! TCP framing: a two-octet length before each message (RFC 1035 §4.2.2,
//! RFC 7766 §8).

/// What the bytes received so far on a connection hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A whole message, and how many bytes (prefix included) it used.
    Complete {
        /// The message without its length prefix.
        message: &'a [u8],
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// Not yet a whole message: at least `needed` more bytes must arrive.
    Partial {
        /// Bytes still missing for the frame in progress.
        needed: usize,
    },
}

/// Looks for one framed message at the front of `buf`. Incomplete input is not
/// invalid input: a short buffer is `Partial`, never an error. A zero length is a
/// complete, empty message, which the message parser then drops as too short.
pub fn parse_frame(buf: &[u8]) -> Frame<'_> {
    let Some((prefix, rest)) = buf.split_first_chunk::<2>() else {
        return Frame::Partial {
            needed: 2 - buf.len(),
        };
    };
    let len = usize::from(u16::from_be_bytes(*prefix));
    match rest.get(..len) {
        Some(message) => Frame::Complete {
            message,
            consumed: 2 + len,
        },
        None => Frame::Partial {
            needed: len - rest.len(),
        },
    }
}

/// The length prefix for a message of `len` bytes, or `None` over 65535.
pub fn frame_prefix(len: usize) -> Option<[u8; 2]> {
    u16::try_from(len).ok().map(u16::to_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_then_complete() {
        assert_eq!(parse_frame(&[]), Frame::Partial { needed: 2 });
        assert_eq!(parse_frame(&[0]), Frame::Partial { needed: 1 });
        assert_eq!(parse_frame(&[0, 3, 1]), Frame::Partial { needed: 2 });
        assert_eq!(
            parse_frame(&[0, 3, 1, 2, 3, 9]),
            Frame::Complete {
                message: &[1, 2, 3],
                consumed: 5
            }
        );
        assert_eq!(
            parse_frame(&[0, 0, 7]),
            Frame::Complete {
                message: &[],
                consumed: 2
            }
        );
    }

    #[test]
    fn pipelined_frames() {
        let buf = [0, 1, 0xaa, 0, 2, 0xbb, 0xcc];
        let Frame::Complete { message, consumed } = parse_frame(&buf) else {
            panic!("first frame");
        };
        assert_eq!((message, consumed), (&[0xaa][..], 3));
        let Frame::Complete { message, consumed } = parse_frame(&buf[consumed..]) else {
            panic!("second frame");
        };
        assert_eq!((message, consumed), (&[0xbb, 0xcc][..], 4));
    }

    #[test]
    fn prefix() {
        assert_eq!(frame_prefix(513), Some([2, 1]));
        assert_eq!(frame_prefix(65536), None);
    }
}

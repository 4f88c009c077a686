//! The DNS wire format: borrowed views over received messages and a writer into
//! caller-owned buffers. Nothing here allocates, does I/O or panics on any input.
//!
//! - [`Message::parse`] checks a whole message in one pass (RFC 1035 §4, RFC 6891,
//!   RFC 8945 placement rules) and hands out views that borrow the buffer.
//! - [`MessageBuilder`] writes sections in order into `&mut [u8]` with name
//!   compression through a fixed table and a size limit, setting TC on overflow.
//! - [`parse_frame`] splits a TCP byte stream into messages (RFC 7766 §8).

mod builder;
mod error;
mod header;
mod message;
mod name;
mod rdata;
mod reader;
mod tcp;
mod types;

pub use builder::{MAX_MESSAGE, MessageBuilder, UDP_LIMIT, write_rdata};
pub use error::{BuildError, ParseError};
pub use header::{Flags, Header, Section};
pub use message::{Edns, Message, Question, Questions, Record, Records, TsigRecord};
pub use name::{HEADER_LEN, Labels, MAX_LABEL_LEN, MAX_NAME_LEN, Name, NameBuf};
pub use rdata::{
    Caa, CharStrings, Compound, EdnsOptions, Field, Fields, MAX_TSIG_TIME, OptData, RData, Soa,
    Srv, TsigData, Txt,
};
pub use tcp::{Frame, frame_prefix, parse_frame};
pub use types::{Class, Opcode, Rcode, Rtype, TsigError};

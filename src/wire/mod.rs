//! The DNS wire format: borrowed views over received messages and a writer into
//! caller-owned buffers. Nothing here allocates, does I/O or panics on any input.
//!
//! - [`Message::parse`] checks a whole message in one pass (RFC 1035 §4, RFC 6891,
//!   RFC 8945 placement rules) and hands out views that borrow the buffer.
//! - [`MessageBuilder`] writes sections in order into `&mut [u8]` with name
//!   compression through a fixed table and a size limit, setting TC on overflow.
//! - [`parse_frame`] splits a TCP byte stream into messages (RFC 7766 §8).
//!
//! ```
//! use dynzone::wire::{Class, Message, MessageBuilder, NameBuf, Rtype, UDP_LIMIT};
//!
//! let qname = NameBuf::from_text("home.example.net").unwrap();
//! let mut buf = [0u8; UDP_LIMIT];
//! let mut query = MessageBuilder::new(&mut buf, UDP_LIMIT).unwrap();
//! query.set_id(0x1234);
//! query.flags_mut().set_rd(true);
//! query.question(qname.as_name(), Rtype::Aaaa, Class::In).unwrap();
//! query.opt(1232, 0, 0, 0, &[]).unwrap();
//! let bytes = query.finish_bytes();
//!
//! let msg = Message::parse(bytes).unwrap();
//! let q = msg.question().unwrap();
//! assert_eq!(q.name.to_string(), "home.example.net.");
//! assert_eq!(q.qtype, Rtype::Aaaa);
//! assert_eq!(msg.edns().unwrap().udp_payload, 1232);
//! ```

mod builder;
mod error;
mod header;
mod memo;
mod message;
mod name;
mod rdata;
mod reader;
mod tcp;
mod type_info;
mod types;

pub use builder::{MAX_MESSAGE, MessageBuilder, OPT_LEN, UDP_LIMIT, write_rdata};
pub use error::{BuildError, ParseError};
pub use header::{Flags, Header, Section};
pub use message::{Edns, Message, Question, Questions, Record, Records, TsigRecord};
pub use name::{
    HEADER_LEN, Labels, MAX_LABEL_LEN, MAX_LABELS, MAX_NAME_LEN, MAX_POINTERS, Name, NameBuf,
};
pub use rdata::{
    Caa, CharStrings, Compound, EdnsOptions, Field, Fields, MAX_TSIG_TIME, OptData, RData, Soa,
    SoaRdata, Srv, TsigData, Txt,
};
pub use tcp::{Frame, frame_prefix, parse_frame};
pub use type_info::{Decoding, Layout, Part, TypeInfo, TypeKind};
pub use types::{Class, Opcode, Rcode, Rtype, TsigError};

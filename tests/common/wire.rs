//! DNS messages as the tests write them: names from text, one-question
//! queries, TCP length prefixes, hex. Uses nothing but the `dynzone` library,
//! so `benches/` can include this file too (`#[path]`); it panics on bad
//! input with `expect`, as a bench may not `unwrap`.
#![allow(dead_code)]

use dynzone::wire::{
    Class, Flags, Frame, MAX_MESSAGE, Message, MessageBuilder, NameBuf, Opcode, Rcode, Rtype,
    parse_frame,
};

/// `text` as a name; the tests only write valid ones.
pub fn name(text: &str) -> NameBuf {
    NameBuf::from_text(text).expect("a valid name")
}

/// The OPT record (RFC 6891 §6.1.2) of a [`Query`].
#[derive(Debug, Clone, Copy)]
pub struct Edns<'a> {
    /// The requestor's UDP payload size.
    pub udp_payload: u16,
    /// The EDNS version.
    pub version: u8,
    /// The flags (DO is 0x8000).
    pub flags: u16,
    /// The options, already in wire form.
    pub options: &'a [u8],
}

/// A query with one question: ID, header flags, class, opcode and an optional
/// OPT record, each chosen by the test; written in order by
/// [`MessageBuilder`]. `Query::new(id, name, qtype).bytes()` is the plain
/// query most tests send.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The message ID.
    pub id: u16,
    /// The question name, as text.
    pub name: &'a str,
    /// The question type.
    pub qtype: Rtype,
    /// The question class (IN unless set).
    pub class: Class,
    /// The header flags; OPCODE among them (QUERY, no flag, unless set).
    pub flags: Flags,
    /// The OPT record, if any.
    pub edns: Option<Edns<'a>>,
}

impl<'a> Query<'a> {
    /// A standard query `name`/`qtype` in class IN, no flag set, no OPT.
    pub fn new(id: u16, name: &'a str, qtype: Rtype) -> Query<'a> {
        Query {
            id,
            name,
            qtype,
            class: Class::In,
            flags: Flags(0),
            edns: None,
        }
    }

    /// In class `class`.
    pub fn class(mut self, class: Class) -> Query<'a> {
        self.class = class;
        self
    }

    /// With OPCODE `opcode`.
    pub fn opcode(mut self, opcode: Opcode) -> Query<'a> {
        self.flags.set_opcode(opcode);
        self
    }

    /// With RD (recursion desired).
    pub fn rd(mut self) -> Query<'a> {
        self.flags.set_rd(true);
        self
    }

    /// With AD (authentic data).
    pub fn ad(mut self) -> Query<'a> {
        self.flags.set_ad(true);
        self
    }

    /// With CD (checking disabled).
    pub fn cd(mut self) -> Query<'a> {
        self.flags.set_cd(true);
        self
    }

    /// With an OPT record of payload size `udp_payload` and version
    /// `version`, no flags and no options.
    pub fn edns(self, udp_payload: u16, version: u8) -> Query<'a> {
        self.edns_with(Edns {
            udp_payload,
            version,
            flags: 0,
            options: &[],
        })
    }

    /// With the OPT record `edns`.
    pub fn edns_with(mut self, edns: Edns<'a>) -> Query<'a> {
        self.edns = Some(edns);
        self
    }

    /// Writes the header and the question into `buf` (limit: the whole
    /// buffer, at most [`MAX_MESSAGE`]), and OPT when there is one; the
    /// builder is returned unfinished, for records (TSIG) after it.
    pub fn write<'b>(&self, buf: &'b mut [u8]) -> MessageBuilder<'b> {
        let limit = buf.len().min(MAX_MESSAGE);
        let qname = name(self.name);
        let mut b = MessageBuilder::new(buf, limit).expect("room for a header");
        b.set_id(self.id);
        *b.flags_mut() = self.flags;
        b.question(qname.as_name(), self.qtype, self.class)
            .expect("room for the question");
        if let Some(e) = self.edns {
            b.opt(e.udp_payload, 0, e.version, e.flags, e.options)
                .expect("room for OPT");
        }
        b
    }

    /// The finished message.
    pub fn bytes(&self) -> Vec<u8> {
        let mut buf = [0u8; 512];
        self.write(&mut buf).finish_bytes().to_vec()
    }
}

/// The plain query `name`/`qtype` (class IN, no flag, no OPT) with ID `id`.
pub fn query(id: u16, name: &str, qtype: Rtype) -> Vec<u8> {
    Query::new(id, name, qtype).bytes()
}

/// The RCODE of `reply` (with the OPT bits); fails the test when it does not
/// parse.
pub fn rcode_of(reply: &[u8]) -> Rcode {
    Message::parse(reply).expect("the reply parses").rcode()
}

/// `message` behind its two-octet TCP length (RFC 1035 §4.2.2).
pub fn frame(message: &[u8]) -> Vec<u8> {
    let len = u16::try_from(message.len()).expect("a message fits a TCP frame");
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

/// The whole frames at the start of `buf`, removed from it.
pub fn take_frames(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Frame::Complete { message, consumed } = parse_frame(buf) {
        out.push(message.to_vec());
        buf.drain(..consumed);
    }
    out
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The bytes of the hex digits in `text`, which may be spread over lines with
/// spaces and `#` comments; fails on an odd number of digits.
pub fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .flat_map(|line| line.split('#').next().unwrap_or("").bytes())
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    assert!(digits.len().is_multiple_of(2), "odd hex: {text}");
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ASCII hex");
            u8::from_str_radix(pair, 16).expect("a hex digit pair")
        })
        .collect()
}

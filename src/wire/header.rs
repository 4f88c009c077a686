//! The 12-byte message header (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 4035 §3.2).

use super::error::ParseError;
use super::name::HEADER_LEN;
use super::types::{Opcode, Rcode};

/// Byte offsets of the header fields.
mod field {
    pub type Field = core::ops::Range<usize>;
    pub const ID: Field = 0..2;
    pub const FLAGS: Field = 2..4;
    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT in order; UPDATE calls them ZOCOUNT,
    /// PRCOUNT, UPCOUNT, ADCOUNT (RFC 2136 §2.2).
    pub const COUNTS: [Field; 4] = [4..6, 6..8, 8..10, 10..12];
}

/// The four sections of a message, with UPDATE's names as aliases (RFC 2136 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// Question; the Zone section in an UPDATE.
    Question = 0,
    /// Answer; the Prerequisite section in an UPDATE.
    Answer = 1,
    /// Authority; the Update section in an UPDATE.
    Authority = 2,
    /// Additional data.
    Additional = 3,
}

impl Section {
    /// UPDATE's Zone section (RFC 2136 §2.3).
    pub const ZONE: Section = Section::Question;
    /// UPDATE's Prerequisite section (RFC 2136 §2.4).
    pub const PREREQUISITE: Section = Section::Answer;
    /// UPDATE's Update section (RFC 2136 §2.5).
    pub const UPDATE: Section = Section::Authority;
    /// The three sections that hold records, in wire order.
    pub const RECORDS: [Section; 3] = [Section::Answer, Section::Authority, Section::Additional];

    /// Index into count arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The second 16-bit word of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u16);

macro_rules! flag_bit {
    ($get:ident, $set:ident, $bit:expr, $doc:expr) => {
        #[doc = concat!("The ", $doc, " bit.")]
        pub fn $get(self) -> bool {
            self.0 & $bit != 0
        }
        #[doc = concat!("Sets or clears the ", $doc, " bit.")]
        pub fn $set(&mut self, on: bool) {
            if on {
                self.0 |= $bit;
            } else {
                self.0 &= !$bit;
            }
        }
    };
}

impl Flags {
    flag_bit!(qr, set_qr, 0x8000, "QR (response)");
    flag_bit!(aa, set_aa, 0x0400, "AA (authoritative answer)");
    flag_bit!(tc, set_tc, 0x0200, "TC (truncated)");
    flag_bit!(rd, set_rd, 0x0100, "RD (recursion desired)");
    flag_bit!(ra, set_ra, 0x0080, "RA (recursion available)");
    flag_bit!(z, set_z, 0x0040, "Z (reserved)");
    flag_bit!(ad, set_ad, 0x0020, "AD (authentic data)");
    flag_bit!(cd, set_cd, 0x0010, "CD (checking disabled)");

    /// OPCODE, bits 1 to 4.
    pub fn opcode(self) -> Opcode {
        Opcode::from(((self.0 >> 11) & 0x0f) as u8)
    }

    /// Sets OPCODE (only its low four bits count).
    pub fn set_opcode(&mut self, opcode: Opcode) {
        self.0 = (self.0 & !0x7800) | (u16::from(u8::from(opcode) & 0x0f) << 11);
    }

    /// The four RCODE bits of the header.
    pub fn rcode_bits(self) -> u8 {
        (self.0 & 0x0f) as u8
    }

    /// Sets the header part of `rcode`; the rest goes in OPT (RFC 6891 §6.1.3).
    pub fn set_rcode(&mut self, rcode: Rcode) {
        self.0 = (self.0 & !0x0f) | u16::from(rcode.header_bits());
    }
}

/// A parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Message ID.
    pub id: u16,
    /// Flags, opcode and rcode.
    pub flags: Flags,
    /// Record counts of the four sections, in [`Section`] order.
    pub counts: [u16; 4],
}

impl Header {
    /// Reads the header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Header, ParseError> {
        let bytes: &[u8; HEADER_LEN] = buf.first_chunk().ok_or(ParseError::ShortHeader)?;
        let word = |f: field::Field| {
            bytes
                .get(f)
                .and_then(|s| <[u8; 2]>::try_from(s).ok())
                .map_or(0, u16::from_be_bytes)
        };
        let [qd, an, ns, ar] = field::COUNTS;
        Ok(Header {
            id: word(field::ID),
            flags: Flags(word(field::FLAGS)),
            counts: [word(qd), word(an), word(ns), word(ar)],
        })
    }

    /// The header in wire form.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut put = |f: field::Field, v: u16| {
            if let Some(dst) = out.get_mut(f) {
                dst.copy_from_slice(&v.to_be_bytes());
            }
        };
        put(field::ID, self.id);
        put(field::FLAGS, self.flags.0);
        for (f, &count) in field::COUNTS.into_iter().zip(&self.counts) {
            put(f, count);
        }
        out
    }

    /// The count of one section.
    pub fn count(&self, section: Section) -> u16 {
        self.counts.get(section.index()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bits() {
        // dig's query header: id 0x1234, RD, AD, one question, one additional.
        let bytes = [0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];
        let h = Header::parse(&bytes).unwrap();
        assert_eq!(h.id, 0x1234);
        assert!(h.flags.rd() && h.flags.ad());
        assert!(!h.flags.qr() && !h.flags.aa() && !h.flags.tc() && !h.flags.cd());
        assert_eq!(h.flags.opcode(), Opcode::Query);
        assert_eq!(h.count(Section::Question), 1);
        assert_eq!(h.count(Section::Additional), 1);
        assert_eq!(h.to_bytes(), bytes);
    }

    #[test]
    fn opcode_and_rcode() {
        let mut f = Flags::default();
        f.set_opcode(Opcode::Update);
        f.set_rcode(Rcode::NotZone);
        f.set_qr(true);
        assert_eq!(f.opcode(), Opcode::Update);
        assert_eq!(f.rcode_bits(), 10);
        assert_eq!(f.0, 0x8000 | 5 << 11 | 10);
        f.set_opcode(Opcode::Query);
        f.set_rcode(Rcode::BadVers);
        assert_eq!(f.0, 0x8000);
    }

    #[test]
    fn short_header() {
        assert_eq!(Header::parse(&[0; 11]), Err(ParseError::ShortHeader));
        assert_eq!(Header::parse(&[]), Err(ParseError::ShortHeader));
    }
}

//! Printing records in one canonical master file form (RFC 1035 §5.1): one
//! record per line, every field present, names absolute, RDATA of the types
//! [`super::rdata_text`] reads in presentation form and every other type in the
//! RFC 3597 §5 generic form. Reading the output back gives the same records, so
//! printing again gives the same bytes.

use core::fmt::Write as _;
use core::net::{Ipv4Addr, Ipv6Addr};
use std::io;

use super::rdata_text::has_text_form;
use crate::wire::{Layout, Name, NameBuf, Part, Rtype};
use crate::zone::ZoneRecord;

/// How many octets of generic RDATA go in one hex word.
const HEX_WORD: usize = 32;

/// Writes the zone: a comment line, the first SOA, then every other record in
/// the order given.
pub(super) fn zone(
    apex: &NameBuf,
    records: &[ZoneRecord],
    out: &mut dyn io::Write,
) -> io::Result<()> {
    writeln!(out, "; zone {apex} exported by dynzone")?;
    let soa = records.iter().position(|r| r.rtype == Rtype::Soa);
    if let Some(first) = soa.and_then(|i| records.get(i)) {
        record(first, out)?;
    }
    for (i, rec) in records.iter().enumerate() {
        if Some(i) != soa {
            record(rec, out)?;
        }
    }
    out.flush()
}

/// One line: `owner TAB ttl TAB IN TAB type TAB rdata`.
pub(super) fn record(rec: &ZoneRecord, out: &mut dyn io::Write) -> io::Result<()> {
    let rdata = presentation(rec.rtype, &rec.rdata).unwrap_or_else(|| generic(&rec.rdata));
    writeln!(
        out,
        "{}\t{}\tIN\t{}\t{}",
        rec.owner, rec.ttl, rec.rtype, rdata
    )
}

/// RFC 3597 §5: `\# length hex`, upper-case hex in words of 32 octets.
fn generic(rdata: &[u8]) -> String {
    let mut s = format!("\\# {}", rdata.len());
    for chunk in rdata.chunks(HEX_WORD) {
        s.push(' ');
        for b in chunk {
            let _ = write!(s, "{b:02X}");
        }
    }
    s
}

/// A character-string in double quotes: `"` and `\` escaped with `\`, octets
/// outside printable ASCII as `\DDD` (RFC 1035 §5.1).
fn quoted(s: &[u8], out: &mut String) {
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

/// Reads the fields of stored RDATA; any read past the end is `None`.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }

    fn name(&mut self) -> Option<Name<'a>> {
        let (name, next) = Name::parse_uncompressed(self.buf, self.pos).ok()?;
        self.pos = next;
        Some(name)
    }

    fn char_string(&mut self) -> Option<&'a [u8]> {
        let len = self.u8()?;
        self.bytes(usize::from(len))
    }

    fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }

    /// Appends one field in presentation form.
    fn part(&mut self, part: Part, out: &mut String) -> Option<()> {
        match part {
            Part::Name => {
                let _ = write!(out, "{}", self.name()?);
            }
            Part::U8 => {
                let _ = write!(out, "{}", self.u8()?);
            }
            Part::U16 => {
                let _ = write!(out, "{}", self.u16()?);
            }
            Part::U32 | Part::Duration => {
                let _ = write!(out, "{}", self.u32()?);
            }
            Part::CharString => quoted(self.char_string()?, out),
            Part::Ipv4 => {
                let _ = write!(out, "{}", Ipv4Addr::from(self.array::<4>()?));
            }
            Part::Ipv6 => {
                let _ = write!(out, "{}", Ipv6Addr::from(self.array::<16>()?));
            }
        }
        Some(())
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

/// The presentation form of RDATA of a type the parser reads in text, or
/// `None` when the type has none or the octets do not fit its format (then the
/// generic form keeps them exactly).
fn presentation(rtype: Rtype, rdata: &[u8]) -> Option<String> {
    if !has_text_form(rtype) || rdata.is_empty() {
        return None;
    }
    let mut c = Cursor { buf: rdata, pos: 0 };
    let mut s = String::new();
    match rtype.info().layout {
        Layout::Fields(parts) => {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                c.part(*part, &mut s)?;
            }
        }
        Layout::Strings => {
            while !c.at_end() {
                if !s.is_empty() {
                    s.push(' ');
                }
                quoted(c.char_string()?, &mut s);
            }
        }
        Layout::Caa => {
            let flags = c.u8()?;
            let tag = c.char_string()?;
            if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return None;
            }
            let _ = write!(s, "{flags} {} ", String::from_utf8_lossy(tag));
            quoted(c.rest(), &mut s);
        }
        Layout::Opaque => return None,
    }
    c.at_end().then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_generic_forms() {
        assert_eq!(
            presentation(Rtype::A, &[192, 0, 2, 1]).unwrap(),
            "192.0.2.1"
        );
        assert_eq!(presentation(Rtype::A, &[192, 0, 2]), None);
        assert_eq!(
            presentation(Rtype::Txt, b"\x03a\"b\x00\x02\\\x7f").unwrap(),
            "\"a\\\"b\" \"\" \"\\\\\\127\""
        );
        assert_eq!(presentation(Rtype::Txt, b"\x05ab"), None);
        assert_eq!(
            presentation(Rtype::Caa, b"\x80\x05issueca.example").unwrap(),
            "128 issue \"ca.example\""
        );
        assert_eq!(presentation(Rtype::Caa, b"\x00\x02a-x"), None);
        assert_eq!(presentation(Rtype::Ds, &[1, 2]), None);
        assert_eq!(generic(&[]), "\\# 0");
        assert_eq!(generic(&[0xab, 1]), "\\# 2 AB01");
        let long = generic(&[0; 40]);
        assert_eq!(
            long,
            format!("\\# 40 {} {}", "00".repeat(32), "00".repeat(8))
        );
    }
}

//! RDATA from its presentation form into uncompressed wire form: the RFC 3597
//! §5 generic `\# length hex` for every type, and the text form of the types
//! an operator writes by hand (RFC 1035 §3.3, §3.4; RFC 3596; RFC 2782;
//! RFC 8659; RFC 1183; RFC 2163; RFC 3403; RFC 6672).

use core::net::{Ipv4Addr, Ipv6Addr};

use super::ZoneFileError;
use super::lexer::Token;
use super::text;
use crate::wire::{Layout, NameBuf, Part, Rtype};
use crate::zone::validate_rdata;

/// Whether [`rdata`] reads a text form of `rtype` (the printer uses the same
/// test, so that what it prints is read back).
pub(super) fn has_text_form(rtype: Rtype) -> bool {
    rtype.info().layout != Layout::Opaque
}

/// The tokens of one record's RDATA, read in order.
struct Fields<'t, 'a> {
    tokens: &'t [Token<'a>],
    next: usize,
    /// Line of the last token read, or of the type token before any.
    line: usize,
    origin: Option<&'t NameBuf>,
}

impl<'a> Fields<'_, 'a> {
    fn err(&self, message: impl Into<String>) -> ZoneFileError {
        ZoneFileError::new(self.line, message)
    }

    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.next)
    }

    fn token(&mut self, what: &str) -> Result<Token<'a>, ZoneFileError> {
        let Some(&t) = self.tokens.get(self.next) else {
            return Err(self.err(format!("RDATA ends where {what} was expected")));
        };
        self.next += 1;
        self.line = t.line;
        Ok(t)
    }

    /// A token that must not be a quoted string.
    fn word(&mut self, what: &str) -> Result<&'a str, ZoneFileError> {
        let t = self.token(what)?;
        if t.quoted {
            return Err(self.err(format!("{what} expected, found a quoted string")));
        }
        Ok(t.text)
    }

    fn with<T>(&self, r: Result<T, String>) -> Result<T, ZoneFileError> {
        r.map_err(|m| self.err(m))
    }

    fn part(&mut self, part: Part, out: &mut Vec<u8>) -> Result<(), ZoneFileError> {
        match part {
            Part::Name => {
                let t = self.word("a domain name")?;
                let name = self.with(text::name(t, self.origin))?;
                out.extend_from_slice(name.as_wire());
            }
            Part::U8 => {
                let t = self.word("a number")?;
                let n = self.with(text::number(t, u8::MAX.into(), "number"))?;
                out.push(n as u8);
            }
            Part::U16 => {
                let t = self.word("a number")?;
                let n = self.with(text::number(t, u16::MAX.into(), "number"))?;
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            Part::U32 => {
                let t = self.word("a number")?;
                let n = self.with(text::number(t, u32::MAX, "number"))?;
                out.extend_from_slice(&n.to_be_bytes());
            }
            Part::Duration => {
                let t = self.word("a time")?;
                let n = self.with(text::duration(t, "time"))?;
                out.extend_from_slice(&n.to_be_bytes());
            }
            Part::CharString => {
                let t = self.token("a character-string")?;
                let s = self.with(text::unescape(t.text))?;
                let len = u8::try_from(s.len()).map_err(|_| {
                    self.err(format!(
                        "character-string of {} octets; at most 255 fit (RFC 1035 §3.3)",
                        s.len()
                    ))
                })?;
                out.push(len);
                out.extend_from_slice(&s);
            }
            Part::Ipv4 => {
                let t = self.word("an IPv4 address")?;
                let a: Ipv4Addr = t
                    .parse()
                    .map_err(|_| self.err(format!("'{t}' is not an IPv4 address")))?;
                out.extend_from_slice(&a.octets());
            }
            Part::Ipv6 => {
                let t = self.word("an IPv6 address")?;
                let a: Ipv6Addr = t
                    .parse()
                    .map_err(|_| self.err(format!("'{t}' is not an IPv6 address")))?;
                out.extend_from_slice(&a.octets());
            }
        }
        Ok(())
    }

    fn end(&self) -> Result<(), ZoneFileError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(ZoneFileError::new(
                t.line,
                format!("unexpected '{}' after the end of the RDATA", t.text),
            )),
        }
    }

    /// RFC 3597 §5: `\#`, a decimal length, then that many octets in hex,
    /// in as many words as the writer likes.
    fn generic(&mut self) -> Result<Vec<u8>, ZoneFileError> {
        let t = self.word("the RDATA length")?;
        let len = self.with(text::number(t, u16::MAX.into(), "RDATA length"))?;
        let mut out = Vec::with_capacity(len as usize);
        while let Some(t) = self.peek().copied() {
            let word = self.word("hexadecimal RDATA")?;
            self.line = t.line;
            self.with(text::hex(word, &mut out))?;
        }
        if out.len() != len as usize {
            return Err(self.err(format!(
                "\\# says {len} octets of RDATA but {} follow",
                out.len()
            )));
        }
        Ok(out)
    }
}

/// Parses the RDATA `tokens` of a record of `rtype` whose type token is on
/// `line`, with names relative to `origin`. The error carries the line of the
/// token at fault.
pub(super) fn rdata(
    rtype: Rtype,
    tokens: &[Token<'_>],
    line: usize,
    origin: Option<&NameBuf>,
) -> Result<Vec<u8>, ZoneFileError> {
    let mut f = Fields {
        tokens,
        next: 0,
        line,
        origin,
    };
    let generic = matches!(f.peek(), Some(t) if !t.quoted && t.text == "\\#");
    let out = if generic {
        f.next += 1;
        f.generic()?
    } else {
        match rtype.info().layout {
            Layout::Fields(parts) => {
                let mut out = Vec::new();
                for part in parts {
                    f.part(*part, &mut out)?;
                }
                f.end()?;
                out
            }
            Layout::Strings => {
                // RFC 1035 §3.3.14: one or more character-strings.
                let mut out = Vec::new();
                f.part(Part::CharString, &mut out)?;
                while f.peek().is_some() {
                    f.part(Part::CharString, &mut out)?;
                }
                out
            }
            Layout::Caa => caa(&mut f)?,
            Layout::Opaque => {
                return Err(f.err(format!(
                    "no text form of {rtype} RDATA is read here; write it in the RFC 3597 \
                     generic form: {rtype} \\# <length> <hex>"
                )));
            }
        }
    };
    f.with(validate_rdata(rtype, &out))?;
    Ok(out)
}

/// RFC 8659 §4.1.1: `flags tag value`, the tag of ASCII letters and digits,
/// the value one string of any length (not a character-string).
fn caa(f: &mut Fields<'_, '_>) -> Result<Vec<u8>, ZoneFileError> {
    let mut out = Vec::new();
    f.part(Part::U8, &mut out)?;
    let tag = f.word("a CAA tag")?;
    if tag.is_empty() || tag.len() > 255 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(f.err(format!(
            "CAA tag '{tag}' must be 1 to 255 ASCII letters and digits (RFC 8659 §4.1)"
        )));
    }
    out.push(tag.len() as u8);
    out.extend_from_slice(tag.as_bytes());
    let value = f.token("a CAA value")?;
    let value = f.with(text::unescape(value.text))?;
    out.extend_from_slice(&value);
    f.end()?;
    Ok(out)
}

//! RFC 1035 §5 master files: parsing into [`ZoneRecord`]s and printing them back.
//!
//! [`parse`] reads what BIND and Knot read for a class IN zone: `$ORIGIN`,
//! `$TTL` (RFC 2308 §4, with BIND's units such as `1h30m`), comments,
//! parentheses, blank owners, `@`, relative names, `\.` and `\DDD` escapes,
//! TTL and class in either order, type mnemonics or `TYPEnnn`, the RFC 3597 §5
//! generic RDATA form for any type and text RDATA for the common types. It also
//! applies the rules of [`crate::zone::check`], so every error has a line.
//!
//! [`write`] prints a zone in one canonical form that [`parse`] reads back:
//! printing, reading and printing again gives the same bytes.
//!
//! ```
//! use dynzone::zonefile::{parse, write};
//!
//! let text = "$TTL 1h\n\
//!             @ SOA ns hostmaster 1 2h 1h 1w 5m\n  NS ns\n\
//!             ns A 192.0.2.1\n";
//! let origin = dynzone::wire::NameBuf::from_text("example.").unwrap();
//! let zone = parse(text, Some(&origin)).unwrap();
//! assert_eq!(zone.records.len(), 3);
//! let mut out = Vec::new();
//! write(&zone.apex, &zone.records, &mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().contains("ns.example.\t3600\tIN\tA\t192.0.2.1\n"));
//! ```

mod lexer;
mod print;
mod rdata_text;
mod text;

use std::fmt;

use crate::wire::{NameBuf, Rtype, SoaRdata, TypeKind};
use crate::zone::{Limits, ZoneRecord, check_records};
use lexer::{Entry, Lexer, Token};

/// A zone read from a master file (RFC 1035 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedZone {
    /// The zone apex: the origin given to [`parse`], or else the owner of the
    /// SOA record (RFC 1035 §5.2: the SOA is at the top of the zone).
    pub apex: NameBuf,
    /// The records in the order of the file, duplicates kept.
    pub records: Vec<ZoneRecord>,
}

/// Why a master file was not read (RFC 1035 §5.1 syntax or a zone rule of
/// [`crate::zone::check`]), with the line it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFileError {
    /// Line of the file, counting from 1.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

impl ZoneFileError {
    fn new(line: usize, message: impl Into<String>) -> ZoneFileError {
        ZoneFileError {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ZoneFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ZoneFileError {}

/// Reads a master file (RFC 1035 §5.1) of class IN.
///
/// `origin` is the zone apex given on the command line; it is the initial
/// origin for relative names and `@`. When it is `None`, the apex is the owner
/// of the SOA record, and names before a `$ORIGIN` must be absolute.
///
/// TTLs follow RFC 2308 §4 as BIND does: a record without a TTL takes the
/// `$TTL` value, else the last TTL written (RFC 1035 §5.1), else, for the SOA,
/// its MINIMUM field; any other record without a TTL before one is known is an
/// error. `$INCLUDE` and `$GENERATE` are refused. After reading, the rules of
/// [`crate::zone::check`] are applied, each reported at the line of the
/// record that breaks it, with the default [`Limits`].
pub fn parse(text: &str, origin: Option<&NameBuf>) -> Result<ParsedZone, ZoneFileError> {
    parse_with(text, origin, &Limits::default())
}

/// [`parse`] with the given limits (`dynzone import` passes its flags).
pub fn parse_with(
    text: &str,
    origin: Option<&NameBuf>,
    limits: &Limits,
) -> Result<ParsedZone, ZoneFileError> {
    let mut state = State {
        origin: origin.copied(),
        default_ttl: None,
        last_ttl: None,
        owner: None,
    };
    let mut records = Vec::new();
    let mut lines = Vec::new();
    for entry in Lexer::new(text) {
        let entry = entry?;
        if let Some(rec) = state.entry(&entry)? {
            records.push(rec);
            lines.push(entry.line);
        }
    }
    let first_line = lines.first().copied().unwrap_or(1);
    let apex = match origin {
        Some(apex) => *apex,
        None => records
            .iter()
            .find(|r| r.rtype == Rtype::Soa)
            .map(|r| r.owner)
            .ok_or_else(|| {
                ZoneFileError::new(
                    first_line,
                    "no SOA record, and no origin given to tell the zone apex",
                )
            })?,
    };
    check_records(&apex, &records, limits).map_err(|v| {
        let line = v
            .index
            .and_then(|i| lines.get(i).copied())
            .unwrap_or(first_line);
        ZoneFileError::new(line, v.message)
    })?;
    Ok(ParsedZone { apex, records })
}

/// Prints `records` of the zone `apex` as a master file (RFC 1035 §5.1) that
/// [`parse`] reads back into the same records: a comment line naming the zone,
/// the SOA, then every other record in the order given, one per line as
/// `owner TAB ttl TAB IN TAB type TAB rdata` with absolute names. RDATA of the
/// types [`parse`] reads in text is printed in text; other types, and RDATA
/// that does not fit its type's format, in the RFC 3597 §5 generic form.
pub fn write(
    apex: &NameBuf,
    records: &[ZoneRecord],
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    print::zone(apex, records, out)
}

/// Prints one record as [`write`] prints it: a line `owner TAB ttl TAB IN
/// TAB type TAB rdata`.
pub fn write_record(record: &ZoneRecord, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    print::record(record, out)
}

/// What the file said so far that later lines depend on.
struct State {
    /// `$ORIGIN`, or the origin given.
    origin: Option<NameBuf>,
    /// `$TTL`, or the SOA MINIMUM when the SOA had no TTL (RFC 2308 §4).
    default_ttl: Option<u32>,
    /// The last TTL written on a record (RFC 1035 §5.1).
    last_ttl: Option<u32>,
    /// The previous record's owner, for a line that starts blank.
    owner: Option<NameBuf>,
}

/// A class field: IN, or another class dynzone does not serve.
enum ClassField {
    In,
    Other,
}

fn class_field(text: &str) -> Option<ClassField> {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "IN" | "CLASS1" => Some(ClassField::In),
        "CH" | "HS" => Some(ClassField::Other),
        _ => {
            let digits = upper.strip_prefix("CLASS")?;
            text::number(digits, u16::MAX.into(), "class").ok()?;
            Some(ClassField::Other)
        }
    }
}

/// A type mnemonic in any case, or RFC 3597 §5 `TYPEnnn`
/// (see [`Rtype::from_text`]).
pub fn parse_type(text: &str) -> Option<Rtype> {
    Rtype::from_text(text)
}

impl State {
    /// Handles one entry: a directive or a record.
    fn entry(&mut self, entry: &Entry<'_>) -> Result<Option<ZoneRecord>, ZoneFileError> {
        let err = |line: usize, m: String| ZoneFileError::new(line, m);
        let mut tokens = entry.tokens.iter();
        let Some(first) = tokens.next() else {
            return Ok(None);
        };
        if !entry.blank_owner && !first.quoted && first.text.starts_with('$') {
            return self.directive(first, tokens.as_slice()).map(|()| None);
        }
        let owner = if entry.blank_owner {
            tokens = entry.tokens.iter();
            self.owner.ok_or_else(|| {
                err(
                    entry.line,
                    "the line starts blank but there is no previous owner".into(),
                )
            })?
        } else {
            if first.quoted {
                return Err(err(
                    first.line,
                    "owner name expected, found a quoted string".into(),
                ));
            }
            text::name(first.text, self.origin.as_ref()).map_err(|m| err(first.line, m))?
        };
        self.owner = Some(owner);

        // RFC 1035 §5.1: [<TTL>] [<class>] <type> or [<class>] [<TTL>] <type>.
        let mut ttl = None;
        let mut class_seen = false;
        let (rtype, type_token) = loop {
            let Some(t) = tokens.next() else {
                return Err(err(entry.line, "record without a type".into()));
            };
            if t.quoted {
                return Err(err(t.line, "type expected, found a quoted string".into()));
            }
            if t.text.starts_with(|c: char| c.is_ascii_digit()) && ttl.is_none() {
                ttl = Some(text::ttl(t.text).map_err(|m| err(t.line, m))?);
                continue;
            }
            if !class_seen && let Some(class) = class_field(t.text) {
                class_seen = true;
                if let ClassField::Other = class {
                    return Err(err(
                        t.line,
                        format!("class {} is not served here: zones are of class IN", t.text),
                    ));
                }
                continue;
            }
            match Rtype::from_text(t.text) {
                Some(rtype) => break (rtype, t),
                None => return Err(err(t.line, format!("unknown type '{}'", t.text))),
            }
        };
        match rtype.info().kind {
            TypeKind::Reserved => {
                return Err(err(type_token.line, "type 0 is reserved".into()));
            }
            TypeKind::Meta => {
                return Err(err(
                    type_token.line,
                    format!("{rtype} is a meta type; it cannot be in a zone"),
                ));
            }
            TypeKind::Data => {}
        }
        let rdata = rdata_text::rdata(
            rtype,
            tokens.as_slice(),
            type_token.line,
            self.origin.as_ref(),
        )?;
        let ttl = match ttl {
            Some(ttl) => {
                self.last_ttl = Some(ttl);
                ttl
            }
            None => match (self.default_ttl, self.last_ttl) {
                (Some(ttl), _) | (None, Some(ttl)) => ttl,
                (None, None) if rtype == Rtype::Soa => {
                    // RFC 2308 §4 as BIND reads it: the SOA MINIMUM.
                    // The RDATA was checked as an SOA by `rdata_text::rdata`.
                    let minimum = SoaRdata::new(&rdata)
                        .ok_or_else(|| err(type_token.line, "SOA RDATA too short".into()))?
                        .minimum()
                        .min(text::MAX_TTL);
                    self.default_ttl = Some(minimum);
                    minimum
                }
                (None, None) => {
                    return Err(err(
                        entry.line,
                        "no TTL on this record and none known yet: add $TTL at the top".into(),
                    ));
                }
            },
        };
        Ok(Some(ZoneRecord {
            owner,
            rtype,
            ttl,
            rdata,
        }))
    }

    /// `$ORIGIN name`, `$TTL ttl` (RFC 1035 §5.1, RFC 2308 §4).
    fn directive(&mut self, first: &Token<'_>, args: &[Token<'_>]) -> Result<(), ZoneFileError> {
        let line = first.line;
        let err = |m: String| ZoneFileError::new(line, m);
        let one = |what: &str| match args {
            [arg] if !arg.quoted => Ok(arg.text),
            _ => Err(err(format!("{} takes one {what}", first.text))),
        };
        match first.text.to_ascii_uppercase().as_str() {
            "$ORIGIN" => {
                let name = one("domain name")?;
                self.origin = Some(text::name(name, self.origin.as_ref()).map_err(err)?);
            }
            "$TTL" => {
                let ttl = one("TTL")?;
                self.default_ttl = Some(text::ttl(ttl).map_err(err)?);
            }
            "$INCLUDE" => {
                return Err(err(
                    "$INCLUDE is not supported: put the included records in this file".into(),
                ));
            }
            "$GENERATE" => {
                return Err(err(
                    "$GENERATE is not supported: write the records out".into()
                ));
            }
            _ => return Err(err(format!("unknown directive {}", first.text))),
        }
        Ok(())
    }
}

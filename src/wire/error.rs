//! Parse and build errors: small `Copy` enums that map to the reply the RFCs name.

use core::fmt;

use super::types::Rcode;

/// Why a received message could not be parsed.
///
/// Every variant but [`ParseError::ShortHeader`] is answered with FORMERR
/// (RFC 1035 §4.1.1: "The name server was unable to interpret the query").
/// A datagram too short to hold a header cannot even be answered and is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// Fewer than 12 bytes: no header to answer. Dropped.
    ShortHeader,
    /// A count or length promised more bytes than the message holds.
    ShortInput,
    /// Bytes left over after the last record the counts announce.
    TrailingBytes,
    /// A compression pointer to itself or to a later offset (RFC 1035 §4.1.4
    /// allows only earlier occurrences; this also rules out loops).
    ForwardPointer,
    /// A compression pointer into the 12-byte header.
    PointerIntoHeader,
    /// A compression pointer at or past the end of the message.
    PointerPastEnd,
    /// A name that needs more than [`super::MAX_POINTERS`] (16)
    /// compression pointers: BIND's `DNS_POINTER_MAXHOPS`. Loops are already
    /// impossible; this bounds the work one name can cost.
    TooManyPointers,
    /// A name longer than 255 octets in wire form (RFC 1035 §2.3.4).
    NameTooLong,
    /// A label type 0b01 or 0b10 (RFC 6891 §5 retired extended labels), which is
    /// also how a label over 63 octets shows on the wire.
    ReservedLabelType,
    /// RDATA that does not match its type's format, or a name in it that does not
    /// end exactly at RDLENGTH.
    BadRdata,
    /// More than one OPT record (RFC 6891 §6.1.1).
    MultipleOpt,
    /// An OPT record whose owner is not the root, or outside the additional
    /// section (RFC 6891 §6.1.1).
    BadOpt,
    /// A TSIG record that is not the last record of the additional section, or
    /// a second one (RFC 8945 §5.1).
    TsigNotLast,
    /// A TSIG record whose class is not ANY or whose TTL is not 0 (RFC 8945 §4.2).
    BadTsig,
    /// A text form that is not a valid name (only from [`super::NameBuf::from_text`]).
    BadText,
}

impl ParseError {
    /// The RCODE to answer with, or `None` when the message must be dropped.
    pub fn rcode(self) -> Option<Rcode> {
        match self {
            ParseError::ShortHeader => None,
            _ => Some(Rcode::FormErr),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ParseError::ShortHeader => "message shorter than a header",
            ParseError::ShortInput => "message ends before its counts say",
            ParseError::TrailingBytes => "bytes after the last record",
            ParseError::ForwardPointer => "compression pointer not pointing backwards",
            ParseError::PointerIntoHeader => "compression pointer into the header",
            ParseError::PointerPastEnd => "compression pointer past the end",
            ParseError::TooManyPointers => "more than 16 compression pointers in one name",
            ParseError::NameTooLong => "name longer than 255 octets",
            ParseError::ReservedLabelType => "reserved label type",
            ParseError::BadRdata => "malformed rdata",
            ParseError::MultipleOpt => "more than one OPT record",
            ParseError::BadOpt => "OPT record with non-root owner or outside additional",
            ParseError::TsigNotLast => "TSIG record not last in the message",
            ParseError::BadTsig => "TSIG record with class other than ANY or non-zero TTL",
            ParseError::BadText => "not a valid domain name",
        };
        f.write_str(text)
    }
}

/// Why the builder could not add something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildError {
    /// The buffer or limit is smaller than a header.
    NoRoomForHeader,
    /// A record of the question, answer or authority section did not fit; the
    /// builder set TC (RFC 2181 §9) and accepts no further records but OPT/TSIG.
    Truncated,
    /// An additional-section record did not fit; it was left out, TC not set
    /// (RFC 2181 §9: additional data is optional).
    NoSpace,
    /// A section was written after a later one (sections go in order).
    SectionOrder,
    /// A section already holds 65535 records.
    CountOverflow,
    /// RDATA longer than 65535 octets.
    RdataTooLong,
    /// A name whose labels could not be read back. Cannot happen for a name
    /// this crate parsed or built (see [`super::Name`]); if it did, the name is
    /// refused rather than written shorter than it is.
    UnreadableName,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            BuildError::NoRoomForHeader => "buffer smaller than a header",
            BuildError::Truncated => "record did not fit; message truncated",
            BuildError::NoSpace => "additional record did not fit",
            BuildError::SectionOrder => "section written out of order",
            BuildError::CountOverflow => "too many records in a section",
            BuildError::RdataTooLong => "rdata longer than 65535 octets",
            BuildError::UnreadableName => "name could not be read back",
        };
        f.write_str(text)
    }
}

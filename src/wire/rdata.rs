//! Typed RDATA views (RFC 1035 §3.3, RFC 3596, RFC 2782, RFC 8659, RFC 6891,
//! RFC 8945) and opaque bytes for every other type (RFC 3597).

use core::net::{Ipv4Addr, Ipv6Addr};

use super::error::ParseError;
use super::name::Name;
use super::reader::Reader;
use super::type_info::{Decoding, Layout, Part};
use super::types::{Rtype, TsigError};

/// SOA RDATA (RFC 1035 §3.3.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Soa<'a> {
    /// Primary name server.
    pub mname: Name<'a>,
    /// Mailbox of the person responsible, as a name.
    pub rname: Name<'a>,
    /// Zone serial, compared with RFC 1982 arithmetic.
    pub serial: u32,
    /// Secondary refresh interval.
    pub refresh: u32,
    /// Secondary retry interval.
    pub retry: u32,
    /// When secondaries stop answering without a refresh.
    pub expire: u32,
    /// Negative caching TTL (RFC 2308 §4).
    pub minimum: u32,
}

/// Stored SOA RDATA (RFC 1035 §3.3.13): two uncompressed names, then the
/// 32-bit SERIAL, REFRESH, RETRY, EXPIRE and MINIMUM. Only the fixed fields are
/// read, from the end, so no name is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaRdata<'a> {
    rdata: &'a [u8],
    /// Where SERIAL starts: the length of the two names.
    names_len: usize,
    serial: u32,
    minimum: u32,
}

impl<'a> SoaRdata<'a> {
    /// The octets of SERIAL, REFRESH, RETRY, EXPIRE and MINIMUM.
    const FIXED_LEN: usize = 20;
    /// Two names of at least the root label each.
    const MIN_NAMES_LEN: usize = 2;

    /// A view of `rdata`, or `None` when it is too short to be an SOA.
    pub fn new(rdata: &'a [u8]) -> Option<SoaRdata<'a>> {
        let names_len = rdata.len().checked_sub(Self::FIXED_LEN)?;
        if names_len < Self::MIN_NAMES_LEN {
            return None;
        }
        let mut r = Reader::new(rdata, names_len);
        let serial = r.u32().ok()?;
        r.bytes(12).ok()?; // REFRESH, RETRY, EXPIRE
        let minimum = r.u32().ok()?;
        Some(SoaRdata {
            rdata,
            names_len,
            serial,
            minimum,
        })
    }

    /// SERIAL, compared with RFC 1982 arithmetic.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// MINIMUM, the negative caching TTL (RFC 2308 §4).
    pub fn minimum(&self) -> u32 {
        self.minimum
    }

    /// Writes this RDATA with SERIAL replaced by `serial` into `out`; returns
    /// the bytes written, or `None` when `out` is too short.
    pub fn with_serial<'o>(&self, serial: u32, out: &'o mut [u8]) -> Option<&'o [u8]> {
        let len = self.rdata.len();
        let out = out.get_mut(..len)?;
        out.copy_from_slice(self.rdata);
        out.get_mut(self.names_len..self.names_len.checked_add(4)?)?
            .copy_from_slice(&serial.to_be_bytes());
        Some(out)
    }
}

/// SRV RDATA (RFC 2782). The target is written uncompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Srv<'a> {
    /// Priority, lower first.
    pub priority: u16,
    /// Weight among equal priorities.
    pub weight: u16,
    /// Port of the service.
    pub port: u16,
    /// Host that offers it.
    pub target: Name<'a>,
}

/// CAA RDATA (RFC 8659 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caa<'a> {
    /// Flags octet; bit 128 is "issuer critical".
    pub flags: u8,
    /// Property tag, 1 to 255 octets.
    pub tag: &'a [u8],
    /// Property value, the rest of the RDATA.
    pub value: &'a [u8],
}

/// TXT RDATA (RFC 1035 §3.3.14): one or more character-strings, kept as the raw
/// bytes they came in; [`Txt::strings`] splits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Txt<'a> {
    raw: &'a [u8],
}

impl<'a> Txt<'a> {
    /// Checks that `raw` is a sequence of length-prefixed strings, at least one.
    pub fn new(raw: &'a [u8]) -> Result<Txt<'a>, ParseError> {
        if raw.is_empty() {
            return Err(ParseError::BadRdata);
        }
        let mut r = Reader::new(raw, 0).with_end(raw.len());
        while !r.at_end() {
            let len = r.u8()?;
            r.bytes(usize::from(len))?;
        }
        Ok(Txt { raw })
    }

    /// The wire form, all strings with their length octets.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The character-strings without their length octets.
    pub fn strings(&self) -> CharStrings<'a> {
        CharStrings { rest: self.raw }
    }
}

/// Iterator over length-prefixed character-strings.
#[derive(Debug, Clone)]
pub struct CharStrings<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for CharStrings<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let (s, rest) = tail.split_at_checked(usize::from(len))?;
        self.rest = rest;
        Some(s)
    }
}

/// OPT RDATA (RFC 6891 §6.1.2): a sequence of options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptData<'a> {
    raw: &'a [u8],
}

impl<'a> OptData<'a> {
    /// Checks that `raw` is a sequence of {code, length, data} options.
    pub fn new(raw: &'a [u8]) -> Result<OptData<'a>, ParseError> {
        let mut r = Reader::new(raw, 0);
        while !r.at_end() {
            r.u16()?;
            let len = r.u16()?;
            r.bytes(usize::from(len))
                .map_err(|_| ParseError::BadRdata)?;
        }
        Ok(OptData { raw })
    }

    /// The options in wire form.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The options as `(code, data)`.
    pub fn options(&self) -> EdnsOptions<'a> {
        EdnsOptions { rest: self.raw }
    }
}

/// Iterator over EDNS options as `(code, data)`.
#[derive(Debug, Clone)]
pub struct EdnsOptions<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for EdnsOptions<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<(u16, &'a [u8])> {
        let (head, tail) = self.rest.split_at_checked(4)?;
        let code = u16::from_be_bytes([*head.first()?, *head.get(1)?]);
        let len = u16::from_be_bytes([*head.get(2)?, *head.get(3)?]);
        let (data, rest) = tail.split_at_checked(usize::from(len))?;
        self.rest = rest;
        Some((code, data))
    }
}

/// TSIG RDATA (RFC 8945 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsigData<'a> {
    /// Algorithm name, e.g. `hmac-sha256.`.
    pub algorithm: Name<'a>,
    /// Seconds since the epoch, 48 bits.
    pub time_signed: u64,
    /// Seconds of allowed clock difference.
    pub fudge: u16,
    /// The MAC.
    pub mac: &'a [u8],
    /// The message ID the signer used.
    pub original_id: u16,
    /// TSIG error.
    pub error: TsigError,
    /// Other data: the server's time on BADTIME.
    pub other: &'a [u8],
}

/// One field of a [`Compound`] RDATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A 16-bit number (preference, order).
    U16(u16),
    /// A character-string, without its length octet.
    CharString(&'a [u8]),
    /// A domain name, followed through compression.
    Name(Name<'a>),
}

/// RDATA of a type with embedded names but no view of its own (MB, MG, MINFO,
/// RP, AFSDB, NAPTR, …): its fields in order, names decompressed on reading.
#[derive(Debug, Clone, Copy)]
pub struct Compound<'a> {
    parts: &'static [Part],
    compressible: bool,
    buf: &'a [u8],
    start: usize,
    end: usize,
    compressed: bool,
}

impl<'a> Compound<'a> {
    fn parse(
        rtype: Rtype,
        r: &mut Reader<'a>,
        compressed: bool,
    ) -> Result<Option<Compound<'a>>, ParseError> {
        let info = rtype.info();
        let (Decoding::Fields, Layout::Fields(parts)) = (info.decoding, info.layout) else {
            return Ok(None);
        };
        let compressible = info.compress;
        let start = r.pos();
        for part in parts {
            read_field(r, *part, compressed)?;
        }
        Ok(Some(Compound {
            parts,
            compressible,
            buf: r.buf(),
            start,
            end: r.pos(),
            compressed,
        }))
    }

    /// The fields in wire order.
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            parts: self.parts.iter(),
            reader: Reader::new(self.buf, self.start).with_end(self.end),
            compressed: self.compressed,
        }
    }

    /// Whether a sender may compress the names (RFC 3597 §4: RFC 1035 types only).
    pub fn compressible(&self) -> bool {
        self.compressible
    }
}

impl PartialEq for Compound<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts && self.fields().eq(other.fields())
    }
}

impl Eq for Compound<'_> {}

fn read_field<'a>(
    r: &mut Reader<'a>,
    part: Part,
    compressed: bool,
) -> Result<Field<'a>, ParseError> {
    Ok(match part {
        Part::U16 => Field::U16(r.u16()?),
        Part::CharString => {
            let len = r.u8()?;
            Field::CharString(r.bytes(usize::from(len))?)
        }
        Part::Name => Field::Name(r.name(compressed)?),
        // Only U16, CharString and Name occur in the layouts decoded field by
        // field (a test in `type_info` holds the table to that).
        Part::U8 | Part::U32 | Part::Duration | Part::Ipv4 | Part::Ipv6 => {
            return Err(ParseError::BadRdata);
        }
    })
}

/// Iterator over the fields of a [`Compound`].
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    parts: core::slice::Iter<'static, Part>,
    reader: Reader<'a>,
    compressed: bool,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        let part = *self.parts.next()?;
        read_field(&mut self.reader, part, self.compressed).ok()
    }
}

/// Largest 48-bit time value.
pub const MAX_TSIG_TIME: u64 = (1 << 48) - 1;

/// RDATA of one record.
///
/// Names in it borrow the message they came from, so they follow compression
/// pointers; written back they are compressed only where RFC 3597 §4 allows it
/// (the RFC 1035 types NS, CNAME, PTR, SOA, MX, MD, MF, MB, MG, MR and MINFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RData<'a> {
    /// IPv4 address (RFC 1035 §3.4.1).
    A(Ipv4Addr),
    /// IPv6 address (RFC 3596 §2.2).
    Aaaa(Ipv6Addr),
    /// Authoritative name server (RFC 1035 §3.3.11).
    Ns(Name<'a>),
    /// Canonical name (RFC 1035 §3.3.1).
    Cname(Name<'a>),
    /// Domain name pointer (RFC 1035 §3.3.12).
    Ptr(Name<'a>),
    /// Start of authority.
    Soa(Soa<'a>),
    /// Mail exchange (RFC 1035 §3.3.9).
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The mail host.
        exchange: Name<'a>,
    },
    /// Text strings.
    Txt(Txt<'a>),
    /// Service location.
    Srv(Srv<'a>),
    /// Certification authority authorization.
    Caa(Caa<'a>),
    /// EDNS(0) options.
    Opt(OptData<'a>),
    /// Transaction signature.
    Tsig(TsigData<'a>),
    /// Another type with embedded names (RFC 3597 §4), decompressed.
    Compound(Compound<'a>),
    /// Any other type, or a known type whose bytes we keep as they are (RFC 3597).
    Unknown(&'a [u8]),
    /// RDLENGTH 0 for a type that needs data: what UPDATE deletes and
    /// prerequisites carry (RFC 2136 §2.4, §2.5).
    Empty,
}

impl<'a> RData<'a> {
    /// Parses RDATA of `rtype` found at `start..start + len` of `buf`.
    ///
    /// `compressed` says whether `buf` is a whole message whose names may use
    /// compression pointers, or stored uncompressed data.
    pub fn parse(
        buf: &'a [u8],
        rtype: Rtype,
        start: usize,
        len: usize,
        compressed: bool,
    ) -> Result<RData<'a>, ParseError> {
        let end = start.checked_add(len).ok_or(ParseError::ShortInput)?;
        let bytes = buf.get(start..end).ok_or(ParseError::ShortInput)?;
        if len == 0 && !matches!(rtype, Rtype::Opt | Rtype::Tsig) {
            return Ok(RData::Empty);
        }
        let mut r = Reader::new(buf, start).with_end(end);
        let name = |r: &mut Reader<'a>| r.name(compressed);
        let data = match rtype {
            Rtype::A => RData::A(Ipv4Addr::from(r.array::<4>()?)),
            Rtype::Aaaa => RData::Aaaa(Ipv6Addr::from(r.array::<16>()?)),
            Rtype::Ns => RData::Ns(name(&mut r)?),
            Rtype::Cname => RData::Cname(name(&mut r)?),
            Rtype::Ptr => RData::Ptr(name(&mut r)?),
            Rtype::Soa => RData::Soa(Soa {
                mname: name(&mut r)?,
                rname: name(&mut r)?,
                serial: r.u32()?,
                refresh: r.u32()?,
                retry: r.u32()?,
                expire: r.u32()?,
                minimum: r.u32()?,
            }),
            Rtype::Mx => RData::Mx {
                preference: r.u16()?,
                exchange: name(&mut r)?,
            },
            Rtype::Txt => {
                r.skip_to_end();
                RData::Txt(Txt::new(bytes)?)
            }
            Rtype::Srv => RData::Srv(Srv {
                priority: r.u16()?,
                weight: r.u16()?,
                port: r.u16()?,
                target: name(&mut r)?,
            }),
            Rtype::Caa => {
                let flags = r.u8()?;
                let tag_len = r.u8()?;
                if tag_len == 0 {
                    return Err(ParseError::BadRdata);
                }
                let tag = r.bytes(usize::from(tag_len))?;
                RData::Caa(Caa {
                    flags,
                    tag,
                    value: r.rest(),
                })
            }
            Rtype::Opt => {
                r.skip_to_end();
                RData::Opt(OptData::new(bytes)?)
            }
            Rtype::Tsig => {
                let algorithm = name(&mut r)?;
                let high = u64::from(r.u16()?);
                let low = u64::from(r.u32()?);
                let fudge = r.u16()?;
                let mac_len = r.u16()?;
                let mac = r.bytes(usize::from(mac_len))?;
                let original_id = r.u16()?;
                let error = TsigError::from(r.u16()?);
                let other_len = r.u16()?;
                let other = r.bytes(usize::from(other_len))?;
                RData::Tsig(TsigData {
                    algorithm,
                    time_signed: high << 32 | low,
                    fudge,
                    mac,
                    original_id,
                    error,
                    other,
                })
            }
            other => match Compound::parse(other, &mut r, compressed)? {
                Some(compound) => RData::Compound(compound),
                None => {
                    r.skip_to_end();
                    RData::Unknown(bytes)
                }
            },
        };
        if !r.at_end() {
            return Err(ParseError::BadRdata);
        }
        Ok(data)
    }

    /// Whether a sender may compress the names in this RDATA (RFC 3597 §4),
    /// as the type's [`Rtype::info`] says.
    pub fn names_compressible(&self) -> bool {
        let rtype = match self {
            RData::Ns(_) => Rtype::Ns,
            RData::Cname(_) => Rtype::Cname,
            RData::Ptr(_) => Rtype::Ptr,
            RData::Soa(_) => Rtype::Soa,
            RData::Mx { .. } => Rtype::Mx,
            RData::Srv(_) => Rtype::Srv,
            RData::Tsig(_) => Rtype::Tsig,
            RData::Compound(c) => return c.compressible,
            RData::A(_)
            | RData::Aaaa(_)
            | RData::Txt(_)
            | RData::Caa(_)
            | RData::Opt(_)
            | RData::Unknown(_)
            | RData::Empty => return false,
        };
        rtype.info().compress
    }

    /// Parses stored, uncompressed RDATA that fills `bytes`.
    pub fn from_wire(rtype: Rtype, bytes: &'a [u8]) -> Result<RData<'a>, ParseError> {
        RData::parse(bytes, rtype, 0, bytes.len(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_soa_fixed_fields() {
        let mut rdata = b"\x02ns\x00\x00".to_vec();
        for v in [7u32, 1, 2, 3, 300] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        let soa = SoaRdata::new(&rdata).unwrap();
        assert_eq!((soa.serial(), soa.minimum()), (7, 300));
        let mut out = [0u8; 64];
        let bumped = soa.with_serial(8, &mut out).unwrap();
        assert_eq!(SoaRdata::new(bumped).unwrap().serial(), 8);
        assert_eq!(bumped.get(..5), rdata.get(..5));
        assert_eq!(bumped.get(9..), rdata.get(9..));
        assert_eq!(soa.with_serial(8, &mut [0u8; 10]), None);
        assert_eq!(SoaRdata::new(&[0; 21]), None);
        assert!(SoaRdata::new(&[0; 22]).is_some());
    }
}

//! What dynzone knows about each record type, in one table: whether it may be
//! in a zone, how its RDATA is laid out (for the wire reader, the master file
//! reader and the printer), whether the wire layer decodes it, and whether a
//! sender may compress the names in it. Everyone who needs one of these facts
//! asks [`Rtype::info`].

use super::types::Rtype;

/// Whether a type can be data in a zone (RFC 6895 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// Type 0: reserved, never a record nor a question.
    Reserved,
    /// A data type (every type not reserved and not meta, named or not).
    Data,
    /// Meta and query-only types: OPT (41) and 128 to 255 (TKEY, TSIG, IXFR,
    /// AXFR, MAILB, MAILA, ANY, …). They never live in a zone.
    Meta,
}

/// One field of RDATA, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A domain name; in presentation form relative to the origin unless it
    /// ends in `.`.
    Name,
    /// An 8-bit number.
    U8,
    /// A 16-bit number.
    U16,
    /// A 32-bit number.
    U32,
    /// A 32-bit number of seconds; in presentation form also with units
    /// (`1h`), as BIND reads SOA timers.
    Duration,
    /// A character-string (RFC 1035 §3.3): a length octet and that many octets.
    CharString,
    /// An IPv4 address, 4 octets (RFC 1035 §3.4.1).
    Ipv4,
    /// An IPv6 address, 16 octets (RFC 3596 §2.2).
    Ipv6,
}

/// The shape of a type's RDATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// These fields in order, nothing after them.
    Fields(&'static [Part]),
    /// One or more character-strings (TXT, RFC 1035 §3.3.14).
    Strings,
    /// CAA (RFC 8659 §4.1): flags octet, a tag of 1 to 255 octets with its
    /// length octet, the value to the end.
    Caa,
    /// Not known here: only the RFC 3597 §5 generic form `\# length hex`.
    Opaque,
}

/// How the wire layer reads a type's RDATA into [`super::RData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// Kept as opaque bytes (RFC 3597); may be empty.
    Opaque,
    /// A typed view of its own (A, AAAA, NS, CNAME, PTR, SOA, MX, TXT, SRV,
    /// CAA, OPT, TSIG).
    View,
    /// Field by field following [`Layout::Fields`], names decompressed
    /// ([`super::Compound`]): RFC 3597 §4 says receivers MUST decompress the
    /// names of the RFC 1035 types (MD, MF, MB, MG, MR, MINFO) and SHOULD in
    /// RP, AFSDB, RT, PX and NAPTR.
    Fields,
}

/// Everything dynzone knows about one record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeInfo {
    /// Reserved, data or meta.
    pub kind: TypeKind,
    /// The RDATA's fields; the master file reader and the printer handle the
    /// types whose layout is not [`Layout::Opaque`].
    pub layout: Layout,
    /// How the wire layer reads the RDATA.
    pub decoding: Decoding,
    /// Whether a sender may compress names inside the RDATA: RFC 3597 §4
    /// allows it for the RFC 1035 types only (NS, MD, MF, CNAME, SOA, MB, MG,
    /// MR, PTR, MINFO, MX).
    pub compress: bool,
}

impl TypeInfo {
    /// Whether the wire layer knows the format: such RDATA must decode and
    /// cannot be empty in a zone (RFC 3597 §4: a known type must hold its own
    /// format).
    pub fn wire_known(&self) -> bool {
        self.kind == TypeKind::Data && self.decoding != Decoding::Opaque
    }
}

const fn data(layout: Layout, decoding: Decoding, compress: bool) -> TypeInfo {
    TypeInfo {
        kind: TypeKind::Data,
        layout,
        decoding,
        compress,
    }
}

const fn other(kind: TypeKind) -> TypeInfo {
    TypeInfo {
        kind,
        layout: Layout::Opaque,
        decoding: Decoding::Opaque,
        compress: false,
    }
}

impl Rtype {
    /// The descriptor of this type: the one table of per-type knowledge.
    pub fn info(self) -> TypeInfo {
        use Decoding::{Fields as ByFields, Opaque as Bytes, View};
        use Layout::Fields;
        use Part::{CharString, Duration, Ipv4, Ipv6, Name, U16, U32};
        match self {
            Rtype::A => data(Fields(&[Ipv4]), View, false),
            Rtype::Aaaa => data(Fields(&[Ipv6]), View, false),
            Rtype::Ns | Rtype::Cname | Rtype::Ptr => data(Fields(&[Name]), View, true),
            Rtype::Md | Rtype::Mf | Rtype::Mb | Rtype::Mg | Rtype::Mr => {
                data(Fields(&[Name]), ByFields, true)
            }
            // RFC 6672 §2.5: the DNAME target is not compressed, and it is
            // kept as received.
            Rtype::Dname => data(Fields(&[Name]), Bytes, false),
            Rtype::Soa => data(
                Fields(&[Name, Name, U32, Duration, Duration, Duration, Duration]),
                View,
                true,
            ),
            Rtype::Mx => data(Fields(&[U16, Name]), View, true),
            Rtype::Minfo => data(Fields(&[Name, Name]), ByFields, true),
            Rtype::Rp => data(Fields(&[Name, Name]), ByFields, false),
            Rtype::Afsdb | Rtype::Rt => data(Fields(&[U16, Name]), ByFields, false),
            Rtype::Px => data(Fields(&[U16, Name, Name]), ByFields, false),
            Rtype::Naptr => data(
                Fields(&[U16, U16, CharString, CharString, CharString, Name]),
                ByFields,
                false,
            ),
            // RFC 2782: the SRV target is not compressed.
            Rtype::Srv => data(Fields(&[U16, U16, U16, Name]), View, false),
            Rtype::Hinfo => data(Fields(&[CharString, CharString]), Bytes, false),
            Rtype::Txt => data(Layout::Strings, View, false),
            Rtype::Caa => data(Layout::Caa, View, false),
            // RFC 8945 §4.2: the algorithm name is not compressed.
            Rtype::Opt | Rtype::Tsig => TypeInfo {
                decoding: View,
                ..other(TypeKind::Meta)
            },
            other_type => match u16::from(other_type) {
                0 => other(TypeKind::Reserved),
                // RFC 6895 §3.1: OPT and 128..=255 are meta or query-only.
                41 | 128..=255 => other(TypeKind::Meta),
                _ => other(TypeKind::Data),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(Rtype::from(0).info().kind, TypeKind::Reserved);
        for t in [
            Rtype::Opt,
            Rtype::Tsig,
            Rtype::Tkey,
            Rtype::Any,
            Rtype::Axfr,
            Rtype::Ixfr,
            Rtype::Maila,
            Rtype::from(128),
        ] {
            assert_eq!(t.info().kind, TypeKind::Meta, "{t}");
            assert!(t.is_meta(), "{t}");
        }
        for t in [Rtype::A, Rtype::Txt, Rtype::Caa, Rtype::Unknown(65280)] {
            assert_eq!(t.info().kind, TypeKind::Data, "{t}");
            assert!(!t.is_meta(), "{t}");
        }
    }

    #[test]
    fn compressible_types_are_the_rfc_1035_ones() {
        let compressible: Vec<Rtype> = (0..=u16::MAX)
            .map(Rtype::from)
            .filter(|t| t.info().compress)
            .collect();
        use Rtype::*;
        assert_eq!(
            compressible,
            [Ns, Md, Mf, Cname, Soa, Mb, Mg, Mr, Ptr, Minfo, Mx]
        );
    }

    #[test]
    fn field_decoded_layouts_hold_only_what_a_field_can_be() {
        for t in (0..=u16::MAX).map(Rtype::from) {
            let info = t.info();
            if info.decoding == Decoding::Fields {
                let Layout::Fields(parts) = info.layout else {
                    panic!("{t}: decoded by fields without a field layout");
                };
                assert!(
                    parts
                        .iter()
                        .all(|p| matches!(p, Part::U16 | Part::CharString | Part::Name)),
                    "{t}"
                );
            }
        }
    }
}

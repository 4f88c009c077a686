//! IANA code points: record types, classes, opcodes and response codes.
//!
//! Each is an enum with an `Unknown` variant and `From` both ways, so a value read
//! from the wire is never lost or silently mapped to something else (STYLE.md).
//! `From<u16>` never produces `Unknown(n)` for a number that has a name.

use core::fmt;

macro_rules! code_point {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty) {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr => $text:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "` (", stringify!($value), ").")] $variant, )*
            /// A value without a name here, kept as it was read.
            Unknown($repr),
        }

        impl From<$repr> for $name {
            fn from(value: $repr) -> Self {
                match value {
                    $( $value => $name::$variant, )*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value, )*
                    $name::Unknown(other) => other,
                }
            }
        }

        impl $name {
            /// Every named value with its mnemonic, in the order of the table.
            const NAMED: &'static [(&'static str, $name)] = &[ $( ($text, $name::$variant), )* ];

            /// The mnemonic, or `None` for an unnamed value.
            pub fn mnemonic(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($text), )*
                    $name::Unknown(_) => None,
                }
            }

            /// The value a mnemonic names, in any case (RFC 4343 §3 spirit:
            /// mnemonics are compared ASCII case-insensitively), or `None` for
            /// a word that names nothing here. No allocation.
            pub fn from_mnemonic(text: &str) -> Option<$name> {
                $name::NAMED
                    .iter()
                    .find(|(mnemonic, _)| mnemonic.eq_ignore_ascii_case(text))
                    .map(|&(_, value)| value)
            }
        }
    };
}

code_point! {
    /// Resource record TYPE (RFC 1035 §3.2.2, IANA "Resource Record (RR) TYPEs").
    Rtype(u16) {
        A = 1 => "A",
        Ns = 2 => "NS",
        Md = 3 => "MD",
        Mf = 4 => "MF",
        Cname = 5 => "CNAME",
        Soa = 6 => "SOA",
        Mb = 7 => "MB",
        Mg = 8 => "MG",
        Mr = 9 => "MR",
        Ptr = 12 => "PTR",
        Hinfo = 13 => "HINFO",
        Minfo = 14 => "MINFO",
        Mx = 15 => "MX",
        Txt = 16 => "TXT",
        Rp = 17 => "RP",
        Afsdb = 18 => "AFSDB",
        Rt = 21 => "RT",
        Px = 26 => "PX",
        Aaaa = 28 => "AAAA",
        Srv = 33 => "SRV",
        Naptr = 35 => "NAPTR",
        Dname = 39 => "DNAME",
        Opt = 41 => "OPT",
        Ds = 43 => "DS",
        Sshfp = 44 => "SSHFP",
        Rrsig = 46 => "RRSIG",
        Nsec = 47 => "NSEC",
        Dnskey = 48 => "DNSKEY",
        Nsec3 = 50 => "NSEC3",
        Nsec3param = 51 => "NSEC3PARAM",
        Tlsa = 52 => "TLSA",
        Cds = 59 => "CDS",
        Cdnskey = 60 => "CDNSKEY",
        Svcb = 64 => "SVCB",
        Https = 65 => "HTTPS",
        Tkey = 249 => "TKEY",
        Tsig = 250 => "TSIG",
        Ixfr = 251 => "IXFR",
        Axfr = 252 => "AXFR",
        Mailb = 253 => "MAILB",
        Maila = 254 => "MAILA",
        Any = 255 => "ANY",
        Uri = 256 => "URI",
        Caa = 257 => "CAA",
    }
}

impl Rtype {
    /// A type in presentation form: a mnemonic in any case, or RFC 3597 §5
    /// `TYPEnnn` (decimal, at most 65535). No allocation.
    pub fn from_text(text: &str) -> Option<Rtype> {
        if let Some(prefix) = text.get(..4)
            && prefix.eq_ignore_ascii_case("TYPE")
            && let Some(digits) = text.get(4..)
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            return digits.parse::<u16>().ok().map(Rtype::from);
        }
        Rtype::from_mnemonic(text)
    }

    /// Meta and query-only types (RFC 6895 §3.1); see [`Rtype::info`].
    pub fn is_meta(self) -> bool {
        self.info().kind == super::TypeKind::Meta
    }
}

impl fmt::Display for Rtype {
    /// Presentation form; RFC 3597 §5 `TYPEnnn` for unnamed types.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(text) => f.write_str(text),
            None => write!(f, "TYPE{}", u16::from(*self)),
        }
    }
}

code_point! {
    /// Resource record CLASS (RFC 1035 §3.2.4, RFC 2136 §2.4 for NONE and ANY).
    Class(u16) {
        In = 1 => "IN",
        Ch = 3 => "CH",
        Hs = 4 => "HS",
        None = 254 => "NONE",
        Any = 255 => "ANY",
    }
}

impl fmt::Display for Class {
    /// Presentation form; RFC 3597 §5 `CLASSnnn` for unnamed classes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(text) => f.write_str(text),
            None => write!(f, "CLASS{}", u16::from(*self)),
        }
    }
}

code_point! {
    /// Header OPCODE, four bits (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
    Opcode(u8) {
        Query = 0 => "QUERY",
        Iquery = 1 => "IQUERY",
        Status = 2 => "STATUS",
        Notify = 4 => "NOTIFY",
        Update = 5 => "UPDATE",
        Dso = 6 => "DSO",
    }
}

code_point! {
    /// Response code, up to 12 bits with the EDNS extension (RFC 1035 §4.1.1,
    /// RFC 2136 §2.2, RFC 6891 §6.1.3). TSIG error codes live in [`TsigError`].
    Rcode(u16) {
        NoError = 0 => "NOERROR",
        FormErr = 1 => "FORMERR",
        ServFail = 2 => "SERVFAIL",
        NxDomain = 3 => "NXDOMAIN",
        NotImp = 4 => "NOTIMP",
        Refused = 5 => "REFUSED",
        YxDomain = 6 => "YXDOMAIN",
        YxRrset = 7 => "YXRRSET",
        NxRrset = 8 => "NXRRSET",
        NotAuth = 9 => "NOTAUTH",
        NotZone = 10 => "NOTZONE",
        BadVers = 16 => "BADVERS",
        BadCookie = 23 => "BADCOOKIE",
    }
}

impl Rcode {
    /// The four bits that go in the header.
    pub fn header_bits(self) -> u8 {
        (u16::from(self) & 0x0f) as u8
    }

    /// The eight bits that go in the OPT record's extended RCODE field.
    pub fn extended_bits(self) -> u8 {
        ((u16::from(self) >> 4) & 0xff) as u8
    }
}

code_point! {
    /// The TSIG record's Error field (RFC 8945 §4.2, §5.3).
    TsigError(u16) {
        NoError = 0 => "NOERROR",
        BadSig = 16 => "BADSIG",
        BadKey = 17 => "BADKEY",
        BadTime = 18 => "BADTIME",
        BadTrunc = 22 => "BADTRUNC",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_number() {
        for n in 0..=u16::MAX {
            assert_eq!(u16::from(Rtype::from(n)), n);
            assert_eq!(u16::from(Class::from(n)), n);
            assert_eq!(u16::from(Rcode::from(n)), n);
            assert_eq!(u16::from(TsigError::from(n)), n);
        }
        for n in 0..=u8::MAX {
            assert_eq!(u8::from(Opcode::from(n)), n);
        }
    }

    #[test]
    fn named_numbers_never_unknown() {
        assert_eq!(Rtype::from(1), Rtype::A);
        assert_eq!(Rtype::from(257), Rtype::Caa);
        assert_eq!(Rtype::from(999), Rtype::Unknown(999));
        assert_eq!(Class::from(255), Class::Any);
    }

    #[test]
    fn presentation() {
        use core::fmt::Write as _;
        let mut s = String::new();
        write!(
            s,
            "{} {} {}",
            Rtype::Txt,
            Rtype::from(65280),
            Class::from(7)
        )
        .unwrap();
        assert_eq!(s, "TXT TYPE65280 CLASS7");
    }

    #[test]
    fn rcode_split() {
        assert_eq!(Rcode::BadVers.header_bits(), 0);
        assert_eq!(Rcode::BadVers.extended_bits(), 1);
        assert_eq!(Rcode::NotZone.header_bits(), 10);
        assert_eq!(Rcode::NotZone.extended_bits(), 0);
    }
}

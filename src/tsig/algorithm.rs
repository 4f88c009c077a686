//! The six HMAC algorithms of RFC 8945 §6 and the keyed hash state behind them.

use core::fmt;

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Sha224, Sha256, Sha384, Sha512};

use crate::wire::Name;

/// The longest MAC any supported algorithm produces (HMAC-SHA512).
pub const MAX_MAC_LEN: usize = 64;

/// A TSIG algorithm (RFC 8945 §6).
///
/// RFC 8945 §6: "hmac-md5.sig-alg.reg.int" (MAY), "hmac-sha1" (MUST),
/// "hmac-sha224" (MAY), "hmac-sha256" (MUST), "hmac-sha384" (MAY),
/// "hmac-sha512" (MAY). The truncated variants (`hmac-sha256-128` …) and
/// GSS-TSIG are not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// HMAC-MD5, wire name `hmac-md5.sig-alg.reg.int.` (16-octet MAC).
    HmacMd5,
    /// HMAC-SHA1 (20-octet MAC).
    HmacSha1,
    /// HMAC-SHA224 (28-octet MAC).
    HmacSha224,
    /// HMAC-SHA256 (32-octet MAC).
    HmacSha256,
    /// HMAC-SHA384 (48-octet MAC).
    HmacSha384,
    /// HMAC-SHA512 (64-octet MAC).
    HmacSha512,
}

impl Algorithm {
    /// Every algorithm, weakest first.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::HmacMd5,
        Algorithm::HmacSha1,
        Algorithm::HmacSha224,
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
    ];

    /// Parses the names `tsig-keygen`, `nsupdate -y` and `knsupdate -y` use:
    /// `hmac-md5` (or its wire name `hmac-md5.sig-alg.reg.int`), `hmac-sha1`,
    /// … `hmac-sha512`; ASCII case ignored, one trailing dot allowed.
    pub fn from_text(text: &str) -> Option<Algorithm> {
        let text = text.strip_suffix('.').unwrap_or(text);
        if text.eq_ignore_ascii_case("hmac-md5.sig-alg.reg.int") {
            return Some(Algorithm::HmacMd5);
        }
        Algorithm::ALL
            .into_iter()
            .find(|a| a.mnemonic().eq_ignore_ascii_case(text))
    }

    /// The algorithm a TSIG record names (RFC 8945 §6 wire names, compared
    /// case-insensitively, RFC 4343). `hmac-md5.` alone is not an RFC name and
    /// is not accepted.
    pub fn from_name(name: Name<'_>) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.wire_name().eq_ignore_case(&name))
    }

    /// The name `tsig-keygen -a` takes and prints (`hmac-md5`, `hmac-sha256`, …).
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::HmacMd5 => "hmac-md5",
            Algorithm::HmacSha1 => "hmac-sha1",
            Algorithm::HmacSha224 => "hmac-sha224",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm name in canonical (lower-case, uncompressed) wire form,
    /// as the TSIG RDATA carries it and the digest covers it (RFC 8945 §4.3.3).
    pub fn wire_form(self) -> &'static [u8] {
        match self {
            Algorithm::HmacMd5 => b"\x08hmac-md5\x07sig-alg\x03reg\x03int\x00",
            Algorithm::HmacSha1 => b"\x09hmac-sha1\x00",
            Algorithm::HmacSha224 => b"\x0bhmac-sha224\x00",
            Algorithm::HmacSha256 => b"\x0bhmac-sha256\x00",
            Algorithm::HmacSha384 => b"\x0bhmac-sha384\x00",
            Algorithm::HmacSha512 => b"\x0bhmac-sha512\x00",
        }
    }

    /// The wire name as a [`Name`] view.
    pub fn wire_name(self) -> Name<'static> {
        // The constants above are well-formed (tested); the fallback is never taken.
        Name::from_wire(self.wire_form()).unwrap_or(Name::ROOT)
    }

    /// Length of the full MAC in octets (the hash output length).
    pub fn output_len(self) -> usize {
        match self {
            Algorithm::HmacMd5 => 16,
            Algorithm::HmacSha1 => 20,
            Algorithm::HmacSha224 => 28,
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha384 => 48,
            Algorithm::HmacSha512 => 64,
        }
    }

    /// The shortest MAC accepted: RFC 8945 §5.2.2.1 rule 3, "the larger of
    /// 10 (octets) and half the length of the hash function in use".
    pub fn min_mac_len(self) -> usize {
        (self.output_len() / 2).max(10)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
}

/// An HMAC already keyed (RFC 2104 inner and outer pads absorbed), cloned per
/// message. Lives on the stack; nothing here allocates.
#[derive(Clone)]
pub(crate) enum MacState {
    Md5(Hmac<Md5>),
    Sha1(Hmac<Sha1>),
    Sha224(Hmac<Sha224>),
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

impl MacState {
    /// Keys an HMAC. RFC 2104 §3 allows keys of any length (longer ones are
    /// hashed first), so this only returns `None` if the crate changed its mind.
    pub(crate) fn new(algorithm: Algorithm, secret: &[u8]) -> Option<MacState> {
        Some(match algorithm {
            Algorithm::HmacMd5 => MacState::Md5(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HmacSha1 => MacState::Sha1(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HmacSha224 => MacState::Sha224(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HmacSha256 => MacState::Sha256(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HmacSha384 => MacState::Sha384(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HmacSha512 => MacState::Sha512(Hmac::new_from_slice(secret).ok()?),
        })
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            MacState::Md5(m) => m.update(data),
            MacState::Sha1(m) => m.update(data),
            MacState::Sha224(m) => m.update(data),
            MacState::Sha256(m) => m.update(data),
            MacState::Sha384(m) => m.update(data),
            MacState::Sha512(m) => m.update(data),
        }
    }

    /// Writes the full MAC into `out`; returns its length.
    pub(crate) fn finish(self, out: &mut [u8; MAX_MAC_LEN]) -> usize {
        match self {
            MacState::Md5(m) => copy_mac(&m.finalize().into_bytes(), out),
            MacState::Sha1(m) => copy_mac(&m.finalize().into_bytes(), out),
            MacState::Sha224(m) => copy_mac(&m.finalize().into_bytes(), out),
            MacState::Sha256(m) => copy_mac(&m.finalize().into_bytes(), out),
            MacState::Sha384(m) => copy_mac(&m.finalize().into_bytes(), out),
            MacState::Sha512(m) => copy_mac(&m.finalize().into_bytes(), out),
        }
    }
}

fn copy_mac(mac: &[u8], out: &mut [u8; MAX_MAC_LEN]) -> usize {
    let len = mac.len().min(MAX_MAC_LEN);
    if let (Some(dst), Some(src)) = (out.get_mut(..len), mac.get(..len)) {
        dst.copy_from_slice(src);
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::NameBuf;

    #[test]
    fn names_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_text(a.mnemonic()), Some(a));
            assert_eq!(Algorithm::from_name(a.wire_name()), Some(a));
            assert_eq!(a.wire_name().wire_len(), a.wire_form().len());
            assert!(!a.wire_name().is_root());
            let upper = NameBuf::from_text(&a.wire_name().to_string().to_uppercase()).unwrap();
            assert_eq!(Algorithm::from_name(upper.as_name()), Some(a));
            let mut out = [0u8; MAX_MAC_LEN];
            let state = MacState::new(a, b"k").unwrap();
            assert_eq!(state.finish(&mut out), a.output_len());
        }
        assert_eq!(
            Algorithm::from_text("HMAC-MD5.SIG-ALG.REG.INT."),
            Some(Algorithm::HmacMd5)
        );
        assert_eq!(
            Algorithm::from_text("hmac-sha256."),
            Some(Algorithm::HmacSha256)
        );
        assert_eq!(Algorithm::from_text("hmac-sha256.."), None);
        assert_eq!(Algorithm::from_text("hmac-sha256-128"), None);
        assert_eq!(Algorithm::from_text(""), None);
        let md5 = NameBuf::from_text("hmac-md5.").unwrap();
        assert_eq!(Algorithm::from_name(md5.as_name()), None);
        let mins: Vec<usize> = Algorithm::ALL.iter().map(|a| a.min_mac_len()).collect();
        assert_eq!(mins, [10, 10, 14, 16, 24, 32]);
    }

    #[test]
    fn rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let mut m = MacState::new(Algorithm::HmacSha256, b"Jefe").unwrap();
        m.update(b"what do ya want ");
        m.update(b"for nothing?");
        let mut out = [0u8; MAX_MAC_LEN];
        let len = m.finish(&mut out);
        let hex: String = out[..len].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

//! Record keys: the owner name, labels reversed and lower-cased, then the type.
//!
//! A name is written root first, each label as its length octet and its bytes in
//! ASCII lower case (RFC 4343 §3: case never matters for lookups). Because the
//! encoding of an ancestor is a prefix of its descendants' encodings, a subtree is
//! one key range, and the key for any ancestor of a name is cut from the name's
//! own encoding without reading the name again. After the name comes a 0x00
//! marker (no label has length 0, so it cannot be confused with a child) and the
//! 16-bit type. Type 0, reserved by IANA (RFC 6895 §3.1), keys the *node* entry
//! that says the name exists and which types it holds (see [`super::value`]).
//!
//! No value read from the wire can reach a node entry: RRset keys are made only
//! from a [`DataType`], which cannot be 0, and node keys only by the functions
//! named `node…`. [`NODE_TYPE`] never leaves this module.

use core::num::NonZeroU16;

use crate::wire::{MAX_LABELS, MAX_NAME_LEN, Name, Rtype};

/// Longest encoded name: the wire form without its root octet.
pub const MAX_ENCODED_NAME: usize = MAX_NAME_LEN - 1;
/// Longest record key: an encoded name, the marker and the type.
pub const MAX_KEY: usize = MAX_ENCODED_NAME + 3;
/// The type code of node entries.
const NODE_TYPE: u16 = 0;

/// A key that does not fit [`MAX_KEY`]: an encoding longer than a name can
/// be, or a wildcard `*.<name>` whose name would pass 255 octets (RFC 1035
/// §3.1), which therefore cannot exist. Every key built from a [`NameKey`]
/// without the wildcard label fits; the error is returned rather than a
/// shorter key, which would be another name's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTooLong;

/// The type of an RRset in the store: any 16-bit type but 0, which keys the
/// node entries (RFC 6895 §3.1 reserves it, so no real record has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DataType(NonZeroU16);

impl DataType {
    /// The highest type, 65535: its key is the last of a name's keys.
    pub const LAST: DataType = DataType(NonZeroU16::MAX);

    /// The store type of `rtype`; `None` for type 0.
    pub fn new(rtype: Rtype) -> Option<DataType> {
        NonZeroU16::new(u16::from(rtype)).map(DataType)
    }

    /// The record type.
    pub fn rtype(self) -> Rtype {
        Rtype::from(self.0.get())
    }

    /// The 16-bit code.
    pub fn code(self) -> u16 {
        self.0.get()
    }
}

impl From<DataType> for Rtype {
    fn from(t: DataType) -> Rtype {
        t.rtype()
    }
}

/// A name encoded once, root first, with the end of every ancestor remembered.
#[derive(Clone)]
pub struct NameKey {
    bytes: [u8; MAX_ENCODED_NAME],
    /// `bounds[k]` is the length of the encoding of the ancestor with `k` labels.
    bounds: [u8; MAX_LABELS + 1],
    labels: u8,
}

impl NameKey {
    /// Encodes `name`. Never fails: a checked [`Name`] always fits.
    ///
    /// Labels arrive left to right but are stored root first, so each is
    /// written just before the one read before it, starting from the end: the
    /// encoding is as long as the wire form without its root octet.
    pub fn new(name: Name<'_>) -> NameKey {
        let mut key = NameKey {
            bytes: [0; MAX_ENCODED_NAME],
            bounds: [0; MAX_LABELS + 1],
            labels: 0,
        };
        let total = name.wire_len().saturating_sub(1).min(MAX_ENCODED_NAME);
        let count = name.label_count().min(MAX_LABELS);
        let mut pos = total;
        for (i, label) in name.labels().enumerate().take(count) {
            let Some(start) = pos.checked_sub(1 + label.len()) else {
                break;
            };
            if let Some((len_octet, rest)) = key
                .bytes
                .get_mut(start..pos)
                .and_then(|d| d.split_first_mut())
            {
                *len_octet = label.len() as u8;
                for (d, s) in rest.iter_mut().zip(label.iter()) {
                    *d = s.to_ascii_lowercase();
                }
            }
            pos = start;
            // The ancestor with `count - 1 - i` labels ends where label `i` starts.
            if let Some(bound) = key.bounds.get_mut(count - 1 - i) {
                *bound = start as u8;
            }
        }
        if let Some(bound) = key.bounds.get_mut(count) {
            *bound = total as u8;
        }
        key.labels = count as u8;
        key
    }

    /// Number of labels of the name, root excluded.
    pub fn labels(&self) -> usize {
        usize::from(self.labels)
    }

    /// The encoding of the ancestor with `labels` labels (the whole name when
    /// `labels` is its label count; the root, empty, for 0).
    pub fn name_prefix(&self, labels: usize) -> &[u8] {
        let end = self
            .bounds
            .get(labels.min(self.labels()))
            .map_or(0, |b| usize::from(*b));
        self.bytes.get(..end).unwrap_or(&[])
    }

    /// The zones-database key of the ancestor with `labels` labels: its encoding
    /// and a 0x00 terminator (LMDB keys cannot be empty, and the root is).
    pub fn zone_key<'k>(
        &self,
        labels: usize,
        out: &'k mut [u8; MAX_KEY],
    ) -> Result<&'k [u8], KeyTooLong> {
        zone_key(self.name_prefix(labels), out)
    }

    /// The record key of type `rtype` at the ancestor with `labels` labels,
    /// written into `out`.
    pub fn rrset_key<'k>(
        &self,
        labels: usize,
        rtype: DataType,
        out: &'k mut [u8; MAX_KEY],
    ) -> Result<&'k [u8], KeyTooLong> {
        finish_key(self.name_prefix(labels), None, rtype.code(), out)
    }

    /// The record key of type `rtype` at `*.<ancestor with labels labels>`
    /// (RFC 4592 §2.1.1: the source of synthesis).
    pub fn wildcard_key<'k>(
        &self,
        labels: usize,
        rtype: DataType,
        out: &'k mut [u8; MAX_KEY],
    ) -> Result<&'k [u8], KeyTooLong> {
        finish_key(self.name_prefix(labels), Some(b"*"), rtype.code(), out)
    }

    /// The node key of the ancestor with `labels` labels.
    pub fn node_key<'k>(
        &self,
        labels: usize,
        out: &'k mut [u8; MAX_KEY],
    ) -> Result<&'k [u8], KeyTooLong> {
        finish_key(self.name_prefix(labels), None, NODE_TYPE, out)
    }

    /// The node key of `*.<ancestor with labels labels>`.
    pub fn wildcard_node_key<'k>(
        &self,
        labels: usize,
        out: &'k mut [u8; MAX_KEY],
    ) -> Result<&'k [u8], KeyTooLong> {
        finish_key(self.name_prefix(labels), Some(b"*"), NODE_TYPE, out)
    }
}

fn finish_key<'k>(
    prefix: &[u8],
    extra_label: Option<&[u8]>,
    rtype: u16,
    out: &'k mut [u8; MAX_KEY],
) -> Result<&'k [u8], KeyTooLong> {
    let mut pos = prefix.len();
    out.get_mut(..pos)
        .ok_or(KeyTooLong)?
        .copy_from_slice(prefix);
    if let Some(label) = extra_label {
        let end = pos + 1 + label.len();
        let (len_octet, rest) = out
            .get_mut(pos..end)
            .and_then(|d| d.split_first_mut())
            .ok_or(KeyTooLong)?;
        *len_octet = u8::try_from(label.len()).map_err(|_| KeyTooLong)?;
        rest.copy_from_slice(label);
        pos = end;
    }
    let [hi, lo] = rtype.to_be_bytes();
    out.get_mut(pos..pos + 3)
        .ok_or(KeyTooLong)?
        .copy_from_slice(&[0, hi, lo]);
    out.get(..pos + 3).ok_or(KeyTooLong)
}

/// The record key of type `rtype` at the name encoded as `encoded` (for
/// writers that hold the encoding rather than a [`NameKey`]).
pub fn record_key<'k>(
    encoded: &[u8],
    rtype: DataType,
    out: &'k mut [u8; MAX_KEY],
) -> Result<&'k [u8], KeyTooLong> {
    finish_key(encoded, None, rtype.code(), out)
}

/// The node key of the name encoded as `encoded`.
pub fn node_key<'k>(encoded: &[u8], out: &'k mut [u8; MAX_KEY]) -> Result<&'k [u8], KeyTooLong> {
    finish_key(encoded, None, NODE_TYPE, out)
}

/// What a record key holds: a node entry or an RRset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// The node entry of the name.
    Node,
    /// The RRset of this type.
    Rrset(DataType),
}

/// The zones-database key of the name encoded as `encoded`: the encoding and
/// a 0x00 terminator (for writers that hold the encoding rather than a
/// [`NameKey`]).
pub fn zone_key<'k>(encoded: &[u8], out: &'k mut [u8; MAX_KEY]) -> Result<&'k [u8], KeyTooLong> {
    let len = encoded.len();
    out.get_mut(..len)
        .ok_or(KeyTooLong)?
        .copy_from_slice(encoded);
    *out.get_mut(len).ok_or(KeyTooLong)? = 0;
    out.get(..len + 1).ok_or(KeyTooLong)
}

/// The encoded apex inside a zones-database key (the key without its 0x00
/// terminator, see [`NameKey::zone_key`]).
pub fn zone_key_apex(zone_key: &[u8]) -> &[u8] {
    zone_key.split_last().map_or(zone_key, |(_, apex)| apex)
}

/// Splits a record key into the encoded name and what the entry is.
pub fn split_key(key: &[u8]) -> Option<(&[u8], Entry)> {
    let (name, tail) = key.split_at_checked(key.len().checked_sub(3)?)?;
    match tail {
        [0, hi, lo] => Some((
            name,
            match NonZeroU16::new(u16::from_be_bytes([*hi, *lo])) {
                None => Entry::Node,
                Some(code) => Entry::Rrset(DataType(code)),
            },
        )),
        _ => None,
    }
}

/// Turns an encoded name back into uncompressed wire form (lower case), for
/// export and zone walks. Returns the length written.
pub fn decode_name(encoded: &[u8], out: &mut [u8; MAX_NAME_LEN]) -> Option<usize> {
    let mut labels: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
    let mut count = 0;
    let mut rest = encoded;
    while let Some((&len, tail)) = rest.split_first() {
        let (label, after) = tail.split_at_checked(usize::from(len))?;
        *labels.get_mut(count)? = label;
        count += 1;
        rest = after;
    }
    let mut pos = 0;
    for label in labels.iter().take(count).rev() {
        let dst = out.get_mut(pos..pos + 1 + label.len())?;
        let (len_octet, body) = dst.split_first_mut()?;
        *len_octet = label.len() as u8;
        body.copy_from_slice(label);
        pos += 1 + label.len();
    }
    *out.get_mut(pos)? = 0;
    Some(pos + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::NameBuf;

    fn dt(rtype: Rtype) -> DataType {
        DataType::new(rtype).unwrap()
    }

    fn key(text: &str) -> NameKey {
        NameKey::new(NameBuf::from_text(text).unwrap().as_name())
    }

    #[test]
    fn encoding_is_root_first_and_lower_case() {
        let k = key("Home.Example.NET");
        assert_eq!(k.labels(), 3);
        assert_eq!(k.name_prefix(3), b"\x03net\x07example\x04home");
        assert_eq!(k.name_prefix(1), b"\x03net");
        assert_eq!(k.name_prefix(0), b"");
        let mut out = [0; MAX_KEY];
        assert_eq!(
            k.rrset_key(2, dt(Rtype::A), &mut out),
            Ok(&b"\x03net\x07example\x00\x00\x01"[..])
        );
        assert_eq!(
            k.wildcard_key(2, dt(Rtype::Txt), &mut out),
            Ok(&b"\x03net\x07example\x01*\x00\x00\x10"[..])
        );
        assert_eq!(
            k.rrset_key(0, dt(Rtype::Soa), &mut out),
            Ok(&b"\x00\x00\x06"[..])
        );
        assert_eq!(
            k.node_key(2, &mut out),
            Ok(&b"\x03net\x07example\x00\x00\x00"[..])
        );
    }

    #[test]
    fn a_subtree_is_a_key_range_and_own_rrsets_come_first() {
        let mut a = [0; MAX_KEY];
        let mut b = [0; MAX_KEY];
        let parent = key("example.net")
            .rrset_key(2, dt(Rtype::Unknown(65535)), &mut a)
            .unwrap()
            .to_vec();
        let child = key("a.example.net").node_key(3, &mut b).unwrap().to_vec();
        assert!(parent < child);
        assert!(child.starts_with(key("example.net").name_prefix(2)));
    }

    #[test]
    fn a_dot_inside_a_label_is_not_a_label_boundary() {
        let dotted = key("a\\.b.example.net");
        let two = key("a.b.example.net");
        assert_ne!(dotted.name_prefix(3), two.name_prefix(3));
        assert_eq!(dotted.labels(), 3);
    }

    #[test]
    fn keys_split_and_names_decode() {
        let k = key("WWW.example.net");
        let mut out = [0; MAX_KEY];
        let rk = k.rrset_key(3, dt(Rtype::Aaaa), &mut out).unwrap();
        let (name, t) = split_key(rk).unwrap();
        assert_eq!(t, Entry::Rrset(dt(Rtype::Aaaa)));
        let mut node = [0; MAX_KEY];
        assert_eq!(
            split_key(k.node_key(3, &mut node).unwrap()).unwrap().1,
            Entry::Node
        );
        let mut wire = [0; MAX_NAME_LEN];
        let n = decode_name(name, &mut wire).unwrap();
        assert_eq!(&wire[..n], b"\x03www\x07example\x03net\x00");
        assert_eq!(decode_name(b"", &mut wire), Some(1));
        assert_eq!(decode_name(b"\x05ab", &mut wire), None);
    }

    #[test]
    fn the_longest_name_fits() {
        let label = "a".repeat(63);
        let text = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        let name = NameBuf::from_text(&text).unwrap();
        assert_eq!(name.as_name().wire_len(), 255);
        let k = NameKey::new(name.as_name());
        assert_eq!(k.name_prefix(4).len(), 254);
        let mut out = [0; MAX_KEY];
        assert_eq!(
            k.rrset_key(4, dt(Rtype::A), &mut out).unwrap().len(),
            MAX_KEY
        );
        // `*.` and a name of 254 octets would be 256: no such wildcard exists,
        // and no shorter key stands in for it.
        assert_eq!(k.wildcard_key(4, dt(Rtype::A), &mut out), Err(KeyTooLong));
        assert_eq!(k.wildcard_node_key(4, &mut out), Err(KeyTooLong));
        assert_eq!(
            k.wildcard_key(3, dt(Rtype::A), &mut out).map(<[u8]>::len),
            Ok(62 + 64 + 64 + 5)
        );
        // An encoding longer than a name is refused, not cut.
        let long = [1u8; MAX_KEY];
        assert_eq!(record_key(&long, dt(Rtype::A), &mut out), Err(KeyTooLong));
        assert_eq!(
            node_key(&long[..MAX_ENCODED_NAME + 1], &mut out),
            Err(KeyTooLong)
        );
        assert_eq!(zone_key(&long, &mut out), Err(KeyTooLong));
    }

    #[test]
    fn no_wire_type_makes_a_node_key() {
        assert_eq!(DataType::new(Rtype::Unknown(0)), None);
        assert_eq!(DataType::new(Rtype::from(0)), None);
        for code in 1..=u16::MAX {
            assert_eq!(
                DataType::new(Rtype::from(code)).map(DataType::code),
                Some(code)
            );
        }
    }
}

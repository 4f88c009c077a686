//! Stored values: RRsets and nodes, both read in place from LMDB's memory map.
//!
//! An RRset value is the TTL (32 bits, RFC 2181 §5.2: one TTL per RRset) followed
//! by each RDATA as a 16-bit length and its bytes in uncompressed wire form, so an
//! answer copies bytes without decoding them. A node value is the list of types
//! present at the name, 16 bits each, in ascending order; an empty list marks an
//! empty non-terminal (RFC 8020 §2: the name exists but owns no data).

use crate::wire::Rtype;

/// An RRset read from the store, borrowing the memory map.
#[derive(Debug, Clone, Copy)]
pub struct Rrset<'a> {
    ttl: u32,
    rdatas: &'a [u8],
}

impl<'a> Rrset<'a> {
    /// Reads a stored value; `None` if it is damaged.
    pub fn from_value(value: &'a [u8]) -> Option<Rrset<'a>> {
        let (ttl, rdatas) = value.split_first_chunk::<4>()?;
        let set = Rrset {
            ttl: u32::from_be_bytes(*ttl),
            rdatas,
        };
        // One pass so that iteration later never meets a cut-off entry.
        let mut check = set.iter();
        while check.next().is_some() {}
        if check.rest.is_empty() {
            Some(set)
        } else {
            None
        }
    }

    /// The TTL shared by every record of the set.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Each RDATA in uncompressed wire form.
    pub fn iter(&self) -> RdataIter<'a> {
        RdataIter { rest: self.rdatas }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the set holds no record (never true for a stored set).
    pub fn is_empty(&self) -> bool {
        self.rdatas.is_empty()
    }
}

/// Iterator over the RDATAs of an [`Rrset`].
#[derive(Debug, Clone)]
pub struct RdataIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RdataIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, tail) = self.rest.split_first_chunk::<2>()?;
        let (rdata, after) = tail.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
        self.rest = after;
        Some(rdata)
    }
}

/// Encodes an RRset value (admin and update paths). An RDATA longer than
/// 65,535 octets has no wire form (RFC 1035 §3.2.1: RDLENGTH is 16 bits) and
/// is refused, never cut.
pub fn encode_rrset<'r>(
    ttl: u32,
    rdatas: impl IntoIterator<Item = &'r [u8]>,
) -> Result<Vec<u8>, RdataTooLong> {
    let mut out = ttl.to_be_bytes().to_vec();
    for rdata in rdatas {
        let len = u16::try_from(rdata.len()).map_err(|_| RdataTooLong)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(rdata);
    }
    Ok(out)
}

/// An RDATA over 65,535 octets was given to [`encode_rrset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdataTooLong;

/// A node entry: the types present at a name (empty for an empty non-terminal).
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    types: &'a [u8],
}

impl<'a> Node<'a> {
    /// Reads a stored node value; `None` if it is damaged.
    pub fn from_value(value: &'a [u8]) -> Option<Node<'a>> {
        if value.len().is_multiple_of(2) {
            Some(Node { types: value })
        } else {
            None
        }
    }

    /// The types present, ascending.
    pub fn types(&self) -> impl Iterator<Item = Rtype> + 'a {
        self.types
            .as_chunks::<2>()
            .0
            .iter()
            .map(|c| Rtype::from(u16::from_be_bytes(*c)))
    }

    /// Whether the name owns no data (an empty non-terminal).
    pub fn is_empty_non_terminal(&self) -> bool {
        self.types.is_empty()
    }

    /// Whether `rtype` is present.
    pub fn has(&self, rtype: Rtype) -> bool {
        self.types().any(|t| t == rtype)
    }
}

/// Encodes a node value from the types present (sorted and deduplicated here).
pub fn encode_node(types: impl IntoIterator<Item = Rtype>) -> Vec<u8> {
    let mut codes: Vec<u16> = types.into_iter().map(u16::from).collect();
    codes.sort_unstable();
    codes.dedup();
    codes.iter().flat_map(|c| c.to_be_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrsets_round_trip() {
        let v = encode_rrset(300, [&[192, 0, 2, 1][..], &[192, 0, 2, 2][..]]).unwrap();
        let set = Rrset::from_value(&v).unwrap();
        assert_eq!(set.ttl(), 300);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![&[192, 0, 2, 1][..], &[192, 0, 2, 2]]
        );
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn rdata_too_long_for_the_wire_is_refused_not_cut() {
        let long = vec![0u8; 65_536];
        assert_eq!(encode_rrset(1, [&long[..]]), Err(RdataTooLong));
        let v = encode_rrset(1, [&long[..65_535]]).unwrap();
        assert_eq!(
            Rrset::from_value(&v).unwrap().iter().next().unwrap().len(),
            65_535
        );
    }

    #[test]
    fn damaged_values_are_rejected() {
        assert!(Rrset::from_value(&[0, 0, 1]).is_none());
        assert!(Rrset::from_value(&[0, 0, 1, 0, 0, 5, 1, 2]).is_none());
        assert!(Node::from_value(&[0, 1, 0]).is_none());
    }

    #[test]
    fn nodes_list_types_in_order() {
        let v = encode_node([Rtype::Txt, Rtype::A, Rtype::Txt]);
        let node = Node::from_value(&v).unwrap();
        assert_eq!(node.types().collect::<Vec<_>>(), vec![Rtype::A, Rtype::Txt]);
        assert!(node.has(Rtype::A) && !node.has(Rtype::Aaaa));
        assert!(Node::from_value(&[]).unwrap().is_empty_non_terminal());
    }
}

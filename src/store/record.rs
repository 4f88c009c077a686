//! Owned records, the unit [`super::Store::replace_zone`] takes and
//! [`super::Store::zone_records`] gives back (and what master files are read
//! into and printed from, above this layer).

use crate::wire::{NameBuf, Rtype};

/// One resource record of class IN with its RDATA in uncompressed wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    /// Absolute owner name.
    pub owner: NameBuf,
    /// Record type; never a meta type.
    pub rtype: Rtype,
    /// Time to live in seconds.
    pub ttl: u32,
    /// RDATA, uncompressed wire form (RFC 3597 §4: no compression in storage).
    pub rdata: Vec<u8>,
}

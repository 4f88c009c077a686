//! Whole zones as owned records: what `import` reads from a master file and
//! `export` prints. Used at start-up and by the command line, never on the
//! request path, so owning and allocating here is fine.

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

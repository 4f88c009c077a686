//! The store invariant: what every write must leave true, checked over the
//! whole database. Used by tests and fuzz targets after every input, never on
//! the request path (it reads everything and allocates freely).
//!
//! For every zone of the `zones` database, over its names (not those of zones
//! below it):
//! - every record key splits into a well-formed name and a node or an RRset;
//! - every type a node entry lists has its RRset, and every RRset is listed
//!   by the node entry of its name; no node lists type 0 or a type twice;
//! - no RRset is empty or damaged;
//! - every name between the apex and a name with a node entry has one too
//!   (RFC 8020: the ancestors of a name exist), and an empty non-terminal has
//!   a name below it;
//! - a CNAME is alone at its name (RFC 2181 §10.1; RRSIG and NSEC aside,
//!   RFC 4035 §2.5), and holds one record;
//! - the apex has exactly one SOA record and at least one NS record;
//! - the zone's stored record count is the number of records it holds.
//!
//! - the zone's journal agrees with its bookkeeping, its changes are well
//!   formed and chain up to the zone's serial, and its serial index points
//!   at changes IXFR may send (see `journal_violations`).
//!
//! And no record key, and no journal key, lies outside every zone.

use std::collections::{BTreeMap, BTreeSet};

use super::key::{self, Entry};
use super::value::{Node, Rrset};
use super::{Store, StoreError, subtree, zone_meta};
use crate::wire::Rtype;

/// What one name holds, as read.
#[derive(Default)]
struct Seen {
    /// The types its node entry lists, if it has one.
    node: Option<Vec<u16>>,
    /// The types it has RRsets of, with their record counts.
    rrsets: BTreeMap<u16, usize>,
}

impl Store {
    /// Checks the store invariant (see the module documentation); the error
    /// lists every violation found, each naming the name and type.
    pub fn check_invariants(&self) -> Result<(), Vec<String>> {
        self.violations()
            .map_err(|e| vec![format!("reading the store: {e}")])
            .and_then(|v| if v.is_empty() { Ok(()) } else { Err(v) })
    }

    fn violations(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.env.read_txn()?;
        let mut bad = Vec::new();
        // Zones, by encoded apex.
        let mut zones: BTreeMap<Vec<u8>, Option<u64>> = BTreeMap::new();
        for item in self.zones.iter(&txn)? {
            let (k, v) = item?;
            zones.insert(key::zone_key_apex(k).to_vec(), zone_meta::records(v));
        }
        // Every name, by encoding.
        let mut names: BTreeMap<Vec<u8>, Seen> = BTreeMap::new();
        for item in subtree(self.records, &txn, &[])? {
            let (k, v) = item?;
            let Some((enc, entry)) = key::split_key(k) else {
                bad.push(format!("a record key that does not split: {k:02x?}"));
                continue;
            };
            let name = show(enc);
            if name.is_none() {
                bad.push(format!("a record key whose name does not decode: {k:02x?}"));
                continue;
            }
            let seen = names.entry(enc.to_vec()).or_default();
            match entry {
                Entry::Node => match Node::from_value(v) {
                    Some(node) => seen.node = Some(node.types().map(u16::from).collect()),
                    None => bad.push(format!("{}: damaged node entry", show_or(enc))),
                },
                Entry::Rrset(t) => match Rrset::from_value(v) {
                    Some(set) if set.is_empty() => {
                        bad.push(format!("{} {}: empty RRset", show_or(enc), t.rtype()))
                    }
                    Some(set) => {
                        seen.rrsets.insert(t.code(), set.len());
                    }
                    None => bad.push(format!("{} {}: damaged RRset", show_or(enc), t.rtype())),
                },
            }
        }
        let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for (enc, seen) in &names {
            let name = show_or(enc);
            // The zone the name is in: the longest apex that is a prefix.
            let Some(apex) = zones
                .keys()
                .filter(|a| enc.starts_with(a) && is_label_boundary(enc, a.len()))
                .max_by_key(|a| a.len())
            else {
                bad.push(format!("{name}: in no zone"));
                continue;
            };
            *counts.entry(apex.clone()).or_default() += seen.rrsets.values().sum::<usize>() as u64;
            let listed: BTreeSet<u16> = seen.node.iter().flatten().copied().collect();
            match &seen.node {
                None => bad.push(format!("{name}: RRsets without a node entry")),
                Some(types) => {
                    if types.len() != listed.len() {
                        bad.push(format!("{name}: node entry lists a type twice"));
                    }
                    if listed.contains(&0) {
                        bad.push(format!("{name}: node entry lists type 0"));
                    }
                    if types.iter().zip(types.iter().skip(1)).any(|(a, b)| a >= b) {
                        bad.push(format!("{name}: node entry types not ascending"));
                    }
                }
            }
            for t in &listed {
                if !seen.rrsets.contains_key(t) {
                    bad.push(format!(
                        "{name} {}: listed by the node, no RRset",
                        Rtype::from(*t)
                    ));
                }
            }
            for t in seen.rrsets.keys() {
                if seen.node.is_some() && !listed.contains(t) {
                    bad.push(format!(
                        "{name} {}: RRset not listed by the node",
                        Rtype::from(*t)
                    ));
                }
            }
            // RFC 8020: every ancestor down to the apex exists.
            if enc.len() > apex.len() {
                let parent = parent(enc);
                if parent.len() >= apex.len() && names.get(parent).is_none_or(|p| p.node.is_none())
                {
                    bad.push(format!(
                        "{name}: its parent {} has no node entry",
                        show_or(parent)
                    ));
                }
                let has_child = names
                    .range::<[u8], _>((
                        std::ops::Bound::Excluded(enc.as_slice()),
                        std::ops::Bound::Unbounded,
                    ))
                    .next()
                    .is_some_and(|(k, _)| k.starts_with(enc));
                if seen.node.as_ref().is_some_and(|t| t.is_empty()) && !has_child {
                    bad.push(format!("{name}: empty non-terminal with nothing below it"));
                }
            }
            let cname = u16::from(Rtype::Cname);
            if let Some(&n) = seen.rrsets.get(&cname) {
                let others = seen.rrsets.keys().any(|&t| {
                    t != cname && t != u16::from(Rtype::Rrsig) && t != u16::from(Rtype::Nsec)
                });
                if others {
                    bad.push(format!("{name}: CNAME beside other data"));
                }
                if n != 1 {
                    bad.push(format!("{name}: {n} CNAME records"));
                }
            }
        }
        for (apex, stored) in &zones {
            let name = show_or(apex);
            let at_apex = names.get(apex);
            match at_apex.and_then(|s| s.rrsets.get(&u16::from(Rtype::Soa))) {
                Some(1) => {}
                Some(n) => bad.push(format!("zone {name}: {n} SOA records")),
                None => bad.push(format!("zone {name}: no SOA at the apex")),
            }
            if at_apex.is_none_or(|s| !s.rrsets.contains_key(&u16::from(Rtype::Ns))) {
                bad.push(format!("zone {name}: no NS at the apex"));
            }
            let counted = counts.get(apex).copied().unwrap_or(0);
            match stored {
                Some(n) if *n == counted => {}
                Some(n) => bad.push(format!(
                    "zone {name}: metadata says {n} records, the zone holds {counted}"
                )),
                None => bad.push(format!("zone {name}: metadata without a record count")),
            }
            self.journal_violations(&txn, apex, &name, &mut bad)?;
        }
        // Every journal key belongs to a zone.
        for db in [
            self.journal.changes,
            self.journal.serials,
            self.journal.meta,
        ] {
            for item in db.iter(&txn)? {
                let (k, _) = item?;
                let owned = zones.keys().any(|apex| {
                    k.len() > apex.len() && k.starts_with(apex) && k.get(apex.len()) == Some(&0)
                });
                if !owned {
                    bad.push(format!("a journal key outside every zone: {k:02x?}"));
                }
            }
        }
        Ok(bad)
    }

    /// The journal of the zone `apex` (see [`super::journal`]): the
    /// bookkeeping matches the entries; every entry decodes, opens each
    /// half with a SOA of its serials and holds the counts it says; the
    /// changes chain, the last one ending at the zone's serial; the serial
    /// index points at IXFR changes that start from that serial.
    fn journal_violations(
        &self,
        txn: &heed::RoTxn<'_, heed::WithoutTls>,
        apex: &[u8],
        name: &str,
        bad: &mut Vec<String>,
    ) -> Result<(), StoreError> {
        use super::journal;
        let mut zone_buf = [0u8; key::MAX_KEY];
        let zone_key = key::zone_key(apex, &mut zone_buf)?;
        let meta = journal::meta(&self.journal, txn, zone_key)?;
        if !(meta.first <= meta.ixfr_first && meta.ixfr_first <= meta.next) {
            bad.push(format!(
                "zone {name}: journal bookkeeping out of order: {meta:?}"
            ));
            return Ok(());
        }
        let (mut bytes, mut ixfr_bytes) = (0u64, 0u64);
        let mut previous: Option<u32> = None;
        let stored = self
            .changes_between(txn, zone_key, meta.first, meta.next)
            .map_err(StoreError::from)?;
        if stored.len() as u64 != meta.next - meta.first {
            bad.push(format!(
                "zone {name}: the journal holds {} changes, its bookkeeping says {}",
                stored.len(),
                meta.next - meta.first
            ));
        }
        for (seq, size, change) in &stored {
            bytes += size;
            if *seq >= meta.ixfr_first {
                ixfr_bytes += size;
            }
            if previous.is_some_and(|p| p != change.from) {
                bad.push(format!(
                    "zone {name}: change {seq} starts at serial {}, the one before ended at {previous:?}",
                    change.from
                ));
            }
            previous = Some(change.to);
            let records: Result<Vec<_>, _> = change.records().collect();
            let Ok(records) = records else {
                bad.push(format!("zone {name}: change {seq} has a damaged record"));
                continue;
            };
            let soa_at = |i: usize| {
                records
                    .get(i)
                    .filter(|r| r.rtype == Rtype::Soa)
                    .and_then(|r| crate::wire::SoaRdata::new(r.rdata))
                    .map(|soa| soa.serial())
            };
            let deleted = change.deleted as usize;
            if soa_at(0) != Some(change.from)
                || soa_at(deleted + 1) != Some(change.to)
                || records.len() != deleted + change.added as usize + 2
            {
                bad.push(format!(
                    "zone {name}: change {seq} ({} -> {}) is not old SOA, {} deleted, new SOA, {} added",
                    change.from, change.to, change.deleted, change.added
                ));
            }
        }
        if bytes != meta.bytes || ixfr_bytes != meta.ixfr_bytes {
            bad.push(format!(
                "zone {name}: journal octets {bytes} ({ixfr_bytes} for IXFR), bookkeeping {} ({})",
                meta.bytes, meta.ixfr_bytes
            ));
        }
        let mut soa_buf = [0u8; key::MAX_KEY];
        let serial = self
            .records
            .get(
                txn,
                key::record_key(
                    apex,
                    super::DataType::new(Rtype::Soa).ok_or(StoreError::ReservedType)?,
                    &mut soa_buf,
                )?,
            )?
            .and_then(Rrset::from_value)
            .and_then(|set| set.iter().next())
            .and_then(crate::wire::SoaRdata::new)
            .map(|soa| soa.serial());
        if let (Some(last), Some(serial)) = (previous, serial)
            && last != serial
        {
            bad.push(format!(
                "zone {name}: the journal ends at serial {last}, the zone is at {serial}"
            ));
        }
        for item in self.journal.serials.prefix_iter(txn, zone_key)? {
            let (k, v) = item?;
            let from = k
                .get(zone_key.len()..)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes);
            let seq = v.try_into().ok().map(u64::from_be_bytes);
            let target = seq.and_then(|seq| stored.iter().find(|(s, _, _)| *s == seq));
            match (from, seq, target) {
                (Some(from), Some(seq), Some((_, _, c))) if seq >= meta.ixfr_first && c.from == from => {}
                _ => bad.push(format!(
                    "zone {name}: serial index entry {k:02x?} -> {v:02x?} points at no IXFR change from its serial"
                )),
            }
        }
        Ok(())
    }

    /// The changes `first..next` of the zone keyed `zone_key` that exist,
    /// each with its sequence and size.
    fn changes_between<'t>(
        &self,
        txn: &'t heed::RoTxn<'_, heed::WithoutTls>,
        zone_key: &[u8],
        first: u64,
        next: u64,
    ) -> Result<Vec<(u64, u64, super::journal::Change<'t>)>, super::ReadError> {
        let mut out = Vec::new();
        for seq in first..next {
            if let Some((size, change)) =
                super::journal::sized_change(&self.journal, txn, zone_key, seq)?
            {
                out.push((seq, size, change));
            }
        }
        Ok(out)
    }
}

/// Whether `len` octets of the encoded name `enc` end at a label boundary.
fn is_label_boundary(enc: &[u8], len: usize) -> bool {
    let mut pos = 0;
    while pos < len {
        match enc.get(pos) {
            Some(&l) => pos += 1 + usize::from(l),
            None => return false,
        }
    }
    pos == len
}

/// The parent's encoding (the encoding without its last label).
fn parent(enc: &[u8]) -> &[u8] {
    let mut pos = 0;
    let mut last = 0;
    while let Some(&len) = enc.get(pos) {
        last = pos;
        pos += 1 + usize::from(len);
    }
    enc.get(..last).unwrap_or(&[])
}

/// The presentation form of an encoded name, if it decodes.
fn show(enc: &[u8]) -> Option<String> {
    super::decode_name_buf(enc).ok().map(|n| n.to_string())
}

fn show_or(enc: &[u8]) -> String {
    show(enc).unwrap_or_else(|| format!("{enc:02x?}"))
}

#[cfg(test)]
mod tests {
    use super::{is_label_boundary, parent};

    #[test]
    fn boundaries_and_parents() {
        assert!(is_label_boundary(b"\x03net\x07example", 4));
        assert!(!is_label_boundary(b"\x03net\x07example", 3));
        assert!(is_label_boundary(b"\x03net", 0));
        assert_eq!(parent(b"\x03net\x07example"), b"\x03net");
        assert_eq!(parent(b"\x03net"), b"");
    }
}

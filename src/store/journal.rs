//! The journal: the effective difference of every applied change, written
//! in the same LMDB transaction as the change (issue 12).
//!
//! Three databases:
//! - `journal`: zone key ([`key::zone_key`]) and a per-zone sequence number
//!   (64 bits, big-endian) → one change ([`Change`]): a header (time, serials,
//!   the TSIG key and peer that made it) and a body that is the change as
//!   RFC 1995 §4 sends it, ready-to-send uncompressed wire records: the old
//!   SOA, the records deleted, the new SOA, the records added. Keyed by
//!   sequence, not by serial: serials wrap (RFC 1982).
//! - `journal_serials`: zone key and a serial (32 bits) → the sequence of the
//!   change that starts from that serial, for the changes IXFR may still
//!   send.
//! - `journal_meta`: zone key → [`Meta`]: where the audit trail and the IXFR
//!   history begin, the next sequence, and their sizes.
//!
//! Two windows over one list of changes: IXFR replays the newest
//! `max_changes` changes within `max_bytes`; the audit trail
//! (`dynzone journal`) keeps the newest `audit_max_changes` within
//! `audit_max_bytes`. Pruning either happens in the transaction that appends,
//! so the journal never outgrows its limits.
//!
//! "Effective" means what really changed: an RRset's records are compared
//! before and after the whole change, so a record deleted and added again,
//! or an add of a record already there, leaves no trace; a TTL change deletes
//! every old record and adds every new one (RFC 2181 §5.2: one TTL per RRset).

use heed::types::Bytes;
use heed::{Database, RwTxn};

use super::ReadError;
use super::key::{self, MAX_KEY};
use crate::wire::{MAX_NAME_LEN, Name, Rtype};

/// Journal limits, per zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Changes IXFR may replay (`--journal-max-changes`).
    pub max_changes: u64,
    /// Octets of changes IXFR may replay (`--journal-max-bytes`).
    pub max_bytes: u64,
    /// Changes the audit trail keeps (`--audit-max-changes`).
    pub audit_max_changes: u64,
    /// Octets the audit trail keeps (`--audit-max-bytes`).
    pub audit_max_bytes: u64,
}

impl Limits {
    /// The defaults: 100 changes and 4 MiB for IXFR, 10,000 changes and
    /// 64 MiB for the audit trail.
    pub const DEFAULT: Limits = Limits {
        max_changes: 100,
        max_bytes: 4 << 20,
        audit_max_changes: 10_000,
        audit_max_bytes: 64 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The journal's databases.
#[derive(Clone, Copy)]
pub(crate) struct Dbs {
    pub changes: Database<Bytes, Bytes>,
    pub serials: Database<Bytes, Bytes>,
    pub meta: Database<Bytes, Bytes>,
}

/// A zone's journal bookkeeping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// The oldest change kept (the audit trail starts here).
    pub first: u64,
    /// The oldest change IXFR may send.
    pub ixfr_first: u64,
    /// The sequence the next change gets.
    pub next: u64,
    /// Octets of the changes from `ixfr_first` on.
    pub ixfr_bytes: u64,
    /// Octets of the changes from `first` on.
    pub bytes: u64,
}

const META_LEN: usize = 40;

impl Meta {
    fn encode(&self) -> [u8; META_LEN] {
        let mut out = [0u8; META_LEN];
        let fields = [
            self.first,
            self.ixfr_first,
            self.next,
            self.ixfr_bytes,
            self.bytes,
        ];
        for (chunk, field) in out.as_chunks_mut::<8>().0.iter_mut().zip(fields) {
            *chunk = field.to_be_bytes();
        }
        out
    }

    fn decode(value: &[u8]) -> Option<Meta> {
        let (chunks, rest) = value.as_chunks::<8>();
        let [first, ixfr_first, next, ixfr_bytes, bytes] = chunks else {
            return None;
        };
        rest.is_empty().then(|| Meta {
            first: u64::from_be_bytes(*first),
            ixfr_first: u64::from_be_bytes(*ixfr_first),
            next: u64::from_be_bytes(*next),
            ixfr_bytes: u64::from_be_bytes(*ixfr_bytes),
            bytes: u64::from_be_bytes(*bytes),
        })
    }
}

/// Longest journal key: a zone key and a 64-bit sequence.
const JOURNAL_KEY: usize = MAX_KEY + 8;

/// `zone_key` followed by `suffix`.
fn suffixed<'k>(
    zone_key: &[u8],
    suffix: &[u8],
    out: &'k mut [u8; JOURNAL_KEY],
) -> Result<&'k [u8], ReadError> {
    let len = zone_key.len() + suffix.len();
    let dst = out.get_mut(..len).ok_or(ReadError::KeyTooLong)?;
    let (head, tail) = dst.split_at_mut(zone_key.len());
    head.copy_from_slice(zone_key);
    tail.copy_from_slice(suffix);
    Ok(dst)
}

/// What made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An RFC 2136 UPDATE.
    Update,
    /// `dynzone import` replaced the zone.
    Import,
}

/// Who made a change, and when.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// An UPDATE or an import.
    pub kind: Kind,
    /// Seconds since the epoch.
    pub time: u64,
    /// The TSIG key that signed the UPDATE.
    pub key: Option<Name<'a>>,
    /// The address the UPDATE came from.
    pub peer: Option<std::net::SocketAddr>,
}

/// Header octets before the key name: version, kind, time (8), old serial,
/// new serial, deleted and added counts (4 each), body offset (2), peer
/// family (1), address (16), port (2), key name length (1).
const HEAD_LEN: usize = 48;
const VERSION: u8 = 1;

/// One stored change, borrowed from the map.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// An UPDATE or an import.
    pub kind: Kind,
    /// When, in seconds since the epoch.
    pub time: u64,
    /// The serial before.
    pub from: u32,
    /// The serial after.
    pub to: u32,
    /// Records deleted, the old SOA not counted.
    pub deleted: u32,
    /// Records added, the new SOA not counted.
    pub added: u32,
    /// The TSIG key's name in wire form.
    pub key: Option<Name<'a>>,
    /// The address the UPDATE came from.
    pub peer: Option<std::net::SocketAddr>,
    /// The old SOA, the deleted records, the new SOA, the added records,
    /// each an uncompressed wire record.
    pub body: &'a [u8],
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(*bytes.get(at..at + 4)?.first_chunk()?))
}

fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(*bytes.get(at..at + 8)?.first_chunk()?))
}

impl<'a> Change<'a> {
    /// Reads a stored change; `None` when damaged.
    pub fn decode(value: &'a [u8]) -> Option<Change<'a>> {
        if *value.first()? != VERSION {
            return None;
        }
        let kind = match value.get(1)? {
            0 => Kind::Update,
            1 => Kind::Import,
            _ => return None,
        };
        let body_at = usize::from(u16::from_be_bytes(*value.get(26..28)?.first_chunk()?));
        let port = u16::from_be_bytes(*value.get(45..47)?.first_chunk()?);
        let addr: [u8; 16] = *value.get(29..45)?.first_chunk()?;
        let peer = match value.get(28)? {
            0 => None,
            4 => {
                let v4: [u8; 4] = *addr.first_chunk()?;
                Some(std::net::SocketAddr::from((v4, port)))
            }
            6 => Some(std::net::SocketAddr::from((addr, port))),
            _ => return None,
        };
        let key_len = usize::from(*value.get(47)?);
        let key = match key_len {
            0 => None,
            n => Some(Name::from_wire(value.get(HEAD_LEN..HEAD_LEN + n)?).ok()?),
        };
        Some(Change {
            kind,
            time: be64(value, 2)?,
            from: be32(value, 10)?,
            to: be32(value, 14)?,
            deleted: be32(value, 18)?,
            added: be32(value, 22)?,
            key,
            peer,
            body: value.get(body_at..)?,
        })
    }

    /// The records of the body, in order, each as (owner, type, TTL, RDATA).
    pub fn records(&self) -> Records<'a> {
        Records { rest: self.body }
    }
}

/// The records of a change's body.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

/// One record of a change, as stored.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The owner, uncompressed.
    pub owner: Name<'a>,
    /// The type.
    pub rtype: Rtype,
    /// The TTL.
    pub ttl: u32,
    /// The RDATA.
    pub rdata: &'a [u8],
    /// The whole record in uncompressed wire form.
    pub wire: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let parsed = split_record(self.rest);
        match parsed {
            Some((record, rest)) => {
                self.rest = rest;
                Some(Ok(record))
            }
            None => {
                self.rest = &[];
                Some(Err(ReadError::Damaged))
            }
        }
    }
}

/// The first record of `bytes` and what follows it.
pub fn split_record(bytes: &[u8]) -> Option<(Record<'_>, &[u8])> {
    let mut pos = 0;
    loop {
        let len = usize::from(*bytes.get(pos)?);
        pos += 1 + len;
        if len == 0 {
            break;
        }
        if pos > MAX_NAME_LEN {
            return None;
        }
    }
    let owner = Name::from_wire(bytes.get(..pos)?).ok()?;
    let rtype = u16::from_be_bytes(*bytes.get(pos..pos + 2)?.first_chunk()?);
    let ttl = be32(bytes, pos + 4)?;
    let rdlen = usize::from(u16::from_be_bytes(
        *bytes.get(pos + 8..pos + 10)?.first_chunk()?,
    ));
    let end = pos + 10 + rdlen;
    let record = Record {
        owner,
        rtype: Rtype::from(rtype),
        ttl,
        rdata: bytes.get(pos + 10..end)?,
        wire: bytes.get(..end)?,
    };
    Some((record, bytes.get(end..)?))
}

/// Appends one uncompressed wire record (class IN) to `out`.
fn push_record(out: &mut Vec<u8>, owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) {
    out.extend_from_slice(owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// Buffers for comparing the RDATAs of an RRset before and after a change:
/// (offset, length) of each RDATA in its value, sorted by content. Sorting
/// keeps the comparison O(n log n) for the largest RRsets (a 64 KiB value
/// holds up to 10,922 four-octet RDATAs).
pub struct Differ {
    old: Vec<(u32, u32)>,
    new: Vec<(u32, u32)>,
}

/// Most RDATAs one RRset value holds: each takes at least its 2-octet length.
const MAX_RDATAS: usize = super::MAX_VALUE / 2;

impl Differ {
    /// Buffers for the largest RRset value.
    pub fn new() -> Differ {
        Differ {
            old: Vec::with_capacity(MAX_RDATAS),
            new: Vec::with_capacity(MAX_RDATAS),
        }
    }

    /// Calls `deleted` for each record of `old` not in `new` and `added` for
    /// each record of `new` not in `old` (RRset values, [`super::value`]); a
    /// TTL change deletes every old record and adds every new one.
    fn diff(
        &mut self,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
        mut deleted: impl FnMut(u32, &[u8]),
        mut added: impl FnMut(u32, &[u8]),
    ) -> Result<(), ReadError> {
        let old_ttl = old
            .map(|v| be32(v, 0).ok_or(ReadError::Damaged))
            .transpose()?;
        let new_ttl = new
            .map(|v| be32(v, 0).ok_or(ReadError::Damaged))
            .transpose()?;
        let old = old.unwrap_or(&[]);
        let new = new.unwrap_or(&[]);
        split_rdatas(old, &mut self.old)?;
        split_rdatas(new, &mut self.new)?;
        let old_ttl = old_ttl.unwrap_or(0);
        let new_ttl = new_ttl.unwrap_or(0);
        if old_ttl != new_ttl {
            for &entry in &self.old {
                deleted(old_ttl, rdata(old, entry));
            }
            for &entry in &self.new {
                added(new_ttl, rdata(new, entry));
            }
            return Ok(());
        }
        self.old
            .sort_unstable_by(|a, b| rdata(old, *a).cmp(rdata(old, *b)));
        self.new
            .sort_unstable_by(|a, b| rdata(new, *a).cmp(rdata(new, *b)));
        let (mut i, mut j) = (0, 0);
        loop {
            match (self.old.get(i), self.new.get(j)) {
                (None, None) => return Ok(()),
                (Some(&o), None) => {
                    deleted(old_ttl, rdata(old, o));
                    i += 1;
                }
                (None, Some(&n)) => {
                    added(new_ttl, rdata(new, n));
                    j += 1;
                }
                (Some(&o), Some(&n)) => match rdata(old, o).cmp(rdata(new, n)) {
                    core::cmp::Ordering::Less => {
                        deleted(old_ttl, rdata(old, o));
                        i += 1;
                    }
                    core::cmp::Ordering::Greater => {
                        added(new_ttl, rdata(new, n));
                        j += 1;
                    }
                    core::cmp::Ordering::Equal => {
                        i += 1;
                        j += 1;
                    }
                },
            }
        }
    }
}

impl Default for Differ {
    fn default() -> Self {
        Differ::new()
    }
}

/// The TTL and RDATA of a SOA RRset value.
fn soa_rdata(value: &[u8]) -> Result<(u32, &[u8]), ReadError> {
    let set = super::Rrset::from_value(value).ok_or(ReadError::Damaged)?;
    let rdata = set.iter().next().ok_or(ReadError::Damaged)?;
    Ok((set.ttl(), rdata))
}

/// The RDATA at (offset, length) `at` of an RRset value.
fn rdata(value: &[u8], (at, len): (u32, u32)) -> &[u8] {
    value
        .get(at as usize..(at as usize + len as usize))
        .unwrap_or(&[])
}

/// The (offset, length) of each RDATA of the RRset value `value`.
fn split_rdatas(value: &[u8], out: &mut Vec<(u32, u32)>) -> Result<(), ReadError> {
    out.clear();
    let mut pos = 4;
    while pos < value.len() {
        let len = u16::from_be_bytes(
            *value
                .get(pos..pos + 2)
                .and_then(|b| b.first_chunk())
                .ok_or(ReadError::Damaged)?,
        );
        let start = pos + 2;
        pos = start + usize::from(len);
        if pos > value.len() {
            return Err(ReadError::Damaged);
        }
        out.push((start as u32, u32::from(len)));
    }
    Ok(())
}

/// One RRset a change touched: its record key and its value before and
/// after the change.
pub struct Touched<'a> {
    /// The record key of the RRset.
    pub key: &'a [u8],
    /// Its value before the change (`None`: it did not exist).
    pub old: Option<&'a [u8]>,
    /// Its value after the change (`None`: it is gone).
    pub new: Option<&'a [u8]>,
}

/// Writes the stored form of a change into `out` (cleared first): the
/// header from `origin`, then the body, the old SOA, every record deleted,
/// the new SOA, every record added. `old_soa`/`new_soa` are the apex SOA's
/// RRset values; `touched` yields every RRset the change touched (it is
/// walked twice), the SOA among them or not (it is skipped). Returns whether
/// anything but the SOA changed or the serial moved, that is, whether the
/// change is worth keeping.
#[allow(clippy::too_many_arguments)]
pub fn build<'t, I>(
    out: &mut Vec<u8>,
    differ: &mut Differ,
    origin: &Origin<'_>,
    apex_enc: &[u8],
    old_soa: &[u8],
    new_soa: &[u8],
    touched: impl Fn() -> I,
) -> Result<bool, ReadError>
where
    I: Iterator<Item = Result<Touched<'t>, ReadError>>,
{
    out.clear();
    let (old_ttl, old_rdata) = soa_rdata(old_soa)?;
    let (new_ttl, new_rdata) = soa_rdata(new_soa)?;
    let serial = |rdata: &[u8]| {
        crate::wire::SoaRdata::new(rdata)
            .map(|s| s.serial())
            .ok_or(ReadError::Damaged)
    };
    let from = serial(old_rdata)?;
    let to = serial(new_rdata)?;
    let mut apex = [0u8; MAX_NAME_LEN];
    let apex_len = key::decode_name(apex_enc, &mut apex).ok_or(ReadError::Damaged)?;
    let apex = apex.get(..apex_len).ok_or(ReadError::Damaged)?;

    // The header; counts are filled in at the end.
    out.extend_from_slice(&[VERSION, u8::from(origin.kind == Kind::Import)]);
    out.extend_from_slice(&origin.time.to_be_bytes());
    out.extend_from_slice(&from.to_be_bytes());
    out.extend_from_slice(&to.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    let mut key_wire = [0u8; MAX_NAME_LEN];
    let key_len = origin.key.map_or(0, |k| k.write_canonical(&mut key_wire));
    let key = key_wire.get(..key_len).unwrap_or(&[]);
    out.extend_from_slice(&((HEAD_LEN + key.len()) as u16).to_be_bytes());
    let (family, addr, port) = match origin.peer {
        None => (0u8, [0u8; 16], 0u16),
        Some(std::net::SocketAddr::V4(a)) => {
            let mut addr = [0u8; 16];
            if let Some(dst) = addr.get_mut(..4) {
                dst.copy_from_slice(&a.ip().octets());
            }
            (4, addr, a.port())
        }
        Some(std::net::SocketAddr::V6(a)) => (6, a.ip().octets(), a.port()),
    };
    out.push(family);
    out.extend_from_slice(&addr);
    out.extend_from_slice(&port.to_be_bytes());
    out.push(key.len() as u8);
    out.extend_from_slice(key);

    // RFC 1995 §4: "the old SOA, the deleted RRs, the new SOA, the added RRs".
    push_record(out, apex, Rtype::Soa.into(), old_ttl, old_rdata);
    let mut owner = [0u8; MAX_NAME_LEN];
    let mut deleted = 0u32;
    for item in touched() {
        let t = item?;
        let Some((encoded, key::Entry::Rrset(rtype))) = key::split_key(t.key) else {
            return Err(ReadError::Damaged);
        };
        if encoded == apex_enc && rtype.rtype() == Rtype::Soa {
            continue;
        }
        let len = key::decode_name(encoded, &mut owner).ok_or(ReadError::Damaged)?;
        let owner = owner.get(..len).ok_or(ReadError::Damaged)?;
        differ.diff(
            t.old,
            t.new,
            |ttl, rdata| {
                push_record(out, owner, rtype.code(), ttl, rdata);
                deleted += 1;
            },
            |_, _| {},
        )?;
    }
    push_record(out, apex, Rtype::Soa.into(), new_ttl, new_rdata);
    let mut added = 0u32;
    for item in touched() {
        let t = item?;
        let Some((encoded, key::Entry::Rrset(rtype))) = key::split_key(t.key) else {
            return Err(ReadError::Damaged);
        };
        if encoded == apex_enc && rtype.rtype() == Rtype::Soa {
            continue;
        }
        let len = key::decode_name(encoded, &mut owner).ok_or(ReadError::Damaged)?;
        let owner = owner.get(..len).ok_or(ReadError::Damaged)?;
        differ.diff(
            t.old,
            t.new,
            |_, _| {},
            |ttl, rdata| {
                push_record(out, owner, rtype.code(), ttl, rdata);
                added += 1;
            },
        )?;
    }
    if let Some(counts) = out.get_mut(18..26) {
        counts
            .get_mut(..4)
            .into_iter()
            .for_each(|c| c.copy_from_slice(&deleted.to_be_bytes()));
        counts
            .get_mut(4..)
            .into_iter()
            .for_each(|c| c.copy_from_slice(&added.to_be_bytes()));
    }
    Ok(deleted > 0 || added > 0 || from != to || old_ttl != new_ttl || old_rdata != new_rdata)
}

/// The bookkeeping of the zone keyed `zone_key` (all zeros when it has no
/// journal yet).
pub(crate) fn meta(dbs: &Dbs, txn: &heed::RoTxn<'_>, zone_key: &[u8]) -> Result<Meta, ReadError> {
    match dbs.meta.get(txn, zone_key)? {
        Some(v) => Meta::decode(v).ok_or(ReadError::Damaged),
        None => Ok(Meta::default()),
    }
}

/// The stored change `seq` of the zone keyed `zone_key`.
pub(crate) fn change<'t>(
    dbs: &Dbs,
    txn: &'t heed::RoTxn<'_>,
    zone_key: &[u8],
    seq: u64,
) -> Result<Option<Change<'t>>, ReadError> {
    Ok(sized_change(dbs, txn, zone_key, seq)?.map(|(_, change)| change))
}

/// The stored change `seq` and its size in octets.
pub(crate) fn sized_change<'t>(
    dbs: &Dbs,
    txn: &'t heed::RoTxn<'_>,
    zone_key: &[u8],
    seq: u64,
) -> Result<Option<(u64, Change<'t>)>, ReadError> {
    let mut buf = [0u8; JOURNAL_KEY];
    let k = suffixed(zone_key, &seq.to_be_bytes(), &mut buf)?;
    match dbs.changes.get(txn, k)? {
        Some(v) => Change::decode(v)
            .map(|c| Some((v.len() as u64, c)))
            .ok_or(ReadError::Damaged),
        None => Ok(None),
    }
}

/// RFC 1995 §4: the changes that take a client from `serial` to the
/// zone's current serial `current`, as a sequence range, if the IXFR
/// history holds an unbroken chain of them.
pub(crate) fn chain(
    dbs: &Dbs,
    txn: &heed::RoTxn<'_>,
    zone_key: &[u8],
    serial: u32,
    current: u32,
) -> Result<Option<core::ops::Range<u64>>, ReadError> {
    let meta = meta(dbs, txn, zone_key)?;
    let mut buf = [0u8; JOURNAL_KEY];
    let k = suffixed(zone_key, &serial.to_be_bytes(), &mut buf)?;
    let Some(start) = dbs.serials.get(txn, k)? else {
        return Ok(None);
    };
    let start = u64::from_be_bytes(*start.first_chunk().ok_or(ReadError::Damaged)?);
    if start < meta.ixfr_first || start >= meta.next {
        return Ok(None);
    }
    let mut expect = serial;
    for seq in start..meta.next {
        let Some(c) = change(dbs, txn, zone_key, seq)? else {
            return Ok(None);
        };
        if c.from != expect {
            return Ok(None);
        }
        expect = c.to;
    }
    Ok((expect == current).then_some(start..meta.next))
}

/// Appends the change `entry` (built by [`build`]) to the journal of the
/// zone keyed `zone_key`, then prunes both windows to `limits`.
pub(crate) fn append(
    dbs: &Dbs,
    txn: &mut RwTxn<'_>,
    zone_key: &[u8],
    entry: &[u8],
    limits: &Limits,
) -> Result<(), ReadError> {
    let change = Change::decode(entry).ok_or(ReadError::Damaged)?;
    let mut meta = meta(dbs, txn, zone_key)?;
    let seq = meta.next;
    let mut buf = [0u8; JOURNAL_KEY];
    dbs.changes.put(
        txn,
        suffixed(zone_key, &seq.to_be_bytes(), &mut buf)?,
        entry,
    )?;
    // A serial seen before (after a wrap) now starts this change.
    dbs.serials.put(
        txn,
        suffixed(zone_key, &change.from.to_be_bytes(), &mut buf)?,
        &seq.to_be_bytes(),
    )?;
    let len = entry.len() as u64;
    meta.next += 1;
    meta.ixfr_bytes += len;
    meta.bytes += len;
    // The IXFR history.
    while meta.ixfr_first < meta.next
        && (meta.next - meta.ixfr_first > limits.max_changes || meta.ixfr_bytes > limits.max_bytes)
    {
        let first = meta.ixfr_first;
        let size = forget_serial(dbs, txn, zone_key, first)?;
        meta.ixfr_bytes = meta.ixfr_bytes.saturating_sub(size);
        meta.ixfr_first += 1;
    }
    // The audit trail, which ends the IXFR history too if it is shorter.
    while meta.first < meta.next
        && (meta.next - meta.first > limits.audit_max_changes
            || meta.bytes > limits.audit_max_bytes)
    {
        let first = meta.first;
        if meta.ixfr_first == first {
            let size = forget_serial(dbs, txn, zone_key, first)?;
            meta.ixfr_bytes = meta.ixfr_bytes.saturating_sub(size);
            meta.ixfr_first += 1;
        }
        let k = suffixed(zone_key, &first.to_be_bytes(), &mut buf)?;
        let size = dbs.changes.get(txn, k)?.map_or(0, |v| v.len() as u64);
        dbs.changes.delete(txn, k)?;
        meta.bytes = meta.bytes.saturating_sub(size);
        meta.first += 1;
    }
    dbs.meta.put(txn, zone_key, &meta.encode())?;
    Ok(())
}

/// Removes the serial index entry of change `seq` (if it still points at
/// it) and returns the change's size.
fn forget_serial(
    dbs: &Dbs,
    txn: &mut RwTxn<'_>,
    zone_key: &[u8],
    seq: u64,
) -> Result<u64, ReadError> {
    let Some((size, from)) = sized_change(dbs, txn, zone_key, seq)?.map(|(s, c)| (s, c.from))
    else {
        return Ok(0);
    };
    let mut buf = [0u8; JOURNAL_KEY];
    let k = suffixed(zone_key, &from.to_be_bytes(), &mut buf)?;
    if dbs.serials.get(txn, k)? == Some(&seq.to_be_bytes()[..]) {
        dbs.serials.delete(txn, k)?;
    }
    Ok(size)
}

/// Removes the whole journal of the zone keyed `zone_key` (its serial index
/// and bookkeeping too).
pub(crate) fn clear(dbs: &Dbs, txn: &mut RwTxn<'_>, zone_key: &[u8]) -> Result<(), ReadError> {
    for db in [dbs.changes, dbs.serials] {
        let mut keys = Vec::new();
        for item in db.prefix_iter(txn, zone_key)? {
            let (k, _) = item?;
            // Another zone's keys start with this one's only when they have
            // exactly the suffix lengths of ours (8 or 4 octets).
            if k.len() == zone_key.len() + 8 || k.len() == zone_key.len() + 4 {
                keys.push(k.to_vec());
            }
        }
        for k in &keys {
            db.delete(txn, k)?;
        }
    }
    dbs.meta.delete(txn, zone_key)?;
    Ok(())
}

//! Records in LMDB through heed (DESIGN.md, "Storage schema").
//!
//! Two databases in one environment:
//! - `records`: [`key`] → [`value`]: one RRset per (owner, type), plus one node
//!   entry per existing name (type 0) listing its types, so that every question
//!   the query path asks — does this name exist, is it an empty non-terminal, is
//!   there a zone cut here, is there a wildcard — is one `mdb_get`, with no cursor
//!   (cursors `malloc` in C) and nothing copied out of the map.
//! - `zones`: encoded apex name → zone metadata: a format version and the
//!   zone's record count, kept by every write (the `--max-zone-records` quota).
//! - `journal`, `journal_serials`, `journal_meta`: every applied change's
//!   effective difference, for IXFR and the audit trail (see [`journal`]).
//! - `replay`: the signed UPDATEs accepted lately, so that none is applied twice
//!   (see [`WriteBatch::remember`]).
//!
//! The environment uses LMDB's default full durability (no `NOSYNC`, no
//! `WRITE_MAP`), an explicit map size, and `MDB_NOTLS` so that each worker keeps
//! its own long-lived read transaction ([`Reader`]) and renews it only when a
//! write has committed.

mod check;
pub mod journal;
pub mod key;
mod reader;
mod record;
mod stats;
pub mod value;
mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use std::ops::Bound;

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, RoTxn, WithoutTls};

use crate::wire::{MAX_NAME_LEN, Name, NameBuf};

pub use key::{DataType, NameKey};
pub use reader::{ReadError, Reader, Snapshot};
pub use record::ZoneRecord;
pub use stats::ZoneStats;
pub use value::{Node, Rrset};
pub use writer::{MAX_VALUE, Replay, Scratch, WriteBatch, Writer};

/// Default LMDB map size: 256 MiB of address space (not disk), enough for
/// millions of records, small enough for a 32-bit router.
pub const DEFAULT_MAP_SIZE: usize = 256 << 20;

/// Zone metadata values. Format 1 was the single octet 1; format 2 is the
/// octet 2 and the zone's record count, 64 bits big-endian. [`Store::open`]
/// turns format 1 into format 2.
pub(crate) mod zone_meta {
    /// The format 1 value.
    pub const V1: &[u8] = &[1];

    /// A format 2 value for a zone of `records` records.
    pub fn encode(records: u64) -> [u8; 9] {
        let mut out = [0u8; 9];
        out[0] = 2;
        out[1..].copy_from_slice(&records.to_be_bytes());
        out
    }

    /// The record count of a format 2 value.
    pub fn records(value: &[u8]) -> Option<u64> {
        match value.split_first() {
            Some((2, count)) => Some(u64::from_be_bytes(count.try_into().ok()?)),
            _ => None,
        }
    }
}

/// An error from opening or writing the store (admin paths; the request path
/// uses the `Copy` [`ReadError`]).
#[derive(Debug)]
pub enum StoreError {
    /// The directory could not be created or used.
    Dir(PathBuf, std::io::Error),
    /// LMDB or heed failed.
    Lmdb(heed::Error),
    /// A stored value does not decode.
    Damaged,
    /// The zone is not in the database.
    NoSuchZone(String),
    /// A record of type 0 was given to store (RFC 6895 §3.1 reserves it).
    ReservedType,
    /// A key longer than any name allows (see [`key::KeyTooLong`]).
    KeyTooLong,
    /// An RDATA over 65,535 octets (RFC 1035 §3.2.1).
    RdataTooLong,
}

impl From<key::KeyTooLong> for StoreError {
    fn from(_: key::KeyTooLong) -> Self {
        StoreError::KeyTooLong
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Dir(path, e) => write!(f, "database directory {}: {e}", path.display()),
            StoreError::Lmdb(heed::Error::Mdb(heed::MdbError::MapFull)) => {
                f.write_str("the LMDB map is full; start again with a larger --map-size")
            }
            StoreError::Lmdb(e) => write!(f, "LMDB: {e}"),
            StoreError::Damaged => f.write_str("a stored value is damaged"),
            StoreError::NoSuchZone(z) => write!(f, "zone {z} is not in the database"),
            StoreError::ReservedType => f.write_str("type 0 is reserved and cannot be stored"),
            StoreError::KeyTooLong => f.write_str("a key longer than any name was asked for"),
            StoreError::RdataTooLong => f.write_str("an RDATA is longer than 65535 octets"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<ReadError> for StoreError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Lmdb(code) => {
                StoreError::Lmdb(heed::Error::Mdb(heed::MdbError::from_err_code(code)))
            }
            ReadError::Damaged => StoreError::Damaged,
            ReadError::KeyTooLong => StoreError::KeyTooLong,
        }
    }
}

/// A change of the journal, copied out of the map (for `dynzone journal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedChange {
    /// An UPDATE or an import.
    pub kind: journal::Kind,
    /// Seconds since the epoch.
    pub time: u64,
    /// The serial before.
    pub from: u32,
    /// The serial after.
    pub to: u32,
    /// The TSIG key that signed the UPDATE.
    pub key: Option<NameBuf>,
    /// The address the UPDATE came from.
    pub peer: Option<std::net::SocketAddr>,
    /// The records deleted (the old SOA first) and added (the new SOA
    /// first).
    pub deleted: Vec<ZoneRecord>,
    /// (see `deleted`)
    pub added: Vec<ZoneRecord>,
}

impl OwnedChange {
    fn of(change: &journal::Change<'_>) -> Result<OwnedChange, StoreError> {
        let mut deleted = Vec::new();
        let mut added = Vec::new();
        // The body is: old SOA, deletions, new SOA, additions.
        for (i, record) in change.records().enumerate() {
            let r = record?;
            let owned = ZoneRecord {
                owner: r.owner.to_buf(),
                rtype: r.rtype,
                ttl: r.ttl,
                rdata: r.rdata.to_vec(),
            };
            if i as u64 <= u64::from(change.deleted) {
                deleted.push(owned);
            } else {
                added.push(owned);
            }
        }
        Ok(OwnedChange {
            kind: change.kind,
            time: change.time,
            from: change.from,
            to: change.to,
            key: change.key.map(|k| k.to_buf()),
            peer: change.peer,
            deleted,
            added,
        })
    }
}

impl From<heed::Error> for StoreError {
    fn from(e: heed::Error) -> Self {
        StoreError::Lmdb(e)
    }
}

/// The LMDB environment and its databases. Cheap to clone (reference counted).
#[derive(Clone)]
pub struct Store {
    env: Env<WithoutTls>,
    records: Database<Bytes, Bytes>,
    zones: Database<Bytes, Bytes>,
    replay: Database<Bytes, Bytes>,
    journal: journal::Dbs,
    limits: journal::Limits,
}

/// A key and its value, borrowed from a transaction.
type Entry<'t> = (&'t [u8], &'t [u8]);

/// The entries of `db` whose keys start with `prefix`, in key order. (LMDB
/// refuses an empty key, so the root's subtree, the empty prefix, is every
/// entry.)
fn subtree<'t>(
    db: Database<Bytes, Bytes>,
    txn: &'t RoTxn<'_, WithoutTls>,
    prefix: &'t [u8],
) -> Result<impl Iterator<Item = Result<Entry<'t>, heed::Error>> + 't, heed::Error> {
    let lower = match prefix {
        [] => Bound::Unbounded,
        p => Bound::Included(p),
    };
    let range = (lower, Bound::Unbounded);
    Ok(db
        .range(txn, &range)?
        .take_while(move |item| item.as_ref().map_or(true, |(k, _)| k.starts_with(prefix))))
}

impl Store {
    /// Opens (creating when missing) the database directory `path` with a map of
    /// `map_size` bytes, and clears reader slots left by dead processes.
    pub fn open(path: &Path, map_size: usize) -> Result<Store, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| StoreError::Dir(path.to_owned(), e))?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(map_size).max_dbs(8).max_readers(256);
        // SAFETY: heed marks `open` unsafe because LMDB's memory map must not be
        // modified by anyone but LMDB while mapped and an environment must be opened
        // once per process. dynzone opens each directory once, at start-up, never
        // truncates or writes the files itself, and uses no WRITE_MAP. This is the
        // one `unsafe` of the crate (STYLE.md).
        #[allow(unsafe_code)]
        let env = unsafe { options.open(path) }?;
        env.clear_stale_readers()?;
        let mut wtxn = env.write_txn()?;
        let records = env.create_database(&mut wtxn, Some("records"))?;
        let zones = env.create_database(&mut wtxn, Some("zones"))?;
        let replay = env.create_database(&mut wtxn, Some("replay"))?;
        let journal = journal::Dbs {
            changes: env.create_database(&mut wtxn, Some("journal"))?,
            serials: env.create_database(&mut wtxn, Some("journal_serials"))?,
            meta: env.create_database(&mut wtxn, Some("journal_meta"))?,
        };
        wtxn.commit()?;
        let store = Store {
            env,
            records,
            zones,
            replay,
            journal,
            limits: journal::Limits::DEFAULT,
        };
        store.upgrade_zone_meta()?;
        Ok(store)
    }

    /// The store with the journal kept within `limits` (each write prunes
    /// the zone it changes).
    pub fn with_journal_limits(mut self, limits: journal::Limits) -> Store {
        self.limits = limits;
        self
    }

    /// Every change the journal keeps for zone `apex`, oldest first (the
    /// audit trail), each with its sequence number.
    pub fn changes(&self, apex: Name<'_>) -> Result<Vec<(u64, OwnedChange)>, StoreError> {
        let apex_key = NameKey::new(apex);
        let mut buf = [0u8; key::MAX_KEY];
        let zone_key = apex_key.zone_key(apex_key.labels(), &mut buf)?;
        let rtxn = self.env.read_txn()?;
        if self.zones.get(&rtxn, zone_key)?.is_none() {
            return Err(StoreError::NoSuchZone(apex.to_string()));
        }
        let meta = journal::meta(&self.journal, &rtxn, zone_key).map_err(StoreError::from)?;
        let mut out = Vec::new();
        for seq in meta.first..meta.next {
            if let Some(change) =
                journal::change(&self.journal, &rtxn, zone_key, seq).map_err(StoreError::from)?
            {
                out.push((seq, OwnedChange::of(&change)?));
            }
        }
        Ok(out)
    }

    /// The journal bookkeeping of zone `apex`.
    pub fn journal_meta(&self, apex: Name<'_>) -> Result<journal::Meta, StoreError> {
        let apex_key = NameKey::new(apex);
        let mut buf = [0u8; key::MAX_KEY];
        let zone_key = apex_key.zone_key(apex_key.labels(), &mut buf)?;
        let rtxn = self.env.read_txn()?;
        journal::meta(&self.journal, &rtxn, zone_key).map_err(StoreError::from)
    }

    /// Turns format 1 zone metadata (no record count) into format 2.
    fn upgrade_zone_meta(&self) -> Result<(), StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut old = Vec::new();
        for item in self.zones.iter(&rtxn)? {
            let (zone_key, value) = item?;
            if value == zone_meta::V1 {
                old.push(zone_key.to_vec());
            }
        }
        drop(rtxn);
        if old.is_empty() {
            return Ok(());
        }
        let mut wtxn = self.env.write_txn()?;
        for zone_key in &old {
            let apex = key::zone_key_apex(zone_key);
            let count = self.count_records(&wtxn, apex)?;
            self.zones
                .put(&mut wtxn, zone_key, &zone_meta::encode(count))?;
        }
        wtxn.commit()?;
        Ok(())
    }

    /// Counts the records of the zone whose apex is encoded as `apex_enc`.
    fn count_records(
        &self,
        txn: &RoTxn<'_, WithoutTls>,
        apex_enc: &[u8],
    ) -> Result<u64, StoreError> {
        let children = self.child_zones(txn, apex_enc)?;
        let mut count = 0u64;
        for item in subtree(self.records, txn, apex_enc)? {
            let (k, v) = item?;
            if children.iter().any(|c| k.starts_with(c)) {
                continue;
            }
            if let Some((_, key::Entry::Rrset(_))) = key::split_key(k) {
                count += Rrset::from_value(v).ok_or(StoreError::Damaged)?.len() as u64;
            }
        }
        Ok(count)
    }

    /// Clears the reader slots of processes that ended without closing the
    /// database (`kill -9` of a server or an `export`): LMDB keeps the pages
    /// such a slot's snapshot saw, so the file grows until the map is full.
    /// Returns how many were cleared.
    pub fn clear_stale_readers(&self) -> Result<usize, StoreError> {
        Ok(self.env.clear_stale_readers()?)
    }

    /// A reader for one worker thread.
    pub fn reader(&self) -> Result<Reader, StoreError> {
        Reader::new(self.env.clone(), self.records, self.zones, self.journal)
    }

    /// A read snapshot of the newest committed data, for a multi-message
    /// response to own until it ends (see [`Snapshot`] for LMDB's rules).
    /// Fails with `ReadError::Lmdb(MDB_READERS_FULL)` when every reader slot
    /// is taken.
    pub fn snapshot(&self) -> Result<Snapshot, ReadError> {
        Ok(Snapshot::new(&self.env, self.records, self.journal)?)
    }

    /// The apex names of every zone in the database.
    pub fn zone_names(&self) -> Result<Vec<NameBuf>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.zones.iter(&rtxn)? {
            let (zone_key, _) = item?;
            out.push(decode_name_buf(key::zone_key_apex(zone_key))?);
        }
        Ok(out)
    }

    /// Whether `apex` is a zone of ours.
    pub fn has_zone(&self, apex: Name<'_>) -> Result<bool, StoreError> {
        let rtxn = self.env.read_txn()?;
        let key = NameKey::new(apex);
        let mut buf = [0u8; key::MAX_KEY];
        Ok(self
            .zones
            .get(&rtxn, key.zone_key(key.labels(), &mut buf)?)?
            .is_some())
    }

    /// Replaces the whole content of zone `apex` (creating the zone) with
    /// `records`, in one write transaction: readers see the old zone or the new
    /// one, never a mix. The records must have passed [`crate::zone::check`].
    /// Names at or below another zone's apex inside this one are left alone.
    ///
    /// Replacing a zone that exists journals the effective difference as one
    /// change (an IXFR client sees the import as one delta), and the serial
    /// never goes backwards (RFC 1982): when the new SOA's serial is not
    /// newer than the stored one, the stored one + 1 is written instead.
    /// Replacing a zone with the same content changes nothing. Returns the
    /// serial stored.
    pub fn replace_zone(&self, apex: Name<'_>, records: &[ZoneRecord]) -> Result<u32, StoreError> {
        let apex_key = NameKey::new(apex);
        let apex_enc = apex_key.name_prefix(apex_key.labels()).to_vec();
        let mut wtxn = self.env.write_txn()?;
        let mut buf = [0u8; key::MAX_KEY];
        let zone_key = apex_key.zone_key(apex_key.labels(), &mut buf)?.to_vec();
        let exists = self.zones.get(&wtxn, &zone_key)?.is_some();
        let children = self.child_zones(&wtxn, &apex_enc)?;

        // The old content: every key to remove, and the RRsets as they were.
        let mut old = Vec::new();
        let mut old_sets: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for item in subtree(self.records, &wtxn, &apex_enc)? {
            let (k, v) = item?;
            if !children.iter().any(|c| k.starts_with(c)) {
                old.push(k.to_vec());
                if let Some((_, key::Entry::Rrset(_))) = key::split_key(k) {
                    old_sets.insert(k.to_vec(), v.to_vec());
                }
            }
        }

        // Group into RRsets: (encoded name, type) → (ttl, distinct rdatas).
        let mut sets: BTreeMap<(Vec<u8>, DataType), RrsetDraft<'_>> = BTreeMap::new();
        let mut nodes: BTreeMap<Vec<u8>, BTreeSet<DataType>> = BTreeMap::new();
        for rec in records {
            let owner = NameKey::new(rec.owner.as_name());
            let enc = owner.name_prefix(owner.labels()).to_vec();
            if children.iter().any(|c| enc.starts_with(c)) {
                continue;
            }
            let code = DataType::new(rec.rtype).ok_or(StoreError::ReservedType)?;
            let entry = sets
                .entry((enc.clone(), code))
                .or_insert((rec.ttl, Vec::new()));
            // RFC 2181 §5: an RRset holds no duplicate records.
            if !entry.1.contains(&rec.rdata.as_slice()) {
                entry.1.push(&rec.rdata);
            }
            nodes.entry(enc).or_default().insert(code);
            // Every name between the apex and the owner exists (RFC 8020).
            for k in apex_key.labels()..owner.labels() {
                nodes.entry(owner.name_prefix(k).to_vec()).or_default();
            }
        }
        let mut new_sets: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut count = 0u64;
        for ((enc, code), (ttl, rdatas)) in &sets {
            new_sets.insert(
                key::record_key(enc, *code, &mut buf)?.to_vec(),
                value::encode_rrset(*ttl, rdatas.iter().copied())
                    .map_err(|_| StoreError::RdataTooLong)?,
            );
            count += rdatas.len() as u64;
        }
        let soa_key = key::record_key(
            &apex_enc,
            DataType::new(crate::wire::Rtype::Soa).ok_or(StoreError::ReservedType)?,
            &mut buf,
        )?
        .to_vec();
        let serial_of = |sets: &BTreeMap<Vec<u8>, Vec<u8>>| -> Option<u32> {
            let set = Rrset::from_value(sets.get(&soa_key)?)?;
            crate::wire::SoaRdata::new(set.iter().next()?).map(|soa| soa.serial())
        };
        let new_serial = serial_of(&new_sets).ok_or(StoreError::Damaged)?;
        let old_serial = serial_of(&old_sets);
        if exists && old_sets == new_sets {
            return Ok(new_serial);
        }
        let mut serial = new_serial;
        if let Some(old_serial) =
            old_serial.filter(|&old| !crate::update::serial_gt(new_serial, old))
        {
            // RFC 1982: secondaries only move to a greater serial.
            serial = crate::update::next_serial(old_serial);
            let set = new_sets
                .get(&soa_key)
                .and_then(|v| Rrset::from_value(v))
                .ok_or(StoreError::Damaged)?;
            let ttl = set.ttl();
            let rdata = set.iter().next().ok_or(StoreError::Damaged)?;
            let mut patched = vec![0u8; rdata.len()];
            let patched = crate::wire::SoaRdata::new(rdata)
                .and_then(|soa| soa.with_serial(serial, &mut patched))
                .ok_or(StoreError::Damaged)?
                .to_vec();
            let value = value::encode_rrset(ttl, [patched.as_slice()])
                .map_err(|_| StoreError::RdataTooLong)?;
            new_sets.insert(soa_key.clone(), value);
        }

        for k in &old {
            self.records.delete(&mut wtxn, k)?;
        }
        for (k, v) in &new_sets {
            self.records.put(&mut wtxn, k, v)?;
        }
        for (enc, types) in &nodes {
            let value = value::encode_node(types.iter().map(|t| t.rtype()));
            self.records
                .put(&mut wtxn, key::node_key(enc, &mut buf)?, &value)?;
        }
        self.zones
            .put(&mut wtxn, &zone_key, &zone_meta::encode(count))?;

        match old_sets.get(&soa_key) {
            Some(old_soa) if exists => {
                let new_soa = new_sets.get(&soa_key).ok_or(StoreError::Damaged)?;
                let origin = journal::Origin {
                    kind: journal::Kind::Import,
                    time: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                    key: None,
                    peer: None,
                };
                let touched = || {
                    let gone = old_sets.iter().map(|(k, v)| {
                        Ok(journal::Touched {
                            key: k.as_slice(),
                            old: Some(v.as_slice()),
                            new: new_sets.get(k).map(Vec::as_slice),
                        })
                    });
                    let fresh = new_sets
                        .iter()
                        .filter(|(k, _)| !old_sets.contains_key(*k))
                        .map(|(k, v)| {
                            Ok(journal::Touched {
                                key: k.as_slice(),
                                old: None,
                                new: Some(v.as_slice()),
                            })
                        });
                    gone.chain(fresh)
                };
                let mut entry = Vec::new();
                let mut differ = journal::Differ::new();
                journal::build(
                    &mut entry,
                    &mut differ,
                    &origin,
                    &apex_enc,
                    old_soa,
                    new_soa,
                    touched,
                )?;
                journal::append(&self.journal, &mut wtxn, &zone_key, &entry, &self.limits)?;
            }
            _ => journal::clear(&self.journal, &mut wtxn, &zone_key)?,
        }
        wtxn.commit()?;
        Ok(serial)
    }

    /// Every record of zone `apex`, in key order (names root first, then type),
    /// without the subtrees of zones below it.
    pub fn zone_records(&self, apex: Name<'_>) -> Result<Vec<ZoneRecord>, StoreError> {
        let apex_key = NameKey::new(apex);
        let apex_enc = apex_key.name_prefix(apex_key.labels());
        let rtxn = self.env.read_txn()?;
        let mut buf = [0u8; key::MAX_KEY];
        if self
            .zones
            .get(&rtxn, apex_key.zone_key(apex_key.labels(), &mut buf)?)?
            .is_none()
        {
            return Err(StoreError::NoSuchZone(apex.to_string()));
        }
        let children = self.child_zones(&rtxn, apex_enc)?;
        let mut out = Vec::new();
        for item in subtree(self.records, &rtxn, apex_enc)? {
            let (k, v) = item?;
            if children.iter().any(|c| k.starts_with(c)) {
                continue;
            }
            let (enc, entry) = key::split_key(k).ok_or(StoreError::Damaged)?;
            let key::Entry::Rrset(rtype) = entry else {
                continue;
            };
            let owner = decode_name_buf(enc)?;
            let set = Rrset::from_value(v).ok_or(StoreError::Damaged)?;
            for rdata in set.iter() {
                out.push(ZoneRecord {
                    owner,
                    rtype: rtype.rtype(),
                    ttl: set.ttl(),
                    rdata: rdata.to_vec(),
                });
            }
        }
        Ok(out)
    }

    /// Encoded apexes of zones strictly below `apex_enc` (each a key prefix of
    /// its subtree).
    fn child_zones(
        &self,
        txn: &heed::RoTxn<'_, WithoutTls>,
        apex_enc: &[u8],
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for item in subtree(self.zones, txn, apex_enc)? {
            let (k, _) = item?;
            let encoded = key::zone_key_apex(k);
            if encoded.len() > apex_enc.len() {
                out.push(encoded.to_vec());
            }
        }
        Ok(out)
    }
}

/// An RRset being assembled for writing: the TTL and distinct RDATAs.
type RrsetDraft<'r> = (u32, Vec<&'r [u8]>);

fn decode_name_buf(encoded: &[u8]) -> Result<NameBuf, StoreError> {
    let mut wire = [0u8; MAX_NAME_LEN];
    let len = key::decode_name(encoded, &mut wire).ok_or(StoreError::Damaged)?;
    let bytes = wire.get(..len).ok_or(StoreError::Damaged)?;
    Name::from_wire(bytes)
        .map(|n| n.to_buf())
        .map_err(|_| StoreError::Damaged)
}

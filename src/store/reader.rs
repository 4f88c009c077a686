//! The request path's view of the store: one long-lived read transaction per
//! worker, renewed only after a write has committed ([`Reader`]), and the
//! fixed read snapshots that multi-message responses own ([`Snapshot`]).

use heed::types::Bytes;
use heed::{Database, Env, RoTxn, WithoutTls};

use super::StoreError;
use super::key::{DataType, KeyTooLong, MAX_ENCODED_NAME, MAX_KEY, NameKey};
use super::value::{Node, Rrset};
use crate::wire::Rtype;

/// A failed read on the request path; answered with SERVFAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// LMDB returned an error (its code, or 0 when heed had none).
    Lmdb(i32),
    /// A stored value does not decode.
    Damaged,
    /// A key longer than any name allows was asked for (see [`KeyTooLong`]).
    KeyTooLong,
}

impl From<KeyTooLong> for ReadError {
    fn from(_: KeyTooLong) -> Self {
        ReadError::KeyTooLong
    }
}

impl From<heed::Error> for ReadError {
    fn from(e: heed::Error) -> Self {
        match e {
            heed::Error::Io(io) => ReadError::Lmdb(io.raw_os_error().unwrap_or(0)),
            heed::Error::Mdb(m) => ReadError::Lmdb(m.to_err_code()),
            _ => ReadError::Lmdb(0),
        }
    }
}

/// A read snapshot of the store that lives as long as its worker.
///
/// `mdb_txn_begin` allocates in C, so the transaction is kept across requests;
/// [`Reader::refresh`] compares the snapshot's transaction id with the
/// environment's last committed one and starts a new snapshot only when they
/// differ (DESIGN.md, "Zero allocation").
pub struct Reader {
    env: Env<WithoutTls>,
    zones: Database<Bytes, Bytes>,
    snapshot: Snapshot,
    apexes: ZoneCache,
}

/// One read snapshot of the records, owned: a read-only LMDB transaction
/// that owns its handle on the environment (heed's `RoTxn<'static>`), so it
/// can live in a TCP connection's stream for as long as the stream lasts.
///
/// LMDB's rules, as this store keeps them: the environment is opened with
/// `MDB_NOTLS` (heed's `WithoutTls`), which ties each reader slot to its
/// transaction rather than to its thread, so one worker thread may hold its
/// [`Reader`] and any number of snapshots at once, and a write transaction
/// may commit on the same thread while they are open. Each snapshot takes
/// one of the environment's reader slots (`max_readers`, shared by every
/// process that opens the database); when none is free, opening one fails
/// with `MDB_READERS_FULL`. While a snapshot is open, LMDB cannot reuse the
/// pages that later writes free, so the file grows: whoever holds one must
/// bound how long (a TCP stream has a time limit). `mdb_txn_begin` allocates
/// in C; nothing is allocated on the Rust side.
pub struct Snapshot {
    records: Database<Bytes, Bytes>,
    journal: super::journal::Dbs,
    txn: RoTxn<'static, WithoutTls>,
}

/// How many zone apexes a reader keeps in memory; with more zones than this,
/// finding a name's zone falls back to one LMDB lookup per label.
const CACHED_ZONES: usize = 32;

/// The apexes of the snapshot's zones, read once per snapshot, so that finding
/// the zone of a question costs comparisons instead of lookups. Fixed arrays:
/// refilling it allocates nothing.
struct ZoneCache {
    encoded: [[u8; MAX_ENCODED_NAME]; CACHED_ZONES],
    lens: [u8; CACHED_ZONES],
    labels: [u8; CACHED_ZONES],
    count: usize,
    /// Every zone of the snapshot is in the cache.
    complete: bool,
}

impl ZoneCache {
    const EMPTY: ZoneCache = ZoneCache {
        encoded: [[0; MAX_ENCODED_NAME]; CACHED_ZONES],
        lens: [0; CACHED_ZONES],
        labels: [0; CACHED_ZONES],
        count: 0,
        complete: false,
    };

    /// Reads every zone key of the snapshot (apex encoding and a 0x00).
    fn fill(
        &mut self,
        zones: &Database<Bytes, Bytes>,
        txn: &RoTxn<'static, WithoutTls>,
    ) -> Result<(), ReadError> {
        self.count = 0;
        self.complete = false;
        for item in zones.iter(txn)? {
            let (zone_key, _) = item?;
            let encoded = super::key::zone_key_apex(zone_key);
            let (Some(slot), Some(len), Some(labels)) = (
                self.encoded.get_mut(self.count),
                self.lens.get_mut(self.count),
                self.labels.get_mut(self.count),
            ) else {
                return Ok(());
            };
            let Some(dst) = slot.get_mut(..encoded.len()) else {
                return Err(ReadError::Damaged);
            };
            dst.copy_from_slice(encoded);
            *len = encoded.len() as u8;
            *labels = count_labels(encoded).ok_or(ReadError::Damaged)?;
            self.count += 1;
        }
        self.complete = true;
        Ok(())
    }

    /// The label count of the deepest cached apex at or above `key`'s name.
    fn deepest(&self, key: &NameKey) -> Option<usize> {
        let mut best = None;
        for i in 0..self.count {
            let (Some(encoded), Some(&len), Some(&labels)) =
                (self.encoded.get(i), self.lens.get(i), self.labels.get(i))
            else {
                break;
            };
            let labels = usize::from(labels);
            if labels > key.labels() || best.is_some_and(|b| b >= labels) {
                continue;
            }
            if encoded.get(..usize::from(len)) == Some(key.name_prefix(labels)) {
                best = Some(labels);
            }
        }
        best
    }
}

/// Labels of an encoded name (length-prefixed labels, root first).
fn count_labels(encoded: &[u8]) -> Option<u8> {
    let mut rest = encoded;
    let mut labels = 0u8;
    while let Some((&len, tail)) = rest.split_first() {
        rest = tail.get(usize::from(len)..)?;
        labels = labels.checked_add(1)?;
    }
    Some(labels)
}

/// A record entry: its key and its value.
pub type Entry<'a> = (&'a [u8], &'a [u8]);

impl Reader {
    pub(super) fn new(
        env: Env<WithoutTls>,
        records: Database<Bytes, Bytes>,
        zones: Database<Bytes, Bytes>,
        journal: super::journal::Dbs,
    ) -> Result<Reader, StoreError> {
        let snapshot = Snapshot::new(&env, records, journal)?;
        let mut reader = Reader {
            env,
            zones,
            snapshot,
            apexes: ZoneCache::EMPTY,
        };
        reader
            .apexes
            .fill(&reader.zones, &reader.snapshot.txn)
            .map_err(|_| StoreError::Damaged)?;
        Ok(reader)
    }

    /// Moves to the newest committed data if a write committed since the
    /// snapshot was taken. Returns whether it moved. Cheap when nothing changed:
    /// one read of LMDB's meta page, no allocation.
    pub fn refresh(&mut self) -> Result<bool, ReadError> {
        if self.env.info().last_txn_id == self.snapshot.id() {
            return Ok(false);
        }
        // Begin the new snapshot before dropping the old one so that a failure
        // leaves the reader usable on the old data.
        self.snapshot = Snapshot::new(&self.env, self.snapshot.records, self.snapshot.journal)?;
        self.apexes.fill(&self.zones, &self.snapshot.txn)?;
        Ok(true)
    }

    /// The transaction id of the snapshot being read.
    pub fn snapshot_id(&self) -> usize {
        self.snapshot.id()
    }

    /// Number of labels of the deepest zone apex at or above the name of `key`,
    /// or `None` when no zone of ours contains it.
    pub fn find_zone(&self, key: &NameKey) -> Result<Option<usize>, ReadError> {
        if self.apexes.complete {
            return Ok(self.apexes.deepest(key));
        }
        let mut buf = [0u8; MAX_KEY];
        for labels in (0..=key.labels()).rev() {
            if self
                .zones
                .get(&self.snapshot.txn, key.zone_key(labels, &mut buf)?)?
                .is_some()
            {
                return Ok(Some(labels));
            }
        }
        Ok(None)
    }

    /// The node of the ancestor of `key` with `labels` labels, if that name exists.
    pub fn node(&self, key: &NameKey, labels: usize) -> Result<Option<Node<'_>>, ReadError> {
        self.snapshot.node(key, labels)
    }

    /// The node of `*.<ancestor with labels labels>`, if that wildcard exists.
    pub fn wildcard_node(
        &self,
        key: &NameKey,
        labels: usize,
    ) -> Result<Option<Node<'_>>, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        // A wildcard whose name would pass 255 octets cannot exist.
        let Ok(k) = key.wildcard_node_key(labels, &mut buf) else {
            return Ok(None);
        };
        self.snapshot.get_node(k)
    }

    /// The RRset of `rtype` at the ancestor of `key` with `labels` labels
    /// (none of type 0: that type keys node entries, see [`DataType`]).
    pub fn rrset(
        &self,
        key: &NameKey,
        labels: usize,
        rtype: Rtype,
    ) -> Result<Option<Rrset<'_>>, ReadError> {
        self.snapshot.rrset(key, labels, rtype)
    }

    /// The RRset of `rtype` at `*.<ancestor with labels labels>`.
    pub fn wildcard_rrset(
        &self,
        key: &NameKey,
        labels: usize,
        rtype: Rtype,
    ) -> Result<Option<Rrset<'_>>, ReadError> {
        let Some(rtype) = DataType::new(rtype) else {
            return Ok(None);
        };
        let mut buf = [0u8; MAX_KEY];
        // A wildcard whose name would pass 255 octets cannot exist.
        let Ok(k) = key.wildcard_key(labels, rtype, &mut buf) else {
            return Ok(None);
        };
        self.snapshot.get_rrset(k)
    }
}

impl Snapshot {
    /// A snapshot of the newest committed data.
    pub(super) fn new(
        env: &Env<WithoutTls>,
        records: Database<Bytes, Bytes>,
        journal: super::journal::Dbs,
    ) -> Result<Snapshot, heed::Error> {
        let txn = match env.clone().static_read_txn() {
            // Every reader slot taken: some may belong to processes that
            // died holding one (a killed `export`, a second server). Clear
            // those and try once more.
            Err(heed::Error::Mdb(heed::MdbError::ReadersFull)) => {
                let cleared = env.clear_stale_readers()?;
                log::warn!(
                    "every LMDB reader slot was taken; cleared {cleared} left by dead processes"
                );
                env.clone().static_read_txn()?
            }
            other => other?,
        };
        Ok(Snapshot {
            records,
            journal,
            txn,
        })
    }

    /// The LMDB transaction id of the snapshot: the last write it sees.
    pub fn id(&self) -> usize {
        self.txn.id()
    }

    /// The node of the ancestor of `key` with `labels` labels, if that name exists.
    pub fn node(&self, key: &NameKey, labels: usize) -> Result<Option<Node<'_>>, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let k = key.node_key(labels, &mut buf)?;
        self.get_node(k)
    }

    /// The RRset of `rtype` at the ancestor of `key` with `labels` labels
    /// (none of type 0: that type keys node entries, see [`DataType`]).
    pub fn rrset(
        &self,
        key: &NameKey,
        labels: usize,
        rtype: Rtype,
    ) -> Result<Option<Rrset<'_>>, ReadError> {
        let Some(rtype) = DataType::new(rtype) else {
            return Ok(None);
        };
        let mut buf = [0u8; MAX_KEY];
        let k = key.rrset_key(labels, rtype, &mut buf)?;
        self.get_rrset(k)
    }

    /// The record entries from key `from` on, in key order:
    /// for zone walks (a transfer). It is one LMDB cursor, which LMDB
    /// allocates, so a walk opens one per message, not per entry.
    pub fn entries_from(
        &self,
        from: &[u8],
    ) -> Result<impl Iterator<Item = Result<Entry<'_>, ReadError>> + '_, ReadError> {
        let range = (
            core::ops::Bound::Included(from),
            core::ops::Bound::Unbounded,
        );
        Ok(self
            .records
            .range(&self.txn, &range)?
            .map(|item| item.map_err(ReadError::from)))
    }

    /// RFC 1995 §4: the journal's changes (sequence numbers) that take a
    /// client of the zone whose apex is encoded as `apex` from `serial` to
    /// `current`, if the IXFR history holds all of them.
    pub fn ixfr_chain(
        &self,
        apex: &[u8],
        serial: u32,
        current: u32,
    ) -> Result<Option<core::ops::Range<u64>>, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let zone_key = super::key::zone_key(apex, &mut buf)?;
        super::journal::chain(&self.journal, &self.txn, zone_key, serial, current)
    }

    /// The journal's change `seq` of the zone whose apex is encoded as `apex`.
    pub fn change(
        &self,
        apex: &[u8],
        seq: u64,
    ) -> Result<Option<super::journal::Change<'_>>, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let zone_key = super::key::zone_key(apex, &mut buf)?;
        super::journal::change(&self.journal, &self.txn, zone_key, seq)
    }

    fn get_node(&self, k: &[u8]) -> Result<Option<Node<'_>>, ReadError> {
        match self.records.get(&self.txn, k)? {
            Some(v) => Node::from_value(v).map(Some).ok_or(ReadError::Damaged),
            None => Ok(None),
        }
    }

    fn get_rrset(&self, k: &[u8]) -> Result<Option<Rrset<'_>>, ReadError> {
        match self.records.get(&self.txn, k)? {
            Some(v) => Rrset::from_value(v).map(Some).ok_or(ReadError::Damaged),
            None => Ok(None),
        }
    }
}

//! The update path's view of the store: a write transaction that keeps the
//! node entries (see [`super::value`]) true while RRsets come and go.
//!
//! Group commit (DESIGN.md, "Storage schema"): a [`WriteBatch`] holds one
//! parent write transaction for the updates of one event-loop wake-up; each
//! update runs in its own nested transaction, which commits into the parent or
//! rolls back alone; the parent commits once, one `fsync` for the batch. The
//! parent is begun only when the first update arrives, so a wake-up with
//! queries only never takes LMDB's writer lock.
//!
//! Nothing here allocates on the Rust side: values are assembled in the
//! caller's [`Scratch`] buffers, and keys in fixed arrays. (LMDB itself mallocs
//! when a nested transaction begins.)

use heed::types::Bytes;
use heed::{Database, RwTxn};

use super::journal;
use super::key::{self, DataType, MAX_KEY};
use super::value::{Node, Rrset};
use super::{ReadError, Store, zone_meta};
use crate::wire::{Name, Rtype};

/// Largest RRset value we write: a TTL and RDATAs that fit one DNS message.
pub const MAX_VALUE: usize = 4 + crate::wire::MAX_MESSAGE;

/// Reusable buffers for assembling values; allocate once with
/// [`Scratch::new`], then reuse for every update.
pub struct Scratch {
    value: Vec<u8>,
    node: Vec<u8>,
    /// The RRsets the update touched, as they were before it.
    touched: TouchLog,
    /// The journal entry being built.
    entry: Vec<u8>,
    differ: journal::Differ,
}

impl Scratch {
    /// Buffers big enough for any value the update path writes.
    pub fn new() -> Scratch {
        Scratch {
            value: Vec::with_capacity(MAX_VALUE),
            // A node lists at most every 16-bit type once.
            node: Vec::with_capacity(2 * 65536),
            touched: TouchLog::new(),
            entry: Vec::with_capacity(ENTRY_CAPACITY),
            differ: journal::Differ::new(),
        }
    }
}

/// Octets reserved for a journal entry: two messages' worth of records. A
/// larger change (an UPDATE deleting big RRsets) grows the buffer once.
const ENTRY_CAPACITY: usize = 2 * crate::wire::MAX_MESSAGE;

/// Octets reserved for the old values of touched RRsets.
const TOUCH_LOG_CAPACITY: usize = 4 * crate::wire::MAX_MESSAGE;

/// Slots of the touch log's hash table (a power of two); it doubles when
/// half full, which only an UPDATE touching over 8,192 RRsets needs.
const TOUCH_SLOTS: usize = 1 << 14;

/// The RRsets one update touched, each once, with its value before the
/// update: a journal entry is the difference between these and the values
/// after the update. A hash table finds an RRset already logged, so that an
/// UPDATE of n records costs O(n), not O(n²).
struct TouchLog {
    /// Per entry: key length (16 bits), key, 1 if the RRset existed (then
    /// its value length, 32 bits, and its value), else 0.
    log: Vec<u8>,
    /// Where each entry starts in `log`.
    starts: Vec<u32>,
    /// Open addressing: 0 is empty, i + 1 is entry i.
    slots: Vec<u32>,
}

/// FNV-1a, 64 bits: keys are ours to hash, no adversary picks the table.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl TouchLog {
    fn new() -> TouchLog {
        TouchLog {
            log: Vec::with_capacity(TOUCH_LOG_CAPACITY),
            starts: Vec::with_capacity(TOUCH_SLOTS / 2),
            slots: vec![0; TOUCH_SLOTS],
        }
    }

    fn clear(&mut self) {
        if !self.starts.is_empty() {
            self.slots.fill(0);
        }
        self.log.clear();
        self.starts.clear();
    }

    fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Entry `i`: its key and old value.
    fn entry(&self, i: usize) -> Option<(&[u8], Option<&[u8]>)> {
        let at = *self.starts.get(i)? as usize;
        let key_len = usize::from(u16::from_be_bytes(*self.log.get(at..)?.first_chunk()?));
        let key = self.log.get(at + 2..at + 2 + key_len)?;
        let rest = self.log.get(at + 2 + key_len..)?;
        match rest.split_first()? {
            (0, _) => Some((key, None)),
            (_, rest) => {
                let len = u32::from_be_bytes(*rest.first_chunk()?) as usize;
                Some((key, Some(rest.get(4..4 + len)?)))
            }
        }
    }

    /// The slot where `key` is, or the empty slot where it would go.
    fn slot(&self, key: &[u8]) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = (fnv1a(key) as usize) & mask;
        loop {
            match self.slots.get(at) {
                Some(&0) | None => return at,
                Some(&i) => {
                    if self.entry(i as usize - 1).is_some_and(|(k, _)| k == key) {
                        return at;
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    fn contains(&self, key: &[u8]) -> bool {
        self.slots.get(self.slot(key)).is_some_and(|&i| i != 0)
    }

    /// The old value logged for `key`: `None` when not logged,
    /// `Some(None)` when the RRset did not exist.
    fn old(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        let i = *self.slots.get(self.slot(key))?;
        let (_, old) = self.entry(i.checked_sub(1)? as usize)?;
        Some(old)
    }

    /// Logs `key` with its value before the update (call once per key).
    fn insert(&mut self, key: &[u8], old: Option<&[u8]>) {
        if (self.starts.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let at = self.slot(key);
        self.starts.push(self.log.len() as u32);
        self.log
            .extend_from_slice(&(key.len() as u16).to_be_bytes());
        self.log.extend_from_slice(key);
        match old {
            None => self.log.push(0),
            Some(value) => {
                self.log.push(1);
                self.log
                    .extend_from_slice(&(value.len() as u32).to_be_bytes());
                self.log.extend_from_slice(value);
            }
        }
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = self.starts.len() as u32;
        }
    }

    /// Doubles the table and places every entry again.
    fn grow(&mut self) {
        self.slots = vec![0; self.slots.len() * 2];
        for i in 0..self.starts.len() {
            let Some((key, _)) = self.entry(i) else {
                continue;
            };
            let at = self.slot(key);
            if let Some(slot) = self.slots.get_mut(at) {
                *slot = i as u32 + 1;
            }
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

/// The updates of one wake-up, committed together.
pub struct WriteBatch<'s> {
    /// `None`: a batch for requests that never write ([`WriteBatch::none`]).
    store: Option<&'s Store>,
    parent: Option<RwTxn<'s>>,
    applied: usize,
}

impl<'s> WriteBatch<'s> {
    /// A batch that has not begun a transaction yet.
    pub fn new(store: &'s Store) -> WriteBatch<'s> {
        WriteBatch {
            store: Some(store),
            parent: None,
            applied: 0,
        }
    }

    /// A batch without a store, for a caller that knows no request will
    /// write: [`WriteBatch::apply`] on it fails (SERVFAIL), changing nothing.
    pub fn none() -> WriteBatch<'static> {
        WriteBatch {
            store: None,
            parent: None,
            applied: 0,
        }
    }

    /// Runs `work` in a nested transaction of the batch's parent transaction
    /// (begun now if this is the batch's first update). When `work` returns
    /// `Ok` its changes join the batch; otherwise they are rolled back and the
    /// rest of the batch is untouched.
    pub fn apply<T, E: From<ReadError>>(
        &mut self,
        scratch: &mut Scratch,
        work: impl FnOnce(&mut Writer<'_, '_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let Some(store) = self.store else {
            return Err(ReadError::Lmdb(0).into());
        };
        if self.parent.is_none() {
            self.parent = Some(store.env.write_txn().map_err(ReadError::from)?);
        }
        let Some(parent) = self.parent.as_mut() else {
            return Err(ReadError::Lmdb(0).into());
        };
        let mut txn = store
            .env
            .nested_write_txn(parent)
            .map_err(ReadError::from)?;
        scratch.touched.clear();
        let mut writer = Writer {
            txn: &mut txn,
            records: store.records,
            zones: store.zones,
            journal: store.journal,
            limits: store.limits,
            scratch,
            delta: 0,
        };
        let result = work(&mut writer)?;
        txn.commit().map_err(ReadError::from)?;
        self.applied += 1;
        Ok(result)
    }

    /// Remembers the signed UPDATE `replay` in the batch's parent
    /// transaction, so that it outlives a refusal of the update itself, and
    /// forgets a few entries that can no longer pass the TSIG time check at
    /// `now` (`max_window` is the largest window any request gets). Returns
    /// `false`, writing nothing, when the same UPDATE was remembered before.
    ///
    /// No RFC asks for this: RFC 8945 §5.2.3 only bounds a request's life by
    /// its fudge, so within it a captured UPDATE could be sent again.
    pub fn remember(
        &mut self,
        replay: &Replay<'_>,
        now: u64,
        max_window: u64,
    ) -> Result<bool, ReadError> {
        let Some(store) = self.store else {
            return Err(ReadError::Lmdb(0));
        };
        if self.parent.is_none() {
            self.parent = Some(store.env.write_txn().map_err(ReadError::from)?);
        }
        let Some(txn) = self.parent.as_mut() else {
            return Err(ReadError::Lmdb(0));
        };
        let mut buf = [0u8; REPLAY_KEY];
        let key = replay.key(&mut buf);
        if store.replay.get(txn, key)?.is_some() {
            return Ok(false);
        }
        // Entries are in order of time signed: the first ones age out first.
        // Pruning two per update keeps up with one new entry per update.
        for _ in 0..PRUNE_PER_UPDATE {
            let mut old = [0u8; REPLAY_KEY];
            let len = match store.replay.first(txn)? {
                Some((k, _)) if replay_expired(k, now, max_window) => {
                    let len = k.len().min(REPLAY_KEY);
                    if let (Some(dst), Some(src)) = (old.get_mut(..len), k.get(..len)) {
                        dst.copy_from_slice(src);
                    }
                    len
                }
                _ => break,
            };
            store.replay.delete(txn, old.get(..len).unwrap_or(&[]))?;
        }
        let expiry = replay.time_signed.saturating_add(replay.window);
        store.replay.put(txn, key, &expiry.to_be_bytes())?;
        Ok(true)
    }

    /// Updates applied since the last commit.
    pub fn pending(&self) -> usize {
        self.applied
    }

    /// Commits the batch (one `fsync`); nothing to do when no update ran.
    /// Only after this returned `Ok` may the updates' answers be sent.
    pub fn commit(&mut self) -> Result<(), ReadError> {
        self.applied = 0;
        match self.parent.take() {
            Some(txn) => txn.commit().map_err(ReadError::from),
            None => Ok(()),
        }
    }

    /// Drops every update of the batch.
    pub fn abort(&mut self) {
        self.applied = 0;
        self.parent = None;
    }
}

/// Longest replay key: time signed (48 bits), a key name, a MAC.
const REPLAY_KEY: usize = 6 + crate::wire::MAX_NAME_LEN + crate::tsig::MAX_MAC_LEN;
/// Replay entries forgotten per update at most.
const PRUNE_PER_UPDATE: usize = 2;

/// A signed UPDATE as the replay memory knows it (see [`WriteBatch::remember`]).
#[derive(Debug, Clone, Copy)]
pub struct Replay<'a> {
    /// The key that signed it.
    pub key_name: Name<'a>,
    /// Its TSIG time signed (48 bits).
    pub time_signed: u64,
    /// Its MAC.
    pub mac: &'a [u8],
    /// Seconds on either side of `time_signed` in which it verifies: its
    /// fudge, capped by the server.
    pub window: u64,
}

impl Replay<'_> {
    /// The key: time signed, the key name in canonical form, the MAC.
    fn key<'b>(&self, out: &'b mut [u8; REPLAY_KEY]) -> &'b [u8] {
        let mut name = [0u8; crate::wire::MAX_NAME_LEN];
        let name_len = self.key_name.write_canonical(&mut name);
        let time = self.time_signed.to_be_bytes();
        let parts: [&[u8]; 3] = [
            time.get(2..).unwrap_or(&[]),
            name.get(..name_len).unwrap_or(&[]),
            self.mac,
        ];
        let mut pos = 0;
        for part in parts {
            let end = (pos + part.len()).min(REPLAY_KEY);
            if let (Some(dst), Some(src)) = (out.get_mut(pos..end), part.get(..end - pos)) {
                dst.copy_from_slice(src);
            }
            pos = end;
        }
        out.get(..pos).unwrap_or(&[])
    }
}

/// Whether the replay entry keyed `key` can no longer verify at `now`: its
/// time signed is further in the past than any window.
fn replay_expired(key: &[u8], now: u64, max_window: u64) -> bool {
    let Some(time) = key.get(..6) else {
        return true;
    };
    let mut bytes = [0u8; 8];
    if let Some(dst) = bytes.get_mut(2..) {
        dst.copy_from_slice(time);
    }
    u64::from_be_bytes(bytes).saturating_add(max_window) < now
}

/// Reads and writes of one update, inside its transaction.
pub struct Writer<'t, 'e> {
    txn: &'t mut RwTxn<'e>,
    records: Database<Bytes, Bytes>,
    zones: Database<Bytes, Bytes>,
    journal: journal::Dbs,
    limits: journal::Limits,
    scratch: &'t mut Scratch,
    /// Records added minus records removed by this writer so far.
    delta: i64,
}

impl Writer<'_, '_> {
    /// Whether the name encoded as `encoded` is the apex of a zone of ours.
    pub fn is_zone(&self, encoded: &[u8]) -> Result<bool, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let zone_key = key::zone_key(encoded, &mut buf)?;
        Ok(self.zones.get(self.txn, zone_key)?.is_some())
    }

    /// Whether any zone of ours lies strictly below the name encoded as
    /// `encoded`: the first zones key after its own starts with its encoding.
    pub fn has_zone_below(&self, encoded: &[u8]) -> Result<bool, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let own = key::zone_key(encoded, &mut buf)?;
        Ok(self
            .zones
            .get_greater_than(self.txn, own)?
            .is_some_and(|(k, _)| k.starts_with(encoded)))
    }

    /// The number of records in the zone whose apex is encoded as `apex`,
    /// this writer's changes included.
    pub fn zone_records(&self, apex: &[u8]) -> Result<u64, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let stored = self
            .zones
            .get(self.txn, key::zone_key(apex, &mut buf)?)?
            .and_then(zone_meta::records)
            .ok_or(ReadError::Damaged)?;
        Ok(stored.saturating_add_signed(self.delta))
    }

    /// Writes this writer's record count change into the zone's metadata;
    /// call once, after the last write of the update.
    pub fn finish_zone(&mut self, apex: &[u8]) -> Result<(), ReadError> {
        if self.delta == 0 {
            return Ok(());
        }
        let count = self.zone_records(apex)?;
        let mut buf = [0u8; MAX_KEY];
        self.zones.put(
            self.txn,
            key::zone_key(apex, &mut buf)?,
            &zone_meta::encode(count),
        )?;
        self.delta = 0;
        Ok(())
    }

    /// Logs the RRset keyed `record_key` as it is before this update, the
    /// first time the update is about to change it.
    fn touch(&mut self, record_key: &[u8]) -> Result<(), ReadError> {
        if self.scratch.touched.contains(record_key) {
            return Ok(());
        }
        let old = self.records.get(self.txn, record_key)?;
        self.scratch.touched.insert(record_key, old);
        Ok(())
    }

    /// Journals the effective difference this update made to the zone whose
    /// apex is encoded as `apex` (nothing when it made none), in the
    /// update's transaction, and prunes the zone's journal (see
    /// [`journal`]). Call once, after the serial moved.
    pub fn journal(&mut self, apex: &[u8], origin: &journal::Origin<'_>) -> Result<(), ReadError> {
        let Scratch {
            touched,
            entry,
            differ,
            ..
        } = &mut *self.scratch;
        if touched.is_empty() {
            return Ok(());
        }
        let mut buf = [0u8; MAX_KEY];
        let soa = DataType::new(Rtype::Soa).ok_or(ReadError::Damaged)?;
        let soa_key = key::record_key(apex, soa, &mut buf)?;
        let txn: &heed::RoTxn<'_> = self.txn;
        let records = self.records;
        let new_soa = records.get(txn, soa_key)?.ok_or(ReadError::Damaged)?;
        let old_soa = match touched.old(soa_key) {
            Some(old) => old.ok_or(ReadError::Damaged)?,
            None => new_soa,
        };
        let log: &TouchLog = touched;
        let keep = journal::build(entry, differ, origin, apex, old_soa, new_soa, || {
            (0..log.starts.len()).map(move |i| {
                let (key, old) = log.entry(i).ok_or(ReadError::Damaged)?;
                Ok(journal::Touched {
                    key,
                    old,
                    new: records.get(txn, key)?,
                })
            })
        })?;
        if !keep {
            return Ok(());
        }
        let zone_key = key::zone_key(apex, &mut buf)?;
        journal::append(&self.journal, self.txn, zone_key, entry, &self.limits)
    }

    /// The node entry of the name encoded as `encoded`.
    pub fn node(&self, encoded: &[u8]) -> Result<Option<Node<'_>>, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        match self
            .records
            .get(self.txn, key::node_key(encoded, &mut buf)?)?
        {
            Some(v) => Node::from_value(v).map(Some).ok_or(ReadError::Damaged),
            None => Ok(None),
        }
    }

    /// The RRset of `rtype` at the name encoded as `encoded` (none of type 0:
    /// that type keys node entries, see [`DataType`]).
    pub fn rrset(&self, encoded: &[u8], rtype: Rtype) -> Result<Option<Rrset<'_>>, ReadError> {
        let Some(rtype) = DataType::new(rtype) else {
            return Ok(None);
        };
        let mut buf = [0u8; MAX_KEY];
        match self
            .records
            .get(self.txn, key::record_key(encoded, rtype, &mut buf)?)?
        {
            Some(v) => Rrset::from_value(v).map(Some).ok_or(ReadError::Damaged),
            None => Ok(None),
        }
    }

    /// Records in the RRset of `rtype` at `encoded` (0 when absent).
    fn count(&self, encoded: &[u8], rtype: DataType) -> Result<i64, ReadError> {
        Ok(self
            .rrset(encoded, rtype.rtype())?
            .map_or(0, |set| set.len() as i64))
    }

    /// Stores the RRset of `rtype` at `encoded` as `ttl` and the RDATAs that
    /// `fill` appends (each as a 16-bit length and its bytes) to the buffer it
    /// is given, which starts empty. An empty result deletes the RRset.
    /// `apex_len` is the length of the zone apex's encoding: node entries are
    /// kept for every name between the apex and `encoded`.
    pub fn put_rrset(
        &mut self,
        encoded: &[u8],
        apex_len: usize,
        rtype: DataType,
        ttl: u32,
        fill: impl FnOnce(&Self, &mut Vec<u8>) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        let mut value = std::mem::take(&mut self.scratch.value);
        value.clear();
        value.extend_from_slice(&ttl.to_be_bytes());
        let filled = fill(self, &mut value);
        let result = filled.and_then(|()| {
            if value.len() <= 4 {
                return self.delete_rrset(encoded, apex_len, rtype);
            }
            let old = self.count(encoded, rtype)?;
            let new = Rrset::from_value(&value).map_or(0, |set| set.len() as i64);
            let mut buf = [0u8; MAX_KEY];
            let record_key = key::record_key(encoded, rtype, &mut buf)?;
            self.touch(record_key)?;
            self.records.put(self.txn, record_key, &value)?;
            self.delta += new - old;
            self.set_type(encoded, apex_len, rtype, true)
        });
        self.scratch.value = value;
        result
    }

    /// Deletes the RRset of `rtype` at `encoded` (nothing when absent), and
    /// the name's node entry with any empty non-terminals above it that are
    /// left with nothing below them.
    pub fn delete_rrset(
        &mut self,
        encoded: &[u8],
        apex_len: usize,
        rtype: DataType,
    ) -> Result<(), ReadError> {
        let old = self.count(encoded, rtype)?;
        let mut buf = [0u8; MAX_KEY];
        let record_key = key::record_key(encoded, rtype, &mut buf)?;
        if old > 0 {
            self.touch(record_key)?;
        }
        let gone = self.records.delete(self.txn, record_key)?;
        if gone {
            self.delta -= old;
            self.set_type(encoded, apex_len, rtype, false)?;
        }
        Ok(())
    }

    /// Adds `rtype` to (or removes it from) the node entry of `encoded`, then
    /// creates missing ancestors down to the apex as empty non-terminals, or
    /// prunes a node left empty with no children.
    fn set_type(
        &mut self,
        encoded: &[u8],
        apex_len: usize,
        rtype: DataType,
        present: bool,
    ) -> Result<(), ReadError> {
        let code = rtype.code();
        let mut node = std::mem::take(&mut self.scratch.node);
        node.clear();
        let existed = match self.node(encoded)? {
            Some(n) => {
                for t in n.types() {
                    let t = u16::from(t);
                    if t != code {
                        node.extend_from_slice(&t.to_be_bytes());
                    }
                }
                true
            }
            None => false,
        };
        if present {
            // Keep the list ascending (value.rs).
            let at = node
                .as_chunks::<2>()
                .0
                .iter()
                .position(|c| u16::from_be_bytes(*c) > code)
                .map_or(node.len(), |i| i * 2);
            let [hi, lo] = code.to_be_bytes();
            // Within capacity (Scratch::new): no allocation.
            node.insert(at, lo);
            node.insert(at, hi);
        }
        let mut buf = [0u8; MAX_KEY];
        let node_key = key::node_key(encoded, &mut buf)?;
        let result = if !node.is_empty() || encoded.len() <= apex_len {
            self.records
                .put(self.txn, node_key, &node)
                .map_err(ReadError::from)
        } else if self.has_children(encoded)? {
            // RFC 8020: a name with names below it exists (empty non-terminal).
            self.records
                .put(self.txn, node_key, &node)
                .map_err(ReadError::from)
        } else {
            self.records
                .delete(self.txn, node_key)
                .map(|_| ())
                .map_err(ReadError::from)
        };
        self.scratch.node = node;
        result?;
        if present && !existed {
            self.create_ancestors(encoded, apex_len)
        } else if !present {
            self.prune_ancestors(encoded, apex_len)
        } else {
            Ok(())
        }
    }

    /// Makes every name strictly between the apex and `encoded` exist.
    fn create_ancestors(&mut self, encoded: &[u8], apex_len: usize) -> Result<(), ReadError> {
        let mut end = parent_len(encoded);
        while let Some(len) = end {
            if len <= apex_len {
                break;
            }
            let ancestor = encoded.get(..len).unwrap_or(&[]);
            if self.node(ancestor)?.is_some() {
                break;
            }
            let mut buf = [0u8; MAX_KEY];
            self.records
                .put(self.txn, key::node_key(ancestor, &mut buf)?, &[])?;
            end = parent_len(ancestor);
        }
        Ok(())
    }

    /// Removes empty non-terminals above `encoded` that have nothing below
    /// them any more (never the apex).
    fn prune_ancestors(&mut self, encoded: &[u8], apex_len: usize) -> Result<(), ReadError> {
        let mut end = parent_len(encoded);
        while let Some(len) = end {
            if len <= apex_len {
                break;
            }
            let ancestor = encoded.get(..len).unwrap_or(&[]);
            let empty = self
                .node(ancestor)?
                .is_some_and(|n| n.is_empty_non_terminal());
            if !empty || self.has_children(ancestor)? {
                break;
            }
            let mut buf = [0u8; MAX_KEY];
            self.records
                .delete(self.txn, key::node_key(ancestor, &mut buf)?)?;
            end = parent_len(ancestor);
        }
        Ok(())
    }

    /// Whether any name lies below `encoded`: the first key after the name's
    /// own (type 0xffff) still starts with its encoding.
    fn has_children(&self, encoded: &[u8]) -> Result<bool, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let last = key::record_key(encoded, DataType::LAST, &mut buf)?;
        Ok(self
            .records
            .get_greater_than(self.txn, last)?
            .is_some_and(|(k, _)| k.starts_with(encoded)))
    }
}

/// The length of the parent's encoding: the name without its last label
/// (encodings are root first, so the last label is the leftmost one).
fn parent_len(encoded: &[u8]) -> Option<usize> {
    let mut pos = 0;
    let mut last = None;
    while let Some(&len) = encoded.get(pos) {
        last = Some(pos);
        pos += 1 + usize::from(len);
    }
    last
}

#[cfg(test)]
mod tests {
    use super::parent_len;

    #[test]
    fn parents_are_prefixes() {
        assert_eq!(parent_len(b"\x03net\x07example\x04home"), Some(12));
        assert_eq!(parent_len(b"\x03net"), Some(0));
        assert_eq!(parent_len(b""), None);
    }
}

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

use super::key::{self, MAX_KEY, NODE_TYPE};
use super::value::{Node, Rrset};
use super::{ReadError, Store};
use crate::wire::Rtype;

/// Largest RRset value we write: a TTL and RDATAs that fit one DNS message.
pub const MAX_VALUE: usize = 4 + crate::wire::MAX_MESSAGE;

/// Reusable buffers for assembling values; allocate once with
/// [`Scratch::new`], then reuse for every update.
pub struct Scratch {
    value: Vec<u8>,
    node: Vec<u8>,
}

impl Scratch {
    /// Buffers big enough for any value the update path writes.
    pub fn new() -> Scratch {
        Scratch {
            value: Vec::with_capacity(MAX_VALUE),
            // A node lists at most every 16-bit type once.
            node: Vec::with_capacity(2 * 65536),
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
        let mut writer = Writer {
            txn: &mut txn,
            records: store.records,
            zones: store.zones,
            scratch,
        };
        let result = work(&mut writer)?;
        txn.commit().map_err(ReadError::from)?;
        self.applied += 1;
        Ok(result)
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

/// Reads and writes of one update, inside its transaction.
pub struct Writer<'t, 'e> {
    txn: &'t mut RwTxn<'e>,
    records: Database<Bytes, Bytes>,
    zones: Database<Bytes, Bytes>,
    scratch: &'t mut Scratch,
}

impl Writer<'_, '_> {
    /// Whether the name encoded as `encoded` is the apex of a zone of ours.
    pub fn is_zone(&self, encoded: &[u8]) -> Result<bool, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let zone_key = key::zone_key(encoded, &mut buf);
        Ok(self.zones.get(self.txn, zone_key)?.is_some())
    }

    /// The node entry of the name encoded as `encoded`.
    pub fn node(&self, encoded: &[u8]) -> Result<Option<Node<'_>>, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        match self
            .records
            .get(self.txn, key::record_key(encoded, NODE_TYPE, &mut buf))?
        {
            Some(v) => Node::from_value(v).map(Some).ok_or(ReadError::Damaged),
            None => Ok(None),
        }
    }

    /// The RRset of `rtype` at the name encoded as `encoded`.
    pub fn rrset(&self, encoded: &[u8], rtype: Rtype) -> Result<Option<Rrset<'_>>, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        match self.records.get(
            self.txn,
            key::record_key(encoded, u16::from(rtype), &mut buf),
        )? {
            Some(v) => Rrset::from_value(v).map(Some).ok_or(ReadError::Damaged),
            None => Ok(None),
        }
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
        rtype: Rtype,
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
            let mut buf = [0u8; MAX_KEY];
            self.records.put(
                self.txn,
                key::record_key(encoded, u16::from(rtype), &mut buf),
                &value,
            )?;
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
        rtype: Rtype,
    ) -> Result<(), ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let gone = self.records.delete(
            self.txn,
            key::record_key(encoded, u16::from(rtype), &mut buf),
        )?;
        if gone {
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
        rtype: Rtype,
        present: bool,
    ) -> Result<(), ReadError> {
        let code = u16::from(rtype);
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
                .chunks_exact(2)
                .position(|c| u16::from_be_bytes([c[0], c[1]]) > code)
                .map_or(node.len(), |i| i * 2);
            let [hi, lo] = code.to_be_bytes();
            // Within capacity (Scratch::new): no allocation.
            node.insert(at, lo);
            node.insert(at, hi);
        }
        let mut buf = [0u8; MAX_KEY];
        let node_key = key::record_key(encoded, NODE_TYPE, &mut buf);
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
            self.records.put(
                self.txn,
                key::record_key(ancestor, NODE_TYPE, &mut buf),
                &[],
            )?;
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
                .delete(self.txn, key::record_key(ancestor, NODE_TYPE, &mut buf))?;
            end = parent_len(ancestor);
        }
        Ok(())
    }

    /// Whether any name lies below `encoded`: the first key after the name's
    /// own (type 0xffff) still starts with its encoding.
    fn has_children(&self, encoded: &[u8]) -> Result<bool, ReadError> {
        let mut buf = [0u8; MAX_KEY];
        let last = key::record_key(encoded, u16::MAX, &mut buf);
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

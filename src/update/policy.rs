//! Who may change what: `--grant KEY:NAME[:TYPE,TYPE...]` (RFC 2136 §3.3
//! leaves the policy to the server; this is the shape of BIND's
//! `update-policy { grant KEY subdomain NAME TYPES; }`).

use crate::wire::{Name, NameBuf, Rtype};

/// One grant: a key may change names at or below `name`, of `types` only
/// when the list is not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Index of the key in the server's key set.
    pub key: usize,
    /// The subtree the key may change.
    pub name: NameBuf,
    /// The types it may change; empty for every type.
    pub types: Vec<Rtype>,
}

/// The grants of every key.
///
/// Without any grant, every key may change any name in any served zone. Once
/// one grant is given, each key may change only what its own grants cover: a
/// key without grants may change nothing.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    grants: Vec<Grant>,
}

impl Policy {
    /// Every key may change everything.
    pub fn open() -> Policy {
        Policy::default()
    }

    /// A policy of exactly these grants (none: open).
    pub fn new(grants: Vec<Grant>) -> Policy {
        Policy { grants }
    }

    /// Whether the policy restricts keys at all.
    pub fn is_restricted(&self) -> bool {
        !self.grants.is_empty()
    }

    /// Whether key `key` may change the records of `rtype` at `owner`. Type
    /// ANY (delete every RRset at a name) needs a grant of every type.
    pub fn allows(&self, key: usize, owner: Name<'_>, rtype: Rtype) -> bool {
        if self.grants.is_empty() {
            return true;
        }
        self.grants.iter().any(|g| {
            g.key == key
                && owner.is_at_or_below(&g.name.as_name())
                && (g.types.is_empty() || (rtype != Rtype::Any && g.types.contains(&rtype)))
        })
    }

    /// Whether key `key` has any grant.
    pub fn has_grants(&self, key: usize) -> bool {
        self.grants.iter().any(|g| g.key == key)
    }

    /// The grants.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }
}

//! Who may change what: `--grant KEY:NAME[:TYPE,TYPE...]` (RFC 2136 §3.3
//! leaves the policy to the server; this is the shape of BIND's
//! `update-policy { grant KEY subdomain NAME TYPES; }`).

use std::fmt;

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

/// A `--grant` argument that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantError(pub String);

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GrantError {}

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

/// Splits a `--grant KEY:NAME[:TYPE,TYPE...]` argument into the key name, the
/// subtree and the types (RFC 3597 `TYPEnnn` accepted).
pub fn parse_grant(text: &str) -> Result<(NameBuf, NameBuf, Vec<Rtype>), GrantError> {
    let mut parts = text.splitn(3, ':');
    let (Some(key), Some(name)) = (parts.next(), parts.next()) else {
        return Err(GrantError(format!(
            "--grant {text}: expected KEY:NAME[:TYPE,TYPE...]"
        )));
    };
    let key = NameBuf::from_text(key)
        .map_err(|e| GrantError(format!("--grant {text}: key name {key:?}: {e}")))?;
    let name = NameBuf::from_text(name)
        .map_err(|e| GrantError(format!("--grant {text}: name {name:?}: {e}")))?;
    let mut types = Vec::new();
    if let Some(list) = parts.next() {
        for t in list.split(',').map(str::trim) {
            let rtype = crate::zonefile::parse_type(t)
                .ok_or_else(|| GrantError(format!("--grant {text}: unknown type {t:?}")))?;
            types.push(rtype);
        }
        if types.is_empty() {
            return Err(GrantError(format!("--grant {text}: empty type list")));
        }
    }
    Ok((key, name, types))
}

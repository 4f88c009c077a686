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

impl std::fmt::Display for Grant {
    /// The subtree and the types, as `--grant` takes them:
    /// `_acme-challenge.example.net. TXT`, or `(every type)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        if self.types.is_empty() {
            return f.write_str(" (every type)");
        }
        for (i, t) in self.types.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { "," })?;
            write!(f, "{t}")?;
        }
        Ok(())
    }
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

    /// The grant to name when key `key` may not change a record at `owner`:
    /// the first of its grants whose subtree holds `owner` (the type is what
    /// it lacks), else its first grant, or none; and how many other grants
    /// the key has.
    pub fn nearest(&self, key: usize, owner: Name<'_>) -> (Option<&Grant>, usize) {
        let mut own = self.grants.iter().filter(|g| g.key == key);
        let count = own.clone().count();
        let nearest = own
            .clone()
            .find(|g| owner.is_at_or_below(&g.name.as_name()))
            .or_else(|| own.next());
        (nearest, count.saturating_sub(1))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> NameBuf {
        NameBuf::from_text(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn a_refusal_names_the_grant_nearest_the_owner() {
        let grant = |key, n: &str, types: &[Rtype]| Grant {
            key,
            name: name(n),
            types: types.to_vec(),
        };
        let policy = Policy::new(vec![
            grant(0, "_acme-challenge.example.net", &[Rtype::Txt]),
            grant(1, "example.net", &[]),
            grant(0, "www.example.net", &[Rtype::A, Rtype::Aaaa]),
        ]);
        let www = name("www.example.net");
        let (nearest, others) = policy.nearest(0, www.as_name());
        assert_eq!(
            nearest.map(ToString::to_string).as_deref(),
            Some("www.example.net. A,AAAA")
        );
        assert_eq!(others, 1);
        let mail = name("mail.example.net");
        let (nearest, _) = policy.nearest(0, mail.as_name());
        assert_eq!(
            nearest.map(ToString::to_string).as_deref(),
            Some("_acme-challenge.example.net. TXT")
        );
        let (nearest, others) = policy.nearest(1, mail.as_name());
        assert_eq!(
            nearest.map(ToString::to_string).as_deref(),
            Some("example.net. (every type)")
        );
        assert_eq!(others, 0);
        assert_eq!(policy.nearest(2, mail.as_name()), (None, 0));
    }
}

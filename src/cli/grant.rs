//! The `--grant KEY:NAME[:TYPE,TYPE...]` flag (RFC 2136 §3.3 leaves the policy
//! to the server; this is the shape of BIND's
//! `update-policy { grant KEY subdomain NAME TYPES; }`). The policy it feeds
//! is [`dynzone::update::Policy`].

use dynzone::wire::{NameBuf, Rtype};

/// Splits a `--grant KEY:NAME[:TYPE,TYPE...]` argument into the key name, the
/// subtree and the types (RFC 3597 `TYPEnnn` accepted); the error says why not.
pub(super) fn parse_grant(text: &str) -> Result<(NameBuf, NameBuf, Vec<Rtype>), String> {
    let mut parts = text.splitn(3, ':');
    let (Some(key), Some(name)) = (parts.next(), parts.next()) else {
        return Err(format!("--grant {text}: expected KEY:NAME[:TYPE,TYPE...]"));
    };
    let key =
        NameBuf::from_text(key).map_err(|e| format!("--grant {text}: key name {key:?}: {e}"))?;
    let name =
        NameBuf::from_text(name).map_err(|e| format!("--grant {text}: name {name:?}: {e}"))?;
    let mut types = Vec::new();
    if let Some(list) = parts.next() {
        for t in list.split(',').map(str::trim) {
            let rtype =
                Rtype::from_text(t).ok_or_else(|| format!("--grant {text}: unknown type {t:?}"))?;
            types.push(rtype);
        }
        if types.is_empty() {
            return Err(format!("--grant {text}: empty type list"));
        }
    }
    Ok((key, name, types))
}

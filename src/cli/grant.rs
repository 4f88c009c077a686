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

/// What an `--allow-transfer ZONE:WHO` argument names after the zone.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Who {
    /// A key, by name: `example.net:xfr-key`.
    Key(Box<NameBuf>),
    /// An address or prefix: `example.net:192.0.2.0/24`, `example.net:::1`.
    Prefix(std::net::IpAddr, u8),
}

/// Splits an `--allow-transfer ZONE:KEY` or `ZONE:ADDRESS[/LEN]` argument.
/// A zone name has no colon, so the first one ends it, and an IPv6
/// address keeps its own.
pub(super) fn parse_allow_transfer(text: &str) -> Result<(NameBuf, Who), String> {
    let usage = || format!("--allow-transfer {text}: expected ZONE:KEY or ZONE:ADDRESS[/LEN]");
    let (zone, who) = text.split_once(':').ok_or_else(usage)?;
    if who.is_empty() {
        return Err(usage());
    }
    let zone = NameBuf::from_text(zone)
        .map_err(|e| format!("--allow-transfer {text}: zone {zone:?}: {e}"))?;
    let (address, len) = match who.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (who, None),
    };
    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("--allow-transfer {text}: prefix length {l:?}"))?,
        };
        return Ok((zone, Who::Prefix(ip, len)));
    }
    if len.is_some() {
        return Err(format!(
            "--allow-transfer {text}: {address:?} is not an address"
        ));
    }
    let key = NameBuf::from_text(who)
        .map_err(|e| format!("--allow-transfer {text}: key name {who:?}: {e}"))?;
    Ok((zone, Who::Key(Box::new(key))))
}

/// Splits a `--notify ZONE:ADDRESS[:PORT][:KEY]` argument (an IPv6 address
/// in brackets: `example.net:[2001:db8::53]:53:xfr-key`) into the zone, the
/// secondary's address (port 53 unless given) and the key name, if any.
pub(super) fn parse_notify(
    text: &str,
) -> Result<(NameBuf, std::net::SocketAddr, Option<NameBuf>), String> {
    let usage = || format!("--notify {text}: expected ZONE:ADDRESS[:PORT][:KEY]");
    let (zone, rest) = text.split_once(':').ok_or_else(usage)?;
    let zone =
        NameBuf::from_text(zone).map_err(|e| format!("--notify {text}: zone {zone:?}: {e}"))?;
    let (address, rest) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (address, rest) = v6.split_once(']').ok_or_else(usage)?;
            (address, rest.strip_prefix(':').unwrap_or(rest))
        }
        None => rest.split_once(':').unwrap_or((rest, "")),
    };
    let ip: std::net::IpAddr = address
        .parse()
        .map_err(|_| format!("--notify {text}: {address:?} is not an address"))?;
    let mut port = 53;
    let mut key = None;
    for (i, part) in rest.split(':').filter(|p| !p.is_empty()).enumerate() {
        match part.parse::<u16>() {
            Ok(p) if i == 0 && p != 0 => port = p,
            _ if key.is_none() => {
                key = Some(
                    NameBuf::from_text(part)
                        .map_err(|e| format!("--notify {text}: key name {part:?}: {e}"))?,
                );
            }
            _ => return Err(usage()),
        }
    }
    Ok((zone, std::net::SocketAddr::new(ip, port), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_takes_an_address_a_port_and_a_key() {
        let zone = NameBuf::from_text("example.net").unwrap();
        let key = NameBuf::from_text("xfr-key").unwrap();
        let at = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        assert_eq!(
            parse_notify("example.net:192.0.2.53").unwrap(),
            (zone, at("192.0.2.53:53"), None)
        );
        assert_eq!(
            parse_notify("example.net:192.0.2.53:5300:xfr-key").unwrap(),
            (zone, at("192.0.2.53:5300"), Some(key))
        );
        assert_eq!(
            parse_notify("example.net:192.0.2.53:xfr-key").unwrap(),
            (zone, at("192.0.2.53:53"), Some(key))
        );
        assert_eq!(
            parse_notify("example.net:[2001:db8::53]:5300:xfr-key").unwrap(),
            (zone, at("[2001:db8::53]:5300"), Some(key))
        );
        for bad in [
            "example.net",
            "example.net:nowhere",
            "example.net:[2001:db8::53",
            "example.net:192.0.2.53:53:a:b",
        ] {
            assert!(parse_notify(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allow_transfer_takes_keys_addresses_and_prefixes() {
        let zone = NameBuf::from_text("example.net").unwrap();
        let key = NameBuf::from_text("xfr-key").unwrap();
        assert_eq!(
            parse_allow_transfer("example.net:xfr-key").unwrap(),
            (zone, Who::Key(Box::new(key)))
        );
        assert_eq!(
            parse_allow_transfer("example.net:192.0.2.0/24").unwrap(),
            (zone, Who::Prefix("192.0.2.0".parse().unwrap(), 24))
        );
        assert_eq!(
            parse_allow_transfer("example.net:::1").unwrap(),
            (zone, Who::Prefix("::1".parse().unwrap(), 128))
        );
        for bad in [
            "example.net",
            "example.net:",
            "example.net:192.0.2.0/33",
            "example.net:xfr/24",
        ] {
            assert!(parse_allow_transfer(bad).is_err(), "{bad}");
        }
    }
}

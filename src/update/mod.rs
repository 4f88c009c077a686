//! RFC 2136 UPDATE: zone section, prerequisites, permission, prescan and the
//! update operations, all inside one nested write transaction of a
//! [`WriteBatch`] (DESIGN.md, "Data flow"), followed by the SOA serial bump.
//!
//! The order of RFC 2136 §3 is kept: §3.1 zone, §3.2 prerequisites, §3.3
//! permission ([`Policy`]), §3.4.1 prescan, §3.4.2 apply, §3.6 serial. Every
//! check that can refuse an update runs before the first write; a storage error
//! after that rolls the nested transaction back, so an update is applied whole
//! or not at all. The pseudocode of the RFC is quoted beside the code.
//!
//! Owners are compared label by label on the wire form ([`Name::is_at_or_below`]
//! and the store's [`NameKey`] encoding), never as text, so a label holding a
//! `.` octet can never pass for two labels.
//!
//! After warm-up nothing here allocates: RDATA is uncompressed into a buffer
//! sized once, values are assembled in the store's [`Scratch`].

mod policy;

use crate::store::{NameKey, ReadError, Rrset, Scratch, WriteBatch, Writer};
use crate::wire::{Class, MAX_MESSAGE, Message, Name, RData, Rcode, Record, Rtype, write_rdata};

pub use policy::{Grant, GrantError, Policy, parse_grant};

/// Why an update was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Refused by RFC 2136's rules or the policy, with the RCODE to answer.
    Refused(Rcode),
    /// The store failed; answered with SERVFAIL, nothing applied.
    Storage(ReadError),
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Self {
        Failure::Storage(e)
    }
}

/// What a successful update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Whether any record changed (and so the serial moved).
    pub changed: bool,
    /// The zone's SOA serial afterwards.
    pub serial: u32,
}

/// Applies UPDATE messages; holds the buffers it reuses.
pub struct Updater {
    scratch: Scratch,
    rdata: Vec<u8>,
}

impl Default for Updater {
    fn default() -> Self {
        Updater::new()
    }
}

/// The zone an update is for, as found in its zone section.
struct Zone<'m> {
    name: Name<'m>,
    key: NameKey,
}

impl Zone<'_> {
    fn encoded(&self) -> &[u8] {
        self.key.name_prefix(self.key.labels())
    }
}

impl Updater {
    /// An updater with its buffers allocated.
    pub fn new() -> Updater {
        Updater {
            scratch: Scratch::new(),
            rdata: vec![0; MAX_MESSAGE],
        }
    }

    /// Processes the UPDATE `msg`, already authenticated with the key whose
    /// index is `key`, in a nested transaction of `batch`. On `Ok` the change
    /// is part of the batch and may be answered only after the batch commits.
    pub fn apply(
        &mut self,
        batch: &mut WriteBatch<'_>,
        msg: &Message<'_>,
        key: usize,
        policy: &Policy,
    ) -> Result<Applied, Failure> {
        // RFC 2136 §3.1.1: "The Zone Section is checked to see that there is
        // exactly one RR therein and that the RR's ZTYPE is SOA, else signal
        // FORMERR to the requestor."
        let mut zones = msg.zone();
        let (Some(zone), None) = (zones.next(), zones.next()) else {
            return Err(Failure::Refused(Rcode::FormErr));
        };
        if zone.qtype != Rtype::Soa {
            return Err(Failure::Refused(Rcode::FormErr));
        }
        // "Next, the ZNAME and ZCLASS are checked to see if the zone so named
        // is one of this server's authority zones, else signal NOTAUTH to the
        // requestor." We serve class IN only.
        if zone.qclass != Class::In {
            return Err(Failure::Refused(Rcode::NotAuth));
        }
        let zone = Zone {
            name: zone.name,
            key: NameKey::new(zone.name),
        };
        let Updater { scratch, rdata } = self;
        batch.apply(scratch, |w| {
            if !w.is_zone(zone.encoded())? {
                return Err(Failure::Refused(Rcode::NotAuth));
            }
            prerequisites(w, msg, &zone)?;
            permission(msg, key, policy)?;
            prescan(w, msg, &zone)?;
            let mut changed = false;
            let mut soa_set = false;
            for rr in msg.updates() {
                changed |= update(w, rdata, &rr, &zone, &mut soa_set)?;
            }
            let serial = if changed && !soa_set {
                bump_serial(w, &zone, rdata)?
            } else {
                current_serial(w, &zone)?
            };
            Ok(Applied { changed, serial })
        })
    }
}

/// RFC 2136 §3.1.1 and §3.2.5/§3.4.1.3 "zone_of(rr.name) != ZNAME": the name
/// (encoded as `key`) is at or below the zone apex, and not in a zone of ours
/// below it.
fn in_zone(
    w: &Writer<'_, '_>,
    name: Name<'_>,
    key: &NameKey,
    zone: &Zone<'_>,
) -> Result<bool, ReadError> {
    if !name.is_at_or_below(&zone.name) {
        return Ok(false);
    }
    for labels in zone.key.labels() + 1..=key.labels() {
        if w.is_zone(key.name_prefix(labels))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// RFC 2136 §3.2.5, the prerequisite section:
///
/// ```text
/// for rr in prerequisites
///      if (rr.ttl != 0) return (FORMERR)
///      if (zone_of(rr.name) != ZNAME) return (NOTZONE);
///      if (rr.class == ANY)
///           if (rr.rdlength != 0) return (FORMERR)
///           if (rr.type == ANY)
///                if (!zone_name<rr.name>) return (NXDOMAIN)
///           else
///                if (!zone_rrset<rr.name, rr.type>) return (NXRRSET)
///      if (rr.class == NONE)
///           if (rr.rdlength != 0) return (FORMERR)
///           if (rr.type == ANY)
///                if (zone_name<rr.name>) return (YXDOMAIN)
///           else
///                if (zone_rrset<rr.name, rr.type>) return (YXRRSET)
///      if (rr.class == zclass)
///           temp<rr.name, rr.type> += rr
///      else
///           return (FORMERR)
/// for rrset in temp
///      if (zone_rrset<rrset.name, rrset.type> != rrset) return (NXRRSET)
/// ```
fn prerequisites(w: &Writer<'_, '_>, msg: &Message<'_>, zone: &Zone<'_>) -> Result<(), Failure> {
    let refuse = |rcode| Err(Failure::Refused(rcode));
    for rr in msg.prerequisites() {
        if rr.ttl != 0 {
            return refuse(Rcode::FormErr);
        }
        let key = NameKey::new(rr.owner);
        if !in_zone(w, rr.owner, &key, zone)? {
            return refuse(Rcode::NotZone);
        }
        let owner = key.name_prefix(key.labels());
        match rr.class {
            Class::Any | Class::None => {
                if !rr.rdata.is_empty() {
                    return refuse(Rcode::FormErr);
                }
                let exists = if rr.rtype == Rtype::Any {
                    // zone_name<n>: the name owns records (an empty
                    // non-terminal owns none, RFC 2136 §2.4.4).
                    w.node(owner)?.is_some_and(|n| !n.is_empty_non_terminal())
                } else {
                    w.rrset(owner, rr.rtype)?.is_some()
                };
                let any = rr.rtype == Rtype::Any;
                match (rr.class == Class::Any, exists, any) {
                    (true, false, true) => return refuse(Rcode::NxDomain),
                    (true, false, false) => return refuse(Rcode::NxRrset),
                    (false, true, true) => return refuse(Rcode::YxDomain),
                    (false, true, false) => return refuse(Rcode::YxRrset),
                    _ => {}
                }
            }
            Class::In => {}
            _ => return refuse(Rcode::FormErr),
        }
    }
    // The value-dependent prerequisites, one (name, type) group at a time: the
    // first record of each group checks the whole group.
    for (i, rr) in msg.prerequisites().enumerate() {
        if rr.class != Class::In {
            continue;
        }
        let same = |other: &Record<'_>| {
            other.class == Class::In && other.rtype == rr.rtype && other.owner == rr.owner
        };
        if msg.prerequisites().take(i).any(|o| same(&o)) {
            continue;
        }
        let key = NameKey::new(rr.owner);
        let Some(set) = w.rrset(key.name_prefix(key.labels()), rr.rtype)? else {
            return refuse(Rcode::NxRrset);
        };
        // Equal as sets: every zone record is in the group, every record of
        // the group is in the zone (duplicates in the group do not count).
        let zone_in_group = set.iter().all(|z| {
            msg.prerequisites()
                .filter(|o| same(o))
                .any(|o| stored_matches(rr.rtype, z, &o.data))
        });
        let group_in_zone = msg
            .prerequisites()
            .filter(|o| same(o))
            .all(|o| set.iter().any(|z| stored_matches(rr.rtype, z, &o.data)));
        if !(zone_in_group && group_in_zone) {
            return refuse(Rcode::NxRrset);
        }
    }
    Ok(())
}

/// RFC 2136 §3.3: "the server checks to see whether the requestor is
/// permitted to make the requested changes" — here, the key's grants.
fn permission(msg: &Message<'_>, key: usize, policy: &Policy) -> Result<(), Failure> {
    for rr in msg.updates() {
        if !policy.allows(key, rr.owner, rr.rtype) {
            return Err(Failure::Refused(Rcode::Refused));
        }
    }
    Ok(())
}

/// DNSSEC records are made by a signer, never sent in an UPDATE: dynzone does
/// not sign, and BIND refuses such changes to zones it maintains.
fn is_dnssec(rtype: Rtype) -> bool {
    matches!(
        rtype,
        Rtype::Rrsig | Rtype::Nsec | Rtype::Nsec3 | Rtype::Nsec3param | Rtype::Dnskey
    )
}

/// RFC 2136 §3.4.1.3, the prescan, which must finish before anything is
/// applied:
///
/// ```text
/// for rr in updates
///      if (zone_of(rr.name) != ZNAME) return (NOTZONE);
///      if (rr.class == zclass)
///           if (rr.type & ANY|AXFR|MAILA|MAILB) return (FORMERR)
///      elsif (rr.class == ANY)
///           if (rr.ttl != 0 || rr.rdlength != 0
///               || rr.type & AXFR|MAILA|MAILB) return (FORMERR)
///      elsif (rr.class == NONE)
///           if (rr.ttl != 0 || rr.type & ANY|AXFR|MAILA|MAILB) return (FORMERR)
///      else
///           return (FORMERR)
/// ```
///
/// Beyond the RFC: no meta type (OPT, TSIG, TKEY, IXFR…) may be added or
/// deleted one by one, a record to add must carry data, and DNSSEC types are
/// REFUSED.
fn prescan(w: &Writer<'_, '_>, msg: &Message<'_>, zone: &Zone<'_>) -> Result<(), Failure> {
    let refuse = |rcode| Err(Failure::Refused(rcode));
    for rr in msg.updates() {
        if !in_zone(w, rr.owner, &NameKey::new(rr.owner), zone)? {
            return refuse(Rcode::NotZone);
        }
        match rr.class {
            Class::In => {
                if rr.rtype.is_meta() || rr.rtype == Rtype::Unknown(0) {
                    return refuse(Rcode::FormErr);
                }
                if matches!(rr.data, RData::Empty) && rr.rtype.mnemonic().is_some() {
                    return refuse(Rcode::FormErr);
                }
            }
            Class::Any => {
                let meta = rr.rtype.is_meta() && rr.rtype != Rtype::Any;
                if rr.ttl != 0 || !rr.rdata.is_empty() || meta {
                    return refuse(Rcode::FormErr);
                }
            }
            Class::None => {
                if rr.ttl != 0 || rr.rtype.is_meta() || matches!(rr.data, RData::Empty) {
                    return refuse(Rcode::FormErr);
                }
            }
            _ => return refuse(Rcode::FormErr),
        }
        if is_dnssec(rr.rtype) {
            return refuse(Rcode::Refused);
        }
    }
    Ok(())
}

/// Whether stored (uncompressed) RDATA `stored` of `rtype` equals `data` from
/// a message: typed comparison, so names inside compare case-insensitively
/// (RFC 4343) and compression does not matter; other bytes exactly.
fn stored_matches(rtype: Rtype, stored: &[u8], data: &RData<'_>) -> bool {
    match RData::from_wire(rtype, stored) {
        Ok(z) => z == *data,
        Err(_) => false,
    }
}

/// Whether stored RDATA `stored` is the record being added: `new` is the
/// uncompressed form of `data`, so equal bytes are the same record without
/// parsing anything; otherwise the typed comparison of [`stored_matches`].
fn same_record(rtype: Rtype, stored: &[u8], new: &[u8], data: &RData<'_>) -> bool {
    stored == new || stored_matches(rtype, stored, data)
}

/// Appends one RDATA to a value being assembled: length, then bytes.
fn push_rdata(out: &mut Vec<u8>, rdata: &[u8]) -> Result<(), ReadError> {
    let len = u16::try_from(rdata.len()).map_err(|_| ReadError::Damaged)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(rdata);
    Ok(())
}

/// RFC 2136 §3.4.2, one update RR. Returns whether the zone changed.
fn update(
    w: &mut Writer<'_, '_>,
    rdata_buf: &mut [u8],
    rr: &Record<'_>,
    zone: &Zone<'_>,
    soa_set: &mut bool,
) -> Result<bool, Failure> {
    let key = NameKey::new(rr.owner);
    let owner = key.name_prefix(key.labels());
    let apex_len = zone.encoded().len();
    let at_apex = key.labels() == zone.key.labels();
    match rr.class {
        Class::In => {
            // §3.4.2.2:
            // if (rr.type == CNAME)
            //      if (zone_rrset<rr.name, ~CNAME>) next [rr]
            // elsif (zone_rrset<rr.name, CNAME>) next [rr]
            let node = w.node(owner)?;
            let others = node.is_some_and(|n| n.types().any(|t| t != Rtype::Cname));
            let cname = node.is_some_and(|n| n.has(Rtype::Cname));
            if (rr.rtype == Rtype::Cname && others) || (rr.rtype != Rtype::Cname && cname) {
                return Ok(false);
            }
            let len = write_rdata(rdata_buf, &rr.data).map_err(|_| ReadError::Damaged)?;
            let new = rdata_buf.get(..len).ok_or(ReadError::Damaged)?;
            let existing = w.rrset(owner, rr.rtype)?;
            // if (rr.type == SOA)
            //      if (!zone_rrset<rr.name, SOA> ||
            //          zone_rr<rr.name, SOA>.serial > rr.soa.serial)
            //           next [rr]
            // (serials compared in RFC 1982 arithmetic)
            if rr.rtype == Rtype::Soa {
                let (Some(set), RData::Soa(soa)) = (existing, rr.data) else {
                    return Ok(false);
                };
                let old = set.iter().next().and_then(soa_serial).unwrap_or(0);
                if serial_gt(old, soa.serial) {
                    return Ok(false);
                }
            }
            // for zrr in zone_rrset<rr.name, rr.type>
            //      if (rr.type == CNAME || rr.type == SOA ||
            //          (rr.type == WKS && rr.proto == zrr.proto &&
            //           rr.address == zrr.address) ||
            //          rr == zrr)
            //           zrr = rr
            //           next [rr]
            // zone_rrset<rr.name, rr.type> += rr
            let single = matches!(rr.rtype, Rtype::Cname | Rtype::Soa);
            let unchanged = existing.is_some_and(|set| {
                let mut equal = set
                    .iter()
                    .filter(|z| same_record(rr.rtype, z, new, &rr.data));
                set.ttl() == rr.ttl && equal.next().is_some() && (!single || set.len() == 1)
            });
            if unchanged {
                return Ok(false);
            }
            if existing.is_some_and(|set| {
                set.iter().map(|z| z.len() + 2).sum::<usize>() + new.len() + 2 > MAX_MESSAGE
            }) {
                // Larger than any message could carry: refuse, as a whole.
                return Err(Failure::Refused(Rcode::Refused));
            }
            // One TTL per RRset (RFC 2181 §5.2): the newest record's TTL.
            w.put_rrset(owner, apex_len, rr.rtype, rr.ttl, |w, out| {
                if !single && let Some(set) = w.rrset(owner, rr.rtype)? {
                    for z in set
                        .iter()
                        .filter(|z| !same_record(rr.rtype, z, new, &rr.data))
                    {
                        push_rdata(out, z)?;
                    }
                }
                push_rdata(out, new)
            })?;
            if rr.rtype == Rtype::Soa {
                *soa_set = true;
            }
            Ok(true)
        }
        Class::Any => {
            // §3.4.2.3:
            // if (rr.type == ANY)
            //      if (rr.name == zname)
            //           zone_rrset<rr.name, ~(SOA|NS)> = Nil
            //      else
            //           zone_rrset<rr.name, *> = Nil
            // elsif (rr.name == zname &&
            //        (rr.type == SOA || rr.type == NS))
            //      next [rr]
            // else
            //      zone_rrset<rr.name, rr.type> = Nil
            if rr.rtype == Rtype::Any {
                let mut changed = false;
                // Delete one type at a time, re-reading the node each time:
                // deleting changes the node under us.
                loop {
                    let next = w.node(owner)?.and_then(|n| {
                        n.types()
                            .find(|t| !(at_apex && matches!(t, Rtype::Soa | Rtype::Ns)))
                    });
                    let Some(t) = next else {
                        break;
                    };
                    w.delete_rrset(owner, apex_len, t)?;
                    changed = true;
                }
                Ok(changed)
            } else if at_apex && matches!(rr.rtype, Rtype::Soa | Rtype::Ns) {
                Ok(false)
            } else {
                let exists = w.rrset(owner, rr.rtype)?.is_some();
                if exists {
                    w.delete_rrset(owner, apex_len, rr.rtype)?;
                }
                Ok(exists)
            }
        }
        Class::None => {
            // §3.4.2.4:
            // if (rr.type == SOA)
            //      next [rr]
            // if (rr.type == NS && zone_rrset<rr.name, NS> == rr)
            //      next [rr]
            // zone_rr<rr.name, rr.type, rr.data> = Nil
            // (the NS rule protects the last NS at the zone apex)
            if rr.rtype == Rtype::Soa {
                return Ok(false);
            }
            let Some(set) = w.rrset(owner, rr.rtype)? else {
                return Ok(false);
            };
            let matching = set
                .iter()
                .filter(|z| stored_matches(rr.rtype, z, &rr.data))
                .count();
            if matching == 0 {
                return Ok(false);
            }
            if at_apex && rr.rtype == Rtype::Ns && matching == set.len() {
                return Ok(false);
            }
            let ttl = set.ttl();
            w.put_rrset(owner, apex_len, rr.rtype, ttl, |w, out| {
                if let Some(set) = w.rrset(owner, rr.rtype)? {
                    for z in set
                        .iter()
                        .filter(|z| !stored_matches(rr.rtype, z, &rr.data))
                    {
                        push_rdata(out, z)?;
                    }
                }
                Ok(())
            })?;
            Ok(true)
        }
        _ => Err(Failure::Refused(Rcode::FormErr)),
    }
}

/// The serial of stored SOA RDATA: the 32 bits after the two names.
fn soa_serial(rdata: &[u8]) -> Option<u32> {
    let at = rdata.len().checked_sub(20)?;
    let bytes = rdata.get(at..at + 4)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// RFC 1982 §3.2: `a > b` in 32-bit serial number arithmetic.
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < (1 << 31)
}

/// RFC 1982 §3.1: the next serial, `serial + 1` modulo 2^32; 0 is skipped, as
/// BIND does, because some secondaries treat it specially.
pub fn next_serial(serial: u32) -> u32 {
    match serial.wrapping_add(1) {
        0 => 1,
        n => n,
    }
}

fn apex_soa<'w>(w: &'w Writer<'_, '_>, zone: &Zone<'_>) -> Result<Rrset<'w>, ReadError> {
    w.rrset(zone.encoded(), Rtype::Soa)?
        .ok_or(ReadError::Damaged)
}

fn current_serial(w: &Writer<'_, '_>, zone: &Zone<'_>) -> Result<u32, ReadError> {
    apex_soa(w, zone)?
        .iter()
        .next()
        .and_then(soa_serial)
        .ok_or(ReadError::Damaged)
}

/// RFC 2136 §3.6: "the SOA SERIAL must be incremented" once per update that
/// changed the zone (unless the update set a newer SOA itself).
fn bump_serial(w: &mut Writer<'_, '_>, zone: &Zone<'_>, buf: &mut [u8]) -> Result<u32, ReadError> {
    let set = apex_soa(w, zone)?;
    let ttl = set.ttl();
    let soa = set.iter().next().ok_or(ReadError::Damaged)?;
    let len = soa.len();
    let at = len.checked_sub(20).ok_or(ReadError::Damaged)?;
    let old = soa_serial(soa).ok_or(ReadError::Damaged)?;
    let serial = next_serial(old);
    buf.get_mut(..len)
        .ok_or(ReadError::Damaged)?
        .copy_from_slice(soa);
    buf.get_mut(at..at + 4)
        .ok_or(ReadError::Damaged)?
        .copy_from_slice(&serial.to_be_bytes());
    let new = buf.get(..len).ok_or(ReadError::Damaged)?;
    let apex = zone.encoded();
    w.put_rrset(apex, apex.len(), Rtype::Soa, ttl, |_, out| {
        push_rdata(out, new)
    })?;
    Ok(serial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic_follows_rfc_1982() {
        assert!(serial_gt(2, 1));
        assert!(!serial_gt(1, 2));
        assert!(!serial_gt(5, 5));
        assert!(serial_gt(0, u32::MAX));
        assert!(serial_gt(1, u32::MAX));
        assert!(!serial_gt(u32::MAX, 0));
        assert_eq!(next_serial(u32::MAX), 1);
        assert_eq!(next_serial(41), 42);
    }
}

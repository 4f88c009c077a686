//! RFC 2136 UPDATE: zone section, prerequisites, permission, prescan and the
//! update operations, all inside one nested write transaction of a
//! [`WriteBatch`] (DESIGN.md, "Data flow"), followed by the SOA serial bump.
//!
//! The order is BIND's, which differs from RFC 2136 §3 in one place: §3.1
//! zone, §3.2 prerequisites, §3.4.1 prescan (so an owner outside the zone is
//! NOTZONE whatever the key may change), then §3.3 permission ([`Policy`]),
//! §3.4.2 apply, §3.6 serial. Every check that can refuse an update runs
//! before the write it guards; the quotas ([`Limits`]) are checked before each
//! write, and a refusal or a storage error rolls the nested transaction back,
//! so an update is applied whole or not at all. The pseudocode of the RFC is
//! quoted beside the code.
//!
//! Before all of it, the UPDATE is checked against the replay memory
//! ([`WriteBatch::remember`]): a signed UPDATE is processed once.
//!
//! Owners are compared label by label on the wire form ([`Name::is_at_or_below`]
//! and the store's [`NameKey`] encoding), never as text, so a label holding a
//! `.` octet can never pass for two labels.
//!
//! After warm-up nothing here allocates: RDATA is uncompressed into a buffer
//! sized once, values are assembled in the store's [`Scratch`].

mod policy;

use crate::store::journal::{Kind as JournalKind, Origin};
use crate::store::{DataType, NameKey, ReadError, Replay, Rrset, Scratch, WriteBatch, Writer};
use crate::wire::{
    Class, MAX_MESSAGE, Message, Name, RData, Rcode, Record, Rtype, SoaRdata, TypeKind, write_rdata,
};
use crate::zone::{Limits, MAX_RECORD_LEN, record_len};

pub use policy::{Grant, Policy};

/// Why an update was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'m> {
    /// Refused by RFC 2136's rules or the policy: the RCODE to answer, the
    /// rule and the record that broke it.
    Refused(Refusal<'m>),
    /// The store failed; answered with SERVFAIL, nothing applied.
    Storage(ReadError),
    /// A quota of [`Limits`] would be exceeded by adding the record: REFUSED,
    /// nothing applied.
    Quota(Quota, Subject<'m>),
    /// The same signed UPDATE was processed before: NOTAUTH with TSIG error
    /// BADTIME, nothing applied.
    Replayed,
}

/// A refusal by RFC 2136's rules or the policy. Everything in it is borrowed
/// from the message or the policy, so refusing allocates nothing; it is
/// turned into text only where it is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal<'m> {
    /// The RCODE answered.
    pub rcode: Rcode,
    /// The rule the update broke.
    pub rule: Rule<'m>,
    /// The first record that broke it (none when the zone section itself is
    /// wrong in number).
    pub record: Option<Subject<'m>>,
}

impl std::fmt::Display for Refusal<'_> {
    /// The record, then the rule: `www.example.net. A outside grant …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.record {
            Some(record) => write!(f, "{record} {}", self.rule),
            None => write!(f, "{}", self.rule),
        }
    }
}

/// A record of an UPDATE named in a log line: owner and type, as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'m> {
    /// The record's owner, a view into the message.
    pub owner: Name<'m>,
    /// The record's type.
    pub rtype: Rtype,
}

impl<'m> Subject<'m> {
    fn of(rr: &Record<'m>) -> Subject<'m> {
        Subject {
            owner: rr.owner,
            rtype: rr.rtype,
        }
    }
}

impl std::fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.owner, self.rtype)
    }
}

/// The rule an UPDATE broke, one per check of RFC 2136 §3 (and the few
/// beyond it); shown in the `update refused` log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule<'m> {
    /// §3.1.1: the zone section does not hold exactly one record (FORMERR).
    ZoneCount,
    /// §3.1.1: the zone's type is not SOA (FORMERR).
    ZoneType,
    /// §3.1.1: a zone of a class not served (NOTAUTH).
    ZoneClass(Class),
    /// §3.1.1: a zone this server does not serve (NOTAUTH).
    NotServed,
    /// RFC 6895 §3.1: type 0 is reserved (FORMERR).
    ReservedType,
    /// §3.2.5 / §3.4.1.3: an owner outside the zone, or in a zone of ours
    /// below it (NOTZONE).
    OutsideZone,
    /// §3.2.5: a prerequisite whose TTL is not 0 (FORMERR).
    PrerequisiteTtl,
    /// §3.2.5: a prerequisite of class ANY or NONE with RDATA (FORMERR).
    PrerequisiteRdata,
    /// §3.2.5: a value-dependent prerequisite of a meta type (FORMERR).
    PrerequisiteMeta,
    /// §3.2.5 / §3.4.1.3: a record of a class that has no meaning there
    /// (FORMERR).
    BadClass(Class),
    /// §2.4.4 "Name Is In Use" failed (NXDOMAIN).
    NameNotInUse,
    /// §2.4.5 "Name Is Not In Use" failed (YXDOMAIN).
    NameInUse,
    /// §2.4.1 "RRset Exists (Value Independent)" or §2.4.2 "RRset Exists
    /// (Value Dependent)" failed: no such RRset (NXRRSET).
    RrsetMissing,
    /// §2.4.3 "RRset Does Not Exist" failed (YXRRSET).
    RrsetExists,
    /// §2.4.2 "RRset Exists (Value Dependent)" failed: the RRset is there
    /// but holds other records (NXRRSET).
    RrsetDiffers,
    /// §3.4.1.3: adding a meta type (ANY, AXFR, OPT, TSIG…) (FORMERR).
    AddMeta,
    /// Beyond the RFC: a record to add without RDATA (FORMERR).
    AddEmpty,
    /// §3.4.1.3: a delete of class ANY with a TTL, RDATA or a meta type
    /// (FORMERR).
    DeleteRrsetFormat,
    /// §3.4.1.3: a delete of class NONE with a TTL, no RDATA or a meta type
    /// (FORMERR).
    DeleteRecordFormat,
    /// Beyond the RFC: DNSSEC records are made by a signer (REFUSED).
    Dnssec,
    /// §3.3: the key's grants do not cover the record (REFUSED). `nearest`
    /// is the grant of the key whose subtree holds the owner, else its first
    /// grant (none: the key has no grant); `others` counts its other grants.
    OutsideGrant {
        /// The grant shown.
        nearest: Option<&'m Grant>,
        /// How many more grants the key has.
        others: usize,
    },
}

impl std::fmt::Display for Rule<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::ZoneCount => f.write_str("zone section: not exactly one zone (FORMERR)"),
            Rule::ZoneType => f.write_str("zone section: type is not SOA (FORMERR)"),
            Rule::ZoneClass(c) => write!(f, "zone section: class {c} is not served (NOTAUTH)"),
            Rule::NotServed => f.write_str("zone not served here (NOTAUTH)"),
            Rule::ReservedType => f.write_str("type 0 is reserved (FORMERR)"),
            Rule::OutsideZone => f.write_str("outside the zone (NOTZONE)"),
            Rule::PrerequisiteTtl => f.write_str("prerequisite: TTL is not 0 (FORMERR)"),
            Rule::PrerequisiteRdata => {
                f.write_str("prerequisite: RDATA with class ANY or NONE (FORMERR)")
            }
            Rule::PrerequisiteMeta => f.write_str("prerequisite: meta type (FORMERR)"),
            Rule::BadClass(c) => write!(f, "class {c} not allowed here (FORMERR)"),
            Rule::NameNotInUse => f.write_str("prerequisite failed: name not in use (NXDOMAIN)"),
            Rule::NameInUse => f.write_str("prerequisite failed: name in use (YXDOMAIN)"),
            Rule::RrsetMissing => {
                f.write_str("prerequisite failed: RRset does not exist (NXRRSET)")
            }
            Rule::RrsetExists => f.write_str("prerequisite failed: RRset exists (YXRRSET)"),
            Rule::RrsetDiffers => f.write_str("prerequisite failed: RRset differs (NXRRSET)"),
            Rule::AddMeta => f.write_str("a meta type cannot be added (FORMERR)"),
            Rule::AddEmpty => f.write_str("a record to add has no RDATA (FORMERR)"),
            Rule::DeleteRrsetFormat => f.write_str(
                "delete of an RRset (class ANY) needs TTL 0, no RDATA and a data type (FORMERR)",
            ),
            Rule::DeleteRecordFormat => f.write_str(
                "delete of a record (class NONE) needs TTL 0, RDATA and a data type (FORMERR)",
            ),
            Rule::Dnssec => f.write_str("DNSSEC records are made by a signer (REFUSED)"),
            Rule::OutsideGrant { nearest: None, .. } => {
                f.write_str("the key has no grant (REFUSED)")
            }
            Rule::OutsideGrant {
                nearest: Some(grant),
                others: 0,
            } => write!(f, "outside grant {grant} (REFUSED)"),
            Rule::OutsideGrant {
                nearest: Some(grant),
                others,
            } => write!(
                f,
                "outside grant {grant} and {others} more of the key (REFUSED)"
            ),
        }
    }
}

/// A refusal of `rcode` for breaking `rule`, at the record `rr`.
fn refuse<'m, T>(rcode: Rcode, rule: Rule<'m>, rr: &Record<'m>) -> Result<T, Failure<'m>> {
    Err(Failure::Refused(Refusal {
        rcode,
        rule,
        record: Some(Subject::of(rr)),
    }))
}

/// Which limit an update would have exceeded, and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// `--max-records-per-rrset`.
    RecordsPerRrset(u32),
    /// `--max-types-per-name`.
    TypesPerName(u32),
    /// `--max-zone-records`.
    ZoneRecords(u64),
    /// One record longer than [`MAX_RECORD_LEN`] octets.
    RecordLength(usize),
    /// An RRset larger than one message.
    RrsetLength(usize),
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quota::RecordsPerRrset(n) => {
                write!(
                    f,
                    "more than {n} records in one RRset (--max-records-per-rrset)"
                )
            }
            Quota::TypesPerName(n) => {
                write!(f, "more than {n} types at one name (--max-types-per-name)")
            }
            Quota::ZoneRecords(n) => {
                write!(f, "more than {n} records in the zone (--max-zone-records)")
            }
            Quota::RecordLength(n) => write!(
                f,
                "a record longer than {n} octets, which would not fit a zone transfer message"
            ),
            Quota::RrsetLength(n) => {
                write!(
                    f,
                    "an RRset longer than {n} octets, which would not fit a message"
                )
            }
        }
    }
}

/// Who signed an UPDATE: the key's index and what the replay memory keeps.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// Index of the key in the server's key set.
    pub key: usize,
    /// The request's key name, time signed, MAC and window.
    pub replay: Replay<'a>,
    /// Where the request came from (kept in the journal's audit trail).
    pub peer: Option<std::net::SocketAddr>,
}

/// The server's rules for updates.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// What each key may change.
    pub policy: &'a Policy,
    /// The quotas.
    pub limits: Limits,
    /// The largest TSIG window of any request (`--tsig-fudge-max`).
    pub max_window: u64,
}

impl From<ReadError> for Failure<'_> {
    fn from(e: ReadError) -> Self {
        Failure::Storage(e)
    }
}

/// What a successful update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Whether any record changed (and so the serial moved).
    pub changed: bool,
    /// The zone's SOA serial before.
    pub previous: u32,
    /// The zone's SOA serial afterwards.
    pub serial: u32,
}

/// Applies UPDATE messages; holds the buffers it reuses.
pub struct Updater {
    scratch: Scratch,
    rdata: Vec<u8>,
    /// The value-dependent prerequisites, to sort into (name, type) groups.
    groups: Vec<Prereq>,
    /// Which records of a zone RRset a prerequisite group matched.
    matched: Vec<bool>,
}

/// A prerequisite of class IN: where its record starts in the message.
#[derive(Clone, Copy)]
struct Prereq {
    pos: u16,
    rtype: u16,
}

/// Most records a message can hold: each takes at least 11 octets.
const MAX_RECORDS: usize = MAX_MESSAGE / 11;

impl Default for Updater {
    fn default() -> Self {
        Updater::new()
    }
}

/// The zone an update is for, as found in its zone section.
struct Zone<'m> {
    name: Name<'m>,
    key: NameKey,
    /// Whether any zone of ours lies below this one (if not, no owner can be
    /// in another zone and [`in_zone`] needs no lookup).
    nested: bool,
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
            groups: Vec::with_capacity(MAX_RECORDS),
            matched: Vec::with_capacity(MAX_MESSAGE / 2),
        }
    }

    /// Processes the UPDATE `msg`, already authenticated as `signed` says,
    /// at `now` (seconds since the epoch), in a nested transaction of
    /// `batch`. On `Ok` the change is part of the batch and may be answered
    /// only after the batch commits; so may every answer but
    /// [`Failure::Storage`], since the replay memory is written to the batch
    /// whatever the outcome.
    pub fn apply<'m>(
        &mut self,
        batch: &mut WriteBatch<'_>,
        msg: &Message<'m>,
        signed: &Signed<'_>,
        rules: &Rules<'m>,
        now: u64,
    ) -> Result<Applied, Failure<'m>> {
        // Beyond the RFCs: a signed UPDATE is processed once, whatever its
        // outcome (one refused for a prerequisite could succeed later).
        if !batch.remember(&signed.replay, now, rules.max_window)? {
            return Err(Failure::Replayed);
        }
        // RFC 2136 §3.1.1: "The Zone Section is checked to see that there is
        // exactly one RR therein and that the RR's ZTYPE is SOA, else signal
        // FORMERR to the requestor."
        let mut zones = msg.zone();
        let (Some(zone), None) = (zones.next(), zones.next()) else {
            return Err(Failure::Refused(Refusal {
                rcode: Rcode::FormErr,
                rule: Rule::ZoneCount,
                record: None,
            }));
        };
        let zone_refusal = |rcode, rule| {
            Failure::Refused(Refusal {
                rcode,
                rule,
                record: Some(Subject {
                    owner: zone.name,
                    rtype: zone.qtype,
                }),
            })
        };
        if zone.qtype != Rtype::Soa {
            return Err(zone_refusal(Rcode::FormErr, Rule::ZoneType));
        }
        // "Next, the ZNAME and ZCLASS are checked to see if the zone so named
        // is one of this server's authority zones, else signal NOTAUTH to the
        // requestor." We serve class IN only.
        if zone.qclass != Class::In {
            return Err(zone_refusal(Rcode::NotAuth, Rule::ZoneClass(zone.qclass)));
        }
        let key = NameKey::new(zone.name);
        let Updater {
            scratch,
            rdata,
            groups,
            matched,
        } = self;
        batch.apply(scratch, |w| {
            let encoded = key.name_prefix(key.labels());
            if !w.is_zone(encoded)? {
                return Err(zone_refusal(Rcode::NotAuth, Rule::NotServed));
            }
            let zone = Zone {
                name: zone.name,
                nested: w.has_zone_below(encoded)?,
                key: key.clone(),
            };
            prerequisites(w, msg, &zone, groups, matched)?;
            prescan(w, msg, &zone)?;
            permission(msg, signed.key, rules.policy)?;
            let previous = current_serial(w, &zone)?;
            let mut changed = false;
            let mut soa_set = false;
            for rr in msg.updates() {
                changed |= update(w, rdata, &rr, &zone, &rules.limits, &mut soa_set)?;
            }
            let serial = match (changed, soa_set) {
                (true, false) => bump_serial(w, &zone, rdata)?,
                (true, true) => current_serial(w, &zone)?,
                (false, _) => previous,
            };
            w.finish_zone(zone.encoded())?;
            if changed {
                // Issue 12: the effective difference, in this transaction.
                let origin = Origin {
                    kind: JournalKind::Update,
                    time: now,
                    key: Some(signed.replay.key_name),
                    peer: signed.peer,
                };
                w.journal(zone.encoded(), &origin)?;
            }
            Ok(Applied {
                changed,
                previous,
                serial,
            })
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
    if !zone.nested {
        return Ok(true);
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
fn prerequisites<'m>(
    w: &Writer<'_, '_>,
    msg: &Message<'m>,
    zone: &Zone<'_>,
    groups: &mut Vec<Prereq>,
    matched: &mut Vec<bool>,
) -> Result<(), Failure<'m>> {
    groups.clear();
    let mut records = msg.prerequisites();
    loop {
        let pos = records.position();
        let Some(rr) = records.next() else {
            break;
        };
        if rr.ttl != 0 {
            return refuse(Rcode::FormErr, Rule::PrerequisiteTtl, &rr);
        }
        // RFC 6895 §3.1: type 0 is reserved; no record, and no question
        // about one, can have it.
        if rr.rtype.info().kind == TypeKind::Reserved {
            return refuse(Rcode::FormErr, Rule::ReservedType, &rr);
        }
        let key = NameKey::new(rr.owner);
        if !in_zone(w, rr.owner, &key, zone)? {
            return refuse(Rcode::NotZone, Rule::OutsideZone, &rr);
        }
        let owner = key.name_prefix(key.labels());
        match rr.class {
            Class::Any | Class::None => {
                if !rr.rdata.is_empty() {
                    return refuse(Rcode::FormErr, Rule::PrerequisiteRdata, &rr);
                }
                let exists = if rr.rtype == Rtype::Any {
                    // zone_name<n>: the name owns records (an empty
                    // non-terminal owns none, RFC 2136 §2.4.4).
                    w.node(owner)?.is_some_and(|n| !n.is_empty_non_terminal())
                } else {
                    w.rrset(owner, rr.rtype)?.is_some()
                };
                let any = rr.rtype == Rtype::Any;
                // §2.4.4 Name Is In Use, §2.4.1 RRset Exists (Value
                // Independent), §2.4.5 Name Is Not In Use, §2.4.3 RRset
                // Does Not Exist.
                let failed = match (rr.class == Class::Any, exists, any) {
                    (true, false, true) => Some((Rcode::NxDomain, Rule::NameNotInUse)),
                    (true, false, false) => Some((Rcode::NxRrset, Rule::RrsetMissing)),
                    (false, true, true) => Some((Rcode::YxDomain, Rule::NameInUse)),
                    (false, true, false) => Some((Rcode::YxRrset, Rule::RrsetExists)),
                    _ => None,
                };
                if let Some((rcode, rule)) = failed {
                    return refuse(rcode, rule, &rr);
                }
            }
            Class::In => {
                if rr.rtype.is_meta() {
                    return refuse(Rcode::FormErr, Rule::PrerequisiteMeta, &rr);
                }
                // Within capacity (MAX_RECORDS): no allocation.
                groups.push(Prereq {
                    pos: u16::try_from(pos).map_err(|_| ReadError::Damaged)?,
                    rtype: u16::from(rr.rtype),
                });
            }
            class => return refuse(Rcode::FormErr, Rule::BadClass(class), &rr),
        }
    }
    // The value-dependent prerequisites, one (name, type) group at a time:
    // sorted so that each group is a run, so the section is read once and
    // each zone RRset once (the cost is n log n in the records, not n²).
    let bytes = msg.as_bytes();
    let owner_at = |p: &Prereq| Name::parse(bytes, usize::from(p.pos)).map(|(n, _)| n).ok();
    groups.sort_unstable_by(|a, b| {
        a.rtype
            .cmp(&b.rtype)
            .then_with(|| match (owner_at(a), owner_at(b)) {
                (Some(x), Some(y)) => name_order(&x, &y),
                _ => core::cmp::Ordering::Equal,
            })
    });
    let mut rest: &[Prereq] = groups;
    while let Some(first) = rest.first() {
        let owner = owner_at(first);
        let len = rest
            .iter()
            .position(|p| p.rtype != first.rtype || owner_at(p) != owner)
            .unwrap_or(rest.len());
        let (group, after) = rest.split_at(len);
        rest = after;
        let Some(owner) = owner else {
            return Err(Failure::Storage(ReadError::Damaged));
        };
        let key = NameKey::new(owner);
        let rtype = Rtype::from(first.rtype);
        // §2.4.2 RRset Exists (Value Dependent), for the group's first
        // record, or the record that matched nothing.
        let differs = |at: Subject<'m>, rule| {
            Err(Failure::Refused(Refusal {
                rcode: Rcode::NxRrset,
                rule,
                record: Some(at),
            }))
        };
        let group_subject = Subject { owner, rtype };
        let Some(set) = w.rrset(key.name_prefix(key.labels()), rtype)? else {
            return differs(group_subject, Rule::RrsetMissing);
        };
        // Equal as sets: every record of the group is in the zone, and every
        // zone record is matched by one of the group (duplicates in the group
        // do not count).
        matched.clear();
        matched.resize(set.len(), false);
        for p in group {
            let Ok((rr, _)) = Record::parse(bytes, usize::from(p.pos)) else {
                return Err(Failure::Storage(ReadError::Damaged));
            };
            let found = set
                .iter()
                .position(|z| stored_matches(rr.rtype, z, &rr.data));
            match found.and_then(|i| matched.get_mut(i)) {
                Some(m) => *m = true,
                None => return differs(Subject::of(&rr), Rule::RrsetDiffers),
            }
        }
        if matched.iter().any(|m| !m) {
            return differs(group_subject, Rule::RrsetDiffers);
        }
    }
    Ok(())
}

/// A total order of names in which equal means equal ignoring ASCII case
/// (RFC 4343): label count, then each label lower-cased. Not DNSSEC's
/// canonical order, which needs none here.
fn name_order(a: &Name<'_>, b: &Name<'_>) -> core::cmp::Ordering {
    a.label_count().cmp(&b.label_count()).then_with(|| {
        for (x, y) in a.labels().zip(b.labels()) {
            let order = x
                .iter()
                .map(u8::to_ascii_lowercase)
                .cmp(y.iter().map(u8::to_ascii_lowercase));
            if order.is_ne() {
                return order;
            }
        }
        core::cmp::Ordering::Equal
    })
}

/// RFC 2136 §3.3: "the server checks to see whether the requestor is
/// permitted to make the requested changes" — here, the key's grants.
fn permission<'m>(msg: &Message<'m>, key: usize, policy: &'m Policy) -> Result<(), Failure<'m>> {
    for rr in msg.updates() {
        if !policy.allows(key, rr.owner, rr.rtype) {
            let (nearest, others) = policy.nearest(key, rr.owner);
            return refuse(Rcode::Refused, Rule::OutsideGrant { nearest, others }, &rr);
        }
    }
    Ok(())
}

/// DNSSEC records are made by a signer, never sent in an UPDATE: dynzone does
/// not sign, and BIND refuses such changes to zones it maintains; so are the
/// obsolete SIG (24) and NXT (30) of RFC 2535, as BIND does since GL#5818.
fn is_dnssec(rtype: Rtype) -> bool {
    matches!(
        rtype,
        Rtype::Rrsig | Rtype::Nsec | Rtype::Nsec3 | Rtype::Nsec3param | Rtype::Dnskey
    ) || matches!(u16::from(rtype), 24 | 30)
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
/// Beyond the RFC: type 0 is FORMERR in every class (RFC 6895 §3.1 reserves
/// it), no meta type (OPT, TSIG, TKEY, IXFR…) may be added or deleted one by
/// one, a record to add must carry data, and DNSSEC types are REFUSED. Every
/// owner is checked for NOTZONE first, before anything else is refused.
fn prescan<'m>(w: &Writer<'_, '_>, msg: &Message<'m>, zone: &Zone<'_>) -> Result<(), Failure<'m>> {
    for rr in msg.updates() {
        if !in_zone(w, rr.owner, &NameKey::new(rr.owner), zone)? {
            return refuse(Rcode::NotZone, Rule::OutsideZone, &rr);
        }
    }
    for rr in msg.updates() {
        let formerr = |rule| refuse(Rcode::FormErr, rule, &rr);
        if rr.rtype.info().kind == TypeKind::Reserved {
            return formerr(Rule::ReservedType);
        }
        match rr.class {
            Class::In => {
                if rr.rtype.is_meta() {
                    return formerr(Rule::AddMeta);
                }
                if matches!(rr.data, RData::Empty) && rr.rtype.mnemonic().is_some() {
                    return formerr(Rule::AddEmpty);
                }
            }
            Class::Any => {
                let meta = rr.rtype.is_meta() && rr.rtype != Rtype::Any;
                if rr.ttl != 0 || !rr.rdata.is_empty() || meta {
                    return formerr(Rule::DeleteRrsetFormat);
                }
            }
            Class::None => {
                if rr.ttl != 0 || rr.rtype.is_meta() || matches!(rr.data, RData::Empty) {
                    return formerr(Rule::DeleteRecordFormat);
                }
            }
            class => return formerr(Rule::BadClass(class)),
        }
        if is_dnssec(rr.rtype) {
            return refuse(Rcode::Refused, Rule::Dnssec, &rr);
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
fn update<'m>(
    w: &mut Writer<'_, '_>,
    rdata_buf: &mut [u8],
    rr: &Record<'m>,
    zone: &Zone<'_>,
    limits: &Limits,
    soa_set: &mut bool,
) -> Result<bool, Failure<'m>> {
    let key = NameKey::new(rr.owner);
    let owner = key.name_prefix(key.labels());
    let apex_len = zone.encoded().len();
    let at_apex = key.labels() == zone.key.labels();
    // The prescan refused type 0 (FORMERR); the store takes no other.
    let Some(rtype) = DataType::new(rr.rtype) else {
        return refuse(Rcode::FormErr, Rule::ReservedType, rr);
    };
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
            // (serials compared in RFC 1982 arithmetic). As BIND does, an
            // equal serial is ignored too: applying it would change the zone
            // without moving the serial, and a secondary would never see the
            // change. The rest of the update still bumps the serial.
            if rr.rtype == Rtype::Soa {
                let (Some(set), RData::Soa(soa)) = (existing, rr.data) else {
                    return Ok(false);
                };
                let old = set.iter().next().and_then(soa_serial).unwrap_or(0);
                if !serial_gt(soa.serial, old) {
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
            quota(w, rr, new, existing, zone, limits)?;
            // One TTL per RRset (RFC 2181 §5.2): the newest record's TTL.
            w.put_rrset(owner, apex_len, rtype, rr.ttl, |w, out| {
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
                            .filter(|t| !(at_apex && matches!(t, Rtype::Soa | Rtype::Ns)))
                            .find_map(DataType::new)
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
                    w.delete_rrset(owner, apex_len, rtype)?;
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
            w.put_rrset(owner, apex_len, rtype, ttl, |w, out| {
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
        class => refuse(Rcode::FormErr, Rule::BadClass(class), rr),
    }
}

/// The quotas, checked before adding the record `rr` (uncompressed RDATA
/// `new`) to the RRset `existing`: the record's own size, then the RRset's
/// size and record count, the types at its name and the zone's records.
fn quota<'m>(
    w: &Writer<'_, '_>,
    rr: &Record<'m>,
    new: &[u8],
    existing: Option<Rrset<'_>>,
    zone: &Zone<'_>,
    limits: &Limits,
) -> Result<(), Failure<'m>> {
    let refuse = |q| Err(Failure::Quota(q, Subject::of(rr)));
    if record_len(rr.owner, new.len()) > MAX_RECORD_LEN {
        return refuse(Quota::RecordLength(MAX_RECORD_LEN));
    }
    let single = matches!(rr.rtype, Rtype::Cname | Rtype::Soa);
    // The set after the add: the records that stay, and the new one.
    let (kept, kept_len) = match existing {
        Some(set) if !single => set
            .iter()
            .filter(|z| !same_record(rr.rtype, z, new, &rr.data))
            .fold((0usize, 0usize), |(n, len), z| (n + 1, len + z.len() + 2)),
        _ => (0, 0),
    };
    let old = existing.map_or(0, |set| set.len());
    if kept_len + new.len() + 2 > MAX_MESSAGE {
        // Larger than any message could carry: refuse, as a whole.
        return refuse(Quota::RrsetLength(MAX_MESSAGE));
    }
    if kept + 1 > limits.max_records_per_rrset as usize && kept + 1 > old {
        return refuse(Quota::RecordsPerRrset(limits.max_records_per_rrset));
    }
    if existing.is_none() {
        let key = NameKey::new(rr.owner);
        let types = w
            .node(key.name_prefix(key.labels()))?
            .map_or(0, |n| n.types().count());
        if types + 1 > limits.max_types_per_name as usize {
            return refuse(Quota::TypesPerName(limits.max_types_per_name));
        }
    }
    if kept + 1 > old && w.zone_records(zone.encoded())? + 1 > limits.max_zone_records {
        return refuse(Quota::ZoneRecords(limits.max_zone_records));
    }
    Ok(())
}

/// The serial of stored SOA RDATA.
fn soa_serial(rdata: &[u8]) -> Option<u32> {
    SoaRdata::new(rdata).map(|soa| soa.serial())
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
    let soa = set
        .iter()
        .next()
        .and_then(SoaRdata::new)
        .ok_or(ReadError::Damaged)?;
    let serial = next_serial(soa.serial());
    let new = soa.with_serial(serial, buf).ok_or(ReadError::Damaged)?;
    let apex = zone.encoded();
    let soa = DataType::new(Rtype::Soa).ok_or(ReadError::Damaged)?;
    w.put_rrset(apex, apex.len(), soa, ttl, |_, out| push_rdata(out, new))?;
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

    #[test]
    fn a_refusal_reads_record_then_rule() {
        let msg = [
            3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0,
        ];
        let Ok((owner, _)) = Name::parse(&msg, 0) else {
            panic!("a name");
        };
        let refusal = Refusal {
            rcode: Rcode::NxRrset,
            rule: Rule::RrsetDiffers,
            record: Some(Subject {
                owner,
                rtype: Rtype::A,
            }),
        };
        assert_eq!(
            refusal.to_string(),
            "www.example. A prerequisite failed: RRset differs (NXRRSET)"
        );
        let refusal = Refusal {
            rcode: Rcode::FormErr,
            rule: Rule::ZoneCount,
            record: None,
        };
        assert_eq!(
            refusal.to_string(),
            "zone section: not exactly one zone (FORMERR)"
        );
        let refusal = Refusal {
            rcode: Rcode::Refused,
            rule: Rule::OutsideGrant {
                nearest: None,
                others: 0,
            },
            record: Some(Subject {
                owner,
                rtype: Rtype::Txt,
            }),
        };
        assert_eq!(
            refusal.to_string(),
            "www.example. TXT the key has no grant (REFUSED)"
        );
    }
}

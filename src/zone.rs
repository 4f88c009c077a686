//! Whole zones as owned records: what `import` reads from a master file and
//! `export` prints. Used at start-up and by the command line, never on the
//! request path, so owning and allocating here is fine.

use std::collections::HashMap;
use std::fmt;

use crate::wire::{Name, NameBuf, RData, Rtype, TypeKind};

pub use crate::store::ZoneRecord;

/// Largest zone transfer message dynzone will send (about 16 KiB, the size
/// BIND and Knot cut AXFR messages at).
pub const MAX_TRANSFER_MESSAGE: usize = 16 * 1024;

/// What a transfer message needs beside one record: the header (12), the
/// question (the zone name, at most 255, type and class) and the TSIG record
/// (a key name and an algorithm name, at most 255 each, 10 octets of type,
/// class, TTL and length, 22 octets of fixed fields, a MAC of at most 64
/// octets and 6 octets of other data).
pub const TRANSFER_OVERHEAD: usize = 12 + (255 + 4) + (255 + 255 + 10 + 22 + 64 + 6);

/// Longest single record, uncompressed (owner, type, class, TTL, length and
/// RDATA), that dynzone stores: one that always fits a transfer message.
pub const MAX_RECORD_LEN: usize = MAX_TRANSFER_MESSAGE - TRANSFER_OVERHEAD;

/// The uncompressed size of one record of `owner` with `rdata_len` octets of
/// RDATA.
pub fn record_len(owner: Name<'_>, rdata_len: usize) -> usize {
    owner.wire_len() + 10 + rdata_len
}

/// Limits on what a zone may hold, enforced on import and on every UPDATE
/// (the quotas of BIND's `max-records-per-type` and `max-types-per-name`,
/// and Knot's `zone-max-size`, counted in records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most records in one RRset.
    pub max_records_per_rrset: u32,
    /// Most types at one name.
    pub max_types_per_name: u32,
    /// Most records in one zone.
    pub max_zone_records: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_records_per_rrset: 100,
            max_types_per_name: 100,
            max_zone_records: 100_000,
        }
    }
}

/// Why a set of records is not a zone dynzone will serve (RFC 1035 §5.2,
/// RFC 2181 §6.1 and §10.1); the text names the record at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError(pub String);

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ZoneError {}

/// Checks the content rules that BIND's `named-checkzone` and Knot's
/// `kzonecheck` also enforce, so that a zone they reject is not served either:
///
/// - exactly one SOA, at the apex (RFC 1035 §5.2, RFC 2181 §6.1); identical
///   duplicates count once, since the store keeps one copy of each record;
/// - at least one NS at the apex (RFC 1035 §5.2);
/// - every owner at or below the apex, compared label by label;
/// - no meta or query-only type (RFC 6895 §3.1) and no type 0 (RFC 6895 §3.1:
///   reserved);
/// - a CNAME owner holds no other data but its RRSIG and NSEC (RFC 2181 §10.1,
///   RFC 4035 §2.5), and only one CNAME; so no CNAME at the apex;
/// - RDATA of every type the wire layer knows decodes with [`RData::from_wire`]
///   and is not empty (RFC 3597 §4: a known type must hold its own format);
/// - RDATA no longer than 65535 octets (RFC 1035 §3.2.1).
///
/// And the [`Limits`] (the defaults here, see [`check_with`]), and no record
/// longer than [`MAX_RECORD_LEN`].
pub fn check(apex: &NameBuf, records: &[ZoneRecord]) -> Result<(), ZoneError> {
    check_with(apex, records, &Limits::default())
}

/// [`check`] with the given limits.
pub fn check_with(
    apex: &NameBuf,
    records: &[ZoneRecord],
    limits: &Limits,
) -> Result<(), ZoneError> {
    check_records(apex, records, limits).map_err(|v| match v.index.and_then(|i| records.get(i)) {
        Some(rec) => ZoneError(format!("{} {}: {}", rec.owner, rec.rtype, v.message)),
        None => ZoneError(v.message),
    })
}

/// A broken rule and, when one record is at fault, its index.
#[derive(Debug)]
pub(crate) struct Violation {
    /// Index into the records of the record at fault.
    pub(crate) index: Option<usize>,
    /// What is wrong, without naming the record.
    pub(crate) message: String,
}

/// What one owner name holds so far, for the CNAME rule.
#[derive(Default)]
struct Node {
    /// Index of the CNAME record, if any.
    cname: Option<usize>,
    /// Whether the name holds data other than CNAME, RRSIG and NSEC.
    other: bool,
    /// The distinct RDATAs of each type at the name.
    sets: HashMap<u16, std::collections::HashSet<Vec<u8>>>,
}

/// [`check`], reporting the index of the record at fault so that the master
/// file parser can turn it into a line number. Records are visited in order,
/// so the record reported is the first one that breaks a rule.
pub(crate) fn check_records(
    apex: &NameBuf,
    records: &[ZoneRecord],
    limits: &Limits,
) -> Result<(), Violation> {
    let at = |index: usize, message: String| Violation {
        index: Some(index),
        message,
    };
    let mut soa: Option<usize> = None;
    let mut apex_ns = false;
    let mut nodes: HashMap<Vec<u8>, Node> = HashMap::new();
    let mut distinct = 0u64;
    for (i, rec) in records.iter().enumerate() {
        let owner = rec.owner.as_name();
        if !owner.is_at_or_below(&apex.as_name()) {
            return Err(at(i, format!("owner is outside the zone {apex}")));
        }
        match rec.rtype.info().kind {
            TypeKind::Reserved => return Err(at(i, "type 0 is reserved".to_string())),
            TypeKind::Meta => return Err(at(i, "a meta type cannot be in a zone".to_string())),
            TypeKind::Data => {}
        }
        validate_rdata(rec.rtype, &rec.rdata).map_err(|m| at(i, m))?;
        let len = record_len(owner, rec.rdata.len());
        if len > MAX_RECORD_LEN {
            return Err(at(
                i,
                format!(
                    "a record of {len} octets; at most {MAX_RECORD_LEN} fit a zone transfer message"
                ),
            ));
        }
        let is_apex = owner == apex.as_name();
        match rec.rtype {
            Rtype::Soa => {
                if !is_apex {
                    return Err(at(i, format!("SOA not at the zone apex {apex}")));
                }
                match soa.and_then(|s| records.get(s)) {
                    Some(first) if first.rdata != rec.rdata => {
                        return Err(at(i, "a second SOA record; a zone has exactly one".into()));
                    }
                    Some(_) => {}
                    None => soa = Some(i),
                }
            }
            Rtype::Ns if is_apex => apex_ns = true,
            _ => {}
        }
        let key = owner.to_canonical().as_wire().to_vec();
        let node = nodes.entry(key).or_default();
        let types = node.sets.len();
        let set = node.sets.entry(u16::from(rec.rtype)).or_default();
        if set.is_empty() && types >= limits.max_types_per_name as usize {
            return Err(at(
                i,
                format!(
                    "more than {} types at one name (--max-types-per-name)",
                    limits.max_types_per_name
                ),
            ));
        }
        if set.insert(rec.rdata.clone()) {
            distinct += 1;
            if set.len() > limits.max_records_per_rrset as usize {
                return Err(at(
                    i,
                    format!(
                        "more than {} records in one RRset (--max-records-per-rrset)",
                        limits.max_records_per_rrset
                    ),
                ));
            }
            if distinct > limits.max_zone_records {
                return Err(at(
                    i,
                    format!(
                        "more than {} records in the zone (--max-zone-records)",
                        limits.max_zone_records
                    ),
                ));
            }
        }
        match rec.rtype {
            Rtype::Cname => {
                if node.other {
                    return Err(at(i, "CNAME beside other data at the same name".into()));
                }
                if let Some(first) = node.cname.and_then(|c| records.get(c))
                    && !same_name_rdata(&first.rdata, &rec.rdata)
                {
                    return Err(at(i, "a second CNAME at the same name".into()));
                }
                node.cname.get_or_insert(i);
            }
            Rtype::Rrsig | Rtype::Nsec => {}
            _ => {
                if node.cname.is_some() {
                    return Err(at(i, "data beside a CNAME at the same name".into()));
                }
                node.other = true;
            }
        }
    }
    let Some(soa) = soa else {
        return Err(Violation {
            index: None,
            message: format!("no SOA record at the zone apex {apex}"),
        });
    };
    if !apex_ns {
        return Err(at(soa, format!("no NS record at the zone apex {apex}")));
    }
    Ok(())
}

/// Whether two RDATAs that each hold one name are the same name, ignoring case
/// (RFC 4343 §3); otherwise whether the octets are equal.
fn same_name_rdata(a: &[u8], b: &[u8]) -> bool {
    match (Name::from_wire(a), Name::from_wire(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Whether `rdata` is well formed for `rtype` as far as the wire layer knows
/// the type (RFC 3597 §4); the error says what is wrong.
pub(crate) fn validate_rdata(rtype: Rtype, rdata: &[u8]) -> Result<(), String> {
    if rdata.len() > usize::from(u16::MAX) {
        return Err(format!(
            "RDATA of {} octets; at most 65535 fit",
            rdata.len()
        ));
    }
    if !rtype.info().wire_known() {
        return Ok(());
    }
    if rdata.is_empty() {
        return Err(format!("empty RDATA is not a valid {rtype} record"));
    }
    RData::from_wire(rtype, rdata)
        .map(|_| ())
        .map_err(|e| format!("RDATA is not a valid {rtype} record: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> NameBuf {
        NameBuf::from_text(text).unwrap()
    }

    fn rec(owner: &str, rtype: Rtype, rdata: &[u8]) -> ZoneRecord {
        ZoneRecord {
            owner: name(owner),
            rtype,
            ttl: 3600,
            rdata: rdata.to_vec(),
        }
    }

    fn soa() -> Vec<u8> {
        let mut v = b"\x02ns\x07example\x00\x04host\x07example\x00".to_vec();
        v.extend_from_slice(&[0; 20]);
        v
    }

    fn base() -> Vec<ZoneRecord> {
        vec![
            rec("example.", Rtype::Soa, &soa()),
            rec("example.", Rtype::Ns, b"\x02ns\x07example\x00"),
            rec("ns.example.", Rtype::A, &[192, 0, 2, 1]),
        ]
    }

    #[test]
    fn a_minimal_zone_passes() {
        check(&name("example."), &base()).unwrap();
        let mut dup = base();
        dup.push(rec("EXAMPLE.", Rtype::Soa, &soa()));
        check(&name("example."), &dup).unwrap();
    }

    #[test]
    fn each_rule_is_enforced() {
        let apex = name("example.");
        let cases: Vec<(Vec<ZoneRecord>, &str)> = vec![
            (base()[1..].to_vec(), "no SOA"),
            (
                vec![base()[0].clone(), base()[2].clone()],
                "no NS record at the zone apex",
            ),
            (
                [base(), vec![rec("ns.example.", Rtype::Soa, &soa())]].concat(),
                "SOA not at the zone apex",
            ),
            (
                [base(), vec![rec("example.", Rtype::Soa, &soa()[..30])]].concat(),
                "not a valid SOA",
            ),
            (
                [base(), vec![rec("x.example.", Rtype::A, &[1, 2, 3])]].concat(),
                "not a valid A",
            ),
            (
                [base(), vec![rec("x.example.", Rtype::Mx, &[])]].concat(),
                "empty RDATA",
            ),
            (
                [base(), vec![rec("x.example.", Rtype::Any, &[])]].concat(),
                "meta type",
            ),
            (
                [base(), vec![rec("x.example.", Rtype::from(0), &[1])]].concat(),
                "type 0",
            ),
            (
                [base(), vec![rec("example.net.", Rtype::A, &[1, 2, 3, 4])]].concat(),
                "outside the zone",
            ),
            (
                [base(), vec![rec("example.", Rtype::Cname, b"\x01x\x00")]].concat(),
                "CNAME beside other data",
            ),
            (
                [
                    base(),
                    vec![
                        rec("c.example.", Rtype::Cname, b"\x01x\x00"),
                        rec("C.example.", Rtype::Txt, b"\x01x"),
                    ],
                ]
                .concat(),
                "data beside a CNAME",
            ),
            (
                [
                    base(),
                    vec![
                        rec("c.example.", Rtype::Cname, b"\x01x\x00"),
                        rec("c.example.", Rtype::Cname, b"\x01y\x00"),
                    ],
                ]
                .concat(),
                "a second CNAME",
            ),
        ];
        for (records, want) in cases {
            let err = check(&apex, &records).unwrap_err();
            assert!(err.0.contains(want), "{err} does not say {want}");
        }
    }

    #[test]
    fn cname_may_have_rrsig_and_nsec_and_repeat_itself() {
        let mut records = base();
        records.push(rec("c.example.", Rtype::Cname, b"\x01x\x00"));
        records.push(rec("c.example.", Rtype::Cname, b"\x01X\x00"));
        records.push(rec("c.example.", Rtype::Rrsig, &[0; 30]));
        records.push(rec("c.example.", Rtype::Nsec, &[0, 0]));
        check(&name("example."), &records).unwrap();
    }
}

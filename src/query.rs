//! Authoritative answers from a read snapshot (RFC 1034 §4.3.2, RFC 2308,
//! RFC 4592, RFC 8482). Nothing here writes to the store or allocates: names are
//! views of the request or of LMDB's memory map, keys are fixed arrays, and the
//! answer goes straight into the caller's [`MessageBuilder`].

use crate::store::{NameKey, Node, ReadError, Reader, Rrset};
use crate::wire::{
    BuildError, Class, MessageBuilder, Name, RData, Rcode, Rtype, Section, SoaRdata,
};

/// Longest CNAME chain followed inside a zone before the answer stops (BIND and
/// Knot stop at a similar depth; a loop ends here too).
pub const MAX_CNAME_CHAIN: usize = 8;

/// Most NS targets of one referral whose addresses are looked up for the
/// additional section. The NS RRset itself is copied whole; only the glue
/// lookups (a zone search and two RRset reads per target) are bounded, so a
/// delegation with hundreds of NS records costs no more than one with 13.
///
/// BIND stops additional-section processing at the same number since its fix
/// for CVE-2024-11187 ("Limit additional section processing for large RDATA
/// sets", 9.18.33 / 9.20.5): `#define DNS_RDATASET_MAXADDITIONAL 13` in
/// `lib/dns/include/dns/rdataset.h`. Thirteen is also the size of the
/// largest NS set that matters in practice, the root's, and more glue than
/// that rarely fits a response anyway.
pub const MAX_GLUE_TARGETS: usize = 13;

/// What the query path decided, for the header of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An answer from one of our zones with this RCODE; `authoritative` is false
    /// only for referrals (RFC 1034 §4.3.2 step 3b).
    Answered {
        /// NOERROR or NXDOMAIN.
        rcode: Rcode,
        /// Whether AA is set.
        authoritative: bool,
    },
    /// The name is in no zone of ours, or the class is not IN: REFUSED
    /// (RFC 8906 §3.1.4 style behaviour of BIND and Knot).
    NotOurs,
}

/// Why an answer could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerError {
    /// The store failed; answer SERVFAIL.
    Read(ReadError),
    /// The builder failed in a way that is not truncation (a bug); SERVFAIL.
    Build(BuildError),
}

impl From<ReadError> for AnswerError {
    fn from(e: ReadError) -> Self {
        AnswerError::Read(e)
    }
}

/// Adds a record, treating truncation as success: once TC is set the builder
/// refuses the rest by itself (RFC 2181 §9), and additional data that does not
/// fit is simply left out.
fn add(result: Result<(), BuildError>) -> Result<(), AnswerError> {
    match result {
        Ok(()) | Err(BuildError::Truncated) | Err(BuildError::NoSpace) => Ok(()),
        Err(e) => Err(AnswerError::Build(e)),
    }
}

/// Writes every record of `set` with owner `owner` into `section`.
fn add_rrset(
    b: &mut MessageBuilder<'_>,
    section: Section,
    owner: Name<'_>,
    rtype: Rtype,
    set: &Rrset<'_>,
) -> Result<(), AnswerError> {
    for rdata in set.iter() {
        add(add_rdata(b, section, owner, rtype, set.ttl(), rdata))?;
    }
    Ok(())
}

/// Writes one stored record. RFC 3597 §4: names inside the RDATA of the
/// RFC 1035 types (NS, CNAME, SOA, PTR, MX, MD, MF, MB, MG, MR, MINFO) may be
/// compressed, and are, as BIND, Knot and NSD do (a negative answer's SOA is
/// about 20 octets shorter); every other type is copied as stored.
fn add_rdata(
    b: &mut MessageBuilder<'_>,
    section: Section,
    owner: Name<'_>,
    rtype: Rtype,
    ttl: u32,
    rdata: &[u8],
) -> Result<(), BuildError> {
    if rtype.info().compress
        && let Ok(data) = RData::from_wire(rtype, rdata)
    {
        return b.record(section, owner, rtype, Class::In, ttl, &data);
    }
    b.raw_record(section, owner, rtype, Class::In, ttl, rdata)
}

/// Answers one question (already written to `b`) from `reader`.
///
/// RFC 1034 §4.3.2, for an authoritative-only server:
/// ```text
/// 2. Search the available zones for the zone which is the nearest
///    ancestor to QNAME.  If such a zone is found, go to step 3,
///    otherwise step 4.
/// 3. Start matching down, label by label, in the zone. [...]
///    a. If the whole of QNAME is matched, we have found the node.
///       If the data at the node is a CNAME, and QTYPE doesn't match
///       CNAME, copy the CNAME RR into the answer section of the
///       response, change QNAME to the canonical name in the CNAME RR,
///       and go back to step 1.
///       Otherwise, copy all RRs which match QTYPE into the answer
///       section and go to step 6.
///    b. If a match would take us out of the authoritative data, we have
///       a referral. [...] Copy the NS RRs for the subzone into the
///       authority section of the reply.  Put whatever addresses are
///       available into the additional section [...]
///    c. If at some label, a match is impossible (i.e., the
///       corresponding label does not exist), look to see if a the "*"
///       label exists. [...]
/// ```
/// Step 4 (the cache) does not exist here: a name in no zone of ours is REFUSED.
pub fn answer(
    reader: &Reader,
    qname: Name<'_>,
    qtype: Rtype,
    qclass: Class,
    b: &mut MessageBuilder<'_>,
) -> Result<Outcome, AnswerError> {
    // RFC 1035 §3.2.5: QCLASS * matches any class; we hold class IN only.
    if qclass != Class::In && qclass != Class::Any {
        return Ok(Outcome::NotOurs);
    }
    let qkey = NameKey::new(qname);
    let Some(apex_labels) = reader.find_zone(&qkey)? else {
        return Ok(Outcome::NotOurs);
    };
    // The apex as a view of the question, so that owner names compress into it.
    let apex = qname.suffix(qname.label_count().saturating_sub(apex_labels));

    let mut name = qname;
    let mut key = qkey;
    for _ in 0..MAX_CNAME_CHAIN {
        match step(reader, &key, apex_labels, name, qtype, b)? {
            Step::Done => {
                return Ok(Outcome::Answered {
                    rcode: Rcode::NoError,
                    authoritative: true,
                });
            }
            Step::NoData => {
                negative(reader, &key, apex_labels, apex, b)?;
                return Ok(Outcome::Answered {
                    rcode: Rcode::NoError,
                    authoritative: true,
                });
            }
            Step::NxDomain => {
                // RFC 6604 §2.1: the RCODE describes the last name of the chain.
                negative(reader, &key, apex_labels, apex, b)?;
                return Ok(Outcome::Answered {
                    rcode: Rcode::NxDomain,
                    authoritative: true,
                });
            }
            Step::Referral { cut_labels } => {
                referral(reader, &key, cut_labels, name, b)?;
                // A referral after a CNAME keeps AA for the CNAME part? RFC 1034
                // §4.3.2 makes the whole response non-authoritative; BIND and
                // Knot clear AA unless the answer section holds data of ours.
                let authoritative = b.header().count(Section::Answer) > 0;
                return Ok(Outcome::Answered {
                    rcode: Rcode::NoError,
                    authoritative,
                });
            }
            Step::Cname(target) => {
                // Follow only inside this zone (the answer stays authoritative
                // data of one zone, as Knot does).
                let Ok(target) = Name::from_wire(target) else {
                    return Err(AnswerError::Read(ReadError::Damaged));
                };
                if !target.is_at_or_below(&apex) {
                    return Ok(Outcome::Answered {
                        rcode: Rcode::NoError,
                        authoritative: true,
                    });
                }
                name = target;
                key = NameKey::new(target);
            }
        }
    }
    // Chain too long (or a loop): what was written stands.
    Ok(Outcome::Answered {
        rcode: Rcode::NoError,
        authoritative: true,
    })
}

/// The result of matching one name in the zone.
enum Step<'m> {
    /// Answer records were written.
    Done,
    /// The name exists without data of this type (RFC 2308 §2.2).
    NoData,
    /// The name does not exist (RFC 2308 §2.1).
    NxDomain,
    /// The name is at or below a zone cut with this many labels.
    Referral { cut_labels: usize },
    /// A CNAME was written; continue with its target (uncompressed wire form).
    Cname(&'m [u8]),
}

/// RFC 1034 §4.3.2 step 3 for one name: walk down from the apex, stopping at a
/// zone cut or a missing label, then match the type or try the wildcard.
fn step<'r>(
    reader: &'r Reader,
    key: &NameKey,
    apex_labels: usize,
    owner: Name<'_>,
    qtype: Rtype,
    b: &mut MessageBuilder<'_>,
) -> Result<Step<'r>, AnswerError> {
    let labels = key.labels();
    let mut exact = None;
    for k in apex_labels + 1..=labels {
        let Some(next) = reader.node(key, k)? else {
            return wildcard(reader, key, k - 1, owner, qtype, b);
        };
        // RFC 1034 §4.2.1: NS below the apex marks a cut; data at and below it
        // is not ours. RFC 4035 §3.1.4.1: DS at the cut belongs to the parent.
        if next.has(Rtype::Ns) && !(k == labels && qtype == Rtype::Ds) {
            return Ok(Step::Referral { cut_labels: k });
        }
        exact = Some(next);
    }
    let node = match exact {
        Some(node) => node,
        // The question is the apex itself; a zone without an apex node is damaged.
        None => reader
            .node(key, apex_labels)?
            .ok_or(AnswerError::Read(ReadError::Damaged))?,
    };
    matched(reader, key, labels, node, false, owner, qtype, b)
}

/// RFC 4592 §3.3.1: the closest encloser has `encloser` labels; if
/// `*.<closest encloser>` exists, answer from it with the query name as owner.
fn wildcard<'r>(
    reader: &'r Reader,
    key: &NameKey,
    encloser: usize,
    owner: Name<'_>,
    qtype: Rtype,
    b: &mut MessageBuilder<'_>,
) -> Result<Step<'r>, AnswerError> {
    match reader.wildcard_node(key, encloser)? {
        Some(node) => matched(reader, key, encloser, node, true, owner, qtype, b),
        None => Ok(Step::NxDomain),
    }
}

/// RFC 1034 §4.3.2 step 3a at an existing node (or a wildcard source of
/// synthesis when `synthesized`): CNAME, ANY (RFC 8482), the type, or NODATA.
#[allow(clippy::too_many_arguments)]
fn matched<'r>(
    reader: &'r Reader,
    key: &NameKey,
    labels: usize,
    node: Node<'r>,
    synthesized: bool,
    owner: Name<'_>,
    qtype: Rtype,
    b: &mut MessageBuilder<'_>,
) -> Result<Step<'r>, AnswerError> {
    let get = |rtype: Rtype| -> Result<Option<Rrset<'r>>, ReadError> {
        if synthesized {
            reader.wildcard_rrset(key, labels, rtype)
        } else {
            reader.rrset(key, labels, rtype)
        }
    };
    if qtype == Rtype::Any {
        // RFC 8482 §4.2: answer with one RRset of the responder's choosing (the
        // first by type code), or NODATA for an empty non-terminal.
        let Some(rtype) = node.types().next() else {
            return Ok(Step::NoData);
        };
        let set = get(rtype)?.ok_or(ReadError::Damaged)?;
        add_rrset(b, Section::Answer, owner, rtype, &set)?;
        return Ok(Step::Done);
    }
    if qtype != Rtype::Cname && node.has(Rtype::Cname) {
        let set = get(Rtype::Cname)?.ok_or(ReadError::Damaged)?;
        add_rrset(b, Section::Answer, owner, Rtype::Cname, &set)?;
        return match set.iter().next() {
            Some(target) => Ok(Step::Cname(target)),
            None => Ok(Step::Done),
        };
    }
    match get(qtype)? {
        Some(set) => {
            add_rrset(b, Section::Answer, owner, qtype, &set)?;
            Ok(Step::Done)
        }
        None => Ok(Step::NoData),
    }
}

/// RFC 2308 §3: the zone's SOA in the authority section, with TTL
/// min(SOA TTL, SOA MINIMUM).
fn negative(
    reader: &Reader,
    key: &NameKey,
    apex_labels: usize,
    apex: Name<'_>,
    b: &mut MessageBuilder<'_>,
) -> Result<(), AnswerError> {
    let set = reader
        .rrset(key, apex_labels, Rtype::Soa)?
        .ok_or(ReadError::Damaged)?;
    for rdata in set.iter() {
        let minimum = SoaRdata::new(rdata).ok_or(ReadError::Damaged)?.minimum();
        add(add_rdata(
            b,
            Section::Authority,
            apex,
            Rtype::Soa,
            set.ttl().min(minimum),
            rdata,
        ))?;
    }
    Ok(())
}

/// RFC 1034 §4.3.2 step 3b: the NS RRset of the cut in authority, and the
/// addresses of name servers inside our data in additional (glue). RFC 9471
/// §3: glue for name servers below the cut is required, so when it does not
/// fit the response is marked truncated.
///
/// The work is bounded: glue is looked up for the first [`MAX_GLUE_TARGETS`]
/// targets only, and not at all once the response is truncated or a glue
/// record did not fit (the additional section is full: a client either asks
/// again over TCP or makes do with what came).
fn referral(
    reader: &Reader,
    key: &NameKey,
    cut_labels: usize,
    name: Name<'_>,
    b: &mut MessageBuilder<'_>,
) -> Result<(), AnswerError> {
    let cut = name.suffix(name.label_count().saturating_sub(cut_labels));
    let set = reader
        .rrset(key, cut_labels, Rtype::Ns)?
        .ok_or(ReadError::Damaged)?;
    add_rrset(b, Section::Authority, cut, Rtype::Ns, &set)?;
    for target in set.iter().take(MAX_GLUE_TARGETS) {
        if b.is_truncated() || b.header().flags.tc() {
            break;
        }
        let Ok(target) = Name::from_wire(target) else {
            return Err(AnswerError::Read(ReadError::Damaged));
        };
        let target_key = NameKey::new(target);
        if reader.find_zone(&target_key)?.is_none() {
            continue;
        }
        let in_domain = target.is_at_or_below(&cut);
        if add_glue(reader, &target_key, target, in_domain, b)? == Glue::Full {
            break;
        }
    }
    Ok(())
}

/// Whether the additional section took all the glue offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glue {
    /// Every address record fit (or there were none).
    Added,
    /// A record did not fit: the section is full, look up no more.
    Full,
}

/// The A and AAAA records of one NS target in the additional section; when
/// one does not fit, TC if the target is below the cut (RFC 9471 §3), and
/// nothing after it.
fn add_glue(
    reader: &Reader,
    key: &NameKey,
    target: Name<'_>,
    in_domain: bool,
    b: &mut MessageBuilder<'_>,
) -> Result<Glue, AnswerError> {
    for rtype in [Rtype::A, Rtype::Aaaa] {
        let Some(glue) = reader.rrset(key, key.labels(), rtype)? else {
            continue;
        };
        for rdata in glue.iter() {
            let written = b.raw_record(
                Section::Additional,
                target,
                rtype,
                Class::In,
                glue.ttl(),
                rdata,
            );
            match written {
                Ok(()) => {}
                Err(BuildError::NoSpace | BuildError::Truncated) => {
                    if in_domain {
                        b.flags_mut().set_tc(true);
                    }
                    return Ok(Glue::Full);
                }
                Err(e) => return Err(AnswerError::Build(e)),
            }
        }
    }
    Ok(Glue::Added)
}

//! `dynzone import` and `dynzone export`: whole zones between master files and
//! the database; `dynzone keygen`: a new TSIG key.

use std::io::{self, Write};

use dynzone::store::DEFAULT_MAP_SIZE;
use dynzone::tsig::{Algorithm, Key, format_key};

use super::{ExportArgs, ImportArgs, JournalArgs, KeygenArgs};

/// Runs `dynzone import`: parse, check, then replace the zone in one write
/// transaction, so a running server sees the old zone or the new one.
pub fn import(args: ImportArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.zonefile).map_err(|e| {
        format!(
            "cannot read zone file {}: {}",
            args.zonefile.display(),
            super::plain(&e)
        )
    })?;
    let limits = super::serve::limits(
        args.max_records_per_rrset,
        args.max_types_per_name,
        args.max_zone_records,
    )?;
    let parsed = dynzone::zonefile::parse_with(&text, args.origin.as_ref(), &limits)
        .map_err(|e| format!("{}: {e}", args.zonefile.display()))?;
    dynzone::zone::check_with(&parsed.apex, &parsed.records, &limits)
        .map_err(|e| format!("{}: {e}", args.zonefile.display()))?;
    let store =
        super::open_store(&args.db, args.map_size)?.with_journal_limits(super::journal_limits(
            args.journal_max_changes,
            args.journal_max_bytes,
            args.audit_max_changes,
            args.audit_max_bytes,
        ));
    let serial = store
        .replace_zone(parsed.apex.as_name(), &parsed.records)
        .map_err(|e| format!("cannot store zone {}: {e}", parsed.apex))?;
    println!(
        "imported {} records into zone {}, serial {serial}",
        parsed.records.len(),
        parsed.apex
    );
    Ok(())
}

/// Runs `dynzone export`.
pub fn export(args: ExportArgs) -> Result<(), String> {
    if !args.db.is_dir() {
        return Err(format!("no database at {}", args.db.display()));
    }
    let store = super::open_store(&args.db, DEFAULT_MAP_SIZE)?;
    let records = store
        .zone_records(args.zone.as_name())
        .map_err(|e| e.to_string())?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written =
        dynzone::zonefile::write(&args.zone, &records, &mut out).and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        // `dynzone export | head` is not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing the zone: {}", super::plain(&e))),
    }
}

/// Runs `dynzone journal`: the audit trail of a zone, one paragraph per
/// change, e.g.
///
/// ```text
/// # zone example.net.: 2 changes kept, the last 2 for IXFR; 401 octets, 401 of them for IXFR
/// serial 7 -> 8 at 2026-12-03T19:40:12Z by key home-router. from 192.0.2.7:40512
/// - www.example.net. 300 IN A 192.0.2.10
/// + www.example.net. 300 IN A 192.0.2.11
/// ```
///
/// The SOA records that open each half of a change are left out (the first
/// line gives both serials); with NAME, only the records owned by NAME, and
/// only the changes that touched one.
pub fn journal(args: JournalArgs) -> Result<(), String> {
    if !args.db.is_dir() {
        return Err(format!("no database at {}", args.db.display()));
    }
    let store = super::open_store(&args.db, DEFAULT_MAP_SIZE)?;
    let changes = store
        .changes(args.zone.as_name())
        .map_err(|e| e.to_string())?;
    let meta = store
        .journal_meta(args.zone.as_name())
        .map_err(|e| e.to_string())?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut write = || -> io::Result<()> {
        writeln!(
            out,
            "# zone {}: {} changes kept, the last {} for IXFR; {} octets, {} of them for IXFR",
            args.zone,
            meta.next - meta.first,
            meta.next - meta.ixfr_first,
            meta.bytes,
            meta.ixfr_bytes
        )?;
        for (_, change) in &changes {
            let wanted =
                |r: &&dynzone::store::ZoneRecord| args.name.as_ref().is_none_or(|n| r.owner == *n);
            let deleted: Vec<_> = change.deleted.iter().skip(1).filter(wanted).collect();
            let added: Vec<_> = change.added.iter().skip(1).filter(wanted).collect();
            if args.name.is_some() && deleted.is_empty() && added.is_empty() {
                continue;
            }
            let time = i64::try_from(change.time)
                .ok()
                .and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map_or_else(|| change.time.to_string(), |t| t.to_string());
            let by = match (change.kind, &change.key) {
                (dynzone::store::journal::Kind::Import, _) => String::from("by dynzone import"),
                (_, Some(key)) => format!("by key {key}"),
                (_, None) => String::from("by no key"),
            };
            let peer = change
                .peer
                .map_or_else(String::new, |p| format!(" from {p}"));
            writeln!(
                out,
                "serial {} -> {} at {time} {by}{peer}",
                change.from, change.to
            )?;
            for (sign, records) in [("-", &deleted), ("+", &added)] {
                for r in records.iter() {
                    write!(out, "{sign} ")?;
                    dynzone::zonefile::write_record(r, &mut out)?;
                }
            }
        }
        out.flush()
    };
    match write() {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing the journal: {}", super::plain(&e))),
    }
}

/// Runs `dynzone keygen`: a fresh random key of the algorithm's output size
/// (as tsig-keygen makes), printed in tsig-keygen's file format.
pub fn keygen(args: KeygenArgs) -> Result<(), String> {
    let algorithm = Algorithm::from_text(&args.algorithm).ok_or_else(|| {
        format!(
            "--algorithm {}: not one of hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512",
            args.algorithm
        )
    })?;
    let key = Key::generate(args.name.as_name(), algorithm)
        .map_err(|e| format!("cannot get random bytes for the key: {e}"))?;
    print!("{}", format_key(&key));
    Ok(())
}

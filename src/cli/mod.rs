//! The `dynzone` command line: flags (argh), and the three commands. Each
//! failure becomes one line on stderr and a non-zero exit status.

mod admin;
mod grant;
mod logging;
mod pid_file;
mod privilege;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::{EarlyExit, FromArgs};
use dynzone::wire::NameBuf;

/// Where the database lives unless `--db` says otherwise.
const DEFAULT_DB: &str = "./dynzone.db";

/// dynzone: an authoritative DNS server for dynamic DNS (RFC 2136 UPDATE signed
/// with TSIG, records in LMDB).
#[derive(FromArgs)]
struct Args {
    /// print the version and exit
    #[argh(switch)]
    version: bool,
    #[argh(subcommand)]
    command: Option<Command>,
}

// Parsed once at start-up; boxing `ServeArgs` would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Serve(ServeArgs),
    Import(ImportArgs),
    Export(ExportArgs),
    Journal(JournalArgs),
    Keygen(KeygenArgs),
}

/// answer DNS queries for the zones in the database, over UDP and TCP
#[derive(FromArgs)]
#[argh(subcommand, name = "serve")]
struct ServeArgs {
    /// address and port to answer on, UDP and TCP; repeatable (default
    /// 0.0.0.0:53 and [::]:53)
    #[argh(option)]
    listen: Vec<SocketAddr>,
    /// zone to create, with a default SOA and NS, when it is not in the
    /// database yet; repeatable (zones already there are always served)
    #[argh(option, from_str_fn(parse_name))]
    zone: Vec<NameBuf>,
    /// LMDB database directory, created when missing (default ./dynzone.db)
    #[argh(option, default = "PathBuf::from(DEFAULT_DB)")]
    db: PathBuf,
    /// worker threads, each with its own sockets (default: one per core)
    #[argh(option)]
    workers: Option<usize>,
    /// file to write the process id to once the sockets are bound (before
    /// --user takes effect), mode 0644; a symbolic link there or a file naming
    /// a running process is refused, a stale one replaced; removed at exit
    #[argh(option)]
    pid_file: Option<PathBuf>,
    /// run as this user once every socket is bound and the database is open
    /// (initgroups, setgid, setuid); the database must be writable by it
    #[argh(option)]
    user: Option<String>,
    /// with --user: run with this group instead of the user's own
    #[argh(option)]
    group: Option<String>,
    /// append the log to this file instead of stderr, created with mode 0640
    /// (not through a symbolic link); SIGHUP reopens it
    #[argh(option)]
    log_file: Option<PathBuf>,
    /// name server for the NS records and SOA MNAME of zones created with
    /// --zone; repeatable (default ns1.<zone>)
    #[argh(option, from_str_fn(parse_name))]
    ns: Vec<NameBuf>,
    /// SOA RNAME of zones created with --zone, as a name or a mail address
    /// (default hostmaster.<zone>)
    #[argh(option, from_str_fn(parse_mailbox))]
    hostmaster: Option<NameBuf>,
    /// TTL of the SOA and NS records of zones created with --zone (default
    /// 3600)
    #[argh(option, default = "3600")]
    default_ttl: u32,
    /// LMDB map size in bytes, suffixes K, M, G, T allowed (default 256M)
    #[argh(
        option,
        from_str_fn(parse_size),
        default = "dynzone::store::DEFAULT_MAP_SIZE"
    )]
    map_size: usize,
    /// largest UDP response sent, whatever the client's EDNS buffer size
    /// (default 1232, at least 512)
    #[argh(
        option,
        default = "dynzone::handler::Config::default().max_udp_payload"
    )]
    max_udp_size: u16,
    /// seconds a TCP connection may stay without a complete request, and a
    /// request may take to arrive (default 10)
    #[argh(option, default = "10")]
    tcp_idle_timeout: u64,
    /// TCP connections of all workers together; when a worker's share is
    /// full, a new one replaces the one idle the longest (default 256 per
    /// worker, always within the descriptor limit)
    #[argh(option)]
    tcp_max_connections: Option<usize>,
    /// TCP connections from one /24 (IPv4) or /56 (IPv6) prefix, of all
    /// workers together; at the limit, a new one from the prefix replaces
    /// its own oldest (default 32)
    #[argh(option, default = "dynzone::server::DEFAULT_TCP_MAX_PER_PREFIX")]
    tcp_max_per_prefix: usize,
    /// response rate limiting: UDP answers a second to one /24 or /56 per
    /// kind (per name and type for answers; NXDOMAIN and errors per source);
    /// 0 turns it off (default 20; TCP and signed requests never limited)
    #[argh(option, default = "dynzone::rrl::DEFAULT_RATE")]
    rrl_rate: u32,
    /// of the answers rate limiting holds back, every Nth goes out truncated
    /// (TC) so that a real resolver retries over TCP; 0 never (default 2)
    #[argh(option, default = "dynzone::rrl::DEFAULT_SLIP")]
    rrl_slip: u32,
    /// a TSIG key as [ALG:]NAME:SECRET, nsupdate's -y syntax: ALG hmac-md5
    /// (default), hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or
    /// hmac-sha512, SECRET in base64; repeatable
    #[argh(option)]
    tsig: Vec<String>,
    /// a file of TSIG keys: tsig-keygen's and `dynzone keygen`'s format
    /// (key "NAME" { algorithm ALG; secret "..."; };), several per file, or
    /// lines of [ALG:]NAME:SECRET; repeatable
    #[argh(option)]
    key_file: Vec<PathBuf>,
    /// let key KEY change only names at or below NAME, and only the listed
    /// types when given (KEY:NAME[:TYPE,TYPE...]); repeatable. Without any
    /// --grant every key may change every zone; with grants, a key without
    /// one may change nothing
    #[argh(option)]
    grant: Vec<String>,
    /// let ZONE be transferred (AXFR, IXFR) to requests signed with KEY
    /// (ZONE:KEY) or from an address or prefix (ZONE:ADDRESS[/LEN]);
    /// repeatable. With keys and prefixes for one zone, a request needs
    /// both. Nothing is transferable without it
    #[argh(option)]
    allow_transfer: Vec<String>,
    /// after each change to ZONE, send NOTIFY to the secondary at ADDRESS
    /// (port 53 unless given), signed with KEY when given
    /// (ZONE:ADDRESS[:PORT][:KEY], an IPv6 address in brackets); repeatable
    #[argh(option)]
    notify: Vec<String>,
    /// most records in one RRset; an UPDATE or import that would put more is
    /// refused (default 100, as BIND's max-records-per-type)
    #[argh(
        option,
        default = "dynzone::zone::Limits::default().max_records_per_rrset"
    )]
    max_records_per_rrset: u32,
    /// most record types at one name; an UPDATE or import that would put more
    /// is refused (default 100, as BIND's max-types-per-name)
    #[argh(
        option,
        default = "dynzone::zone::Limits::default().max_types_per_name"
    )]
    max_types_per_name: u32,
    /// most records in one zone; an UPDATE or import that would put more is
    /// refused (default 100000)
    #[argh(option, default = "dynzone::zone::Limits::default().max_zone_records")]
    max_zone_records: u64,
    /// changes of a zone kept for IXFR: a secondary further behind gets the
    /// whole zone (default 100)
    #[argh(
        option,
        default = "dynzone::store::journal::Limits::DEFAULT.max_changes"
    )]
    journal_max_changes: u64,
    /// octets of changes of a zone kept for IXFR, suffixes K, M, G allowed
    /// (default 4M)
    #[argh(
        option,
        from_str_fn(parse_size_u64),
        default = "dynzone::store::journal::Limits::DEFAULT.max_bytes"
    )]
    journal_max_bytes: u64,
    /// changes of a zone kept for `dynzone journal`, the audit trail of who
    /// changed what (default 10000)
    #[argh(
        option,
        default = "dynzone::store::journal::Limits::DEFAULT.audit_max_changes"
    )]
    audit_max_changes: u64,
    /// octets of changes of a zone kept for `dynzone journal` (default 64M)
    #[argh(
        option,
        from_str_fn(parse_size_u64),
        default = "dynzone::store::journal::Limits::DEFAULT.audit_max_bytes"
    )]
    audit_max_bytes: u64,
    /// longest TSIG time window of an UPDATE, in seconds: its fudge, at most
    /// this; each UPDATE is accepted once within it (default 300)
    #[argh(option, default = "dynzone::handler::DEFAULT_TSIG_FUDGE_MAX")]
    tsig_fudge_max: u16,
    /// serve Prometheus metrics at http://ADDR:PORT/metrics, e.g.
    /// 127.0.0.1:9153 (default: off). Keep it on loopback: the page names
    /// every zone
    #[argh(option)]
    metrics: Option<SocketAddr>,
}

/// print a new random TSIG key in tsig-keygen's format, for `serve
/// --key-file`, `nsupdate -k` and (as ALG:NAME:SECRET) knsupdate
#[derive(FromArgs)]
#[argh(subcommand, name = "keygen")]
struct KeygenArgs {
    /// hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256 (default), hmac-sha384
    /// or hmac-sha512
    #[argh(option, default = "String::from(\"hmac-sha256\")")]
    algorithm: String,
    /// the key's name, e.g. home-router (it must match on both sides)
    #[argh(positional, from_str_fn(parse_name))]
    name: NameBuf,
}

/// load a zone from a master file (RFC 1035 §5), replacing the zone's content
#[derive(FromArgs)]
#[argh(subcommand, name = "import")]
struct ImportArgs {
    /// LMDB database directory, created when missing (default ./dynzone.db)
    #[argh(option, default = "PathBuf::from(DEFAULT_DB)")]
    db: PathBuf,
    /// LMDB map size in bytes, suffixes K, M, G, T allowed (default 256M)
    #[argh(
        option,
        from_str_fn(parse_size),
        default = "dynzone::store::DEFAULT_MAP_SIZE"
    )]
    map_size: usize,
    /// origin of the zone when the file has no $ORIGIN (the zone apex)
    #[argh(option, from_str_fn(parse_name))]
    origin: Option<NameBuf>,
    /// most records in one RRset; an UPDATE or import that would put more is
    /// refused (default 100, as BIND's max-records-per-type)
    #[argh(
        option,
        default = "dynzone::zone::Limits::default().max_records_per_rrset"
    )]
    max_records_per_rrset: u32,
    /// most record types at one name; an UPDATE or import that would put more
    /// is refused (default 100, as BIND's max-types-per-name)
    #[argh(
        option,
        default = "dynzone::zone::Limits::default().max_types_per_name"
    )]
    max_types_per_name: u32,
    /// most records in one zone; an UPDATE or import that would put more is
    /// refused (default 100000)
    #[argh(option, default = "dynzone::zone::Limits::default().max_zone_records")]
    max_zone_records: u64,
    /// changes of a zone kept for IXFR: a secondary further behind gets the
    /// whole zone (default 100)
    #[argh(
        option,
        default = "dynzone::store::journal::Limits::DEFAULT.max_changes"
    )]
    journal_max_changes: u64,
    /// octets of changes of a zone kept for IXFR, suffixes K, M, G allowed
    /// (default 4M)
    #[argh(
        option,
        from_str_fn(parse_size_u64),
        default = "dynzone::store::journal::Limits::DEFAULT.max_bytes"
    )]
    journal_max_bytes: u64,
    /// changes of a zone kept for `dynzone journal`, the audit trail of who
    /// changed what (default 10000)
    #[argh(
        option,
        default = "dynzone::store::journal::Limits::DEFAULT.audit_max_changes"
    )]
    audit_max_changes: u64,
    /// octets of changes of a zone kept for `dynzone journal` (default 64M)
    #[argh(
        option,
        from_str_fn(parse_size_u64),
        default = "dynzone::store::journal::Limits::DEFAULT.audit_max_bytes"
    )]
    audit_max_bytes: u64,
    /// the master file to read
    #[argh(positional)]
    zonefile: PathBuf,
}

/// print a zone of the database as a master file on stdout
#[derive(FromArgs)]
#[argh(subcommand, name = "export")]
struct ExportArgs {
    /// LMDB database directory (default ./dynzone.db)
    #[argh(option, default = "PathBuf::from(DEFAULT_DB)")]
    db: PathBuf,
    /// the zone's apex name
    #[argh(positional, from_str_fn(parse_name))]
    zone: NameBuf,
}

/// print the changes the journal keeps for a zone, oldest first: serial
/// from and to, time, the TSIG key and peer address that made each, and
/// the records deleted (-) and added (+)
#[derive(FromArgs)]
#[argh(subcommand, name = "journal")]
struct JournalArgs {
    /// LMDB database directory (default ./dynzone.db)
    #[argh(option, default = "PathBuf::from(DEFAULT_DB)")]
    db: PathBuf,
    /// the zone's apex name
    #[argh(positional, from_str_fn(parse_name))]
    zone: NameBuf,
    /// only the changes to records owned by this name
    #[argh(positional, from_str_fn(parse_name))]
    name: Option<NameBuf>,
}

/// The journal limits the flags give.
fn journal_limits(
    max_changes: u64,
    max_bytes: u64,
    audit_max_changes: u64,
    audit_max_bytes: u64,
) -> dynzone::store::journal::Limits {
    dynzone::store::journal::Limits {
        max_changes,
        max_bytes,
        audit_max_changes,
        audit_max_bytes,
    }
}

/// Runs the command line and turns every failure into one line on stderr.
pub fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    if args.version {
        println!("dynzone {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let result = match args.command {
        Some(Command::Serve(serve)) => serve::run(serve),
        Some(Command::Import(import)) => admin::import(import),
        Some(Command::Journal(journal)) => admin::journal(journal),
        Some(Command::Export(export)) => admin::export(export),
        Some(Command::Keygen(keygen)) => admin::keygen(keygen),
        None => Err("no command given; run `dynzone --help` for the commands".to_owned()),
    };
    // Every buffered log line is written before the process ends, on the
    // fatal path too (and before the error, so stderr keeps its order).
    match result {
        Ok(()) => {
            logging::finish();
            ExitCode::SUCCESS
        }
        Err(message) => {
            if logging::to_file() {
                log::error!("{message}");
            }
            logging::finish();
            eprintln!("dynzone: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The parsed flags, or the exit code after `--help` output or a usage error
/// (one line, status 2).
/// `--flag=value` as two arguments, as GNU tools and most servers' command
/// lines take it (argh alone would report `--tsig=alg:name:SECRET` as an
/// unrecognized argument, echoing the secret).
fn split_equals(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest = false;
    for arg in args {
        match arg.split_once('=') {
            Some((flag, value)) if !rest && flag.starts_with("--") && flag.len() > 2 => {
                out.push(flag.to_owned());
                out.push(value.to_owned());
            }
            _ => {
                rest |= arg == "--";
                out.push(arg);
            }
        }
    }
    out
}

/// argh's error text with the arguments that may be secrets replaced by
/// `<not shown>`, so that one typed in the wrong place is never echoed
/// (issue 11): the value of `--tsig`, a stray argument argh did not
/// recognize, and anything that looks like base64 key material (16 or more
/// characters of its alphabet). Addresses, paths and numbers stay visible.
fn unechoed(text: &str, args: &[String]) -> String {
    let looks_secret = |a: &str| {
        a.len() >= 16
            && a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
    };
    let stray = text.strip_prefix("Unrecognized argument: ");
    let mut values: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            let after_tsig = i
                .checked_sub(1)
                .and_then(|p| args.get(p))
                .is_some_and(|f| f == "--tsig");
            !a.is_empty()
                && !a.starts_with('-')
                && (after_tsig || looks_secret(a) || stray == Some(a.as_str()))
        })
        .map(|(_, a)| a)
        .collect();
    // Longest first, so that no argument is replaced inside a longer one.
    values.sort_by_key(|a| std::cmp::Reverse(a.len()));
    let mut text = text.to_owned();
    for value in values {
        text = text.replace(value.as_str(), "<not shown>");
    }
    text
}

fn parse_args() -> Result<Args, ExitCode> {
    let mut strings = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(s) => strings.push(s),
            Err(_) => {
                // Not shown: it may hold a secret.
                eprintln!(
                    "dynzone: argument {} is not valid UTF-8 (not shown)",
                    strings.len() + 1
                );
                return Err(ExitCode::from(2));
            }
        }
    }
    let strings = split_equals(strings);
    let strs: Vec<&str> = strings.iter().map(String::as_str).collect();
    match Args::from_args(&["dynzone"], &strs) {
        Ok(args) => Ok(args),
        Err(EarlyExit {
            output,
            status: Ok(()),
        }) => {
            println!("{output}");
            Err(ExitCode::SUCCESS)
        }
        Err(EarlyExit {
            output,
            status: Err(()),
        }) => {
            let text: Vec<&str> = output
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!(
                "dynzone: {} (see --help)",
                unechoed(&text.join(" "), &strings)
            );
            Err(ExitCode::from(2))
        }
    }
}

/// A domain name in presentation form; always absolute.
fn parse_name(text: &str) -> Result<NameBuf, String> {
    NameBuf::from_text(text).map_err(|e| format!("{text:?} is not a domain name: {e:?}"))
}

/// An SOA RNAME: a name, or a mail address whose local part becomes the first
/// label (its dots escaped, RFC 1035 §8).
fn parse_mailbox(text: &str) -> Result<NameBuf, String> {
    match text.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            let name = format!("{}.{domain}", local.replace('.', "\\."));
            NameBuf::from_text(&name).map_err(|e| format!("{text:?} is not a mailbox: {e:?}"))
        }
        _ => parse_name(text),
    }
}

/// A byte count with an optional binary suffix: `K`, `M`, `G` or `T`.
fn parse_size(text: &str) -> Result<usize, String> {
    let bad = || format!("{text:?} is not a size in bytes (like 1073741824 or 1G)");
    let (digits, shift) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (text.get(..at), 10),
        Some((at, 'm' | 'M')) => (text.get(..at), 20),
        Some((at, 'g' | 'G')) => (text.get(..at), 30),
        Some((at, 't' | 'T')) => (text.get(..at), 40),
        _ => (Some(text), 0),
    };
    let value: usize = digits.ok_or_else(bad)?.parse().map_err(|_| bad())?;
    value
        .checked_mul(1usize.checked_shl(shift).ok_or_else(bad)?)
        .ok_or_else(bad)
}

/// [`parse_size`] for a 64-bit count.
fn parse_size_u64(text: &str) -> Result<u64, String> {
    parse_size(text).map(|n| n as u64)
}

/// Opens the database, with an error that names it once.
fn open_store(path: &std::path::Path, map_size: usize) -> Result<dynzone::store::Store, String> {
    dynzone::store::Store::open(path, map_size).map_err(|e| match e {
        dynzone::store::StoreError::Dir(_, io) => {
            format!(
                "cannot open the database {}: {}",
                path.display(),
                plain(&io)
            )
        }
        other => format!("cannot open the database {}: {other}", path.display()),
    })
}

use dynzone::server::plain_io_error as plain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("256m"), Ok(256 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999T").is_err());
    }

    #[test]
    fn mailboxes() {
        let plain = parse_mailbox("hostmaster.example.org").unwrap();
        assert_eq!(plain.to_string(), "hostmaster.example.org.");
        let mail = parse_mailbox("john.doe@example.org").unwrap();
        assert_eq!(mail.to_string(), "john\\.doe.example.org.");
        assert_eq!(mail.as_name().label_count(), 3);
    }
}

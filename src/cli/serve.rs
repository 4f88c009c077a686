//! `dynzone serve`: open the database, add the zones named with `--zone`, bind
//! every socket, then run the workers until SIGINT or SIGTERM.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dynzone::handler::{self, Auth};
use dynzone::metrics;
use dynzone::server::{self, Server, SignalWatch, notify};
use dynzone::store::Store;
use dynzone::tsig::{KeySet, parse_file, parse_spec};
use dynzone::update::{Grant, Policy};
use dynzone::wire::{NameBuf, RData, Rtype, Soa, write_rdata};
use dynzone::zone::{Limits, ZoneRecord};

use super::grant::{Who, parse_allow_transfer, parse_grant, parse_notify};
use super::pid_file::PidFile;
use super::privilege::Account;
use super::{ServeArgs, logging};
use dynzone::transfer::{Acl, Allow};

/// Answering on port 53 of every address, IPv4 and IPv6.
const DEFAULT_LISTEN: [SocketAddr; 2] = [
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 53),
    SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 53),
];

/// SOA timers of a zone created with `--zone` (RFC 1912 §2.2 ranges, the
/// values BIND's and Knot's examples use).
const SOA_REFRESH: u32 = 3600;
const SOA_RETRY: u32 = 900;
const SOA_EXPIRE: u32 = 1_209_600;
const SOA_MINIMUM: u32 = 300;

/// Runs `dynzone serve`.
pub fn run(args: ServeArgs) -> Result<(), String> {
    let account = Account::look_up(args.user.as_deref(), args.group.as_deref())?;
    let workers = match args.workers {
        Some(0) => return Err("--workers must be at least 1".to_owned()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let settings = settings(&args, workers)?;
    let log_file = logging::init(args.log_file.as_deref())?;
    let auth = auth(&args)?;
    let targets = notify_targets(&args, &auth)?;
    let store =
        super::open_store(&args.db, args.map_size)?.with_journal_limits(super::journal_limits(
            args.journal_max_changes,
            args.journal_max_bytes,
            args.audit_max_changes,
            args.audit_max_bytes,
        ));

    // Signals are caught before any socket is bound: once a TCP listener
    // exists, a client (or an init system's readiness probe) can connect and
    // send SIGINT or SIGTERM at once; that must stop the server cleanly, not
    // kill it with the default action (CI saw the race).
    let mut signals =
        SignalWatch::new().map_err(|e| format!("cannot catch signals: {}", super::plain(&e)))?;
    let listen = if args.listen.is_empty() {
        default_listen()
    } else {
        args.listen.clone()
    };
    let listeners = server::bind(&listen, workers).map_err(|e| bind_error(&e))?;
    let metrics_listener = match args.metrics {
        Some(addr) => Some(
            metrics::bind(addr)
                .map_err(|e| format!("cannot serve metrics on {addr}/tcp: {}", super::plain(&e)))?,
        ),
        None => None,
    };
    log::info!("dynzone {} starting", env!("CARGO_PKG_VERSION"));
    for apex in &args.zone {
        add_zone(&store, apex, &args)?;
    }
    let zones = store
        .zone_names()
        .map_err(|e| format!("cannot list the zones: {e}"))?;
    if zones.is_empty() {
        log::warn!(
            "no zones in {}: add one with --zone or `dynzone import`",
            args.db.display()
        );
    }
    for apex in &zones {
        log::info!("serving zone {apex}");
    }
    describe_auth(&auth, &zones);

    let _pid_file = match &args.pid_file {
        Some(path) => Some(PidFile::create(path)?),
        None => None,
    };
    // Still one thread here: the switch holds for every thread started next.
    if let Some(account) = &account {
        if let Some(file) = &log_file {
            file.give_to(account.uid().as_raw(), account.gid().as_raw())?;
        }
        account.switch()?;
        account.check_database(&args.db)?;
    }
    // The log's own thread, now that no thread is left to switch; the lines
    // logged so far waited in its buffer.
    logging::start_writer()?;
    let addrs: Vec<String> = listeners.addrs().iter().map(|a| a.to_string()).collect();
    let server = Server::start_notifying(&store, listeners, &settings, Arc::new(auth), targets)
        .map_err(|e| e.to_string())?;
    log::info!(
        "listening on {} (UDP and TCP) with {workers} worker{}",
        addrs.join(", "),
        if workers == 1 { "" } else { "s" }
    );
    if let Some(listener) = metrics_listener {
        let addr = listener
            .local_addr()
            .map_err(|e| format!("metrics listener: {}", super::plain(&e)))?;
        metrics::start(listener, server.board(), store.clone())
            .map_err(|e| format!("cannot start the metrics thread: {}", super::plain(&e)))?;
        log::info!("serving metrics at http://{addr}/metrics");
        if !addr.ip().is_loopback() {
            log::warn!(
                "--metrics {addr} is not a loopback address: whoever reaches it sees every zone name and the update counts"
            );
        }
    }

    let mut on_reopen = || match &log_file {
        Some(file) => match file.reopen() {
            Ok(()) => log::info!("reopened log file {}", file.path().display()),
            Err(e) => log::error!("SIGHUP: {e}; still writing to the old file"),
        },
        None => log::info!("SIGHUP received; logging to stderr, no log file to reopen"),
    };
    let result = server.run(&mut signals, &mut on_reopen);
    match &result {
        Ok(()) => log::info!("stopped"),
        Err(e) => log::error!("stopped: {e}"),
    }
    result.map_err(|e| e.to_string())
}

/// A bind failure as one line; a port below 1024 refused says what grants it.
fn bind_error(e: &server::BindError) -> String {
    if e.error.kind() == std::io::ErrorKind::PermissionDenied && e.addr.port() < 1024 {
        format!(
            "{e}: ports below 1024 need root or the capability CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep on the binary, or AmbientCapabilities=CAP_NET_BIND_SERVICE in systemd)"
        )
    } else {
        e.to_string()
    }
}

/// The default addresses, without `[::]:53` on a system built without IPv6
/// (a router image, a container), where it could never be bound.
fn default_listen() -> Vec<SocketAddr> {
    let [v4, v6] = DEFAULT_LISTEN;
    match socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::DGRAM, None) {
        Ok(_) => vec![v4, v6],
        Err(e) => {
            log::warn!("no IPv6 ({}): answering on {v4} only", super::plain(&e));
            vec![v4]
        }
    }
}

/// The TSIG keys from `--tsig` and `--key-file`, and the grants of `--grant`.
/// Errors name the flag or file, never a secret.
fn auth(args: &ServeArgs) -> Result<Auth, String> {
    let mut keys = KeySet::new();
    for spec in &args.tsig {
        let key = parse_spec(spec).map_err(|e| format!("--tsig: {e}"))?;
        keys.add(key).map_err(|e| format!("--tsig: {e}"))?;
    }
    for path in &args.key_file {
        warn_if_open_to_others(path);
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read key file {}: {}",
                path.display(),
                super::plain(&e)
            )
        })?;
        for key in parse_file(&text).map_err(|e| format!("key file {}: {e}", path.display()))? {
            keys.add(key)
                .map_err(|e| format!("key file {}: {e}", path.display()))?;
        }
    }
    let mut grants = Vec::new();
    for text in &args.grant {
        let (key_name, name, types) = parse_grant(text)?;
        let key = keys.find_index(key_name.as_name()).ok_or_else(|| {
            format!("--grant {text}: no key named {key_name} (give it with --tsig or --key-file)")
        })?;
        grants.push(Grant { key, name, types });
    }
    let mut transfer = Acl::default();
    for text in &args.allow_transfer {
        let (zone, who) = parse_allow_transfer(text)?;
        let allow = match who {
            Who::Key(name) => Allow::Key(keys.find_index(name.as_name()).ok_or_else(|| {
                format!(
                    "--allow-transfer {text}: no key named {name} (give it with --tsig or --key-file)"
                )
            })?),
            Who::Prefix(net, len) => Allow::Prefix(net, len),
        };
        transfer.add(zone, allow);
    }
    Ok(Auth {
        keys,
        policy: Policy::new(grants),
        transfer,
    })
}

/// The secondaries of `--notify`, each with its key from the key set.
fn notify_targets(args: &ServeArgs, auth: &Auth) -> Result<Vec<notify::Target>, String> {
    let mut targets = Vec::new();
    for text in &args.notify {
        let (zone, addr, key_name) = parse_notify(text)?;
        let key = match key_name {
            Some(name) => Some(auth.keys.find(name.as_name()).cloned().ok_or_else(|| {
                format!("--notify {text}: no key named {name} (give it with --tsig or --key-file)")
            })?),
            None => None,
        };
        log::info!(
            "notify: zone {zone} to {addr}{}",
            key.as_ref()
                .map_or(String::new(), |k| format!(" signed with key {}", k.name()))
        );
        targets.push(notify::Target { zone, addr, key });
    }
    Ok(targets)
}

/// Warns when a key file may be read or written by users other than its
/// owner and group: its secrets let anyone change the zones.
fn warn_if_open_to_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o007 != 0 {
            log::warn!(
                "key file {} has mode {mode:04o}: other users may read or change its secrets (chmod o= it)",
                path.display()
            );
        }
    }
}

/// Logs the keys (names and algorithms only) and what they may change.
fn describe_auth(auth: &Auth, zones: &[NameBuf]) {
    if auth.keys.is_empty() {
        log::warn!("no TSIG keys (--tsig, --key-file): every UPDATE will be refused");
        return;
    }
    for (index, key) in auth.keys.iter() {
        let scope = if !auth.policy.is_restricted() {
            "every zone".to_owned()
        } else if !auth.policy.has_grants(index) {
            "nothing (no --grant for it)".to_owned()
        } else {
            let parts: Vec<String> = auth
                .policy
                .grants()
                .iter()
                .filter(|g| g.key == index)
                .map(|g| {
                    if g.types.is_empty() {
                        format!("{} and below", g.name)
                    } else {
                        let types: Vec<String> = g.types.iter().map(|t| t.to_string()).collect();
                        format!("{} and below ({})", g.name, types.join(","))
                    }
                })
                .collect();
            parts.join("; ")
        };
        log::info!(
            "TSIG key {} ({}) may change {scope}",
            key.name(),
            key.algorithm().mnemonic()
        );
    }
    for grant in auth.policy.grants() {
        if !zones
            .iter()
            .any(|z| grant.name.as_name().is_at_or_below(&z.as_name()))
        {
            log::warn!("--grant for {}: not in any served zone", grant.name);
        }
    }
    for zone in auth.transfer.zones() {
        if !zones
            .iter()
            .any(|z| z.as_name().eq_ignore_case(&zone.as_name()))
        {
            log::warn!("--allow-transfer for {zone}: not a served zone");
        }
    }
}

/// The event loop settings from the flags, checked.
fn settings(args: &ServeArgs, workers: usize) -> Result<server::Settings, String> {
    if args.max_udp_size < 512 {
        return Err(format!(
            "--max-udp-size {} is below 512, the size every DNS client accepts",
            args.max_udp_size
        ));
    }
    if args.tcp_idle_timeout == 0 {
        return Err("--tcp-idle-timeout must be at least 1 second".to_owned());
    }
    let tcp_max_connections = match args.tcp_max_connections {
        Some(0) => return Err("--tcp-max-connections must be at least 1".to_owned()),
        Some(n) => n,
        None => server::DEFAULT_TCP_MAX_CONNECTIONS.saturating_mul(workers),
    };
    Ok(server::Settings {
        handler: handler::Config {
            max_udp_payload: args.max_udp_size,
            limits: limits(
                args.max_records_per_rrset,
                args.max_types_per_name,
                args.max_zone_records,
            )?,
            tsig_fudge_max: args.tsig_fudge_max,
            // Each worker limits its own share: the kernel spreads one
            // source's datagrams over the workers' sockets.
            rrl_rate: args
                .rrl_rate
                .div_ceil(u32::try_from(workers).unwrap_or(u32::MAX).max(1)),
            rrl_slip: args.rrl_slip,
        },
        tcp_idle_timeout: Duration::from_secs(args.tcp_idle_timeout),
        tcp_max_connections,
        tcp_max_per_prefix: args.tcp_max_per_prefix.max(1),
    })
}

/// The quotas from their flags, checked (shared with `import`).
pub fn limits(
    records_per_rrset: u32,
    types_per_name: u32,
    zone_records: u64,
) -> Result<Limits, String> {
    if records_per_rrset == 0 {
        return Err("--max-records-per-rrset must be at least 1".to_owned());
    }
    if types_per_name < 2 {
        return Err(
            "--max-types-per-name must be at least 2 (the apex holds SOA and NS)".to_owned(),
        );
    }
    if zone_records < 2 {
        return Err(
            "--max-zone-records must be at least 2 (a zone holds an SOA and an NS)".to_owned(),
        );
    }
    Ok(Limits {
        max_records_per_rrset: records_per_rrset,
        max_types_per_name: types_per_name,
        max_zone_records: zone_records,
    })
}

/// Creates zone `apex` with a default SOA and apex NS unless it exists.
fn add_zone(store: &Store, apex: &NameBuf, args: &ServeArgs) -> Result<(), String> {
    let exists = store
        .has_zone(apex.as_name())
        .map_err(|e| format!("cannot look up zone {apex}: {e}"))?;
    if exists {
        return Ok(());
    }
    let records = default_zone(apex, &args.ns, args.hostmaster.as_ref(), args.default_ttl)?;
    store
        .replace_zone(apex.as_name(), &records)
        .map_err(|e| format!("cannot create zone {apex}: {e}"))?;
    log::info!("created zone {apex} with a default SOA and NS");
    Ok(())
}

/// The SOA and NS records of a new zone: MNAME the first name server, RNAME the
/// hostmaster, serial 1 and the `SOA_*` timers; one NS per name server.
fn default_zone(
    apex: &NameBuf,
    ns: &[NameBuf],
    hostmaster: Option<&NameBuf>,
    ttl: u32,
) -> Result<Vec<ZoneRecord>, String> {
    // `{apex}` ends with a dot, and is only "." for the root zone.
    let below = |label: &str| {
        let text = if apex.as_name().is_root() {
            format!("{label}.")
        } else {
            format!("{label}.{apex}")
        };
        NameBuf::from_text(&text).map_err(|e| format!("cannot make a name below {apex}: {e:?}"))
    };
    let servers = if ns.is_empty() {
        vec![below("ns1")?]
    } else {
        ns.to_vec()
    };
    let rname = match hostmaster {
        Some(name) => *name,
        None => below("hostmaster")?,
    };
    let mname = servers.first().copied().ok_or("no name server")?;
    let soa = RData::Soa(Soa {
        mname: mname.as_name(),
        rname: rname.as_name(),
        serial: 1,
        refresh: SOA_REFRESH,
        retry: SOA_RETRY,
        expire: SOA_EXPIRE,
        minimum: SOA_MINIMUM,
    });
    let mut records = vec![record(apex, Rtype::Soa, ttl, &soa)?];
    for server in &servers {
        records.push(record(apex, Rtype::Ns, ttl, &RData::Ns(server.as_name()))?);
    }
    Ok(records)
}

fn record(owner: &NameBuf, rtype: Rtype, ttl: u32, data: &RData<'_>) -> Result<ZoneRecord, String> {
    let mut buf = [0u8; 2 * 255 + 20];
    let len = write_rdata(&mut buf, data).map_err(|e| format!("building {rtype}: {e:?}"))?;
    Ok(ZoneRecord {
        owner: *owner,
        rtype,
        ttl,
        rdata: buf.get(..len).unwrap_or_default().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_soa_and_ns() {
        let apex = NameBuf::from_text("example.org").unwrap();
        let records = default_zone(&apex, &[], None, 3600).unwrap();
        assert_eq!(records.len(), 2);
        let soa = records.first().unwrap();
        assert_eq!((soa.rtype, soa.ttl), (Rtype::Soa, 3600));
        let Ok(RData::Soa(s)) = RData::from_wire(Rtype::Soa, &soa.rdata) else {
            panic!("SOA rdata does not parse");
        };
        assert_eq!(s.mname.to_string(), "ns1.example.org.");
        assert_eq!(s.rname.to_string(), "hostmaster.example.org.");
        assert_eq!(
            (s.serial, s.refresh, s.retry, s.expire, s.minimum),
            (1, 3600, 900, 1_209_600, 300)
        );
        let ns = records.get(1).unwrap();
        assert_eq!(ns.rtype, Rtype::Ns);
        let Ok(RData::Ns(target)) = RData::from_wire(Rtype::Ns, &ns.rdata) else {
            panic!("NS rdata does not parse");
        };
        assert_eq!(target.to_string(), "ns1.example.org.");
    }

    #[test]
    fn the_root_zone_gets_names_below_it() {
        let apex = NameBuf::from_text(".").unwrap();
        let records = default_zone(&apex, &[], None, 3600).unwrap();
        let Ok(RData::Soa(s)) = RData::from_wire(Rtype::Soa, &records[0].rdata) else {
            panic!("SOA rdata does not parse");
        };
        assert_eq!(s.mname.to_string(), "ns1.");
        assert_eq!(s.rname.to_string(), "hostmaster.");
    }

    #[test]
    fn given_servers_and_hostmaster() {
        let apex = NameBuf::from_text("example.org").unwrap();
        let ns = [
            NameBuf::from_text("a.ns.test").unwrap(),
            NameBuf::from_text("b.ns.test").unwrap(),
        ];
        let rname = NameBuf::from_text("dns.example.net").unwrap();
        let records = default_zone(&apex, &ns, Some(&rname), 60).unwrap();
        assert_eq!(records.len(), 3);
        let Ok(RData::Soa(s)) = RData::from_wire(Rtype::Soa, &records[0].rdata) else {
            panic!("SOA rdata does not parse");
        };
        assert_eq!(s.mname.to_string(), "a.ns.test.");
        assert_eq!(s.rname.to_string(), "dns.example.net.");
        assert!(records.iter().all(|r| r.ttl == 60));
    }
}

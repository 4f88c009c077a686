//! Counters of what the request path decided, and the Prometheus text format
//! (version 0.0.4) they are served in by `serve --metrics`.
//!
//! Each worker counts in its own [`Counters`]: plain integers in fixed arrays,
//! touched only by that worker's thread (no atomics on the request path, and
//! none of 64 bits, which 32-bit MIPS lacks). The one place that knows what a
//! request became, the handler's single exit, counts it. Now and then (at most
//! every [`PUBLISH_EVERY`], and on the worker's tick) the worker copies its
//! counters into its slot of the shared [`Board`] with `try_lock`, so a scrape
//! in progress never makes a worker wait; a scrape sums the slots.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::Store;
use crate::wire::{Name, NameBuf, Opcode, Rcode, Rtype};

/// How often a busy worker publishes its counters.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// `dynzone_requests_total{opcode}` values.
const OPCODES: [&str; 4] = ["query", "notify", "update", "other"];
/// RCODEs counted by name (RFC 6895 §2.3); the rest are `other`.
const RCODES: [&str; 24] = [
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
    "DSOTYPENI",
    "RESERVED12",
    "RESERVED13",
    "RESERVED14",
    "RESERVED15",
    "BADVERS",
    "BADKEY",
    "BADTIME",
    "BADMODE",
    "BADNAME",
    "BADALG",
    "BADTRUNC",
    "BADCOOKIE",
];
/// Query types counted by name; the rest are `other`.
const QTYPES: [(Rtype, &str); 17] = [
    (Rtype::A, "A"),
    (Rtype::Aaaa, "AAAA"),
    (Rtype::Cname, "CNAME"),
    (Rtype::Mx, "MX"),
    (Rtype::Ns, "NS"),
    (Rtype::Ptr, "PTR"),
    (Rtype::Soa, "SOA"),
    (Rtype::Srv, "SRV"),
    (Rtype::Txt, "TXT"),
    (Rtype::Caa, "CAA"),
    (Rtype::Https, "HTTPS"),
    (Rtype::Svcb, "SVCB"),
    (Rtype::Ds, "DS"),
    (Rtype::Dnskey, "DNSKEY"),
    (Rtype::Any, "ANY"),
    (Rtype::Axfr, "AXFR"),
    (Rtype::Ixfr, "IXFR"),
];

/// Why a request got no answer, or an answer was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Shorter than a DNS header (RFC 1035 §4.1.1).
    ShortHeader,
    /// QR set: a response sent to us.
    Response,
    /// A datagram longer than any DNS message.
    Oversize,
    /// The kernel refused to send the answer (full buffer, bad destination).
    SendFailed,
    /// A TCP frame that cannot be a request closed its connection.
    NotARequest,
    /// Response rate limiting dropped the answer.
    RateLimited,
    /// Response rate limiting sent a truncated answer instead.
    RateSlipped,
}

const DROPS: [&str; 7] = [
    "short_header",
    "response",
    "oversize",
    "send_failed",
    "not_a_request",
    "rate_limited",
    "rate_slipped",
];

/// What became of an UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateResult {
    /// Applied, and records changed.
    Applied,
    /// Applied, nothing changed.
    NoOp,
    /// Refused by the grants (REFUSED).
    Refused,
    /// A prerequisite failed (YXDOMAIN, NXDOMAIN, YXRRSET, NXRRSET).
    Prerequisite,
    /// A name outside the zone (NOTZONE).
    NotZone,
    /// The zone is not ours, or the TSIG check failed (NOTAUTH).
    NotAuth,
    /// Malformed (FORMERR).
    FormErr,
    /// The store failed, or the commit did (SERVFAIL).
    ServFail,
    /// A quota would have been exceeded (REFUSED).
    Quota,
    /// Not signed (REFUSED).
    Unsigned,
    /// Seen before (NOTAUTH, BADTIME).
    Replay,
}

const UPDATES: [&str; 11] = [
    "applied",
    "noop",
    "refused",
    "prerequisite_failed",
    "notzone",
    "notauth",
    "formerr",
    "servfail",
    "quota",
    "unsigned",
    "replay",
];

impl UpdateResult {
    /// The result an UPDATE refused with `rcode` before it changed anything.
    pub fn of_refusal(rcode: Rcode) -> UpdateResult {
        match rcode {
            Rcode::Refused => UpdateResult::Refused,
            Rcode::YxDomain | Rcode::NxDomain | Rcode::YxRrset | Rcode::NxRrset => {
                UpdateResult::Prerequisite
            }
            Rcode::NotZone => UpdateResult::NotZone,
            Rcode::NotAuth => UpdateResult::NotAuth,
            Rcode::FormErr => UpdateResult::FormErr,
            _ => UpdateResult::ServFail,
        }
    }
}

/// What became of a zone transfer request (AXFR or IXFR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferResult {
    /// The whole zone was sent (AXFR, or IXFR AXFR-style).
    Zone,
    /// The SOA alone: IXFR from a client as new as us, and every IXFR over
    /// UDP.
    SoaOnly,
    /// IXFR answered with the changes from the journal (RFC 1995 §4).
    Incremental,
    /// Not allowed by `--allow-transfer` (REFUSED).
    Refused,
    /// Not the apex of a zone of ours (NOTAUTH).
    NotAuth,
    /// AXFR over UDP (NOTIMP).
    NotImp,
    /// No stream could start: too many running, or the store failed (SERVFAIL).
    ServFail,
}

impl TransferResult {
    /// The result of a transfer request answered `rcode` without a stream.
    pub fn of_refusal(rcode: Rcode) -> TransferResult {
        match rcode {
            Rcode::Refused => TransferResult::Refused,
            Rcode::NotAuth => TransferResult::NotAuth,
            Rcode::NotImp => TransferResult::NotImp,
            _ => TransferResult::ServFail,
        }
    }
}

const TRANSFERS: [&str; 7] = [
    "zone",
    "soa_only",
    "incremental",
    "refused",
    "notauth",
    "notimp",
    "servfail",
];

/// The transfer types counted.
const TRANSFER_TYPES: [&str; 2] = ["axfr", "ixfr"];

/// What the TSIG check of a signed request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigResult {
    /// The MAC verified.
    Ok,
    /// Unknown key, or another algorithm (BADKEY).
    BadKey,
    /// The MAC does not verify (BADSIG).
    BadSig,
    /// A MAC size the RFC forbids (FORMERR).
    BadMacSize,
    /// Outside the time window (BADTIME).
    BadTime,
    /// A verified UPDATE seen before.
    Replay,
}

const TSIG: [&str; 6] = [
    "ok",
    "badkey",
    "badsig",
    "bad_mac_size",
    "badtime",
    "replay",
];

/// Upper bounds of the commit-time histogram buckets, in seconds (an fsync
/// on flash or a disk takes from a fraction of a millisecond to tens).
const COMMIT_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Zones whose last update time one worker remembers.
const ZONES: usize = 16;

/// The TCP connections of one worker, as its connection slab counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounts {
    /// Open now.
    pub open: u64,
    /// Accepted since the start.
    pub accepted: u64,
    /// Closed to make room for a new one (RFC 7766 §6.2.2).
    pub evicted: u64,
}

/// One worker's counters. Plain integers, `Copy`, no allocation.
#[derive(Clone, Copy)]
pub struct Counters {
    /// By transport (UDP, TCP), address family (IPv4, IPv6) and opcode.
    requests: [[[u64; OPCODES.len()]; 2]; 2],
    /// By RCODE; the last slot is `other`.
    responses: [u64; RCODES.len() + 1],
    /// By QTYPE of queries; the last slot is `other`.
    qtypes: [u64; QTYPES.len() + 1],
    /// Answers sent with TC set.
    truncated: u64,
    dropped: [u64; DROPS.len()],
    updates: [u64; UPDATES.len()],
    tsig: [u64; TSIG.len()],
    /// By type (AXFR, IXFR) and result.
    transfers: [[u64; TRANSFERS.len()]; TRANSFER_TYPES.len()],
    /// Commits by bucket (the last is +Inf), their count and total time.
    commit_buckets: [u64; COMMIT_BUCKETS.len() + 1],
    commit_count: u64,
    commit_micros: u64,
    tcp: TcpCounts,
    /// Zones this worker updated, with the Unix time of the last commit.
    zone_updates: [(NameBuf, u64); ZONES],
    zone_count: usize,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            requests: [[[0; OPCODES.len()]; 2]; 2],
            responses: [0; RCODES.len() + 1],
            qtypes: [0; QTYPES.len() + 1],
            truncated: 0,
            dropped: [0; DROPS.len()],
            updates: [0; UPDATES.len()],
            tsig: [0; TSIG.len()],
            transfers: [[0; TRANSFERS.len()]; TRANSFER_TYPES.len()],
            commit_buckets: [0; COMMIT_BUCKETS.len() + 1],
            commit_count: 0,
            commit_micros: 0,
            tcp: TcpCounts::default(),
            zone_updates: [(NameBuf::root(), 0); ZONES],
            zone_count: 0,
        }
    }
}

fn bump(slot: Option<&mut u64>) {
    if let Some(n) = slot {
        *n = n.wrapping_add(1);
    }
}

impl Counters {
    /// A request that was parsed far enough to answer or drop.
    pub fn request(&mut self, tcp: bool, ipv6: bool, opcode: Opcode) {
        let op = match opcode {
            Opcode::Query => 0,
            Opcode::Notify => 1,
            Opcode::Update => 2,
            _ => 3,
        };
        bump(
            self.requests
                .get_mut(usize::from(tcp))
                .and_then(|t| t.get_mut(usize::from(ipv6)))
                .and_then(|f| f.get_mut(op)),
        );
    }

    /// An answer with `rcode` (the full 12-bit one), `tc` when truncated.
    pub fn response(&mut self, rcode: Rcode, tc: bool) {
        let index = usize::from(u16::from(rcode)).min(RCODES.len());
        bump(self.responses.get_mut(index));
        if tc {
            self.truncated = self.truncated.wrapping_add(1);
        }
    }

    /// A query for `qtype`.
    pub fn query_type(&mut self, qtype: Rtype) {
        let index = QTYPES
            .iter()
            .position(|(t, _)| *t == qtype)
            .unwrap_or(QTYPES.len());
        bump(self.qtypes.get_mut(index));
    }

    /// A request or answer dropped.
    pub fn dropped(&mut self, why: Drop) {
        bump(self.dropped.get_mut(why as usize));
    }

    /// What became of an UPDATE.
    pub fn update(&mut self, result: UpdateResult) {
        bump(self.updates.get_mut(result as usize));
    }

    /// A transfer request (`ixfr`: IXFR, else AXFR) and what became of it.
    pub fn transfer(&mut self, ixfr: bool, result: TransferResult) {
        let row = self.transfers.get_mut(usize::from(ixfr));
        bump(row.and_then(|r| r.get_mut(result as usize)));
    }

    /// A TSIG check.
    pub fn tsig(&mut self, result: TsigResult) {
        bump(self.tsig.get_mut(result as usize));
    }

    /// A commit that took `took`.
    pub fn commit(&mut self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = COMMIT_BUCKETS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(COMMIT_BUCKETS.len());
        bump(self.commit_buckets.get_mut(bucket));
        self.commit_count = self.commit_count.wrapping_add(1);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.commit_micros = self.commit_micros.wrapping_add(micros);
    }

    /// `zone` committed a change at `unix` seconds.
    pub fn zone_updated(&mut self, zone: Name<'_>, unix: u64) {
        let known = self
            .zone_updates
            .get_mut(..self.zone_count)
            .unwrap_or_default();
        if let Some(entry) = known.iter_mut().find(|(z, _)| z.as_name() == zone) {
            entry.1 = unix;
            return;
        }
        if let Some(slot) = self.zone_updates.get_mut(self.zone_count) {
            *slot = (zone.to_canonical(), unix);
            self.zone_count += 1;
        } else if let Some(oldest) = self.zone_updates.iter_mut().min_by_key(|(_, t)| *t) {
            // More zones than slots: forget the one updated longest ago.
            *oldest = (zone.to_canonical(), unix);
        }
    }

    /// What the worker's TCP connection slab counted so far (it counts
    /// itself, at accept, eviction and close; the worker copies the counts
    /// here before it publishes).
    pub fn set_tcp(&mut self, tcp: TcpCounts) {
        self.tcp = tcp;
    }

    /// Adds `other` into these counters (a scrape sums the workers).
    fn add(&mut self, other: &Counters) {
        fn add_all<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
            for (x, y) in a.iter_mut().zip(b) {
                *x = x.wrapping_add(*y);
            }
        }
        for (a, b) in self.requests.iter_mut().zip(&other.requests) {
            for (a, b) in a.iter_mut().zip(b) {
                add_all(a, b);
            }
        }
        add_all(&mut self.responses, &other.responses);
        add_all(&mut self.qtypes, &other.qtypes);
        add_all(&mut self.dropped, &other.dropped);
        add_all(&mut self.updates, &other.updates);
        add_all(&mut self.tsig, &other.tsig);
        for (a, b) in self.transfers.iter_mut().zip(&other.transfers) {
            add_all(a, b);
        }
        add_all(&mut self.commit_buckets, &other.commit_buckets);
        self.truncated = self.truncated.wrapping_add(other.truncated);
        self.commit_count = self.commit_count.wrapping_add(other.commit_count);
        self.commit_micros = self.commit_micros.wrapping_add(other.commit_micros);
        self.tcp.open = self.tcp.open.wrapping_add(other.tcp.open);
        self.tcp.accepted = self.tcp.accepted.wrapping_add(other.tcp.accepted);
        self.tcp.evicted = self.tcp.evicted.wrapping_add(other.tcp.evicted);
        for (zone, unix) in other.zone_updates.iter().take(other.zone_count) {
            let known = self.zone_updates.get(..self.zone_count).unwrap_or_default();
            let newer = known
                .iter()
                .find(|(z, _)| z == zone)
                .is_none_or(|(_, t)| t < unix);
            if newer {
                self.zone_updated(zone.as_name(), *unix);
            }
        }
    }
}

/// The slots the workers publish their counters into; shared with the
/// metrics endpoint.
pub struct Board {
    slots: Vec<Mutex<Counters>>,
    started: u64,
    /// NOTIFYs by result, counted by the notifier thread.
    notifies: [std::sync::atomic::AtomicU64; NOTIFIES.len()],
}

/// What became of the NOTIFYs for one change to one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyResult {
    /// Answered NOERROR.
    Acknowledged,
    /// Answered with an error (NOTAUTH, REFUSED...).
    Refused,
    /// No answer after every try.
    Failed,
}

const NOTIFIES: [&str; 3] = ["acknowledged", "refused", "failed"];

impl Board {
    /// A board for `workers` workers, started now.
    pub fn new(workers: usize) -> Arc<Board> {
        Arc::new(Board {
            slots: (0..workers)
                .map(|_| Mutex::new(Counters::default()))
                .collect(),
            started: unix_now(),
            notifies: Default::default(),
        })
    }

    /// Copies worker `index`'s counters into its slot, unless a scrape holds
    /// it: then the next publish will. Never waits.
    pub fn publish(&self, index: usize, counters: &Counters) {
        if let Some(Ok(mut slot)) = self.slots.get(index).map(Mutex::try_lock) {
            *slot = *counters;
        }
    }

    /// Counts what became of the NOTIFYs for one change to one target.
    pub fn notified(&self, result: NotifyResult) {
        if let Some(n) = self.notifies.get(result as usize) {
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The sum of every worker's last published counters.
    pub fn total(&self) -> Counters {
        let mut total = Counters::default();
        for slot in &self.slots {
            let copy = match slot.lock() {
                Ok(c) => *c,
                Err(poisoned) => *poisoned.into_inner(),
            };
            total.add(&copy);
        }
        total
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The metrics page: every counter of `board`, and the zones of `store`.
pub fn render(board: &Board, store: &Store) -> String {
    let c = board.total();
    let mut text = String::with_capacity(8192);
    let head = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    let o = &mut text;
    head(o, "dynzone_build_info", "gauge", "Version of this dynzone.");
    let _ = writeln!(
        o,
        "dynzone_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    head(
        o,
        "dynzone_start_time_seconds",
        "gauge",
        "When the server started, seconds since the Unix epoch.",
    );
    let _ = writeln!(o, "dynzone_start_time_seconds {}", board.started);
    head(
        o,
        "dynzone_requests_total",
        "counter",
        "Requests by transport, address family and opcode.",
    );
    for (transport, by_family) in ["udp", "tcp"].iter().zip(&c.requests) {
        for (fam, by_opcode) in ["ipv4", "ipv6"].iter().zip(by_family) {
            for (opcode, n) in OPCODES.iter().zip(by_opcode) {
                let _ = writeln!(
                    o,
                    "dynzone_requests_total{{transport=\"{transport}\",family=\"{fam}\",opcode=\"{opcode}\"}} {n}"
                );
            }
        }
    }
    head(
        o,
        "dynzone_responses_total",
        "counter",
        "Responses by RCODE.",
    );
    for (i, n) in c.responses.iter().enumerate() {
        let rcode = RCODES.get(i).copied().unwrap_or("other");
        let _ = writeln!(o, "dynzone_responses_total{{rcode=\"{rcode}\"}} {n}");
    }
    head(
        o,
        "dynzone_truncated_total",
        "counter",
        "Responses sent with TC set.",
    );
    let _ = writeln!(o, "dynzone_truncated_total {}", c.truncated);
    head(
        o,
        "dynzone_query_types_total",
        "counter",
        "Queries by QTYPE.",
    );
    for (i, n) in c.qtypes.iter().enumerate() {
        let qtype = QTYPES.get(i).map_or("other", |(_, name)| name);
        let _ = writeln!(o, "dynzone_query_types_total{{type=\"{qtype}\"}} {n}");
    }
    head(
        o,
        "dynzone_dropped_total",
        "counter",
        "Requests or answers dropped, by reason.",
    );
    for (reason, n) in DROPS.iter().zip(&c.dropped) {
        let _ = writeln!(o, "dynzone_dropped_total{{reason=\"{reason}\"}} {n}");
    }
    head(
        o,
        "dynzone_updates_total",
        "counter",
        "UPDATE requests by result.",
    );
    for (result, n) in UPDATES.iter().zip(&c.updates) {
        let _ = writeln!(o, "dynzone_updates_total{{result=\"{result}\"}} {n}");
    }
    head(
        o,
        "dynzone_transfers_total",
        "counter",
        "Zone transfer requests by type and result.",
    );
    for (kind, row) in TRANSFER_TYPES.iter().zip(&c.transfers) {
        for (result, n) in TRANSFERS.iter().zip(row) {
            let _ = writeln!(
                o,
                "dynzone_transfers_total{{type=\"{kind}\",result=\"{result}\"}} {n}"
            );
        }
    }
    head(
        o,
        "dynzone_notifies_total",
        "counter",
        "NOTIFYs sent for a change to a target, by outcome.",
    );
    for (result, n) in NOTIFIES.iter().zip(&board.notifies) {
        let n = n.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(o, "dynzone_notifies_total{{result=\"{result}\"}} {n}");
    }
    head(
        o,
        "dynzone_tsig_total",
        "counter",
        "TSIG checks of signed requests by result.",
    );
    for (result, n) in TSIG.iter().zip(&c.tsig) {
        let _ = writeln!(o, "dynzone_tsig_total{{result=\"{result}\"}} {n}");
    }
    head(
        o,
        "dynzone_update_commit_seconds",
        "histogram",
        "Time to commit a batch of updates (one fsync).",
    );
    let mut cumulative = 0u64;
    for (i, n) in c.commit_buckets.iter().enumerate() {
        cumulative = cumulative.wrapping_add(*n);
        match COMMIT_BUCKETS.get(i) {
            Some(le) => {
                let _ = writeln!(
                    o,
                    "dynzone_update_commit_seconds_bucket{{le=\"{le}\"}} {cumulative}"
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "dynzone_update_commit_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
                );
            }
        }
    }
    let _ = writeln!(
        o,
        "dynzone_update_commit_seconds_sum {}",
        c.commit_micros as f64 / 1e6
    );
    let _ = writeln!(o, "dynzone_update_commit_seconds_count {}", c.commit_count);
    head(
        o,
        "dynzone_tcp_connections_open",
        "gauge",
        "TCP connections open.",
    );
    let _ = writeln!(o, "dynzone_tcp_connections_open {}", c.tcp.open);
    head(
        o,
        "dynzone_tcp_connections_total",
        "counter",
        "TCP connections accepted.",
    );
    let _ = writeln!(o, "dynzone_tcp_connections_total {}", c.tcp.accepted);
    head(
        o,
        "dynzone_tcp_connections_evicted_total",
        "counter",
        "TCP connections closed to make room for a new one.",
    );
    let _ = writeln!(o, "dynzone_tcp_connections_evicted_total {}", c.tcp.evicted);
    match store.zone_stats() {
        Ok(zones) => {
            head(
                o,
                "dynzone_zone_serial",
                "gauge",
                "SOA serial of each zone.",
            );
            for z in &zones {
                let _ = writeln!(
                    o,
                    "dynzone_zone_serial{{zone=\"{}\"}} {}",
                    label(&z.apex),
                    z.serial
                );
            }
            head(o, "dynzone_zone_records", "gauge", "Records in each zone.");
            for z in &zones {
                let _ = writeln!(
                    o,
                    "dynzone_zone_records{{zone=\"{}\"}} {}",
                    label(&z.apex),
                    z.records
                );
            }
            head(
                o,
                "dynzone_zone_last_update_timestamp_seconds",
                "gauge",
                "When an UPDATE last changed the zone (0: not since start).",
            );
            for z in &zones {
                let last = c
                    .zone_updates
                    .iter()
                    .take(c.zone_count)
                    .find(|(zone, _)| zone.as_name() == z.apex.as_name())
                    .map_or(0, |(_, t)| *t);
                let _ = writeln!(
                    o,
                    "dynzone_zone_last_update_timestamp_seconds{{zone=\"{}\"}} {last}",
                    label(&z.apex)
                );
            }
        }
        Err(e) => log::error!("metrics: cannot read the zones: {e:?}"),
    }
    text
}

/// A zone name as a label value: presentation form, with `\` and `"`
/// escaped as the text format requires.
fn label(name: &NameBuf) -> String {
    name.to_string().replace('\\', "\\\\").replace('"', "\\\"")
}

/// Longest request head read from a scraper.
const REQUEST_MAX: usize = 8192;
/// How long a scraper may take to send its request or read the answer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves `GET /metrics` on `listener` until the process ends, one
/// connection at a time: read the request (parsed with httparse), answer in
/// one write, close. Runs on its own thread; nothing on the DNS path waits
/// for it.
pub fn serve(listener: TcpListener, board: Arc<Board>, store: Store) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let peer = stream.peer_addr().ok();
                if let Err(e) = scrape(stream, &board, &store) {
                    log::debug!("metrics: scrape from {peer:?} failed: {e}");
                }
            }
            Err(e) => {
                log::warn!("metrics: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Binds the metrics listener: at start-up, beside the DNS sockets, so that
/// a bad address fails the start before anything runs.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Serves `listener` ([`serve`]) on a new thread.
pub fn start(listener: TcpListener, board: Arc<Board>, store: Store) -> io::Result<()> {
    std::thread::Builder::new()
        .name("dynzone-metrics".into())
        .spawn(move || serve(listener, board, store))?;
    Ok(())
}

fn scrape(mut stream: TcpStream, board: &Board, store: &Store) -> io::Result<()> {
    stream.set_read_timeout(Some(SCRAPE_TIMEOUT))?;
    stream.set_write_timeout(Some(SCRAPE_TIMEOUT))?;
    let mut buf = [0u8; REQUEST_MAX];
    let mut len = 0;
    let (status, body) = loop {
        let n = stream.read(buf.get_mut(len..).unwrap_or_default())?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(buf.get(..len).unwrap_or_default()) {
            Ok(httparse::Status::Complete(_)) => {
                break match (request.method, request.path) {
                    (Some("GET"), Some("/metrics")) => ("200 OK", render(board, store)),
                    (Some("GET"), _) => ("404 Not Found", "not found; try /metrics\n".into()),
                    _ => ("405 Method Not Allowed", "only GET\n".into()),
                };
            }
            Ok(httparse::Status::Partial) if len < buf.len() => {}
            Ok(httparse::Status::Partial) => {
                break ("431 Request Header Fields Too Large", String::new());
            }
            Err(_) => break ("400 Bad Request", String::new()),
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)
}

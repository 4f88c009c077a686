//! `serve --metrics`: the release binary on loopback gets known traffic — raw
//! UDP and TCP queries (tests/common), `dig` and `nsupdate` (package
//! bind9-dnsutils) — then `GET /metrics` is scraped over a plain TCP
//! connection and every count is asserted exactly. The page is checked
//! against the Prometheus text format 0.0.4 by the parser below, every line
//! of it, and also by `promtool check metrics` when that is installed
//! (package prometheus); the parser always runs, so nothing is skipped.
//!
//! Workers publish their counters periodically (at most every 100 ms, and at
//! every tick), so a scrape shows the traffic eventually: the tests poll
//! until it does, within [`LIVENESS_BOUND`], and print how long it took.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::net::{closed_within, read_frames, udp_exchange_tries};
use common::printed::dig;
use common::wire::{frame, query, rcode_of};
use common::{LIVENESS_BOUND, TestServer, nsupdate, pick_port, run_tool, time_until};
use dynzone::wire::{Rcode, Rtype};

/// Eight records; serial 7.
const ZONE: &str = r#"$ORIGIN example.test.
$TTL 300
@       3600 IN SOA ns1 hostmaster 7 3600 900 1209600 300
@       3600 IN NS  ns1
@            IN MX  10 mail
ns1          IN A   192.0.2.1
mail         IN A   192.0.2.25
www          IN A   192.0.2.10
www          IN AAAA 2001:db8::10
www          IN TXT "web"
"#;
const ZONE_RECORDS: f64 = 8.0;
const ZONE_SERIAL: u32 = 7;

/// The one key, as `nsupdate -y` and `--tsig` take it.
const KEY: &str = "hmac-sha256:k-sha256:ZHluem9uZSBzaGEyNTYgdGVzdCBrZXksIDMyIGJ5dGU=";
/// A key name the server does not know, with the same secret: BADKEY.
const UNKNOWN_KEY: &str = "hmac-sha256:k-unknown:ZHluem9uZSBzaGEyNTYgdGVzdCBrZXksIDMyIGJ5dGU=";

/// `dynzone serve` on the zone with the key, allowed to change only names
/// at or below dyn.example.test, metrics on a free loopback port, and
/// `extra` flags; returns the server and the metrics address.
fn start(extra: &[&str]) -> (TestServer, SocketAddr) {
    let metrics = SocketAddr::from(([127, 0, 0, 1], pick_port()));
    let metrics_flag = metrics.to_string();
    let mut args = vec![
        "--metrics",
        &metrics_flag,
        "--tsig",
        KEY,
        "--grant",
        "k-sha256:dyn.example.test",
    ];
    args.extend_from_slice(extra);
    let server = TestServer::start(ZONE, "example.test", &args);
    (server, metrics)
}

/// One HTTP exchange: `request` sent as is on a new connection, the answer
/// read until the server closes. Returns the status code, the headers (names
/// lower case) and the body.
fn http(addr: SocketAddr, request: &str) -> (u16, BTreeMap<String, String>, String) {
    let mut stream = TcpStream::connect(addr).expect("connecting to the metrics port");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream
        .write_all(request.as_bytes())
        .expect("sending the request");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .expect("reading until the server closes");
    let text = String::from_utf8(raw).expect("the answer is UTF-8");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of the HTTP head:\n{text}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 status line: {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("not a header: {line:?}"));
            (name.to_ascii_lowercase(), value.trim().to_string())
        })
        .collect::<BTreeMap<_, _>>();
    if let Some(len) = headers.get("content-length") {
        assert_eq!(
            len.parse::<usize>().ok(),
            Some(body.len()),
            "Content-Length"
        );
    }
    (status, headers, body.to_string())
}

/// `GET /metrics`, answered 200 with the text format's content type; the
/// page, checked (see [`Page::parse`]).
fn scrape(addr: SocketAddr) -> Page {
    let (status, headers, body) = http(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    Page::parse(&body)
}

/// One sample: its labels and value.
type Labels = BTreeMap<String, String>;

/// A metrics page, parsed and checked line by line.
#[derive(Debug)]
struct Page {
    text: String,
    /// Family name → TYPE.
    types: BTreeMap<String, String>,
    /// Sample name → every (labels, value) of it, in page order.
    samples: BTreeMap<String, Vec<(Labels, f64)>>,
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// A sample value as the format allows it: a Go float, or +Inf, -Inf, NaN.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// `{name="value",...}` at the start of `text`: the labels, and what
/// follows the closing brace. Values may hold `\\`, `\"` and `\n`.
fn parse_labels(text: &str, line: &str) -> (Labels, String) {
    let mut labels = Labels::new();
    let mut rest = text
        .strip_prefix('{')
        .unwrap_or_else(|| panic!("no label set: {line:?}"));
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after.to_string());
        }
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("a label without =\": {line:?}"));
        assert!(is_label_name(name), "bad label name {name:?}: {line:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => panic!("bad escape {other:?} in a label value: {line:?}"),
                },
                Some((_, c)) => value.push(c),
                None => panic!("an unterminated label value: {line:?}"),
            }
        };
        assert!(
            labels.insert(name.to_string(), value).is_none(),
            "label {name} twice: {line:?}"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

impl Page {
    /// Parses `text` and checks it against the text format 0.0.4: every line
    /// a `# HELP`, a `# TYPE` or a sample; HELP and TYPE at most once per
    /// family and TYPE before its samples; every sample of a declared family,
    /// the lines of a family together, no sample twice; histogram buckets
    /// ascending in `le`, cumulative, ending at `+Inf` equal to `_count`,
    /// with a `_sum`; counters not negative; a newline at the end.
    fn parse(text: &str) -> Page {
        assert!(text.ends_with('\n'), "no newline at the end of the page");
        let mut page = Page {
            text: text.to_string(),
            types: BTreeMap::new(),
            samples: BTreeMap::new(),
        };
        let mut helped = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut finished = BTreeSet::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _) = rest.split_once(' ').unwrap_or((rest, ""));
                assert!(is_metric_name(name), "bad name in {line:?}");
                assert!(helped.insert(name.to_string()), "HELP twice: {line:?}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("TYPE without a type: {line:?}"));
                assert!(is_metric_name(name), "bad name in {line:?}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "unknown type: {line:?}"
                );
                assert!(
                    page.types
                        .insert(name.to_string(), kind.to_string())
                        .is_none(),
                    "TYPE twice: {line:?}"
                );
                assert!(
                    !page
                        .samples
                        .keys()
                        .any(|s| family_of(&page.types, s) == name),
                    "TYPE after its samples: {line:?}"
                );
                continue;
            }
            assert!(
                !line.starts_with('#') && !line.trim().is_empty(),
                "neither HELP, TYPE nor a sample: {line:?}"
            );
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = &line[..name_end];
            assert!(is_metric_name(name), "bad sample name: {line:?}");
            let (labels, rest) = if line[name_end..].starts_with('{') {
                parse_labels(&line[name_end..], line)
            } else {
                (Labels::new(), line[name_end..].to_string())
            };
            let mut fields = rest.split_whitespace();
            let value = fields
                .next()
                .and_then(parse_value)
                .unwrap_or_else(|| panic!("no value: {line:?}"));
            if let Some(timestamp) = fields.next() {
                assert!(timestamp.parse::<i64>().is_ok(), "bad timestamp: {line:?}");
            }
            assert!(fields.next().is_none(), "more after the value: {line:?}");
            let family = family_of(&page.types, name).to_string();
            let kind = page
                .types
                .get(&family)
                .unwrap_or_else(|| panic!("a sample of no declared family: {line:?}"));
            if kind == "counter" {
                assert!(value >= 0.0, "a negative counter: {line:?}");
            }
            if current.as_deref() != Some(&family) {
                assert!(
                    !finished.contains(&family),
                    "the lines of {family} are not together: {line:?}"
                );
                if let Some(previous) = current.replace(family.clone()) {
                    finished.insert(previous);
                }
            }
            let key = format!("{name}{labels:?}");
            assert!(seen.insert(key), "sample twice: {line:?}");
            page.samples
                .entry(name.to_string())
                .or_default()
                .push((labels, value));
        }
        for (family, kind) in &page.types {
            if kind == "histogram" {
                page.check_histogram(family);
            }
        }
        page
    }

    fn check_histogram(&self, family: &str) {
        let buckets = self
            .samples
            .get(&format!("{family}_bucket"))
            .unwrap_or_else(|| panic!("{family}: no buckets"));
        let mut last_le = f64::NEG_INFINITY;
        let mut last_count = 0.0;
        for (labels, count) in buckets {
            let le = labels
                .get("le")
                .and_then(|le| parse_value(le))
                .unwrap_or_else(|| panic!("{family}: a bucket without le: {labels:?}"));
            assert!(le > last_le, "{family}: le not ascending at {le}");
            assert!(*count >= last_count, "{family}: buckets not cumulative");
            last_le = le;
            last_count = *count;
        }
        assert_eq!(last_le, f64::INFINITY, "{family}: no +Inf bucket");
        assert_eq!(
            Some(last_count),
            self.value(&format!("{family}_count"), &[]),
            "{family}: +Inf bucket and _count differ"
        );
        assert!(
            self.value(&format!("{family}_sum"), &[]).is_some(),
            "{family}: no _sum"
        );
    }

    /// The value of the sample `name` with exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .get(name)?
            .iter()
            .find(|(l, _)| *l == want)
            .map(|(_, v)| *v)
    }

    /// Like [`Page::value`], failing the test when the sample is missing.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{}", self.text))
    }

    /// Every sample of `name` with a value other than 0, as `label=value,...`
    /// → value (for asserting that nothing else was counted).
    fn nonzero(&self, name: &str) -> BTreeMap<String, f64> {
        self.samples
            .get(name)
            .into_iter()
            .flatten()
            .filter(|(_, v)| *v != 0.0)
            .map(|(labels, v)| {
                let key = labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",");
                (key, *v)
            })
            .collect()
    }

    /// The sum of every sample of `name`.
    fn sum(&self, name: &str) -> f64 {
        self.samples
            .get(name)
            .into_iter()
            .flatten()
            .map(|(_, v)| v)
            .sum()
    }
}

/// The family a sample belongs to: itself, or for `_bucket`, `_sum` and
/// `_count` of a declared histogram or summary, the histogram.
fn family_of<'a>(types: &BTreeMap<String, String>, sample: &'a str) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample.strip_suffix(suffix)
            && types
                .get(base)
                .is_some_and(|k| k == "histogram" || k == "summary")
        {
            return base;
        }
    }
    sample
}

/// The expected value of every sample of `name` that is not 0.
fn expect(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// `promtool check metrics` on `page`, when promtool is installed; the
/// page's own parse ([`Page::parse`]) has already checked it either way.
fn promtool_check(page: &Page) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!(
            "promtool (package prometheus) not installed: the page was checked by this test's parser"
        );
        return;
    };
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(page.text.as_bytes())
        .expect("writing the page to promtool");
    let out = child.wait_with_output().expect("running promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("promtool check metrics: ok");
}

/// One UDP query answered, with the RCODE `want`; one try, so that a resent
/// datagram cannot count twice.
fn udp_query(server: &TestServer, id: u16, name: &str, qtype: Rtype, want: Rcode) {
    let reply = udp_exchange_tries(server.addr(), &query(id, name, qtype), 1)
        .unwrap_or_else(|| panic!("no UDP answer to {name} {qtype:?}"));
    assert_eq!(rcode_of(&reply), want, "{name} {qtype:?}");
}

/// A TCP connection to `server`, reads waiting up to ten seconds.
fn connect(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).expect("connecting over TCP");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream
}

/// Sends one framed query on `stream` and reads the answer.
fn tcp_query(stream: &mut TcpStream, id: u16, name: &str, qtype: Rtype) -> Rcode {
    stream
        .write_all(&frame(&query(id, name, qtype)))
        .expect("sending a frame");
    let reply = read_frames(stream, 1)
        .pop()
        .unwrap_or_else(|| panic!("no TCP answer to {name} {qtype:?}"));
    rcode_of(&reply)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[test]
fn a_scrape_after_known_traffic_counts_it_exactly() {
    let started = unix_now();
    // One TCP slot, so that a second connection evicts the first.
    let (server, metrics) = start(&["--tcp-max-connections", "1"]);
    // The DNS sockets answer (the harness waits for that) a moment before
    // the line is written.
    let line = format!("serving metrics at http://{metrics}/metrics");
    assert!(
        time_until(LIVENESS_BOUND, || server.log_contents().contains(&line)).is_some(),
        "no {line:?} in the log:\n{}",
        server.log_contents()
    );

    // Nine UDP queries: eight NOERROR, one NXDOMAIN; one of a type counted
    // as `other` (65400, private use).
    let mut id = 0;
    for (name, qtype, rcode) in [
        ("www.example.test", Rtype::A, Rcode::NoError),
        ("www.example.test", Rtype::A, Rcode::NoError),
        ("www.example.test", Rtype::A, Rcode::NoError),
        ("www.example.test", Rtype::Aaaa, Rcode::NoError),
        ("mail.example.test", Rtype::Aaaa, Rcode::NoError),
        ("example.test", Rtype::Mx, Rcode::NoError),
        ("www.example.test", Rtype::Txt, Rcode::NoError),
        ("www.example.test", Rtype::Unknown(65400), Rcode::NoError),
        ("nope.example.test", Rtype::A, Rcode::NxDomain),
    ] {
        id += 1;
        udp_query(&server, id, name, qtype, rcode);
    }
    // Two datagrams that are dropped, not requests: a short header and a
    // response (QR set).
    let sock = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    sock.send_to(&[0, 1, 0, 0, 0], server.addr())
        .expect("sending a short datagram");
    let mut response = query(99, "www.example.test", Rtype::A);
    response[2] |= 0x80;
    sock.send_to(&response, server.addr())
        .expect("sending a response");

    // Three UPDATEs over UDP: applied; refused by the grant (www is not
    // below dyn.example.test); signed with a key the server does not know.
    for (key, name, script, failure) in [
        (
            KEY,
            "applied",
            "update add host.dyn.example.test 60 A 192.0.2.50",
            None,
        ),
        (
            KEY,
            "refused",
            "update add www.example.test 60 A 192.0.2.51",
            Some("REFUSED"),
        ),
        (
            UNKNOWN_KEY,
            "badkey",
            "update add host2.dyn.example.test 60 A 192.0.2.52",
            Some("NOTAUTH(BADKEY)"),
        ),
    ] {
        let (ok, printed) = nsupdate(&server, key, name, script);
        match failure {
            None => assert!(ok, "{name}: not applied:\n{printed}"),
            Some(error) => assert!(!ok && printed.contains(error), "{name}:\n{printed}"),
        }
    }

    // Two TCP connections with one query each: the second evicts the first
    // (one slot), which the server then closes; then a response (QR set)
    // sent on the second closes that one too.
    let mut first = connect(&server);
    assert_eq!(
        tcp_query(&mut first, 100, "www.example.test", Rtype::A),
        Rcode::NoError
    );
    let mut second = connect(&server);
    assert_eq!(
        tcp_query(&mut second, 101, "example.test", Rtype::Soa),
        Rcode::NoError
    );
    assert!(
        closed_within(&mut first, LIVENESS_BOUND).is_some(),
        "the first connection was not evicted; server log:\n{}",
        server.log_contents()
    );
    second
        .write_all(&frame(&response))
        .expect("sending a response over TCP");
    assert!(
        closed_within(&mut second, LIVENESS_BOUND).is_some(),
        "a response sent over TCP did not close the connection; server log:\n{}",
        server.log_contents()
    );

    // dig: one more UDP query, and the serial as a client sees it.
    let soa = dig(&server, &["example.test", "SOA"]);
    assert_eq!(soa.status, "NOERROR", "{}", soa.text);
    let serial: u32 = soa
        .answer
        .first()
        .and_then(|rr| rr.get(6))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no SOA serial in:\n{}", soa.text));
    assert_eq!(serial, ZONE_SERIAL + 1, "one update applied");

    // The harness's readiness probe is one more TCP connection (accepted,
    // closed with no request). Poll until all of it is published.
    let mut page = None;
    let took = time_until(LIVENESS_BOUND, || {
        let p = scrape(metrics);
        let done = p.sum("dynzone_requests_total") == 15.0
            && p.sum("dynzone_dropped_total") == 3.0
            && p.get("dynzone_tcp_connections_total", &[]) == 3.0
            && p.get("dynzone_tcp_connections_open", &[]) == 0.0;
        page = Some(p);
        done
    });
    let page = page.expect("at least one scrape");
    println!("the traffic was published within {took:?}");
    assert!(
        took.is_some(),
        "not all traffic counted within {LIVENESS_BOUND:?}:\n{}\nserver log:\n{}",
        page.text,
        server.log_contents()
    );
    promtool_check(&page);

    // Every sample not listed here is 0.
    let counted: [(&str, &[(&str, f64)]); 7] = [
        (
            "dynzone_requests_total",
            &[
                ("family=ipv4,opcode=query,transport=udp", 10.0),
                ("family=ipv4,opcode=update,transport=udp", 3.0),
                ("family=ipv4,opcode=query,transport=tcp", 2.0),
            ],
        ),
        (
            "dynzone_responses_total",
            &[
                ("rcode=NOERROR", 12.0),
                ("rcode=NXDOMAIN", 1.0),
                ("rcode=REFUSED", 1.0),
                ("rcode=NOTAUTH", 1.0),
            ],
        ),
        (
            "dynzone_query_types_total",
            &[
                ("type=A", 5.0),
                ("type=AAAA", 2.0),
                ("type=MX", 1.0),
                ("type=TXT", 1.0),
                ("type=SOA", 2.0),
                ("type=other", 1.0),
            ],
        ),
        (
            "dynzone_dropped_total",
            &[
                ("reason=short_header", 1.0),
                ("reason=response", 1.0),
                ("reason=not_a_request", 1.0),
            ],
        ),
        ("dynzone_truncated_total", &[]),
        (
            "dynzone_updates_total",
            &[
                ("result=applied", 1.0),
                ("result=refused", 1.0),
                ("result=notauth", 1.0),
            ],
        ),
        (
            "dynzone_tsig_total",
            &[("result=ok", 2.0), ("result=badkey", 1.0)],
        ),
    ];
    for (name, want) in counted {
        assert_eq!(page.nonzero(name), expect(want), "{name}");
    }
    // Every combination is there, zero or not.
    assert_eq!(page.samples["dynzone_requests_total"].len(), 2 * 2 * 4);
    // The applied and the refused UPDATE each held an answer in its own
    // batch: two commits. The unknown key's was refused before the store.
    assert_eq!(page.get("dynzone_update_commit_seconds_count", &[]), 2.0);
    assert_eq!(
        page.get("dynzone_update_commit_seconds_bucket", &[("le", "+Inf")]),
        2.0
    );
    assert_eq!(page.get("dynzone_tcp_connections_evicted_total", &[]), 1.0);

    let zone = [("zone", "example.test.")];
    assert_eq!(
        page.get("dynzone_zone_serial", &zone),
        f64::from(serial),
        "the serial dig reports"
    );
    assert_eq!(
        page.get("dynzone_zone_records", &zone),
        ZONE_RECORDS + 1.0,
        "one A record added"
    );
    let now = unix_now();
    let start_time = page.get("dynzone_start_time_seconds", &[]);
    assert!(
        (started.floor()..=now).contains(&start_time),
        "start time {start_time} not in [{started}, {now}]"
    );
    let last_update = page.get("dynzone_zone_last_update_timestamp_seconds", &zone);
    assert!(
        (start_time..=now).contains(&last_update),
        "last update {last_update} not in [{start_time}, {now}]"
    );
    assert_eq!(
        page.get(
            "dynzone_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
}

#[test]
fn two_workers_are_summed() {
    let (server, metrics) = start(&["--workers", "2"]);
    // Each query from its own socket, so that SO_REUSEPORT spreads them.
    for id in 0..20 {
        udp_query(&server, id, "www.example.test", Rtype::A, Rcode::NoError);
    }
    let mut last = None;
    let took = time_until(LIVENESS_BOUND, || {
        let page = scrape(metrics);
        let n = page.get("dynzone_query_types_total", &[("type", "A")]);
        last = Some(page);
        n == 20.0
    });
    println!("published within {took:?}");
    let page = last.expect("at least one scrape");
    assert!(took.is_some(), "not 20 A queries:\n{}", page.text);
    assert_eq!(
        page.nonzero("dynzone_requests_total"),
        expect(&[("family=ipv4,opcode=query,transport=udp", 20.0)])
    );
    assert_eq!(
        page.nonzero("dynzone_responses_total"),
        expect(&[("rcode=NOERROR", 20.0)])
    );
    assert_eq!(
        page.get(
            "dynzone_zone_last_update_timestamp_seconds",
            &[("zone", "example.test.")]
        ),
        0.0,
        "no update since the start"
    );
}

#[test]
fn only_get_metrics_is_served() {
    let (_server, metrics) = start(&[]);
    let (status, _, _) = http(metrics, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 404);
    let (status, _, _) = http(
        metrics,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, 405);
    let (status, _, _) = http(metrics, "\u{1}\u{2} nonsense\r\n\r\n");
    assert_eq!(status, 400);
    // A scrape still works after them.
    scrape(metrics);
}

#[test]
fn metrics_are_off_by_default() {
    let server = TestServer::start(ZONE, "example.test", &[]);
    // The metrics line would follow this one at once.
    assert!(
        time_until(LIVENESS_BOUND, || server
            .log_contents()
            .contains("listening on"))
        .is_some(),
        "{}",
        server.log_contents()
    );
    let log = server.log_contents();
    assert!(!log.contains("metrics"), "{log}");
}

#[test]
fn the_format_check_rejects_broken_pages() {
    Page::parse("# HELP a_total x\n# TYPE a_total counter\na_total{l=\"v\\\"\"} 1\n");
    for bad in [
        // No TYPE.
        "a_total 1\n",
        // No newline at the end.
        "# TYPE a_total counter\na_total 1",
        // An unterminated label value.
        "# TYPE a_total counter\na_total{l=\"v} 1\n",
        // A sample twice.
        "# TYPE a_total counter\na_total 1\na_total 2\n",
        // A negative counter.
        "# TYPE a_total counter\na_total -1\n",
        // Buckets not cumulative.
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        // +Inf differs from _count.
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
        // No +Inf bucket.
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        // The lines of a family apart.
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 2\n",
        // TYPE after the samples.
        "a 1\n# TYPE a gauge\n",
    ] {
        let caught = std::panic::catch_unwind(|| Page::parse(bad));
        assert!(caught.is_err(), "accepted:\n{bad}");
    }
}

/// Zone transfers by type and result (kdig, package knot-dnsutils): each
/// request's outcome counted once, every combination on the page; after
/// one update, an IXFR from the serial before it gets the change from the
/// journal.
#[test]
fn transfers_are_counted_by_type_and_result() {
    let (server, metrics) = start(&["--allow-transfer", "example.test:k-sha256"]);
    let port = server.port().to_string();
    let kdig = |args: &[&str]| {
        let mut all = vec!["@127.0.0.1", "-p", &port, "+timeout=2", "+retry=0"];
        all.extend_from_slice(args);
        let out = run_tool("kdig", &all);
        common::printed_text(&out)
    };
    let signed = ["-y", KEY];
    for (args, expect) in [
        (&[&signed[..], &["AXFR", "example.test"]].concat(), "XFR"),
        (&vec!["AXFR", "example.test"], "REFUSED"),
        (
            &[&signed[..], &["AXFR", "nothere.test"]].concat(),
            "NOTAUTH",
        ),
        (
            &[&signed[..], &["+notcp", "AXFR", "example.test"]].concat(),
            "NOTIMP",
        ),
        (&[&signed[..], &["IXFR=7", "example.test"]].concat(), "SOA"),
        (&[&signed[..], &["IXFR=3", "example.test"]].concat(), "XFR"),
        (
            &[&signed[..], &["+notcp", "IXFR=3", "example.test"]].concat(),
            "SOA",
        ),
    ] {
        let text = kdig(args);
        assert!(
            text.contains(expect),
            "{args:?}: expected {expect}:\n{text}"
        );
    }
    let (ok, printed) = common::nsupdate(
        &server,
        KEY,
        "journal",
        "update add journaled.dyn.example.test 60 A 192.0.2.99",
    );
    assert!(ok, "nsupdate: {printed}");
    let text = kdig(&[&signed[..], &["IXFR=7", "example.test"]].concat());
    assert!(
        text.contains("journaled.dyn.example.test.") && text.contains("192.0.2.99"),
        "IXFR=7 after one update: the change expected:\n{text}"
    );
    let mut page = None;
    let took = time_until(LIVENESS_BOUND, || {
        let p = scrape(metrics);
        let done = p.sum("dynzone_transfers_total") == 8.0;
        page = Some(p);
        done
    });
    let page = page.expect("at least one scrape");
    assert!(took.is_some(), "not all counted:\n{}", page.text);
    let want: BTreeMap<String, f64> = [
        ("result=zone,type=axfr", 1.0),
        ("result=refused,type=axfr", 1.0),
        ("result=notauth,type=axfr", 1.0),
        ("result=notimp,type=axfr", 1.0),
        ("result=soa_only,type=ixfr", 2.0),
        ("result=zone,type=ixfr", 1.0),
        ("result=incremental,type=ixfr", 1.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(page.nonzero("dynzone_transfers_total"), want);
    assert_eq!(page.samples["dynzone_transfers_total"].len(), 2 * 7);
}

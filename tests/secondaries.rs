//! dynzone as the primary of a real secondary: Knot (`knotd`, package knot)
//! on loopback, with the configuration of `../shared/XFR-NOTES.md`, pulls a
//! zone of over 64 KiB by TSIG-signed AXFR, then, after an `nsupdate` on
//! dynzone and `knotc zone-refresh`, the change by IXFR (answered AXFR-style:
//! there is no journal yet); each time the zone Knot serves is compared
//! record for record with `dynzone export` (dnspython's AXFR from Knot,
//! tests/py/axfr_check.py). Knot runs in its own scratch directory and is
//! stopped by PID. A missing tool fails the test naming its package.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::fmt::Write as _;
use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{TestServer, path_str, pick_port, run_tool, time_until, wait_timeout};

const SECRET: &str = "eGZyIGtleSBmb3IgZHluem9uZSB0ZXN0cyEhISEhISE=";

/// A knotd of the test's own, stopped (TERM, then KILL) when dropped.
struct Knot {
    child: Child,
    conf: String,
    port: u16,
    log: std::path::PathBuf,
}

impl Knot {
    /// Starts knotd as a secondary of `primary` for example.test, with
    /// its files in `dir`; it may transfer the zone out to loopback
    /// (so that the test can compare what it holds).
    fn start(primary: &TestServer, dir: &std::path::Path) -> Knot {
        let port = pick_port();
        let storage = path_str(dir);
        let conf = dir.join("knot.conf");
        let text = format!(
            "server:\n    rundir: \"{storage}\"\n    listen: 127.0.0.1@{port}\n\
             key:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
             remote:\n  - id: primary\n    address: 127.0.0.1@{primary_port}\n    key: xfr-key\n\
             acl:\n  - id: notify-from-primary\n    address: 127.0.0.1\n    key: xfr-key\n    action: notify\n\
             \x20 - id: transfer-to-test\n    address: 127.0.0.1\n    action: transfer\n\
             database:\n    storage: \"{storage}\"\n\
             log:\n  - target: stderr\n    any: info\n\
             zone:\n  - domain: example.test\n    storage: \"{storage}\"\n    file: \"example.test.zone\"\n\
             \x20   master: primary\n    acl: [notify-from-primary, transfer-to-test]\n",
            primary_port = primary.port()
        );
        fs::write(&conf, text).unwrap();
        let log = dir.join("knotd.log");
        let child = match Command::new("knotd")
            .args(["-c", path_str(&conf)])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(dir.join("knotd.err")).unwrap())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("knotd is not installed: apt-get install knot")
            }
            Err(e) => panic!("starting knotd: {e}"),
        };
        Knot {
            child,
            conf: path_str(&conf).to_string(),
            port,
            log: dir.join("knotd.err"),
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The serial Knot serves for example.test, if it serves it.
    fn serial(&self) -> Option<u32> {
        let port = self.port.to_string();
        let out = run_tool(
            "dig",
            &[
                "@127.0.0.1",
                "-p",
                &port,
                "+short",
                "+time=1",
                "+tries=1",
                "example.test",
                "SOA",
            ],
        );
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
    }

    fn knotc(&self, args: &[&str]) -> String {
        let mut all = vec!["-c", self.conf.as_str()];
        all.extend_from_slice(args);
        let out = run_tool("knotc", &all);
        common::printed_text(&out)
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-s", "TERM", &pid]).status();
        if wait_timeout(&mut self.child, Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// dnspython's AXFR of example.test from `port` compared with `dynzone
/// export` of `primary`.
fn same_zone(primary: &TestServer, port: u16) -> String {
    let export = primary.dir().join("export.zone");
    fs::write(&export, primary.export("example.test")).unwrap();
    let port = port.to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/axfr_check.py");
    let out = run_tool(
        "/usr/bin/python3",
        &[
            script,
            "127.0.0.1",
            &port,
            "example.test.",
            path_str(&export),
            "AXFR",
        ],
    );
    let text = common::printed_text(&out);
    assert!(
        out.status.success(),
        "the secondary's zone differs:\n{text}"
    );
    text
}

#[test]
fn knot_transfers_the_zone_and_its_changes() {
    let mut zone = String::from(
        "$ORIGIN example.test.\n$TTL 300\n\
         @ 3600 IN SOA ns1 hostmaster 7 3600 900 1209600 300\n\
         @ 3600 IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.10\n",
    );
    for i in 0..1000 {
        writeln!(zone, "t{i} IN TXT \"{i:08} {}\"", "x".repeat(90)).unwrap();
    }
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let primary = TestServer::start(
        &zone,
        "example.test",
        &["--tsig", &key, "--allow-transfer", "example.test:xfr-key"],
    );
    let dir = primary.dir().join("knot");
    fs::create_dir_all(&dir).unwrap();
    let knot = Knot::start(&primary, &dir);

    // The initial AXFR: over 100 KiB, in several signed messages.
    let took = time_until(Duration::from_secs(30), || knot.serial() == Some(7));
    assert!(
        took.is_some(),
        "Knot never served serial 7:\n{}\n{}",
        knot.log(),
        primary.log_contents()
    );
    println!("Knot served serial 7 after {took:?}");
    let status = knot.knotc(&["zone-status", "example.test"]);
    assert!(status.contains("serial: 7"), "{status}");
    println!("{}", same_zone(&primary, knot.port));

    // An update on dynzone; Knot refreshes (SOA query, then IXFR).
    let script = format!(
        "server 127.0.0.1 {}\nzone example.test\nupdate add home.example.test 60 A 198.51.100.7\nsend\n",
        primary.port()
    );
    let file = primary.dir().join("update.txt");
    fs::write(&file, script).unwrap();
    let out = run_tool("nsupdate", &["-y", &key, path_str(&file)]);
    assert!(
        out.status.success(),
        "nsupdate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refresh = knot.knotc(&["zone-refresh", "example.test"]);
    assert!(refresh.contains("OK"), "{refresh}");
    let took = time_until(Duration::from_secs(30), || knot.serial() == Some(8));
    assert!(
        took.is_some(),
        "Knot never served serial 8:\n{}\n{}",
        knot.log(),
        primary.log_contents()
    );
    println!("Knot served serial 8 {took:?} after zone-refresh");
    println!("{}", same_zone(&primary, knot.port));
    let log = primary.log_contents();
    assert!(
        log.contains("transfer: AXFR of zone example.test."),
        "{log}"
    );
    assert!(
        log.contains("transfer: IXFR of zone example.test. from serial 7"),
        "{log}"
    );
}

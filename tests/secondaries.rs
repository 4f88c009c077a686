//! dynzone as the primary of the real secondaries: Knot (`knotd`, package
//! knot), NSD (`nsd`, package nsd) and BIND (`named`, package bind9), each
//! on loopback with the configuration of `../shared/XFR-NOTES.md`:
//! - the first TSIG-signed AXFR of a zone of over 64 KiB;
//! - an `nsupdate` on dynzone, brought to the secondary by dynzone's signed
//!   NOTIFY alone (the secondary's SOA query, then IXFR, answered with the
//!   change from the journal, which the log must say);
//! - the next one with a refresh asked of the secondary too (`knotc
//!   zone-refresh`, `nsd-control transfer`, `rndc refresh`);
//! - a burst of 200 updates, whose NOTIFYs merge;
//! - an update, dynzone killed (SIGKILL) and started again on the same
//!   port with one change kept for IXFR, another update: the secondary, two
//!   changes behind, meets a history gap, gets the whole zone AXFR-style,
//!   takes it and converges on the newest serial;
//! - and, separately, a secondary asking with the wrong secret and one asking
//!   unsigned: each reports the TSIG error or REFUSED and has no zone.
//!
//! Each time the zone the secondary serves is compared record for record
//! with `dynzone export` (dnspython's AXFR from the secondary,
//! tests/py/axfr_check.py), and its own tool must report the serial. Each
//! secondary runs in its own scratch directory and is stopped by PID. A
//! missing tool fails the test naming its package.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{TestServer, path_str, pick_port, run_tool, time_until, wait_timeout};

const SECRET: &str = "eGZyIGtleSBmb3IgZHluem9uZSB0ZXN0cyEhISEhISE=";

/// The secondaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Knot,
    Nsd,
    Bind,
}

/// A secondary of the test's own, stopped (TERM, then KILL) when dropped.
struct Secondary {
    kind: Kind,
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Secondary {
    /// Starts `kind` as a secondary of `primary` for example.test, with
    /// its files in `dir`, with the configuration of XFR-NOTES.md; it may
    /// transfer the zone out to loopback (so that the test can compare what
    /// it holds).
    fn start(kind: Kind, primary: &TestServer, dir: &Path, port: u16) -> Secondary {
        Secondary::start_with(kind, primary, dir, port, Some(SECRET))
    }

    /// [`Secondary::start`], asking for transfers signed with the secret
    /// `xfr_secret` for the key `xfr-key`, or unsigned (`None`).
    fn start_with(
        kind: Kind,
        primary: &TestServer,
        dir: &Path,
        port: u16,
        xfr_secret: Option<&str>,
    ) -> Secondary {
        let d = path_str(dir);
        let p = primary.port();
        let secret = xfr_secret.unwrap_or(SECRET);
        let signed = xfr_secret.is_some();
        let knot_key = if signed { "    key: xfr-key\n" } else { "" };
        let nsd_key = if signed { "xfr-key" } else { "NOKEY" };
        let bind_key = if signed { " key \"xfr-key\"" } else { "" };
        let (program, args, conf, package) = match kind {
            Kind::Knot => (
                "knotd",
                vec!["-c".to_string(), format!("{d}/knot.conf")],
                format!(
                    "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{port}\n\
                     key:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: {secret}\n\
                     remote:\n  - id: primary\n    address: 127.0.0.1@{p}\n{knot_key}\
                     acl:\n  - id: notify-from-primary\n    address: 127.0.0.1\n    key: xfr-key\n    action: notify\n\
                     \x20 - id: transfer-to-test\n    address: 127.0.0.1\n    action: transfer\n\
                     database:\n    storage: \"{d}\"\n\
                     log:\n  - target: stderr\n    any: info\n\
                     zone:\n  - domain: example.test\n    storage: \"{d}\"\n    file: \"example.test.zone\"\n\
                     \x20   master: primary\n    acl: [notify-from-primary, transfer-to-test]\n"
                ),
                "knot",
            ),
            Kind::Nsd => (
                "nsd",
                vec!["-d".to_string(), "-c".to_string(), format!("{d}/nsd.conf")],
                format!(
                    "server:\n    ip-address: 127.0.0.1@{port}\n    username: \"\"\n    chroot: \"\"\n\
                     \x20   zonesdir: \"{d}\"\n    database: \"\"\n    zonelistfile: \"{d}/zone.list\"\n\
                     \x20   xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    pidfile: \"{d}/nsd.pid\"\n\
                     remote-control:\n    control-enable: yes\n    control-interface: \"{d}/nsd.ctl\"\n\
                     key:\n    name: \"xfr-key\"\n    algorithm: hmac-sha256\n    secret: \"{secret}\"\n\
                     zone:\n    name: \"example.test\"\n    zonefile: \"example.test.zone\"\n\
                     \x20   request-xfr: 127.0.0.1@{p} {nsd_key}\n    allow-notify: 127.0.0.1 xfr-key\n\
                     \x20   provide-xfr: 127.0.0.1 NOKEY\n"
                ),
                "nsd",
            ),
            Kind::Bind => {
                let control = pick_port();
                fs::write(
                    dir.join("rndc.conf"),
                    format!(
                        "key \"rndc-key\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\n\
                         options {{ default-key \"rndc-key\"; default-server 127.0.0.1; default-port {control}; }};\n"
                    ),
                )
                .unwrap();
                (
                    "named",
                    vec![
                        "-g".to_string(),
                        "-c".to_string(),
                        format!("{d}/named.conf"),
                    ],
                    format!(
                        "options {{\n    directory \"{d}\";\n    pid-file \"{d}/named.pid\";\n\
                         \x20   listen-on port {port} {{ 127.0.0.1; }};\n    listen-on-v6 {{ none; }};\n\
                         \x20   recursion no;\n    dnssec-validation no;\n    notify no;\n}};\n\
                         key \"xfr-key\" {{ algorithm hmac-sha256; secret \"{secret}\"; }};\n\
                         key \"rndc-key\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\n\
                         controls {{ inet 127.0.0.1 port {control} allow {{ 127.0.0.1; }} keys {{ \"rndc-key\"; }}; }};\n\
                         zone \"example.test\" {{\n    type secondary;\n    file \"example.test.db\";\n\
                         \x20   primaries {{ 127.0.0.1 port {p}{bind_key}; }};\n\
                         \x20   allow-transfer {{ 127.0.0.1; }};\n}};\n"
                    ),
                    "bind9",
                )
            }
        };
        let conf_name = match kind {
            Kind::Knot => "knot.conf",
            Kind::Nsd => "nsd.conf",
            Kind::Bind => "named.conf",
        };
        fs::write(dir.join(conf_name), conf).unwrap();
        let child = match Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("stdout.log")).unwrap())
            .stderr(fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("{program} is not installed: apt-get install {package}")
            }
            Err(e) => panic!("starting {program}: {e}"),
        };
        Secondary {
            kind,
            child,
            dir: dir.to_path_buf(),
            port,
        }
    }

    fn log(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("stdout.log"), read("stderr.log"))
    }

    /// The serial the secondary serves for example.test, if it serves it.
    fn serial(&self) -> Option<u32> {
        self.ask_soa(&["+short"])
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
    }

    /// What `dig OPTIONS example.test SOA` at the secondary prints (one try
    /// of one second).
    fn ask_soa(&self, options: &[&str]) -> String {
        let port = self.port.to_string();
        let mut args = vec!["@127.0.0.1", "-p", &port, "+time=1", "+tries=1"];
        args.extend_from_slice(options);
        args.extend_from_slice(&["example.test", "SOA"]);
        String::from_utf8_lossy(&run_tool("dig", &args).stdout).into_owned()
    }

    /// Waits up to `bound` for the secondary to serve `serial`; fails the
    /// test with both logs, saying `after` what it waited. How long it took.
    fn await_serial(
        &self,
        primary: &TestServer,
        serial: u32,
        bound: Duration,
        after: &str,
    ) -> Duration {
        let took = time_until(bound, || self.serial() == Some(serial));
        took.unwrap_or_else(|| {
            panic!(
                "{:?} never served serial {serial} {after}:\n{}\n{}",
                self.kind,
                self.log(),
                primary.log_contents()
            )
        })
    }

    /// Fails the test unless the secondary's own tool reports `serial`.
    fn reports_serial(&self, serial: u32) {
        let status = self.status();
        let want = match self.kind {
            Kind::Nsd => format!("served-serial: \"{serial} "),
            Kind::Knot | Kind::Bind => format!("serial: {serial}"),
        };
        assert!(
            status.contains(&want),
            "{:?}: no {want:?} in\n{status}",
            self.kind
        );
    }

    /// The zone's state as the secondary's own tool reports it
    /// (`knotc zone-status`, `nsd-control zonestatus`, `rndc zonestatus`).
    fn status(&self) -> String {
        self.control(["zone-status", "zonestatus", "zonestatus"])
    }

    /// Makes the secondary check the primary's serial now (and transfer):
    /// `knotc zone-refresh`, `nsd-control transfer`, `rndc refresh`.
    fn refresh(&self) -> String {
        self.control(["zone-refresh", "transfer", "refresh"])
    }

    /// The control tool of the secondary with its configuration, the
    /// command for its kind (Knot's, NSD's, BIND's) and the zone.
    fn control(&self, commands: [&str; 3]) -> String {
        let (tool, package, conf, command) = match self.kind {
            Kind::Knot => ("knotc", "knot", "knot.conf", commands[0]),
            Kind::Nsd => ("nsd-control", "nsd", "nsd.conf", commands[1]),
            Kind::Bind => ("rndc", "bind9", "rndc.conf", commands[2]),
        };
        let conf = self.dir.join(conf);
        control(
            tool,
            package,
            &["-c", path_str(&conf), command, "example.test"],
        )
    }
}

/// Runs a control tool and returns what it printed; fails when it fails.
fn control(tool: &str, package: &str, args: &[&str]) -> String {
    let out = match Command::new(tool).args(args).stdin(Stdio::null()).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{tool} is not installed: apt-get install {package}")
        }
        Err(e) => panic!("running {tool}: {e}"),
    };
    let text = common::printed_text(&out);
    assert!(out.status.success(), "{tool} {args:?} failed:\n{text}");
    text
}

impl Drop for Secondary {
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

/// Waits for the line saying the secondary on `port` acknowledged the
/// NOTIFY of `serial`; fails the test without it.
fn acknowledged(primary: &TestServer, serial: u32, port: u16) {
    let line =
        format!("notify: zone example.test. serial {serial} to 127.0.0.1:{port}: acknowledged");
    assert!(
        time_until(Duration::from_secs(10), || primary
            .log_contents()
            .contains(&line))
        .is_some(),
        "no {line:?}:\n{}",
        primary.log_contents()
    );
}

/// The transfer lines of dynzone's log for requests from `serial`.
fn transfers_from(primary: &TestServer, serial: u32) -> Vec<String> {
    let from = format!("of zone example.test. from serial {serial} to peer");
    primary
        .log_contents()
        .lines()
        .filter(|l| l.contains(&from))
        .map(str::to_owned)
        .collect()
}

/// The secondary `kind` pulls the zone, then its changes: by NOTIFY, by a
/// refresh, in a burst, and across a SIGKILL and restart of dynzone on the
/// same port.
fn transfers_the_zone_and_its_changes(kind: Kind) {
    let mut zone = String::from(
        "$ORIGIN example.test.\n$TTL 300\n\
         @ 3600 IN SOA ns1 hostmaster 7 3600 900 1209600 300\n\
         @ 3600 IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.10\n",
    );
    for i in 0..1000 {
        writeln!(zone, "t{i} IN TXT \"{i:08} {}\"", "x".repeat(90)).unwrap();
    }
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let port = pick_port();
    let notify = format!("example.test:127.0.0.1:{port}:xfr-key");
    let mut primary = TestServer::start(
        &zone,
        "example.test",
        &[
            "--tsig",
            &key,
            "--allow-transfer",
            "example.test:xfr-key",
            "--notify",
            &notify,
        ],
    );
    let dir = primary.dir().join("secondary");
    fs::create_dir_all(&dir).unwrap();
    let secondary = Secondary::start(kind, &primary, &dir, port);

    // The initial AXFR: over 100 KiB, in several signed messages.
    let took = secondary.await_serial(&primary, 7, Duration::from_secs(30), "at first");
    println!("{kind:?} served serial 7 after {took:?}");
    // Its own tool agrees (`knotc zone-status`, `nsd-control zonestatus`,
    // `rndc zonestatus`).
    secondary.reports_serial(7);
    println!("{kind:?}: {}", same_zone(&primary, secondary.port));

    // An update on dynzone: its NOTIFY (signed) brings the secondary to
    // ask for it (SOA query, IXFR).
    let update = |primary: &TestServer, serial: u32, name: &str| {
        let script = format!(
            "server 127.0.0.1 {}\nzone example.test\nupdate add {name}.example.test 60 A 198.51.100.7\nsend\n",
            primary.port()
        );
        let file = primary.dir().join(format!("update-{serial}.txt"));
        fs::write(&file, script).unwrap();
        let out = run_tool("nsupdate", &["-y", &key, path_str(&file)]);
        assert!(
            out.status.success(),
            "nsupdate failed: {}",
            common::printed_text(&out)
        );
        std::time::Instant::now()
    };
    let sent = update(&primary, 8, "home");
    secondary.await_serial(&primary, 8, Duration::from_secs(20), "after the NOTIFY");
    println!(
        "{kind:?} served serial 8 {:?} after nsupdate returned (NOTIFY, then IXFR)",
        sent.elapsed()
    );
    println!("{kind:?}: {}", same_zone(&primary, secondary.port));
    acknowledged(&primary, 8, port);
    // It asked for the change alone (RFC 1995 §4), from the journal.
    let asked = transfers_from(&primary, 7);
    assert!(
        asked
            .iter()
            .any(|l| l.contains("IXFR") && l.ends_with("serial 8, the changes from the journal")),
        "{kind:?} did not get serial 8 incrementally: {asked:?}"
    );

    // The next change arrives too, by its NOTIFY or by the refresh asked
    // of the secondary, whichever comes first.
    update(&primary, 9, "office");
    let refresh = secondary.refresh();
    let after = format!("after the NOTIFY or the refresh ({refresh})");
    secondary.await_serial(&primary, 9, Duration::from_secs(30), &after);
    println!("{kind:?}: {}", same_zone(&primary, secondary.port));
    // A burst of 200 updates, one message each: the NOTIFYs merge, and the
    // secondary converges on the last serial with the same zone.
    let mut script = format!("server 127.0.0.1 {}\nzone example.test\n", primary.port());
    for i in 0..200 {
        writeln!(
            script,
            "update add burst{i}.example.test 60 A 198.51.100.{}\nsend",
            i % 250
        )
        .unwrap();
    }
    let file = primary.dir().join("burst.txt");
    fs::write(&file, script).unwrap();
    // Over TCP (-v): once, under CI, one of the 200 went unanswered for
    // nsupdate's three UDP tries (9 s), cause not found; over TCP a
    // recurrence fails with dynzone's log instead of a retry's guess.
    let burst = std::time::Instant::now();
    let out = run_tool("nsupdate", &["-v", "-y", &key, path_str(&file)]);
    assert!(
        out.status.success(),
        "nsupdate failed after {:?}: {}\ndynzone's log:\n{}",
        burst.elapsed(),
        common::printed_text(&out),
        primary.log_contents()
    );
    let sent = std::time::Instant::now();
    secondary.await_serial(&primary, 209, Duration::from_secs(30), "after the burst");
    println!(
        "{kind:?} served serial 209 {:?} after the burst",
        sent.elapsed()
    );
    println!("{kind:?}: {}", same_zone(&primary, secondary.port));
    let notifies = primary
        .log_contents()
        .matches("notify: zone example.test. serial")
        .count();
    println!("{kind:?}: {notifies} NOTIFYs for 202 changes");
    assert!(notifies < 20, "bursts were not merged: {notifies} NOTIFYs");

    let log = primary.log_contents();
    assert!(
        log.contains("transfer: AXFR of zone example.test."),
        "{log}"
    );
    assert!(log.contains("of zone example.test. from serial 7"), "{log}");

    // dynzone killed (SIGKILL) right after an update, before its NOTIFY
    // is due (the 1 s merge), and started again on the same port: the
    // update is durable, and the NOTIFY of the next one, sent by the new
    // process, brings the secondary to the newest serial. The new process
    // keeps one change for IXFR, so the secondary, two changes behind,
    // meets a history gap: it gets the whole zone, AXFR-style, and takes
    // it.
    let restart_part = update(&primary, 210, "before-kill");
    primary.signal("KILL");
    primary.wait_exit();
    primary.restart_on_same_port(&["--journal-max-changes", "1"]);
    let sent = update(&primary, 211, "after-restart");
    let after = "after dynzone's restart";
    secondary.await_serial(&primary, 211, Duration::from_secs(30), after);
    println!(
        "{kind:?} served serial 211 {:?} after the update that followed the restart",
        sent.elapsed()
    );
    secondary.reports_serial(211);
    println!("{kind:?}: {}", same_zone(&primary, secondary.port));
    acknowledged(&primary, 211, port);
    let asked = transfers_from(&primary, 209);
    assert!(
        asked
            .iter()
            .any(|l| l.contains("IXFR") && l.ends_with("serial 211, the whole zone")),
        "{kind:?} did not get the whole zone across the gap: {asked:?}"
    );
    println!(
        "{kind:?}: the restart took {:?} of this test",
        restart_part.elapsed()
    );
}

#[test]
fn knot_transfers_the_zone_and_its_changes() {
    transfers_the_zone_and_its_changes(Kind::Knot);
}

#[test]
fn nsd_transfers_the_zone_and_its_changes() {
    transfers_the_zone_and_its_changes(Kind::Nsd);
}

#[test]
fn bind_transfers_the_zone_and_its_changes() {
    transfers_the_zone_and_its_changes(Kind::Bind);
}

/// RFC 5936 §6 with the real secondaries: one that asks with the wrong
/// secret for the key, and one that asks unsigned, never get the zone.
fn refuses_the_wrong_key_and_no_key(kind: Kind) {
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let primary = TestServer::start(
        "$ORIGIN example.test.\n@ 3600 IN SOA ns1 hostmaster 7 3600 900 1209600 300\n@ 3600 IN NS ns1\nns1 IN A 192.0.2.1\n",
        "example.test",
        &["--tsig", &key, "--allow-transfer", "example.test:xfr-key"],
    );
    let wrong = "d3Jvbmcgc2VjcmV0IGZvciB0aGUgeGZyIGtleSEhISE=";
    for (what, secret) in [("a wrong secret", Some(wrong)), ("no key", None)] {
        let dir = primary
            .dir()
            .join(format!("secondary-{}", secret.is_some()));
        fs::create_dir_all(&dir).unwrap();
        let secondary = Secondary::start_with(kind, &primary, &dir, pick_port(), secret);
        // It starts, tries (and is refused), and still has no zone.
        let up = time_until(Duration::from_secs(10), || {
            secondary.ask_soa(&[]).contains("status:")
        });
        assert!(up.is_some(), "{kind:?} did not start:\n{}", secondary.log());
        // What the secondary itself reports: the TSIG error of our answer,
        // or the REFUSED.
        let reported: &[&str] = match (kind, secret.is_some()) {
            (Kind::Knot, true) => &["failed to verify TSIG"],
            (Kind::Nsd, true) => &["bad tsig signature"],
            (Kind::Bind, true) => &["tsig indicates error"],
            (_, false) => &["REFUSED"],
        };
        let seen = time_until(Duration::from_secs(10), || {
            let log = secondary.log();
            reported.iter().all(|r| log.contains(r))
        });
        assert!(
            seen.is_some(),
            "{kind:?} with {what} did not report {reported:?}:\n{}",
            secondary.log()
        );
        assert_eq!(
            secondary.serial(),
            None,
            "{kind:?} with {what} got the zone:\n{}",
            secondary.log()
        );
    }
    let log = primary.log_contents();
    assert!(
        log.contains("TSIG check failed for a request from 127.0.0.1"),
        "{log}"
    );
    assert!(
        !log.contains("transfer: AXFR"),
        "a transfer was started:\n{log}"
    );
}

#[test]
fn knot_is_refused_with_the_wrong_key_and_no_key() {
    refuses_the_wrong_key_and_no_key(Kind::Knot);
}

#[test]
fn nsd_is_refused_with_the_wrong_key_and_no_key() {
    refuses_the_wrong_key_and_no_key(Kind::Nsd);
}

#[test]
fn bind_is_refused_with_the_wrong_key_and_no_key() {
    refuses_the_wrong_key_and_no_key(Kind::Bind);
}

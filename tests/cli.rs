//! The command line as an operator meets it: help, one-line errors, the pid
//! file, signals, zones created with `--zone`, and an import seen by a running
//! server without a restart. Runs the release binary (tests/common).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::fs;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::net::udp_exchange_tries;
use common::wire::query;
use common::{
    LIVENESS_BOUND, TempDir, TestServer, dynzone, path_str, pick_port, run_tool, time_until,
    wait_timeout,
};
use dynzone::store::Store;
use dynzone::wire::{Message, NameBuf, RData, Rcode, Rtype};

const ZONE: &str = "$ORIGIN example.test.
$TTL 300
@    3600 IN SOA ns1 hostmaster 1 3600 900 1209600 300
@    3600 IN NS  ns1
ns1       IN A   192.0.2.1
www       IN A   192.0.2.10
";

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failure: non-zero exit, exactly one line on stderr starting with
/// "dynzone: ", no panic. Returns the line.
fn one_line_failure(out: &Output) -> String {
    let err = stderr_of(out);
    assert!(!out.status.success(), "expected a failure, stderr:\n{err}");
    assert!(!err.contains("panicked"), "a panic:\n{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "a backtrace hint:\n{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{err}");
    let line = lines[0];
    assert!(line.starts_with("dynzone: "), "line: {line}");
    line.to_owned()
}

/// Runs `dynzone serve` with `args` and expects it to exit by itself within
/// a few seconds (it is killed otherwise, failing the test).
fn serve_expecting_exit(args: &[&str]) -> Output {
    let mut child = Command::new(common::binary())
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting dynzone serve");
    if wait_timeout(&mut child, Duration::from_secs(10)).is_none() {
        let _ = child.kill();
        let out = child.wait_with_output().expect("collecting output");
        panic!("dynzone serve {args:?} kept running:\n{}", stderr_of(&out));
    }
    child.wait_with_output().expect("collecting output")
}

/// `dynzone serve --listen LISTEN --db DB` with `extra`, which must fail with
/// one line ([`one_line_failure`]); the line.
fn serve_failure(listen: &str, db: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--listen", listen, "--db", path_str(db)];
    args.extend_from_slice(extra);
    one_line_failure(&serve_expecting_exit(&args))
}

#[test]
fn help_of_each_command_lists_its_flags() {
    let cases: [(&str, &[&str]); 3] = [
        (
            "serve",
            &[
                "--listen",
                "--zone",
                "--db",
                "--workers",
                "--pid-file",
                "--log-file",
                "--user",
                "--group",
                "--ns",
                "--hostmaster",
                "--default-ttl",
                "--map-size",
                "--max-udp-size",
                "--tcp-idle-timeout",
                "--tcp-max-connections",
                "--metrics",
            ],
        ),
        ("import", &["--db", "--map-size", "--origin", "zonefile"]),
        ("export", &["--db", "zone"]),
    ];
    for (command, flags) in cases {
        let out = dynzone(&[command, "--help"]);
        assert!(out.status.success(), "{command} --help failed");
        let text = String::from_utf8_lossy(&out.stdout);
        for flag in flags {
            assert!(
                text.contains(flag),
                "{command} --help lacks {flag}:\n{text}"
            );
        }
    }
    let out = dynzone(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "import", "export", "--version"] {
        assert!(text.contains(command), "--help lacks {command}:\n{text}");
    }
    let out = dynzone(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("dynzone "));
}

#[test]
fn bad_flags_are_one_line() {
    one_line_failure(&dynzone(&["serve", "--bogus"]));
    one_line_failure(&dynzone(&["serve", "--listen", "not-an-address"]));
    one_line_failure(&dynzone(&["serve", "--workers", "many"]));
    one_line_failure(&dynzone(&["import"]));
    one_line_failure(&dynzone(&["frobnicate"]));
    one_line_failure(&dynzone(&[]));
    let dir = TempDir::new();
    let db = dir.join("db");
    for bad in [
        &["--workers", "0"][..],
        &["--max-udp-size", "100"],
        &["--tcp-idle-timeout", "0"],
        &["--tcp-max-connections", "0"],
    ] {
        let mut args = vec!["--listen", "127.0.0.1:1", "--db", path_str(&db)];
        args.extend_from_slice(bad);
        one_line_failure(&serve_expecting_exit(&args));
    }
}

/// A secret typed where it does not belong is never echoed: `--tsig=…`
/// (taken, as `--flag=value` is), a stray argument, a secret in the
/// algorithm or name field of a spec (issue 11).
#[test]
fn a_misplaced_secret_is_never_echoed() {
    const SECRET: &str = "c2VjcmV0c2VjcmV0c2VjcmV0";
    let spec = format!("hmac-sha256:k:{SECRET}");
    let wrong = [
        vec![
            "serve".to_owned(),
            format!("--tsig={spec}"),
            "--bogus".to_owned(),
        ],
        vec!["serve".to_owned(), SECRET.to_owned()],
        vec![
            "serve".to_owned(),
            "--tsig".to_owned(),
            format!("{SECRET}:k:x"),
        ],
        vec![
            "serve".to_owned(),
            "--tsig".to_owned(),
            format!("hmac-sha256:{SECRET}..:x"),
        ],
        vec!["serve".to_owned(), format!("--workers={SECRET}")],
    ];
    for args in wrong {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let line = one_line_failure(&dynzone(&args));
        assert!(!line.contains("c2VjcmV0c2Vj"), "{args:?}: {line}");
    }
    // `--tsig=SPEC` is the same as `--tsig SPEC`: the start gets past the
    // flags and fails on the address instead.
    let line = one_line_failure(&dynzone(&[
        "serve",
        &format!("--tsig={spec}"),
        "--listen",
        "not-an-address",
    ]));
    assert!(line.contains("not-an-address"), "{line}");
    assert!(!line.contains(SECRET), "{line}");
}

#[test]
fn a_port_in_use_is_one_line_naming_the_address() {
    let dir = TempDir::new();
    let db = dir.join("db");

    // Port 0: the kernel picks a free port and this socket holds it, so no
    // other test or outgoing connection can take it in between.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let line = serve_failure(&listen, &db, &[]);
    assert!(
        line.contains(&format!("cannot listen on {listen}/udp")),
        "{line}"
    );
    assert!(line.contains("in use"), "{line}");

    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let line = serve_failure(&listen, &db, &["--workers", "2"]);
    assert!(
        line.contains(&format!("cannot listen on {listen}/tcp")),
        "{line}"
    );

    // A second dynzone on the port of a running one: SO_REUSEPORT must not let
    // it share the port silently.
    let first = TestServer::start(ZONE, "example.test", &[]);
    let listen = format!("127.0.0.1:{}", first.port());
    let line = serve_failure(&listen, &db, &[]);
    assert!(
        line.contains(&format!("cannot listen on {listen}/")),
        "{line}"
    );

    // The metrics port is bound with the DNS sockets: in use, the start fails.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics = held.local_addr().unwrap().to_string();
    let listen = format!("127.0.0.1:{}", pick_port());
    let line = serve_failure(&listen, &db, &["--metrics", &metrics]);
    assert!(
        line.contains(&format!("cannot serve metrics on {metrics}/tcp")),
        "{line}"
    );
    assert!(line.contains("in use"), "{line}");
}

#[test]
fn a_database_that_cannot_be_opened_is_one_line() {
    let dir = TempDir::new();
    let file = dir.join("plain-file");
    fs::write(&file, "not a directory").unwrap();
    let db = file.join("db");
    let listen = format!("127.0.0.1:{}", pick_port());
    let line = serve_failure(&listen, &db, &[]);
    assert!(line.contains(path_str(&db)), "{line}");

    let zonefile = dir.join("zone.txt");
    fs::write(&zonefile, ZONE).unwrap();
    let line = one_line_failure(&dynzone(&[
        "import",
        "--db",
        path_str(&db),
        path_str(&zonefile),
    ]));
    assert!(line.contains(path_str(&db)), "{line}");

    let line = one_line_failure(&dynzone(&["export", "--db", path_str(&db), "example.test"]));
    assert!(line.contains(path_str(&db)), "{line}");
}

#[test]
fn import_and_export_errors_are_one_line() {
    let dir = TempDir::new();
    let db = dir.join("db");
    let missing = dir.join("missing.zone");
    let line = one_line_failure(&dynzone(&[
        "import",
        "--db",
        path_str(&db),
        path_str(&missing),
    ]));
    assert!(line.contains("missing.zone"), "{line}");

    let broken = dir.join("broken.zone");
    fs::write(&broken, "$ORIGIN example.test.\n@ IN SOA\n").unwrap();
    let line = one_line_failure(&dynzone(&[
        "import",
        "--db",
        path_str(&db),
        path_str(&broken),
    ]));
    assert!(line.contains("broken.zone"), "{line}");

    let zonefile = dir.join("zone.txt");
    fs::write(&zonefile, ZONE).unwrap();
    let out = dynzone(&["import", "--db", path_str(&db), path_str(&zonefile)]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "imported 4 records into zone example.test., serial 1"
    );
    let line = one_line_failure(&dynzone(&["export", "--db", path_str(&db), "other.test"]));
    assert!(line.contains("other.test"), "{line}");
}

#[test]
fn pid_file_is_written_at_start_and_removed_after_sigterm() {
    let dir = TempDir::new();
    let pid_file = dir.join("dynzone.pid");
    let mut server = TestServer::start(ZONE, "example.test", &["--pid-file", path_str(&pid_file)]);
    let text = fs::read_to_string(&pid_file).expect("the pid file exists");
    assert_eq!(text.trim(), server.pid().to_string());
    let status = server.stop();
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        server.log_contents()
    );
    assert!(!pid_file.exists(), "the pid file was left behind");
    let log = server.log_contents();
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn sigint_stops_cleanly_too() {
    let mut server = TestServer::start(ZONE, "example.test", &["--workers", "2"]);
    server.signal("INT");
    let status = server.wait_exit();
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        server.log_contents()
    );
}

#[test]
fn sighup_reopens_the_log_file() {
    let dir = TempDir::new();
    let log = dir.join("dynzone.log");
    let rotated = dir.join("dynzone.log.1");
    let server = TestServer::start(ZONE, "example.test", &["--log-file", path_str(&log)]);
    // The log writer thread writes the lines a moment after they are
    // logged: wait for them.
    let started = common::eventually(Duration::from_secs(5), || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("serving zone example.test."))
    });
    let first = fs::read_to_string(&log).expect("the log file exists");
    assert!(started, "{first}");
    assert!(
        server.log_contents().is_empty(),
        "stderr: {}",
        server.log_contents()
    );

    assert_eq!(mode_of(&log), 0o640, "the log file's mode");

    fs::rename(&log, &rotated).unwrap();
    server.signal("HUP");
    let reopened = common::eventually(Duration::from_secs(5), || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("reopened log file"))
    });
    assert!(reopened, "no new log file after SIGHUP");
    assert_eq!(mode_of(&log), 0o640, "the reopened log file's mode");

    // A symbolic link at the log's path is not followed.
    let victim = dir.join("victim");
    fs::write(&victim, "keep me\n").unwrap();
    let linked = dir.join("linked.log");
    symlink(&victim, &linked).unwrap();
    let line = serve_failure(
        &format!("127.0.0.1:{}", pick_port()),
        &dir.join("db"),
        &["--log-file", path_str(&linked)],
    );
    assert!(
        line.contains("cannot open log file") && line.contains("is a symbolic link"),
        "{line}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me\n");
    let old = fs::read_to_string(&rotated).unwrap();
    assert!(!old.contains("reopened log file"), "{old}");
}

#[test]
fn zone_flag_creates_a_default_zone() {
    let mut server = TestServer::start("", "", &["--zone", "example.org"]);
    // The listener accepts before the line is written (by the log writer
    // thread, a moment later): wait for it.
    let logged = common::eventually(LIVENESS_BOUND, || {
        server.log_contents().contains("serving zone example.org.")
    });
    assert!(logged, "{}", server.log_contents());
    let text = server.export("example.org");
    assert!(text.contains("SOA"), "{text}");
    assert!(text.contains("ns1.example.org."), "{text}");
    assert!(text.contains("hostmaster.example.org."), "{text}");
    assert!(text.contains("1209600"), "{text}");
    assert!(text.contains("NS"), "{text}");
    assert!(server.stop().success());

    // The records themselves, read back from the store.
    let store = Store::open(&server.db_path(), dynzone::store::DEFAULT_MAP_SIZE).unwrap();
    let apex = NameBuf::from_text("example.org").unwrap();
    let records = store.zone_records(apex.as_name()).unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    for record in &records {
        assert_eq!(record.ttl, 3600);
        match RData::from_wire(record.rtype, &record.rdata).unwrap() {
            RData::Soa(soa) => {
                assert_eq!(soa.mname.to_string(), "ns1.example.org.");
                assert_eq!(soa.rname.to_string(), "hostmaster.example.org.");
                assert_eq!(
                    (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
                    (1, 3600, 900, 1_209_600, 300)
                );
            }
            RData::Ns(target) => assert_eq!(target.to_string(), "ns1.example.org."),
            other => panic!("unexpected record {other:?}"),
        }
    }
}

#[test]
fn zone_flag_with_servers_and_hostmaster_and_existing_zone_kept() {
    let server = TestServer::start(
        ZONE,
        "example.test",
        &[
            "--zone",
            "example.test",
            "--zone",
            "other.test",
            "--ns",
            "a.ns.test",
            "--ns",
            "b.ns.test",
            "--hostmaster",
            "dns@example.net",
            "--default-ttl",
            "600",
        ],
    );
    // The imported zone is left as it was.
    let kept = server.export("example.test");
    assert!(kept.contains("www.example.test."), "{kept}");
    assert!(!kept.contains("a.ns.test."), "{kept}");
    let made = server.export("other.test");
    assert!(made.contains("a.ns.test. dns.example.net. 1 "), "{made}");
    assert!(made.contains("b.ns.test."), "{made}");
    assert!(made.contains("600"), "{made}");
}

/// Sends one UDP query and returns the reply, if any within a second.
fn udp_query(server: &SocketAddr, id: u16, name: &str, rtype: Rtype) -> Option<Vec<u8>> {
    udp_exchange_tries(*server, &query(id, name, rtype), 1)
}

/// Whether `reply` answers `id` authoritatively with an A record `addr`.
fn answers_with(reply: &[u8], id: u16, addr: &str) -> bool {
    let Ok(msg) = Message::parse(reply) else {
        return false;
    };
    let header = msg.header();
    header.id == id
        && header.flags.aa()
        && msg.rcode() == Rcode::NoError
        && msg
            .answers()
            .any(|r| matches!(r.data, RData::A(a) if a.to_string() == addr))
}

/// A running server sees an import by another process eventually: its
/// workers refresh their snapshot at least once a tick, and the test waits up
/// to 20 ticks ([`LIVENESS_BOUND`]) and prints how long it took.
#[test]
fn an_import_becomes_visible_to_a_running_server() {
    let server = TestServer::start(ZONE, "example.test", &[]);
    let addr = server.addr();
    let reply = udp_query(&addr, 1, "www.example.test", Rtype::A).expect("an answer");
    assert!(answers_with(&reply, 1, "192.0.2.10"), "{reply:?}");
    let reply = udp_query(&addr, 2, "new.example.test", Rtype::A).expect("an answer");
    let msg = Message::parse(&reply).unwrap();
    assert_eq!(msg.rcode(), Rcode::NxDomain);

    let updated = format!("{ZONE}new IN A 192.0.2.77\n");
    let out = server.import(&updated, "example.test");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut id = 3;
    let waited = time_until(LIVENESS_BOUND, || {
        id += 1;
        let reply = udp_query(&addr, id, "new.example.test", Rtype::A);
        reply.is_some_and(|r| answers_with(&r, id, "192.0.2.77"))
    });
    match waited {
        Some(waited) => println!("the import was visible after {waited:?}"),
        None => panic!("the import was not visible within {LIVENESS_BOUND:?}"),
    }
}

const ROOT_ZONE: &str = ". 86400 IN SOA a.root-servers.test. nstld.test. 7 1800 900 604800 86400
. 518400 IN NS a.root-servers.test.
test. 172800 IN NS ns.test.
ns.test. 172800 IN A 192.0.2.53
a.root-servers.test. 518400 IN A 192.0.2.1
";

#[test]
fn the_root_zone_imports_serves_and_exports() {
    // Before, the import failed with MDB_BAD_VALSIZE (the root's key prefix
    // is empty) and `serve --zone .` with BadText ("ns1..").
    let server = TestServer::start(ROOT_ZONE, ".", &[]);
    let reply = udp_query(&server.addr(), 7, ".", Rtype::Soa).expect("an answer");
    let msg = Message::parse(&reply).unwrap();
    assert_eq!(msg.rcode(), Rcode::NoError);
    assert!(msg.header().flags.aa());
    assert!(
        msg.answers()
            .any(|r| matches!(r.data, RData::Soa(s) if s.serial == 7)),
        "{msg:?}"
    );
    // A referral to test.
    let reply = udp_query(&server.addr(), 8, "www.test", Rtype::A).expect("an answer");
    let msg = Message::parse(&reply).unwrap();
    assert!(msg.authority().any(|r| r.rtype == Rtype::Ns), "{msg:?}");
    let text = server.export(".");
    assert!(text.contains("ns.test."), "{text}");
    assert!(text.contains("a.root-servers.test."), "{text}");
    // The export reads back as the same zone.
    let out = server.import(&text, ".");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(server.export("."), text);
    server.assert_store_invariant();

    let server = TestServer::start("", "", &["--zone", "."]);
    let text = server.export(".");
    assert!(text.contains("ns1. hostmaster. 1 "), "{text}");
    server.assert_store_invariant();
}

#[test]
fn an_import_over_a_limit_is_refused_naming_the_line() {
    let dir = TempDir::new();
    let file = dir.join("zone.txt");
    let db = dir.join("db");
    let many: String = (1..=4).map(|i| format!("www IN A 192.0.2.{i}\n")).collect();
    fs::write(&file, format!("{ZONE}{many}")).unwrap();
    let args = |flag: &str, n: &str| {
        dynzone(&[
            "import",
            "--db",
            path_str(&db),
            "--origin",
            "example.test",
            flag,
            n,
            path_str(&file),
        ])
    };
    // www holds 5 A records, the 5th on line 10; the zone 8 records, the
    // 6th on line 8.
    let line = one_line_failure(&args("--max-records-per-rrset", "4"));
    assert!(line.contains("line 10:"), "{line}");
    assert!(line.contains("--max-records-per-rrset"), "{line}");
    let line = one_line_failure(&args("--max-zone-records", "5"));
    assert!(line.contains("line 8:"), "{line}");
    assert!(line.contains("--max-zone-records"), "{line}");
    assert!(args("--max-records-per-rrset", "5").status.success());
}

/// The permission bits of `path`.
fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Debian's `nobody` and `nogroup`.
const NOBODY: u32 = 65534;

/// The ids on the `Uid:` or `Gid:` line of /proc/PID/status (real,
/// effective, saved, filesystem).
fn proc_ids(pid: u32, field: &str) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} line in /proc/{pid}/status"));
    println!("{line}");
    line.split_whitespace()
        .skip(1)
        .map(|id| id.parse().unwrap())
        .collect()
}

/// Gives `dir` and every file in it to `nobody:nogroup`.
fn give_to_nobody(dir: &Path) {
    chown(dir, Some(NOBODY), Some(NOBODY)).unwrap();
    for entry in fs::read_dir(dir).unwrap() {
        chown(entry.unwrap().path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
}

/// The TSIG key of the `--user` test, as `--tsig` and `nsupdate -y` take it.
const KEY: &str = "hmac-sha256:ddns-key:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

#[test]
fn user_and_group_drop_root_and_queries_and_updates_still_work() {
    let mut server = TestServer::start(ZONE, "example.test", &[]);
    assert!(server.stop().success(), "{}", server.log_contents());
    give_to_nobody(&server.db_path());
    server.restart(&["--user", "nobody", "--group", "nogroup", "--tsig", KEY]);

    // The listener accepts (into its backlog) before the switch: wait for
    // the line that follows it.
    let switched = common::eventually(LIVENESS_BOUND, || {
        server
            .log_contents()
            .contains("running as user nobody (uid 65534, gid 65534)")
    });
    assert!(switched, "{}", server.log_contents());
    let pid = server.pid();
    assert_eq!(proc_ids(pid, "Uid:"), [NOBODY; 4]);
    assert_eq!(proc_ids(pid, "Gid:"), [NOBODY; 4]);
    // Every thread, the workers included.
    for task in fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status = fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert_eq!(uid, "Uid:\t65534\t65534\t65534\t65534", "{status}");
    }

    let reply = udp_query(&server.addr(), 1, "www.example.test", Rtype::A).expect("no answer");
    assert!(answers_with(&reply, 1, "192.0.2.10"));

    // A signed update: LMDB commits as nobody.
    let script = server.dir().join("update.txt");
    fs::write(
        &script,
        format!(
            "server 127.0.0.1 {}\nzone example.test\nupdate add new.example.test 60 A 192.0.2.77\nsend\n",
            server.port()
        ),
    )
    .unwrap();
    let out = run_tool("nsupdate", &["-t", "5", "-y", KEY, path_str(&script)]);
    assert!(
        out.status.success(),
        "nsupdate: {}\nserver log:\n{}",
        stderr_of(&out),
        server.log_contents()
    );
    let reply = udp_query(&server.addr(), 2, "new.example.test", Rtype::A).expect("no answer");
    assert!(answers_with(&reply, 2, "192.0.2.77"));
    assert!(server.stop().success(), "{}", server.log_contents());
}

#[test]
fn user_refused_when_unknown_alone_or_without_a_writable_database() {
    let dir = TempDir::new();
    let db = dir.join("db");
    let log = dir.join("dynzone.log");
    let listen = format!("127.0.0.1:{}", pick_port());

    let line = serve_failure(&listen, &db, &["--user", "nosuchuser-dynzone"]);
    assert_eq!(line, "dynzone: --user nosuchuser-dynzone: no such user");
    let line = serve_failure(
        &listen,
        &db,
        &["--user", "nobody", "--group", "nosuchgroup-dynzone"],
    );
    assert_eq!(line, "dynzone: --group nosuchgroup-dynzone: no such group");
    let line = serve_failure(&listen, &db, &["--group", "nogroup"]);
    assert!(line.contains("--group needs --user"), "{line}");

    // Created by root here, so not writable by nobody.
    let line = serve_failure(
        &listen,
        &db,
        &["--user", "nobody", "--log-file", path_str(&log)],
    );
    assert!(
        line.contains(&format!(
            "the database {} is not writable by user nobody (uid 65534)",
            db.display()
        )),
        "{line}"
    );
}

#[test]
fn pid_file_through_a_symlink_or_over_a_live_pid_is_refused_and_a_stale_one_replaced() {
    let dir = TempDir::new();
    let db = dir.join("db");
    let pid_file = dir.join("dynzone.pid");
    let listen = format!("127.0.0.1:{}", pick_port());
    // The log to a file, so that stderr holds only the error line.
    let log = dir.join("dynzone.log");
    let refused = [
        "--pid-file",
        path_str(&pid_file),
        "--log-file",
        path_str(&log),
    ];

    let victim = dir.join("victim");
    fs::write(&victim, "keep me\n").unwrap();
    symlink(&victim, &pid_file).unwrap();
    let line = serve_failure(&listen, &db, &refused);
    assert!(line.contains("is a symbolic link"), "{line}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me\n");
    // The fatal error is in the log file too: the log writer wrote all it
    // held before the process ended.
    let logged = fs::read_to_string(&log).unwrap();
    assert!(
        logged
            .lines()
            .any(|l| l.contains("ERROR") && l.contains("is a symbolic link")),
        "the fatal error is not in the log file:\n{logged}"
    );
    fs::remove_file(&pid_file).unwrap();

    let live = std::process::id();
    fs::write(&pid_file, format!("{live}\n")).unwrap();
    let line = serve_failure(&listen, &db, &refused);
    assert!(
        line.contains(&format!("process {live} is running")),
        "{line}"
    );
    assert_eq!(fs::read_to_string(&pid_file).unwrap(), format!("{live}\n"));

    // Above any pid_max Linux allows (2^22), so no such process.
    fs::write(&pid_file, "2147483646\n").unwrap();
    let mut server = TestServer::start(ZONE, "example.test", &["--pid-file", path_str(&pid_file)]);
    // The TCP listener accepts (into its backlog) before the pid file is
    // written: wait for it.
    let pid = server.pid().to_string();
    let written = common::eventually(LIVENESS_BOUND, || {
        fs::read_to_string(&pid_file).is_ok_and(|t| t.trim() == pid)
    });
    assert!(written, "pid file: {:?}", fs::read_to_string(&pid_file));
    assert_eq!(mode_of(&pid_file), 0o644);
    assert!(
        server
            .log_contents()
            .contains("replaced a stale one (process 2147483646 is gone)"),
        "{}",
        server.log_contents()
    );
    assert!(server.stop().success());
}

#[test]
fn a_key_file_readable_by_others_is_warned_about() {
    let dir = TempDir::new();
    let keys = dir.join("keys.conf");
    fs::write(&keys, format!("{KEY}\n")).unwrap();
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o644)).unwrap();
    let server = TestServer::start(ZONE, "example.test", &["--key-file", path_str(&keys)]);
    let warning = format!(
        "key file {} has mode 0644: other users may read or change its secrets",
        keys.display()
    );
    let warned = common::eventually(LIVENESS_BOUND, || server.log_contents().contains(&warning));
    assert!(warned, "{}", server.log_contents());

    fs::set_permissions(&keys, fs::Permissions::from_mode(0o640)).unwrap();
    let quiet = TestServer::start(ZONE, "example.test", &["--key-file", path_str(&keys)]);
    // Once the zone's line is written, so is any warning before it.
    common::eventually(LIVENESS_BOUND, || {
        quiet.log_contents().contains("serving zone example.test.")
    });
    assert!(
        !quiet.log_contents().contains("has mode"),
        "{}",
        quiet.log_contents()
    );
}

#[test]
fn a_low_port_without_privilege_names_the_capability() {
    let unprivileged: u16 = fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        unprivileged > 1,
        "net.ipv4.ip_unprivileged_port_start is {unprivileged}: every port is open to everyone here"
    );
    let port = unprivileged.min(1024) - 1;
    let dir = TempDir::new();
    let db = dir.join("db");
    fs::create_dir(&db).unwrap();
    give_to_nobody(&db);
    let listen = format!("127.0.0.1:{port}");
    let out = run_tool(
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            path_str(common::binary()),
            "serve",
            "--listen",
            &listen,
            "--db",
            path_str(&db),
        ],
    );
    let line = one_line_failure(&out);
    assert!(
        line.contains(&format!("cannot listen on {listen}/")),
        "{line}"
    );
    assert!(
        line.contains("ports below 1024 need root or the capability CAP_NET_BIND_SERVICE"),
        "{line}"
    );
}

//! RFC 2136 UPDATE signed with TSIG (RFC 8945), against the release binary on
//! loopback, sent by the real clients of PROTOCOL-NOTES.md: BIND `nsupdate` and
//! `dig` (package bind9-dnsutils), Knot `knsupdate` (knot-dnsutils), dnspython
//! (python3-dnspython, tests/py/update_cases.py and tests/py/update_load.py)
//! and certbot's dns-rfc2136 plugin (python3-certbot-dns-rfc2136,
//! tests/py/certbot_rfc2136.py, its client class only: no ACME server is ever
//! contacted). Also the `--grant` policy, `dynzone keygen` and `--key-file`,
//! kill -9 in the middle of a stream of updates, and two workers seeing an
//! update at once.
//!
//! Each check reads the result back: the SOA serial (it moves by exactly one
//! per message that changes something, never otherwise), the records served
//! (with AA), and `dynzone export` of the database. A missing tool fails the
//! test naming its Debian package; nothing is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::printed::dig;
use common::seed::SeededRandom;
use common::{TestServer, dynzone, run_tool, send_signal, wait_timeout};

const ZONE: &str = r#"$ORIGIN example.test.
$TTL 300
@       3600 IN SOA ns1 hostmaster 1 3600 900 1209600 300
@       3600 IN NS  ns1
@       3600 IN NS  ns2
@            IN MX  10 mail
ns1          IN A   192.0.2.1
ns2          IN A   192.0.2.2
mail         IN A   192.0.2.25
www          IN A   192.0.2.10
www          IN TXT "web server"
multi        IN A   192.0.2.31
multi        IN A   192.0.2.32
multi        IN TXT "one"
alias        IN CNAME www
*.wild       IN A   192.0.2.99
"#;

/// The keys every server here has, as `ALGORITHM:NAME:SECRET` (the base64
/// secrets are made-up ASCII, so the log can be searched for them as text
/// too). The md5 key is configured without the algorithm prefix, since
/// hmac-md5 is the default of `--tsig` as of `nsupdate -y`.
const KEYS: [(&str, &str, &str, &str); 6] = [
    (
        "hmac-md5",
        "k-md5",
        "ZHluem9uZSBtZDUga2V5IQ==",
        "dynzone md5 key!",
    ),
    (
        "hmac-sha256",
        "k-sha256",
        "ZHluem9uZSBzaGEyNTYgdGVzdCBrZXksIDMyIGJ5dGU=",
        "dynzone sha256 test key, 32 byte",
    ),
    (
        "hmac-sha1",
        "k-sha1",
        "ZHluem9uZSBzaGExIHRlc3Qga2V5ISE=",
        "dynzone sha1 test key!!",
    ),
    (
        "hmac-sha224",
        "k-sha224",
        "ZHluem9uZSBzaGEyMjQgdGVzdCBrZXksIDI4Yg==",
        "dynzone sha224 test key, 28b",
    ),
    (
        "hmac-sha384",
        "k-sha384",
        "ZHluem9uZSBobWFjLXNoYTM4NCB0ZXN0IGtleSBvZiA0OCBieXRlcyBsZW5ndGg=",
        "dynzone hmac-sha384 test key of 48 bytes length",
    ),
    (
        "hmac-sha512",
        "k-sha512",
        "ZHluem9uZSBobWFjLXNoYTUxMiB0ZXN0IGtleSwgc2l4dHktZm91ciBieXRlcyBsb25nLCBmb3IgbnN1cGRhdGU=",
        "dynzone hmac-sha512 test key, sixty-four bytes long, for nsupdate",
    ),
];
const WRONG_SECRET: &str = "dGhpcyBpcyBub3QgdGhlIHJpZ2h0IHNlY3JldCEhISE=";

const PYTHON: &str = "/usr/bin/python3";
const PY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py");

fn key(alg: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    *KEYS.iter().find(|k| k.0 == alg).expect("a configured key")
}

/// `ALG:NAME:SECRET` of the key with algorithm `alg`.
fn spec(alg: &str) -> String {
    let (alg, name, secret, _) = key(alg);
    format!("{alg}:{name}:{secret}")
}

/// `--tsig` for every key in KEYS, the md5 key without its algorithm.
fn key_args() -> Vec<String> {
    let mut args = Vec::new();
    for (alg, name, secret, _) in KEYS {
        args.push("--tsig".to_string());
        if alg == "hmac-md5" {
            args.push(format!("{name}:{secret}"));
        } else {
            args.push(format!("{alg}:{name}:{secret}"));
        }
    }
    args
}

fn start_with(extra: &[&str]) -> TestServer {
    let mut args = key_args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    TestServer::start(ZONE, "example.test", &args)
}

fn start() -> TestServer {
    start_with(&[])
}

/// Fails the test when any configured secret (base64 or its text) is in the log.
fn assert_no_secret_in_log(server: &TestServer) {
    let log = server.log_contents();
    for (_, name, secret, text) in KEYS {
        assert!(!log.contains(secret), "secret of {name} in the log:\n{log}");
        assert!(!log.contains(text), "secret of {name} in the log:\n{log}");
    }
    assert!(!log.contains(WRONG_SECRET), "a secret in the log:\n{log}");
}

fn text(out: &Output) -> String {
    common::printed_text(out)
}

// --------------------------------------------------------------------- clients

/// Runs `nsupdate ARGS FILE` with `script` (after a `server` line for this
/// server) as FILE; short timeouts, so a silent server fails fast.
fn nsupdate(server: &TestServer, args: &[&str], script: &str) -> Output {
    let file = server.dir().join(format!("nsupdate-{}.txt", unique()));
    let full = format!("server 127.0.0.1 {}\n{script}", server.port());
    fs::write(&file, &full).expect("writing the nsupdate script");
    let mut all: Vec<&str> = vec!["-t", "6", "-u", "2", "-r", "1"];
    all.extend_from_slice(args);
    all.push(file.to_str().expect("UTF-8 path"));
    let out = run_tool("nsupdate", &all);
    server.assert_store_invariant();
    out
}

/// nsupdate that must succeed.
fn nsupdate_ok(server: &TestServer, args: &[&str], script: &str) {
    let out = nsupdate(server, args, script);
    assert!(
        out.status.success(),
        "nsupdate {args:?} failed ({}):\n{script}\n{}\nserver log:\n{}",
        out.status,
        text(&out),
        server.log_contents()
    );
}

/// nsupdate that must fail, printing `expect`; nothing may change.
fn nsupdate_fails(server: &TestServer, args: &[&str], script: &str, expect: &str) {
    let before = server.export("example.test");
    let out = nsupdate(server, args, script);
    let printed = text(&out);
    assert!(
        !out.status.success(),
        "nsupdate {args:?} succeeded, expected {expect:?}:\n{script}\n{printed}"
    );
    assert!(
        printed.contains(expect),
        "nsupdate {args:?}: expected {expect:?} in its output:\n{script}\n{printed}"
    );
    assert_eq!(
        server.export("example.test"),
        before,
        "a failed update changed the zone:\n{script}"
    );
}

fn knsupdate(server: &TestServer, args: &[&str], script: &str) -> Output {
    let file = server.dir().join(format!("knsupdate-{}.txt", unique()));
    let full = format!("server 127.0.0.1 {}\n{script}", server.port());
    fs::write(&file, &full).expect("writing the knsupdate script");
    let mut all: Vec<&str> = vec!["-t", "4", "-r", "1"];
    all.extend_from_slice(args);
    all.push(file.to_str().expect("UTF-8 path"));
    let out = run_tool("knsupdate", &all);
    server.assert_store_invariant();
    out
}

fn unique() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The rdata dig shows for `name`/`rtype` (sorted), asserting an
/// authoritative NOERROR answer.
fn served(server: &TestServer, name: &str, rtype: &str) -> Vec<String> {
    let d = dig(server, &[name, rtype]);
    assert_eq!(d.status, "NOERROR", "{name} {rtype}:\n{}", d.text);
    assert!(d.has_flag("aa"), "no AA:\n{}", d.text);
    let owner = format!("{}.", name.trim_end_matches('.')).to_ascii_lowercase();
    d.answer_rdata()
        .into_iter()
        .filter(|(o, t, _)| *o == owner && t == rtype)
        .map(|(_, _, r)| r)
        .collect()
}

/// dig's status for `name`/`rtype`.
fn status(server: &TestServer, name: &str, rtype: &str) -> String {
    dig(server, &[name, rtype]).status
}

/// The SOA serial of `zone` as served.
fn serial_of(server: &TestServer, zone: &str) -> u32 {
    let soa = served(server, zone, "SOA");
    assert_eq!(soa.len(), 1, "{soa:?}");
    soa[0].split_whitespace().nth(2).unwrap().parse().unwrap()
}

fn serial(server: &TestServer) -> u32 {
    serial_of(server, "example.test")
}

/// Runs a script of tests/py with /usr/bin/python3; its output, and whether it
/// exited 0.
fn python(script: &str, args: &[String]) -> (bool, String) {
    let out = Command::new(PYTHON)
        .arg(format!("{PY_DIR}/{script}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {PYTHON}: {e}; install the Debian packages python3 and python3-dnspython")
        });
    (out.status.success(), text(&out))
}

// ------------------------------------------------------------------ nsupdate

#[test]
fn nsupdate_adds_records_with_each_algorithm() {
    let server = start();
    let cases = [
        (
            "hmac-md5, the default",
            format!("k-md5:{}", key("hmac-md5").2),
        ),
        ("hmac-sha1", spec("hmac-sha1")),
        ("hmac-sha256", spec("hmac-sha256")),
        ("hmac-sha512", spec("hmac-sha512")),
    ];
    for (i, (label, y)) in cases.iter().enumerate() {
        let before = serial(&server);
        let host = format!("host{i}.example.test");
        nsupdate_ok(
            &server,
            &["-y", y],
            &format!(
                "zone example.test\n\
                 update add {host} 300 A 192.0.2.{}\n\
                 update add {host} 300 AAAA 2001:db8::{}:1\n\
                 update add {host} 300 TXT \"via {label}\"\n\
                 send\n",
                100 + i,
                i + 1
            ),
        );
        assert_eq!(serial(&server), before + 1, "{label}: one message, +1");
        assert_eq!(
            served(&server, &host, "A"),
            [format!("192.0.2.{}", 100 + i)]
        );
        assert_eq!(
            served(&server, &host, "AAAA"),
            [format!("2001:db8::{}:1", i + 1)]
        );
        assert_eq!(served(&server, &host, "TXT"), [format!("\"via {label}\"")]);
    }
    // Two messages from one run: two increments.
    let before = serial(&server);
    nsupdate_ok(
        &server,
        &["-y", &spec("hmac-sha256")],
        "zone example.test\n\
         update add twice.example.test 300 TXT \"first\"\nsend\n\
         update add twice.example.test 300 TXT \"second\"\nsend\n",
    );
    assert_eq!(serial(&server), before + 2);
    assert_eq!(
        served(&server, "twice.example.test", "TXT"),
        ["\"first\"", "\"second\""]
    );
    // The database holds what is served.
    let export = server.export("example.test");
    assert!(
        export.contains("host3.example.test.\t300\tIN\tTXT\t\"via hmac-sha512\""),
        "{export}"
    );
    assert_no_secret_in_log(&server);
}

#[test]
fn nsupdate_without_a_zone_line_finds_the_zone_with_a_signed_soa_query() {
    let server = start();
    let before = serial(&server);
    // nsupdate asks SOA for deep.er.example.test, then walks up, every query
    // TSIG-signed; an unsigned answer would be fatal for it.
    nsupdate_ok(
        &server,
        &["-y", &spec("hmac-sha256")],
        "update add deep.er.example.test 300 A 192.0.2.44\nsend\n",
    );
    assert_eq!(serial(&server), before + 1);
    assert_eq!(served(&server, "deep.er.example.test", "A"), ["192.0.2.44"]);
    nsupdate_ok(
        &server,
        &["-y", &format!("k-md5:{}", key("hmac-md5").2)],
        "update delete deep.er.example.test A\nsend\n",
    );
    assert_eq!(serial(&server), before + 2);
    assert_eq!(status(&server, "deep.er.example.test", "A"), "NXDOMAIN");

    // dig with a key: a signed, verified, authoritative answer.
    for alg in ["hmac-sha256", "hmac-md5", "hmac-sha512"] {
        let d = dig(&server, &["-y", &spec(alg), "example.test", "SOA"]);
        assert_eq!(d.status, "NOERROR", "{}", d.text);
        assert!(d.flags.iter().any(|f| f == "aa"), "{}", d.text);
        assert!(
            d.text.contains("TSIG PSEUDOSECTION"),
            "unsigned:\n{}",
            d.text
        );
        assert!(!d.text.contains("Couldn't verify"), "{}", d.text);
        assert!(!d.text.contains("tsig"), "TSIG complaint:\n{}", d.text);
        let d = dig(&server, &["-y", &spec(alg), "nothere.example.test", "A"]);
        assert_eq!(d.status, "NXDOMAIN", "{}", d.text);
        assert!(
            d.text.contains("TSIG PSEUDOSECTION"),
            "unsigned:\n{}",
            d.text
        );
    }
}

#[test]
fn nsupdate_over_tcp() {
    let server = start();
    let before = serial(&server);
    let mut script = String::from("zone example.test\n");
    // Also large enough (> 512 bytes) that it could only go over TCP anyway.
    for i in 0..20 {
        script.push_str(&format!(
            "update add tcp.example.test 300 TXT \"record number {i} of a large update\"\n"
        ));
    }
    script.push_str("send\n");
    nsupdate_ok(&server, &["-v", "-y", &spec("hmac-sha256")], &script);
    assert_eq!(serial(&server), before + 1);
    assert_eq!(served(&server, "tcp.example.test", "TXT").len(), 20);
    nsupdate_ok(
        &server,
        &["-v", "-y", &spec("hmac-sha1")],
        "update delete tcp.example.test TXT\nsend\n",
    );
    assert_eq!(serial(&server), before + 2);
    assert_eq!(status(&server, "tcp.example.test", "TXT"), "NXDOMAIN");
    // Each applied update is one info line: zone, key, peer, the serial's
    // move and the records it carried (as Knot logs DDNS).
    let log = server.log_contents();
    let line = |from: u32, records: usize| {
        log.lines().any(|l| {
            l.contains("INFO")
                && l.contains("update: zone example.test. key ")
                && l.contains(" peer 127.0.0.1:")
                && l.ends_with(&format!(
                    ": serial {from} -> {}, {records} record{}",
                    from + 1,
                    if records == 1 { "" } else { "s" }
                ))
        })
    };
    assert!(line(before, 20), "no line for the first update:\n{log}");
    assert!(line(before + 1, 1), "no line for the second update:\n{log}");
}

#[test]
fn nsupdate_prerequisites_hold_or_fail_with_their_rcode() {
    let server = start();
    let y = spec("hmac-sha256");
    let holding = [
        "prereq nxdomain nothere.example.test",
        "prereq yxdomain www.example.test",
        "prereq nxrrset www.example.test AAAA",
        "prereq yxrrset www.example.test A",
        "prereq yxrrset www.example.test A 192.0.2.10",
        "prereq yxrrset multi.example.test A 192.0.2.32 \nprereq yxrrset multi.example.test A 192.0.2.31",
    ];
    for (i, prereq) in holding.iter().enumerate() {
        let before = serial(&server);
        nsupdate_ok(
            &server,
            &["-y", &y],
            &format!(
                "zone example.test\n{prereq}\nupdate add ok{i}.example.test 300 TXT \"{i}\"\nsend\n"
            ),
        );
        assert_eq!(serial(&server), before + 1, "{prereq}");
        assert_eq!(
            served(&server, &format!("ok{i}.example.test"), "TXT"),
            [format!("\"{i}\"")]
        );
    }
    let failing = [
        (
            "prereq nxdomain www.example.test",
            "update failed: YXDOMAIN",
        ),
        (
            "prereq yxdomain nothere.example.test",
            "update failed: NXDOMAIN",
        ),
        (
            "prereq nxrrset www.example.test A",
            "update failed: YXRRSET",
        ),
        (
            "prereq yxrrset www.example.test AAAA",
            "update failed: NXRRSET",
        ),
        (
            "prereq yxrrset www.example.test A 192.0.2.99",
            "update failed: NXRRSET",
        ),
        // Value-dependent: the whole RRset must match, not a part of it.
        (
            "prereq yxrrset multi.example.test A 192.0.2.31",
            "update failed: NXRRSET",
        ),
    ];
    for (i, (prereq, expect)) in failing.iter().enumerate() {
        let before = serial(&server);
        nsupdate_fails(
            &server,
            &["-y", &y],
            &format!(
                "zone example.test\n{prereq}\nupdate add no{i}.example.test 300 TXT \"{i}\"\n\
                 update delete www.example.test A\nsend\n"
            ),
            expect,
        );
        assert_eq!(serial(&server), before, "{prereq}");
        assert_eq!(
            status(&server, &format!("no{i}.example.test"), "TXT"),
            "NXDOMAIN"
        );
        assert_eq!(served(&server, "www.example.test", "A"), ["192.0.2.10"]);
    }
}

#[test]
fn nsupdate_delete_forms() {
    let server = start();
    let y = spec("hmac-sha256");
    let s0 = serial(&server);
    nsupdate_ok(
        &server,
        &["-y", &y],
        "zone example.test\n\
         update add del.example.test 300 A 192.0.2.1\n\
         update add del.example.test 300 A 192.0.2.2\n\
         update add del.example.test 300 TXT \"t\"\n\
         update add del2.example.test 300 A 192.0.2.3\n\
         send\n",
    );
    assert_eq!(serial(&server), s0 + 1);
    assert_eq!(
        served(&server, "del.example.test", "A"),
        ["192.0.2.1", "192.0.2.2"]
    );

    // name + type + rdata: one record.
    nsupdate_ok(
        &server,
        &["-y", &y],
        "zone example.test\nupdate delete del.example.test A 192.0.2.1\nsend\n",
    );
    assert_eq!(serial(&server), s0 + 2);
    assert_eq!(served(&server, "del.example.test", "A"), ["192.0.2.2"]);
    assert_eq!(served(&server, "del.example.test", "TXT"), ["\"t\""]);

    // name + type: the RRset.
    nsupdate_ok(
        &server,
        &["-y", &y],
        "zone example.test\nupdate delete del.example.test TXT\nsend\n",
    );
    assert_eq!(serial(&server), s0 + 3);
    assert!(served(&server, "del.example.test", "TXT").is_empty());
    assert_eq!(served(&server, "del.example.test", "A"), ["192.0.2.2"]);

    // name: everything there.
    nsupdate_ok(
        &server,
        &["-y", &y],
        "zone example.test\nupdate delete del.example.test\nsend\n",
    );
    assert_eq!(serial(&server), s0 + 4);
    assert_eq!(status(&server, "del.example.test", "A"), "NXDOMAIN");
    assert_eq!(served(&server, "del2.example.test", "A"), ["192.0.2.3"]);

    // Deleting what is not there: NOERROR, no new serial.
    nsupdate_ok(
        &server,
        &["-y", &y],
        "zone example.test\n\
         update delete del.example.test\n\
         update delete del2.example.test AAAA\n\
         update delete www.example.test A 192.0.2.99\n\
         send\n",
    );
    assert_eq!(serial(&server), s0 + 4, "no effective change, same serial");
    let export = server.export("example.test");
    assert!(!export.contains("del.example.test."), "{export}");
    assert!(export.contains("del2.example.test."), "{export}");
}

#[test]
fn nsupdate_with_a_wrong_key_changes_nothing_and_is_logged() {
    let server = start();
    let before_serial = serial(&server);
    let script = "zone example.test\nupdate add intruder.example.test 300 A 192.0.2.66\nsend\n";

    // Right key name, wrong secret: NOTAUTH/BADSIG, which nsupdate can
    // print only from the TSIG RR of the (unsigned) reply.
    nsupdate_fails(
        &server,
        &["-y", &format!("hmac-sha256:k-sha256:{WRONG_SECRET}")],
        script,
        "update failed: NOTAUTH(BADSIG)",
    );
    // Unknown key name: NOTAUTH/BADKEY.
    nsupdate_fails(
        &server,
        &["-y", &format!("hmac-sha256:nobody:{WRONG_SECRET}")],
        script,
        "update failed: NOTAUTH(BADKEY)",
    );
    // Right name and secret, other algorithm: NOTAUTH/BADKEY.
    nsupdate_fails(
        &server,
        &[
            "-y",
            &format!("hmac-sha512:k-sha256:{}", key("hmac-sha256").2),
        ],
        script,
        "update failed: NOTAUTH(BADKEY)",
    );
    // No key at all: REFUSED.
    nsupdate_fails(&server, &[], script, "update failed: REFUSED");
    // Over TCP the same.
    nsupdate_fails(
        &server,
        &["-v", "-y", &format!("k-md5:{WRONG_SECRET}")],
        script,
        "update failed: NOTAUTH(BADSIG)",
    );

    assert_eq!(serial(&server), before_serial);
    assert_eq!(status(&server, "intruder.example.test", "A"), "NXDOMAIN");

    // Each failure is logged on one line with its peer, the key and a
    // reason; never with a secret.
    let log = server.log_contents();
    let logged = |key: &str, reasons: &[&str]| {
        log.lines().any(|line| {
            let lower = line.to_ascii_lowercase();
            lower.contains("127.0.0.1")
                && lower.contains(key)
                && reasons.iter().any(|r| lower.contains(r))
        })
    };
    assert!(
        logged("k-sha256", &["badsig", "signature", "mac"]),
        "no bad-MAC line (peer, key, reason) in the log:\n{log}"
    );
    assert!(
        logged("nobody", &["badkey", "unknown"]),
        "no unknown-key line (peer, key, reason) in the log:\n{log}"
    );
    assert!(
        logged("k-sha256", &["badkey", "algorithm"]),
        "no wrong-algorithm line (peer, key, reason) in the log:\n{log}"
    );
    assert!(
        logged("k-md5", &["badsig", "signature", "mac"]),
        "no bad-MAC line for the TCP request in the log:\n{log}"
    );
    assert!(
        logged("", &["unsigned"]),
        "no line for the unsigned update in the log:\n{log}"
    );
    assert_no_secret_in_log(&server);
}

#[test]
fn keys_without_grants_may_change_every_served_zone() {
    let server = start_with(&["--zone", "other.test"]);
    let before = serial_of(&server, "other.test");
    nsupdate_ok(
        &server,
        &["-y", &spec("hmac-sha384")],
        "zone other.test\nupdate add www.other.test 300 A 192.0.2.8\nsend\n",
    );
    assert_eq!(serial_of(&server, "other.test"), before + 1);
    assert_eq!(served(&server, "www.other.test", "A"), ["192.0.2.8"]);
    // A name of one zone in an update for the other: NOTZONE, nothing applied.
    nsupdate_fails(
        &server,
        &["-y", &spec("hmac-sha384")],
        "zone other.test\nupdate add www.other.test 300 A 192.0.2.9\n\
         update add www.example.test 300 A 192.0.2.9\nsend\n",
        "NOTZONE",
    );
    assert_eq!(served(&server, "www.other.test", "A"), ["192.0.2.8"]);
}

// ------------------------------------------------------- keygen and key files

/// `key "NAME" { algorithm ALG; secret "B64"; };` → (name, alg, secret).
fn parse_keygen(out: &str) -> (String, String, String) {
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest = flat
        .strip_prefix("key \"")
        .unwrap_or_else(|| panic!("not a tsig-keygen key: {out}"));
    let (name, rest) = rest.split_once("\" { algorithm ").expect(out);
    let (alg, rest) = rest.split_once("; secret \"").expect(out);
    let (secret, rest) = rest.split_once("\"; };").expect(out);
    assert!(rest.trim().is_empty(), "trailing text: {out}");
    (name.to_string(), alg.to_string(), secret.to_string())
}

/// Bytes a padded base64 text decodes to (characters checked too).
fn base64_len(text: &str) -> usize {
    assert!(
        text.len().is_multiple_of(4),
        "base64 length {}: {text}",
        text.len()
    );
    assert!(
        text.trim_end_matches('=')
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/'),
        "not base64: {text}"
    );
    text.len() / 4 * 3 - (text.len() - text.trim_end_matches('=').len())
}

#[test]
fn keygen_prints_keys_that_nsupdate_and_the_server_read() {
    let mut generated = Vec::new();
    for (alg, size) in [
        ("hmac-md5", 16),
        ("hmac-sha1", 20),
        ("hmac-sha224", 28),
        ("hmac-sha256", 32),
        ("hmac-sha384", 48),
        ("hmac-sha512", 64),
    ] {
        let out = dynzone(&["keygen", "--algorithm", alg, &format!("gen-{alg}.")]);
        assert!(out.status.success(), "keygen {alg}: {}", text(&out));
        let printed = String::from_utf8(out.stdout).unwrap();
        let (name, got_alg, secret) = parse_keygen(&printed);
        assert_eq!(name.trim_end_matches('.'), format!("gen-{alg}"));
        assert_eq!(got_alg, alg);
        assert!(
            base64_len(&secret) >= size.min(32),
            "{alg}: a secret of {} bytes",
            base64_len(&secret)
        );
        generated.push((alg, printed, secret));
    }
    // Fresh randomness every time.
    let again = dynzone(&["keygen", "--algorithm", "hmac-sha256", "gen-hmac-sha256."]);
    let (_, _, secret) = parse_keygen(&String::from_utf8(again.stdout).unwrap());
    assert_ne!(secret, generated[3].2);
    let default = dynzone(&["keygen", "plain"]);
    assert!(default.status.success(), "{}", text(&default));
    let (name, alg, _) = parse_keygen(&String::from_utf8(default.stdout).unwrap());
    assert_eq!(name.trim_end_matches('.'), "plain");
    assert!(alg.starts_with("hmac-"), "{alg}");

    // One file with all six keys and a one-line key; the server reads it.
    let dir = common::TempDir::new();
    let all = dir.join("keys.conf");
    let mut content: String = generated.iter().map(|g| g.1.clone()).collect();
    content.push_str(&format!("hmac-sha1:line-key:{}\n", key("hmac-sha1").2));
    fs::write(&all, &content).unwrap();
    let server = TestServer::start(ZONE, "example.test", &["--key-file", all.to_str().unwrap()]);
    for (i, (alg, printed, _)) in generated.iter().enumerate() {
        // nsupdate -k on a file holding just that key, as keygen printed it.
        let one = dir.join(&format!("{alg}.key"));
        fs::write(&one, printed).unwrap();
        let before = serial(&server);
        nsupdate_ok(
            &server,
            &["-k", one.to_str().unwrap()],
            &format!("zone example.test\nupdate add kf{i}.example.test 300 TXT \"{alg}\"\nsend\n"),
        );
        assert_eq!(serial(&server), before + 1, "{alg}");
        assert_eq!(
            served(&server, &format!("kf{i}.example.test"), "TXT"),
            [format!("\"{alg}\"")]
        );
    }
    nsupdate_ok(
        &server,
        &["-y", &format!("hmac-sha1:line-key:{}", key("hmac-sha1").2)],
        "zone example.test\nupdate add line.example.test 300 A 192.0.2.77\nsend\n",
    );
    assert_eq!(served(&server, "line.example.test", "A"), ["192.0.2.77"]);
    // A key that is not in the file is unknown.
    nsupdate_fails(
        &server,
        &["-y", &spec("hmac-sha256")],
        "zone example.test\nupdate add nokey.example.test 300 A 192.0.2.78\nsend\n",
        "NOTAUTH",
    );
    let log = server.log_contents();
    for (_, _, secret) in &generated {
        assert!(
            !log.contains(secret.as_str()),
            "a key-file secret in the log:\n{log}"
        );
    }
}

// ------------------------------------------------------------------ knsupdate

#[test]
fn knsupdate_adds_and_deletes_over_udp_and_tcp() {
    let server = start();
    let s0 = serial(&server);
    let (_, name, secret, _) = key("hmac-sha256");
    let runs: [(Vec<String>, &str, &str); 5] = [
        (
            vec!["-y".into(), spec("hmac-sha256")],
            "zone example.test.\norigin example.test.\nupdate add kn1 300 A 192.0.2.61\nsend\n",
            "UDP, -y hmac-sha256:name:secret",
        ),
        (
            // knsupdate's default algorithm is hmac-sha256.
            vec!["-y".into(), format!("{name}:{secret}")],
            "zone example.test.\nadd kn2.example.test. 300 TXT \"knot\"\nsend\n",
            "UDP, -y name:secret",
        ),
        (
            vec!["-v".into(), "-y".into(), spec("hmac-sha512")],
            "zone example.test.\nadd kn3.example.test. 300 AAAA 2001:db8::61\n\
             del kn1.example.test. A\nsend\n",
            "TCP, hmac-sha512, add and delete",
        ),
        (
            vec!["-y".into(), spec("hmac-md5")],
            "zone example.test.\nadd kn4.example.test. 300 A 192.0.2.64\n\
             add kn4.example.test. 300 A 192.0.2.65\nsend\n",
            "UDP, hmac-md5",
        ),
        (
            vec!["-v".into(), "-y".into(), spec("hmac-sha256")],
            "zone example.test.\ndel kn2.example.test. TXT \"knot\"\n\
             del kn4.example.test. A 192.0.2.64\nsend\n",
            "TCP, delete one RR each",
        ),
    ];
    for (i, (args, script, label)) in runs.iter().enumerate() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = knsupdate(&server, &args, script);
        assert!(
            out.status.success(),
            "knsupdate {label} failed:\n{}\nserver log:\n{}",
            text(&out),
            server.log_contents()
        );
        assert_eq!(serial(&server), s0 + 1 + i as u32, "{label}");
    }
    assert_eq!(status(&server, "kn1.example.test", "A"), "NXDOMAIN");
    assert_eq!(status(&server, "kn2.example.test", "TXT"), "NXDOMAIN");
    assert_eq!(
        served(&server, "kn3.example.test", "AAAA"),
        ["2001:db8::61"]
    );
    assert_eq!(served(&server, "kn4.example.test", "A"), ["192.0.2.65"]);

    // Wrong secret: knsupdate fails, nothing changes.
    let before = server.export("example.test");
    let out = knsupdate(
        &server,
        &["-y", &format!("hmac-sha256:{name}:{WRONG_SECRET}")],
        "zone example.test.\nadd kn5.example.test. 300 A 192.0.2.66\nsend\n",
    );
    assert!(
        !out.status.success(),
        "wrong secret accepted:\n{}",
        text(&out)
    );
    assert_eq!(server.export("example.test"), before);
    assert_eq!(serial(&server), s0 + 5);
}

// ------------------------------------------------------------------ dnspython

#[test]
fn dnspython_update_cases() {
    let server = start();
    let mut args = vec![server.port().to_string(), spec("hmac-sha256")];
    for (alg, ..) in KEYS {
        if alg != "hmac-sha256" {
            args.push(spec(alg));
        }
    }
    let (ok, output) = python("update_cases.py", &args);
    println!("{output}");
    assert!(
        ok,
        "tests/py/update_cases.py reported failures:\n{}\nserver log (tail):\n{}",
        output
            .lines()
            .filter(|l| !l.starts_with("ok "))
            .collect::<Vec<_>>()
            .join("\n"),
        tail(&server.log_contents(), 40)
    );
    assert!(
        output.lines().filter(|l| l.starts_with("ok ")).count() > 100,
        "{output}"
    );
    // The authentication failures are in the log: peer, key, reason.
    let log = server.log_contents();
    for (key, reason) in [
        ("k-sha256", "time"),
        ("k-sha256", "algorithm"),
        ("no-such-key", ""),
        ("k-sha512", ""),
        ("k-md5", ""),
    ] {
        assert!(
            log.lines().any(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("127.0.0.1") && l.contains(key) && l.contains(reason)
            }),
            "no log line with 127.0.0.1, {key} and {reason:?}:\n{}",
            tail(&log, 60)
        );
    }
    assert_no_secret_in_log(&server);
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// -------------------------------------------------------------------- certbot

#[test]
fn certbot_plugin_adds_and_deletes_challenge_records() {
    let has_plugin = Command::new(PYTHON)
        .args(["-c", "import certbot_dns_rfc2136"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_plugin,
        "certbot's plugin is missing: apt-get install python3-certbot-dns-rfc2136"
    );
    let server = start();
    for alg in ["hmac-md5", "hmac-sha512"] {
        let (alg, name, secret, _) = key(alg);
        let args = [
            server.port().to_string(),
            name.to_string(),
            secret.to_string(),
            alg.to_string(),
        ];
        let (ok, output) = python("certbot_rfc2136.py", &args);
        println!("{alg}:\n{output}");
        assert!(
            ok,
            "certbot's plugin with {alg}:\n{output}\nserver log (tail):\n{}",
            tail(&server.log_contents(), 30)
        );
    }
}

// ------------------------------------------------------------ refusal lines

/// A key granted TXT at `_acme-challenge.example.test` only, and one granted
/// the whole zone.
const ACME: &str = "hmac-sha256:acme:YWNtZSBjaGFsbGVuZ2Uga2V5LCBvbmx5IFRYVC4uLi4=";
const ADMIN: &str = "hmac-sha256:admin:YWRtaW4ga2V5IGZvciB0aGUgd2hvbGUgem9uZS4uLi4=";
/// The flags that configure [`ACME`] and [`ADMIN`] with their grants.
const ACME_AND_ADMIN: [&str; 8] = [
    "--tsig",
    ACME,
    "--tsig",
    ADMIN,
    "--grant",
    "acme:_acme-challenge.example.test:TXT",
    "--grant",
    "admin:example.test",
];

/// A refused UPDATE from a valid key is one info line naming the zone, the
/// key, the peer, the first record that failed and the rule it broke; the
/// zone is unchanged (`nsupdate_fails` compares the export). A quota
/// refusal has the same shape.
#[test]
fn refused_updates_are_logged_once_with_the_record_and_the_rule() {
    let (acme, admin) = (ACME, ADMIN);
    let args = [&ACME_AND_ADMIN[..], &["--max-records-per-rrset", "2"]].concat();
    let server = TestServer::start(ZONE, "example.test", &args);
    let z = "check-names off\nzone example.test\n";
    let cases = [
        (
            acme,
            "update add www.example.test 300 A 192.0.2.77\n",
            "update failed: REFUSED",
            "acme.",
            "www.example.test. A outside grant _acme-challenge.example.test. TXT (REFUSED)",
        ),
        (
            admin,
            "prereq nxdomain www.example.test\nupdate add new.example.test 300 TXT \"x\"\n",
            "update failed: YXDOMAIN",
            "admin.",
            "www.example.test. ANY prerequisite failed: name in use (YXDOMAIN)",
        ),
        (
            admin,
            "prereq yxrrset www.example.test AAAA\nupdate add new.example.test 300 TXT \"x\"\n",
            "update failed: NXRRSET",
            "admin.",
            "www.example.test. AAAA prerequisite failed: RRset does not exist (NXRRSET)",
        ),
        (
            admin,
            "prereq yxrrset multi.example.test A 192.0.2.31\nupdate add new.example.test 300 TXT \"x\"\n",
            "update failed: NXRRSET",
            "admin.",
            "multi.example.test. A prerequisite failed: RRset differs (NXRRSET)",
        ),
        (
            admin,
            "update add new.example.test 300 TXT \"x\"\nupdate add www.elsewhere.test 300 A 192.0.2.1\n",
            "update failed: NOTZONE",
            "admin.",
            "www.elsewhere.test. A outside the zone (NOTZONE)",
        ),
        // A quota: the same shape, at warn.
        (
            admin,
            "update add multi.example.test 300 A 192.0.2.33\n",
            "update failed: REFUSED",
            "admin.",
            "multi.example.test. A more than 2 records in one RRset (--max-records-per-rrset) (REFUSED); nothing applied",
        ),
    ];
    for (key, body, printed, key_name, detail) in cases {
        nsupdate_fails(&server, &["-y", key], &format!("{z}{body}send\n"), printed);
        let log = server.log_contents();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("update refused: ") && l.ends_with(detail))
            .collect();
        assert_eq!(lines.len(), 1, "want one line ending {detail:?}:\n{log}");
        let prefix = format!("update refused: zone example.test. key {key_name} peer 127.0.0.1:");
        let level = if detail.contains("--max-") {
            "WARN"
        } else {
            "INFO"
        };
        assert!(
            lines[0].contains(level) && lines[0].contains(&prefix),
            "{prefix:?} not in {:?}",
            lines[0]
        );
    }
    assert_eq!(status(&server, "new.example.test", "TXT"), "NXDOMAIN");
    assert_no_secret_in_log(&server);
}

// ---------------------------------------------------------------------- grants

#[test]
fn grants_limit_a_key_to_its_names_and_types() {
    let (acme, admin) = (ACME, ADMIN);
    let web = "hmac-sha1:web:d2ViIGtleSwgQSBhbmQgQUFBQQ==";
    // A key with no grant while others have one may change nothing.
    let idle = "hmac-sha512:idle:aWRsZSBrZXksIG5vIGdyYW50IGF0IGFsbA==";
    let server = TestServer::start(
        ZONE,
        "example.test",
        &[
            &["--zone", "other.test"][..],
            &ACME_AND_ADMIN,
            &["--tsig", web, "--grant", "web:www.example.test:A,AAAA"],
            &["--tsig", idle],
        ]
        .concat(),
    );
    // check-names off: nsupdate itself refuses an A record at an owner
    // with an underscore, and the server is what is tested here.
    let z = "check-names off\nzone example.test\n";
    let s0 = serial(&server);

    // Allowed: TXT at and below the granted name, added and deleted.
    nsupdate_ok(
        &server,
        &["-y", acme],
        &format!(
            "{z}update add _acme-challenge.example.test 120 TXT \"token-1\"\n\
                  update add _acme-challenge.example.test 120 TXT \"token-2\"\nsend\n"
        ),
    );
    nsupdate_ok(
        &server,
        &["-y", acme],
        &format!("{z}update add www._acme-challenge.example.test 120 TXT \"below\"\nsend\n"),
    );
    nsupdate_ok(
        &server,
        &["-y", acme],
        &format!("{z}update delete _acme-challenge.example.test TXT \"token-1\"\nsend\n"),
    );
    assert_eq!(serial(&server), s0 + 3);
    assert_eq!(
        served(&server, "_acme-challenge.example.test", "TXT"),
        ["\"token-2\""]
    );
    assert_eq!(
        served(&server, "www._acme-challenge.example.test", "TXT"),
        ["\"below\""]
    );

    // Refused: other types, other names, the apex, other zones; and a
    // message with one allowed and one refused record applies nothing.
    let refused = [
        "update add _acme-challenge.example.test 120 A 192.0.2.1\n",
        "update add www.example.test 120 TXT \"not mine\"\n",
        "update add evil_acme-challenge.example.test 120 TXT \"suffix, not below\"\n",
        "update add challenge.example.test 120 TXT \"x\"\n",
        "update delete example.test\n",
        "update delete example.test MX\n",
        "update delete www.example.test A\n",
        "update delete _acme-challenge.example.test A\n",
        "update add _acme-challenge.example.test 120 TXT \"fine\"\n\
         update add www.example.test 120 TXT \"not fine\"\n",
    ];
    for body in refused {
        nsupdate_fails(
            &server,
            &["-y", acme],
            &format!("{z}{body}send\n"),
            "update failed: REFUSED",
        );
    }
    let other = server.export("other.test");
    nsupdate_fails(
        &server,
        &["-y", acme],
        "zone other.test\nupdate add _acme-challenge.other.test 120 TXT \"x\"\nsend\n",
        "update failed: REFUSED",
    );
    assert_eq!(serial(&server), s0 + 3);
    assert_eq!(
        served(&server, "_acme-challenge.example.test", "TXT"),
        ["\"token-2\""]
    );
    assert_eq!(served(&server, "www.example.test", "A"), ["192.0.2.10"]);
    assert_eq!(
        served(&server, "example.test", "MX"),
        ["10 mail.example.test."]
    );

    // The admin key: anything in example.test, nothing in other.test.
    nsupdate_ok(
        &server,
        &["-y", admin],
        &format!(
            "{z}update add www2.example.test 300 A 192.0.2.20\n\
                  update delete _acme-challenge.example.test TXT\nsend\n"
        ),
    );
    assert_eq!(serial(&server), s0 + 4);
    assert_eq!(served(&server, "www2.example.test", "A"), ["192.0.2.20"]);
    nsupdate_fails(
        &server,
        &["-y", admin],
        "zone other.test\nupdate add www.other.test 300 A 192.0.2.21\nsend\n",
        "update failed: REFUSED",
    );
    assert_eq!(server.export("other.test"), other);

    // Names compare case-insensitively, grants included.
    nsupdate_ok(
        &server,
        &["-y", acme],
        &format!("{z}update add _ACME-Challenge.EXAMPLE.test 120 TXT \"upper\"\nsend\n"),
    );
    assert_eq!(
        served(&server, "_acme-challenge.example.test", "TXT"),
        ["\"upper\""]
    );

    // Several types in one grant; names below it; nothing else.
    let s1 = serial(&server);
    nsupdate_ok(
        &server,
        &["-y", web],
        &format!(
            "{z}update add www.example.test 300 AAAA 2001:db8::80\n\
             update add www.example.test 300 A 192.0.2.80\n\
             update add api.www.example.test 300 A 192.0.2.81\nsend\n"
        ),
    );
    assert_eq!(serial(&server), s1 + 1);
    assert_eq!(
        served(&server, "www.example.test", "AAAA"),
        ["2001:db8::80"]
    );
    assert_eq!(served(&server, "api.www.example.test", "A"), ["192.0.2.81"]);
    for body in [
        "update add www.example.test 300 TXT \"not a granted type\"\n",
        "update add www2.example.test 300 A 192.0.2.82\n",
        "update add mail.example.test 300 A 192.0.2.82\n",
    ] {
        nsupdate_fails(
            &server,
            &["-y", web],
            &format!("{z}{body}send\n"),
            "update failed: REFUSED",
        );
    }
    for body in [
        "update add www.example.test 300 TXT \"x\"\n",
        "update add _acme-challenge.example.test 120 TXT \"x\"\n",
        "update delete www.example.test A 192.0.2.80\n",
    ] {
        nsupdate_fails(
            &server,
            &["-y", idle],
            &format!("{z}{body}send\n"),
            "update failed: REFUSED",
        );
    }
    assert_eq!(serial(&server), s1 + 1);
    assert_no_secret_in_log(&server);
    for secret in [acme, admin, web, idle] {
        let secret = secret.rsplit(':').next().unwrap();
        assert!(!server.log_contents().contains(secret));
    }
}

// ------------------------------------------------------------------ kill -9

/// The environment variable that replays the random points of the kill -9
/// test: its output prints `DYNZONE_KILL_SEED=N`; run it again with that
/// variable set to make the same choices (after how many answers the kill is
/// sent, and the pause before it).
const KILL_SEED: &str = "DYNZONE_KILL_SEED";

/// TXT owners of the export: `{"c12-a", ...}` (relative to example.test).
fn exported_txt_owners(export: &str) -> BTreeSet<String> {
    export
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 4 && f[3] == "TXT")
                .then(|| f[0].trim_end_matches(".example.test.").to_string())
        })
        .collect()
}

fn exported_serial(export: &str) -> u32 {
    let soa = export
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some("SOA"))
        .expect("an SOA in the export");
    soa.split_whitespace().nth(6).unwrap().parse().unwrap()
}

/// One run of update_load.py crash against `server`, killed with SIGKILL
/// `pause` after `kill_after` answered updates: (answered indices, index in
/// flight).
fn updates_until_killed(
    server: &mut TestServer,
    prefix: &str,
    count: usize,
    kill_after: usize,
    pause: Duration,
) -> (Vec<usize>, Option<usize>) {
    let mut child = Command::new(PYTHON)
        .arg(format!("{PY_DIR}/update_load.py"))
        .args([
            "crash",
            &server.port().to_string(),
            &spec("hmac-sha256"),
            &count.to_string(),
            prefix,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}; install python3-dnspython"));
    let stdout = child.stdout.take().unwrap();
    let mut answered = Vec::new();
    let mut stopped = None;
    let mut lines = Vec::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(i) = line.strip_prefix("ok ") {
            answered.push(i.parse::<usize>().unwrap());
            if answered.len() == kill_after && !killed {
                std::thread::sleep(pause);
                send_signal(server.pid(), "KILL");
                killed = true;
            }
        } else if let Some(rest) = line.strip_prefix("stopped ") {
            stopped = Some(rest.split(':').next().unwrap().parse::<usize>().unwrap());
        }
        lines.push(line);
    }
    let status = wait_timeout(&mut child, Duration::from_secs(30)).expect("python exits");
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        status.success(),
        "update_load.py: {}\n{stderr}",
        lines.join("\n")
    );
    assert!(
        killed,
        "only {} updates answered:\n{}",
        answered.len(),
        lines.join("\n")
    );
    assert!(
        stopped.is_some(),
        "all {count} updates answered before the kill landed; raise the count:\n{}",
        lines.last().unwrap()
    );
    let _ = server.wait_exit();
    (answered, stopped)
}

/// The kill lands at a random point; the seed of those choices is printed and
/// taken from `DYNZONE_KILL_SEED` when set ([`KILL_SEED`]), so a failure can
/// be replayed (as far as the machine's timing allows).
#[test]
fn kill_9_during_updates_loses_no_answered_update_and_applies_none_by_half() {
    let mut random = SeededRandom::from_env(KILL_SEED);
    let mut server = start();
    let mut expected_serial = serial(&server);
    let mut all_present = BTreeSet::new();
    for (round, prefix) in ["c", "d"].iter().enumerate() {
        let kill_after = random.in_range(10, 150) as usize;
        let pause = Duration::from_micros(random.in_range(0, 3000));
        let started = Instant::now();
        let (answered, in_flight) =
            updates_until_killed(&mut server, prefix, 400, kill_after, pause);
        println!(
            "round {round}: kill after {kill_after} answers and {pause:?}; \
             killed after {} answered updates ({:?}), in flight: {in_flight:?}",
            answered.len(),
            started.elapsed()
        );
        assert_eq!(answered, (0..answered.len()).collect::<Vec<_>>());

        server.restart(&key_args().iter().map(String::as_str).collect::<Vec<_>>());
        let export = server.export("example.test");
        let owners = exported_txt_owners(&export);
        let mut applied = 0;
        for i in 0..400 {
            let a = owners.contains(&format!("{prefix}{i}-a"));
            let b = owners.contains(&format!("{prefix}{i}-b"));
            assert_eq!(a, b, "update {prefix}{i} half applied:\n{export}");
            if i < answered.len() {
                assert!(a, "update {prefix}{i} was answered NOERROR but is lost");
            } else if Some(i) != in_flight {
                assert!(!a, "update {prefix}{i} was never sent but is there");
            }
            if a {
                applied += 1;
                all_present.insert(i);
            }
        }
        expected_serial += applied;
        assert_eq!(
            exported_serial(&export),
            expected_serial,
            "serial after restart"
        );
        assert_eq!(
            serial(&server),
            expected_serial,
            "serial served after restart"
        );
        // Served as well as stored.
        let last = answered.len() - 1;
        assert_eq!(
            served(&server, &format!("{prefix}{last}-b.example.test"), "TXT"),
            [format!("\"b{last}\"")]
        );
    }
    // And the server takes updates again after the restart.
    nsupdate_ok(
        &server,
        &["-y", &spec("hmac-sha256")],
        "zone example.test\nupdate add after.example.test 300 A 192.0.2.250\nsend\n",
    );
    assert_eq!(serial(&server), expected_serial + 1);
}

// -------------------------------------------------------------------- workers

#[test]
fn two_workers_see_an_update_at_once() {
    let server = start_with(&["--workers", "2"]);
    let args = [
        server.port().to_string(),
        spec("hmac-sha256"),
        "25".to_string(),
        "60".to_string(),
    ];
    let mut all = vec!["workers".to_string()];
    all.extend(args);
    let (ok, output) = python("update_load.py", &all);
    println!("{output}");
    assert!(ok, "stale answers after an update:\n{output}");
}

/// Four clients at once, each with its own names, against two workers: every
/// update answered NOERROR, every record there, and the serial moved exactly
/// once per message (two workers must not both write serial N+1).
#[test]
fn parallel_updates_on_two_workers_each_bump_the_serial_once() {
    let server = start_with(&["--workers", "2"]);
    let s0 = serial(&server);
    let count = 50;
    let children: Vec<_> = ["p", "q", "r", "s"]
        .iter()
        .map(|prefix| {
            let child = Command::new(PYTHON)
                .arg(format!("{PY_DIR}/update_load.py"))
                .args([
                    "crash",
                    &server.port().to_string(),
                    &spec("hmac-sha256"),
                    &count.to_string(),
                    prefix,
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}"));
            (prefix, child)
        })
        .collect();
    for (prefix, child) in children {
        let out = child.wait_with_output().unwrap();
        let printed = text(&out);
        assert!(
            out.status.success() && printed.lines().last() == Some("done"),
            "client {prefix}:\n{printed}"
        );
    }
    assert_eq!(
        serial(&server),
        s0 + 4 * count as u32,
        "one increment per message"
    );
    let owners = exported_txt_owners(&server.export("example.test"));
    for prefix in ["p", "q", "r", "s"] {
        for i in 0..count {
            for half in ["a", "b"] {
                assert!(
                    owners.contains(&format!("{prefix}{i}-{half}")),
                    "{prefix}{i}-{half} missing"
                );
            }
        }
    }
}

/// RFC 1982 serial arithmetic: an update to a zone at serial 2^32-1 wraps
/// (to 0, or 1 as BIND does to avoid 0) instead of overflowing.
#[test]
fn serial_wraps_around_at_two_to_the_32() {
    let zone = ZONE.replace("hostmaster 1 3600", "hostmaster 4294967295 3600");
    let mut args = key_args();
    args.push("--workers".into());
    args.push("1".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = TestServer::start(&zone, "example.test", &args);
    assert_eq!(serial(&server), u32::MAX);
    nsupdate_ok(
        &server,
        &["-y", &spec("hmac-sha256")],
        "zone example.test\nupdate add wrap.example.test 300 A 192.0.2.1\nsend\n",
    );
    let wrapped = serial(&server);
    assert!(wrapped <= 1, "serial after 4294967295: {wrapped}");
    nsupdate_ok(
        &server,
        &["-y", &spec("hmac-sha256")],
        "zone example.test\nupdate add wrap2.example.test 300 A 192.0.2.2\nsend\n",
    );
    assert_eq!(serial(&server), wrapped + 1);
    assert_eq!(served(&server, "wrap2.example.test", "A"), ["192.0.2.2"]);
}

// ------------------------------------------------------------- TCP pipeline

/// 20 signed UPDATEs and a query in one TCP write (issue 10: the frames of
/// one wake-up share one commit): every answer in request order, every
/// update NOERROR and applied, the serial moved once per update, and the
/// query after them sees the last one (it settles the UPDATEs before it).
#[test]
fn pipelined_tcp_updates_are_answered_in_order_and_all_applied() {
    let server = start();
    let before = serial(&server);
    let count = 20;
    let args = [
        "pipeline".to_string(),
        server.port().to_string(),
        spec("hmac-sha256"),
        count.to_string(),
    ];
    let (ok, output) = python("update_load.py", &args);
    println!("{output}");
    assert!(ok, "pipelined updates over TCP:\n{output}");
    for i in [0, count / 2, count - 1] {
        assert_eq!(
            served(&server, &format!("pipe{i}.example.test"), "TXT"),
            [format!("\"p{i}\"")]
        );
    }
    assert_eq!(serial(&server), before + count as u32);
    server.assert_store_invariant();
}

// ------------------------------------------------------------ a blocked log

/// A server whose `--log-file` is a FIFO opened for reading (so the
/// server's open for writing does not wait) but not read; the reading end
/// (non-blocking), and the folder holding the FIFO.
fn server_with_a_blocked_log() -> (TestServer, fs::File, common::TempDir) {
    use std::os::unix::fs::OpenOptionsExt;
    let fifo_dir = common::TempDir::new();
    let fifo = fifo_dir.join("log.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(&fifo)
        .expect("opening the FIFO");
    let server = start_with(&["--log-file", common::path_str(&fifo)]);
    (server, reader, fifo_dir)
}

/// 5,000 pipelined signed updates (one TCP connection), all NOERROR: an
/// info line each, some 600 KB of log against 64 KiB of pipe and the
/// buffer. Returns how long they took.
fn five_thousand_updates(server: &TestServer) -> Duration {
    let started = Instant::now();
    let args = [
        "pipeline".to_string(),
        server.port().to_string(),
        spec("hmac-sha256"),
        "5000".to_string(),
    ];
    let (ok, output) = python("update_load.py", &args);
    assert!(
        ok,
        "pipelined updates with the log blocked:\n{}",
        tail(&output, 10)
    );
    started.elapsed()
}

/// Logging never blocks the event loop (issue 11): with `--log-file` on a
/// FIFO that is open but never read, the pipe (64 KiB) fills, then the log's
/// buffer, and the server still answers queries and thousands of signed
/// updates, each of which logs a line; the lines that did not fit are
/// dropped and counted, and once the FIFO is read the log says how many.
/// At shutdown every buffered line is still written (the last is `stopped`).
#[test]
fn a_log_nobody_reads_stalls_no_answer_and_counts_the_lines_dropped() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};

    let (mut server, mut reader, _fifo_dir) = server_with_a_blocked_log();
    let updates = five_thousand_updates(&server);
    let asked = Instant::now();
    assert_eq!(status(&server, "www.example.test", "A"), "NOERROR");
    let query = asked.elapsed();
    println!("with the log blocked: 5000 updates in {updates:?}, then a query in {query:?}");

    // Now read: what was buffered arrives, then the count of what was not.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let drain = {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => seen.lock().unwrap().extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("reading the FIFO: {e}"),
                }
            }
        })
    };
    let text = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let dropped_line = |t: &str| {
        t.lines()
            .find(|l| l.contains("lines dropped (the log could not keep up)"))
            .map(str::to_owned)
    };
    assert!(
        common::eventually(Duration::from_secs(10), || dropped_line(&text()).is_some()),
        "no line counting the dropped lines; the log read:\n{}",
        tail(&text(), 20)
    );
    let line = dropped_line(&text()).unwrap();
    let dropped: u64 = line
        .split("log: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"));
    let written = text().matches("update: zone example.test.").count() as u64;
    println!("{written} update lines written, {dropped} lines dropped: {line}");
    assert!(line.contains("WARN"), "{line}");
    assert!(dropped > 0 && written > 0, "{line}");
    assert!(written + dropped <= 5000 + 10, "{written} + {dropped}");
    // Nothing is lost at a clean shutdown: the last line is there.
    server.stop();
    drain.join().expect("the FIFO reader");
    let all = text();
    assert!(
        all.trim_end().ends_with("stopped"),
        "the log does not end with `stopped`:\n{}",
        tail(&all, 5)
    );
}

/// A log nobody ever reads does not keep the server from stopping: SIGTERM,
/// and it exits 0 after at most a few seconds of trying to write what it
/// holds (the harness fails the test after 10 s).
#[test]
fn a_log_nobody_reads_does_not_keep_the_server_from_stopping() {
    let (mut server, _reader, _fifo_dir) = server_with_a_blocked_log();
    five_thousand_updates(&server);
    let asked = Instant::now();
    let status = server.stop();
    println!("stopped in {:?} with the log blocked", asked.elapsed());
    assert!(status.success(), "{status}");
}

//! The journal (issue 12) against the release binary: every applied UPDATE
//! (BIND `nsupdate`, package bind9-dnsutils) and every import that changes
//! a zone is journaled as its effective difference, in its own
//! transaction; IXFR replays it (dnspython applies the deltas strictly to an
//! older export, tests/py/ixfr_apply.py, python3-dnspython); pruning by
//! changes and bytes turns older clients into whole-zone answers while the
//! audit trail (`dynzone journal`) keeps its own, longer history with the
//! key and peer of each change; an import never moves the serial backwards;
//! an acknowledged change is in the journal after `kill -9`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::fs;

use common::{TestServer, dynzone, nsupdate, path_str, printed_text, run_tool};

const SECRET: &str = "am91cm5hbCBrZXkgZm9yIGR5bnpvbmUgdGVzdHMhISE=";

const ZONE: &str = "$ORIGIN example.test.\n$TTL 300\n\
    @ 3600 IN SOA ns1 hostmaster 7 3600 900 1209600 300\n\
    @ 3600 IN NS ns1\n\
    ns1 IN A 192.0.2.1\n\
    www IN A 192.0.2.10\n\
    www IN A 192.0.2.11\n\
    mail IN MX 10 mx1\n\
    old IN TXT \"going away\"\n";

fn key() -> String {
    format!("hmac-sha256:journal-key:{SECRET}")
}

fn start(extra: &[&str]) -> TestServer {
    let key = key();
    let mut args = vec![
        "--tsig",
        &key,
        "--allow-transfer",
        "example.test:127.0.0.1/32",
    ];
    args.extend_from_slice(extra);
    TestServer::start(ZONE, "example.test", &args)
}

/// One UPDATE; fails the test unless nsupdate succeeded.
fn update(server: &TestServer, name: &str, script: &str) {
    let (ok, printed) = nsupdate(server, &key(), name, script);
    assert!(
        ok,
        "nsupdate {name} failed: {printed}\nlog:\n{}",
        server.log_contents()
    );
}

/// `dynzone journal` of the server's database, for the whole zone or one
/// name.
fn journal(server: &TestServer, name: Option<&str>) -> String {
    let db = server.db_path();
    let mut args = vec!["journal", "--db", path_str(&db), "example.test"];
    args.extend(name);
    let out = dynzone(&args);
    assert!(
        out.status.success(),
        "dynzone journal: {}",
        printed_text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The export written to a file, for ixfr_apply.py.
fn export_file(server: &TestServer, tag: &str) -> String {
    let path = server.dir().join(format!("export-{tag}.zone"));
    fs::write(&path, server.export("example.test")).unwrap();
    path_str(&path).to_string()
}

/// IXFR from `serial`, applied by dnspython to the export `old` and compared
/// with the zone now; `expect` is `incremental` or `whole`.
fn ixfr_apply(server: &TestServer, old: &str, serial: u32, expect: &str) -> String {
    let now = export_file(server, &format!("now-{serial}-{expect}"));
    let port = server.port().to_string();
    let serial = serial.to_string();
    let out = run_tool(
        "/usr/bin/python3",
        &[
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/ixfr_apply.py"),
            "127.0.0.1",
            &port,
            "example.test.",
            old,
            &serial,
            &now,
            expect,
        ],
    );
    let text = printed_text(&out);
    assert!(
        out.status.success(),
        "IXFR from {serial} ({expect}): {text}\nlog:\n{}",
        server.log_contents()
    );
    text
}

/// The SOA serial of the export.
fn serial(server: &TestServer) -> u32 {
    let export = server.export("example.test");
    let soa = export
        .lines()
        .find(|l| l.contains("\tSOA\t"))
        .expect("a SOA in the export");
    soa.split_whitespace().nth(6).unwrap().parse().unwrap()
}

/// Changes of every kind, each checked by replaying the journal onto the
/// zone as it was before: a secondary applying our IXFR ends with exactly
/// our zone, and no delta deletes a record that is not there or adds one
/// that is (a no-op delete or add, or a record deleted and added in one
/// UPDATE, leaves no trace).
#[test]
fn ixfr_replays_the_effective_changes_onto_an_older_zone() {
    let server = start(&[]);
    let at7 = export_file(&server, "7");
    // 8: an address moves (one delete, one add).
    update(
        &server,
        "move",
        "update delete www.example.test A 192.0.2.10\nupdate add www.example.test 300 A 192.0.2.12",
    );
    let at8 = export_file(&server, "8");
    // 9: delete the RRset and add the same records back, plus one new
    // name: only the new name is a change.
    update(
        &server,
        "same",
        "update delete www.example.test A\n\
         update add www.example.test 300 A 192.0.2.11\n\
         update add www.example.test 300 A 192.0.2.12\n\
         update add new.example.test 60 TXT \"hello\"",
    );
    // 10: a TTL change (RFC 2181 §5.2: the whole RRset gets the new TTL),
    // a name deleted, an add of a record already there.
    update(
        &server,
        "ttl",
        "update add mail.example.test 900 MX 10 mx1.example.test\n\
         update delete old.example.test\n\
         update add ns1.example.test 300 A 192.0.2.1",
    );
    // An UPDATE that changes nothing is no change: no serial, no entry.
    update(
        &server,
        "noop",
        "update add ns1.example.test 300 A 192.0.2.1",
    );
    assert_eq!(serial(&server), 10);

    let from7 = ixfr_apply(&server, &at7, 7, "incremental");
    assert!(from7.contains("incremental: 3 deltas"), "{from7}");
    let from8 = ixfr_apply(&server, &at8, 8, "incremental");
    assert!(from8.contains("incremental: 2 deltas"), "{from8}");
    // Up to date: the SOA alone, checked by dig.
    let out = run_tool(
        "dig",
        &[
            "@127.0.0.1",
            "-p",
            &server.port().to_string(),
            "+tcp",
            "example.test",
            "IXFR=10",
        ],
    );
    let answers: Vec<_> = printed_text(&out)
        .lines()
        .filter(|l| l.contains("\tIN\t"))
        .map(str::to_owned)
        .collect();
    assert_eq!(answers.len(), 1, "{answers:?}");

    // The audit trail: who, from where, and the effective records.
    let trail = journal(&server, None);
    assert!(
        trail.starts_with("# zone example.test.: 3 changes kept, the last 3 for IXFR"),
        "{trail}"
    );
    let changes: Vec<_> = trail.lines().filter(|l| l.starts_with("serial ")).collect();
    assert_eq!(changes.len(), 3, "{trail}");
    for (i, line) in changes.iter().enumerate() {
        let from = 7 + i;
        assert!(
            line.starts_with(&format!("serial {from} -> {}", from + 1)),
            "{line}"
        );
        assert!(
            line.contains(" by key journal-key. from 127.0.0.1:"),
            "{line}"
        );
    }
    let lines: Vec<_> = trail.lines().collect();
    let second = lines
        .iter()
        .position(|l| l.starts_with("serial 8 -> 9"))
        .unwrap();
    assert_eq!(
        lines[second + 1..second + 2],
        ["+ new.example.test.\t60\tIN\tTXT\t\"hello\""],
        "{trail}"
    );
    assert!(
        trail.contains("- www.example.test.\t300\tIN\tA\t192.0.2.10\n"),
        "{trail}"
    );
    assert!(
        trail.contains("- mail.example.test.\t300\tIN\tMX\t10 mx1.example.test.\n"),
        "{trail}"
    );
    assert!(
        trail.contains("+ mail.example.test.\t900\tIN\tMX\t10 mx1.example.test.\n"),
        "{trail}"
    );
    assert!(
        trail.contains("- old.example.test.\t300\tIN\tTXT\t\"going away\"\n"),
        "{trail}"
    );
    assert!(
        !trail.contains("ns1.example.test."),
        "a no-op add is journaled:\n{trail}"
    );
    // One name's history.
    let www = journal(&server, Some("www.example.test"));
    let www_changes: Vec<_> = www.lines().filter(|l| l.starts_with("serial ")).collect();
    assert_eq!(www_changes.len(), 1, "{www}");
    assert!(
        www.contains("+ www.example.test.\t300\tIN\tA\t192.0.2.12\n"),
        "{www}"
    );
    assert!(!www.contains("mail."), "{www}");
    server.assert_store_invariant();
}

/// `--journal-max-changes` bounds what IXFR replays; a client further
/// behind gets the whole zone (RFC 1995 §4), and the audit trail keeps its
/// own `--audit-max-changes`. `--journal-max-bytes` prunes by size.
#[test]
fn pruning_turns_older_clients_into_whole_zone_answers_and_keeps_the_audit_trail() {
    let server = start(&["--journal-max-changes", "3", "--audit-max-changes", "5"]);
    let mut exports = vec![(7, export_file(&server, "7"))];
    for i in 0..8u32 {
        update(
            &server,
            &format!("step{i}"),
            &format!("update add h{i}.example.test 300 A 192.0.2.{}", 20 + i),
        );
        exports.push((8 + i, export_file(&server, &format!("{}", 8 + i))));
    }
    assert_eq!(serial(&server), 15);
    // Serials 12, 13, 14 start the three changes kept for IXFR.
    for (serial, old) in &exports {
        let expect = match serial {
            12..=14 => "incremental",
            15 => continue,
            _ => "whole",
        };
        ixfr_apply(&server, old, *serial, expect);
    }
    let trail = journal(&server, None);
    assert!(
        trail.starts_with("# zone example.test.: 5 changes kept, the last 3 for IXFR"),
        "{trail}"
    );
    let first = trail.lines().find(|l| l.starts_with("serial ")).unwrap();
    assert!(first.starts_with("serial 10 -> 11"), "{trail}");
    let log = server.log_contents();
    assert!(log.contains("from serial 11 to peer 127.0.0.1"), "{log}");
    drop(server);

    // By size: changes of 303 octets each under a 700-octet bound keep
    // two.
    let server = start(&["--journal-max-bytes", "700"]);
    let mut exports = vec![];
    for i in 0..4u32 {
        exports.push((7 + i, export_file(&server, &format!("b{i}"))));
        update(
            &server,
            &format!("size{i}"),
            &format!(
                "update add s{i}.example.test 300 TXT \"{}\"",
                "x".repeat(40)
            ),
        );
    }
    let trail = journal(&server, None);
    assert!(
        trail.starts_with("# zone example.test.: 4 changes kept, the last 2 for IXFR"),
        "{trail}"
    );
    ixfr_apply(&server, &exports[1].1, 8, "whole");
    ixfr_apply(&server, &exports[2].1, 9, "incremental");
    server.assert_store_invariant();
}

/// An import of a zone whose serial is not newer takes the stored serial
/// plus one (RFC 1982: a secondary never goes back), and is one change of
/// the journal with exactly its difference; importing the same content
/// again changes nothing.
#[test]
fn an_import_never_moves_the_serial_backwards_and_is_one_change() {
    let server = start(&[]);
    update(
        &server,
        "first",
        "update add a.example.test 300 A 192.0.2.50",
    );
    assert_eq!(serial(&server), 8);
    let at8 = export_file(&server, "i8");
    // A file with serial 5, one record changed, one gone, one new.
    let file = ZONE
        .replace(" 7 3600", " 5 3600")
        .replace("192.0.2.11", "192.0.2.99")
        .replace("old IN TXT \"going away\"\n", "fresh IN TXT \"here\"\n");
    let out = server.import(&file, "example.test");
    let text = printed_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("serial 9"), "{text}");
    assert_eq!(serial(&server), 9);
    let applied = ixfr_apply(&server, &at8, 8, "incremental");
    assert!(applied.contains("incremental: 1 deltas"), "{applied}");
    let trail = journal(&server, None);
    let import = trail
        .split("serial 8 -> 9")
        .nth(1)
        .unwrap_or_else(|| panic!("no import in\n{trail}"));
    assert!(
        import.starts_with(" at ") && import.contains(" by dynzone import\n"),
        "{trail}"
    );
    for line in [
        "- a.example.test.\t300\tIN\tA\t192.0.2.50",
        "- www.example.test.\t300\tIN\tA\t192.0.2.11",
        "- old.example.test.\t300\tIN\tTXT\t\"going away\"",
        "+ www.example.test.\t300\tIN\tA\t192.0.2.99",
        "+ fresh.example.test.\t300\tIN\tTXT\t\"here\"",
    ] {
        assert!(import.contains(line), "{line} missing:\n{trail}");
    }
    assert!(!import.contains("ns1.example.test.\t300"), "{trail}");
    // The same content once more: no new serial, no new change.
    let again = server.import(&server.export("example.test"), "example.test");
    assert!(again.status.success(), "{}", printed_text(&again));
    assert_eq!(serial(&server), 9);
    assert_eq!(journal(&server, None), trail);
    server.assert_store_invariant();
}

/// The journal entry is written in the UPDATE's transaction: an update
/// nsupdate saw acknowledged is in the audit trail and in IXFR after
/// `kill -9`, and the serial carries on from it.
#[test]
fn an_acknowledged_change_is_journaled_across_kill_9() {
    let mut server = start(&[]);
    let at7 = export_file(&server, "k7");
    update(
        &server,
        "before",
        "update add k.example.test 300 A 192.0.2.77",
    );
    server.signal("KILL");
    server.wait_exit();
    let trail = journal(&server, None);
    assert!(
        trail.contains("+ k.example.test.\t300\tIN\tA\t192.0.2.77\n"),
        "{trail}"
    );
    server.restart_on_same_port(&[]);
    update(
        &server,
        "after",
        "update add l.example.test 300 A 192.0.2.78",
    );
    assert_eq!(serial(&server), 9);
    ixfr_apply(&server, &at7, 7, "incremental");
}

/// What one typical dynamic-DNS change (ddclient moving an address) costs
/// in the journal: printed for the closing note, asserted only to be
/// bounded (the two records and two SOAs, about 100 octets of records, and
/// the header with the key name).
#[test]
fn journal_octets_per_update_are_bounded() {
    let server = start(&[]);
    for i in 0..20u32 {
        update(
            &server,
            &format!("move{i}"),
            &format!(
                "update delete home.example.test A\nupdate add home.example.test 60 A 198.51.100.{}",
                i + 1
            ),
        );
    }
    let trail = journal(&server, None);
    let head = trail.lines().next().unwrap();
    let octets: u64 = head
        .split("; ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{head}"));
    let per_update = octets / 20;
    println!("journal: {octets} octets for 20 address changes, {per_update} per update");
    assert!((100..400).contains(&per_update), "{head}");
}

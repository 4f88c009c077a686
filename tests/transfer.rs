//! Zone transfers out (RFC 5936 AXFR, RFC 1995 IXFR) against the release
//! binary on loopback, taken by the real clients: BIND `dig` (package
//! bind9-dnsutils), Knot `kdig` (knot-dnsutils) and dnspython's transfer
//! client (python3-dnspython, tests/py/axfr_check.py), each verifying the
//! TSIG of every message; the transferred zone is compared record for record
//! with `dynzone export`. Also `--allow-transfer` (keys, prefixes, both),
//! NOTAUTH for a zone not ours, AXFR over UDP (NOTIMP) and IXFR over UDP
//! (the SOA alone); NOTIFY in (RFC 1996, tests/py/notify_check.py) over UDP
//! and TCP, unsigned and signed. A missing tool fails the test naming its
//! package.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::fmt::Write as _;

use common::{TestServer, path_str, run_tool};
use dynzone::wire::{Message, MessageBuilder, Opcode, Rtype};

const SECRET: &str = "eGZyIGtleSBmb3IgZHluem9uZSB0ZXN0cyEhISEhISE=";
const OTHER: &str = "b3RoZXIga2V5IGZvciBkeW56b25lIHRlc3RzISEhISE=";

/// A zone of `extra` TXT records of about 100 octets besides the usual
/// ones, with a child zone `sub.example.test` (imported separately) whose
/// records must not be part of the parent's transfer.
fn zone_text(extra: usize) -> String {
    let mut z = String::from(
        "$ORIGIN example.test.\n$TTL 300\n\
         @ 3600 IN SOA ns1 hostmaster 7 3600 900 1209600 300\n\
         @ 3600 IN NS ns1\n\
         ns1 IN A 192.0.2.1\n\
         www IN A 192.0.2.10\n\
         www IN AAAA 2001:db8::10\n\
         multi IN A 192.0.2.31\n\
         multi IN A 192.0.2.32\n\
         *.wild IN A 192.0.2.99\n\
         sub IN NS ns.sub\n\
         ns.sub IN A 192.0.2.53\n",
    );
    for i in 0..extra {
        writeln!(z, "t{i} IN TXT \"{i:08} {}\"", "x".repeat(90)).unwrap();
    }
    z
}

/// The records of [`zone_text`] besides the TXT ones, the SOA counted
/// twice (first and last).
const EXTRA: usize = 9;

const CHILD: &str = "$ORIGIN sub.example.test.\n\
    @ 3600 IN SOA ns hostmaster 1 3600 900 1209600 300\n\
    @ 3600 IN NS ns\n\
    ns IN A 192.0.2.53\n\
    deep IN TXT \"child only\"\n";

fn server(extra: usize, args: &[&str]) -> TestServer {
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let other = format!("hmac-sha256:other-key:{OTHER}");
    let mut all = vec!["--tsig", &key, "--tsig", &other];
    all.extend_from_slice(args);
    let server = TestServer::start(&zone_text(extra), "example.test", &all);
    let out = server.import(CHILD, "sub.example.test");
    assert!(out.status.success(), "importing the child zone failed");
    server
}

/// dnspython takes the transfer and compares it with `dynzone export`;
/// returns what it printed.
fn dnspython_check(server: &TestServer, rdtype: &str, serial: Option<u32>, key: bool) -> String {
    let export = server.dir().join("export.zone");
    std::fs::write(&export, server.export("example.test")).unwrap();
    let port = server.port().to_string();
    let mut args = vec![
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/axfr_check.py").to_string(),
        "127.0.0.1".into(),
        port,
        "example.test.".into(),
        path_str(&export).into(),
        rdtype.into(),
    ];
    if let Some(serial) = serial {
        args.push(serial.to_string());
    }
    if key {
        args.extend(["xfr-key.".into(), SECRET.into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_tool("/usr/bin/python3", &args);
    let text = common::printed_text(&out);
    assert!(
        out.status.success(),
        "dnspython's transfer failed:\n{text}\nserver log:\n{}",
        server.log_contents()
    );
    text
}

/// What `dig`/`kdig` print for a transfer: the records (lines that are not
/// comments) and all of it.
fn transfer(tool: &str, server: &TestServer, args: &[&str]) -> (Vec<String>, String) {
    let port = server.port().to_string();
    let mut all = vec!["@127.0.0.1", "-p", &port];
    all.extend_from_slice(args);
    let out = run_tool(tool, &all);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let records: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
        .filter(|l| l.split_whitespace().nth(3) != Some("TSIG"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let text = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
    (records, text)
}

fn key_arg() -> String {
    format!("hmac-sha256:xfr-key:{SECRET}")
}

/// A zone over 64 KiB goes in several signed messages, SOA first and last,
/// and all three clients get exactly what `dynzone export` prints, without
/// the child zone's records.
#[test]
fn an_allowed_key_gets_the_whole_zone_in_signed_messages() {
    let server = server(1500, &["--allow-transfer", "example.test:xfr-key"]);
    let printed = dnspython_check(&server, "AXFR", None, true);
    let messages: u32 = printed.split_whitespace().next().unwrap().parse().unwrap();
    assert!(messages >= 8, "{printed}");

    let key = key_arg();
    let (records, text) = transfer("dig", &server, &["-y", &key, "AXFR", "example.test"]);
    assert!(!text.contains("Transfer failed"), "{text}");
    assert!(text.contains("XFR size:"), "{text}");
    let soa = |r: &String| r.split(' ').nth(3) == Some("SOA");
    assert!(soa(&records[0]) && soa(records.last().unwrap()), "{text}");
    // 1,500 TXT, SOA twice, NS, ns1 A, www A and AAAA, multi A twice and
    // the wildcard; the delegation to sub and its glue are in the child
    // zone's subtree, which is another zone of ours (as export has it).
    assert_eq!(records.len(), 1500 + EXTRA, "{text}");
    assert!(
        !text.contains("child only"),
        "the child zone leaked:\n{text}"
    );
    assert!(!text.contains("hostmaster.sub"), "the child SOA leaked");

    let (krecords, ktext) = transfer("kdig", &server, &["-y", &key, "AXFR", "example.test"]);
    assert!(!ktext.contains("failed"), "{ktext}");
    assert_eq!(krecords.len(), records.len(), "{ktext}");
    let log = server.log_contents();
    assert!(
        log.contains("transfer: AXFR of zone example.test. to peer 127.0.0.1:")
            && log.contains("key xfr-key.: serial 7, the whole zone"),
        "{log}"
    );
}

/// RFC 5936 §6: nothing is transferable by default; a key or a prefix
/// allows it, both must match when both are given; a refusal is REFUSED
/// (signed when the request was), a zone not ours NOTAUTH, AXFR over UDP
/// NOTIMP.
#[test]
fn transfers_need_permission() {
    let key = key_arg();
    let other = format!("hmac-sha256:other-key:{OTHER}");
    let refused = |server: &TestServer, args: &[&str], rcode: &str| {
        let (_, text) = transfer("kdig", server, args);
        assert!(text.contains(rcode), "{args:?}: expected {rcode}:\n{text}");
    };
    // No --allow-transfer at all.
    let closed = server(0, &[]);
    refused(&closed, &["AXFR", "example.test"], "REFUSED");
    refused(&closed, &["-y", &key, "AXFR", "example.test"], "REFUSED");

    // A key, and a prefix that does not hold 127.0.0.1.
    let both = server(
        0,
        &[
            "--allow-transfer",
            "example.test:xfr-key",
            "--allow-transfer",
            "example.test:10.0.0.0/8",
        ],
    );
    refused(&both, &["-y", &key, "AXFR", "example.test"], "REFUSED");

    // A key, and a prefix that holds it.
    let keyed = server(
        0,
        &[
            "--allow-transfer",
            "example.test:xfr-key",
            "--allow-transfer",
            "example.test:127.0.0.0/8",
        ],
    );
    refused(&keyed, &["AXFR", "example.test"], "REFUSED");
    refused(&keyed, &["-y", &other, "AXFR", "example.test"], "REFUSED");
    // The REFUSED answer to a signed request is signed: dig verifies it
    // (and prints the TSIG it checked).
    let (_, text) = transfer("dig", &keyed, &["-y", &other, "AXFR", "example.test"]);
    assert!(
        text.contains("other-key.") && text.contains("TSIG") && !text.contains("verify"),
        "{text}"
    );
    refused(&keyed, &["-y", &key, "AXFR", "nothere.test"], "NOTAUTH");
    refused(&keyed, &["-y", &key, "AXFR", "www.example.test"], "NOTAUTH");
    dnspython_check(&keyed, "AXFR", None, true);
    refused(
        &keyed,
        &["-y", &key, "+notcp", "AXFR", "example.test"],
        "NOTIMP",
    );

    // An address alone: unsigned transfers from it.
    let open = server(0, &["--allow-transfer", "example.test:127.0.0.1"]);
    dnspython_check(&open, "AXFR", None, false);
    // The child zone has no entry of its own.
    refused(&open, &["AXFR", "sub.example.test"], "REFUSED");
}

/// RFC 1995 without a journal: a client as new as us gets our SOA alone,
/// an older one the whole zone (AXFR-style, which all three clients
/// accept), and IXFR over UDP the SOA alone.
#[test]
fn ixfr_is_the_soa_when_current_and_the_whole_zone_otherwise() {
    let server = server(300, &["--allow-transfer", "example.test:xfr-key"]);
    let key = key_arg();
    for serial in [7u32, 8, 7 + (1 << 30)] {
        let (records, text) = transfer(
            "dig",
            &server,
            &["-y", &key, &format!("IXFR={serial}"), "example.test"],
        );
        assert_eq!(records.len(), 1, "IXFR from {serial}:\n{text}");
        assert!(
            records[0].contains(" SOA ") && records[0].contains(" 7 "),
            "{text}"
        );
    }
    for serial in [6u32, 1, 7 + (1 << 31) + 1] {
        let (records, text) = transfer(
            "dig",
            &server,
            &["-y", &key, &format!("IXFR={serial}"), "example.test"],
        );
        assert_eq!(records.len(), 300 + EXTRA, "IXFR from {serial}:\n{text}");
    }
    dnspython_check(&server, "IXFR", Some(3), true);
    let (records, text) = transfer("kdig", &server, &["-y", &key, "IXFR=3", "example.test"]);
    assert_eq!(records.len(), 300 + EXTRA, "{text}");
    // Over UDP: one datagram, the SOA alone, whatever the serial.
    let (records, text) = transfer(
        "dig",
        &server,
        &["-y", &key, "+notcp", "IXFR=1", "example.test"],
    );
    assert!(text.contains("NOERROR"), "{text}");
    assert_eq!(
        records.iter().filter(|r| r.contains(" SOA ")).count(),
        1,
        "{text}"
    );
    let log = server.log_contents();
    assert!(
        log.contains("IXFR of zone example.test. from serial 7")
            && log.contains("up to date (the SOA alone)"),
        "{log}"
    );
}

/// RFC 1996 §3.6: a NOTIFY no one answers is sent again, with a new ID,
/// signed each time with the target's key; an answer whose TSIG does not
/// verify does not stop the retries.
#[test]
fn notifies_are_signed_and_retried_until_a_verified_answer() {
    let secondary = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    secondary
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let notify = format!(
        "example.test:127.0.0.1:{}:xfr-key",
        secondary.local_addr().unwrap().port()
    );
    let server = server(0, &["--notify", &notify]);
    let key = key_arg();
    let script = server.dir().join("update.txt");
    std::fs::write(
        &script,
        format!(
            "server 127.0.0.1 {}\nzone example.test\nupdate add n.example.test 60 A 192.0.2.77\nsend\n",
            server.port()
        ),
    )
    .unwrap();
    let out = run_tool("nsupdate", &["-y", &key, path_str(&script)]);
    assert!(out.status.success(), "{}", common::printed_text(&out));
    let mut buf = [0u8; 2048];
    let mut ids = Vec::new();
    for attempt in 0..3 {
        let (n, from) = secondary
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("NOTIFY {attempt}: {e}\n{}", server.log_contents()));
        let msg = Message::parse(&buf[..n]).unwrap();
        let h = msg.header();
        assert_eq!(h.flags.opcode(), Opcode::Notify);
        assert!(h.flags.aa() && !h.flags.qr());
        let q = msg.question().unwrap();
        assert_eq!(
            (q.name.to_string().as_str(), q.qtype),
            ("example.test.", Rtype::Soa)
        );
        let tsig = msg.tsig().expect("signed");
        assert_eq!(tsig.key_name.to_string(), "xfr-key.");
        ids.push(h.id);
        if attempt == 1 {
            // An unsigned "answer": not verified, so the NOTIFY goes again.
            let mut answer = [0u8; 512];
            let mut b = MessageBuilder::new(&mut answer, 512).unwrap();
            b.reply_to(&h);
            b.question(q.name, q.qtype, q.qclass).unwrap();
            let len = b.finish();
            secondary.send_to(&answer[..len], from).unwrap();
        }
    }
    assert!(
        ids[0] != ids[1] || ids[1] != ids[2],
        "a new ID per try: {ids:?}"
    );
    let log = server.log_contents();
    assert!(
        log.contains("notify: zone example.test. to 127.0.0.1:"),
        "{log}"
    );
    assert!(log.contains("does not verify"), "{log}");
}

/// RFC 1996 as a primary: a NOTIFY for a zone of ours, over UDP and TCP,
/// unsigned and signed, is acknowledged (NOERROR, AA, opcode NOTIFY, the
/// same ID, the question and nothing else; signed when it was, as
/// dnspython verifies) and changes nothing; a zone not ours or a name that
/// is no apex is NOTAUTH, a type other than SOA or two questions FORMERR,
/// a wrong secret the RFC 8945 error answer, unsigned.
#[test]
fn notifies_for_our_zones_are_acknowledged_and_change_nothing() {
    let server = server(0, &[]);
    let soa = || {
        let port = server.port().to_string();
        let out = run_tool(
            "dig",
            &["@127.0.0.1", "-p", &port, "+short", "example.test", "SOA"],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let (soa_before, export_before) = (soa(), server.export("example.test"));
    assert!(soa_before.contains(" 7 "), "{soa_before}");

    let wrong = "d3Jvbmcgc2VjcmV0IGZvciB0aGUgeGZyIGtleSEhISE=";
    let port = server.port().to_string();
    let out = run_tool(
        "/usr/bin/python3",
        &[
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/notify_check.py"),
            &port,
            &key_arg(),
            wrong,
        ],
    );
    let text = common::printed_text(&out);
    assert!(
        out.status.success(),
        "{text}\nserver log:\n{}",
        server.log_contents()
    );
    let acknowledged = "rcode=NOERROR opcode=NOTIFY qr=1 aa=1 id=same \
                        question=example.test. IN SOA records=0/0/0 tsig=";
    let refused = |rcode: &str, question: &str, tsig: &str| {
        format!(
            "rcode={rcode} opcode=NOTIFY qr=1 aa=0 id=same question={question} records=0/0/0 tsig={tsig}"
        )
    };
    let signed = "verified tamper=rejected";
    for (case, want) in [
        ("udp", format!("{acknowledged}none")),
        ("tcp", format!("{acknowledged}none")),
        ("udp signed", format!("{acknowledged}{signed}")),
        ("tcp signed", format!("{acknowledged}{signed}")),
        (
            "udp unknown zone",
            refused("NOTAUTH", "nothere.test. IN SOA", "none"),
        ),
        (
            "tcp signed unknown zone",
            refused("NOTAUTH", "nothere.test. IN SOA", signed),
        ),
        (
            "udp not the apex",
            refused("NOTAUTH", "www.example.test. IN SOA", "none"),
        ),
        (
            "udp type A",
            refused("FORMERR", "example.test. IN A", "none"),
        ),
        // RFC 8945 §5.2.2: BADSIG, and an unsigned answer (MAC size 0).
        (
            "udp wrong secret",
            refused("NOTAUTH", "example.test. IN SOA", "error=16 mac_len=0"),
        ),
        (
            "udp two questions",
            refused(
                "FORMERR",
                "example.test. IN SOA, example.test. IN SOA",
                "none",
            ),
        ),
    ] {
        let line = format!("{case}: {want}");
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }

    // Nothing changed: the same SOA and the same zone.
    assert_eq!(soa(), soa_before);
    assert_eq!(server.export("example.test"), export_before);
    // One line per NOTIFY; the unsigned and the refused ones once per
    // interval (the first of each here), the signed ones always.
    let log = server.log_contents();
    for line in [
        "notify: zone example.test. serial 7 from peer 127.0.0.1:",
        "key none: we are its primary, nothing to do",
        "key xfr-key.: we are its primary, nothing to do",
        "notify: zone nothere.test. serial none from peer 127.0.0.1:",
        "key none: not a zone of ours, NOTAUTH",
    ] {
        assert!(log.contains(line), "no {line:?} in:\n{log}");
    }
    assert_eq!(
        log.matches("key xfr-key.: we are its primary, nothing to do")
            .count(),
        2,
        "{log}"
    );
}

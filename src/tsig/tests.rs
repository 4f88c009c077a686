//! Request verification and response signing, end to end through the wire
//! layer; known answers from dnspython; forgery regressions; key files.

use super::*;
use crate::wire::{
    Class, MAX_MESSAGE, MAX_TSIG_TIME, Message, MessageBuilder, NameBuf, Rcode, Rtype, TsigData,
    TsigError,
};

const T0: u64 = 1_700_000_000;

fn name(text: &str) -> NameBuf {
    NameBuf::from_text(text).unwrap()
}

fn key(alg: Algorithm, key_name: &str) -> Key {
    let secret: Vec<u8> = (0..alg.output_len() as u8).collect();
    Key::new(name(key_name).as_name(), alg, secret).unwrap()
}

fn keyset(keys: Vec<Key>) -> KeySet {
    let mut set = KeySet::new();
    for k in keys {
        set.add(k).unwrap();
    }
    set
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A query for `home.example.net. SOA`, not yet finished.
fn query(buf: &mut [u8], id: u16) -> MessageBuilder<'_> {
    let mut b = MessageBuilder::new(buf, MAX_MESSAGE).unwrap();
    b.set_id(id);
    b.flags_mut().set_rd(true);
    b.question(name("home.example.net.").as_name(), Rtype::Soa, Class::In)
        .unwrap();
    b
}

fn signed_query(k: &Key, time: u64, fudge: u16) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let len = sign_request(k, query(&mut buf, 0x1234), time, fudge).unwrap();
    buf.truncate(len);
    buf
}

/// The same query with a TSIG record whose fields are all chosen by the caller.
fn forged_query(key_name: &str, data: &TsigData<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let mut b = query(&mut buf, 0x1234);
    b.tsig(name(key_name).as_name(), data).unwrap();
    let len = b.finish();
    buf.truncate(len);
    buf
}

fn forged(alg: Algorithm, mac: &[u8], time_signed: u64) -> TsigData<'_> {
    TsigData {
        algorithm: alg.wire_name(),
        time_signed,
        fudge: 300,
        mac,
        original_id: 0x1234,
        error: TsigError::NoError,
        other: &[],
    }
}

/// A signed request with its MAC replaced by its first `len` octets.
fn truncated(k: &Key, len: usize, time: u64) -> Vec<u8> {
    let full = signed_query(k, time, 300);
    let msg = Message::parse(&full).unwrap();
    let mac = msg.tsig().unwrap().data.mac;
    let mut data = forged(k.algorithm(), &mac[..len], time);
    data.algorithm = k.algorithm().wire_name();
    forged_query(&k.name().to_string(), &data)
}

/// Answers `request` as the handler would; returns the response bytes.
fn respond(request: &[u8], responder: Option<Responder<'_>>, rcode: Rcode, now: u64) -> Vec<u8> {
    let req = Message::parse(request).unwrap();
    let mut buf = vec![0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, 512).unwrap();
    if let Some(r) = &responder {
        b.reserve(r.reserve_len()).unwrap();
    }
    b.set_id(req.header().id);
    b.flags_mut().set_qr(true);
    b.flags_mut().set_rd(req.header().flags.rd());
    b.set_rcode(rcode);
    let q = req.question().unwrap();
    b.question(q.name, q.qtype, q.qclass).unwrap();
    let len = match responder {
        Some(r) => r.finish(b, now).unwrap(),
        None => b.finish(),
    };
    buf.truncate(len);
    buf
}

fn expect_valid<'a>(keys: &'a KeySet, msg: &Message<'a>, now: u64) -> Signer<'a> {
    match verify(keys, msg, now) {
        Verification::Valid(s) => s,
        other => panic!("expected Valid, got {other:?}"),
    }
}

fn expect_failure<'a>(keys: &'a KeySet, msg: &Message<'a>, now: u64) -> Failure<'a> {
    match verify(keys, msg, now) {
        Verification::Failed(f) => f,
        other => panic!("expected Failed, got {other:?}"),
    }
}

/// The reply to a failed request carries no MAC: either no TSIG or MAC size 0.
fn assert_reply_unsigned(request: &[u8], f: &Failure<'_>, now: u64) {
    assert!(f.reply.is_none_or(|r| !r.is_signed()), "{f:?}");
    let reply = respond(request, f.reply, f.rcode, now);
    let msg = Message::parse(&reply).unwrap();
    if let Some(t) = msg.tsig() {
        assert!(t.data.mac.is_empty(), "reply carries a MAC: {f:?}");
    }
}

#[test]
fn round_trip_all_algorithms() {
    for alg in Algorithm::ALL {
        let k = key(alg, "update-key.example.");
        let keys = keyset(vec![key(Algorithm::HmacSha256, "other."), k.clone()]);
        let request = signed_query(&k, T0, 300);
        let msg = Message::parse(&request).unwrap();
        let signer = expect_valid(&keys, &msg, T0 + 10);
        assert_eq!(signer.key_index, 1);
        assert_eq!(signer.key.algorithm(), alg);
        assert!(signer.responder.is_signed());
        assert_eq!(signer.responder.error(), TsigError::NoError);

        let reply = respond(&request, Some(signer.responder), Rcode::NoError, T0 + 11);
        let resp = Message::parse(&reply).unwrap();
        let t = resp.tsig().unwrap();
        assert_eq!(t.data.mac.len(), alg.output_len());
        assert_eq!(t.data.time_signed, T0 + 11);
        assert_eq!(t.data.fudge, RESPONSE_FUDGE);
        assert_eq!(t.data.original_id, 0x1234);
        assert_eq!(t.data.error, TsigError::NoError);
        assert!(t.data.other.is_empty());
        // reserve_len was exact.
        assert_eq!(reply.len() - t.start, signer.responder.reserve_len());
        let request_mac = msg.tsig().unwrap().data.mac;
        assert_eq!(verify_response(&k, request_mac, &resp), Ok(()));
        // The response MAC covers the request MAC.
        assert_eq!(verify_response(&k, &[0; 32], &resp), Err(Reason::BadMac));
    }
}

#[test]
fn key_name_case_does_not_matter() {
    let stored = key(Algorithm::HmacSha1, "Update.Example.");
    let sender = key(Algorithm::HmacSha1, "uPDATE.eXAMPLE.");
    let keys = keyset(vec![stored]);
    let request = signed_query(&sender, T0, 300);
    let msg = Message::parse(&request).unwrap();
    let signer = expect_valid(&keys, &msg, T0);
    assert_eq!(signer.key.name().to_string(), "update.example.");
}

/// dnspython 2.3.0 (`tests/` has no Python here, so the bytes are pasted):
/// key "Test.Key." hmac-sha256, secret = octets 0..32, id 0x1234, time
/// 1700000000, fudge 300; `make_query("home.example.net.", "SOA")`, then
/// `make_response` of it signed at 1700000005.
const PY_QUERY: &str = "12340100000100000000000104686f6d65076578616d706c65036e65740000060001\
0454657374034b65790000fa00ff00000000003d0b686d61632d7368613235360000006553f100012c0020\
62f31c2d3615a31f5b8c262cc4a2b2344563fb93826c1244be7a63f86870d0a3123400000000";
/// The same with key name "test.key." (dnspython writes it as given).
const PY_RESPONSE_LOWER: &str = "12348100000100000000000104686f6d65076578616d706c65036e6574\
0000060001047465737403\
6b65790000fa00ff00000000003d0b686d61632d7368613235360000006553f105\
012c00205c5c0bc3cc64a47d452de8862b053fc61163bf14fc45f312bd8c0d4629b251e1123400000000";
/// `dns.update.UpdateMessage("example.net.")` adding `home 60 A 192.0.2.1`,
/// hmac-md5 (dnspython writes the algorithm name in upper case), key
/// "Test.Key.", secret "0123456789abcdef", id 0xbeef, time 1700000000.
const PY_UPDATE_MD5: &str = "beef28000001000000010001076578616d706c65036e6574000006000104686f\
6d65c00c000100010000003c0004c00002010454657374034b65790000fa00ff00000000003a08484d41432d4d\
4435075349472d414c470352454703494e540000006553f100012c0010ad8ba084dce0b8d7f268a296b57d8421\
5a4600000000";

#[test]
fn known_answers_from_dnspython() {
    let sha = Key::new(
        name("test.key.").as_name(),
        Algorithm::HmacSha256,
        (0..32).collect(),
    )
    .unwrap();
    let md5 = Key::new(
        name("test.key.").as_name(),
        Algorithm::HmacMd5,
        b"0123456789abcdef".to_vec(),
    )
    .unwrap();
    let now = 1_700_000_005;

    let request = unhex(PY_QUERY);
    let keys = keyset(vec![sha.clone()]);
    let msg = Message::parse(&request).unwrap();
    let signer = expect_valid(&keys, &msg, now);

    // Our response is byte for byte the one dnspython signs.
    let ours = respond(&request, Some(signer.responder), Rcode::NoError, now);
    let theirs = unhex(PY_RESPONSE_LOWER);
    assert_eq!(ours, theirs);
    let resp = Message::parse(&theirs).unwrap();
    assert_eq!(
        verify_response(&sha, msg.tsig().unwrap().data.mac, &resp),
        Ok(())
    );

    // Our request signature matches dnspython's too (the key name's case
    // differs in the record, not in the digest).
    let again = signed_query(&sha, 1_700_000_000, 300);
    let ours_mac = Message::parse(&again)
        .unwrap()
        .tsig()
        .unwrap()
        .data
        .mac
        .to_vec();
    assert_eq!(ours_mac, msg.tsig().unwrap().data.mac);

    let update = unhex(PY_UPDATE_MD5);
    let keys = keyset(vec![md5]);
    let msg = Message::parse(&update).unwrap();
    let signer = expect_valid(&keys, &msg, now);
    assert_eq!(signer.key.algorithm(), Algorithm::HmacMd5);

    // One flipped bit anywhere before the TSIG record but in the ID (the
    // digest covers the original ID instead): BADSIG.
    for i in [2usize, 3, 5, 20, 31] {
        let mut bad = unhex(PY_QUERY);
        bad[i] ^= 0x01;
        let Ok(msg) = Message::parse(&bad) else {
            continue;
        };
        let keys = keyset(vec![sha.clone()]);
        let f = expect_failure(&keys, &msg, now);
        assert_eq!(
            (f.rcode, f.error, f.reason),
            (Rcode::NotAuth, TsigError::BadSig, Reason::BadMac),
            "bit {i}"
        );
    }
}

#[test]
fn time_window_edges() {
    let k = key(Algorithm::HmacSha256, "k.");
    let keys = keyset(vec![k.clone()]);
    for (time, fudge) in [
        (T0, 300u16),
        (0, 300),
        (MAX_TSIG_TIME, 300),
        (T0, 0),
        (0, u16::MAX),
    ] {
        let request = signed_query(&k, time, fudge);
        let msg = Message::parse(&request).unwrap();
        let f = u64::from(fudge);
        for now in [time.saturating_sub(f), time + f] {
            expect_valid(&keys, &msg, now);
        }
        let mut late = vec![time + f + 1, u64::MAX];
        if let Some(early) = time.checked_sub(f + 1) {
            late.push(early);
        }
        for now in late {
            let failure = expect_failure(&keys, &msg, now);
            assert_eq!(failure.rcode, Rcode::NotAuth);
            assert_eq!(failure.error, TsigError::BadTime);
            assert_eq!(failure.reason, Reason::BadTime);
            let reply = failure.reply.unwrap();
            assert!(reply.is_signed());
            assert_eq!(reply.error(), TsigError::BadTime);
        }
    }
}

#[test]
fn badtime_reply_is_signed_and_echoes_the_request_time() {
    let k = key(Algorithm::HmacSha512, "k.");
    let keys = keyset(vec![k.clone()]);
    let request = signed_query(&k, T0, 300);
    let msg = Message::parse(&request).unwrap();
    let now = T0 + 3600;
    let f = expect_failure(&keys, &msg, now);
    let reply = respond(&request, f.reply, f.rcode, now);
    let resp = Message::parse(&reply).unwrap();
    assert_eq!(resp.rcode(), Rcode::NotAuth);
    let t = resp.tsig().unwrap();
    assert_eq!(t.data.error, TsigError::BadTime);
    assert_eq!(t.data.time_signed, T0);
    assert_eq!(t.data.fudge, 300);
    assert_eq!(t.data.other, &now.to_be_bytes()[2..]);
    assert_eq!(t.data.mac.len(), 64);
    assert_eq!(reply.len() - t.start, f.reply.unwrap().reserve_len());
    assert_eq!(
        verify_response(&k, msg.tsig().unwrap().data.mac, &resp),
        Ok(())
    );
}

#[test]
fn unknown_key_wrong_algorithm_and_bad_mac_are_unsigned() {
    let k = key(Algorithm::HmacSha256, "K.Example.");
    let keys = keyset(vec![k.clone()]);

    let stranger = key(Algorithm::HmacSha256, "nobody.example.");
    let other_alg = key(Algorithm::HmacSha1, "k.example.");
    let wrong_secret = Key::new(k.name(), Algorithm::HmacSha256, vec![7; 32]).unwrap();
    for (sender, error, reason) in [
        (&stranger, TsigError::BadKey, Reason::UnknownKey),
        (&other_alg, TsigError::BadKey, Reason::WrongAlgorithm),
        (&wrong_secret, TsigError::BadSig, Reason::BadMac),
    ] {
        let request = signed_query(sender, T0, 300);
        let msg = Message::parse(&request).unwrap();
        let f = expect_failure(&keys, &msg, T0);
        assert_eq!(
            (f.rcode, f.error, f.reason),
            (Rcode::NotAuth, error, reason)
        );
        assert_reply_unsigned(&request, &f, T0);
        // The unsigned TSIG names the request's key and algorithm, time, fudge.
        let reply = respond(&request, f.reply, f.rcode, T0);
        let resp = Message::parse(&reply).unwrap();
        let t = resp.tsig().unwrap();
        let rt = msg.tsig().unwrap();
        assert_eq!(t.key_name.to_string(), rt.key_name.to_string());
        assert_eq!(t.data.algorithm, rt.data.algorithm);
        assert_eq!(t.data.time_signed, T0);
        assert_eq!(t.data.fudge, 300);
        assert_eq!(t.data.original_id, 0x1234);
        assert_eq!(t.data.error, error);
        assert_eq!(reply.len() - t.start, f.reply.unwrap().reserve_len());
        assert!(!reason.to_string().is_empty());
    }
}

#[test]
fn unsigned_request_is_unsigned() {
    let keys = keyset(vec![key(Algorithm::HmacSha256, "k.")]);
    let mut buf = [0u8; 512];
    let bytes = query(&mut buf, 1).finish_bytes();
    let msg = Message::parse(bytes).unwrap();
    assert!(matches!(verify(&keys, &msg, T0), Verification::Unsigned));
}

#[test]
fn truncated_mac_within_bounds_is_accepted_and_answered_in_full() {
    for alg in Algorithm::ALL {
        let k = key(alg, "k.");
        let keys = keyset(vec![k.clone()]);
        let request = truncated(&k, alg.min_mac_len(), T0);
        let msg = Message::parse(&request).unwrap();
        let signer = expect_valid(&keys, &msg, T0);
        let reply = respond(&request, Some(signer.responder), Rcode::NoError, T0);
        let resp = Message::parse(&reply).unwrap();
        assert_eq!(resp.tsig().unwrap().data.mac.len(), alg.output_len());
        let request_mac = msg.tsig().unwrap().data.mac;
        assert_eq!(request_mac.len(), alg.min_mac_len());
        assert_eq!(verify_response(&k, request_mac, &resp), Ok(()));
    }
}

/// Forgery regression 1: a MAC longer than the hash (the attacker controls
/// every octet past the hash length) never yields a signed reply.
#[test]
fn oversized_mac_never_gets_a_signed_reply() {
    for (alg, len) in [
        (Algorithm::HmacMd5, 17),
        (Algorithm::HmacSha1, 21),
        (Algorithm::HmacSha256, 33),
        (Algorithm::HmacSha512, 65),
        (Algorithm::HmacSha512, 1000),
    ] {
        let k = key(alg, "k.");
        let keys = keyset(vec![k.clone()]);
        // Even with the real MAC as its prefix.
        let real = signed_query(&k, T0, 300);
        let mut mac = Message::parse(&real)
            .unwrap()
            .tsig()
            .unwrap()
            .data
            .mac
            .to_vec();
        mac.resize(len, 0xaa);
        for now in [T0, T0 + 100_000] {
            let request = forged_query("k.", &forged(alg, &mac, T0));
            let msg = Message::parse(&request).unwrap();
            let f = expect_failure(&keys, &msg, now);
            assert_eq!((f.rcode, f.reason), (Rcode::FormErr, Reason::MacTooLong));
            assert!(f.reply.is_none());
            assert_reply_unsigned(&request, &f, now);
        }
    }
}

/// Forgery regression 2: a short MAC (1 octet is guessed in 256 tries) never
/// yields a signed reply, also with a bad time: time is not checked first.
#[test]
fn short_mac_never_gets_a_signed_reply() {
    for alg in Algorithm::ALL {
        let k = key(alg, "k.");
        let keys = keyset(vec![k.clone()]);
        let min = alg.min_mac_len();
        for len in [0, 1, 9, min - 1] {
            for (time, now) in [(T0, T0), (T0, T0 + 100_000), (0, u64::MAX)] {
                // The real MAC's prefix: it would verify if length were not checked.
                let request = truncated(&k, len, time);
                let msg = Message::parse(&request).unwrap();
                let f = expect_failure(&keys, &msg, now);
                assert_eq!(
                    (f.rcode, f.reason),
                    (Rcode::FormErr, Reason::MacTooShort),
                    "{alg} {len}"
                );
                assert!(f.reply.is_none());
                assert_reply_unsigned(&request, &f, now);
            }
        }
        // A wrong MAC of legal length with a bad time: BADSIG, not BADTIME.
        let mac = vec![0u8; alg.output_len()];
        let request = forged_query("k.", &forged(alg, &mac, 0));
        let msg = Message::parse(&request).unwrap();
        let f = expect_failure(&keys, &msg, T0);
        assert_eq!(f.error, TsigError::BadSig);
        assert_reply_unsigned(&request, &f, T0);
    }
}

#[test]
fn nothing_allocates_on_the_request_path_by_construction() {
    // Not a counting allocator (tests/alloc.rs has one); this checks the
    // responder is a small Copy value that borrows the request.
    fn is_copy<T: Copy>() {}
    is_copy::<Responder<'static>>();
    is_copy::<Verification<'static>>();
    assert!(core::mem::size_of::<Responder<'static>>() <= 96);
}

// ---- key specs and files ----

/// Real `tsig-keygen` (BIND 9.18.49) output for all six algorithms.
const TSIG_KEYGEN: &str = r#"key "Key.hmac-md5.Example." {
	algorithm hmac-md5;
	secret "9fTAlly1o/Xmbf0qVp8TvA==";
};
key "Key.hmac-sha1.Example." {
	algorithm hmac-sha1;
	secret "bel5Fa3g3n9T1okOgPC5+ylcUhQ=";
};
key "Key.hmac-sha224.Example." {
	algorithm hmac-sha224;
	secret "nelDc0K7N/mf4JwgY/oaaMQ/6dxWwvrt/6dGfw==";
};
key "Key.hmac-sha256.Example." {
	algorithm hmac-sha256;
	secret "hc1ht0rq0FjnpzIgPsagj37RseYlVnLWfQtQuts/6vE=";
};
key "Key.hmac-sha384.Example." {
	algorithm hmac-sha384;
	secret "PLZtLVAmC45VJ+5rChq1fDDl+c3D30nobpy+uWEeYdb8FU325uj8zW6Pzwzh216z";
};
key "Key.hmac-sha512.Example." {
	algorithm hmac-sha512;
	secret "0o7KKhwW+kH/hAeumZ/wbVpKVELhXK/kv56ddcpjYeC/FallcXnP5SWhP6ubv4LwXK7x5Pd6dDFjbsGb2+1o7w==";
};
"#;

#[test]
fn tsig_keygen_output_parses_and_formats_back() {
    let keys = parse_file(TSIG_KEYGEN).unwrap();
    assert_eq!(keys.len(), 6);
    for (k, alg) in keys.iter().zip(Algorithm::ALL) {
        assert_eq!(k.algorithm(), alg);
        assert_eq!(k.secret().len(), alg.output_len());
        assert_eq!(
            k.name().to_string(),
            format!("key.{}.example.", alg.mnemonic())
        );
    }
    // format_key is tsig-keygen's format (names come back lower-cased, no dot).
    let formatted: String = keys.iter().map(format_key).collect();
    let expected = TSIG_KEYGEN
        .replace("Key.", "key.")
        .replace(".Example.", ".example");
    assert_eq!(formatted, expected);
    let again = parse_file(&formatted).unwrap();
    assert_eq!(again.len(), 6);
    assert!(
        again
            .iter()
            .zip(&keys)
            .all(|(a, b)| a.secret() == b.secret() && a.name() == b.name())
    );
}

#[test]
fn file_syntax_variants() {
    let text = "# ddns-confgen style comment\n\
        // another\n\
        /* block\n comment */ key unquoted.example { secret \"AAEC\nAw==\" ; algorithm \"HMAC-SHA256\"; } ;\n\
        hmac-sha1:one.line.example:AAECAw==   # trailing comment\n\
        key\"tight.example\"{algorithm hmac-md5;secret \"AAECAw==\";};\n\
        KEY key.example { algorithm hmac-sha512.; secret AAECAw==; };\n\
        hmac-sha224:key:AAECAw==\n";
    let keys = parse_file(text).unwrap();
    let names: Vec<String> = keys.iter().map(|k| k.name().to_string()).collect();
    assert_eq!(
        names,
        [
            "unquoted.example.",
            "one.line.example.",
            "tight.example.",
            "key.example.",
            "key."
        ]
    );
    assert_eq!(keys[0].secret(), [0, 1, 2, 3]);
    assert_eq!(keys[0].algorithm(), Algorithm::HmacSha256);
    assert_eq!(keys[1].algorithm(), Algorithm::HmacSha1);
    assert_eq!(keys[4].algorithm(), Algorithm::HmacSha224);
    assert!(parse_file("").unwrap().is_empty());
    assert!(parse_file("  # nothing\n/* */").unwrap().is_empty());
}

fn file_error(text: &str) -> KeyError {
    let e = parse_file(text).unwrap_err();
    let shown = e.to_string();
    assert!(!shown.contains("c2VjcmV0"), "secret shown: {shown}");
    e
}

#[test]
fn file_errors_name_the_line_and_hide_the_secret() {
    let cases: &[(&str, usize, KeyErrorKind)] = &[
        (
            "\n\nkey \"a.\" { algorithm hmac-sha256; secret \"c2VjcmV0!\"; };",
            3,
            KeyErrorKind::BadSecret,
        ),
        (
            "key a. {\n algorithm hmac-sha256;\n secret \"\";\n};",
            3,
            KeyErrorKind::EmptySecret,
        ),
        (
            "key a. { algorithm hmac-sha999; secret \"c2VjcmV0\"; };",
            1,
            KeyErrorKind::UnknownAlgorithm,
        ),
        (
            "key a. { secret \"c2VjcmV0\"; };",
            1,
            KeyErrorKind::NoAlgorithm("a.".into()),
        ),
        (
            "key a. { algorithm hmac-md5; };",
            1,
            KeyErrorKind::NoSecret("a.".into()),
        ),
        (
            "key a. { algorithm hmac-md5; algorithm hmac-md5; secret \"c2VjcmV0\"; };",
            1,
            KeyErrorKind::Repeated("algorithm"),
        ),
        (
            "key a. { algorithm hmac-md5; secret \"c2VjcmV0\" };",
            1,
            KeyErrorKind::Expected("`;` after the secret"),
        ),
        (
            "key a. { algorithm hmac-md5; secret \"c2VjcmV0\"; }",
            1,
            KeyErrorKind::Expected("`;` after `}`"),
        ),
        (
            "key a. { algorithm hmac-md5;\n c2VjcmV0; };",
            2,
            KeyErrorKind::UnknownStatement("…".into()),
        ),
        (
            "key a. { algoritm hmac-md5; };",
            1,
            KeyErrorKind::UnknownStatement("algoritm".into()),
        ),
        (
            "key a. { algorithm hmac-md5; secret \"c2VjcmV0; };",
            1,
            KeyErrorKind::Unterminated("string"),
        ),
        (
            "\n/* never closed",
            2,
            KeyErrorKind::Unterminated("comment"),
        ),
        (
            "key \"a..b\" { algorithm hmac-md5; secret \"c2VjcmV0\"; };",
            1,
            KeyErrorKind::BadName("a..b".into()),
        ),
        (
            "key a. { algorithm hmac-md5; secret \"c2VjcmV0\"; };\nkey A { algorithm hmac-sha1; secret \"c2VjcmV0\"; };",
            2,
            KeyErrorKind::Duplicate("a.".into()),
        ),
        (
            "hmac-md5:a.:c2VjcmV0\n\nhmac-sha1:A.:c2VjcmV0",
            3,
            KeyErrorKind::Duplicate("a.".into()),
        ),
        ("a.:c2VjcmV0", 1, KeyErrorKind::MissingAlgorithmInFile),
        ("zone \"example\" { };", 1, KeyErrorKind::BadSpec),
        ("hmac-md5:a.:c2VjcmV0!", 1, KeyErrorKind::BadSecret),
        ("key", 1, KeyErrorKind::BadSpec),
        ("key {", 1, KeyErrorKind::Expected("a key name")),
    ];
    for (text, line, kind) in cases {
        let e = file_error(text);
        assert_eq!((e.line, &e.kind), (Some(*line), kind), "{text:?}: {e}");
        assert!(e.to_string().starts_with(&format!("line {line}: ")));
    }
}

#[test]
fn specs() {
    let k = parse_spec("update.example:c2VjcmV0").unwrap();
    assert_eq!(k.algorithm(), Algorithm::HmacMd5); // nsupdate's default
    assert_eq!(k.secret(), b"secret");
    assert_eq!(k.name().to_string(), "update.example.");
    let k = parse_spec(" hmac-sha512:Update.Example.:c2VjcmV0 \n").unwrap();
    assert_eq!(k.algorithm(), Algorithm::HmacSha512);
    assert_eq!(k.name().to_string(), "update.example.");
    let k = parse_spec("hmac-md5.sig-alg.reg.int:k:c2VjcmV0").unwrap();
    assert_eq!(k.algorithm(), Algorithm::HmacMd5);

    for (spec, kind) in [
        ("k:", KeyErrorKind::EmptySecret),
        ("k:====", KeyErrorKind::BadSecret),
        ("k:c2VjcmV0!", KeyErrorKind::BadSecret),
        ("k:c2VjcmV0=", KeyErrorKind::BadSecret),
        ("hmac-sha3:k:c2VjcmV0", KeyErrorKind::UnknownAlgorithm),
        (":c2VjcmV0", KeyErrorKind::BadName(String::new())),
        (".:c2VjcmV0", KeyErrorKind::BadName(String::new())),
        ("c2VjcmV0", KeyErrorKind::BadSpec),
        ("a:b:c:c2VjcmV0", KeyErrorKind::BadSpec),
    ] {
        let e = parse_spec(spec).unwrap_err();
        assert_eq!(e, KeyError { line: None, kind }, "{spec}");
        assert!(!e.to_string().contains("c2VjcmV0"), "{e}");
    }
    // No field of a spec is echoed: a secret typed as the algorithm or the
    // name stays unseen.
    for spec in [
        "c2VjcmV0c2VjcmV0:k:c2VjcmV0",
        "hmac-sha256:c2VjcmV0c2Vj..:x",
    ] {
        let e = parse_spec(spec).unwrap_err().to_string();
        assert!(!e.contains("c2VjcmV0c2Vj"), "{e}");
    }
    // A long misplaced value is cut short in messages.
    let long = "x".repeat(200);
    let e = parse_spec(&format!("{long}:k:c2VjcmV0")).unwrap_err();
    assert!(e.to_string().len() < 250);
}

#[test]
fn generated_keys_format_and_parse_back() {
    for alg in Algorithm::ALL {
        let k = Key::generate(name("Gen.Example").as_name(), alg).unwrap();
        let text = format_key(&k);
        assert!(
            text.starts_with("key \"gen.example\" {\n\talgorithm "),
            "{text}"
        );
        let back = parse_file(&text).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].secret(), k.secret());
        assert_eq!(back[0].algorithm(), alg);
        let spec = format!(
            "{}:{}:{}",
            alg,
            back[0].name(),
            &text[text.find("secret \"").unwrap() + 8..text.rfind("\";").unwrap()]
        );
        assert_eq!(parse_spec(&spec).unwrap().secret(), k.secret());
    }
}

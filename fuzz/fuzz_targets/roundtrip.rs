//! Parse, re-encode, parse again.
//!
//! 1. `MessageBuilder::copy_of` of a parsed message parses back `==` to it, and
//!    re-encoding that gives the same bytes (the encoding is stable).
//! 2. The same records written one by one under a small limit (chosen by the
//!    first input octet, so the message ID) never go past the limit, every
//!    refusal rolls back whole, the result parses, holds exactly the records the
//!    builder accepted, and has TC set iff a question, answer or authority record
//!    was refused (RFC 2181 §9).

#![no_main]

use dynzone::wire::{
    BuildError, HEADER_LEN, MAX_MESSAGE, Message, MessageBuilder, RData, Record, Section,
    write_rdata,
};
use dynzone_fuzz::{hex, uncompressed_size};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(first) = Message::parse(data) else {
        return;
    };
    copy_is_stable(data, &first);
    limited_rebuild(data, &first);
});

fn copy_is_stable(data: &[u8], first: &Message<'_>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let encoded = match MessageBuilder::copy_of(&mut buf, first) {
        Ok(builder) => builder.finish_bytes(),
        // Compression the builder cannot reproduce (pointers into names it
        // wrote past its 64 slots or 16 KiB) can make the copy outgrow 65535
        // octets; it never outgrows the fully uncompressed size.
        Err(BuildError::Truncated | BuildError::NoSpace) => {
            let bound = uncompressed_size(first);
            assert!(
                bound > MAX_MESSAGE,
                "copy_of refused a message of at most {bound} octets: {}",
                hex(data)
            );
            return;
        }
        Err(e) => panic!("copy_of failed with {e:?}: {}", hex(data)),
    };
    let second = Message::parse(encoded).unwrap_or_else(|e| {
        panic!(
            "copy does not parse ({e:?})\ninput {}\ncopy  {}",
            hex(data),
            hex(encoded)
        )
    });
    assert!(
        second == *first,
        "copy differs\ninput {}\ncopy  {}\n{first:?}\n{second:?}",
        hex(data),
        hex(encoded)
    );
    assert!(encoded.len() <= uncompressed_size(first));

    let mut buf2 = vec![0u8; MAX_MESSAGE];
    let again = MessageBuilder::copy_of(&mut buf2, &second)
        .unwrap_or_else(|e| panic!("second copy failed with {e:?}: {}", hex(encoded)))
        .finish_bytes();
    assert_eq!(
        hex(again),
        hex(encoded),
        "encoding not stable for input {}",
        hex(data)
    );
}

/// Octets the builder writes for this OPT or TSIG record (owner uncompressed).
fn meta_size(rec: &Record<'_>) -> usize {
    let mut out = vec![0u8; MAX_MESSAGE];
    let rdata = write_rdata(&mut out, &rec.data).unwrap_or(MAX_MESSAGE);
    rec.owner.wire_len() + 10 + rdata
}

const SENTINEL: u8 = 0xa5;

fn limited_rebuild(data: &[u8], msg: &Message<'_>) {
    let (Some(&first), Some(&second)) = (data.first(), data.get(1)) else {
        return;
    };
    let limit = HEADER_LEN + data.len() * usize::from(first) / 255;
    let effective = limit.min(MAX_MESSAGE);
    let reserve_meta = second & 1 == 1;

    let mut small = [0u8; HEADER_LEN - 1];
    assert!(matches!(
        MessageBuilder::new(&mut small, HEADER_LEN),
        Err(BuildError::NoRoomForHeader)
    ));

    let mut buf = vec![SENTINEL; MAX_MESSAGE + 64];
    let mut b = MessageBuilder::new(&mut buf, limit).expect("limit holds a header");
    let header = msg.header();
    b.set_id(header.id);
    let mut flags = header.flags;
    flags.set_tc(false);
    *b.flags_mut() = flags;

    // Optionally hold back room for OPT and TSIG; they must then always fit.
    let meta: usize = msg
        .additional()
        .filter(|r| matches!(r.data, RData::Opt(_) | RData::Tsig(_)))
        .map(|r| meta_size(&r))
        .sum();
    let reserved = reserve_meta && {
        let ok = b.reserve(meta).is_ok();
        assert_eq!(
            ok,
            HEADER_LEN + meta <= effective,
            "reserve({meta}) at {effective}"
        );
        ok
    };

    let mut truncated = false;
    let mut kept_questions = Vec::new();
    for q in msg.questions() {
        let before = (b.len(), b.header());
        let result = b.question(q.name, q.qtype, q.qclass);
        check_attempt(
            &b,
            Section::Question,
            false,
            result,
            &mut truncated,
            before,
            effective,
        );
        if result.is_ok() {
            kept_questions.push(q);
        }
    }
    let mut kept: [Vec<Record<'_>>; 3] = Default::default();
    for (kept, section) in kept.iter_mut().zip(Section::RECORDS) {
        for rec in msg.records(section) {
            let before = (b.len(), b.header());
            let (result, is_meta) = match rec.data {
                RData::Opt(options) if section == Section::Additional => {
                    let ttl = rec.ttl;
                    let opt = b.opt(
                        u16::from(rec.class),
                        (ttl >> 24) as u8,
                        (ttl >> 16) as u8,
                        ttl as u16,
                        options.raw(),
                    );
                    (opt, true)
                }
                RData::Tsig(tsig) if section == Section::Additional => {
                    (b.tsig(rec.owner, &tsig), true)
                }
                _ => (
                    b.record(section, rec.owner, rec.rtype, rec.class, rec.ttl, &rec.data),
                    false,
                ),
            };
            if is_meta && reserved {
                assert_eq!(result, Ok(()), "reserved room refused to {:?}", rec.rtype);
            }
            check_attempt(
                &b,
                section,
                is_meta,
                result,
                &mut truncated,
                before,
                effective,
            );
            if result.is_ok() {
                kept.push(rec);
            }
        }
    }
    assert_eq!(b.is_truncated(), truncated);
    assert_eq!(b.header().flags.tc(), truncated);

    let len = b.finish();
    assert!(
        len <= effective,
        "wrote {len} octets with limit {effective}"
    );
    let past = buf.get(effective..).unwrap_or(&[]);
    assert!(
        past.iter().all(|&x| x == SENTINEL),
        "builder wrote past its limit {effective}: input {}",
        hex(data)
    );
    let out = buf.get(..len).expect("within buffer");
    let rebuilt = Message::parse(out).unwrap_or_else(|e| {
        panic!(
            "limited copy ({effective}) does not parse ({e:?})\ninput {}\ncopy  {}",
            hex(data),
            hex(out)
        )
    });
    assert_eq!(rebuilt.header().flags.tc(), truncated);
    assert!(rebuilt.questions().eq(kept_questions.iter().copied()));
    for (kept, section) in kept.iter().zip(Section::RECORDS) {
        assert!(
            rebuilt.records(section).eq(kept.iter().copied()),
            "{section:?} differs from what the builder accepted"
        );
    }
}

/// The rules for one attempt to add a question or record.
fn check_attempt(
    b: &MessageBuilder<'_>,
    section: Section,
    is_meta: bool,
    result: Result<(), BuildError>,
    truncated: &mut bool,
    before: (usize, dynzone::wire::Header),
    limit: usize,
) {
    let (len_before, header_before) = before;
    assert!(b.len() <= limit);
    match result {
        Ok(()) => {
            // Documented: after TC only OPT and TSIG are accepted.
            assert!(
                is_meta || !*truncated,
                "{section:?} record accepted after truncation"
            );
            assert!(b.len() > len_before);
            let i = section.index();
            assert_eq!(b.header().counts[i], header_before.counts[i] + 1);
        }
        Err(e) => {
            // A refused record is rolled back whole.
            assert_eq!(b.len(), len_before, "{e:?} left bytes behind");
            assert_eq!(b.header().counts, header_before.counts);
            match (e, section, is_meta) {
                (BuildError::NoSpace, _, true) => {}
                (BuildError::NoSpace, Section::Additional, false) => assert!(!*truncated),
                (BuildError::Truncated, Section::Additional, false) => assert!(*truncated),
                (BuildError::Truncated, _, false) => {
                    assert!(b.is_truncated());
                    *truncated = true;
                }
                _ => panic!("unexpected {e:?} in {section:?} (meta: {is_meta})"),
            }
        }
    }
    assert_eq!(b.is_truncated(), *truncated);
}

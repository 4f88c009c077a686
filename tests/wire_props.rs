//! Properties of the wire format, over generated messages:
//! emit → parse gives the same value; parse never panics; parse → emit → parse is
//! stable; the builder never writes past its limit and sets TC when it stops.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use dynzone::wire::{
    BuildError, Caa, Class, Message, MessageBuilder, Name, NameBuf, OptData, RData, Rtype, Section,
    Soa, Srv, TsigData, TsigError, Txt,
};
use proptest::prelude::*;

/// Cases per property; `PROPTEST_CASES` overrides it. Failures found once are
/// kept in `tests/proptest-regressions/` and replayed first on every run.
fn config() -> ProptestConfig {
    common::props::config("wire_props", 1024)
}

// ---------------------------------------------------------------- the model

// A test model: two 256-byte names in one variant is fine here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Data {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Ns(NameBuf),
    Cname(NameBuf),
    Ptr(NameBuf),
    Soa(NameBuf, NameBuf, [u32; 5]),
    Mx(u16, NameBuf),
    Txt(Vec<u8>),
    Srv([u16; 3], NameBuf),
    Caa(u8, Vec<u8>, Vec<u8>),
    /// A type with embedded names and no view of its own: uncompressed wire form.
    Compound(u16, Vec<u8>, Vec<NameBuf>),
    Unknown(u16, Vec<u8>),
    Empty(u16),
}

impl Data {
    fn rtype(&self) -> Rtype {
        Rtype::from(match self {
            Data::A(_) => 1,
            Data::Aaaa(_) => 28,
            Data::Ns(_) => 2,
            Data::Cname(_) => 5,
            Data::Ptr(_) => 12,
            Data::Soa(..) => 6,
            Data::Mx(..) => 15,
            Data::Txt(_) => 16,
            Data::Srv(..) => 33,
            Data::Caa(..) => 257,
            Data::Compound(t, ..) | Data::Unknown(t, _) | Data::Empty(t) => *t,
        })
    }

    fn rdata(&self) -> RData<'_> {
        match self {
            Data::A(a) => RData::A(Ipv4Addr::from(*a)),
            Data::Aaaa(a) => RData::Aaaa(Ipv6Addr::from(*a)),
            Data::Ns(n) => RData::Ns(n.as_name()),
            Data::Cname(n) => RData::Cname(n.as_name()),
            Data::Ptr(n) => RData::Ptr(n.as_name()),
            Data::Soa(m, r, v) => RData::Soa(Soa {
                mname: m.as_name(),
                rname: r.as_name(),
                serial: v[0],
                refresh: v[1],
                retry: v[2],
                expire: v[3],
                minimum: v[4],
            }),
            Data::Mx(p, n) => RData::Mx {
                preference: *p,
                exchange: n.as_name(),
            },
            Data::Txt(raw) => RData::Txt(Txt::new(raw).expect("generated TXT is valid")),
            Data::Srv(v, n) => RData::Srv(Srv {
                priority: v[0],
                weight: v[1],
                port: v[2],
                target: n.as_name(),
            }),
            Data::Caa(flags, tag, value) => RData::Caa(Caa {
                flags: *flags,
                tag,
                value,
            }),
            Data::Compound(t, wire, _) => {
                let data = RData::from_wire(Rtype::from(*t), wire).expect("generated compound");
                assert!(matches!(data, RData::Compound(_)));
                data
            }
            Data::Unknown(_, bytes) => RData::Unknown(bytes),
            Data::Empty(_) => RData::Empty,
        }
    }

    /// Names inside the RDATA, to compare their case exactly.
    fn names(&self) -> Vec<&NameBuf> {
        match self {
            Data::Ns(n) | Data::Cname(n) | Data::Ptr(n) | Data::Mx(_, n) | Data::Srv(_, n) => {
                vec![n]
            }
            Data::Soa(m, r, _) => vec![m, r],
            Data::Compound(_, _, names) => names.iter().collect(),
            _ => vec![],
        }
    }
}

#[derive(Debug, Clone)]
struct Rr {
    owner: NameBuf,
    class: u16,
    ttl: u32,
    data: Data,
}

#[derive(Debug, Clone)]
struct Opt {
    payload: u16,
    ext_rcode: u8,
    version: u8,
    flags: u16,
    options: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Tsig {
    key: NameBuf,
    algorithm: NameBuf,
    time: u64,
    fudge: u16,
    mac: Vec<u8>,
    original_id: u16,
    error: u16,
    other: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Msg {
    id: u16,
    flags: u16,
    questions: Vec<(NameBuf, u16, u16)>,
    sections: [Vec<Rr>; 3],
    opt: Option<Opt>,
    tsig: Option<Tsig>,
}

// ----------------------------------------------------------- the strategies

fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A few common labels, in two cases, so compression has work to do.
        4 => prop::sample::select(vec!["www", "WWW", "example", "Example", "com", "net", "a", "_tcp"])
            .prop_map(|s| s.as_bytes().to_vec()),
        2 => prop::collection::vec(any::<u8>(), 1..=20),
        1 => prop::collection::vec(any::<u8>(), 60..=63),
    ]
}

fn name() -> impl Strategy<Value = NameBuf> {
    prop::collection::vec(label(), 0..=6).prop_filter_map("name over 255 octets", |labels| {
        let mut wire = Vec::new();
        for l in &labels {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        wire.push(0);
        Name::from_wire(&wire).ok().map(|n| n.to_buf())
    })
}

fn char_strings() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..=40), 1..=4).prop_map(|strings| {
        let mut raw = Vec::new();
        for s in strings {
            raw.push(s.len() as u8);
            raw.extend(s);
        }
        raw
    })
}

/// MB, MG, MINFO, RP, AFSDB, PX, NAPTR and friends, from their layouts.
fn compound() -> impl Strategy<Value = Data> {
    let string = || prop::collection::vec(any::<u8>(), 0..=12);
    (
        prop::sample::select(vec![3u16, 4, 7, 8, 9, 14, 17, 18, 21, 26, 35]),
        name(),
        name(),
        any::<[u16; 2]>(),
        [string(), string(), string()],
    )
        .prop_map(|(t, n1, n2, nums, strings)| {
            let mut wire = Vec::new();
            let names = match t {
                3 | 4 | 7 | 8 | 9 => vec![n1],
                14 | 17 => vec![n1, n2],
                18 | 21 => {
                    wire.extend_from_slice(&nums[0].to_be_bytes());
                    vec![n1]
                }
                26 => {
                    wire.extend_from_slice(&nums[0].to_be_bytes());
                    vec![n1, n2]
                }
                _ => {
                    wire.extend_from_slice(&nums[0].to_be_bytes());
                    wire.extend_from_slice(&nums[1].to_be_bytes());
                    for s in &strings {
                        wire.push(s.len() as u8);
                        wire.extend_from_slice(s);
                    }
                    vec![n1]
                }
            };
            for n in &names {
                wire.extend_from_slice(n.as_wire());
            }
            Data::Compound(t, wire, names)
        })
}

fn data() -> impl Strategy<Value = Data> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..=40);
    prop_oneof![
        any::<[u8; 4]>().prop_map(Data::A),
        any::<[u8; 16]>().prop_map(Data::Aaaa),
        name().prop_map(Data::Ns),
        name().prop_map(Data::Cname),
        name().prop_map(Data::Ptr),
        (name(), name(), any::<[u32; 5]>()).prop_map(|(m, r, v)| Data::Soa(m, r, v)),
        (any::<u16>(), name()).prop_map(|(p, n)| Data::Mx(p, n)),
        char_strings().prop_map(Data::Txt),
        (any::<[u16; 3]>(), name()).prop_map(|(v, n)| Data::Srv(v, n)),
        (
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 1..=15),
            bytes()
        )
            .prop_map(|(f, t, v)| Data::Caa(f, t, v)),
        compound(),
        // RFC 3597: unknown types, opaque bytes (also non-empty ones).
        (
            prop::sample::select(vec![99u16, 65280, 65535, 13, 43, 48]),
            prop::collection::vec(any::<u8>(), 1..=40)
        )
            .prop_map(|(t, b)| Data::Unknown(t, b)),
        // RDLENGTH 0 as UPDATE deletes carry it, for any data type.
        prop::sample::select(vec![1u16, 2, 5, 6, 15, 16, 28, 33, 257, 99]).prop_map(Data::Empty),
    ]
}

fn rr() -> impl Strategy<Value = Rr> {
    (
        name(),
        prop::sample::select(vec![1u16, 3, 254, 255, 42]),
        any::<u32>(),
        data(),
    )
        .prop_map(|(owner, class, ttl, data)| Rr {
            owner,
            class,
            ttl,
            data,
        })
}

fn opt() -> impl Strategy<Value = Opt> {
    (
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        prop::collection::vec(
            (any::<u16>(), prop::collection::vec(any::<u8>(), 0..=12)),
            0..=3,
        ),
    )
        .prop_map(|(payload, ext_rcode, version, flags, opts)| {
            let mut options = Vec::new();
            for (code, data) in opts {
                options.extend_from_slice(&code.to_be_bytes());
                options.extend_from_slice(&(data.len() as u16).to_be_bytes());
                options.extend(data);
            }
            Opt {
                payload,
                ext_rcode,
                version,
                flags,
                options,
            }
        })
}

fn tsig() -> impl Strategy<Value = Tsig> {
    (
        name(),
        name(),
        0..=dynzone::wire::MAX_TSIG_TIME,
        any::<u16>(),
        prop::collection::vec(any::<u8>(), 0..=64),
        any::<u16>(),
        prop::sample::select(vec![0u16, 16, 17, 18, 22, 4000]),
        prop::collection::vec(any::<u8>(), 0..=6),
    )
        .prop_map(
            |(key, algorithm, time, fudge, mac, original_id, error, other)| Tsig {
                key,
                algorithm,
                time,
                fudge,
                mac,
                original_id,
                error,
                other,
            },
        )
}

fn msg() -> impl Strategy<Value = Msg> {
    (
        any::<u16>(),
        any::<u16>(),
        prop::collection::vec((name(), any::<u16>(), any::<u16>()), 0..=2),
        prop::collection::vec(rr(), 0..=5),
        prop::collection::vec(rr(), 0..=4),
        prop::collection::vec(rr(), 0..=3),
        prop::option::of(opt()),
        prop::option::of(tsig()),
    )
        .prop_map(|(id, flags, questions, an, ns, ar, opt, tsig)| Msg {
            id,
            flags,
            questions,
            // OPT and TSIG are written by their own methods.
            sections: [an, ns, ar],
            opt,
            tsig,
        })
}

// ------------------------------------------------------------- emit & check

/// Writes `m` with a fresh builder under `limit`, trying every entry even after
/// one was refused. Returns the bytes and, per section, how many records went
/// in, and whether a data record was refused (after which none may go in).
fn emit(m: &Msg, limit: usize) -> (Vec<u8>, [usize; 4], bool) {
    let mut buf = vec![0u8; 65535];
    let mut b = MessageBuilder::new(&mut buf, limit).expect("limit >= 12");
    b.set_id(m.id);
    b.flags_mut().0 = m.flags & !0x0200; // TC is the builder's to set
    let mut written = [0usize; 4];
    let mut refused = false;
    {
        for (n, t, c) in &m.questions {
            match b.question(n.as_name(), Rtype::from(*t), Class::from(*c)) {
                Ok(()) => {
                    assert!(!refused, "question accepted after truncation");
                    written[0] += 1
                }
                Err(BuildError::Truncated) => refused = true,
                Err(e) => panic!("question: {e:?}"),
            }
        }
        for (i, (section, rrs)) in Section::RECORDS.iter().zip(&m.sections).enumerate() {
            for rr in rrs {
                let r = b.record(
                    *section,
                    rr.owner.as_name(),
                    rr.data.rtype(),
                    Class::from(rr.class),
                    rr.ttl,
                    &rr.data.rdata(),
                );
                match r {
                    Ok(()) => {
                        assert!(!refused, "record accepted after truncation");
                        written[i + 1] += 1
                    }
                    Err(BuildError::Truncated) => refused = true,
                    Err(BuildError::NoSpace) if *section == Section::Additional => {}
                    Err(e) => panic!("record: {e:?}"),
                }
            }
        }
    }
    let mut meta = 0;
    if let Some(o) = &m.opt
        && b.opt(o.payload, o.ext_rcode, o.version, o.flags, &o.options)
            .is_ok()
    {
        meta += 1;
    }
    if let Some(t) = &m.tsig {
        let data = TsigData {
            algorithm: t.algorithm.as_name(),
            time_signed: t.time,
            fudge: t.fudge,
            mac: &t.mac,
            original_id: t.original_id,
            error: TsigError::from(t.error),
            other: &t.other,
        };
        if b.tsig(t.key.as_name(), &data).is_ok() {
            meta += 1;
        }
    }
    written[3] += meta;
    assert!(
        b.len() <= limit,
        "builder wrote {} past limit {limit}",
        b.len()
    );
    assert_eq!(b.is_truncated(), refused);
    let len = b.finish();
    assert!(len <= limit);
    buf.truncate(len);
    (buf, written, refused)
}

fn same_name_exactly(got: &Name<'_>, want: &NameBuf) -> bool {
    got.to_buf().as_wire() == want.as_wire()
}

fn check_records(msg: &Message<'_>, m: &Msg, written: [usize; 4]) {
    for (i, (section, rrs)) in Section::RECORDS.iter().zip(&m.sections).enumerate() {
        let got: Vec<_> = msg.records(*section).collect();
        // In the additional section a record may have been skipped for room;
        // elsewhere the records present are exactly the first `written`.
        if *section != Section::Additional {
            assert_eq!(got.len(), written[i + 1]);
        }
        let data_records = got
            .iter()
            .filter(|r| !matches!(r.rtype, Rtype::Opt | Rtype::Tsig));
        let mut want = rrs.iter();
        for rec in data_records {
            // Find the next model record this one is (skips are allowed only in
            // the additional section, checked by the count above elsewhere).
            let rr = want
                .by_ref()
                .find(|rr| same_name_exactly(&rec.owner, &rr.owner) && rr.ttl == rec.ttl)
                .expect("record in the model");
            assert_eq!(rec.rtype, rr.data.rtype());
            assert_eq!(rec.class, Class::from(rr.class));
            assert_eq!(rec.data, rr.data.rdata());
            // Case survives compression in RDATA names too.
            let got_names: Vec<NameBuf> = match rec.data {
                RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => vec![n.to_buf()],
                RData::Mx { exchange, .. } => vec![exchange.to_buf()],
                RData::Srv(s) => vec![s.target.to_buf()],
                RData::Soa(s) => vec![s.mname.to_buf(), s.rname.to_buf()],
                RData::Compound(c) => c
                    .fields()
                    .filter_map(|f| match f {
                        dynzone::wire::Field::Name(n) => Some(n.to_buf()),
                        _ => None,
                    })
                    .collect(),
                _ => vec![],
            };
            let want_names = rr.data.names();
            assert_eq!(got_names.len(), want_names.len());
            for (g, w) in got_names.iter().zip(want_names) {
                assert_eq!(g.as_wire(), w.as_wire());
            }
        }
    }
}

fn check_meta(msg: &Message<'_>, m: &Msg) {
    match (&m.opt, msg.edns()) {
        (Some(o), Some(e)) => {
            assert_eq!(e.udp_payload, o.payload);
            assert_eq!(e.ext_rcode, o.ext_rcode);
            assert_eq!(e.version, o.version);
            assert_eq!(e.flags, o.flags);
            assert_eq!(e.options, OptData::new(&o.options).unwrap());
        }
        (None, Some(_)) => panic!("OPT appeared from nowhere"),
        _ => {}
    }
    match (&m.tsig, msg.tsig()) {
        (Some(t), Some(got)) => {
            assert!(same_name_exactly(&got.key_name, &t.key));
            assert!(same_name_exactly(&got.data.algorithm, &t.algorithm));
            assert_eq!(got.data.time_signed, t.time);
            assert_eq!(got.data.fudge, t.fudge);
            assert_eq!(got.data.mac, &t.mac[..]);
            assert_eq!(got.data.original_id, t.original_id);
            assert_eq!(u16::from(got.data.error), t.error);
            assert_eq!(got.data.other, &t.other[..]);
            let (header, body) = msg.tsig_signed_parts().unwrap();
            assert_eq!(&header[..2], &t.original_id.to_be_bytes());
            let ar = u16::from_be_bytes([header[10], header[11]]);
            assert_eq!(ar, msg.header().counts[3] - 1);
            assert_eq!(body.len(), got.start - 12);
        }
        (None, Some(_)) => panic!("TSIG appeared from nowhere"),
        _ => {}
    }
}

/// parse → copy_of → parse gives an equal message whose encoding is a fixpoint.
/// The parse that remembers names (issue 9) decides exactly as the plain one:
/// same error, or the same message (sections, OPT and TSIG found at the same
/// places).
fn same_as_unremembered(bytes: &[u8]) {
    let remembered = format!("{:?}", Message::parse(bytes));
    let plain = format!("{:?}", Message::parse_unremembered(bytes));
    assert_eq!(remembered, plain, "memo changed the parse of {bytes:02x?}");
}

/// Messages made of names that point at each other: a header claiming
/// `questions` questions, then names built from labels, pointers to earlier
/// positions (mostly to name and label starts, sometimes anywhere, sometimes
/// forward), and roots, each followed by a type and class. The shapes the memo
/// shortcuts, with every limit (16 pointers, 255 octets) in reach.
fn pointer_soup() -> impl Strategy<Value = Vec<u8>> {
    let part = prop_oneof![
        4 => (1u8..=8).prop_map(Part::Label),
        2 => (9u8..=63).prop_map(Part::Label),
        3 => any::<prop::sample::Index>().prop_map(Part::ToStart),
        6 => (0usize..4).prop_map(Part::ToRecent),
        1 => any::<prop::sample::Index>().prop_map(Part::Anywhere),
        1 => any::<u16>().prop_map(Part::Raw),
        3 => Just(Part::Root),
    ];
    (1u16..400, prop::collection::vec(part, 1..600)).prop_map(|(questions, parts)| {
        let mut m = vec![0u8; 12];
        m[4..6].copy_from_slice(&questions.to_be_bytes());
        let mut starts: Vec<usize> = Vec::new();
        for part in parts {
            match part {
                Part::Label(n) => {
                    starts.push(m.len());
                    m.push(n);
                    m.extend(std::iter::repeat_n(b'a', usize::from(n)));
                }
                Part::ToStart(_) | Part::ToRecent(_) | Part::Anywhere(_) if m.len() > 12 => {
                    let target = match part {
                        Part::ToStart(i) if !starts.is_empty() => starts[i.index(starts.len())],
                        Part::ToRecent(k) if !starts.is_empty() => {
                            starts[starts.len() - 1 - k.min(starts.len() - 1)]
                        }
                        Part::Anywhere(i) => 12 + i.index(m.len() - 12),
                        _ => 12,
                    };
                    starts.push(m.len());
                    m.extend_from_slice(&(0xc000 | target as u16 & 0x3fff).to_be_bytes());
                    m.extend_from_slice(&[0, 1, 0, 1]);
                }
                Part::Raw(v) => m.extend_from_slice(&v.to_be_bytes()),
                _ => {
                    starts.push(m.len());
                    m.push(0);
                    m.extend_from_slice(&[0, 1, 0, 1]);
                }
            }
        }
        m
    })
}

#[derive(Debug, Clone)]
enum Part {
    Label(u8),
    ToStart(prop::sample::Index),
    ToRecent(usize),
    Anywhere(prop::sample::Index),
    Raw(u16),
    Root,
}

fn check_stable(bytes: &[u8]) {
    same_as_unremembered(bytes);
    let Ok(first) = Message::parse(bytes) else {
        return;
    };
    let mut buf2 = vec![0u8; 65535];
    let second_bytes = MessageBuilder::copy_of(&mut buf2, &first)
        .expect("a parsed message fits in 64 KiB again")
        .finish_bytes()
        .to_vec();
    let second = Message::parse(&second_bytes).expect("rebuilt message parses");
    assert!(first == second, "rebuild changed the message");
    let mut buf3 = vec![0u8; 65535];
    let third = MessageBuilder::copy_of(&mut buf3, &second)
        .unwrap()
        .finish_bytes();
    assert_eq!(third, &second_bytes[..], "encoding is not stable");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn emit_then_parse_gives_the_same_value(m in msg()) {
        let (bytes, written, refused) = emit(&m, 65535);
        prop_assert!(!refused);
        let msg = Message::parse(&bytes).expect("our own output parses");
        prop_assert_eq!(msg.header().id, m.id);
        prop_assert_eq!(msg.header().flags.0, m.flags & !0x0200);
        let questions: Vec<_> = msg.questions().collect();
        prop_assert_eq!(questions.len(), m.questions.len());
        for (q, (n, t, c)) in questions.iter().zip(&m.questions) {
            prop_assert!(same_name_exactly(&q.name, n));
            prop_assert_eq!(q.qtype, Rtype::from(*t));
            prop_assert_eq!(q.qclass, Class::from(*c));
        }
        check_records(&msg, &m, written);
        check_meta(&msg, &m);
    }

    #[test]
    fn parse_emit_parse_is_stable(m in msg()) {
        let (bytes, _, _) = emit(&m, 65535);
        check_stable(&bytes);
    }

    #[test]
    fn builder_respects_its_limit_and_sets_tc(m in msg(), limit in 12usize..700) {
        let (bytes, written, refused) = emit(&m, limit);
        prop_assert!(bytes.len() <= limit);
        let msg = Message::parse(&bytes).expect("a truncated message still parses");
        prop_assert_eq!(msg.header().flags.tc(), refused);
        if !refused {
            prop_assert_eq!(written[0], m.questions.len());
            prop_assert_eq!(written[1], m.sections[0].len());
            prop_assert_eq!(written[2], m.sections[1].len());
        }
        check_records(&msg, &m, written);
    }

    #[test]
    fn remembering_names_never_changes_a_parse(bytes in pointer_soup()) {
        same_as_unremembered(&bytes);
        // The question count claimed is rarely right; try it exact as well.
        // Cutting the bytes after the last question can break a name that
        // reached past it, so count and cut until nothing changes.
        let mut exact = bytes.clone();
        let mut count = 0u16;
        loop {
            let (mut n, mut pos) = (0u16, 12);
            while let Ok((_, next)) = dynzone::wire::Question::parse(&exact, pos) {
                n += 1;
                pos = next;
            }
            let done = pos == exact.len() && n == count;
            exact.truncate(pos);
            exact[4..6].copy_from_slice(&n.to_be_bytes());
            count = n;
            if done {
                break;
            }
        }
        same_as_unremembered(&exact);
        if count > 0 {
            prop_assert!(Message::parse(&exact).is_ok());
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(msg) = Message::parse(&bytes) {
            walk(&msg);
        }
        check_stable(&bytes);
    }

    #[test]
    fn parse_never_panics_on_damaged_messages(
        m in msg(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (mut bytes, _, _) = emit(&m, 65535);
        for (at, value) in damage {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        for candidate in [&bytes[..], &bytes[..cut.index(bytes.len() + 1)]] {
            if let Ok(msg) = Message::parse(candidate) {
                walk(&msg);
            }
            check_stable(candidate);
        }
    }
}

/// Reads every view of a parsed message, the way the server will.
fn walk(msg: &Message<'_>) {
    let _ = msg.rcode();
    let _ = msg.edns().map(|e| e.options.options().count());
    let _ = msg.tsig_signed_parts();
    let zone = msg.question().map(|q| q.name);
    for q in msg.questions() {
        let _ = q.name.to_string();
        let _ = q.name.to_canonical();
    }
    for section in Section::RECORDS {
        for r in msg.records(section) {
            let _ = r.owner.to_string();
            if let Some(z) = &zone {
                let _ = r.owner.is_at_or_below(z);
            }
            let mut out = [0u8; 65535];
            let len = dynzone::wire::write_rdata(&mut out, &r.data).expect("rdata fits 64 KiB");
            let again = RData::from_wire(r.rtype, &out[..len]).expect("uncompressed rdata parses");
            assert_eq!(again, r.data);
            if let RData::Txt(t) = r.data {
                let _ = t.strings().count();
            }
        }
    }
}

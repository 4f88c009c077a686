//! Checks shared by the fuzz targets: walk every view a parsed [`Message`] hands
//! out and compare it with what the header, the raw bytes and an independent
//! reading say. Every check panics, so libFuzzer reports it as a crash.

use std::hint::black_box;

use dynzone::wire::{
    BuildError, Class, Field, HEADER_LEN, Header, MAX_LABEL_LEN, MAX_MESSAGE, MAX_NAME_LEN,
    MAX_TSIG_TIME, Message, Name, NameBuf, RData, Record, Rtype, Section, write_rdata,
};

/// Lower-case hex, for messages that print an input.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Walks everything a parsed message offers: header, every question and record
/// of every section, every name, every RDATA field, EDNS, TSIG and the RCODE.
pub fn walk_message(msg: &Message<'_>) {
    let bytes = msg.as_bytes();
    let header = msg.header();
    walk_header(&header, bytes);

    // Parsing checked every question and record, so the iterators yield exactly
    // what the counts announce.
    let anchor = msg.question().map(|q| q.name);
    let mut questions = 0usize;
    for q in msg.questions() {
        questions += 1;
        walk_name(&q.name, anchor.as_ref());
        walk_rtype(q.qtype);
        walk_class(q.qclass);
    }
    assert_eq!(questions, usize::from(header.count(Section::Question)));
    assert_eq!(msg.question(), msg.questions().next());
    assert!(msg.zone().eq(msg.questions()));
    assert_eq!(msg.records(Section::Question).count(), 0);

    let mut opt_records = 0usize;
    let mut tsig_records = 0usize;
    for section in Section::RECORDS {
        let mut count = 0usize;
        for rec in msg.records(section) {
            count += 1;
            walk_record(&rec, anchor.as_ref());
            match rec.rtype {
                Rtype::Opt => {
                    assert_eq!(section, Section::Additional);
                    assert!(rec.owner.is_root());
                    opt_records += 1;
                }
                Rtype::Tsig => {
                    assert_eq!(section, Section::Additional);
                    assert_eq!(count, usize::from(header.count(section)), "TSIG not last");
                    tsig_records += 1;
                }
                _ => {}
            }
        }
        assert_eq!(count, usize::from(header.count(section)), "{section:?}");
    }
    assert!(msg.answers().eq(msg.records(Section::Answer)));
    assert!(msg.authority().eq(msg.records(Section::Authority)));
    assert!(msg.additional().eq(msg.records(Section::Additional)));
    assert!(msg.prerequisites().eq(msg.records(Section::PREREQUISITE)));
    assert!(msg.updates().eq(msg.records(Section::UPDATE)));
    assert!(opt_records <= 1);
    assert!(tsig_records <= 1);

    walk_edns(msg, opt_records == 1);
    walk_tsig(msg, tsig_records == 1);

    let rcode = u16::from(msg.rcode());
    assert!(rcode < 1 << 12);
    assert_eq!(rcode & 0x0f, u16::from(header.flags.rcode_bits()));
    let ext = msg.edns().map_or(0, |e| e.ext_rcode);
    assert_eq!(rcode >> 4, u16::from(ext));
    assert_eq!(msg.rcode().header_bits(), header.flags.rcode_bits());
    assert_eq!(msg.rcode().extended_bits(), ext);
    black_box(msg.rcode().mnemonic());
}

fn walk_header(header: &Header, bytes: &[u8]) {
    assert_eq!(Header::parse(bytes), Ok(*header));
    assert_eq!(bytes.get(..HEADER_LEN), Some(&header.to_bytes()[..]));
    let f = header.flags;
    black_box((
        f.qr(),
        f.aa(),
        f.tc(),
        f.rd(),
        f.ra(),
        f.z(),
        f.ad(),
        f.cd(),
    ));
    assert_eq!(u8::from(f.opcode()), ((f.0 >> 11) & 0x0f) as u8);
    black_box(f.opcode().mnemonic());
    assert_eq!(u16::from(f.rcode_bits()), f.0 & 0x0f);
}

fn walk_rtype(rtype: Rtype) {
    let text = rtype.to_string();
    assert!(!text.is_empty());
    assert_eq!(Rtype::from(u16::from(rtype)), rtype);
    black_box(rtype.is_meta());
}

fn walk_class(class: Class) {
    let text = class.to_string();
    assert!(!text.is_empty());
    assert_eq!(Class::from(u16::from(class)), class);
}

/// Checks one name against its own labels, read independently: lengths, owned
/// copies, canonical form, presentation form and back, suffixes, and
/// `is_at_or_below` against `anchor` (the first question's name).
pub fn walk_name(name: &Name<'_>, anchor: Option<&Name<'_>>) {
    let labels: Vec<&[u8]> = name.labels().collect();
    assert_eq!(labels.len(), name.label_count());
    assert_eq!(name.is_root(), labels.is_empty());
    assert!(
        labels
            .iter()
            .all(|l| !l.is_empty() && l.len() <= MAX_LABEL_LEN)
    );
    let wire: Vec<u8> = labels
        .iter()
        .flat_map(|l| std::iter::once(l.len() as u8).chain(l.iter().copied()))
        .chain([0])
        .collect();
    assert_eq!(name.wire_len(), wire.len());
    assert!(wire.len() <= MAX_NAME_LEN);

    let owned = name.to_buf();
    assert_eq!(owned.as_wire(), &wire[..]);
    assert_eq!(owned.as_name(), *name);
    assert_eq!(Name::from_wire(&wire), Ok(*name));

    // Length octets are at most 63, below b'A', so lowering the whole form
    // lowers exactly the label octets.
    let canonical = name.to_canonical();
    assert_eq!(canonical.as_wire(), &wire.to_ascii_lowercase()[..]);
    let mut out = [0u8; MAX_NAME_LEN];
    let len = name.write_canonical(&mut out);
    assert_eq!(out.get(..len), Some(canonical.as_wire()));
    assert_eq!(canonical.as_name(), *name);

    let text = name.to_string();
    assert_eq!(owned.to_string(), text);
    let back = NameBuf::from_text(&text)
        .unwrap_or_else(|e| panic!("{text:?} from {} does not read back: {e:?}", hex(&wire)));
    assert_eq!(back.as_wire(), &wire[..], "{text:?}");
    assert!(!format!("{name:?}").is_empty());

    for skip in 0..=labels.len() + 1 {
        let suffix = name.suffix(skip);
        let expected = labels.get(skip..).unwrap_or(&[]);
        assert!(
            suffix.labels().eq(expected.iter().copied()),
            "suffix {skip}"
        );
        assert_eq!(suffix.label_count(), expected.len());
        let expected_len = 1 + expected.iter().map(|l| 1 + l.len()).sum::<usize>();
        assert_eq!(suffix.wire_len(), expected_len);
        assert!(name.is_at_or_below(&suffix));
        assert_eq!(suffix.is_at_or_below(name), skip == 0 || labels.is_empty());
    }
    assert!(name.is_at_or_below(&Name::ROOT));
    assert!(name.is_at_or_below(name));

    if let Some(anchor) = anchor {
        let ancestor: Vec<&[u8]> = anchor.labels().collect();
        assert_eq!(name.is_at_or_below(anchor), ends_with(&labels, &ancestor));
        assert_eq!(anchor.is_at_or_below(name), ends_with(&ancestor, &labels));
        let same = labels.len() == ancestor.len() && ends_with(&labels, &ancestor);
        assert_eq!(name == anchor, same);
        assert_eq!(name.eq_ignore_case(anchor), same);
    }
}

/// Whether `labels` ends with `tail`, ASCII case ignored.
fn ends_with(labels: &[&[u8]], tail: &[&[u8]]) -> bool {
    labels.len() >= tail.len()
        && labels
            .iter()
            .skip(labels.len() - tail.len())
            .zip(tail)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// Walks one record: owner, type, class, every RDATA field, then writes the
/// RDATA uncompressed and reads it back.
pub fn walk_record(rec: &Record<'_>, anchor: Option<&Name<'_>>) {
    walk_name(&rec.owner, anchor);
    walk_rtype(rec.rtype);
    walk_class(rec.class);
    black_box(rec.ttl);
    walk_rdata(&rec.data, rec.rdata, anchor);
    check_rdata_round_trip(rec);
}

fn walk_rdata(data: &RData<'_>, raw: &[u8], anchor: Option<&Name<'_>>) {
    match *data {
        RData::A(ip) => assert_eq!(raw, ip.octets()),
        RData::Aaaa(ip) => assert_eq!(raw, ip.octets()),
        RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => walk_name(&n, anchor),
        RData::Soa(soa) => {
            walk_name(&soa.mname, anchor);
            walk_name(&soa.rname, anchor);
            let tail: Vec<u8> = [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum]
                .iter()
                .flat_map(|v| v.to_be_bytes())
                .collect();
            assert!(raw.ends_with(&tail));
        }
        RData::Mx {
            preference,
            exchange,
        } => {
            assert!(raw.starts_with(&preference.to_be_bytes()));
            walk_name(&exchange, anchor);
        }
        RData::Txt(txt) => {
            assert_eq!(txt.raw(), raw);
            let strings: Vec<&[u8]> = txt.strings().collect();
            assert!(!strings.is_empty());
            assert_eq!(
                strings.iter().map(|s| 1 + s.len()).sum::<usize>(),
                raw.len()
            );
        }
        RData::Srv(srv) => {
            assert!(
                raw.starts_with(
                    &[srv.priority, srv.weight, srv.port]
                        .iter()
                        .flat_map(|v| v.to_be_bytes())
                        .collect::<Vec<u8>>()
                )
            );
            walk_name(&srv.target, anchor);
        }
        RData::Caa(caa) => {
            assert!(!caa.tag.is_empty());
            let mut wire = vec![caa.flags, caa.tag.len() as u8];
            wire.extend_from_slice(caa.tag);
            wire.extend_from_slice(caa.value);
            assert_eq!(raw, &wire[..]);
        }
        RData::Opt(opt) => {
            assert_eq!(opt.raw(), raw);
            let mut covered = 0usize;
            for (code, option) in opt.options() {
                black_box(code);
                covered += 4 + option.len();
            }
            assert_eq!(covered, raw.len(), "options must cover the OPT RDATA");
        }
        RData::Tsig(tsig) => {
            walk_name(&tsig.algorithm, anchor);
            assert!(tsig.time_signed <= MAX_TSIG_TIME);
            black_box((tsig.fudge, tsig.mac, tsig.error.mnemonic()));
            let mut tail = Vec::new();
            tail.extend_from_slice(&(tsig.mac.len() as u16).to_be_bytes());
            tail.extend_from_slice(tsig.mac);
            tail.extend_from_slice(&tsig.original_id.to_be_bytes());
            tail.extend_from_slice(&u16::from(tsig.error).to_be_bytes());
            tail.extend_from_slice(&(tsig.other.len() as u16).to_be_bytes());
            tail.extend_from_slice(tsig.other);
            assert!(raw.ends_with(&tail));
        }
        RData::Compound(compound) => {
            black_box(compound.compressible());
            let mut fields = 0usize;
            for field in compound.fields() {
                fields += 1;
                match field {
                    Field::U16(v) => {
                        black_box(v);
                    }
                    Field::CharString(s) => assert!(s.len() <= usize::from(u8::MAX)),
                    Field::Name(n) => walk_name(&n, anchor),
                }
            }
            assert!(fields > 0);
            assert_eq!(RData::Compound(compound), *data);
        }
        RData::Unknown(bytes) => assert_eq!(bytes, raw),
        RData::Empty => assert!(raw.is_empty()),
    }
}

/// Whether RDATA of this shape holds a name (and so may differ from its
/// uncompressed form).
fn has_names(data: &RData<'_>) -> bool {
    matches!(
        data,
        RData::Ns(_)
            | RData::Cname(_)
            | RData::Ptr(_)
            | RData::Soa(_)
            | RData::Mx { .. }
            | RData::Srv(_)
            | RData::Tsig(_)
            | RData::Compound(_)
    )
}

/// `write_rdata` into a 65535-octet buffer, `RData::from_wire` back: same value,
/// and writing that again gives the same bytes, failing exactly one octet short.
fn check_rdata_round_trip(rec: &Record<'_>) {
    let mut out = vec![0u8; MAX_MESSAGE];
    let len = match write_rdata(&mut out, &rec.data) {
        Ok(len) => len,
        // Names in a huge RDATA can expand past 65535 octets uncompressed.
        Err(BuildError::NoSpace) => {
            assert!(
                rec.rdata.len() + 2 * MAX_NAME_LEN > MAX_MESSAGE,
                "NoSpace for {} octets of {:?}",
                rec.rdata.len(),
                rec.rtype
            );
            return;
        }
        Err(e) => panic!("write_rdata({:?}) failed: {e:?}", rec.data),
    };
    let wire = out.get(..len).expect("length within the buffer");
    // With names, the lengths may differ either way: a pointer expands to the
    // name, but a pointer to a root octet is one octet longer than the root.
    if !has_names(&rec.data) {
        assert_eq!(wire, rec.rdata, "{:?} changed on writing", rec.rtype);
    }
    let back = RData::from_wire(rec.rtype, wire).unwrap_or_else(|e| {
        panic!(
            "{:?} rdata {} written as {} does not parse: {e:?}",
            rec.rtype,
            hex(rec.rdata),
            hex(wire)
        )
    });
    assert_eq!(back, rec.data, "written as {}", hex(wire));

    let mut again = vec![0u8; len];
    assert_eq!(write_rdata(&mut again, &back), Ok(len));
    assert_eq!(&again[..], wire);
    if len > 0
        && let Some(short) = again.get_mut(..len - 1)
    {
        assert_eq!(write_rdata(short, &back), Err(BuildError::NoSpace));
    }
}

fn walk_edns(msg: &Message<'_>, has_opt: bool) {
    let Some(edns) = msg.edns() else {
        assert!(!has_opt, "OPT record but no edns()");
        return;
    };
    assert!(has_opt, "edns() without an OPT record");
    let opt = msg
        .additional()
        .find(|r| r.rtype == Rtype::Opt)
        .expect("OPT record");
    assert_eq!(edns.udp_payload, u16::from(opt.class));
    assert_eq!(edns.ext_rcode, (opt.ttl >> 24) as u8);
    assert_eq!(edns.version, (opt.ttl >> 16) as u8);
    assert_eq!(edns.flags, opt.ttl as u16);
    assert_eq!(edns.dnssec_ok(), opt.ttl & 0x8000 != 0);
    assert_eq!(RData::Opt(edns.options), opt.data);
    black_box(edns.options.options().count());
}

fn walk_tsig(msg: &Message<'_>, has_tsig: bool) {
    let Some(tsig) = msg.tsig() else {
        assert!(!has_tsig, "TSIG record but no tsig()");
        assert!(msg.tsig_signed_parts().is_none());
        return;
    };
    assert!(has_tsig, "tsig() without a TSIG record");
    let bytes = msg.as_bytes();
    let last = msg.additional().last().expect("TSIG is in additional");
    assert_eq!(last.rtype, Rtype::Tsig);
    assert_eq!(last.owner, tsig.key_name);
    assert_eq!(last.data, RData::Tsig(tsig.data));
    assert_eq!(last.class, Class::Any);
    assert_eq!(last.ttl, 0);
    assert!(tsig.start >= HEADER_LEN && tsig.start < bytes.len());
    let (parsed, end) = Record::parse(bytes, tsig.start).expect("TSIG record parses at start");
    assert_eq!(parsed, last);
    assert_eq!(end, bytes.len(), "TSIG must end the message");

    let (signed_header, body) = msg.tsig_signed_parts().expect("signed parts");
    let header = msg.header();
    let signed = Header::parse(&signed_header).expect("12 octets");
    assert_eq!(signed.id, tsig.data.original_id);
    assert_eq!(signed.flags, header.flags);
    for section in [Section::Question, Section::Answer, Section::Authority] {
        assert_eq!(signed.count(section), header.count(section));
    }
    assert_eq!(
        signed.count(Section::Additional),
        header.count(Section::Additional) - 1
    );
    assert_eq!(Some(body), bytes.get(HEADER_LEN..tsig.start));
}

/// Largest size the message could take with no compression at all: every
/// name written in full, every RDATA in its uncompressed form. The builder
/// never writes more than this.
pub fn uncompressed_size(msg: &Message<'_>) -> usize {
    let mut size = HEADER_LEN;
    for q in msg.questions() {
        size += q.name.wire_len() + 4;
    }
    let mut out = vec![0u8; MAX_MESSAGE];
    for section in Section::RECORDS {
        for rec in msg.records(section) {
            let rdata = write_rdata(&mut out, &rec.data).unwrap_or(MAX_MESSAGE);
            size += rec.owner.wire_len() + 10 + rdata;
        }
    }
    size
}

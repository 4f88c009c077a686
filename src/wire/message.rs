//! A whole received message: checked once, then read through borrowed views.

use super::error::ParseError;
use super::header::{Header, Section};
use super::memo;
use super::name::{HEADER_LEN, Name};
use super::rdata::{OptData, RData, TsigData};
use super::reader::Reader;
use super::types::{Class, Rcode, Rtype};

/// A question (RFC 1035 §4.1.2); in an UPDATE, the zone (RFC 2136 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question<'a> {
    /// QNAME, case as received.
    pub name: Name<'a>,
    /// QTYPE.
    pub qtype: Rtype,
    /// QCLASS.
    pub qclass: Class,
}

impl<'a> Question<'a> {
    /// Parses a question at `pos` of `msg`; returns it and the next position.
    pub fn parse(msg: &'a [u8], pos: usize) -> Result<(Question<'a>, usize), ParseError> {
        let mut r = Reader::new(msg, pos);
        let name = r.name(true)?;
        let qtype = Rtype::from(r.u16()?);
        let qclass = Class::from(r.u16()?);
        Ok((
            Question {
                name,
                qtype,
                qclass,
            },
            r.pos(),
        ))
    }
}

/// A resource record (RFC 1035 §4.1.3) with its RDATA already checked.
///
/// Equality compares owner (case-insensitively), type, class, TTL and the typed
/// RDATA, not the raw bytes, which differ with compression.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Owner name.
    pub owner: Name<'a>,
    /// TYPE.
    pub rtype: Rtype,
    /// CLASS (for OPT: the UDP payload size).
    pub class: Class,
    /// TTL (for OPT: extended RCODE, version and flags).
    pub ttl: u32,
    /// Typed view of the RDATA.
    pub data: RData<'a>,
    /// The RDATA as received. Names in it may hold compression pointers into
    /// this message, so these bytes must not be copied into another message or
    /// stored: use [`super::write_rdata`] on `data` for the uncompressed form.
    pub rdata: &'a [u8],
}

impl PartialEq for Record<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.owner == other.owner
            && self.rtype == other.rtype
            && self.class == other.class
            && self.ttl == other.ttl
            && self.data == other.data
    }
}

impl Eq for Record<'_> {}

impl<'a> Record<'a> {
    /// Parses a record at `pos` of `msg`; returns it and the next position.
    pub fn parse(msg: &'a [u8], pos: usize) -> Result<(Record<'a>, usize), ParseError> {
        let mut r = Reader::new(msg, pos);
        let owner = r.name(true)?;
        let rtype = Rtype::from(r.u16()?);
        let class = Class::from(r.u16()?);
        let ttl = r.u32()?;
        let len = usize::from(r.u16()?);
        let start = r.pos();
        let rdata = r.bytes(len)?;
        let data = RData::parse(msg, rtype, start, len, true)?;
        Ok((
            Record {
                owner,
                rtype,
                class,
                ttl,
                data,
                rdata,
            },
            r.pos(),
        ))
    }
}

/// EDNS(0) information from the OPT pseudo-record (RFC 6891 §6.1.2, §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns<'a> {
    /// Requestor's UDP payload size (the OPT CLASS field).
    pub udp_payload: u16,
    /// Upper eight bits of the extended RCODE.
    pub ext_rcode: u8,
    /// EDNS version; above 0 is answered with BADVERS.
    pub version: u8,
    /// The 16 flag bits; bit 15 is DO (RFC 3225).
    pub flags: u16,
    /// Options.
    pub options: OptData<'a>,
}

impl<'a> Edns<'a> {
    /// The EDNS fields of an OPT record (RFC 6891 §6.1.3: CLASS is the UDP
    /// payload size; TTL is extended RCODE, version and flags), or `None`
    /// for another record.
    fn from_record(rec: &Record<'a>) -> Option<Edns<'a>> {
        let RData::Opt(options) = rec.data else {
            return None;
        };
        Some(Edns {
            udp_payload: u16::from(rec.class),
            ext_rcode: (rec.ttl >> 24) as u8,
            version: (rec.ttl >> 16) as u8,
            flags: rec.ttl as u16,
            options,
        })
    }

    /// The DNSSEC OK bit (RFC 3225 §3).
    pub fn dnssec_ok(&self) -> bool {
        self.flags & 0x8000 != 0
    }
}

/// The TSIG record of a message (RFC 8945 §4.2) and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsigRecord<'a> {
    /// Key name (the record's owner).
    pub key_name: Name<'a>,
    /// The TSIG RDATA.
    pub data: TsigData<'a>,
    /// Offset of the record in the message: everything before it is signed.
    pub start: usize,
}

/// Iterator over the questions of a checked message.
#[derive(Debug, Clone)]
pub struct Questions<'a> {
    msg: &'a [u8],
    pos: usize,
    remaining: u16,
    /// The parse whose remembered names the walk may take (`memo::resume`).
    memo: u32,
}

impl<'a> Iterator for Questions<'a> {
    type Item = Question<'a>;

    fn next(&mut self) -> Option<Question<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        let _memo = memo::resume(self.msg, self.memo);
        let (q, next) = Question::parse(self.msg, self.pos).ok()?;
        self.pos = next;
        Some(q)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

/// Iterator over the records of one section of a checked message.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    msg: &'a [u8],
    pos: usize,
    remaining: u16,
    /// The parse whose remembered names the walk may take (`memo::resume`).
    memo: u32,
}

impl Records<'_> {
    /// Where the next record starts in the message (for [`Record::parse`]).
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        let _memo = memo::resume(self.msg, self.memo);
        let (rec, next) = Record::parse(self.msg, self.pos).ok()?;
        self.pos = next;
        Some(rec)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

/// A received message, checked in one pass by [`Message::parse`].
///
/// Nothing is copied: every view borrows the receive buffer.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    buf: &'a [u8],
    header: Header,
    section_start: [usize; 4],
    /// The OPT record's view, kept from the one parse.
    edns: Option<Edns<'a>>,
    /// The TSIG record's view, kept from the one parse.
    tsig: Option<TsigRecord<'a>>,
    /// The first question's view, kept from the one parse (every request
    /// asks for it, some several times).
    first_question: Option<Question<'a>>,
    /// The generation of the names the parse remembered (0: none), which the
    /// iterators resume so that walking the records again costs what the
    /// parse did, not a plain walk of every pointer chain.
    memo: u32,
}

impl core::fmt::Debug for Message<'_> {
    /// Everything but the memo generation, which says nothing of the message.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Message")
            .field("buf", &self.buf)
            .field("header", &self.header)
            .field("section_start", &self.section_start)
            .field("edns", &self.edns)
            .field("tsig", &self.tsig)
            .finish()
    }
}

impl PartialEq for Message<'_> {
    /// Same header (counts included), questions and records, section by section.
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header
            && self.questions().eq(other.questions())
            && Section::RECORDS
                .into_iter()
                .all(|s| self.records(s).eq(other.records(s)))
    }
}

impl<'a> Message<'a> {
    /// Checks a whole message: header, every name, every record and its RDATA,
    /// the OPT and TSIG placement rules, and that no byte is left over.
    ///
    /// The cost is linear in the length: while it runs, every name position
    /// walked is remembered, and a pointer to one ends the next walk at once
    /// (`super::memo`).
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let header = Header::parse(buf)?;
        let memo = memo::begin(buf);
        Message::check(buf, header, memo.generation())
    }

    /// [`Message::parse`] without remembering names: every pointer is walked to
    /// the end, as before issue 9. The result must always be the same; tests
    /// and fuzz targets compare the two.
    #[doc(hidden)]
    pub fn parse_unremembered(buf: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let header = Header::parse(buf)?;
        Message::check(buf, header, 0)
    }

    fn check(buf: &'a [u8], header: Header, memo: u32) -> Result<Message<'a>, ParseError> {
        let mut section_start = [HEADER_LEN; 4];
        let mut pos = HEADER_LEN;
        let mut first_question = None;
        for _ in 0..header.count(Section::Question) {
            let (question, next) = Question::parse(buf, pos)?;
            first_question = first_question.or(Some(question));
            pos = next;
        }
        let mut edns = None;
        let mut tsig = None;
        for section in Section::RECORDS {
            if let Some(slot) = section_start.get_mut(section.index()) {
                *slot = pos;
            }
            let count = header.count(section);
            for index in 0..count {
                let start = pos;
                let (rec, next) = Record::parse(buf, pos)?;
                match rec.rtype {
                    // RFC 6891 §6.1.1: one OPT at most, owner root, additional only.
                    Rtype::Opt => {
                        if section != Section::Additional || !rec.owner.is_root() {
                            return Err(ParseError::BadOpt);
                        }
                        if edns.is_some() {
                            return Err(ParseError::MultipleOpt);
                        }
                        edns = Some(Edns::from_record(&rec).ok_or(ParseError::BadOpt)?);
                    }
                    // RFC 8945 §5.1: the TSIG record must be the last record of
                    // the additional section; anything else is FORMERR.
                    Rtype::Tsig => {
                        if section != Section::Additional || index + 1 != count {
                            return Err(ParseError::TsigNotLast);
                        }
                        // RFC 8945 §4.2: CLASS ANY, TTL 0.
                        if rec.class != Class::Any || rec.ttl != 0 {
                            return Err(ParseError::BadTsig);
                        }
                        let RData::Tsig(data) = rec.data else {
                            return Err(ParseError::BadTsig);
                        };
                        tsig = Some(TsigRecord {
                            key_name: rec.owner,
                            data,
                            start,
                        });
                    }
                    _ => {}
                }
                pos = next;
            }
        }
        if pos != buf.len() {
            return Err(ParseError::TrailingBytes);
        }
        Ok(Message {
            buf,
            header,
            section_start,
            edns,
            tsig,
            first_question,
            memo,
        })
    }

    /// The bytes the message was parsed from.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The questions (UPDATE: the zone section).
    pub fn questions(&self) -> Questions<'a> {
        Questions {
            msg: self.buf,
            pos: HEADER_LEN,
            remaining: self.header.count(Section::Question),
            memo: self.memo,
        }
    }

    /// The first question, if any.
    pub fn question(&self) -> Option<Question<'a>> {
        self.first_question
    }

    /// The records of one section (for `Section::Question`, none).
    pub fn records(&self, section: Section) -> Records<'a> {
        let (pos, remaining) = match section {
            Section::Question => (HEADER_LEN, 0),
            _ => (
                self.section_start
                    .get(section.index())
                    .copied()
                    .unwrap_or(HEADER_LEN),
                self.header.count(section),
            ),
        };
        Records {
            msg: self.buf,
            pos,
            remaining,
            memo: self.memo,
        }
    }

    /// The answer section.
    pub fn answers(&self) -> Records<'a> {
        self.records(Section::Answer)
    }

    /// The authority section.
    pub fn authority(&self) -> Records<'a> {
        self.records(Section::Authority)
    }

    /// The additional section, OPT and TSIG included.
    pub fn additional(&self) -> Records<'a> {
        self.records(Section::Additional)
    }

    /// UPDATE's zone section (RFC 2136 §2.3).
    pub fn zone(&self) -> Questions<'a> {
        self.questions()
    }

    /// UPDATE's prerequisite section (RFC 2136 §2.4).
    pub fn prerequisites(&self) -> Records<'a> {
        self.records(Section::PREREQUISITE)
    }

    /// UPDATE's update section (RFC 2136 §2.5).
    pub fn updates(&self) -> Records<'a> {
        self.records(Section::UPDATE)
    }

    /// EDNS(0) data, when the message carries an OPT record.
    pub fn edns(&self) -> Option<Edns<'a>> {
        self.edns
    }

    /// The full 12-bit RCODE: header bits plus the OPT extension.
    pub fn rcode(&self) -> Rcode {
        let high = self.edns().map_or(0, |e| u16::from(e.ext_rcode));
        Rcode::from(high << 4 | u16::from(self.header.flags.rcode_bits()))
    }

    /// The TSIG record, when the message is signed.
    pub fn tsig(&self) -> Option<TsigRecord<'a>> {
        self.tsig
    }

    /// What a TSIG digest covers of this message (RFC 8945 §4.3.1, §5.4.1):
    /// the header as the signer saw it — ID replaced by the original ID, ARCOUNT
    /// without the TSIG record — and the bytes after the header up to the TSIG
    /// record. `None` when the message is not signed.
    pub fn tsig_signed_parts(&self) -> Option<([u8; HEADER_LEN], &'a [u8])> {
        let tsig = self.tsig()?;
        let mut header = self.header;
        header.id = tsig.data.original_id;
        let additional = Section::Additional.index();
        if let Some(count) = header.counts.get_mut(additional) {
            *count = count.saturating_sub(1);
        }
        let body = self.buf.get(HEADER_LEN..tsig.start)?;
        Some((header.to_bytes(), body))
    }
}

//! Writing a message into a caller-owned buffer: sections in order, names
//! compressed through a fixed table, a size limit, TC when an answer won't fit.

use super::error::BuildError;
use super::header::{Flags, Header, Section};
use super::message::Message;
use super::name::{HEADER_LEN, Labels, MAX_LABELS, MAX_POINTERS, Name};
use super::rdata::{Field, RData, TsigData};
use super::types::{Class, Rcode, Rtype};

/// The classic UDP limit without EDNS (RFC 1035 §4.2.1).
pub const UDP_LIMIT: usize = 512;
/// The largest message (TCP, RFC 1035 §4.2.2).
pub const MAX_MESSAGE: usize = 65535;

/// Octets of an OPT record without options (RFC 6891 §6.1.2): root owner,
/// TYPE, CLASS (the payload size), TTL, an empty RDLENGTH.
pub const OPT_LEN: usize = 11;

/// Earlier names a compression pointer can refer to. More are not remembered;
/// later names are then written with less compression, never wrongly.
const COMPRESS_SLOTS: usize = 64;
/// Pointers hold 14 bits of offset (RFC 1035 §4.1.4).
const MAX_POINTER: usize = 0x3fff;

#[derive(Clone, Copy)]
struct Slot {
    offset: u16,
    labels: u8,
    /// Pointers a reader follows decoding the name at `offset`.
    hops: u8,
}

/// Offsets of name suffixes already written, with their label counts and the
/// pointers each takes to decode.
///
/// Matching is exact, case included: a pointer never changes the case a name was
/// given (a 0x20-randomised question keeps its case in the owner names).
///
/// A suffix is only pointed at while the name that ends in the pointer stays
/// within [`MAX_POINTERS`]: names that each extend the previous one by a label
/// would otherwise chain a pointer per name, and a reply that BIND (and our
/// own parser) rejects as FORMERR would be written.
#[derive(Clone, Copy)]
struct Compressor {
    slots: [Slot; COMPRESS_SLOTS],
    len: usize,
}

impl Compressor {
    const EMPTY: Compressor = Compressor {
        slots: [Slot {
            offset: 0,
            labels: 0,
            hops: 0,
        }; COMPRESS_SLOTS],
        len: 0,
    };

    /// An earlier copy of `name` that one more pointer may reach.
    fn find(&self, out: &[u8], name: &Name<'_>) -> Option<Slot> {
        let labels = u8::try_from(name.label_count()).ok()?;
        let slots = self.slots.get(..self.len)?;
        slots
            .iter()
            .filter(|s| s.labels == labels && usize::from(s.hops) < MAX_POINTERS)
            .find(|s| out_labels(out, s.offset).eq(name.labels()))
            .copied()
    }

    /// Remembers the label written at `offset`, `labels` labels from the root;
    /// its `hops` are known when the name is finished ([`Compressor::finish`]).
    fn remember(&mut self, offset: usize, labels: usize) {
        let (Ok(offset), Ok(labels)) = (u16::try_from(offset), u8::try_from(labels)) else {
            return;
        };
        if usize::from(offset) > MAX_POINTER {
            return;
        }
        if let Some(slot) = self.slots.get_mut(self.len) {
            *slot = Slot {
                offset,
                labels,
                hops: 0,
            };
            self.len += 1;
        }
    }

    /// Records that the slots from `first` on, the labels of the name just
    /// written, decode with `hops` pointers (the ones its end pointer leads to).
    fn finish(&mut self, first: usize, hops: u8) {
        for slot in self.slots.get_mut(first..self.len).unwrap_or(&mut []) {
            slot.hops = hops;
        }
    }
}

/// Labels of a name this builder wrote itself (terminated by the root octet).
fn out_labels(out: &[u8], offset: u16) -> Labels<'_> {
    Labels::raw(out, usize::from(offset), MAX_LABELS)
}

/// Writes a DNS message into `&mut [u8]` without allocating.
///
/// Sections must be written in order (question, answer, authority, additional).
/// A record that does not fit is rolled back whole: in the question, answer or
/// authority section the builder sets TC (RFC 2181 §9) and refuses further data
/// records; in the additional section it is simply left out. Space can be held
/// back with [`MessageBuilder::reserve`] for OPT and TSIG, which may use it.
pub struct MessageBuilder<'b> {
    buf: &'b mut [u8],
    limit: usize,
    reserved: usize,
    pos: usize,
    header: Header,
    section: Section,
    truncated: bool,
    compression: bool,
    compressor: Compressor,
}

impl<'b> MessageBuilder<'b> {
    /// Starts a message in `buf`, never writing at or past `limit` (nor past the
    /// end of `buf`). The header starts zeroed.
    pub fn new(buf: &'b mut [u8], limit: usize) -> Result<MessageBuilder<'b>, BuildError> {
        let limit = limit.min(buf.len()).min(MAX_MESSAGE);
        if limit < HEADER_LEN {
            return Err(BuildError::NoRoomForHeader);
        }
        Ok(MessageBuilder {
            buf,
            limit,
            reserved: 0,
            pos: HEADER_LEN,
            header: Header::default(),
            section: Section::Question,
            truncated: false,
            compression: true,
            compressor: Compressor::EMPTY,
        })
    }

    /// Sets the message ID.
    pub fn set_id(&mut self, id: u16) {
        self.header.id = id;
    }

    /// Makes this the header of a response to `request`: same ID and
    /// opcode, QR set, RD and CD copied (RFC 1035 §4.1.1, RFC 6840 §5.9).
    pub fn reply_to(&mut self, request: &Header) {
        self.header.id = request.id;
        let flags = &mut self.header.flags;
        flags.set_qr(true);
        flags.set_opcode(request.flags.opcode());
        flags.set_rd(request.flags.rd());
        flags.set_cd(request.flags.cd());
    }

    /// The flags, to read or change (the builder sets TC itself).
    pub fn flags_mut(&mut self) -> &mut Flags {
        &mut self.header.flags
    }

    /// The header as it stands (counts so far).
    pub fn header(&self) -> Header {
        self.header
    }

    /// Sets the header RCODE bits; an extended RCODE also needs
    /// [`MessageBuilder::opt`] with `rcode.extended_bits()`.
    pub fn set_rcode(&mut self, rcode: Rcode) {
        self.header.flags.set_rcode(rcode);
    }

    /// Turns name compression on (the default) or off for what follows.
    pub fn set_compression(&mut self, on: bool) {
        self.compression = on;
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing but the header was written.
    pub fn is_empty(&self) -> bool {
        self.pos == HEADER_LEN
    }

    /// Whether a record was refused for lack of room and TC was set.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Room left for data records.
    pub fn remaining(&self) -> usize {
        self.data_limit().saturating_sub(self.pos)
    }

    /// Holds `bytes` back from data records, for OPT and TSIG written last.
    pub fn reserve(&mut self, bytes: usize) -> Result<(), BuildError> {
        if self.pos + self.reserved + bytes > self.limit {
            return Err(BuildError::NoSpace);
        }
        self.reserved += bytes;
        Ok(())
    }

    fn data_limit(&self) -> usize {
        self.limit.saturating_sub(self.reserved)
    }

    /// Adds a question (UPDATE: the zone).
    pub fn question(
        &mut self,
        name: Name<'_>,
        qtype: Rtype,
        qclass: Class,
    ) -> Result<(), BuildError> {
        self.enter(Section::Question)?;
        self.attempt(Section::Question, false, |b| {
            b.name(name, true)?;
            b.u16(qtype.into())?;
            b.u16(qclass.into())
        })
    }

    /// Adds a record with typed RDATA to `section`.
    pub fn record(
        &mut self,
        section: Section,
        owner: Name<'_>,
        rtype: Rtype,
        class: Class,
        ttl: u32,
        data: &RData<'_>,
    ) -> Result<(), BuildError> {
        self.data_record(section, owner, rtype, class, ttl, |b| b.rdata(data))
    }

    /// Adds a record whose RDATA is already in uncompressed wire form (stored data).
    pub fn raw_record(
        &mut self,
        section: Section,
        owner: Name<'_>,
        rtype: Rtype,
        class: Class,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), BuildError> {
        self.data_record(section, owner, rtype, class, ttl, |b| b.bytes(rdata))
    }

    fn data_record(
        &mut self,
        section: Section,
        owner: Name<'_>,
        rtype: Rtype,
        class: Class,
        ttl: u32,
        rdata: impl FnOnce(&mut Self) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        if section == Section::Question {
            return Err(BuildError::SectionOrder);
        }
        self.enter(section)?;
        self.attempt(section, false, |b| {
            b.name(owner, true)?;
            b.u16(rtype.into())?;
            b.u16(class.into())?;
            b.u32(ttl)?;
            b.with_rdlength(rdata)
        })
    }

    /// Adds the OPT pseudo-record (RFC 6891 §6.1.2) to the additional section.
    /// It may use reserved space and is accepted after truncation.
    pub fn opt(
        &mut self,
        udp_payload: u16,
        ext_rcode: u8,
        version: u8,
        flags: u16,
        options: &[u8],
    ) -> Result<(), BuildError> {
        self.enter(Section::Additional)?;
        let ttl = u32::from(ext_rcode) << 24 | u32::from(version) << 16 | u32::from(flags);
        self.meta_record(|b| {
            b.u8(0)?;
            b.u16(Rtype::Opt.into())?;
            b.u16(udp_payload)?;
            b.u32(ttl)?;
            b.with_rdlength(|b| b.bytes(options))
        })
    }

    /// Adds a TSIG record (RFC 8945 §4.2) as the last record: owner uncompressed,
    /// CLASS ANY, TTL 0. It may use reserved space and is accepted after truncation.
    pub fn tsig(&mut self, key_name: Name<'_>, data: &TsigData<'_>) -> Result<(), BuildError> {
        self.enter(Section::Additional)?;
        self.meta_record(|b| {
            b.name(key_name, false)?;
            b.u16(Rtype::Tsig.into())?;
            b.u16(Class::Any.into())?;
            b.u32(0)?;
            b.with_rdlength(|b| b.rdata(&RData::Tsig(*data)))
        })
    }

    fn meta_record(
        &mut self,
        write: impl FnOnce(&mut Self) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        let before = self.pos;
        self.attempt(Section::Additional, true, write)?;
        self.reserved = self.reserved.saturating_sub(self.pos - before);
        Ok(())
    }

    fn enter(&mut self, section: Section) -> Result<(), BuildError> {
        if section < self.section {
            return Err(BuildError::SectionOrder);
        }
        self.section = section;
        Ok(())
    }

    /// Runs `write` for one entry of `section`; on failure restores the state
    /// before it. Data entries stop at the reserve and are refused once the
    /// message is truncated; `meta` entries (OPT, TSIG) may use the reserve.
    fn attempt(
        &mut self,
        section: Section,
        meta: bool,
        write: impl FnOnce(&mut Self) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        if self.truncated && !meta {
            return Err(BuildError::Truncated);
        }
        let limit = if meta { self.limit } else { self.data_limit() };
        let count = self
            .header
            .counts
            .get(section.index())
            .copied()
            .unwrap_or(u16::MAX);
        if count == u16::MAX {
            return Err(BuildError::CountOverflow);
        }
        let saved_pos = self.pos;
        let saved_names = self.compressor.len;
        let saved_limit = self.limit;
        self.limit = limit;
        let result = write(self);
        self.limit = saved_limit;
        match result {
            Ok(()) => {
                if let Some(c) = self.header.counts.get_mut(section.index()) {
                    *c = count + 1;
                }
                Ok(())
            }
            Err(e) => {
                self.pos = saved_pos;
                self.compressor.len = saved_names;
                match e {
                    BuildError::NoSpace if section == Section::Additional => Err(e),
                    BuildError::NoSpace => {
                        self.truncated = true;
                        self.header.flags.set_tc(true);
                        Err(BuildError::Truncated)
                    }
                    other => Err(other),
                }
            }
        }
    }

    /// Starts a copy of `msg`: same ID and flags, every question and record
    /// re-encoded from its parsed form (compression redone by this builder).
    /// Meant for tests and fuzzing: parse → rebuild → parse must be stable.
    pub fn copy_of(buf: &'b mut [u8], msg: &Message<'_>) -> Result<MessageBuilder<'b>, BuildError> {
        let mut b = MessageBuilder::new(buf, MAX_MESSAGE)?;
        let header = msg.header();
        b.set_id(header.id);
        *b.flags_mut() = header.flags;
        for q in msg.questions() {
            b.question(q.name, q.qtype, q.qclass)?;
        }
        for section in Section::RECORDS {
            for r in msg.records(section) {
                b.record(section, r.owner, r.rtype, r.class, r.ttl, &r.data)?;
            }
        }
        Ok(b)
    }

    /// What a TSIG MAC covers of the message so far (RFC 8945 §4.3.2): the
    /// header with the counts written up to now, and the bytes after it. Call
    /// it just before [`MessageBuilder::tsig`].
    pub fn signed_parts(&self) -> ([u8; HEADER_LEN], &[u8]) {
        let body = self.buf.get(HEADER_LEN..self.pos).unwrap_or(&[]);
        (self.header.to_bytes(), body)
    }

    /// Writes the header and returns the message length.
    pub fn finish(self) -> usize {
        let header = self.header.to_bytes();
        if let Some(dst) = self.buf.get_mut(..HEADER_LEN) {
            dst.copy_from_slice(&header);
        }
        self.pos
    }

    /// Writes the header and returns the message bytes.
    pub fn finish_bytes(self) -> &'b [u8] {
        let header = self.header.to_bytes();
        let buf = self.buf;
        if let Some(dst) = buf.get_mut(..HEADER_LEN) {
            dst.copy_from_slice(&header);
        }
        buf.get(..self.pos).unwrap_or(&[])
    }

    // -- low-level writers; all fail with NoSpace at the limit --

    fn bytes(&mut self, data: &[u8]) -> Result<(), BuildError> {
        let end = self.pos + data.len();
        if end > self.limit {
            return Err(BuildError::NoSpace);
        }
        let dst = self.buf.get_mut(self.pos..end).ok_or(BuildError::NoSpace)?;
        dst.copy_from_slice(data);
        self.pos = end;
        Ok(())
    }

    fn u8(&mut self, v: u8) -> Result<(), BuildError> {
        self.bytes(&[v])
    }

    fn u16(&mut self, v: u16) -> Result<(), BuildError> {
        self.bytes(&v.to_be_bytes())
    }

    fn u32(&mut self, v: u32) -> Result<(), BuildError> {
        self.bytes(&v.to_be_bytes())
    }

    /// A 16-bit length, then what `write` writes, then the length filled in.
    fn with_rdlength(
        &mut self,
        write: impl FnOnce(&mut Self) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        let at = self.pos;
        self.u16(0)?;
        write(self)?;
        let len = u16::try_from(self.pos - at - 2).map_err(|_| BuildError::RdataTooLong)?;
        let dst = self.buf.get_mut(at..at + 2).ok_or(BuildError::NoSpace)?;
        dst.copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// Writes a name, pointing at an earlier copy of its longest known suffix
    /// when `compress` is set and compression is on (RFC 1035 §4.1.4), as long
    /// as decoding it takes at most [`MAX_POINTERS`] pointers.
    ///
    /// Every label of `name` is written or pointed at: a view yields all its
    /// labels (see [`Name`]), and one that did not would be an error here,
    /// never a root label written in the middle of the name.
    fn name(&mut self, name: Name<'_>, compress: bool) -> Result<(), BuildError> {
        let compress = compress && self.compression;
        let first_slot = self.compressor.len;
        let mut rest = name;
        let hops = loop {
            if rest.is_root() {
                self.u8(0)?;
                break 0;
            }
            if compress {
                let written = self.buf.get(..self.pos).unwrap_or(&[]);
                if let Some(slot) = self.compressor.find(written, &rest) {
                    self.u16(0xc000 | slot.offset)?;
                    break slot.hops + 1;
                }
            }
            let (label, tail) = rest.split_first().ok_or(BuildError::UnreadableName)?;
            let here = self.pos;
            self.u8(label.len() as u8)?;
            self.bytes(label)?;
            if compress {
                self.compressor.remember(here, rest.label_count());
            }
            rest = tail;
        };
        self.compressor.finish(first_slot, hops);
        Ok(())
    }

    fn rdata(&mut self, data: &RData<'_>) -> Result<(), BuildError> {
        // RFC 3597 §4: names compressed only in the RFC 1035 types.
        let compress = data.names_compressible();
        match *data {
            RData::A(ip) => self.bytes(&ip.octets()),
            RData::Aaaa(ip) => self.bytes(&ip.octets()),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => self.name(n, compress),
            RData::Soa(soa) => {
                self.name(soa.mname, compress)?;
                self.name(soa.rname, compress)?;
                for v in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
                    self.u32(v)?;
                }
                Ok(())
            }
            RData::Mx {
                preference,
                exchange,
            } => {
                self.u16(preference)?;
                self.name(exchange, compress)
            }
            RData::Txt(txt) => self.bytes(txt.raw()),
            // RFC 2782: the target is not compressed.
            RData::Srv(srv) => {
                self.u16(srv.priority)?;
                self.u16(srv.weight)?;
                self.u16(srv.port)?;
                self.name(srv.target, compress)
            }
            RData::Caa(caa) => {
                let tag_len = u8::try_from(caa.tag.len()).map_err(|_| BuildError::RdataTooLong)?;
                self.u8(caa.flags)?;
                self.u8(tag_len)?;
                self.bytes(caa.tag)?;
                self.bytes(caa.value)
            }
            RData::Opt(opt) => self.bytes(opt.raw()),
            // RFC 8945 §4.2: algorithm name uncompressed, 48-bit time.
            RData::Tsig(t) => {
                let mac_len = u16::try_from(t.mac.len()).map_err(|_| BuildError::RdataTooLong)?;
                let other_len =
                    u16::try_from(t.other.len()).map_err(|_| BuildError::RdataTooLong)?;
                self.name(t.algorithm, compress)?;
                self.u16((t.time_signed >> 32) as u16)?;
                self.u32(t.time_signed as u32)?;
                self.u16(t.fudge)?;
                self.u16(mac_len)?;
                self.bytes(t.mac)?;
                self.u16(t.original_id)?;
                self.u16(t.error.into())?;
                self.u16(other_len)?;
                self.bytes(t.other)
            }
            RData::Compound(c) => {
                for field in c.fields() {
                    match field {
                        Field::U16(v) => self.u16(v)?,
                        Field::CharString(s) => {
                            let len =
                                u8::try_from(s.len()).map_err(|_| BuildError::RdataTooLong)?;
                            self.u8(len)?;
                            self.bytes(s)?;
                        }
                        Field::Name(n) => self.name(n, compress)?,
                    }
                }
                Ok(())
            }
            RData::Unknown(bytes) => self.bytes(bytes),
            RData::Empty => Ok(()),
        }
    }
}

/// Writes `data` uncompressed into `out` (the form LMDB stores and TSIG and
/// DNSSEC digests use); returns the length. Running out of room is `NoSpace`.
pub fn write_rdata(out: &mut [u8], data: &RData<'_>) -> Result<usize, BuildError> {
    let mut b = MessageBuilder {
        limit: out.len(),
        buf: out,
        reserved: 0,
        pos: 0,
        header: Header::default(),
        section: Section::Additional,
        truncated: false,
        compression: false,
        compressor: Compressor::EMPTY,
    };
    b.rdata(data)?;
    Ok(b.pos)
}

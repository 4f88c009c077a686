//! Domain names: borrowed views that follow compression lazily, and a fixed-size
//! owned buffer for the canonical form (RFC 1035 §3.1, §4.1.4; RFC 4034 §6.2).

use core::fmt;

use super::error::ParseError;
use super::memo::{self, Memo, Rest};

/// Longest name in wire form, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Most labels a name can have: 127 one-octet labels and the root.
pub const MAX_LABELS: usize = 127;
/// Length of the DNS header; no compression pointer may point into it.
pub const HEADER_LEN: usize = 12;
/// Most compression pointers followed while decoding one name; a 17th is
/// [`ParseError::TooManyPointers`] (FORMERR).
///
/// RFC 1035 §4.1.4 sets no limit, and pointing strictly backwards (see `scan`)
/// rules out loops but not chains: a pointer may point at a pointer, so a
/// 64 KiB message of 6-octet questions, each a pointer to the one before,
/// made the parser follow some 26 million pointers (issue 9). BIND stops at
/// the same number (`lib/dns/include/dns/name.h`):
///
/// ```text
/// /***
///  *** Compression pointer chaining limit
///  ***/
///
/// #define DNS_POINTER_MAXHOPS 16
/// ```
///
/// and `dns_name_fromwire` answers hop 17 with `DNS_R_TOOMANYHOPS`, which
/// becomes FORMERR. Compressors do not come near it: RFC 1035 §4.1.4 describes
/// one pointer ending a name, and this crate's builder never writes more than
/// this many (it stops compressing first).
///
/// With [`MAX_LABELS`], walking one checked name takes at most
/// `MAX_POINTERS + MAX_LABELS + 1` = 144 steps (pointers, labels, the root),
/// and one call of [`Labels::next`] at most `MAX_POINTERS + 1`.
pub const MAX_POINTERS: usize = 16;

const POINTER_BITS: u8 = 0xc0;

/// What a scan of a name found.
#[derive(Clone, Copy)]
struct Scan {
    next: usize,
    wire_len: u8,
    labels: u8,
}

/// Walks a name starting at `start`, checking every rule, without copying.
///
/// RFC 1035 §4.1.4: a pointer refers to a *prior* occurrence of a name. We demand
/// more: each pointer must point strictly before the start of the run of labels it
/// ends, so the positions visited strictly decrease and loops are impossible.
/// Beside it, the bound on the work: at most [`MAX_POINTERS`] pointers, and the
/// 255-octet length allows at most [`MAX_LABELS`] labels, so the loop runs at
/// most 144 times whatever the bytes. During a [`super::Message::parse`], what
/// was found behind a pointer is remembered, so that no position reached
/// through a pointer is walked twice (see `super::memo`), and a whole message
/// costs a bounded number of steps per octet.
fn scan(buf: &[u8], start: usize, pointers_allowed: bool) -> Result<Scan, ParseError> {
    let mut walk = Walk::new(start);
    loop {
        match walk.step(buf, pointers_allowed)? {
            Step::Root => return Ok(walk.scan()),
            Step::Label => {}
            // The first pointer: from here on, use the memo if a parse is on.
            Step::Pointer(target) => {
                return memo::with(buf, |memo| match memo {
                    Some(memo) => walk.finish_remembering(buf, start, target, memo),
                    None => walk.finish(buf, target),
                });
            }
        }
    }
}

/// What one step of a walk met.
enum Step {
    Root,
    Label,
    /// A checked pointer, not followed yet.
    Pointer(usize),
}

/// The state of a walk over one name.
#[derive(Clone, Copy)]
struct Walk {
    pos: usize,
    /// Every pointer must lead strictly below this: the start of the run.
    limit: usize,
    next: Option<usize>,
    wire_len: usize,
    labels: u8,
    pointers: usize,
}

impl Walk {
    fn new(start: usize) -> Walk {
        Walk {
            pos: start,
            limit: start,
            next: None,
            wire_len: 1,
            labels: 0,
            pointers: 0,
        }
    }

    fn scan(&self) -> Scan {
        Scan {
            next: self.next.unwrap_or(self.pos + 1),
            wire_len: self.wire_len as u8,
            labels: self.labels,
        }
    }

    /// Checks what is at `pos`; moves past a label, stops at a pointer (which
    /// [`Walk::follow`] takes) or the root.
    fn step(&mut self, buf: &[u8], pointers_allowed: bool) -> Result<Step, ParseError> {
        let len = *buf.get(self.pos).ok_or(ParseError::ShortInput)?;
        match len & POINTER_BITS {
            0x00 if len == 0 => Ok(Step::Root),
            0x00 => {
                let len = usize::from(len);
                self.wire_len += len + 1;
                if self.wire_len > MAX_NAME_LEN {
                    return Err(ParseError::NameTooLong);
                }
                if buf.len() <= self.pos + len {
                    return Err(ParseError::ShortInput);
                }
                self.pos += len + 1;
                self.labels += 1;
                Ok(Step::Label)
            }
            POINTER_BITS => {
                if !pointers_allowed {
                    return Err(ParseError::BadRdata);
                }
                let low = *buf.get(self.pos + 1).ok_or(ParseError::ShortInput)?;
                let target = usize::from(len & !POINTER_BITS) << 8 | usize::from(low);
                if self.next.is_none() {
                    self.next = Some(self.pos + 2);
                }
                if target < HEADER_LEN {
                    return Err(ParseError::PointerIntoHeader);
                }
                if target >= buf.len() {
                    return Err(ParseError::PointerPastEnd);
                }
                if target >= self.limit {
                    return Err(ParseError::ForwardPointer);
                }
                if self.pointers + 1 > MAX_POINTERS {
                    return Err(ParseError::TooManyPointers);
                }
                Ok(Step::Pointer(target))
            }
            _ => Err(ParseError::ReservedLabelType),
        }
    }

    fn follow(&mut self, target: usize) {
        self.pointers += 1;
        self.limit = target;
        self.pos = target;
    }

    /// Follows the checked pointer to `target` and walks to the end, plainly.
    fn finish(mut self, buf: &[u8], target: usize) -> Result<Scan, ParseError> {
        self.follow(target);
        self.finish_plain(buf)
    }

    /// Follows the checked pointer to `target` and walks to the end, taking
    /// the rest of the name from the memo as soon as it has it; then writes
    /// down every position walked from `target` on.
    fn finish_remembering(
        mut self,
        buf: &[u8],
        start: usize,
        target: usize,
        memo: Memo<'_>,
    ) -> Result<Scan, ParseError> {
        self.follow(target);
        // Most pointers lead to a name already walked: take its rest at once.
        if let Some(rest) = memo.get(target) {
            return self.take(buf, start, rest);
        }
        // The positions walked, to write down afterwards: at most the 127
        // labels and 16 pointers of a name, and its root.
        let mut trail = [0u16; MAX_LABELS + MAX_POINTERS + 1];
        let mut walked = 0;
        let rest = loop {
            if let Some(rest) = memo.get(self.pos) {
                // Behind a pointer, or inside a run: the rest holds if its
                // first pointer leads below this run's start.
                if usize::from(rest.first_target) < self.limit {
                    break rest;
                }
            }
            let at = self.pos;
            let step = self.step(buf, true)?;
            if let Some(slot) = trail.get_mut(walked) {
                *slot = at as u16;
                walked += 1;
            }
            match step {
                Step::Root => {
                    break Rest {
                        wire_len: 1,
                        labels: 0,
                        pointers: 0,
                        first_target: 0,
                    };
                }
                Step::Label => {}
                Step::Pointer(target) => self.follow(target),
            }
        };
        let scan = self.take(buf, start, rest)?;
        // Backwards over the trail, the rest grows from what was found.
        let mut behind = rest;
        for &at in trail.get(..walked).unwrap_or(&[]).iter().rev() {
            let at = usize::from(at);
            let Some(&len) = buf.get(at) else { break };
            if len & POINTER_BITS == POINTER_BITS {
                let low = buf.get(at + 1).copied().unwrap_or(0);
                behind.pointers = behind.pointers.saturating_add(1);
                behind.first_target = u16::from(len & !POINTER_BITS) << 8 | u16::from(low);
            } else if len != 0 {
                behind.wire_len = behind.wire_len.saturating_add(len + 1);
                behind.labels = behind.labels.saturating_add(1);
            }
            memo.set(at, behind);
        }
        Ok(scan)
    }

    /// The name made of what was walked and a remembered rest. A rest that
    /// would break a limit sends the name to a plain walk from `start`, so the
    /// error is the one a plain walk finds.
    fn take(&self, buf: &[u8], start: usize, rest: Rest) -> Result<Scan, ParseError> {
        let wire_len = self.wire_len - 1 + usize::from(rest.wire_len);
        if wire_len > MAX_NAME_LEN || self.pointers + usize::from(rest.pointers) > MAX_POINTERS {
            return Walk::new(start).finish_plain(buf);
        }
        Ok(Scan {
            next: self.next.unwrap_or(self.pos + 1),
            wire_len: wire_len as u8,
            labels: self.labels + rest.labels,
        })
    }

    /// A whole plain walk (no memo).
    fn finish_plain(mut self, buf: &[u8]) -> Result<Scan, ParseError> {
        loop {
            match self.step(buf, true)? {
                Step::Root => return Ok(self.scan()),
                Step::Label => {}
                Step::Pointer(target) => self.follow(target),
            }
        }
    }
}

/// A checked domain name inside a buffer: a position, followed lazily.
///
/// Comparison is case-insensitive (RFC 4343) and never copies. The view is only
/// made by parsing (or from a [`NameBuf`], or as a suffix of another view), so
/// following it again cannot fail: the same bytes were walked with the same
/// rules, and at most [`MAX_POINTERS`] pointers, which is exactly the budget
/// [`Labels`] gets. The accessors still use checked reads rather than panic.
#[derive(Clone, Copy)]
pub struct Name<'a> {
    buf: &'a [u8],
    start: usize,
    wire_len: u8,
    labels: u8,
}

impl<'a> Name<'a> {
    /// The root name `.`.
    pub const ROOT: Name<'static> = Name {
        buf: &[0],
        start: 0,
        wire_len: 1,
        labels: 0,
    };

    /// Parses a possibly compressed name at `pos` of a whole message `msg`.
    /// Returns the name and the position just after it in the message.
    pub fn parse(msg: &'a [u8], pos: usize) -> Result<(Name<'a>, usize), ParseError> {
        let scan = scan(msg, pos, true)?;
        Ok((
            Name {
                buf: msg,
                start: pos,
                wire_len: scan.wire_len,
                labels: scan.labels,
            },
            scan.next,
        ))
    }

    /// Parses an uncompressed name at `pos` of `buf` (stored data, rdata of types
    /// that forbid compression). Returns the name and the position after it.
    pub fn parse_uncompressed(buf: &'a [u8], pos: usize) -> Result<(Name<'a>, usize), ParseError> {
        let scan = scan(buf, pos, false)?;
        Ok((
            Name {
                buf,
                start: pos,
                wire_len: scan.wire_len,
                labels: scan.labels,
            },
            scan.next,
        ))
    }

    /// A name that must fill `bytes` exactly, uncompressed.
    pub fn from_wire(bytes: &'a [u8]) -> Result<Name<'a>, ParseError> {
        let (name, next) = Name::parse_uncompressed(bytes, 0)?;
        if next != bytes.len() {
            return Err(ParseError::TrailingBytes);
        }
        Ok(name)
    }

    /// Length of the uncompressed wire form, root label included (1..=255).
    pub fn wire_len(&self) -> usize {
        usize::from(self.wire_len)
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        usize::from(self.labels)
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.labels == 0
    }

    /// The labels from left to right, root excluded, each without its length octet.
    /// Yields exactly [`Name::label_count`] labels.
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            buf: self.buf,
            pos: self.start,
            remaining: self.labels,
            hops: MAX_POINTERS as u8,
        }
    }

    /// The first label and the name after it, in one walk; `None` for the root.
    pub fn split_first(&self) -> Option<(&'a [u8], Name<'a>)> {
        let mut labels = self.labels();
        let label = labels.next()?;
        let label_wire = u8::try_from(label.len() + 1).ok()?;
        Some((
            label,
            Name {
                buf: self.buf,
                start: labels.pos,
                wire_len: self.wire_len.checked_sub(label_wire)?,
                labels: self.labels.checked_sub(1)?,
            },
        ))
    }

    /// The name without its first `count` labels (the root if `count` is larger).
    pub fn suffix(&self, count: usize) -> Name<'a> {
        let mut name = *self;
        for _ in 0..count.min(self.label_count()) {
            // `split_first` of a view with labels left cannot fail (see the
            // type's comment); the root is what is left after the last one.
            match name.split_first() {
                Some((_, rest)) => name = rest,
                None => return Name::ROOT,
            }
        }
        if name.is_root() { Name::ROOT } else { name }
    }

    /// Case-insensitive equality (RFC 4343 §3), label by label.
    pub fn eq_ignore_case(&self, other: &Name<'_>) -> bool {
        self.labels == other.labels
            && self.wire_len == other.wire_len
            && labels_eq(self.labels(), other.labels())
    }

    /// Whether this name is `ancestor` or below it, compared label by label on the
    /// wire form (so a label containing a `.` octet never matches two labels).
    pub fn is_at_or_below(&self, ancestor: &Name<'_>) -> bool {
        match self.label_count().checked_sub(ancestor.label_count()) {
            Some(extra) => labels_eq(self.suffix(extra).labels(), ancestor.labels()),
            None => false,
        }
    }

    /// Writes the canonical form (RFC 4034 §6.2: uncompressed, ASCII lower case)
    /// into `out` and returns its length.
    pub fn write_canonical(&self, out: &mut [u8; MAX_NAME_LEN]) -> usize {
        let mut pos = 0;
        for label in self.labels() {
            let end = pos + 1 + label.len();
            let Some(dst) = out.get_mut(pos..end) else {
                break;
            };
            if let Some((len_octet, rest)) = dst.split_first_mut() {
                *len_octet = label.len() as u8;
                for (d, s) in rest.iter_mut().zip(label) {
                    *d = s.to_ascii_lowercase();
                }
            }
            pos = end;
        }
        if let Some(root) = out.get_mut(pos) {
            *root = 0;
        }
        pos + 1
    }

    /// The canonical form in a fixed-size owned buffer.
    pub fn to_canonical(&self) -> NameBuf {
        let mut buf = NameBuf {
            bytes: [0; MAX_NAME_LEN],
            len: 0,
            labels: self.labels,
        };
        buf.len = self.write_canonical(&mut buf.bytes) as u8;
        buf
    }

    /// Copies the name, case kept, into a fixed-size owned buffer.
    pub fn to_buf(&self) -> NameBuf {
        let mut buf = NameBuf {
            bytes: [0; MAX_NAME_LEN],
            len: 0,
            labels: self.labels,
        };
        let mut pos = 0;
        for label in self.labels() {
            let end = pos + 1 + label.len();
            if let Some(dst) = buf.bytes.get_mut(pos..end)
                && let Some((len_octet, rest)) = dst.split_first_mut()
            {
                *len_octet = label.len() as u8;
                rest.copy_from_slice(label);
            }
            pos = end;
        }
        buf.len = (pos + 1) as u8;
        buf
    }
}

/// Whether two label sequences are equal, ASCII case ignored (RFC 4343 §3).
fn labels_eq(mut a: Labels<'_>, mut b: Labels<'_>) -> bool {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {}
            _ => return false,
        }
    }
}

impl PartialEq for Name<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.eq_ignore_case(other)
    }
}

impl Eq for Name<'_> {}

impl fmt::Display for Name<'_> {
    /// Presentation form (RFC 1035 §5.1) with a trailing dot; special and
    /// non-printable octets escaped as `\c` or `\DDD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                        write!(f, "\\{}", b as char)?
                    }
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Iterator over the labels of a name, following compression pointers.
///
/// It may follow [`MAX_POINTERS`] pointers in all, the most a checked name
/// holds, so over a checked name it always reaches the end: every label comes
/// out, and no name is cut short.
#[derive(Clone)]
pub struct Labels<'a> {
    buf: &'a [u8],
    pos: usize,
    remaining: u8,
    /// Pointers it may still follow.
    hops: u8,
}

impl<'a> Labels<'a> {
    /// Labels of a name at `pos` of `buf` that was not checked by this module's
    /// parser but written by this crate's builder: stops at the root octet or
    /// after `max` labels. The builder writes at most [`MAX_POINTERS`] pointers
    /// per name, the budget given here.
    pub(crate) fn raw(buf: &'a [u8], pos: usize, max: usize) -> Labels<'a> {
        Labels {
            buf,
            pos,
            remaining: u8::try_from(max).unwrap_or(u8::MAX),
            hops: MAX_POINTERS as u8,
        }
    }
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        // Each turn follows a pointer and spends a hop, or returns: at most
        // MAX_POINTERS + 1 turns, and a checked name never runs out of hops.
        loop {
            let len = *self.buf.get(self.pos)?;
            if len == 0 {
                self.remaining = 0;
                return None;
            }
            if len & POINTER_BITS == POINTER_BITS {
                self.hops = self.hops.checked_sub(1)?;
                let low = *self.buf.get(self.pos + 1)?;
                self.pos = usize::from(len & !POINTER_BITS) << 8 | usize::from(low);
                continue;
            }
            let start = self.pos + 1;
            let end = start + usize::from(len);
            let label = self.buf.get(start..end)?;
            self.pos = end;
            self.remaining -= 1;
            return Some(label);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.remaining);
        (0, Some(n))
    }
}

/// A name in uncompressed wire form, owned in a fixed `[u8; 255]`.
#[derive(Clone, Copy)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
    labels: u8,
}

impl NameBuf {
    /// The root name.
    pub fn root() -> NameBuf {
        NameBuf {
            bytes: [0; MAX_NAME_LEN],
            len: 1,
            labels: 0,
        }
    }

    /// Parses presentation form (RFC 1035 §5.1): labels separated by `.`, `\c`
    /// and `\DDD` escapes, trailing dot optional (the name is always absolute).
    pub fn from_text(text: &str) -> Result<NameBuf, ParseError> {
        let mut out = NameBuf::root();
        let text = text.as_bytes();
        if text == b"." || text.is_empty() {
            return Ok(out);
        }
        let mut pos = 0usize; // where the current label's length octet goes
        let mut label_len = 0usize;
        let mut i = 0usize;
        let mut ended_with_dot = false;
        while i < text.len() {
            let c = text.get(i).copied().ok_or(ParseError::BadText)?;
            i += 1;
            ended_with_dot = false;
            let byte = match c {
                b'.' => {
                    if label_len == 0 {
                        return Err(ParseError::BadText);
                    }
                    out.close_label(pos, label_len)?;
                    pos += label_len + 1;
                    label_len = 0;
                    ended_with_dot = true;
                    continue;
                }
                b'\\' => {
                    let d = text.get(i..i + 3);
                    match d {
                        Some(d) if d.iter().all(u8::is_ascii_digit) => {
                            i += 3;
                            let v = d
                                .iter()
                                .fold(0u16, |acc, &x| acc * 10 + u16::from(x - b'0'));
                            u8::try_from(v).map_err(|_| ParseError::BadText)?
                        }
                        _ => {
                            let e = text.get(i).copied().ok_or(ParseError::BadText)?;
                            i += 1;
                            e
                        }
                    }
                }
                c => c,
            };
            label_len += 1;
            if label_len > MAX_LABEL_LEN {
                return Err(ParseError::BadText);
            }
            let slot = out
                .bytes
                .get_mut(pos + label_len)
                .ok_or(ParseError::NameTooLong)?;
            *slot = byte;
        }
        if !ended_with_dot {
            out.close_label(pos, label_len)?;
            pos += label_len + 1;
        }
        let root = out.bytes.get_mut(pos).ok_or(ParseError::NameTooLong)?;
        *root = 0;
        out.len = (pos + 1) as u8;
        Ok(out)
    }

    fn close_label(&mut self, pos: usize, label_len: usize) -> Result<(), ParseError> {
        if pos + label_len + 2 > MAX_NAME_LEN {
            return Err(ParseError::NameTooLong);
        }
        let slot = self.bytes.get_mut(pos).ok_or(ParseError::NameTooLong)?;
        *slot = label_len as u8;
        self.labels += 1;
        Ok(())
    }

    /// A view of this name.
    pub fn as_name(&self) -> Name<'_> {
        Name {
            buf: self.as_wire(),
            start: 0,
            wire_len: self.len,
            labels: self.labels,
        }
    }

    /// The uncompressed wire form.
    pub fn as_wire(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[0])
    }
}

impl PartialEq for NameBuf {
    fn eq(&self, other: &Self) -> bool {
        self.as_name() == other.as_name()
    }
}

impl Eq for NameBuf {}

impl fmt::Display for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_name().fmt(f)
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameBuf({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buffers of names pointing at each other: labels of 1, 2 or 63 octets,
    /// pointers mostly to recent label starts (chains that reach 16 pointers
    /// and 255 octets), sometimes anywhere, and roots. With `chains`, mostly
    /// pointers to the pointer before.
    fn soup(seed: u64, chains: bool) -> Vec<u8> {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut m = vec![0u8; HEADER_LEN];
        let mut starts = vec![];
        for _ in 0..400 {
            let r = next();
            match r % 16 {
                _ if chains && r % 16 < 13 && !starts.is_empty() => {
                    let target = starts[starts.len() - 1];
                    starts.push(m.len());
                    m.extend_from_slice(&(0xc000 | target as u16).to_be_bytes());
                }
                0..=5 => {
                    starts.push(m.len());
                    let len = [1, 2, 63][(r >> 8) as usize % 3];
                    m.push(len as u8);
                    m.extend(core::iter::repeat_n(b'x', len));
                }
                6..=12 if !starts.is_empty() => {
                    let back = (r >> 8) as usize % starts.len().min(3);
                    let target = starts[starts.len() - 1 - back];
                    starts.push(m.len());
                    m.extend_from_slice(&(0xc000 | target as u16).to_be_bytes());
                }
                13 if m.len() > HEADER_LEN => {
                    let target = HEADER_LEN + (r >> 8) as usize % (m.len() - HEADER_LEN);
                    m.extend_from_slice(&(0xc000 | target as u16).to_be_bytes());
                }
                _ => {
                    starts.push(m.len());
                    m.push(0);
                }
            }
        }
        m
    }

    /// What a walk without the memo finds from `pos`.
    fn plain_rest(buf: &[u8], pos: usize) -> Option<Rest> {
        let mut walk = Walk::new(pos);
        let mut first_target = 0;
        loop {
            match walk.step(buf, true).ok()? {
                Step::Root => break,
                Step::Label => {}
                Step::Pointer(target) => {
                    if first_target == 0 {
                        first_target = target as u16;
                    }
                    walk.follow(target);
                }
            }
        }
        Some(Rest {
            wire_len: walk.wire_len as u8,
            labels: walk.labels,
            pointers: walk.pointers as u8,
            first_target,
        })
    }

    fn plain_scan(buf: &[u8], pos: usize) -> Result<(usize, u8, u8), ParseError> {
        let s = Walk::new(pos).finish_plain(buf)?;
        Ok((s.next, s.wire_len, s.labels))
    }

    #[test]
    fn every_remembered_rest_is_what_a_plain_walk_finds() {
        let mut hits = 0;
        let mut limits = 0;
        for seed in 1..300u64 {
            let buf = soup(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), seed % 3 == 0);
            // Forwards, as a parse goes: later names find earlier ones. Then
            // backwards, so the entry a walk writes for a position inside its
            // name is the last one written there, and is checked below.
            let forwards = seed % 2 == 0;
            let _active = memo::begin(&buf);
            let starts: Vec<usize> = if forwards {
                (HEADER_LEN..buf.len()).collect()
            } else {
                (HEADER_LEN..buf.len()).rev().collect()
            };
            for pos in starts {
                let remembered = scan(&buf, pos, true).map(|s| (s.next, s.wire_len, s.labels));
                let plain = plain_scan(&buf, pos);
                assert_eq!(remembered, plain, "seed {seed}, name at {pos}");
                if matches!(
                    plain,
                    Err(ParseError::NameTooLong | ParseError::TooManyPointers)
                ) {
                    limits += 1;
                }
            }
            memo::with(&buf, |m| {
                let m = m.expect("parse active");
                for pos in 0..buf.len() {
                    if let Some(rest) = m.get(pos) {
                        hits += 1;
                        assert_eq!(
                            Some(rest),
                            plain_rest(&buf, pos),
                            "seed {seed}, entry {pos}"
                        );
                    }
                }
            });
        }
        // The buffers reach both limits, and the memo holds many entries.
        assert!(limits > 200, "{limits} names at a limit");
        assert!(hits > 10_000, "{hits} entries");
    }

    fn msg_with(name_bytes: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; HEADER_LEN];
        m.extend_from_slice(name_bytes);
        m
    }

    #[test]
    fn plain_name() {
        let m = msg_with(b"\x03www\x07Example\x03com\x00rest");
        let (name, next) = Name::parse(&m, 12).unwrap();
        assert_eq!(next, 12 + 17);
        assert_eq!(name.wire_len(), 17);
        assert_eq!(name.label_count(), 3);
        assert_eq!(name.to_string(), "www.Example.com.");
        let canon = name.to_canonical();
        assert_eq!(canon.as_wire(), b"\x03www\x07example\x03com\x00");
    }

    #[test]
    fn compressed_name_follows_pointer() {
        // example.com at 12, www + pointer to 12 at 25
        let m = msg_with(b"\x07example\x03com\x00\x03www\xc0\x0c");
        let (name, next) = Name::parse(&m, 25).unwrap();
        assert_eq!(next, m.len());
        assert_eq!(name.to_string(), "www.example.com.");
        assert_eq!(name.wire_len(), 17);
        let other = NameBuf::from_text("WWW.EXAMPLE.COM").unwrap();
        assert_eq!(name, other.as_name());
    }

    #[test]
    fn pointer_to_itself_is_rejected() {
        let m = msg_with(b"\xc0\x0c");
        assert_eq!(Name::parse(&m, 12).unwrap_err(), ParseError::ForwardPointer);
    }

    #[test]
    fn forward_pointer_is_rejected() {
        let m = msg_with(b"\xc0\x0e\x00");
        assert_eq!(Name::parse(&m, 12).unwrap_err(), ParseError::ForwardPointer);
    }

    #[test]
    fn pointer_loop_is_rejected() {
        // 12: label "a" then pointer to 15; 15: pointer to 12 -> second is fine by
        // itself (backwards) but points into the run it ends.
        let m = msg_with(b"\x01a\xc0\x0f\xc0\x0c");
        assert_eq!(Name::parse(&m, 16).unwrap_err(), ParseError::ForwardPointer);
        assert_eq!(Name::parse(&m, 12).unwrap_err(), ParseError::ForwardPointer);
    }

    #[test]
    fn pointer_into_header_is_rejected() {
        let m = msg_with(b"\xc0\x02");
        assert_eq!(
            Name::parse(&m, 12).unwrap_err(),
            ParseError::PointerIntoHeader
        );
    }

    #[test]
    fn pointer_past_end_is_rejected() {
        let m = msg_with(b"\x01a\x00\xc1\x00");
        assert_eq!(Name::parse(&m, 15).unwrap_err(), ParseError::PointerPastEnd);
    }

    #[test]
    fn truncated_pointer_and_label() {
        assert_eq!(
            Name::parse(&msg_with(b"\xc0"), 12).unwrap_err(),
            ParseError::ShortInput
        );
        assert_eq!(
            Name::parse(&msg_with(b"\x05ab"), 12).unwrap_err(),
            ParseError::ShortInput
        );
        assert_eq!(
            Name::parse(&msg_with(b"\x01a"), 12).unwrap_err(),
            ParseError::ShortInput
        );
    }

    #[test]
    fn reserved_label_types() {
        for first in [0x40u8, 0x7f, 0x80, 0xbf] {
            let m = msg_with(&[first, 0]);
            assert_eq!(
                Name::parse(&m, 12).unwrap_err(),
                ParseError::ReservedLabelType
            );
        }
    }

    #[test]
    fn name_of_255_ok_256_rejected() {
        // 4 labels of 63 = 256 octets + root = 257 > 255; build exactly 255.
        let mut ok = Vec::new();
        for _ in 0..3 {
            ok.push(63u8);
            ok.extend_from_slice(&[b'a'; 63]);
        }
        ok.push(61);
        ok.extend_from_slice(&[b'b'; 61]);
        ok.push(0);
        assert_eq!(ok.len(), 255);
        let m = msg_with(&ok);
        assert_eq!(Name::parse(&m, 12).unwrap().0.wire_len(), 255);

        let mut long = ok.clone();
        long.pop();
        *long.get_mut(192).unwrap() = 62;
        long.insert(193, b'b');
        long.push(0);
        assert_eq!(long.len(), 256);
        let m = msg_with(&long);
        assert_eq!(Name::parse(&m, 12).unwrap_err(), ParseError::NameTooLong);
    }

    #[test]
    fn too_long_through_pointers() {
        // 200-octet name at 12, then a 60-octet label + pointer: 261 octets.
        let mut body = Vec::new();
        for _ in 0..4 {
            body.push(49u8);
            body.extend_from_slice(&[b'x'; 49]);
        }
        body.push(0);
        let second = body.len() + 12;
        body.push(60);
        body.extend_from_slice(&[b'y'; 60]);
        body.extend_from_slice(&[0xc0, 12]);
        let m = msg_with(&body);
        assert_eq!(Name::parse(&m, 12).unwrap().0.wire_len(), 201);
        assert_eq!(
            Name::parse(&m, second).unwrap_err(),
            ParseError::NameTooLong
        );
    }

    #[test]
    fn subdomain_label_by_label() {
        let zone = NameBuf::from_text("example.com.").unwrap();
        let inside = NameBuf::from_text("a.b.EXAMPLE.com").unwrap();
        let apex = NameBuf::from_text("Example.Com").unwrap();
        let outside = NameBuf::from_text("example.net").unwrap();
        let dotted = NameBuf::from_text("evil\\.example.com").unwrap();
        let lookalike = NameBuf::from_text("xexample.com").unwrap();
        assert!(inside.as_name().is_at_or_below(&zone.as_name()));
        assert!(apex.as_name().is_at_or_below(&zone.as_name()));
        assert!(!outside.as_name().is_at_or_below(&zone.as_name()));
        assert!(!lookalike.as_name().is_at_or_below(&zone.as_name()));
        assert!(!zone.as_name().is_at_or_below(&inside.as_name()));
        // "evil.example" as ONE label followed by "com": not below example.com.
        assert_eq!(dotted.as_name().label_count(), 2);
        assert!(!dotted.as_name().is_at_or_below(&zone.as_name()));
        assert!(zone.as_name().is_at_or_below(&Name::ROOT));
    }

    #[test]
    fn suffix_through_pointer() {
        let m = msg_with(b"\x07example\x03com\x00\x01a\x03www\xc0\x0c");
        let (name, _) = Name::parse(&m, 25).unwrap();
        assert_eq!(name.suffix(1).to_string(), "www.example.com.");
        assert_eq!(name.suffix(2).to_string(), "example.com.");
        assert_eq!(name.suffix(3).to_string(), "com.");
        assert_eq!(name.suffix(3).wire_len(), 5);
        assert!(name.suffix(4).is_root());
        assert!(name.suffix(9).is_root());
    }

    /// `a.` at 12, then `chain` bare pointers, each to the one before it (the
    /// first to 12). Returns the message and where the last pointer is.
    fn pointer_chain(chain: usize) -> (Vec<u8>, usize) {
        let mut m = msg_with(b"\x01a\x00");
        let mut previous = HEADER_LEN;
        for _ in 0..chain {
            let here = m.len();
            m.extend_from_slice(&(0xc000 | previous as u16).to_be_bytes());
            previous = here;
        }
        (m, previous)
    }

    #[test]
    fn sixteen_pointers_parse_and_a_seventeenth_is_refused() {
        let (m, last) = pointer_chain(MAX_POINTERS);
        let (name, next) = Name::parse(&m, last).unwrap();
        assert_eq!(next, last + 2);
        assert_eq!(name.to_string(), "a.");
        assert_eq!(name.labels().count(), 1);
        let (m, last) = pointer_chain(MAX_POINTERS + 1);
        assert_eq!(
            Name::parse(&m, last).unwrap_err(),
            ParseError::TooManyPointers
        );
        // One short of the cap from the same chain is still fine.
        assert!(Name::parse(&m, last - 2).is_ok());
    }

    #[test]
    fn long_chains_are_refused_not_cut_short() {
        // Before the cap, 129 pointers parsed and `labels()` stopped after 128.
        let (m, last) = pointer_chain(129);
        assert_eq!(
            Name::parse(&m, last).unwrap_err(),
            ParseError::TooManyPointers
        );
    }

    /// A name of 17 labels reached through 16 pointers, one between each two
    /// labels: `p16.p15. ... .p1.a.` where `pK` is a label and a pointer.
    #[test]
    fn every_label_behind_sixteen_pointers_is_seen() {
        let mut m = msg_with(b"\x01a\x00");
        let mut previous = HEADER_LEN;
        for k in 1..=MAX_POINTERS {
            let here = m.len();
            let label = format!("p{k}");
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
            m.extend_from_slice(&(0xc000 | previous as u16).to_be_bytes());
            previous = here;
        }
        let (name, _) = Name::parse(&m, previous).unwrap();
        let text: Vec<String> = (1..=MAX_POINTERS).rev().map(|k| format!("p{k}")).collect();
        let text = format!("{}.a.", text.join("."));
        assert_eq!(name.to_string(), text);
        assert_eq!(name.label_count(), MAX_POINTERS + 1);
        assert_eq!(name.labels().count(), name.label_count());
        assert_eq!(name.to_buf(), NameBuf::from_text(&text).unwrap());
        for n in 0..=name.label_count() {
            let suffix = name.suffix(n);
            assert_eq!(suffix.label_count(), name.label_count() - n);
            assert_eq!(suffix.labels().count(), suffix.label_count());
            assert!(name.is_at_or_below(&suffix));
        }
        let mut rest = name;
        let mut seen = 0;
        while let Some((label, tail)) = rest.split_first() {
            assert_eq!(tail.wire_len(), rest.wire_len() - label.len() - 1);
            rest = tail;
            seen += 1;
        }
        assert_eq!(seen, MAX_POINTERS + 1);
        assert!(rest.is_root());
        // One more pointer in front of it is one too many.
        let here = m.len();
        m.push(1);
        m.push(b'q');
        m.extend_from_slice(&(0xc000 | previous as u16).to_be_bytes());
        assert_eq!(
            Name::parse(&m, here).unwrap_err(),
            ParseError::TooManyPointers
        );
    }

    #[test]
    fn split_first_of_the_root_is_none() {
        assert!(Name::ROOT.split_first().is_none());
        let n = NameBuf::from_text("www.example.").unwrap();
        let (label, rest) = n.as_name().split_first().unwrap();
        assert_eq!(label, b"www");
        assert_eq!(rest.to_string(), "example.");
        assert_eq!(rest.wire_len(), 9);
    }

    #[test]
    fn text_round_trip_and_escapes() {
        let n = NameBuf::from_text("a\\.b.c\\032d.\\\\.").unwrap();
        assert_eq!(n.as_wire(), b"\x03a.b\x03c d\x01\\\x00");
        assert_eq!(n.to_string(), "a\\.b.c\\032d.\\\\.");
        assert_eq!(NameBuf::from_text(".").unwrap().as_wire(), b"\x00");
        assert_eq!(NameBuf::from_text("a..b").unwrap_err(), ParseError::BadText);
        assert_eq!(NameBuf::from_text(".a").unwrap_err(), ParseError::BadText);
        assert_eq!(
            NameBuf::from_text("\\256").unwrap_err(),
            ParseError::BadText
        );
        let long_label = "a".repeat(64);
        assert_eq!(
            NameBuf::from_text(&long_label).unwrap_err(),
            ParseError::BadText
        );
        let long_name = ["a".repeat(63).as_str(); 4].join(".");
        assert_eq!(
            NameBuf::from_text(&long_name).unwrap_err(),
            ParseError::NameTooLong
        );
    }

    #[test]
    fn from_wire_rejects_pointers_and_trailing() {
        assert_eq!(Name::from_wire(b"\x01a\x00").unwrap().to_string(), "a.");
        assert_eq!(
            Name::from_wire(b"\x01a\x00\x00").unwrap_err(),
            ParseError::TrailingBytes
        );
        assert_eq!(
            Name::from_wire(b"\x01a\xc0\x00").unwrap_err(),
            ParseError::BadRdata
        );
    }
}

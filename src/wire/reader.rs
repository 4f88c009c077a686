//! The one small reader every parser here uses: checked reads, no panics.

use super::error::ParseError;
use super::name::Name;

/// A position in a buffer with an end; reads past the end fail with `short`.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    short: ParseError,
}

impl<'a> Reader<'a> {
    /// Reads `buf` from `pos` to its end; running out is `ShortInput`.
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Reader<'a> {
        Reader {
            buf,
            pos,
            end: buf.len(),
            short: ParseError::ShortInput,
        }
    }

    /// Stops at `end` instead (RDATA); running out is then `BadRdata`.
    pub(crate) fn with_end(mut self, end: usize) -> Reader<'a> {
        self.end = end.min(self.buf.len());
        self.short = ParseError::BadRdata;
        self
    }

    pub(crate) fn buf(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    pub(crate) fn skip_to_end(&mut self) {
        self.pos = self.end;
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let end = self.pos.checked_add(n).ok_or(self.short)?;
        if end > self.end {
            return Err(self.short);
        }
        let s = self.buf.get(self.pos..end).ok_or(self.short)?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..self.end).unwrap_or(&[]);
        self.pos = self.end;
        s
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let s = self.bytes(N)?;
        <[u8; N]>::try_from(s).map_err(|_| self.short)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A name at the current position that must end before `end`.
    pub(crate) fn name(&mut self, compressed: bool) -> Result<Name<'a>, ParseError> {
        let parsed = if compressed {
            Name::parse(self.buf, self.pos)
        } else {
            Name::parse_uncompressed(self.buf, self.pos)
        };
        // A name running off the end of the buffer is, inside RDATA, bad RDATA.
        let (name, next) = parsed.map_err(|e| match e {
            ParseError::ShortInput => self.short,
            other => other,
        })?;
        if next > self.end {
            return Err(self.short);
        }
        self.pos = next;
        Ok(name)
    }
}

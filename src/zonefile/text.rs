//! Decoding the text of one token: names, character-strings, numbers and TTLs
//! (RFC 1035 §5.1, RFC 2308 §4, and the TTL units BIND accepts).

use crate::wire::{MAX_LABEL_LEN, MAX_NAME_LEN, Name, NameBuf};

/// Reads one possibly escaped octet at `i` of `text`: `\DDD` (three decimal
/// digits, at most 255), `\c` for any other character, or a plain octet.
/// Returns the octet, whether it was escaped, and the index after it.
fn octet(text: &[u8], i: usize) -> Result<Option<(u8, bool, usize)>, String> {
    let Some(&c) = text.get(i) else {
        return Ok(None);
    };
    if c != b'\\' {
        return Ok(Some((c, false, i + 1)));
    }
    let Some(&next) = text.get(i + 1) else {
        return Err("'\\' at the end escapes nothing".into());
    };
    if !next.is_ascii_digit() {
        return Ok(Some((next, true, i + 2)));
    }
    let digits = text
        .get(i + 1..i + 4)
        .filter(|d| d.iter().all(u8::is_ascii_digit))
        .ok_or_else(|| "'\\' and a digit must be a \\DDD escape of three digits".to_string())?;
    let value = digits
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    let value = u8::try_from(value).map_err(|_| format!("escape \\{value} is above 255"))?;
    Ok(Some((value, true, i + 4)))
}

/// Decodes the escapes of a character-string or other octet string.
pub(super) fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some((b, _, next)) = octet(bytes, i)? {
        out.push(b);
        i = next;
    }
    Ok(out)
}

/// Parses a domain name in presentation form (RFC 1035 §5.1): `@` is the
/// origin, a name that does not end in an unescaped `.` is relative and gets
/// the origin appended.
pub(super) fn name(text: &str, origin: Option<&NameBuf>) -> Result<NameBuf, String> {
    if text == "@" {
        return origin
            .copied()
            .ok_or_else(|| "'@' but no origin is known (give one or use $ORIGIN)".into());
    }
    if text.is_empty() {
        return Err("empty name".into());
    }
    let mut wire = Vec::with_capacity(MAX_NAME_LEN);
    if text != "." {
        let bytes = text.as_bytes();
        let mut label: Vec<u8> = Vec::with_capacity(MAX_LABEL_LEN);
        let mut i = 0;
        let mut absolute = false;
        while let Some((b, escaped, next)) = octet(bytes, i)? {
            i = next;
            absolute = false;
            if b == b'.' && !escaped {
                if label.is_empty() {
                    return Err(format!("empty label in name '{text}'"));
                }
                push_label(&mut wire, &label, text)?;
                label.clear();
                absolute = true;
            } else {
                label.push(b);
            }
        }
        if !absolute {
            push_label(&mut wire, &label, text)?;
            let origin = origin.ok_or_else(|| {
                format!("relative name '{text}' but no origin is known (give one or use $ORIGIN)")
            })?;
            let tail = origin.as_wire();
            wire.extend_from_slice(tail.get(..tail.len().saturating_sub(1)).unwrap_or(&[]));
        }
    }
    wire.push(0);
    if wire.len() > MAX_NAME_LEN {
        return Err(format!(
            "name '{text}' is {} octets long; at most {MAX_NAME_LEN} are allowed",
            wire.len()
        ));
    }
    Name::from_wire(&wire)
        .map(|n| n.to_buf())
        .map_err(|e| format!("name '{text}': {e}"))
}

fn push_label(wire: &mut Vec<u8>, label: &[u8], text: &str) -> Result<(), String> {
    if label.len() > MAX_LABEL_LEN {
        return Err(format!(
            "label of {} octets in '{text}'; at most {MAX_LABEL_LEN} are allowed",
            label.len()
        ));
    }
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
    Ok(())
}

/// Parses a decimal number of at most `max`.
pub(super) fn number(text: &str, max: u32, what: &str) -> Result<u32, String> {
    let bad = || format!("{what} '{text}' is not a decimal number up to {max}");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse::<u32>()
        .ok()
        .filter(|&n| n <= max)
        .ok_or_else(bad)
}

/// Parses a time in seconds: a decimal number, or numbers each followed by a
/// unit `w`, `d`, `h`, `m` or `s` in either case, as in `1h30m` (BIND's TTL
/// syntax; RFC 2308 §4 `$TTL` values are written that way in practice).
pub(super) fn duration(text: &str, what: &str) -> Result<u32, String> {
    let bad = || format!("{what} '{text}' is not a number of seconds or like 1w2d3h4m5s");
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return number(text, u32::MAX, what);
    }
    let mut total: u64 = 0;
    let mut value: Option<u64> = None;
    for b in text.bytes() {
        if b.is_ascii_digit() {
            let v = value.unwrap_or(0) * 10 + u64::from(b - b'0');
            if v > u64::from(u32::MAX) {
                return Err(bad());
            }
            value = Some(v);
            continue;
        }
        let unit: u64 = match b.to_ascii_lowercase() {
            b'w' => 7 * 86400,
            b'd' => 86400,
            b'h' => 3600,
            b'm' => 60,
            b's' => 1,
            _ => return Err(bad()),
        };
        total += value.take().ok_or_else(bad)? * unit;
        if total > u64::from(u32::MAX) {
            return Err(bad());
        }
    }
    if value.is_some() {
        // "1h30": a number without a unit after one with a unit.
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

/// Largest TTL (RFC 2181 §8: the top bit is reserved).
pub(super) const MAX_TTL: u32 = 0x7fff_ffff;

/// Parses a TTL: a [`duration`] of at most 2^31 - 1 seconds (RFC 2181 §8).
pub(super) fn ttl(text: &str) -> Result<u32, String> {
    let ttl = duration(text, "TTL")?;
    if ttl > MAX_TTL {
        return Err(format!(
            "TTL {ttl} is above {MAX_TTL}, the largest RFC 2181 §8 allows"
        ));
    }
    Ok(ttl)
}

/// Decodes hexadecimal digits, either case.
pub(super) fn hex(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(format!("'{text}' is an odd number of hex digits"));
    }
    for pair in bytes.chunks(2) {
        let digit = |i: usize| {
            pair.get(i)
                .and_then(|&c| (c as char).to_digit(16))
                .ok_or_else(|| format!("'{text}' is not hexadecimal"))
        };
        out.push((digit(0)? * 16 + digit(1)?) as u8);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_relative_absolute_and_escaped() {
        let origin = NameBuf::from_text("example.com.").unwrap();
        let o = Some(&origin);
        assert_eq!(
            name("www", o).unwrap().as_wire(),
            b"\x03www\x07example\x03com\x00"
        );
        assert_eq!(name("www.", o).unwrap().as_wire(), b"\x03www\x00");
        assert_eq!(name("@", o).unwrap(), origin);
        assert_eq!(name(".", o).unwrap().as_wire(), b"\x00");
        assert_eq!(name("a\\.b.", o).unwrap().as_wire(), b"\x03a.b\x00");
        assert_eq!(
            name("a\\.", o).unwrap().as_wire(),
            b"\x02a.\x07example\x03com\x00"
        );
        assert_eq!(name("a\\\\.", o).unwrap().as_wire(), b"\x02a\\\x00");
        assert_eq!(name("\\065\\032b.", o).unwrap().as_wire(), b"\x03A b\x00");
        assert_eq!(name("\\@.", o).unwrap().as_wire(), b"\x01@\x00");
        assert!(name("a..b", o).is_err());
        assert!(name("\\256.", o).is_err());
        assert!(name("\\12x.", o).is_err());
        assert!(name("www", None).is_err());
        assert!(name("@", None).is_err());
        assert!(name(&"a".repeat(64), o).unwrap_err().contains("64 octets"));
        let long = [&"a".repeat(63)[..]; 4].join(".") + ".";
        assert!(name(&long, o).unwrap_err().contains("257 octets"));
        let near = [&"a".repeat(60)[..]; 4].join(".");
        assert!(
            name(&near, o).is_err(),
            "relative part fits, with origin not"
        );
    }

    #[test]
    fn durations_like_bind() {
        assert_eq!(duration("3600", "t").unwrap(), 3600);
        assert_eq!(duration("1h30m", "t").unwrap(), 5400);
        assert_eq!(duration("1W2D", "t").unwrap(), 9 * 86400);
        assert_eq!(duration("2d1s", "t").unwrap(), 172_801);
        assert_eq!(duration("4294967295", "t").unwrap(), u32::MAX);
        for bad in ["", "1h30", "h", "1x", "4294967296", "-1", "1.5h", "7102w"] {
            assert!(duration(bad, "t").is_err(), "{bad}");
        }
        assert_eq!(ttl("2147483647").unwrap(), MAX_TTL);
        assert!(ttl("2147483648").is_err());
    }

    #[test]
    fn hex_and_escapes() {
        let mut out = Vec::new();
        hex("0aFf", &mut out).unwrap();
        assert_eq!(out, [0x0a, 0xff]);
        assert!(hex("abc", &mut out).is_err());
        assert!(hex("zz", &mut out).is_err());
        assert_eq!(unescape("a\\\"b\\092\\010").unwrap(), b"a\"b\\\n");
        assert!(unescape("x\\").is_err());
    }
}

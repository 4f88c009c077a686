//! What [`super::Message::parse`] has learnt about the names of the message it
//! is checking, so that no position is walked twice (issue 9).
//!
//! The 16-pointer cap bounds one name at 144 steps, but a 64 KiB message of
//! 6-octet questions, each a pointer to the one before it, still makes the
//! parser take 144 steps for every 6 octets: 1.5 million steps, 46 times what a
//! typical full-size message costs. The scan of a name from a position depends
//! on nothing but that position (the bytes are fixed during a parse), so once a
//! position has been walked successfully, its length, labels and pointers are
//! known. While a parse is active, a scan that follows a pointer to a position
//! nothing remembers walks on as before and afterwards writes down, for every
//! position it stepped on from there, the rest of the name; a later scan that
//! reaches a remembered position (as a pointer target, or inside a run of
//! labels when the rule on pointers allows it) takes the rest at once. So a
//! position reached through a pointer is walked once, a name's own labels are
//! walked once when the parse passes them, and a message's parse is linear in
//! its length. A name with no pointer (a query's question, an OPT owner) never
//! touches the table.
//!
//! Only positions a pointer can reach are kept: offsets are 14 bits
//! (RFC 1035 §4.1.4). The table lives in thread-local storage, written only
//! between [`begin`] and the drop of its guard; entries carry the generation
//! of the parse that wrote them, so nothing is ever cleared per message (every
//! 4,095 parses the table is zeroed once, 128 KiB). Nothing is allocated; the
//! table is zero-initialised thread-local storage (`.tbss`), and its pages are
//! only touched by messages with pointers into them.
//!
//! Correctness does not depend on the table: a scan that finds nothing here
//! walks the bytes as before, and outside [`begin`] nothing is read or written.

use core::cell::Cell;

/// Positions a compression pointer can reach (14-bit offsets).
pub(super) const REACHABLE: usize = 1 << 14;

/// Generations are 12 bits; 0 means "no parse" (and "empty entry").
const GENERATIONS: u32 = 1 << 12;

/// One remembered scan: the rest of the name from a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rest {
    /// Wire length from here, root included (1..=255).
    pub wire_len: u8,
    /// Labels from here (0..=127).
    pub labels: u8,
    /// Pointers followed from here (0..=16).
    pub pointers: u8,
    /// Where the first pointer from here leads, 0 when there is none (no
    /// pointer may lead into the header). A walk that reaches this position
    /// inside a run of labels may take the rest only if this is below the
    /// run's start: the rule every pointer is held to.
    pub first_target: u16,
}

// Entry layout, from the top: generation (12 bits), 18 unused, first target
// (14), wire length (8), labels (7), pointers (5).
const GENERATION_SHIFT: u32 = 52;

impl Rest {
    fn pack(self, generation: u32) -> u64 {
        u64::from(generation) << GENERATION_SHIFT
            | u64::from(self.first_target & 0x3fff) << 20
            | u64::from(self.wire_len) << 12
            | u64::from(self.labels & 0x7f) << 5
            | u64::from(self.pointers & 0x1f)
    }

    fn unpack(entry: u64) -> Rest {
        Rest {
            first_target: ((entry >> 20) & 0x3fff) as u16,
            wire_len: (entry >> 12) as u8,
            labels: ((entry >> 5) & 0x7f) as u8,
            pointers: (entry & 0x1f) as u8,
        }
    }
}

struct Table {
    /// Generation of the parse in progress, 0 when none is.
    active: Cell<u32>,
    /// Address and length of the buffer that parse checks.
    buffer: Cell<(usize, usize)>,
    /// Last generation handed out.
    last: Cell<u32>,
    entries: [Cell<u64>; REACHABLE],
}

thread_local! {
    static TABLE: Table = const {
        Table {
            active: Cell::new(0),
            buffer: Cell::new((0, 0)),
            last: Cell::new(0),
            entries: [const { Cell::new(0) }; REACHABLE],
        }
    };
}

fn identity(buf: &[u8]) -> (usize, usize) {
    (buf.as_ptr() as usize, buf.len())
}

/// Ends the active parse when dropped.
pub(super) struct Active {
    generation: u32,
}

impl Active {
    /// The generation of this parse: [`resume`] takes it back.
    pub(super) fn generation(&self) -> u32 {
        self.generation
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        TABLE.with(|t| t.active.set(0));
    }
}

/// Starts remembering scans of `buf` until the guard is dropped.
pub(super) fn begin(buf: &[u8]) -> Active {
    TABLE.with(|t| {
        let mut generation = t.last.get() + 1;
        if generation >= GENERATIONS {
            for entry in &t.entries {
                entry.set(0);
            }
            generation = 1;
        }
        t.last.set(generation);
        t.active.set(generation);
        t.buffer.set(identity(buf));
        Active { generation }
    })
}

/// Makes the entries of an earlier parse of `buf` active again, for a walk
/// over the same checked message (the record iterators), when no other parse
/// has begun since: then every entry of that generation was written for
/// exactly these bytes, which the message still borrows. `None` otherwise
/// (another parse came in between, one is active, or `generation` is 0): the
/// walk then goes through the bytes as a plain one does, with the same result.
pub(super) fn resume(buf: &[u8], generation: u32) -> Option<Active> {
    TABLE.with(|t| {
        let usable = generation != 0
            && t.active.get() == 0
            && t.last.get() == generation
            && t.buffer.get() == identity(buf);
        usable.then(|| {
            t.active.set(generation);
            Active { generation }
        })
    })
}

/// The memo for scans of `buf`, when a parse of exactly that buffer is active.
pub(super) fn with<R>(buf: &[u8], f: impl FnOnce(Option<Memo<'_>>) -> R) -> R {
    TABLE.with(|t| {
        let generation = t.active.get();
        if generation == 0 || t.buffer.get() != identity(buf) {
            return f(None);
        }
        f(Some(Memo {
            entries: &t.entries,
            generation,
        }))
    })
}

/// The entries of the active parse.
#[derive(Clone, Copy)]
pub(super) struct Memo<'t> {
    entries: &'t [Cell<u64>; REACHABLE],
    generation: u32,
}

impl Memo<'_> {
    /// What a successful scan from `pos` found, if one was remembered.
    pub(super) fn get(&self, pos: usize) -> Option<Rest> {
        let entry = self.entries.get(pos)?.get();
        (entry >> GENERATION_SHIFT == u64::from(self.generation)).then(|| Rest::unpack(entry))
    }

    /// Remembers a successful scan from `pos`; positions no pointer can reach
    /// are not kept.
    pub(super) fn set(&self, pos: usize, rest: Rest) {
        if let Some(entry) = self.entries.get(pos) {
            entry.set(rest.pack(self.generation));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_at_the_extremes() {
        for rest in [
            Rest {
                wire_len: 255,
                labels: 127,
                pointers: 16,
                first_target: 0x3fff,
            },
            Rest {
                wire_len: 1,
                labels: 0,
                pointers: 0,
                first_target: 0,
            },
        ] {
            let entry = rest.pack(GENERATIONS - 1);
            assert_eq!(entry >> GENERATION_SHIFT, u64::from(GENERATIONS - 1));
            assert_eq!(Rest::unpack(entry), rest);
        }
    }

    fn rest(wire_len: u8, labels: u8, first_target: u16) -> Rest {
        Rest {
            wire_len,
            labels,
            pointers: 0,
            first_target,
        }
    }

    #[test]
    fn nothing_is_remembered_outside_a_parse_or_for_another_buffer() {
        let a = [0u8; 40];
        let b = [0u8; 40];
        let rest = rest(1, 0, 0);
        assert!(with(&a, |m| m.is_none()));
        {
            let _active = begin(&a);
            with(&a, |m| m.expect("active for a").set(20, rest));
            assert_eq!(with(&a, |m| m.and_then(|m| m.get(20))), Some(rest));
            assert!(with(&b, |m| m.is_none()));
        }
        assert!(with(&a, |m| m.is_none()));
        let _again = begin(&a);
        // A new parse of the same buffer starts with nothing remembered.
        assert_eq!(with(&a, |m| m.and_then(|m| m.get(20))), None);
    }

    #[test]
    fn only_the_last_parse_of_the_same_buffer_resumes() {
        let a = [0u8; 40];
        let b = [0u8; 40];
        let rest = rest(2, 1, 0);
        let first = {
            let active = begin(&a);
            with(&a, |m| m.expect("active").set(25, rest));
            active.generation()
        };
        assert!(resume(&b, first).is_none(), "another buffer");
        assert!(resume(&a, 0).is_none(), "a parse that remembered nothing");
        {
            let resumed = resume(&a, first).expect("nothing began since");
            assert_eq!(resumed.generation(), first);
            assert_eq!(with(&a, |m| m.and_then(|m| m.get(25))), Some(rest));
            assert!(resume(&a, first).is_none(), "already active");
        }
        assert!(with(&a, |m| m.is_none()), "the resumed walk is over");
        drop(begin(&b));
        assert!(resume(&a, first).is_none(), "a parse began in between");
    }

    #[test]
    fn generations_wrap_with_the_table_cleared() {
        let a = [0u8; 40];
        let rest = rest(3, 1, 12);
        for _ in 0..GENERATIONS + 3 {
            let _active = begin(&a);
            assert_eq!(with(&a, |m| m.and_then(|m| m.get(30))), None);
            with(&a, |m| m.expect("active").set(30, rest));
        }
    }
}

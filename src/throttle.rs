//! Log lines an attacker cannot flood (issue 11).
//!
//! Anyone can send an unsigned UPDATE, a request with a bad TSIG, or a
//! replayed message, from spoofed addresses, as fast as the link allows; a
//! line for each would fill a router's RAM disk (20,000 datagrams wrote
//! 1.8 MB before this) and contend for the log's lock. Every such event is
//! counted in the metrics; the log gets the first one of each reason per
//! [`INTERVAL`], and the number that followed it in that interval when the
//! interval is over ("… and 19,999 more in the last 10 s"), either with the
//! next line of that reason or from [`Throttle::flush`], which the worker
//! calls on every wake-up. One per worker, plain integers, no allocation:
//! an event that is only counted costs a comparison and an increment.

use crate::tsig::Reason;

/// Seconds during which one reason is logged once.
pub const INTERVAL: u64 = 10;

/// Keys told apart in the TSIG failure windows; keys from this index on
/// share the last window (a server has a handful of keys).
pub const KEYS_APART: usize = 15;
/// TSIG failure reasons told apart (`tsig::Reason`, MAC sizes together).
const TSIG_REASONS: usize = 5;
/// Windows: unsigned, replay, the two of NOTIFY, then for each TSIG reason
/// one per key told apart, one for the rest and one for unknown key names.
const WINDOWS: usize = 4 + TSIG_REASONS * (KEYS_APART + 2);

/// The events whose lines are throttled: each can come from anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// An UPDATE without a TSIG.
    Unsigned,
    /// A correctly signed UPDATE seen before.
    Replay,
    /// An unsigned NOTIFY for a zone of ours, acknowledged (RFC 1996 §4.7).
    UnsignedNotify,
    /// A NOTIFY not acknowledged: not a zone of ours (NOTAUTH), or malformed.
    NotifyRefused,
    /// A request whose TSIG does not verify, by reason and by key: an
    /// operator sees each misconfigured client's line, while names an
    /// attacker makes up share one window (`key: None`).
    BadTsig {
        /// The failure, as `tsig::Reason` tells it.
        reason: Reason,
        /// The index of the key in the key set, when the name is known.
        key: Option<usize>,
    },
}

impl Noise {
    fn index(self) -> usize {
        match self {
            Noise::Unsigned => 0,
            Noise::Replay => 1,
            Noise::UnsignedNotify => 2,
            Noise::NotifyRefused => 3,
            Noise::BadTsig { reason, key } => {
                let reason = match reason {
                    Reason::UnknownKey => 0,
                    Reason::WrongAlgorithm => 1,
                    Reason::BadMac => 2,
                    Reason::MacTooShort | Reason::MacTooLong => 3,
                    Reason::BadTime => 4,
                };
                let key = key.map_or(KEYS_APART + 1, |k| k.min(KEYS_APART));
                4 + reason * (KEYS_APART + 2) + key
            }
        }
    }

    /// How the summary line names the events of the window at `index`.
    fn describe(index: usize) -> &'static str {
        match index {
            0 => "unsigned UPDATEs refused",
            1 => "replayed UPDATEs refused",
            2 => "unsigned NOTIFYs acknowledged",
            3 => "NOTIFYs refused",
            _ => "requests with a failed TSIG check of this kind",
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    /// When the line that opened the window was logged (Unix seconds); 0:
    /// no window open.
    opened: u64,
    /// Events since that line, not logged.
    suppressed: u64,
}

/// What to do with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log its line; `earlier` events of the reason went unlogged in the
    /// interval before (say so on the line when not 0).
    Log {
        /// Suppressed in the interval that just ended.
        earlier: u64,
    },
    /// Count it only.
    Quiet,
}

/// The tail of a line that opens a window: what the interval before it did
/// not show ("; and 19999 more in the last 10 s"), or nothing.
#[derive(Debug, Clone, Copy)]
pub struct More(pub u64);

impl core::fmt::Display for More {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, "; and {n} more in the last {INTERVAL} s"),
        }
    }
}

/// The windows of one worker.
#[derive(Debug)]
pub struct Throttle {
    windows: [Window; WINDOWS],
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            windows: [Window::default(); WINDOWS],
        }
    }
}

impl Throttle {
    /// An event of `reason` at `now` (Unix seconds): log it or not.
    pub fn admit(&mut self, reason: Noise, now: u64) -> Verdict {
        let Some(window) = self.windows.get_mut(reason.index()) else {
            return Verdict::Log { earlier: 0 };
        };
        if window.opened != 0 && now < window.opened.saturating_add(INTERVAL) {
            window.suppressed = window.suppressed.saturating_add(1);
            return Verdict::Quiet;
        }
        let earlier = window.suppressed;
        *window = Window {
            opened: now.max(1),
            suppressed: 0,
        };
        Verdict::Log { earlier }
    }

    /// Logs, for each reason whose interval is over, how many of its events
    /// went unlogged in it, and closes the window.
    pub fn flush(&mut self, now: u64) {
        for (index, window) in self.windows.iter_mut().enumerate() {
            if window.opened == 0 || now < window.opened.saturating_add(INTERVAL) {
                continue;
            }
            if window.suppressed > 0 {
                log::warn!(
                    "and {} more {} in the last {INTERVAL} s (counted in the metrics)",
                    window.suppressed,
                    Noise::describe(index)
                );
            }
            *window = Window::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_reason_per_interval_and_the_rest_counted() {
        let mut t = Throttle::default();
        let t0 = 1_800_000_000;
        assert_eq!(t.admit(Noise::Unsigned, t0), Verdict::Log { earlier: 0 });
        for _ in 0..19_999 {
            assert_eq!(t.admit(Noise::Unsigned, t0 + 3), Verdict::Quiet);
        }
        // Another reason has its own window, and so has each known key.
        let bad = |key| Noise::BadTsig {
            reason: Reason::BadMac,
            key,
        };
        assert_eq!(t.admit(bad(Some(0)), t0 + 3), Verdict::Log { earlier: 0 });
        assert_eq!(t.admit(bad(Some(1)), t0 + 3), Verdict::Log { earlier: 0 });
        assert_eq!(t.admit(bad(Some(1)), t0 + 4), Verdict::Quiet);
        // Made-up key names share one.
        assert_eq!(t.admit(bad(None), t0 + 3), Verdict::Log { earlier: 0 });
        assert_eq!(t.admit(bad(None), t0 + 4), Verdict::Quiet);
        let time = Noise::BadTsig {
            reason: Reason::BadTime,
            key: Some(0),
        };
        assert_eq!(t.admit(time, t0 + 4), Verdict::Log { earlier: 0 });
        assert_eq!(t.admit(Noise::Unsigned, t0 + 9), Verdict::Quiet);
        // NOTIFYs, acknowledged and refused, have windows of their own.
        for noise in [Noise::UnsignedNotify, Noise::NotifyRefused] {
            assert_eq!(t.admit(noise, t0 + 4), Verdict::Log { earlier: 0 });
            assert_eq!(t.admit(noise, t0 + 5), Verdict::Quiet);
        }
        // The interval is over: the next line says what it did not show.
        assert_eq!(
            t.admit(Noise::Unsigned, t0 + INTERVAL),
            Verdict::Log { earlier: 20_000 }
        );
        assert_eq!(t.admit(Noise::Unsigned, t0 + INTERVAL + 1), Verdict::Quiet);
    }

    #[test]
    fn the_tail_says_how_many_went_unlogged() {
        assert_eq!(More(0).to_string(), "");
        assert_eq!(
            More(19_999).to_string(),
            "; and 19999 more in the last 10 s"
        );
    }

    #[test]
    fn flush_closes_the_windows_whose_interval_is_over() {
        let mut t = Throttle::default();
        let t0 = 1_800_000_000;
        assert_eq!(t.admit(Noise::Replay, t0), Verdict::Log { earlier: 0 });
        assert_eq!(t.admit(Noise::Replay, t0 + 1), Verdict::Quiet);
        t.flush(t0 + INTERVAL - 1);
        assert_eq!(t.admit(Noise::Replay, t0 + 2), Verdict::Quiet, "still open");
        t.flush(t0 + INTERVAL);
        // Flushed: the next event opens a new window, with nothing earlier.
        assert_eq!(
            t.admit(Noise::Replay, t0 + INTERVAL),
            Verdict::Log { earlier: 0 }
        );
    }
}

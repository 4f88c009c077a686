//! Random choices a failing run can replay: a seed printed by every test
//! that draws from it, taken from an environment variable when set.

use std::time::{SystemTime, UNIX_EPOCH};

/// A small pseudo-random sequence (SplitMix64) from one seed: the same seed
/// gives the same choices. No rand crate here.
pub struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// The seed in environment variable `var` (decimal) when set, else one
    /// from the clock; printed either way as `var=SEED`, so that a failure's
    /// output says how to replay its choices.
    pub fn from_env(var: &str) -> SeededRandom {
        let seed = match std::env::var(var) {
            Ok(text) => text
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{var}={text:?} is not a decimal u64")),
            Err(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        };
        println!("{var}={seed} (set it to replay these random choices)");
        SeededRandom { state: seed }
    }

    /// The next number of the sequence.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..high` (`high > low`).
    pub fn in_range(&mut self, low: u64, high: u64) -> u64 {
        assert!(high > low, "empty range {low}..{high}");
        low + self.next_u64() % (high - low)
    }
}

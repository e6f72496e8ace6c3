//! One share of a load split over several processes (`tracemesh run
//! --shard I/N`): which seed and how many users shard `I` of `N` takes.
//!
//! Scaling the load out means N processes of `tracemesh run` against one
//! mesh, each checking the traces it started; `tracemesh report merge`
//! then combines their reports. Two rules make the shards independent:
//!
//! - **Seeds.** Shard `I` seeds its load with [`Shard::seed`]: the base
//!   seed and `I` mixed by SplitMix64's finaliser. Within one run, goose
//!   user `u` draws from `seed + u`, so shards seeded `base + I` would
//!   share streams (shard 1's user 0 is shard 0's user 1) and send the same
//!   trace ids; mixed seeds lie far apart, so no two users of any shards
//!   share a stream, and every shard still replays from the base seed.
//! - **Users.** `--users U` is the whole load's: shard `I` runs
//!   `U / N` users, one more for the first `U % N` shards, and at least
//!   one ([`Shard::users`]). The shards together run `U` users, or `N`
//!   when `U < N`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shard `index` of `count` (0-based, `index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`, or why not.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("N must be at least 1".to_owned());
        }
        if index >= count {
            return Err(format!(
                "the index {index} is not below the shard count {count}; shards are numbered from 0"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The load seed of this shard, derived from the whole load's seed:
    /// distinct for every index, the same on every replay.
    pub fn seed(self, base_seed: u64) -> u64 {
        // SplitMix64: add the golden-ratio increment per step, then mix.
        let mut z =
            base_seed.wrapping_add(u64::from(self.index).wrapping_add(1).wrapping_mul(GOLDEN));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// This shard's users out of the whole load's `total`: an even split,
    /// the remainder to the first shards, at least one each.
    pub fn users(self, total: usize) -> usize {
        let count = self.count as usize;
        let index = self.index as usize;
        let share = total / count + usize::from(index < total % count);
        share.max(1)
    }
}

/// SplitMix64's increment, 2^64 / φ.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// `I/N`, as the flag takes it.
impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(raw: &str) -> Result<Shard, String> {
        let bad = |why: &str| format!("{raw:?} is not I/N ({why})");
        let (index, count) = raw.trim().split_once('/').ok_or_else(|| bad("no '/'"))?;
        let number = |text: &str, what: &str| {
            text.parse::<u32>()
                .map_err(|_| bad(&format!("{what} {text:?} is not a whole number")))
        };
        Shard::new(number(index, "I")?, number(count, "N")?).map_err(|why| bad(&why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_read_as_index_slash_count() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        assert_eq!("0/1".parse::<Shard>().unwrap().to_string(), "0/1");
        for bad in ["3/3", "0/0", "1", "-1/3", "a/3", "1/b", "", "1/3/4"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn users_split_evenly_with_the_remainder_first_and_at_least_one_each() {
        let split = |total, count| -> Vec<usize> {
            (0..count)
                .map(|i| Shard::new(i, count).unwrap().users(total))
                .collect()
        };
        assert_eq!(split(8, 3), [3, 3, 2]);
        assert_eq!(split(9, 3), [3, 3, 3]);
        assert_eq!(split(2, 3), [1, 1, 1]);
        assert_eq!(split(5, 1), [5]);
    }

    #[test]
    fn shard_seeds_differ_from_each_other_and_leave_room_for_every_user() {
        // Users draw from seed + user index: streams overlap only if two
        // shards' seeds lie within the user count of each other.
        let base = 42;
        let seeds: Vec<u64> = (0..64)
            .map(|i| Shard::new(i, 64).unwrap().seed(base))
            .collect();
        for (i, a) in seeds.iter().enumerate() {
            for b in &seeds[i + 1..] {
                assert!(a.abs_diff(*b) > 1_000_000, "{a} and {b}");
            }
            assert!(a.abs_diff(base) > 1_000_000);
        }
        // The same base seed gives the same shard seeds: a run replays.
        assert_eq!(Shard::new(3, 64).unwrap().seed(base), seeds[3]);
        assert_ne!(Shard::new(3, 64).unwrap().seed(base + 1), seeds[3]);
    }
}

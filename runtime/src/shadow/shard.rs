//! Splitting the fleet's shadows between instances by thing, for brokers whose shared
//! subscriptions do not reach `$aws/...` topics (Mosquitto 2.0 accepts them and delivers
//! nothing). Every instance subscribes to every request and answers those of its own things.
//!
//! INVARIANT: a thing's shard depends on its name alone (FNV-1a, fixed here), so every
//! instance of every version agrees on it, and one instance answers all of a thing's requests,
//! in the order the broker delivers them.

use std::fmt;
use std::str::FromStr;

/// Instance `index` of `count`, written `index/count` (`0/2`, `1/2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Whether this instance answers `thing`'s requests.
    pub(crate) fn owns(self, thing: &str) -> bool {
        shard_of(thing, self.count) == self.index
    }
}

/// The shard of `thing` among `count`.
fn shard_of(thing: &str, count: u32) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = thing.bytes().fold(OFFSET, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(PRIME));
    u32::try_from(hash % u64::from(count.max(1))).unwrap_or(0)
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || format!("`{text}` is not a shard: write INDEX/COUNT, such as `0/2` and `1/2` for two instances");
        let (index, count) = text.split_once('/').ok_or_else(wrong)?;
        let (index, count): (u32, u32) = (index.parse().map_err(|_| wrong())?, count.parse().map_err(|_| wrong())?);
        if count == 0 || index >= count {
            return Err(format!(
                "`{text}`: the index counts from 0 and is below the count (`0/{count}` to `{}/{count}`)",
                count.saturating_sub(1)
            ));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thing_has_exactly_one_owner() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        let mut per_shard = [0; 3];
        for n in 0..3000 {
            let thing = format!("thing-{n}");
            let owners: Vec<&Shard> = shards.iter().filter(|shard| shard.owns(&thing)).collect();
            assert_eq!(owners.len(), 1, "{thing}");
            per_shard[owners[0].index as usize] += 1;
        }
        assert!(per_shard.iter().all(|&count| count > 800), "{per_shard:?}");
    }

    #[test]
    fn the_shard_of_a_name_is_fixed() {
        // Instances of different versions must agree: these values are part of the contract.
        assert_eq!(shard_of("thing-1", 2), 1);
        assert_eq!(shard_of("thing-2", 2), 0);
        assert_eq!(shard_of("", 7), (0xcbf2_9ce4_8422_2325_u64 % 7) as u32);
    }

    #[test]
    fn shards_are_read_as_index_over_count() {
        assert_eq!("1/2".parse::<Shard>(), Ok(Shard { index: 1, count: 2 }));
        assert_eq!("0/1".parse::<Shard>().map(|shard| shard.to_string()), Ok("0/1".to_owned()));
        for wrong in ["2/2", "0/0", "1", "a/2", "-1/2", "1/2/3"] {
            assert!(wrong.parse::<Shard>().is_err(), "{wrong}");
        }
    }
}

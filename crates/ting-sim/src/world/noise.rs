//! A stateless, seeded generator: every draw is a hash of (seed, stream,
//! ids), never the next value of a shared stream.
//!
//! Agents ask the world concurrently and in any order; a sequential RNG
//! would make a value depend on how many draws came before it. Hashing the
//! coordinates of the value instead (which entity, which quantity, which
//! time bucket) makes each draw a pure function of those coordinates. The
//! mixer is splitmix64's finaliser (Steele, Lea and Flood, 2014), chained
//! over the ids.

/// Splitmix64's increment (the golden ratio in 64 bits), used to separate
/// chained inputs so that `[a, b]` and `[b, a]` hash apart.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// 2^-53: turns the top 53 bits of a hash into an `f64` in `[0, 1)`.
const UNIT_SCALE: f64 = 1.0 / 9_007_199_254_740_992.0;

/// Which quantity a draw is for. Each quantity has its own stream so that,
/// say, a household's size and its consent never share a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stream {
    /// A district's rank in the hardness order.
    DistrictRank = 1,
    /// Where a district's base hardness falls inside its rank's band.
    DistrictBase,
    /// A district's daily amplitude.
    DistrictAmplitude,
    /// A district's daily phase.
    DistrictPhase,
    /// Hour-by-hour hardness noise of a district.
    HardnessNoise,
    /// Everything about the hardness incident.
    Incident,
    /// A household's number of people.
    HouseholdPeople,
    /// A household's litres per person and day.
    HouseholdLitres,
    /// A household's shift of its daily rhythm.
    HouseholdShift,
    /// The initial fill of a household's first cartridge.
    HouseholdFill,
    /// Which day a household's cleaning cycle starts.
    HouseholdCleaningPhase,
    /// The owner's target hardness.
    PolicyTarget,
    /// The owner's budget for one cartridge.
    PolicyBudget,
    /// What the owner allows per day above the cartridge budget.
    PolicyDailyExtra,
    /// The owner's data consent.
    PolicyConsent,
    /// The owner's preference among centres.
    PolicyPreference,
    /// Which households misbehave, and when.
    Misbehaviour,
    /// Hour-by-hour demand noise of a household.
    DemandNoise,
    /// A service centre's fixed traits.
    Centre,
    /// Whether one installation fails.
    InstallFailure,
    /// A centre's daily delivery.
    Restock,
    /// A sensor's placement and phase.
    Sensor,
    /// A sensor's measurement noise per report.
    SensorNoise,
}

/// Splitmix64's output function: a bijection on `u64` with good avalanche.
#[must_use]
pub const fn mix64(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of one scenario: only a seed, so it is `Copy` and every
/// draw is a pure function of its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Noise {
    seed: u64,
}

impl Noise {
    /// A generator for `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// A 64-bit hash of (seed, stream, ids).
    #[must_use]
    pub fn bits(self, stream: Stream, ids: &[u64]) -> u64 {
        // The length goes in first so that `[0]` and `[]` differ.
        let start = self.seed ^ (stream as u64).wrapping_mul(GOLDEN_GAMMA) ^ ids.len() as u64;
        ids.iter().fold(mix64(start), |hash, id| {
            mix64(hash ^ id.wrapping_add(GOLDEN_GAMMA).wrapping_mul(GOLDEN_GAMMA))
        })
    }

    /// A uniform `f64` in `[0, 1)`.
    #[must_use]
    pub fn unit(self, stream: Stream, ids: &[u64]) -> f64 {
        (self.bits(stream, ids) >> 11) as f64 * UNIT_SCALE
    }

    /// A uniform `f64` in `[low, high)`.
    #[must_use]
    pub fn between(self, stream: Stream, ids: &[u64], low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit(stream, ids)
    }

    /// A uniform `f64` in `[-1, 1)`, for symmetric noise.
    #[must_use]
    pub fn signed(self, stream: Stream, ids: &[u64]) -> f64 {
        2.0 * self.unit(stream, ids) - 1.0
    }

    /// A `u64` in `0..n` (0 when `n` is 0). The modulo bias is below
    /// `n / 2^64`, negligible for the small `n` the world uses.
    #[must_use]
    pub fn below(self, stream: Stream, ids: &[u64], n: u64) -> u64 {
        self.bits(stream, ids).checked_rem(n).unwrap_or(0)
    }

    /// A `u32` in `0..n` (0 when `n` is 0).
    #[must_use]
    pub fn below_u32(self, stream: Stream, ids: &[u64], n: u32) -> u32 {
        // The draw is below `n`, so it fits; the fallback is never taken.
        u32::try_from(self.below(stream, ids, u64::from(n))).unwrap_or(0)
    }

    /// A `u16` in `0..n` (0 when `n` is 0).
    #[must_use]
    pub fn below_u16(self, stream: Stream, ids: &[u64], n: u16) -> u16 {
        // The draw is below `n`, so it fits; the fallback is never taken.
        u16::try_from(self.below(stream, ids, u64::from(n))).unwrap_or(0)
    }

    /// A `u8` in `0..n` (0 when `n` is 0).
    #[must_use]
    pub fn below_u8(self, stream: Stream, ids: &[u64], n: u8) -> u8 {
        // The draw is below `n`, so it fits; the fallback is never taken.
        u8::try_from(self.below(stream, ids, u64::from(n))).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRAWS: u64 = 10_000;

    #[test]
    fn the_same_coordinates_give_the_same_draw() {
        let noise = Noise::new(7);
        assert_eq!(
            noise.bits(Stream::DemandNoise, &[3, 400]),
            noise.bits(Stream::DemandNoise, &[3, 400])
        );
    }

    #[test]
    fn seeds_streams_ids_and_their_order_all_change_the_draw() {
        let noise = Noise::new(7);
        let base = noise.bits(Stream::DemandNoise, &[3, 400]);
        assert_ne!(base, Noise::new(8).bits(Stream::DemandNoise, &[3, 400]));
        assert_ne!(base, noise.bits(Stream::HardnessNoise, &[3, 400]));
        assert_ne!(base, noise.bits(Stream::DemandNoise, &[400, 3]));
        assert_ne!(base, noise.bits(Stream::DemandNoise, &[3, 401]));
        assert_ne!(
            noise.bits(Stream::DemandNoise, &[0]),
            noise.bits(Stream::DemandNoise, &[])
        );
    }

    #[test]
    fn unit_draws_stay_in_the_half_open_interval_and_average_one_half() {
        let noise = Noise::new(1);
        let mut sum = 0.0;
        for i in 0..DRAWS {
            let u = noise.unit(Stream::HardnessNoise, &[i]);
            assert!((0.0..1.0).contains(&u), "{u} out of [0, 1)");
            sum += u;
        }
        let mean = sum / DRAWS as f64;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn below_stays_below_and_reaches_every_value() {
        let noise = Noise::new(2);
        let mut seen = [0_u32; 5];
        for i in 0..DRAWS {
            let v = noise.below_u8(Stream::HouseholdPeople, &[i], 5);
            seen[usize::from(v)] += 1;
        }
        assert!(seen.iter().all(|&count| count > 1_500), "{seen:?}");
        assert_eq!(noise.below(Stream::HouseholdPeople, &[1], 0), 0);
    }
}

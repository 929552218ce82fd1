//! A purifier's readings for sale to the water utility, under its owner's
//! consent.
//!
//! The owner signs a consent record for its purifier from its policy
//! ([`consent`]): hardness and hourly consumption as read, consumption as
//! daily sums only, or nothing (then the purifier opens no stream). The
//! purifier opens a stream on the ledger whose terms name that record
//! ([`terms`]), and [`DataSeller`] pushes one hardness and one consumption
//! reading per simulated hour through the SDK's seller, which lets out
//! only what the record allows and sells each simulated day's key to the
//! buyers the record names.

use std::path::Path;

use ting_agent::stream::{Answered, Seller, SellerError, SellerSetup};
use ting_agent::{Device, Message};
use ting_core::consent::filter::{Reading as FieldReading, Value};
use ting_core::consent::{
    AggregateOp, BuyerRule, ConsentError, ConsentRecord, FieldRule, FieldUse, SignedConsent,
};
use ting_core::stream::{EpochRule, FieldKind, FieldSpec, StreamId, StreamTerms};
use ting_core::{AccountId, Amount, Hash32, Keypair, Timestamp};

use crate::world::{Consent, Reading, Scenario, DAY_MS, HOUR_MS};

/// What one simulated day of a purifier's readings costs (an epoch).
pub const DATA_PRICE_PER_DAY: u64 = 2_000;
/// The least the owner's record accepts per epoch.
pub const DATA_PRICE_MIN_PER_DAY: u64 = 1_000;
/// How long an owner's consent record holds from the city's start: a year,
/// the longest a channel to the purifier may last as well.
pub const CONSENT_LIFETIME_MS: u64 = 365 * DAY_MS;
/// Why the utility buys, as the record says.
pub const DATA_PURPOSE: &str = "city water network planning";
/// The hardness field: incoming water, in tenths of mg/l.
pub const FIELD_HARDNESS: &str = "hardness";
/// The consumption field: litres treated in the hour.
pub const FIELD_CONSUMPTION: &str = "consumption";
/// Consumption sums are rounded to this many litres.
const DAILY_SUM_ROUND_LITRES: u64 = 10;
/// Hardness is sold in tenths of mg/l.
const HARDNESS_DECIMALS: u8 = 1;
/// The purifier signs and publishes its open chunk this often (simulated).
pub const DATA_FLUSH_MS: u64 = 6 * HOUR_MS;
/// Points per chunk: more than a flush interval ever holds.
const CHUNK_POINTS: usize = 64;
/// The file in a purifier's state directory naming its stream.
const STREAM_FILE: &str = "water-stream";

/// The consent record `owner` signs for its purifier `device`, or `None`
/// when the owner refuses to share anything. The same city gives the same
/// bytes, so a rerun's stream names the record it already names.
///
/// # Errors
/// The record breaks a rule of `ConsentRecord::check` (not for the
/// city's own values).
pub fn consent(
    scenario: &Scenario,
    household: u32,
    owner: &Keypair,
    device: AccountId,
    utility: AccountId,
    genesis: Hash32,
) -> Result<Option<SignedConsent>, ConsentError> {
    let Some(h) = scenario.household(household) else {
        return Ok(None);
    };
    let fields = match h.policy.consent {
        Consent::Refuses => return Ok(None),
        Consent::Full => vec![
            field(FIELD_HARDNESS, FieldUse::Raw { round_to: 1 }),
            field(FIELD_CONSUMPTION, FieldUse::Raw { round_to: 1 }),
        ],
        Consent::DailySums => vec![field(
            FIELD_CONSUMPTION,
            FieldUse::Aggregate {
                op: AggregateOp::Sum,
                window_ms: DAY_MS,
                round_to: DAILY_SUM_ROUND_LITRES,
            },
        )],
    };
    let issued_at = scenario.start_ms();
    let record = ConsentRecord {
        genesis,
        owner: owner.account(),
        device,
        issued_at: Timestamp(issued_at),
        expires_at: Timestamp(issued_at.saturating_add(CONSENT_LIFETIME_MS)),
        min_price_per_epoch: Amount::new(DATA_PRICE_MIN_PER_DAY),
        purpose: DATA_PURPOSE.into(),
        fields,
        buyers: vec![BuyerRule::Account(utility)],
    };
    record.sign(owner).map(Some)
}

fn field(name: &str, use_: FieldUse) -> FieldRule {
    FieldRule {
        name: name.into(),
        use_,
    }
}

/// The stream's terms: both fields in the schema (what leaves is the
/// record's choice), a key per simulated day, sold in `area`.
pub fn terms(consent: &SignedConsent, area: String) -> StreamTerms {
    StreamTerms {
        fields: vec![
            FieldSpec {
                name: FIELD_HARDNESS.into(),
                unit: "mg/l".into(),
                kind: FieldKind::Number {
                    decimals: HARDNESS_DECIMALS,
                },
            },
            FieldSpec {
                name: FIELD_CONSUMPTION.into(),
                unit: "l".into(),
                kind: FieldKind::Number { decimals: 0 },
            },
        ],
        price_per_epoch: Amount::new(DATA_PRICE_PER_DAY),
        epoch: EpochRule::Time(DAY_MS),
        area,
        consent: consent.hash(),
    }
}

/// The stream the purifier opened in an earlier run, if any.
pub fn saved_stream(state_dir: &Path) -> Option<StreamId> {
    use std::io::Read;
    // 64 hex digits; anything longer is not an id.
    let mut text = String::new();
    let file = std::fs::File::open(state_dir.join(STREAM_FILE)).ok()?;
    file.take(STREAM_FILE_BYTES_MAX)
        .read_to_string(&mut text)
        .ok()?;
    StreamId::from_hex(text.trim())
}

/// The most of a stream file read: an id and some white space.
const STREAM_FILE_BYTES_MAX: u64 = 128;

/// Keeps the purifier's stream id for the next run.
///
/// # Errors
/// The file cannot be written.
pub fn save_stream(state_dir: &Path, stream: &StreamId) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    std::fs::write(state_dir.join(STREAM_FILE), stream.to_hex())
}

/// The purifier's seller and the hour it is reading.
#[derive(Debug)]
pub struct DataSeller {
    seller: Seller,
    /// The simulated hour being summed (its start, ms).
    hour_ms: u64,
    litres: f64,
    hardness_litres: f64,
    flushed_ms: u64,
    /// Withheld readings already counted by [`DataSeller::take_withheld`].
    withheld_told: u64,
}

impl DataSeller {
    /// Opens the SDK's seller on `stream`.
    ///
    /// # Errors
    /// What `Seller::open` refuses (a record not this device's, a damaged log).
    pub fn open(
        device: &Device,
        consent: SignedConsent,
        terms: StreamTerms,
        stream: StreamId,
    ) -> Result<DataSeller, SellerError> {
        let setup = SellerSetup {
            stream,
            terms,
            consent,
            chunk_points: CHUNK_POINTS,
        };
        let now = device.now().0;
        Ok(DataSeller {
            seller: Seller::open(device, setup)?,
            hour_ms: now - now % HOUR_MS,
            litres: 0.0,
            hardness_litres: 0.0,
            flushed_ms: now,
            withheld_told: 0,
        })
    }

    /// The hour of `[from_ms, to_ms)` that the purifier's sensors read as
    /// `reading` (a piece that does not cross an hour's end): summed, and
    /// sold as the hour's reading once the hour is over.
    ///
    /// # Errors
    /// The seller could not log or publish.
    pub fn take(
        &mut self,
        device: &Device,
        from_ms: u64,
        reading: &Reading,
    ) -> Result<(), SellerError> {
        let hour = from_ms - from_ms % HOUR_MS;
        if hour != self.hour_ms {
            self.close_hour(device)?;
            self.hour_ms = hour;
        }
        if reading.litres.is_finite() && reading.litres > 0.0 {
            self.litres += reading.litres;
            self.hardness_litres += reading.litres * reading.hardness_in_mg_l;
        }
        Ok(())
    }

    /// Publishes what is due at `now_ms`: closed aggregation windows and,
    /// every [`DATA_FLUSH_MS`], the open chunk.
    ///
    /// # Errors
    /// The seller could not log or publish.
    pub fn tick(&mut self, device: &Device, now_ms: u64) -> Result<(), SellerError> {
        if now_ms.saturating_sub(self.flushed_ms) >= DATA_FLUSH_MS {
            self.seller.tick(device, Timestamp(now_ms))?;
            self.flushed_ms = now_ms;
        }
        Ok(())
    }

    /// Sells the hour that just ended: its volume-weighted incoming
    /// hardness and its litres, stamped at the hour's last millisecond.
    fn close_hour(&mut self, device: &Device) -> Result<(), SellerError> {
        if self.litres <= 0.0 {
            return Ok(());
        }
        let at = Timestamp(self.hour_ms.saturating_add(HOUR_MS - 1));
        // Finite and non-negative, and far below i64::MAX: a household's
        // hour of water, and hardness in tenths of mg/l.
        #[allow(clippy::cast_possible_truncation)]
        let (hardness, litres) = (
            (self.hardness_litres / self.litres * 10.0).round() as i64,
            self.litres.round() as i64,
        );
        self.litres = 0.0;
        self.hardness_litres = 0.0;
        for (field, value) in [(FIELD_HARDNESS, hardness), (FIELD_CONSUMPTION, litres)] {
            let reading = FieldReading {
                field,
                value: Value::Number(value),
                at,
            };
            self.seller.push(device, reading)?;
        }
        Ok(())
    }

    /// Takes a buyer's key request or delivery note; answers whether a
    /// key was sold.
    ///
    /// # Errors
    /// The seller could not log, seal or send.
    pub async fn on_message(&mut self, device: &Device, m: &Message) -> Result<bool, SellerError> {
        match m {
            Message::KeyRequest { from, request } => {
                let answered = self.seller.answer(device, *from, request).await?;
                Ok(matches!(answered, Answered::Sold { .. }))
            }
            Message::Delivery { from, note } => {
                self.seller.on_delivery(*from, note);
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// Puts the buyers' acknowledgements on the ledger.
    ///
    /// # Errors
    /// The record could not be submitted.
    pub async fn record(&mut self, device: &Device) -> Result<usize, SellerError> {
        self.seller.record_deliveries(device).await
    }

    /// Readings the owner's record kept in since the last call.
    pub fn take_withheld(&mut self) -> u64 {
        let total: u64 = self.seller.stats().withheld.values().sum();
        let new = total.saturating_sub(self.withheld_told);
        self.withheld_told = total;
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::consent::filter::ConsentFilter;

    fn city() -> Scenario {
        Scenario::new(5, 60, 1_800_000_000_000).expect("a city")
    }

    #[test]
    fn each_policy_gives_its_record_and_the_same_city_the_same_bytes() {
        let s = city();
        let (owner, device, utility) = (
            Keypair::from_seed([1; 32]),
            Keypair::from_seed([2; 32]).account(),
            Keypair::from_seed([3; 32]).account(),
        );
        let mut seen = [false; 3];
        for h in s.households() {
            let a = consent(&s, h.id, &owner, device, utility, Hash32::ZERO).expect("valid");
            let b = consent(&s, h.id, &owner, device, utility, Hash32::ZERO).expect("valid");
            assert_eq!(
                a.as_ref().map(|c| c.encode()),
                b.as_ref().map(|c| c.encode())
            );
            let names = |c: &SignedConsent| -> Vec<String> {
                c.record.fields.iter().map(|f| f.name.clone()).collect()
            };
            match h.policy.consent {
                Consent::Refuses => {
                    assert!(a.is_none());
                    seen[0] = true;
                }
                Consent::DailySums => {
                    let c = a.expect("a record");
                    assert_eq!(names(&c), vec![FIELD_CONSUMPTION.to_owned()]);
                    assert!(matches!(
                        c.record.fields[0].use_,
                        FieldUse::Aggregate { .. }
                    ));
                    seen[1] = true;
                }
                Consent::Full => {
                    let c = a.expect("a record");
                    assert_eq!(names(&c).len(), 2);
                    seen[2] = true;
                }
            }
        }
        assert_eq!(seen, [true; 3], "sixty households show every policy");
    }

    #[test]
    fn a_daily_sums_record_lets_no_hardness_out() {
        let s = city();
        let owner = Keypair::from_seed([1; 32]);
        let h = s
            .households()
            .iter()
            .find(|h| h.policy.consent == Consent::DailySums)
            .expect("one household sums");
        let c = consent(
            &s,
            h.id,
            &owner,
            owner.account(),
            owner.account(),
            Hash32::ZERO,
        )
        .expect("valid")
        .expect("a record");
        let mut filter = ConsentFilter::new(c.record).expect("a filter");
        let at = Timestamp(s.start_ms() + HOUR_MS);
        let hardness = FieldReading {
            field: FIELD_HARDNESS,
            value: Value::Number(1500),
            at,
        };
        assert!(
            filter.push(hardness, &mut |_| {}).is_err(),
            "hardness withheld"
        );
        let litres = FieldReading {
            field: FIELD_CONSUMPTION,
            value: Value::Number(40),
            at,
        };
        assert!(
            filter.push(litres, &mut |_| {}).is_err(),
            "summed, not sent as read"
        );
    }
}

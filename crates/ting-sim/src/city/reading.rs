//! A battery sensor's report of its district's mains hardness: the body a
//! sensor sends through a gateway's uplink relay to the utility's mains
//! monitor.
//!
//! It is 18 bytes, fixed: `0x57 0x01 | sensor u16 | district u16 | t_ms u64 |
//! hardness u32`, little-endian, the hardness in tenths of a mg/l. The two
//! first bytes (a magic byte and a version) keep it from being taken for
//! any other `DATA`; a body of another length, or a hardness over
//! [`HARDNESS_DMG_L_MAX`], is refused by name.
//!
//! What travels is the report sealed by its sensor ([`Reading::seal`]):
//! the 18 bytes and the sensor's Ed25519 signature over
//! [`READING_DOMAIN`], the network's genesis hash and them, 82 bytes in
//! all. The gateway carries it but cannot forge or alter it: the monitor
//! checks the signature against the sensor's account ([`Reading::open`]).

use ting_core::keys::{verify, Signature};
use ting_core::{AccountId, Hash32, Keypair};

/// Magic and version of a report.
pub const READING_MAGIC: [u8; 2] = [0x57, 0x01];
/// Bytes of a report, always.
pub const READING_BYTES: usize = 18;
/// Bytes of a sealed report: the report and its sensor's signature.
pub const SEALED_READING_BYTES: usize = READING_BYTES + 64;
/// What a sensor's signature over a report is bound to.
pub const READING_DOMAIN: &[u8] = b"ting-demo/sensor-report/v1";
/// The hardest water a report may state, in tenths of a mg/l (2,000 mg/l:
/// several times the hardest tap water, so anything over it is a fault).
pub const HARDNESS_DMG_L_MAX: u32 = 20_000;

/// One report: which sensor, which district, when, and what it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub sensor: u16,
    pub district: u16,
    /// The report time (network ms) the reading is of.
    pub t_ms: u64,
    /// Hardness in tenths of a mg/l.
    pub hardness_dmg_l: u32,
}

/// Why bytes are not a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadingError {
    /// Not a report (another magic or version).
    NotReading,
    /// A report is `READING_BYTES` long; this one was not.
    Length(usize),
    /// The hardness is over `HARDNESS_DMG_L_MAX`.
    Hardness(u32),
    /// A sealed report is `SEALED_READING_BYTES` long; this one was not.
    SealedLength(usize),
    /// The report names no sensor of the city.
    UnknownSensor(u16),
    /// The signature is not the named sensor's over this report.
    BadSignature,
}

impl ReadingError {
    /// A stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            ReadingError::NotReading => "not_a_reading",
            ReadingError::Length(_) => "bad_length",
            ReadingError::Hardness(_) => "hardness_over_limit",
            ReadingError::SealedLength(_) => "bad_sealed_length",
            ReadingError::UnknownSensor(_) => "unknown_sensor",
            ReadingError::BadSignature => "bad_signature",
        }
    }
}

impl std::fmt::Display for ReadingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadingError::NotReading => write!(f, "not a sensor report"),
            ReadingError::Length(n) => {
                write!(f, "a sensor report is {READING_BYTES} bytes, not {n}")
            }
            ReadingError::Hardness(h) => {
                write!(f, "a hardness of {h} dmg/l is over {HARDNESS_DMG_L_MAX}")
            }
            ReadingError::SealedLength(n) => {
                write!(
                    f,
                    "a sealed report is {SEALED_READING_BYTES} bytes, not {n}"
                )
            }
            ReadingError::UnknownSensor(s) => write!(f, "sensor {s} is not one of the city's"),
            ReadingError::BadSignature => {
                write!(f, "the report is not signed by the sensor it names")
            }
        }
    }
}

impl std::error::Error for ReadingError {}

/// `mg_l` in tenths of a mg/l, rounded, within `0..=HARDNESS_DMG_L_MAX`
/// (a reading that is not a number counts as 0).
pub fn dmg_l(mg_l: f64) -> u32 {
    let tenths = (mg_l * 10.0).round();
    if tenths.is_nan() || tenths <= 0.0 {
        return 0;
    }
    let max = f64::from(HARDNESS_DMG_L_MAX);
    // Clamped to 0..=HARDNESS_DMG_L_MAX first, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let clamped = tenths.min(max) as u32;
    clamped
}

impl Reading {
    /// The report's bytes. A hardness over the limit is sent as the limit:
    /// a sensor never sends what the monitor must refuse.
    pub fn encode(&self) -> [u8; READING_BYTES] {
        let mut out = [0u8; READING_BYTES];
        out[..2].copy_from_slice(&READING_MAGIC);
        out[2..4].copy_from_slice(&self.sensor.to_le_bytes());
        out[4..6].copy_from_slice(&self.district.to_le_bytes());
        out[6..14].copy_from_slice(&self.t_ms.to_le_bytes());
        let hardness = self.hardness_dmg_l.min(HARDNESS_DMG_L_MAX);
        out[14..].copy_from_slice(&hardness.to_le_bytes());
        out
    }

    /// The report signed by its sensor's `key`, bound to the network of `genesis`.
    pub fn seal(&self, key: &Keypair, genesis: &Hash32) -> Vec<u8> {
        let body = self.encode();
        let signature = key.sign(&signed_message(genesis, &body));
        let mut out = Vec::with_capacity(SEALED_READING_BYTES);
        out.extend_from_slice(&body);
        out.extend_from_slice(&signature.0);
        out
    }

    /// Reads a sealed report, checking that the sensor it names (whose
    /// account `sensor_account` gives) signed it for this network.
    pub fn open(
        bytes: &[u8],
        genesis: &Hash32,
        sensor_account: impl Fn(u16) -> Option<AccountId>,
    ) -> Result<Reading, ReadingError> {
        if bytes.len() != SEALED_READING_BYTES {
            return Err(ReadingError::SealedLength(bytes.len()));
        }
        let (body, sig) = bytes.split_at(READING_BYTES);
        let reading = Reading::decode(body)?;
        let account =
            sensor_account(reading.sensor).ok_or(ReadingError::UnknownSensor(reading.sensor))?;
        let sig: [u8; 64] = sig.try_into().map_err(|_| ReadingError::BadSignature)?;
        verify(&account, &signed_message(genesis, body), &Signature(sig))
            .map_err(|_| ReadingError::BadSignature)?;
        Ok(reading)
    }

    /// Reads one whole report.
    pub fn decode(bytes: &[u8]) -> Result<Reading, ReadingError> {
        if bytes.get(..2) != Some(&READING_MAGIC[..]) {
            return Err(ReadingError::NotReading);
        }
        let b: &[u8; READING_BYTES] = bytes
            .try_into()
            .map_err(|_| ReadingError::Length(bytes.len()))?;
        let hardness_dmg_l = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
        if hardness_dmg_l > HARDNESS_DMG_L_MAX {
            return Err(ReadingError::Hardness(hardness_dmg_l));
        }
        Ok(Reading {
            sensor: u16::from_le_bytes([b[2], b[3]]),
            district: u16::from_le_bytes([b[4], b[5]]),
            t_ms: u64::from_le_bytes([b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13]]),
            hardness_dmg_l,
        })
    }
}

/// What a sensor signs: the domain, the genesis hash and the report.
fn signed_message(genesis: &Hash32, body: &[u8]) -> Vec<u8> {
    [READING_DOMAIN, &genesis.0, body].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_sensors_seal_on_this_network_opens() {
        let (key, other) = (Keypair::from_seed([5; 32]), Keypair::from_seed([6; 32]));
        let genesis = Hash32::digest(&[b"city"]);
        let accounts = |s: u16| (s == 3).then(|| key.account());
        let sealed = reading().seal(&key, &genesis);
        assert_eq!(sealed.len(), SEALED_READING_BYTES);
        assert_eq!(Reading::open(&sealed, &genesis, accounts), Ok(reading()));
        // A gateway that alters the hardness, a stranger's seal, another network.
        let mut altered = sealed.clone();
        altered[14] ^= 1;
        let forged = reading().seal(&other, &genesis);
        let elsewhere = reading().seal(&key, &Hash32::ZERO);
        for bad in [altered, forged, elsewhere] {
            assert_eq!(
                Reading::open(&bad, &genesis, accounts),
                Err(ReadingError::BadSignature)
            );
        }
        let unknown = Reading {
            sensor: 4,
            ..reading()
        }
        .seal(&key, &genesis);
        assert_eq!(
            Reading::open(&unknown, &genesis, accounts),
            Err(ReadingError::UnknownSensor(4))
        );
        assert_eq!(
            Reading::open(&sealed[..20], &genesis, accounts),
            Err(ReadingError::SealedLength(20))
        );
    }

    fn reading() -> Reading {
        Reading {
            sensor: 3,
            district: 2,
            t_ms: 1_800_000_900_000,
            hardness_dmg_l: 1_234,
        }
    }

    #[test]
    fn a_report_reads_back_as_itself_at_its_bounds() {
        let edge = Reading {
            sensor: u16::MAX,
            district: u16::MAX,
            t_ms: u64::MAX,
            hardness_dmg_l: HARDNESS_DMG_L_MAX,
        };
        for r in [reading(), edge] {
            let bytes = r.encode();
            assert_eq!(bytes.len(), READING_BYTES);
            assert_eq!(Reading::decode(&bytes), Ok(r));
        }
    }

    #[test]
    fn a_hardness_over_the_limit_is_sent_as_the_limit() {
        let r = Reading {
            hardness_dmg_l: u32::MAX,
            ..reading()
        };
        let back = Reading::decode(&r.encode()).expect("a report");
        assert_eq!(back.hardness_dmg_l, HARDNESS_DMG_L_MAX);
    }

    #[test]
    fn bad_bytes_are_refused_by_name() {
        let good = reading().encode();
        assert_eq!(Reading::decode(b""), Err(ReadingError::NotReading));
        assert_eq!(Reading::decode(b"hello"), Err(ReadingError::NotReading));
        let mut other_version = good;
        other_version[1] = 2;
        assert_eq!(
            Reading::decode(&other_version),
            Err(ReadingError::NotReading)
        );
        assert_eq!(
            Reading::decode(&good[..READING_BYTES - 1]),
            Err(ReadingError::Length(READING_BYTES - 1))
        );
        let mut long = good.to_vec();
        long.push(0);
        assert_eq!(
            Reading::decode(&long),
            Err(ReadingError::Length(READING_BYTES + 1))
        );
        let mut hard = good;
        hard[14..].copy_from_slice(&(HARDNESS_DMG_L_MAX + 1).to_le_bytes());
        let refused = Reading::decode(&hard);
        assert_eq!(refused, Err(ReadingError::Hardness(HARDNESS_DMG_L_MAX + 1)));
        assert_eq!(
            refused.map_err(ReadingError::code),
            Err("hardness_over_limit")
        );
    }

    #[test]
    fn hardness_is_kept_in_tenths_within_its_range() {
        assert_eq!(dmg_l(123.44), 1_234);
        assert_eq!(dmg_l(123.46), 1_235);
        assert_eq!(dmg_l(-4.0), 0);
        assert_eq!(dmg_l(f64::NAN), 0);
        assert_eq!(dmg_l(f64::INFINITY), HARDNESS_DMG_L_MAX);
        assert_eq!(dmg_l(1e9), HARDNESS_DMG_L_MAX);
    }
}

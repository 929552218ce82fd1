//! A battery sensor's report of its district's mains hardness: the body a
//! sensor sends through a gateway's uplink relay to the utility's mains
//! monitor.
//!
//! It is 18 bytes, fixed: `0x57 0x01 | sensor u16 | district u16 | t_ms u64 |
//! hardness u32`, little-endian, the hardness in tenths of a mg/l. The two
//! first bytes (a magic byte and a version) keep it from being taken for
//! any other `DATA`; a body of another length, or a hardness over
//! [`HARDNESS_DMG_L_MAX`], is refused by name.

/// Magic and version of a report.
pub const READING_MAGIC: [u8; 2] = [0x57, 0x01];
/// Bytes of a report, always.
pub const READING_BYTES: usize = 18;
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
}

impl ReadingError {
    /// A stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            ReadingError::NotReading => "not_a_reading",
            ReadingError::Length(_) => "bad_length",
            ReadingError::Hardness(_) => "hardness_over_limit",
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

#[cfg(test)]
mod tests {
    use super::*;

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

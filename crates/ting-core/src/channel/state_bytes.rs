//! The bytes of a payer's and a payee's channel state (docs/wire.md §13.9),
//! which a device persists before a payment leaves and after one arrives.
//! `ting-agent` frames them in its two-slot files; firmware can write them
//! into its own buffer with no heap ([`encode_payer_into`]).
//!
//! `version u8 (=2) | role u8 (1 payer, 2 payee) | terms | mode | proof?`,
//! integers little-endian, through `ting_core::encoding`. Decoding is strict
//! (known version and role, every tag known, no trailing bytes) and the
//! decoded state is then checked by `Payer::restore` / `Payee::restore`.

use crate::prelude::*;

use crate::channel::payee::{PayeeMode, PayeeSegment, PayeeState};
use crate::channel::payer::SEGMENTS_HELD_MAX;
use crate::channel::payer::{ChannelTerms, PayerMode, PayerSegment, PayerState};
use crate::channel::{ChainSegment, ChannelId, ChannelProof};
use crate::encoding::{BufferTooSmall, DecodeError, Reader, Sink, Writer};
use crate::types::{NetworkId, Timestamp};

/// The only record version this code reads and writes: 2, for channels of wire
/// version 2, whose ids are derived from the genesis hash. Version 1 records
/// are of wire version 1 networks and are refused.
pub const RECORD_VERSION: u8 = 2;
/// The longest state: a payer holding two segments and a voucher proof. It
/// fits the payload of one of `ting-agent`'s 512-byte file slots.
pub const STATE_BYTES_MAX: usize = 492;
const ROLE_PAYER: u8 = 1;
const ROLE_PAYEE: u8 = 2;
const MODE_HASH_CHAIN: u8 = 1;
const MODE_VOUCHER: u8 = 2;
const PROOF_TICK: u8 = 1;
const PROOF_VOUCHER: u8 = 2;

pub fn encode_payer(state: &PayerState) -> Vec<u8> {
    let mut w = Writer::with_capacity(STATE_BYTES_MAX);
    write_payer(&mut w, state);
    w.into_bytes()
}

/// [`encode_payer`] into the caller's buffer, with no heap: what firmware
/// persists before a payment leaves. Answers the length written.
pub fn encode_payer_into(state: &PayerState, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::over(out);
    write_payer(&mut w, state);
    w.finish()
}

/// [`encode_payee`] into the caller's buffer, with no heap.
pub fn encode_payee_into(state: &PayeeState, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::over(out);
    write_payee(&mut w, state);
    w.finish()
}

fn write_payer<S: Sink>(w: &mut Writer<S>, state: &PayerState) {
    w.u8(RECORD_VERSION).u8(ROLE_PAYER);
    terms(w, &state.terms);
    match &state.mode {
        PayerMode::HashChain {
            price,
            segments,
            paid_ticks,
        } => {
            w.u8(MODE_HASH_CHAIN).amount(*price).u64(*paid_ticks);
            w.u8(u8::try_from(segments.len()).expect("at most SEGMENTS_HELD_MAX"));
            for s in segments {
                w.u32(s.number).u64(s.base).u32(s.len).hash(&s.seed);
            }
        }
        PayerMode::Voucher { paid } => {
            w.u8(MODE_VOUCHER).amount(*paid);
        }
    }
    optional_proof(w, state.last_proof.as_ref());
}

pub fn decode_payer(bytes: &[u8]) -> Result<PayerState, DecodeError> {
    let mut r = header(bytes, ROLE_PAYER)?;
    let terms = read_terms(&mut r)?;
    let mode = match r.u8("mode")? {
        MODE_HASH_CHAIN => {
            let price = r.amount("price")?;
            let paid_ticks = r.u64("paid ticks")?;
            let count = segment_count(&mut r)?;
            let mut segments = Vec::with_capacity(count);
            for _ in 0..count {
                segments.push(PayerSegment {
                    number: r.u32("segment number")?,
                    base: r.u64("segment base")?,
                    len: r.u32("segment length")?,
                    seed: r.hash("segment seed")?,
                });
            }
            PayerMode::HashChain {
                price,
                segments,
                paid_ticks,
            }
        }
        MODE_VOUCHER => PayerMode::Voucher {
            paid: r.amount("voucher paid")?,
        },
        _ => return Err(DecodeError::InvalidValue { what: "mode" }),
    };
    let last_proof = read_optional_proof(&mut r)?;
    r.finish("payer record")?;
    Ok(PayerState {
        terms,
        mode,
        last_proof,
    })
}

pub fn encode_payee(state: &PayeeState) -> Vec<u8> {
    let mut w = Writer::with_capacity(STATE_BYTES_MAX);
    write_payee(&mut w, state);
    w.into_bytes()
}

fn write_payee<S: Sink>(w: &mut Writer<S>, state: &PayeeState) {
    w.u8(RECORD_VERSION).u8(ROLE_PAYEE);
    terms(w, &state.terms);
    match &state.mode {
        PayeeMode::HashChain {
            price,
            segments,
            claimed_ticks,
        } => {
            w.u8(MODE_HASH_CHAIN).amount(*price).u64(*claimed_ticks);
            w.u8(u8::try_from(segments.len()).expect("at most SEGMENTS_HELD_MAX"));
            for s in segments {
                w.u32(s.number)
                    .u64(s.base)
                    .hash(&s.chain.anchor)
                    .u32(s.chain.len);
            }
        }
        PayeeMode::Voucher { claimed } => {
            w.u8(MODE_VOUCHER).amount(*claimed);
        }
    }
    optional_proof(w, state.best.as_ref());
}

pub fn decode_payee(bytes: &[u8]) -> Result<PayeeState, DecodeError> {
    let mut r = header(bytes, ROLE_PAYEE)?;
    let terms = read_terms(&mut r)?;
    let mode = match r.u8("mode")? {
        MODE_HASH_CHAIN => {
            let price = r.amount("price")?;
            let claimed_ticks = r.u64("claimed ticks")?;
            let count = segment_count(&mut r)?;
            let mut segments = Vec::with_capacity(count);
            for _ in 0..count {
                segments.push(PayeeSegment {
                    number: r.u32("segment number")?,
                    base: r.u64("segment base")?,
                    chain: ChainSegment {
                        anchor: r.hash("segment anchor")?,
                        len: r.u32("segment length")?,
                    },
                });
            }
            PayeeMode::HashChain {
                price,
                segments,
                claimed_ticks,
            }
        }
        MODE_VOUCHER => PayeeMode::Voucher {
            claimed: r.amount("voucher claimed")?,
        },
        _ => return Err(DecodeError::InvalidValue { what: "mode" }),
    };
    let best = read_optional_proof(&mut r)?;
    r.finish("payee record")?;
    Ok(PayeeState { terms, mode, best })
}

/// The channel a record is about, without decoding the rest.
pub fn record_channel(bytes: &[u8]) -> Option<ChannelId> {
    let mut r = Reader::new(bytes.get(2..)?);
    r.u32("network").ok()?;
    r.hash("channel").ok().map(ChannelId)
}

fn header<'a>(bytes: &'a [u8], role: u8) -> Result<Reader<'a>, DecodeError> {
    let mut r = Reader::new(bytes);
    let version = r.u8("record version")?;
    if version != RECORD_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            what: "channel record",
            version,
        });
    }
    if r.u8("record role")? != role {
        return Err(DecodeError::InvalidValue {
            what: "record role",
        });
    }
    Ok(r)
}

fn segment_count(r: &mut Reader<'_>) -> Result<usize, DecodeError> {
    let count = usize::from(r.u8("segment count")?);
    if count > SEGMENTS_HELD_MAX {
        return Err(DecodeError::TooLong {
            what: "segments",
            len: count,
            max: SEGMENTS_HELD_MAX,
        });
    }
    Ok(count)
}

fn terms<S: Sink>(w: &mut Writer<S>, t: &ChannelTerms) {
    w.u32(t.network.0)
        .hash(&t.channel.0)
        .account(&t.payer)
        .account(&t.payee)
        .amount(t.deposit)
        .u64(t.expires_at.0);
}

fn read_terms(r: &mut Reader<'_>) -> Result<ChannelTerms, DecodeError> {
    Ok(ChannelTerms {
        network: NetworkId(r.u32("network")?),
        channel: ChannelId(r.hash("channel")?),
        payer: r.account("payer")?,
        payee: r.account("payee")?,
        deposit: r.amount("deposit")?,
        expires_at: Timestamp(r.u64("expires_at")?),
    })
}

fn optional_proof<S: Sink>(w: &mut Writer<S>, proof: Option<&ChannelProof>) {
    match proof {
        None => {
            w.u8(0);
        }
        Some(ChannelProof::Tick { index, preimage }) => {
            w.u8(1).u8(PROOF_TICK).u64(*index).hash(preimage);
        }
        Some(ChannelProof::Voucher { amount, signature }) => {
            w.u8(1)
                .u8(PROOF_VOUCHER)
                .amount(*amount)
                .signature(signature);
        }
    }
}

fn read_optional_proof(r: &mut Reader<'_>) -> Result<Option<ChannelProof>, DecodeError> {
    match r.u8("proof flag")? {
        0 => Ok(None),
        1 => match r.u8("proof kind")? {
            PROOF_TICK => Ok(Some(ChannelProof::Tick {
                index: r.u64("tick index")?,
                preimage: r.hash("preimage")?,
            })),
            PROOF_VOUCHER => Ok(Some(ChannelProof::Voucher {
                amount: r.amount("voucher amount")?,
                signature: r.signature("voucher signature")?,
            })),
            _ => Err(DecodeError::InvalidValue { what: "proof kind" }),
        },
        _ => Err(DecodeError::InvalidValue { what: "proof flag" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::payee::Payee;
    use crate::channel::payer::{NewSegment, Payer};
    use crate::{Amount, Hash32, Keypair};

    fn terms() -> ChannelTerms {
        ChannelTerms {
            network: NetworkId(3),
            channel: ChannelId(Hash32::digest(&[b"codec"])),
            payer: Keypair::from_seed([1; 32]).account(),
            payee: Keypair::from_seed([2; 32]).account(),
            deposit: Amount::new(1_000),
            expires_at: Timestamp(99),
        }
    }

    fn check_strict(bytes: &[u8], decode: impl Fn(&[u8]) -> Result<(), DecodeError>) {
        assert!(bytes.len() <= STATE_BYTES_MAX);
        assert_eq!(decode(bytes), Ok(()));
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "prefix of {len} bytes");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut newer = bytes.to_vec();
        newer[0] = RECORD_VERSION + 1;
        assert_eq!(decode(&newer).unwrap_err().code(), "unsupported_version");
    }

    #[test]
    fn records_round_trip_and_refuse_damage() {
        let seed = NewSegment {
            seed: Hash32::digest(&[b"s"]),
            len: 100,
        };
        let (mut payer, mode) = Payer::open_hash_chain(terms(), Amount::new(2), seed).unwrap();
        let prepared = payer.prepare_pay(5, Timestamp(1)).unwrap();
        let payment = payer.commit(prepared);
        let extra = NewSegment {
            seed: Hash32::digest(&[b"t"]),
            len: 50,
        };
        let prepared = payer
            .prepare_top_up(Amount::new(100), Timestamp(99), Some(extra))
            .unwrap();
        payer.commit(prepared);
        let bytes = encode_payer(payer.state());
        assert_eq!(decode_payer(&bytes).as_ref(), Ok(payer.state()));
        check_strict(&bytes, |b| decode_payer(b).map(|_| ()));
        assert!(
            decode_payee(&bytes).is_err(),
            "a payer record is not a payee's"
        );
        assert_eq!(record_channel(&bytes), Some(terms().channel));

        let mut payee = Payee::new(terms(), mode);
        payee.accept(&payment, Timestamp(1)).unwrap();
        let bytes = encode_payee(payee.state());
        assert_eq!(decode_payee(&bytes).as_ref(), Ok(payee.state()));
        check_strict(&bytes, |b| decode_payee(b).map(|_| ()));

        let key = Keypair::from_seed([1; 32]);
        let mut voucher = Payer::open_voucher(terms());
        let prepared = voucher
            .prepare_pay_amount(Amount::new(7), Timestamp(1), &key)
            .unwrap();
        voucher.commit(prepared);
        let bytes = encode_payer(voucher.state());
        assert_eq!(decode_payer(&bytes).as_ref(), Ok(voucher.state()));
        check_strict(&bytes, |b| decode_payer(b).map(|_| ()));

        // Firmware's forms: the same bytes in a caller's buffer, or how
        // long the buffer must be.
        let mut buf = [0u8; STATE_BYTES_MAX];
        for state in [payer.state(), voucher.state()] {
            let len = encode_payer_into(state, &mut buf).expect("fits");
            assert_eq!(&buf[..len], encode_payer(state).as_slice());
            let short = encode_payer_into(state, &mut buf[..len - 1]);
            assert_eq!(short.map_err(|e| e.need), Err(len));
        }
        let len = encode_payee_into(payee.state(), &mut buf).expect("fits");
        assert_eq!(&buf[..len], encode_payee(payee.state()).as_slice());
    }
}

//! Chunks: a buyer takes exactly the seller's points, in order, at one hash
//! a point and one signature a chunk, and refuses any change.

use proptest::prelude::*;

use crate::prelude::*;

use super::chunk::{Chunk, ChunkBuilder, Position, CHUNK_POINTS_MAX, POINT_BYTES_MAX};
use super::*;
use crate::keys::Keypair;

const GENESIS: Hash32 = Hash32([5; 32]);

fn seller() -> Keypair {
    Keypair::from_seed([31; 32])
}

fn stream() -> StreamId {
    StreamId(Hash32::digest(&[b"purifier hardness"]))
}

fn chunk_of(points: &[Vec<u8>], start: Position, epoch: u64) -> (Chunk, Position) {
    let mut b = ChunkBuilder::new(stream(), epoch, start);
    for p in points {
        b.push(p.clone()).expect("within limits");
    }
    b.sign(&seller(), &GENESIS)
}

#[test]
fn consecutive_chunks_verify_in_order_and_not_out_of_it() {
    let (first, after_first) = chunk_of(&[b"142".to_vec(), b"143".to_vec()], Position::START, 7);
    let (second, after_second) = chunk_of(&[b"141".to_vec()], after_first, 7);
    let me = seller().account();
    let at = first
        .verify(&GENESIS, &me, &Position::START)
        .expect("first");
    assert_eq!(at, after_first);
    assert_eq!(second.verify(&GENESIS, &me, &at), Ok(after_second));
    let skipped = second.verify(&GENESIS, &me, &Position::START);
    assert_eq!(skipped.map_err(|e| e.code()), Err("stream_gap"));
    let again = first.verify(&GENESIS, &me, &after_second);
    assert_eq!(again.map_err(|e| e.code()), Err("stream_gap"));
    let other = Keypair::from_seed([32; 32]).account();
    let forged = first.verify(&GENESIS, &other, &Position::START);
    assert_eq!(forged.map_err(|e| e.code()), Err("bad_signature"));
    let elsewhere = first.verify(&Hash32([6; 32]), &me, &Position::START);
    assert_eq!(elsewhere.map_err(|e| e.code()), Err("bad_signature"));
    assert_eq!(Chunk::decode(&second.encode()), Ok(second));
}

#[test]
fn a_full_chunk_or_a_long_point_is_refused_at_the_seller() {
    let mut b = ChunkBuilder::new(stream(), 0, Position::START);
    assert!(b.push(vec![0; POINT_BYTES_MAX + 1]).is_err());
    for _ in 0..CHUNK_POINTS_MAX {
        b.push(vec![1]).expect("room");
    }
    assert_eq!(b.push(vec![1]).map_err(|e| e.code()), Err("too_long"));
}

proptest! {
    // Each case signs and checks once: debug-build signing is slow.
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any change to a chunk's bytes (a point, the order, the epoch, the
    /// signature) is refused, or does not decode.
    #[test]
    fn every_changed_byte_is_refused(
        points in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..12),
        epoch in any::<u64>(),
        flip in any::<usize>(),
    ) {
        let (chunk, after) = chunk_of(&points, Position::START, epoch);
        let me = seller().account();
        prop_assert_eq!(chunk.verify(&GENESIS, &me, &Position::START), Ok(after));
        let mut bytes = chunk.encode();
        let i = flip % bytes.len();
        bytes[i] ^= 1 << (flip % 8);
        if let Ok(changed) = Chunk::decode(&bytes) {
            prop_assert!(changed.verify(&GENESIS, &me, &Position::START).is_err());
        }
    }
}

mod epochs {
    use super::*;
    use crate::seal::MessagingSecret;
    use crate::stream::epoch::{derive_epoch_key, EpochKey, POINT_TAG_BYTES};

    #[test]
    fn a_seller_makes_the_same_key_again_and_a_different_one_each_epoch() {
        let key = derive_epoch_key(&seller(), &stream(), 3);
        assert_eq!(key, derive_epoch_key(&seller(), &stream(), 3));
        assert_ne!(key, derive_epoch_key(&seller(), &stream(), 4));
        let other = StreamId(Hash32([1; 32]));
        assert_ne!(key, derive_epoch_key(&seller(), &other, 3));
        assert_ne!(
            key,
            derive_epoch_key(&Keypair::from_seed([1; 32]), &stream(), 3)
        );
    }

    #[test]
    fn a_point_opens_only_under_its_key_epoch_and_number() {
        let key = derive_epoch_key(&seller(), &stream(), 3);
        let sealed = key.seal(&stream(), 3, 17, b"hardness=142");
        assert_eq!(sealed.len(), 12 + POINT_TAG_BYTES);
        assert_eq!(
            key.open(&stream(), 3, 17, &sealed),
            Ok(b"hardness=142".to_vec())
        );
        let next = derive_epoch_key(&seller(), &stream(), 4);
        for (k, epoch, seq) in [(&next, 3, 17), (&key, 4, 17), (&key, 3, 18)] {
            let got = k.open(&stream(), epoch, seq, &sealed).map_err(|e| e.code());
            assert_eq!(got, Err("bad_point"));
        }
        let mut changed = sealed.clone();
        changed[0] ^= 1;
        assert!(key.open(&stream(), 3, 17, &changed).is_err());
        assert_eq!(
            key.open(&stream(), 3, 17, &sealed[..15])
                .map_err(|e| e.code()),
            Err("truncated")
        );
    }

    #[test]
    fn only_the_buyer_opens_the_key_sealed_to_it_for_that_epoch() {
        let buyer = MessagingSecret::derive(&[41; 32]);
        let key = derive_epoch_key(&seller(), &stream(), 9);
        let sealed = key
            .seal_to(
                &buyer.public(),
                &stream(),
                9,
                &mut crate::test_rng::CountingRng(5),
            )
            .expect("a valid messaging key");
        assert_eq!(EpochKey::open_from(&buyer, &stream(), 9, &sealed), Ok(key));
        let stranger = MessagingSecret::derive(&[42; 32]);
        assert!(EpochKey::open_from(&stranger, &stream(), 9, &sealed).is_err());
        assert!(EpochKey::open_from(&buyer, &stream(), 10, &sealed).is_err());
    }
}

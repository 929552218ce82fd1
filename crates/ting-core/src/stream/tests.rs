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

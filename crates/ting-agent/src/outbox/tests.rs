//! The outbox against a model: a `BTreeMap` of what was pushed and not removed.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use ting_core::AccountId;

use super::*;

fn tx(n: u8, len: usize) -> Item {
    Item::Tx(vec![n; len])
}

fn envelope(n: u8) -> Item {
    Item::Envelope {
        recipient: AccountId([n; 32]),
        bytes: vec![n; 100],
    }
}

fn live(outbox: &Outbox) -> BTreeMap<u64, Item> {
    outbox.entries().map(|(id, i)| (id, i.clone())).collect()
}

#[test]
fn pushed_entries_survive_a_reopen_and_removed_ones_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outbox = Outbox::open(dir.path()).expect("opens");
    let a = outbox.push(tx(1, 200)).expect("push");
    let b = outbox.push(envelope(2)).expect("push");
    let c = outbox.push(tx(3, 50)).expect("push");
    assert!(outbox.remove(b).expect("remove"));
    assert!(!outbox.remove(b).expect("second remove is a no-op"));
    drop(outbox);
    let outbox = Outbox::open(dir.path()).expect("reopens");
    let ids: Vec<u64> = outbox.entries().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![a, c]);
    assert_eq!(outbox.get(a), Some(&tx(1, 200)));
    assert_eq!(outbox.item_bytes(), 250);
}

#[test]
fn ids_are_never_reused_after_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outbox = Outbox::open(dir.path()).expect("opens");
    let a = outbox.push(tx(1, 10)).expect("push");
    outbox.push(tx(2, 10)).expect("push");
    let b = outbox.push(tx(3, 10)).expect("push");
    outbox.remove(b).expect("remove");
    drop(outbox);
    let mut outbox = Outbox::open(dir.path()).expect("reopens");
    assert!(outbox.push(tx(4, 10)).expect("push") > b);
    assert!(a < b);
}

#[test]
fn a_torn_last_append_is_cut_and_everything_before_it_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outbox = Outbox::open(dir.path()).expect("opens");
    outbox.push(tx(1, 30)).expect("push");
    outbox.push(tx(2, 30)).expect("push");
    let whole = outbox.file_bytes();
    drop(outbox);
    let torn = log::encode(&Record::Add {
        id: 9,
        item: tx(9, 40),
    });
    let mut file = OpenOptions::new()
        .append(true)
        .open(dir.path().join(LOG_NAME))
        .expect("open");
    file.write_all(&torn[..torn.len() - 5]).expect("write");
    drop(file);
    let mut outbox = Outbox::open(dir.path()).expect("reopens");
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox.file_bytes(), whole);
    outbox.push(tx(3, 30)).expect("appends after the cut");
    drop(outbox);
    assert_eq!(Outbox::open(dir.path()).expect("reopens").len(), 3);
}

#[test]
fn a_full_outbox_refuses_with_a_clear_error_and_keeps_what_it_has() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outbox = Outbox::open(dir.path()).expect("opens");
    for i in 0..OUTBOX_ENTRIES_MAX {
        outbox
            .push(tx(u8::try_from(i % 200).expect("small"), 1))
            .expect("push");
    }
    let err = outbox.push(tx(0, 1)).expect_err("full by entries");
    assert_eq!(err.code(), "outbox_full");
    assert_eq!(outbox.len(), OUTBOX_ENTRIES_MAX);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut outbox = Outbox::open(dir.path()).expect("opens");
    let big = log::ITEM_BYTES_MAX;
    while outbox.item_bytes() + big <= OUTBOX_BYTES_MAX {
        outbox.push(Item::Tx(vec![7; big])).expect("push");
    }
    assert_eq!(
        outbox
            .push(Item::Tx(vec![7; big]))
            .expect_err("full")
            .code(),
        "outbox_full"
    );
    let err = outbox
        .push(Item::Tx(vec![7; big + 1]))
        .expect_err("too large");
    assert_eq!(err.code(), "outbox_item_too_large");
}

#[test]
fn a_file_that_is_not_an_outbox_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(LOG_NAME), b"something else").expect("write");
    let err = Outbox::open(dir.path()).expect_err("refused");
    assert_eq!(err.code(), "not_an_outbox");
}

#[test]
fn an_outbox_of_wire_version_1_is_refused_whole_with_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = [&b"TGOBOX01"[..], &[0u8; 12]].concat();
    std::fs::write(dir.path().join(LOG_NAME), &old).expect("write");
    let err = Outbox::open(dir.path()).expect_err("refused");
    assert_eq!(err.code(), "wire_version_1_data");
    assert!(err.to_string().contains("new genesis"), "{err}");
    let kept = std::fs::read(dir.path().join(LOG_NAME)).expect("read");
    assert_eq!(kept, old, "the file is left alone");
}

#[test]
fn random_pushes_and_removes_match_a_model_and_the_file_stays_bounded() {
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outbox = Outbox::open(dir.path()).expect("opens");
    let mut model = BTreeMap::new();
    let mut file_max = 0;
    for step in 0..3_000u32 {
        let remove = !model.is_empty() && rng.random_range(0..100) < 48;
        if remove {
            let nth = rng.random_range(0..model.len());
            let id = *model.keys().nth(nth).expect("in range");
            model.remove(&id);
            assert!(outbox.remove(id).expect("remove"), "seed {seed}");
        } else {
            let len = rng.random_range(1..4_000);
            let item = tx(u8::try_from(step % 251).expect("small"), len);
            match outbox.push(item.clone()) {
                Ok(id) => {
                    model.insert(id, item);
                }
                Err(e) => assert_eq!(e.code(), "outbox_full", "seed {seed}"),
            }
        }
        file_max = file_max.max(outbox.file_bytes());
        if rng.random_range(0..200) == 0 {
            drop(outbox);
            outbox = Outbox::open(dir.path()).expect("reopens");
        }
        assert_eq!(live(&outbox), model, "seed {seed}, step {step}");
    }
    let bound = 2 * (OUTBOX_BYTES_MAX as u64 + 64 * 1024) + COMPACT_DEAD_BYTES_MIN;
    assert!(
        file_max <= bound,
        "seed {seed}: file reached {file_max} bytes"
    );
    drop(outbox);
    assert_eq!(
        live(&Outbox::open(dir.path()).expect("reopens")),
        model,
        "seed {seed}"
    );
}

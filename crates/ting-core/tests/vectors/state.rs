//! State-map vectors, checked by hand from docs/wire.md §15: records laid out
//! byte by byte from their fields, keys and value hashes as tagged SHA-256,
//! buckets from the key's first 16 bits, the root rebuilt over all 65,536
//! buckets, each proof walked up to it and re-encoded, and each answer
//! accepted by ting-core and refused once tampered with.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use ting_core::block::BlockHeader;
use ting_core::channel::{Channel, ChannelId};
use ting_core::encoding::{Reader, Writer};
use ting_core::state_map::{self, AccountRecord};
use ting_core::state_proof::{StateAnswer, StateCheck};
use ting_core::state_tree::{bucket_of, StateProof, StateTree};
use ting_core::{AccountId, BlockHeight, Hash32, Keypair};

use super::{
    check_header, dec_u64, flip, hash, header_from_fields, hex32, hex_bytes, list, num_u32, sha256,
    vectors,
};

/// A key of the state map and the hash of its value.
type Entry = ([u8; 32], [u8; 32]);

/// Levels of the tree above the buckets: 2^16 buckets.
const DEPTH: usize = 16;
/// A signed header's length, where an answer's record flag starts.
const HEADER_LEN: usize = 253;

fn push_u64(b: &mut Vec<u8>, v: &Value) {
    b.extend_from_slice(&dec_u64(v).to_le_bytes());
}

/// Balance, nonce, device flag (owner, metadata, limit flag and limit,
/// frozen, spent day, spent), messaging-key flag and key.
fn account_record_by_hand(r: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    push_u64(&mut b, &r["balance"]);
    push_u64(&mut b, &r["nonce"]);
    let d = &r["device"];
    if d.is_null() {
        b.push(0);
    } else {
        b.push(1);
        b.extend_from_slice(&hex32(&d["owner"]));
        let metadata = hex_bytes(&d["metadata_hex"]);
        b.extend_from_slice(&u16::try_from(metadata.len()).expect("short").to_le_bytes());
        b.extend_from_slice(&metadata);
        if d["per_day"].is_null() {
            b.push(0);
        } else {
            b.push(1);
            push_u64(&mut b, &d["per_day"]);
        }
        b.push(u8::from(d["frozen"].as_bool().expect("a bool")));
        push_u64(&mut b, &d["spent_day"]);
        push_u64(&mut b, &d["spent"]);
    }
    if r["messaging_key"].is_null() {
        b.push(0);
    } else {
        b.push(1);
        b.extend_from_slice(&hex32(&r["messaging_key"]));
    }
    b
}

fn push_segment(b: &mut Vec<u8>, s: &Value) {
    b.extend_from_slice(&hex32(&s["anchor"]));
    b.extend_from_slice(&num_u32(&s["len"]).to_le_bytes());
}

/// Payer, payee, deposit, claimed, opened and expiry times, the mode with a
/// hash chain's progress, and how the channel was closed, if it was.
fn channel_record_by_hand(c: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&hex32(&c["payer"]));
    b.extend_from_slice(&hex32(&c["payee"]));
    for field in ["deposit", "claimed", "opened_at", "expires_at"] {
        push_u64(&mut b, &c[field]);
    }
    match c["mode"].as_str() {
        Some("hash_chain") => {
            b.push(1);
            push_u64(&mut b, &c["price"]);
            b.extend_from_slice(&num_u32(&c["segment"]).to_le_bytes());
            push_u64(&mut b, &c["base"]);
            push_segment(&mut b, &c["current"]);
            if c["next"].is_null() {
                b.push(0);
            } else {
                b.push(1);
                push_segment(&mut b, &c["next"]);
            }
            push_u64(&mut b, &c["claimed_index"]);
            b.extend_from_slice(&hex32(&c["claimed_tick"]));
        }
        Some("voucher") => b.push(2),
        other => panic!("unknown channel mode {other:?}"),
    }
    let closed = &c["closed"];
    if closed.is_null() {
        b.push(0);
    } else {
        b.push(1);
        push_u64(&mut b, &closed["at"]);
        push_u64(&mut b, &closed["refunded"]);
        b.push(match closed["by"].as_str() {
            Some("closed_by_payee") => 1,
            Some("reclaimed_by_payer") => 2,
            other => panic!("unknown closing {other:?}"),
        });
    }
    b
}

fn record_by_hand(kind: &str, fields: &Value) -> Vec<u8> {
    match kind {
        "account" => account_record_by_hand(fields),
        "channel" => channel_record_by_hand(fields),
        other => panic!("unknown state kind {other:?}"),
    }
}

fn key_by_hand(kind: &str, id: &[u8; 32]) -> [u8; 32] {
    let tag: &[u8] = match kind {
        "account" => b"ting:state-key:account:v1",
        _ => b"ting:state-key:channel:v1",
    };
    sha256(&[tag, id])
}

fn value_hash_by_hand(kind: &str, record: &[u8]) -> [u8; 32] {
    let tag: &[u8] = match kind {
        "account" => b"ting:state-value:account:v1",
        _ => b"ting:state-value:channel:v1",
    };
    sha256(&[tag, record])
}

/// The first 16 bits of the key, big-endian.
fn bucket_by_hand(key: &[u8; 32]) -> u64 {
    u64::from(u16::from_be_bytes([key[0], key[1]]))
}

/// `SHA-256("ting:state-bucket:v1" || u32 count || (key || value hash) × count)`.
fn bucket_hash_by_hand(entries: &[Entry]) -> [u8; 32] {
    let count = u32::try_from(entries.len()).expect("few").to_le_bytes();
    let mut parts: Vec<&[u8]> = vec![b"ting:state-bucket:v1", &count];
    for (key, value) in entries {
        parts.push(key);
        parts.push(value);
    }
    sha256(&parts)
}

fn node_by_hand(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[b"ting:state-node:v1", left, right])
}

/// The root over all 65,536 buckets, hashing only the paths of non-empty
/// ones: every empty subtree of a level has the same hash.
fn root_by_hand(entries: &[Entry]) -> [u8; 32] {
    let mut buckets: BTreeMap<u64, Vec<Entry>> = BTreeMap::new();
    for entry in entries {
        buckets
            .entry(bucket_by_hand(&entry.0))
            .or_default()
            .push(*entry);
    }
    let mut level: BTreeMap<u64, [u8; 32]> = buckets
        .into_iter()
        .map(|(i, mut bucket)| {
            bucket.sort();
            (i, bucket_hash_by_hand(&bucket))
        })
        .collect();
    let mut empty = bucket_hash_by_hand(&[]);
    for _ in 0..DEPTH {
        let parents: BTreeSet<u64> = level.keys().map(|i| i / 2).collect();
        level = parents
            .into_iter()
            .map(|p| {
                let left = level.get(&(2 * p)).unwrap_or(&empty);
                let right = level.get(&(2 * p + 1)).unwrap_or(&empty);
                (p, node_by_hand(left, right))
            })
            .collect();
        empty = node_by_hand(&empty, &empty);
    }
    level.get(&0).copied().unwrap_or(empty)
}

/// One listed record: its bytes, key, value hash and bucket by hand and
/// through the API. Returns its entry.
fn check_state_entry(what: &str, v: &Value) -> Entry {
    let name = format!("{what}: {}", v["name"]);
    let kind = v["kind"].as_str().expect("a kind");
    let id = hex32(&v["id"]);
    let record = record_by_hand(kind, &v["record"]);
    assert_eq!(hex::encode(&record), v["record_hex"], "{name}: record");
    let key = key_by_hand(kind, &id);
    assert_eq!(hex::encode(key), v["key_hex"], "{name}: key");
    let value = value_hash_by_hand(kind, &record);
    assert_eq!(
        hex::encode(value),
        v["value_hash_hex"],
        "{name}: value hash"
    );
    assert_eq!(Some(bucket_by_hand(&key)), v["bucket"].as_u64(), "{name}");
    assert_eq!(
        bucket_of(&Hash32(key)) as u64,
        bucket_by_hand(&key),
        "{name}"
    );
    let (api_key, api_value) = match kind {
        "account" => {
            let decoded = AccountRecord::from_record(&record).expect("the record decodes");
            assert_eq!(decoded.to_record(), record, "{name}: re-encodes");
            (
                state_map::account_key(&AccountId(id)),
                state_map::account_value_hash(&record),
            )
        }
        _ => {
            let decoded = Channel::from_record(&record).expect("the record decodes");
            assert_eq!(decoded.to_record(), record, "{name}: re-encodes");
            state_map::channel_entry(&ChannelId(Hash32(id)), &decoded)
        }
    };
    assert_eq!((api_key, api_value), (Hash32(key), Hash32(value)), "{name}");
    (key, value)
}

/// The root of `entries`, by hand and through `StateTree`.
fn check_root(what: &str, entries: &[Entry], root: &Hash32) {
    assert_eq!(Hash32(root_by_hand(entries)), *root, "{what}: root by hand");
    let tree = StateTree::from_entries(entries.iter().map(|(k, v)| (Hash32(*k), Hash32(*v))));
    assert_eq!(tree.root(), *root, "{what}: StateTree root");
    assert_eq!(tree.len(), entries.len(), "{what}: distinct keys");
}

/// A block vector's `state`: the records its state root was computed from.
pub(super) fn check_block_state(name: &str, v: &Value, root: &Hash32) {
    let state = v["state"].as_array().expect("a state list");
    assert!(
        !state.is_empty(),
        "{name}: the state holds the genesis accounts"
    );
    let entries: Vec<Entry> = state.iter().map(|e| check_state_entry(name, e)).collect();
    check_root(name, &entries, root);
}

fn proof_by_hand(bucket: u64, entries: &[Entry], siblings: &[[u8; 32]]) -> Vec<u8> {
    let mut b = u32::try_from(bucket)
        .expect("a bucket")
        .to_le_bytes()
        .to_vec();
    b.extend_from_slice(&u32::try_from(entries.len()).expect("few").to_le_bytes());
    for (key, value) in entries {
        b.extend_from_slice(key);
        b.extend_from_slice(value);
    }
    b.push(u8::try_from(siblings.len()).expect("few"));
    siblings.iter().for_each(|s| b.extend_from_slice(s));
    b
}

/// From the bucket's hash up the 16 levels, the path node on the left when its index is even.
fn walk_by_hand(bucket: u64, entries: &[Entry], siblings: &[[u8; 32]]) -> [u8; 32] {
    let mut hash = bucket_hash_by_hand(entries);
    let mut at = bucket;
    for sibling in siblings {
        hash = if at.is_multiple_of(2) {
            node_by_hand(&hash, sibling)
        } else {
            node_by_hand(sibling, &hash)
        };
        at /= 2;
    }
    hash
}

/// What the answer in `bytes` says `id` holds, re-encoded, or the refusal's code.
fn verify(
    kind: &str,
    id: &[u8; 32],
    bytes: &[u8],
    check: &StateCheck<'_>,
) -> Result<Option<Vec<u8>>, &'static str> {
    let answer = StateAnswer::from_bytes(bytes).map_err(|e| e.code())?;
    let got = match kind {
        "account" => answer
            .verify_account(&AccountId(*id), check)
            .map(|r| r.map(|r| r.to_record())),
        _ => answer
            .verify_channel(&ChannelId(Hash32(*id)), check)
            .map(|c| c.map(|c| c.to_record())),
    };
    got.map_err(|e| e.code())
}

/// What every state-proof vector is checked against.
struct Group<'a> {
    entries: &'a [Entry],
    root: [u8; 32],
    header: &'a BlockHeader,
    header_bytes: Vec<u8>,
    genesis: Hash32,
}

/// The proof's entries are the bucket's, its bytes and its walk to the root
/// are as §15 lays them out, and the API agrees.
fn check_proof_bytes(name: &str, v: &Value, g: &Group<'_>, key: &[u8; 32]) -> Vec<u8> {
    let bucket = bucket_by_hand(key);
    let p = &v["proof"];
    assert_eq!(u64::from(num_u32(&p["bucket"])), bucket, "{name}: bucket");
    let mut in_bucket: Vec<Entry> = g
        .entries
        .iter()
        .filter(|e| bucket_by_hand(&e.0) == bucket)
        .copied()
        .collect();
    in_bucket.sort();
    let listed: Vec<Entry> = p["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (hex32(&e["key"]), hex32(&e["value_hash"])))
        .collect();
    assert_eq!(listed, in_bucket, "{name}: the whole bucket, sorted");
    let siblings: Vec<[u8; 32]> = p["siblings_hex"]
        .as_array()
        .expect("siblings")
        .iter()
        .map(hex32)
        .collect();
    assert_eq!(siblings.len(), DEPTH, "{name}: one sibling per level");
    assert_eq!(
        walk_by_hand(bucket, &listed, &siblings),
        g.root,
        "{name}: walk"
    );
    let bytes = proof_by_hand(bucket, &listed, &siblings);
    assert_eq!(hex::encode(&bytes), v["proof_hex"], "{name}: proof bytes");
    let mut r = Reader::new(&bytes);
    let proof = StateProof::decode(&mut r).expect("the proof decodes");
    assert_eq!(r.finish("state proof"), Ok(()), "{name}: whole proof");
    let mut w = Writer::with_capacity(bytes.len());
    proof.encode(&mut w);
    assert_eq!(w.into_bytes(), bytes, "{name}: re-encodes");
    let tree = StateTree::from_entries(g.entries.iter().map(|(k, v)| (Hash32(*k), Hash32(*v))));
    assert_eq!(tree.prove(&Hash32(*key)), proof, "{name}: StateTree::prove");
    let committed = listed.iter().find(|e| e.0 == *key).map(|e| Hash32(e.1));
    assert_eq!(
        proof.verify(&Hash32(*key), &Hash32(g.root)),
        Ok(committed),
        "{name}: StateProof::verify"
    );
    bytes
}

fn check_state_proof(v: &Value, g: &Group<'_>) {
    let name = v["name"].as_str().expect("a name");
    let kind = v["kind"].as_str().expect("a kind");
    let id = hex32(&v["id"]);
    let key = key_by_hand(kind, &id);
    assert_eq!(hex::encode(key), v["key_hex"], "{name}: key");
    assert_eq!(Some(bucket_by_hand(&key)), v["bucket"].as_u64(), "{name}");
    let held = g.entries.iter().find(|e| e.0 == key);
    let present = v["present"].as_bool().expect("a bool");
    assert_eq!(held.is_some(), present, "{name}: present as listed");
    let record = (!v["record_hex"].is_null()).then(|| hex_bytes(&v["record_hex"]));
    assert_eq!(record.is_some(), present, "{name}: a record iff present");
    if let (Some(record), Some(entry)) = (&record, held) {
        let value = value_hash_by_hand(kind, record);
        assert_eq!(value, entry.1, "{name}: the record is the entry's");
        assert_eq!(hex::encode(value), v["value_hash_hex"], "{name}");
    } else {
        assert!(v["value_hash_hex"].is_null(), "{name}: no value hash");
    }
    let proof = check_proof_bytes(name, v, g, &key);
    let mut answer = g.header_bytes.clone();
    match &record {
        Some(r) => {
            answer.push(1);
            answer.extend_from_slice(&u16::try_from(r.len()).expect("short").to_le_bytes());
            answer.extend_from_slice(r);
        }
        None => answer.push(0),
    }
    answer.extend_from_slice(&proof);
    assert_eq!(
        hex::encode(&answer),
        v["answer_hex"],
        "{name}: answer bytes"
    );
    let decoded = StateAnswer::from_bytes(&answer).expect("the answer decodes");
    assert_eq!(decoded.header, *g.header, "{name}: the group's header");
    assert_eq!(decoded.to_bytes(), answer, "{name}: re-encodes");
    check_answer(name, kind, &id, &answer, record, g);
}

/// The answer is accepted, and refused once tampered with or checked
/// against another network, another sequencer or a later height.
fn check_answer(
    name: &str,
    kind: &str,
    id: &[u8; 32],
    answer: &[u8],
    record: Option<Vec<u8>>,
    g: &Group<'_>,
) {
    let sequencers = [g.header.sequencer];
    let at = g.header.height;
    let check = StateCheck {
        genesis: &g.genesis,
        sequencers: &sequencers,
        min_height: at,
    };
    let present = record.is_some();
    assert_eq!(verify(kind, id, answer, &check), Ok(record), "{name}");
    let seen = BlockHeight(at.0 + 1);
    let later = StateCheck {
        min_height: seen,
        ..check
    };
    assert_eq!(
        verify(kind, id, answer, &later),
        Err("stale_state"),
        "{name}"
    );
    let mut other = g.genesis;
    flip(&mut other.0, 31);
    let elsewhere = StateCheck {
        genesis: &other,
        ..check
    };
    assert_eq!(
        verify(kind, id, answer, &elsewhere),
        Err("wrong_network"),
        "{name}"
    );
    let stranger = [Keypair::from_seed([0x42; 32]).account()];
    let unknown = StateCheck {
        sequencers: &stranger,
        ..check
    };
    assert_eq!(
        verify(kind, id, answer, &unknown),
        Err("unknown_sequencer"),
        "{name}"
    );
    let tampered = |at: usize| {
        let mut bytes = answer.to_vec();
        flip(&mut bytes, at);
        verify(kind, id, &bytes, &check)
    };
    let siblings_at = answer.len() - DEPTH * 32;
    for level in [0, DEPTH - 1] {
        let at = siblings_at + level * 32 + 7;
        assert_eq!(
            tampered(at),
            Err("proof_wrong_root"),
            "{name}: sibling {level}"
        );
    }
    assert_eq!(
        tampered(HEADER_LEN - 1),
        Err("bad_header_signature"),
        "{name}"
    );
    if present {
        let record_at = HEADER_LEN + 1 + 2;
        assert_eq!(
            tampered(record_at),
            Err("proof_record_mismatch"),
            "{name}: record"
        );
        let mut withheld = StateAnswer::from_bytes(answer).expect("decodes");
        withheld.record = None;
        let bytes = withheld.to_bytes();
        assert_eq!(
            verify(kind, id, &bytes, &check),
            Err("proof_record_mismatch"),
            "{name}: the record withheld"
        );
    } else {
        let mut invented = StateAnswer::from_bytes(answer).expect("decodes");
        invented.record = Some(AccountRecord::default().to_record());
        let bytes = invented.to_bytes();
        assert_eq!(
            verify(kind, id, &bytes, &check),
            Err("proof_record_mismatch"),
            "{name}: a record for an absent key"
        );
    }
}

#[test]
fn every_state_proof_vector_matches_and_verifies() {
    let group = &vectors()["state_proofs"];
    let entries: Vec<Entry> = group["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| check_state_entry("state_proofs", e))
        .collect();
    let root = hex32(&group["root_hex"]);
    check_root("state_proofs", &entries, &Hash32(root));
    let h = &group["header"];
    let key = Keypair::from_seed(hex32(&group["sequencer_seed_hex"]));
    let header = header_from_fields(&h["fields"], &key);
    check_header("state_proofs header", &h["fields"], &header, h);
    assert_eq!(
        header.state_root,
        Hash32(root),
        "the header carries the root"
    );
    let genesis = hash(&list("genesis")[0]["genesis_hash_hex"]);
    assert_eq!(header.genesis, genesis, "the vector genesis");
    let g = Group {
        entries: &entries,
        root,
        header: &header,
        header_bytes: header.to_bytes(),
        genesis,
    };
    let proofs = group["proofs"].as_array().expect("proofs");
    proofs.iter().for_each(|p| check_state_proof(p, &g));
    for e in group["entries"].as_array().expect("entries") {
        let proved = proofs.iter().any(|p| p["key_hex"] == e["key_hex"]);
        assert!(proved, "{}: every entry has its proof", e["name"]);
    }
    let absent = |shared: bool| {
        proofs.iter().any(|p| {
            p["present"] == false
                && p["proof"]["entries"]
                    .as_array()
                    .is_some_and(|e| e.is_empty())
                    != shared
        })
    };
    assert!(absent(false), "an absent key in an empty bucket");
    assert!(absent(true), "an absent key in a bucket that holds another");
}

#[test]
fn the_state_proof_records_cover_each_kind_of_part() {
    let entries = vectors()["state_proofs"]["entries"]
        .as_array()
        .expect("entries");
    let has = |test: &dyn Fn(&Value) -> bool| entries.iter().any(|e| test(&e["record"]));
    assert!(has(&|r| r["device"].is_null()
        && r["messaging_key"].is_null()
        && !r["balance"].is_null()));
    assert!(has(
        &|r| r["device"]["per_day"].is_string() && r["messaging_key"].is_string()
    ));
    assert!(has(&|r| r["mode"] == "hash_chain" && r["next"].is_object()));
}

/// The hashes docs/wire.md §15.3 gives for an empty bucket and an empty map.
#[test]
fn an_empty_bucket_and_an_empty_map_hash_as_documented() {
    let bucket = "135d2edbd4595acf9710e20bcb9c8b3fedfaa6ceae9626aecf576ccc5420c8ce";
    assert_eq!(hex::encode(bucket_hash_by_hand(&[])), bucket);
    let root = "b37a3362a2e8743b5f6f6b413842ef9edcc4efeb07485decc5e4daa2f84a7ddb";
    assert_eq!(hex::encode(root_by_hand(&[])), root);
    assert_eq!(StateTree::default().root().to_hex(), root);
}

//! The state-map vectors (docs/wire.md §15): the records behind the block
//! vectors' state roots, and a small tree with a proof and a signed answer
//! for each of its keys and for two keys it does not hold.
//!
//! The block state is written out by hand rather than by running the ledger:
//! ting-core cannot depend on ting-ledger, and four transactions are few
//! enough to follow (the comments on [`state_after_block_1`] say where each
//! number comes from).

use serde_json::{json, Value};
use ting_core::block::{Block, BlockDraft, BlockHeader};
use ting_core::channel::{Channel, ChannelTerms, HashChainState};
use ting_core::encoding::Writer;
use ting_core::state_map::{self, Account, AccountRecord, Device};
use ting_core::state_proof::{StateAnswer, StateCheck};
use ting_core::state_tree::{bucket_of, StateEntry, StateProof, StateTree};
use ting_core::{
    AccountId, Amount, BlockHeight, ChainSegment, ChannelId, Hash32, MessagingSecret, Nonce,
    Timestamp,
};

use super::{
    chain_a0, chain_a1, channel_a, channel_of, genesis_hash, header_fields, hex_list, id, key,
    seed, CHAIN_LEN, DAY_MS, GENESIS_MS, TICK_PRICE,
};

/// Height of the header the state answers are signed under.
const ANSWER_HEIGHT: u64 = 42;
/// Most channel nonces tried when looking for an absent key that shares a bucket.
const GRIND_NONCES_MAX: u64 = 1 << 22;

/// What a key of the state map names.
enum Named {
    Account {
        id: AccountId,
        record: AccountRecord,
    },
    Channel {
        id: ChannelId,
        channel: Channel,
    },
}

/// One key of the state map with the record it holds.
pub(crate) struct StateItem {
    name: &'static str,
    named: Named,
}

impl StateItem {
    fn key(&self) -> Hash32 {
        match &self.named {
            Named::Account { id, .. } => state_map::account_key(id),
            Named::Channel { id, .. } => state_map::channel_key(id),
        }
    }

    fn record(&self) -> Vec<u8> {
        match &self.named {
            Named::Account { record, .. } => record.to_record(),
            Named::Channel { channel, .. } => channel.to_record(),
        }
    }

    fn value_hash(&self) -> Hash32 {
        match &self.named {
            Named::Account { .. } => state_map::account_value_hash(&self.record()),
            Named::Channel { .. } => state_map::channel_value_hash(&self.record()),
        }
    }

    fn entry(&self) -> StateEntry {
        (self.key(), self.value_hash())
    }

    fn kind(&self) -> &'static str {
        match self.named {
            Named::Account { .. } => "account",
            Named::Channel { .. } => "channel",
        }
    }

    fn id_hex(&self) -> String {
        match &self.named {
            Named::Account { id, .. } => id.to_hex(),
            Named::Channel { id, .. } => id.to_hex(),
        }
    }

    /// `name`, `kind`, `id`, the record's fields, its bytes, key, value hash and bucket.
    pub(crate) fn json(&self) -> Value {
        let fields = match &self.named {
            Named::Account { record, .. } => account_json(record),
            Named::Channel { channel, .. } => channel_json(channel),
        };
        json!({
            "name": self.name,
            "kind": self.kind(),
            "id": self.id_hex(),
            "record": fields,
            "record_hex": hex::encode(self.record()),
            "key_hex": self.key().to_hex(),
            "value_hash_hex": self.value_hash().to_hex(),
            "bucket": bucket_of(&self.key()),
        })
    }
}

fn account(name: &'static str, balance: u64, nonce: u64) -> StateItem {
    StateItem {
        name,
        named: Named::Account {
            id: id(name),
            record: AccountRecord {
                account: Account {
                    balance: Amount::new(balance),
                    nonce: Nonce(nonce),
                },
                device: None,
                messaging_key: None,
            },
        },
    }
}

/// The device `device` of `owner`, with the metadata of the `register_device` vector.
fn device_of_owner(per_day: Option<u64>, spent_day: u64, spent: u64) -> Device {
    Device {
        owner: id("owner"),
        metadata: b"model=aqua-p2;serial=000417".to_vec(),
        per_day: per_day.map(Amount::new),
        frozen: false,
        spent_day,
        spent: Amount::new(spent),
    }
}

/// Every record after block 1, which is the whole state the ledger holds then.
/// The genesis gives the issuer an empty account and `owner` 500 and `owner2`
/// 70. Block 1 then mints 1,000,000 to `alice` (the issuer's nonce becomes 1),
/// `alice` sends 250,000 and 1 to `bob` (749,999 left, nonce 2; `bob`
/// 250,001, nonce 0), and `owner` registers `device` (owner's nonce 1; the
/// device has no money yet, no limit and nothing spent).
pub(crate) fn state_after_block_1() -> Vec<StateItem> {
    let device = StateItem {
        name: "device",
        named: Named::Account {
            id: id("device"),
            record: AccountRecord {
                account: Account::default(),
                device: Some(device_of_owner(None, 0, 0)),
                messaging_key: None,
            },
        },
    };
    vec![
        account("issuer", 0, 1),
        account("owner", 500, 1),
        account("owner2", 70, 0),
        account("alice", 749_999, 2),
        account("bob", 250_001, 0),
        device,
    ]
}

/// The root of a state map holding `items`.
pub(crate) fn root_of(items: &[StateItem]) -> Hash32 {
    StateTree::from_entries(items.iter().map(StateItem::entry)).root()
}

fn amount_text(a: Amount) -> String {
    a.base_units().to_string()
}

fn account_json(r: &AccountRecord) -> Value {
    let device = r.device.as_ref().map(|d| {
        json!({
            "owner": d.owner.to_hex(),
            "metadata_hex": hex::encode(&d.metadata),
            "per_day": d.per_day.map(amount_text),
            "frozen": d.frozen,
            "spent_day": d.spent_day.to_string(),
            "spent": amount_text(d.spent),
        })
    });
    json!({
        "balance": amount_text(r.account.balance),
        "nonce": r.account.nonce.0.to_string(),
        "device": device,
        "messaging_key": r.messaging_key.map(|k| k.to_hex()),
    })
}

fn segment_json(s: &ChainSegment) -> Value {
    json!({ "anchor": s.anchor.to_hex(), "len": s.len })
}

fn channel_json(c: &Channel) -> Value {
    let mut v = json!({
        "payer": c.payer.to_hex(),
        "payee": c.payee.to_hex(),
        "deposit": amount_text(c.deposit),
        "claimed": amount_text(c.claimed),
        "opened_at": c.opened_at.0.to_string(),
        "expires_at": c.expires_at.0.to_string(),
        "mode": c.mode_name(),
        "closed": c.closed.map(|x| json!({
            "at": x.at.0.to_string(),
            "refunded": amount_text(x.refunded),
            "by": x.by.name(),
        })),
    });
    if let ChannelTerms::HashChain(h) = &c.mode {
        let chain = json!({
            "price": amount_text(h.price),
            "segment": h.segment,
            "base": h.base.to_string(),
            "current": segment_json(&h.current),
            "next": h.next.as_ref().map(segment_json),
            "claimed_index": h.claimed_index.to_string(),
            "claimed_tick": h.claimed_tick.to_hex(),
        });
        super::merge(&mut v, &chain);
    }
    v
}

/// The tree of the state-proof vectors: a plain account, a device with a
/// limit, a day's spending and a messaging key, and channel A as it stands
/// after its claim at tick 7 and its top-up with a second chain.
fn proof_tree_items() -> Vec<StateItem> {
    let spent_day = Timestamp(GENESIS_MS + 1_000).utc_day();
    let device = StateItem {
        name: "device_with_limit_and_messaging_key",
        named: Named::Account {
            id: id("device"),
            record: AccountRecord {
                account: Account {
                    balance: Amount::new(8_766),
                    nonce: Nonce(3),
                },
                device: Some(device_of_owner(Some(5_000), spent_day, 1_234)),
                messaging_key: Some(MessagingSecret::derive(&seed("device")).public()),
            },
        },
    };
    let (a0, a1) = (chain_a0(), chain_a1());
    let claimed_ticks = 7;
    let channel = Channel {
        payer: id("payer"),
        payee: id("payee"),
        deposit: Amount::new(2 * u64::from(CHAIN_LEN) * TICK_PRICE),
        claimed: Amount::new(claimed_ticks * TICK_PRICE),
        opened_at: Timestamp(GENESIS_MS + 2),
        expires_at: Timestamp(GENESIS_MS + 14 * DAY_MS),
        mode: ChannelTerms::HashChain(HashChainState {
            price: Amount::new(TICK_PRICE),
            segment: 0,
            base: 0,
            current: a0.segment(),
            next: Some(a1.segment()),
            claimed_index: claimed_ticks,
            claimed_tick: a0.tick(7),
        }),
        closed: None,
    };
    vec![
        StateItem {
            name: "plain_account",
            ..account("alice", 749_999, 2)
        },
        device,
        StateItem {
            name: "hash_chain_channel",
            named: Named::Channel {
                id: channel_a(),
                channel,
            },
        },
    ]
}

/// The header the answers are signed under: an empty block at height 42
/// whose state root is the tree's.
fn answer_header(root: Hash32) -> BlockHeader {
    let draft = BlockDraft {
        genesis: genesis_hash(),
        height: BlockHeight(ANSWER_HEIGHT),
        epoch: 0,
        prev_hash: Hash32::digest(&[b"ting:test-vector:state-proof-prev"]),
        timestamp: Timestamp(GENESIS_MS + DAY_MS / 2),
        state_root: root,
    };
    Block::seal(draft, Vec::new(), &key("sequencer")).header
}

fn state_proof_json(p: &StateProof) -> Value {
    let entries: Vec<Value> = p
        .entries
        .iter()
        .map(|(k, v)| json!({ "key": k.to_hex(), "value_hash": v.to_hex() }))
        .collect();
    json!({ "bucket": p.bucket, "entries": entries, "siblings_hex": hex_list(&p.siblings) })
}

/// One key's proof and answer. `record` is what the key holds, or `None`.
struct Asked<'a> {
    name: &'static str,
    kind: &'static str,
    id: Hash32,
    key: Hash32,
    record: Option<Vec<u8>>,
    value_hash: Option<Hash32>,
    tree: &'a StateTree,
    header: &'a BlockHeader,
}

fn proof_vector(a: Asked<'_>) -> Value {
    let proof = a.tree.prove(&a.key);
    let mut w = Writer::with_capacity(64);
    proof.encode(&mut w);
    let answer = StateAnswer {
        header: a.header.clone(),
        record: a.record.clone(),
        proof: proof.clone(),
    };
    check_answer(&a, &answer);
    json!({
        "name": a.name,
        "kind": a.kind,
        "id": a.id.to_hex(),
        "present": a.record.is_some(),
        "key_hex": a.key.to_hex(),
        "bucket": bucket_of(&a.key),
        "record_hex": a.record.as_ref().map(hex::encode),
        "value_hash_hex": a.value_hash.map(|h| h.to_hex()),
        "proof": state_proof_json(&proof),
        "proof_hex": hex::encode(w.into_bytes()),
        "answer_hex": hex::encode(answer.to_bytes()),
    })
}

/// The generator refuses to write an answer that ting-core would not accept.
fn check_answer(a: &Asked<'_>, answer: &StateAnswer) {
    let sequencers = [id("sequencer")];
    let check = StateCheck {
        genesis: &genesis_hash(),
        sequencers: &sequencers,
        min_height: BlockHeight(ANSWER_HEIGHT),
    };
    let got = if a.kind == "account" {
        answer
            .verify_account(&AccountId(a.id.0), &check)
            .map(|r| r.map(|r| r.to_record()))
    } else {
        answer
            .verify_channel(&ChannelId(a.id), &check)
            .map(|c| c.map(|c| c.to_record()))
    };
    assert_eq!(got, Ok(a.record.clone()), "{}: the answer verifies", a.name);
}

/// A channel of `payer` that was never opened and whose key falls in a
/// bucket the tree holds: its proof lists that bucket's entries, none its own.
fn absent_channel_in_an_occupied_bucket(tree: &StateTree) -> (u64, ChannelId) {
    (1..GRIND_NONCES_MAX)
        .map(|n| (n, channel_of("payer", n)))
        .find(|(_, c)| {
            let key = state_map::channel_key(c);
            tree.get(&key).is_none() && !tree.prove(&key).entries.is_empty()
        })
        .expect("a nonce within the bound lands in an occupied bucket")
}

/// The `state_proofs` group: the tree's entries and root, the header, and a
/// proof and answer for every entry and for two absent keys.
pub(crate) fn state_proof_vectors() -> Value {
    let items = proof_tree_items();
    let tree = StateTree::from_entries(items.iter().map(StateItem::entry));
    let root = tree.root();
    let header = answer_header(root);
    let ask = |item: &StateItem| Asked {
        name: item.name,
        kind: item.kind(),
        id: Hash32::from_hex(&item.id_hex()).expect("an id is 32 bytes"),
        key: item.key(),
        record: Some(item.record()),
        value_hash: Some(item.value_hash()),
        tree: &tree,
        header: &header,
    };
    let mut proofs: Vec<Value> = items.iter().map(|i| proof_vector(ask(i))).collect();
    let stranger = id("stranger");
    let stranger_key = state_map::account_key(&stranger);
    assert!(
        tree.prove(&stranger_key).entries.is_empty(),
        "the stranger's bucket is empty"
    );
    proofs.push(proof_vector(Asked {
        name: "absent_account_empty_bucket",
        kind: "account",
        id: Hash32(stranger.0),
        key: stranger_key,
        record: None,
        value_hash: None,
        tree: &tree,
        header: &header,
    }));
    let (nonce, channel) = absent_channel_in_an_occupied_bucket(&tree);
    let mut absent = proof_vector(Asked {
        name: "absent_channel_shared_bucket",
        kind: "channel",
        id: channel.0,
        key: state_map::channel_key(&channel),
        record: None,
        value_hash: None,
        tree: &tree,
        header: &header,
    });
    super::merge(
        &mut absent,
        &json!({ "channel_payer": id("payer").to_hex(), "channel_nonce": nonce.to_string() }),
    );
    proofs.push(absent);
    json!({
        "sequencer_seed_hex": hex::encode(seed("sequencer")),
        "entries": items.iter().map(StateItem::json).collect::<Vec<_>>(),
        "root_hex": root.to_hex(),
        "header": {
            "fields": header_fields(&header),
            "header_hex": hex::encode(header.to_bytes()),
            "block_hash_hex": header.hash().to_hex(),
        },
        "proofs": proofs,
    })
}

//! Prints `docs/test-vectors/transactions.json`, the wire format's test vectors.
//!
//! Run from the workspace root:
//!
//! ```text
//! cargo run -p ting-core --example gen_vectors > docs/test-vectors/transactions.json
//! ```
//!
//! Everything is deterministic: every key is made from a seed derived from a
//! label (`SHA-256("ting:test-vector:seed:" || label)`), Ed25519 signing is
//! deterministic, and no clock or random source is read. The output only
//! changes when the encoding changes. `tests/vectors.rs` checks the file
//! against the code without using this program, and docs/wire.md describes
//! its layout.

#[path = "gen_vectors/envelopes.rs"]
mod envelopes;
#[path = "gen_vectors/market.rs"]
mod market;
#[path = "gen_vectors/resources.rs"]
mod resources;
#[path = "gen_vectors/state.rs"]
mod state;
#[path = "gen_vectors/streams.rs"]
mod streams;
#[path = "gen_vectors/witness.rs"]
mod witness;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use serde_json::{json, Value};
use ting_core::block::{Block, BlockDraft, BlockHeader};
use ting_core::channel::chain::prefix_block;
use ting_core::channel::{sign_voucher, voucher_message, TickSource};
use ting_core::merkle;
use ting_core::tx::{device_consent_message, TxBody, TxKind};
use ting_core::{
    AccountId, Amount, BlockHeight, ChainKey, ChainSegment, ChannelId, ChannelMode, ChannelProof,
    Genesis, Hash32, Keypair, NetworkId, Nonce, Payment, SignedTx, Timestamp,
};

/// The network id of every vector: its little-endian bytes `78 56 34 12` show the byte order.
const NETWORK: NetworkId = NetworkId(0x1234_5678);
/// Genesis and first-block time: 2023-11-14T22:13:20Z, in milliseconds.
const GENESIS_MS: u64 = 1_700_000_000_000;
/// The `valid_until` of every transaction vector: a day after the genesis.
const VALID_UNTIL_MS: u64 = GENESIS_MS + 86_400_000;

/// The hash of the vectors' genesis: what their transactions, consents and
/// channel ids are bound to.
fn genesis_hash() -> Hash32 {
    genesis().hash()
}
/// Sizes of the Merkle trees in the vectors.
const MERKLE_SIZES: [u32; 7] = [0, 1, 2, 3, 5, 8, 13];

fn seed(label: &str) -> [u8; 32] {
    Hash32::digest(&[b"ting:test-vector:seed:", label.as_bytes()]).0
}

fn key(label: &str) -> Keypair {
    Keypair::from_seed(seed(label))
}

fn id(label: &str) -> AccountId {
    key(label).account()
}

fn hex_list(hashes: &[Hash32]) -> Vec<String> {
    hashes.iter().map(Hash32::to_hex).collect()
}

// ---- Transactions ----

/// One transaction to sign: who signs, with which nonce, and the kind with its JSON fields.
struct TxSpec {
    name: &'static str,
    signer: &'static str,
    nonce: u64,
    kind: TxKind,
    fields: Value,
    /// Extra top-level members (the device's seed and consent message).
    extra: Value,
}

fn transfer(to: &str, amount: u64, memo: &[u8]) -> (TxKind, Value) {
    let kind = TxKind::Transfer {
        to: id(to),
        amount: Amount::new(amount),
        memo: memo.to_vec(),
    };
    let fields = json!({
        "to": id(to).to_hex(),
        "amount": amount.to_string(),
        "memo_hex": hex::encode(memo),
    });
    (kind, fields)
}

fn mint(to: &str, amount: u64) -> (TxKind, Value) {
    let kind = TxKind::Mint {
        to: id(to),
        amount: Amount::new(amount),
    };
    let fields = json!({ "to": id(to).to_hex(), "amount": amount.to_string() });
    (kind, fields)
}

/// A registration of `device` under `owner`, with the device's consent signature.
fn register_device(owner: &str, device: &str, metadata: &[u8]) -> (TxKind, Value, Value) {
    let device_key = key(device);
    let consent = device_consent_message(&genesis_hash(), &id(owner), &id(device), metadata);
    let device_signature = device_key.sign(&consent);
    let kind = TxKind::RegisterDevice {
        device: id(device),
        metadata: metadata.to_vec(),
        device_signature,
    };
    let fields = json!({
        "device": id(device).to_hex(),
        "metadata_hex": hex::encode(metadata),
        "device_signature_hex": device_signature.to_hex(),
    });
    let extra = json!({
        "device_seed_hex": hex::encode(device_key.seed()),
        "device_consent_message_hex": hex::encode(&consent),
    });
    (kind, fields, extra)
}

fn set_spend_limit(device: &str, per_day: Option<u64>) -> (TxKind, Value) {
    let kind = TxKind::SetSpendLimit {
        device: id(device),
        per_day: per_day.map(Amount::new),
    };
    let fields = json!({
        "device": id(device).to_hex(),
        "per_day": per_day.map(|v| v.to_string()),
    });
    (kind, fields)
}

fn device_only(device: &str, freeze: bool) -> (TxKind, Value) {
    let kind = if freeze {
        TxKind::Freeze { device: id(device) }
    } else {
        TxKind::Unfreeze { device: id(device) }
    };
    (kind, json!({ "device": id(device).to_hex() }))
}

fn sweep(device: &str, amount: u64) -> (TxKind, Value) {
    let kind = TxKind::Sweep {
        device: id(device),
        amount: Amount::new(amount),
    };
    let fields = json!({ "device": id(device).to_hex(), "amount": amount.to_string() });
    (kind, fields)
}

fn set_messaging_key(owner: &str) -> (TxKind, Value) {
    let key = ting_core::MessagingSecret::derive(&seed(owner)).public();
    (
        TxKind::SetMessagingKey { key },
        json!({ "key": key.to_hex() }),
    )
}

fn spec(
    name: &'static str,
    signer: &'static str,
    nonce: u64,
    (kind, fields): (TxKind, Value),
) -> TxSpec {
    TxSpec {
        name,
        signer,
        nonce,
        kind,
        fields,
        extra: json!({}),
    }
}

fn tx_specs() -> Vec<TxSpec> {
    let memo_max = [0xa5u8; ting_core::limits::MEMO_BYTES_MAX];
    let (reg_kind, reg_fields, reg_extra) =
        register_device("owner", "device", b"model=aqua-p2;serial=000417");
    let (reg2_kind, reg2_fields, reg2_extra) = register_device("owner2", "device2", b"");
    vec![
        spec("mint", "issuer", 0, mint("alice", 1_000_000)),
        spec(
            "transfer_with_memo",
            "alice",
            0,
            transfer("bob", 250_000, b"cartridge #4417"),
        ),
        spec("transfer_without_memo", "alice", 1, transfer("bob", 1, b"")),
        spec(
            "transfer_full_width_values",
            "bob",
            0x0102_0304_0506_0708,
            transfer("alice", u64::MAX, &memo_max),
        ),
        TxSpec {
            name: "register_device",
            signer: "owner",
            nonce: 0,
            kind: reg_kind,
            fields: reg_fields,
            extra: reg_extra,
        },
        TxSpec {
            name: "register_device_without_metadata",
            signer: "owner2",
            nonce: 0,
            kind: reg2_kind,
            fields: reg2_fields,
            extra: reg2_extra,
        },
        spec(
            "set_spend_limit",
            "owner",
            1,
            set_spend_limit("device", Some(5_000)),
        ),
        spec(
            "set_spend_limit_none",
            "owner",
            2,
            set_spend_limit("device", None),
        ),
        spec("freeze", "owner", 3, device_only("device", true)),
        spec("unfreeze", "owner", 4, device_only("device", false)),
        spec("sweep", "owner", 5, sweep("device", 1_234)),
        spec("set_messaging_key", "bob", 1, set_messaging_key("bob")),
    ]
    .into_iter()
    .chain(channel_specs())
    .chain(streams::stream_specs())
    .chain(market::market_specs())
    .chain(resources::resource_specs())
    .collect()
}

// ---- Payment channels ----

/// Milliseconds in a day, for channel expiries.
const DAY_MS: u64 = 86_400_000;
/// Ticks in each chain of the hash-chain channel.
const CHAIN_LEN: u32 = 100;
/// What one tick of the hash-chain channel is worth, in base units.
const TICK_PRICE: u64 = 250;

/// The id of the channel that `payer` opens with its transaction of nonce `nonce`.
fn channel_of(payer: &str, nonce: u64) -> ChannelId {
    ChannelId::derive(&genesis_hash(), &id(payer), Nonce(nonce))
}

/// Channel A: hash chain, opened by `payer` with nonce 0.
fn channel_a() -> ChannelId {
    channel_of("payer", 0)
}

/// Channel B: vouchers, opened by `payer` with nonce 1.
fn channel_b() -> ChannelId {
    channel_of("payer", 1)
}

/// One chain segment of a channel, made from a labelled seed.
struct Chain {
    channel: ChannelId,
    segment: u32,
    seed_label: &'static str,
    len: u32,
    /// Global index of the segment's tick 0.
    base: u64,
}

impl Chain {
    fn seed(&self) -> Hash32 {
        Hash32(seed(self.seed_label))
    }

    fn key(&self) -> ChainKey {
        ChainKey::new(&self.channel, self.segment)
    }

    /// Tick `local` of this segment: `H^(len - local)(seed)`.
    fn tick(&self, local: u32) -> Hash32 {
        TickSource::new(self.key(), self.seed(), self.len).tick(local)
    }

    fn segment(&self) -> ChainSegment {
        ChainSegment {
            anchor: self.tick(0),
            len: self.len,
        }
    }

    fn segment_json(&self) -> Value {
        json!({ "anchor": self.tick(0).to_hex(), "len": self.len })
    }

    /// A tick as a proof, with its global index.
    fn proof(&self, local: u32) -> ChannelProof {
        ChannelProof::Tick {
            index: self.base + u64::from(local),
            preimage: self.tick(local),
        }
    }

    /// What a reader needs to recompute tick `local`.
    fn tick_json(&self, local: u32) -> Value {
        json!({
            "seed_hex": self.seed().to_hex(),
            "segment": self.segment,
            "len": self.len,
            "base": self.base.to_string(),
            "local_index": local,
            "value": self.tick(local).to_hex(),
        })
    }
}

/// Channel A's first chain, given at open.
fn chain_a0() -> Chain {
    Chain {
        channel: channel_a(),
        segment: 0,
        seed_label: "chain_a_segment_0",
        len: CHAIN_LEN,
        base: 0,
    }
}

/// Channel A's second chain, queued by a top-up; its ticks follow segment 0's.
fn chain_a1() -> Chain {
    Chain {
        channel: channel_a(),
        segment: 1,
        seed_label: "chain_a_segment_1",
        len: CHAIN_LEN,
        base: u64::from(CHAIN_LEN),
    }
}

fn channel_proof_json(proof: &ChannelProof) -> Value {
    match proof {
        ChannelProof::Tick { index, preimage } => json!({
            "kind": "tick",
            "index": index.to_string(),
            "preimage": preimage.to_hex(),
        }),
        ChannelProof::Voucher { amount, signature } => json!({
            "kind": "voucher",
            "amount": amount.base_units().to_string(),
            "signature_hex": signature.to_hex(),
        }),
    }
}

/// `payer`'s voucher for a cumulative `amount` on `channel`, with the message it signed.
fn voucher(payer: &str, channel: &ChannelId, amount: u64) -> (ChannelProof, Value) {
    let proof = sign_voucher(&key(payer), NETWORK, channel, Amount::new(amount));
    let extra = json!({
        "network": NETWORK.0,
        "payer": id(payer).to_hex(),
        "payer_seed_hex": hex::encode(seed(payer)),
        "message_hex": hex::encode(voucher_message(NETWORK, channel, Amount::new(amount))),
    });
    (proof, extra)
}

fn channel_open(
    payee: &str,
    deposit: u64,
    expires_at: u64,
    chain: Option<&Chain>,
) -> (TxKind, Value) {
    let mode = match chain {
        Some(c) => ChannelMode::HashChain {
            chain: c.segment(),
            price: Amount::new(TICK_PRICE),
        },
        None => ChannelMode::Voucher,
    };
    let kind = TxKind::ChannelOpen {
        payee: id(payee),
        deposit: Amount::new(deposit),
        expires_at: Timestamp(expires_at),
        mode,
    };
    let fields = json!({
        "payee": id(payee).to_hex(),
        "deposit": deposit.to_string(),
        "expires_at": expires_at.to_string(),
        "mode": mode.name(),
        "chain": chain.map(Chain::segment_json),
        "price": chain.map(|_| TICK_PRICE.to_string()),
    });
    (kind, fields)
}

fn channel_claim(channel: ChannelId, proof: ChannelProof) -> (TxKind, Value) {
    let fields = json!({ "channel": channel.to_hex(), "proof": channel_proof_json(&proof) });
    (TxKind::ChannelClaim { channel, proof }, fields)
}

fn channel_top_up(
    channel: ChannelId,
    amount: u64,
    expires_at: u64,
    extension: Option<&Chain>,
) -> (TxKind, Value) {
    let kind = TxKind::ChannelTopUp {
        channel,
        amount: Amount::new(amount),
        expires_at: Timestamp(expires_at),
        extension: extension.map(Chain::segment),
    };
    let fields = json!({
        "channel": channel.to_hex(),
        "amount": amount.to_string(),
        "expires_at": expires_at.to_string(),
        "extension": extension.map(Chain::segment_json),
    });
    (kind, fields)
}

fn channel_close(channel: ChannelId, proof: Option<ChannelProof>) -> (TxKind, Value) {
    let fields = json!({
        "channel": channel.to_hex(),
        "proof": proof.as_ref().map(channel_proof_json),
    });
    (TxKind::ChannelClose { channel, proof }, fields)
}

fn channel_reclaim(channel: ChannelId) -> (TxKind, Value) {
    let fields = json!({ "channel": channel.to_hex() });
    (TxKind::ChannelReclaim { channel }, fields)
}

fn with_extra(mut spec: TxSpec, extra: Value) -> TxSpec {
    spec.extra = extra;
    spec
}

/// The channel transactions: four channels from `payer` to `payee`, nonces in order.
/// A (hash chain) is claimed, extended by a second chain, claimed into it and
/// closed with a tick; B (vouchers) is claimed, topped up and closed with a
/// voucher; C is closed without a proof; D is reclaimed.
fn channel_specs() -> Vec<TxSpec> {
    let (a, b) = (channel_a(), channel_b());
    let (c, d) = (channel_of("payer", 4), channel_of("payer", 5));
    let (a0, a1) = (chain_a0(), chain_a1());
    let t = GENESIS_MS;
    let opened = |channel: ChannelId, extra: Value| {
        let mut out = json!({ "channel_id_hex": channel.to_hex() });
        merge(&mut out, &extra);
        out
    };
    let (v_claim, v_claim_extra) = voucher("payer", &b, 12_345);
    let (v_close, v_close_extra) = voucher("payer", &b, 20_000);
    let deposit_a = u64::from(CHAIN_LEN) * TICK_PRICE;
    vec![
        with_extra(
            spec(
                "channel_open_hash_chain",
                "payer",
                0,
                channel_open("payee", deposit_a, t + 7 * DAY_MS, Some(&a0)),
            ),
            opened(a, json!({ "tick": a0.tick_json(0) })),
        ),
        with_extra(
            spec(
                "channel_open_voucher",
                "payer",
                1,
                channel_open("payee", 50_000, t + 30 * DAY_MS, None),
            ),
            opened(b, json!({})),
        ),
        with_extra(
            spec(
                "channel_claim_tick",
                "payee",
                0,
                channel_claim(a, a0.proof(7)),
            ),
            json!({ "tick": a0.tick_json(7) }),
        ),
        with_extra(
            spec(
                "channel_claim_voucher",
                "payee",
                1,
                channel_claim(b, v_claim),
            ),
            json!({ "voucher": v_claim_extra }),
        ),
        with_extra(
            spec(
                "channel_top_up_with_extension",
                "payer",
                2,
                channel_top_up(a, deposit_a, t + 14 * DAY_MS, Some(&a1)),
            ),
            json!({ "tick": a1.tick_json(0) }),
        ),
        spec(
            "channel_top_up_without_extension",
            "payer",
            3,
            channel_top_up(b, 10_000, t + 60 * DAY_MS, None),
        ),
        with_extra(
            spec(
                "channel_claim_tick_next_segment",
                "payee",
                2,
                channel_claim(a, a1.proof(3)),
            ),
            json!({ "tick": a1.tick_json(3) }),
        ),
        with_extra(
            spec(
                "channel_close_with_tick",
                "payee",
                3,
                channel_close(a, Some(a1.proof(50))),
            ),
            json!({ "tick": a1.tick_json(50) }),
        ),
        with_extra(
            spec(
                "channel_close_with_voucher",
                "payee",
                4,
                channel_close(b, Some(v_close)),
            ),
            json!({ "voucher": v_close_extra }),
        ),
        with_extra(
            spec(
                "channel_open_voucher_to_close",
                "payer",
                4,
                channel_open("payee", 1_000, t + DAY_MS, None),
            ),
            opened(c, json!({})),
        ),
        with_extra(
            spec(
                "channel_open_voucher_to_reclaim",
                "payer",
                5,
                channel_open("payee", 2_000, t + DAY_MS, None),
            ),
            opened(d, json!({})),
        ),
        spec(
            "channel_close_without_proof",
            "payee",
            5,
            channel_close(c, None),
        ),
        spec("channel_reclaim", "payer", 6, channel_reclaim(d)),
    ]
}

/// Channel ids, chain steps, a short chain tick by tick, and vouchers.
fn channels_vector() -> Value {
    let ids: Vec<Value> = [
        ("channel_a", "payer", 0u64),
        ("channel_b", "payer", 1),
        ("channel_c", "payer", 4),
        ("channel_d", "payer", 5),
        ("full_width_nonce", "alice", 0x0102_0304_0506_0708),
    ]
    .iter()
    .map(|&(name, payer, nonce)| {
        let input = [
            ting_core::channel::CHANNEL_ID_DOMAIN,
            &genesis_hash().0,
            &id(payer).0,
            &nonce.to_le_bytes(),
        ]
        .concat();
        json!({
            "name": name,
            "genesis": genesis_hash().to_hex(),
            "payer": id(payer).to_hex(),
            "nonce": nonce.to_string(),
            "hash_input_hex": hex::encode(&input),
            "channel_id_hex": channel_of(payer, nonce).to_hex(),
        })
    })
    .collect();
    let (a0, a1) = (chain_a0(), chain_a1());
    let steps: Vec<Value> = [
        (
            "channel_a_segment_0_seed",
            a0.channel,
            a0.segment,
            a0.seed(),
        ),
        (
            "channel_a_segment_1_seed",
            a1.channel,
            a1.segment,
            a1.seed(),
        ),
        (
            "channel_b_segment_0x01020304_zero",
            channel_b(),
            0x0102_0304,
            Hash32([0; 32]),
        ),
    ]
    .iter()
    .map(|(name, channel, segment, x)| {
        let prefix = prefix_block(channel, *segment);
        json!({
            "name": name,
            "channel": channel.to_hex(),
            "segment": segment,
            "prefix_block_hex": hex::encode(prefix),
            "x_hex": x.to_hex(),
            "message_hex": hex::encode([&prefix[..], &x.0].concat()),
            "h_hex": ChainKey::new(channel, *segment).step(x).to_hex(),
        })
    })
    .collect();
    let short = Chain {
        channel: channel_a(),
        segment: 2,
        seed_label: "chain_short",
        len: 5,
        base: 0,
    };
    let chains = vec![json!({
        "name": "channel_a_segment_2_len_5",
        "channel": short.channel.to_hex(),
        "segment": short.segment,
        "seed_hex": short.seed().to_hex(),
        "len": short.len,
        "ticks_hex": (0..=short.len).map(|i| short.tick(i).to_hex()).collect::<Vec<_>>(),
    })];
    let vouchers: Vec<Value> = [
        ("channel_b_12345", 12_345u64),
        ("channel_b_20000", 20_000),
        ("channel_b_full_width_amount", u64::MAX),
    ]
    .iter()
    .map(|&(name, amount)| {
        let (proof, extra) = voucher("payer", &channel_b(), amount);
        let ChannelProof::Voucher { signature, .. } = proof else {
            unreachable!("sign_voucher makes vouchers")
        };
        let mut v = json!({
            "name": name,
            "network": NETWORK.0,
            "channel": channel_b().to_hex(),
            "amount": amount.to_string(),
            "signature_hex": signature.to_hex(),
        });
        merge(&mut v, &extra);
        v
    })
    .collect();
    json!({ "ids": ids, "chain_steps": steps, "chains": chains, "vouchers": vouchers })
}

/// Off-ledger payment messages, as a payer sends them to a payee.
fn payment_vectors() -> Vec<Value> {
    let a0 = chain_a0();
    let (voucher_proof, voucher_extra) = voucher("payer", &channel_b(), 12_345);
    [
        (
            "payment_tick",
            channel_a(),
            a0.proof(8),
            json!({ "tick": a0.tick_json(8) }),
        ),
        (
            "payment_voucher",
            channel_b(),
            voucher_proof,
            json!({ "voucher": voucher_extra }),
        ),
    ]
    .into_iter()
    .map(|(name, channel, proof, extra)| {
        let payment = Payment {
            network: NETWORK,
            channel,
            proof,
        };
        let encoded = payment.encode();
        assert_eq!(Payment::decode(&encoded), Ok(payment), "{name}");
        let mut v = json!({
            "name": name,
            "fields": {
                "version": 1,
                "network": NETWORK.0,
                "channel": channel.to_hex(),
                "proof": channel_proof_json(&proof),
            },
            "encoded_hex": hex::encode(&encoded),
        });
        merge(&mut v, &extra);
        v
    })
    .collect()
}

/// Payment encodings that every decoder must refuse, with ting-core's error code.
fn invalid_payment_vectors() -> Vec<Value> {
    let tick = Payment {
        network: NETWORK,
        channel: channel_a(),
        proof: chain_a0().proof(8),
    }
    .encode();
    let voucher = Payment {
        network: NETWORK,
        channel: channel_b(),
        proof: voucher("payer", &channel_b(), 12_345).0,
    }
    .encode();
    let with = |bytes: &[u8], at: usize, value: u8| {
        let mut out = bytes.to_vec();
        out[at] = value;
        out
    };
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty_input", Vec::new(), "truncated"),
        ("version_2", with(&tick, 0, 2), "unsupported_version"),
        ("proof_kind_0", with(&tick, 37, 0), "invalid_value"),
        ("proof_kind_3", with(&voucher, 37, 3), "invalid_value"),
        (
            "voucher_missing_last_byte",
            voucher[..voucher.len() - 1].to_vec(),
            "truncated",
        ),
        // A tick read as a voucher needs 110 bytes; it has 78.
        ("tick_with_proof_kind_2", with(&tick, 37, 2), "truncated"),
    ];
    let mut longer = tick.clone();
    longer.push(0);
    cases.push(("tick_one_trailing_byte", longer, "trailing_bytes"));
    // 111 bytes is over the 110-byte maximum, refused before parsing.
    let mut longer = voucher.clone();
    longer.push(0);
    cases.push(("voucher_one_trailing_byte", longer, "too_long"));
    // A voucher proof read as a tick leaves 32 bytes over.
    cases.push((
        "voucher_with_proof_kind_1",
        with(&voucher, 37, 1),
        "trailing_bytes",
    ));
    cases
        .into_iter()
        .map(|(name, bytes, error)| {
            let got = Payment::decode(&bytes).map(|_| ()).map_err(|e| e.code());
            assert_eq!(got, Err(error), "{name}");
            json!({ "name": name, "encoded_hex": hex::encode(&bytes), "error": error })
        })
        .collect()
}

fn tx_vector(spec: &TxSpec) -> (Value, SignedTx) {
    let signer = key(spec.signer);
    let body = TxBody {
        genesis: genesis_hash(),
        sender: signer.account(),
        nonce: Nonce(spec.nonce),
        valid_until: Timestamp(VALID_UNTIL_MS),
        kind: spec.kind.clone(),
    };
    let signing_message = body.signing_message();
    let tx = body.sign(&signer);
    let mut fields = json!({
        "genesis": genesis_hash().to_hex(),
        "sender": signer.account().to_hex(),
        "nonce": spec.nonce.to_string(),
        "valid_until": VALID_UNTIL_MS.to_string(),
    });
    merge(&mut fields, &spec.fields);
    let mut vector = json!({
        "name": spec.name,
        "kind": spec.kind.name(),
        "kind_tag": tx.bytes()[ting_core::tx::TX_KIND_OFFSET],
        "seed_hex": hex::encode(signer.seed()),
        "public_key_hex": signer.account().to_hex(),
        "public_key_did": signer.account().to_did(),
        "fields": fields,
        "signing_message_hex": hex::encode(&signing_message),
        "signature_hex": tx.signature().to_hex(),
        "encoded_hex": hex::encode(tx.bytes()),
        "tx_hash_hex": tx.hash().to_hex(),
    });
    merge(&mut vector, &spec.extra);
    (vector, tx)
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// Encodings that every decoder must refuse, each with the error code ting-core gives.
fn invalid_vectors(txs: &[(Value, SignedTx)]) -> Vec<Value> {
    let by_name = |name: &str| {
        txs.iter()
            .find(|(v, _)| v["name"] == name)
            .map(|(_, tx)| tx.bytes().to_vec())
            .expect("named vector exists")
    };
    let transfer = by_name("transfer_with_memo");
    let limit = by_name("set_spend_limit_none");
    // Offsets below count from the kind tag.
    let k = ting_core::tx::TX_KIND_OFFSET;
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    cases.push(("empty_input", Vec::new(), "truncated"));
    cases.push((
        "missing_last_signature_byte",
        transfer[..transfer.len() - 1].to_vec(),
        "truncated",
    ));
    let mut longer = transfer.clone();
    longer.push(0);
    cases.push(("one_trailing_byte", longer, "trailing_bytes"));
    let mut version = transfer.clone();
    version[0] = 1;
    cases.push(("version_1", version, "unsupported_version"));
    let mut version = transfer.clone();
    version[0] = 3;
    cases.push(("version_3", version, "unsupported_version"));
    let mut unknown = transfer.clone();
    unknown[k] = 0x03;
    cases.push(("unknown_kind_0x03", unknown, "unknown_kind"));
    let mut memo = transfer[..k + 41].to_vec();
    memo.push(65);
    memo.extend_from_slice(&[0x61; 65]);
    memo.extend_from_slice(&[0; 64]);
    cases.push(("memo_of_65_bytes", memo, "too_long"));
    let mut metadata = by_name("register_device")[..k + 33].to_vec();
    metadata.extend_from_slice(&257u16.to_le_bytes());
    metadata.extend_from_slice(&[0; 257 + 64 + 64]);
    cases.push(("metadata_of_257_bytes", metadata, "too_long"));
    let mut flag = limit.clone();
    flag[k + 33] = 2;
    cases.push(("spend_limit_flag_2", flag, "invalid_value"));
    let oversized = vec![1u8; ting_core::limits::TX_BYTES_MAX + 1];
    cases.push(("over_tx_bytes_max", oversized, "too_long"));
    let with = |name: &str, at: usize, value: u8| {
        let mut out = by_name(name);
        out[at] = value;
        out
    };
    cases.push((
        "channel_open_mode_0",
        with("channel_open_voucher", k + 49, 0),
        "invalid_value",
    ));
    cases.push((
        "channel_open_mode_3",
        with("channel_open_hash_chain", k + 49, 3),
        "invalid_value",
    ));
    // A voucher open read as a hash-chain open runs out of bytes.
    cases.push((
        "channel_open_voucher_with_mode_1",
        with("channel_open_voucher", k + 49, 1),
        "truncated",
    ));
    cases.push((
        "channel_claim_proof_kind_0",
        with("channel_claim_tick", k + 33, 0),
        "invalid_value",
    ));
    cases.push((
        "channel_claim_proof_kind_3",
        with("channel_claim_voucher", k + 33, 3),
        "invalid_value",
    ));
    cases.push((
        "channel_top_up_extension_flag_2",
        with("channel_top_up_without_extension", k + 49, 2),
        "invalid_value",
    ));
    cases.push((
        "channel_close_proof_flag_2",
        with("channel_close_without_proof", k + 33, 2),
        "invalid_value",
    ));
    cases.push((
        "channel_close_proof_kind_3",
        with("channel_close_with_tick", k + 34, 3),
        "invalid_value",
    ));
    let mut reclaim = by_name("channel_reclaim");
    reclaim.push(0);
    cases.push((
        "channel_reclaim_one_trailing_byte",
        reclaim,
        "trailing_bytes",
    ));
    // Stream A's terms start at k + 1: field count; `hardness` (name length
    // at k + 2, decimals at k + 17); `consumption`; `position` (kind at
    // k + 44); price at k + 45; epoch rule at k + 53; area length at k + 62.
    let open = by_name("stream_open");
    assert_eq!(
        [open[k + 1], open[k + 2], open[k + 3], open[k + 17]],
        [3, 8, b'h', 1],
        "stream A's first field where the offsets say"
    );
    assert_eq!([open[k + 44], open[k + 53], open[k + 62]], [2, 2, 5]);
    cases.push((
        "stream_open_9_fields",
        with("stream_open", k + 1, 9),
        "too_long",
    ));
    cases.push((
        "stream_open_field_name_uppercase",
        with("stream_open", k + 3, b'H'),
        "invalid_value",
    ));
    cases.push((
        "stream_open_19_decimals",
        with("stream_open", k + 17, 19),
        "invalid_value",
    ));
    cases.push((
        "stream_open_field_kind_3",
        with("stream_open", k + 44, 3),
        "invalid_value",
    ));
    let mut free = by_name("stream_open");
    free[k + 45..k + 53].fill(0);
    cases.push(("stream_open_price_0", free, "invalid_value"));
    cases.push((
        "stream_open_epoch_rule_3",
        with("stream_open", k + 53, 3),
        "invalid_value",
    ));
    cases.push((
        "stream_open_area_of_13_bytes",
        with("stream_open", k + 62, 13),
        "too_long",
    ));
    cases
        .into_iter()
        .map(|(name, bytes, error)| {
            let got = SignedTx::decode(&bytes).map(|_| ()).map_err(|e| e.code());
            assert_eq!(got, Err(error), "{name}");
            json!({ "name": name, "encoded_hex": hex::encode(&bytes), "error": error })
        })
        .collect()
}

// ---- Merkle trees ----

fn merkle_leaf(i: u32) -> Hash32 {
    Hash32::digest(&[b"ting:test-vector:leaf:", &i.to_le_bytes()])
}

fn merkle_vector(count: u32) -> Value {
    let leaves: Vec<Hash32> = (0..count).map(merkle_leaf).collect();
    let leaf_hashes: Vec<Hash32> = leaves.iter().map(merkle::leaf_hash).collect();
    let proofs: Vec<Value> = (0..leaves.len())
        .map(|i| proof_json(&merkle::prove(&leaves, i).expect("index in range")))
        .collect();
    json!({
        "count": count,
        "tx_hashes_hex": hex_list(&leaves),
        "leaf_hashes_hex": hex_list(&leaf_hashes),
        "root_hex": merkle::root(&leaves).to_hex(),
        "proofs": proofs,
    })
}

fn proof_json(proof: &merkle::MerkleProof) -> Value {
    json!({
        "index": proof.index,
        "count": proof.count,
        "siblings_hex": hex_list(&proof.siblings),
    })
}

// ---- Genesis and blocks ----

fn genesis() -> Genesis {
    Genesis {
        name: "ting-test-vectors".into(),
        network: NETWORK,
        timestamp: Timestamp(GENESIS_MS),
        issuers: vec![id("issuer")],
        sequencers: vec![id("sequencer")],
        allocations: vec![
            (id("owner"), Amount::new(500)),
            (id("owner2"), Amount::new(70)),
        ],
        clock: ting_core::LedgerClock::Real,
    }
}

/// The vectors' genesis with an accelerated clock (a simulation's network).
fn accelerated_genesis() -> Genesis {
    Genesis {
        name: "ting-test-vectors-accelerated".into(),
        clock: ting_core::LedgerClock::Accelerated { speed: 60 },
        ..genesis()
    }
}

fn genesis_vector(g: &Genesis) -> Value {
    g.validate().expect("the vector genesis is valid");
    let allocations: Vec<Value> = g
        .allocations
        .iter()
        .map(|(who, amount)| json!({ "account": who.to_hex(), "amount": amount.to_string() }))
        .collect();
    let mut fields = json!({
        "name": g.name,
        "network": g.network.0,
        "timestamp": g.timestamp.0.to_string(),
        "issuers": g.issuers.iter().map(AccountId::to_hex).collect::<Vec<_>>(),
        "sequencers": g.sequencers.iter().map(AccountId::to_hex).collect::<Vec<_>>(),
        "allocations": allocations,
    });
    if let ting_core::LedgerClock::Accelerated { speed } = g.clock {
        fields["clock_speed"] = json!(speed);
    }
    json!({
        "name": if g.clock == ting_core::LedgerClock::Real { "genesis" } else { "genesis_accelerated" },
        "fields": fields,
        "encoded_hex": hex::encode(g.encode()),
        "genesis_hash_hex": g.hash().to_hex(),
    })
}

/// The header's fields as the vectors list them: u64 values as decimal strings.
fn header_fields(h: &BlockHeader) -> Value {
    json!({
        "genesis": h.genesis.to_hex(),
        "height": h.height.0.to_string(),
        "epoch": h.epoch.to_string(),
        "prev_hash": h.prev_hash.to_hex(),
        "timestamp": h.timestamp.0.to_string(),
        "tx_root": h.tx_root.to_hex(),
        "tx_count": h.tx_count,
        "state_root": h.state_root.to_hex(),
        "sequencer": h.sequencer.to_hex(),
    })
}

fn block_vector(name: &str, block: &Block, tx_names: &[&str], state: &[state::StateItem]) -> Value {
    let h = &block.header;
    let hashes = block.tx_hashes();
    let receipts: Vec<Value> = (0..hashes.len())
        .map(|i| {
            let proof = merkle::prove(&hashes, i).expect("index in range");
            json!({ "tx_hash_hex": hashes[i].to_hex(), "proof": proof_json(&proof) })
        })
        .collect();
    json!({
        "name": name,
        "sequencer_seed_hex": hex::encode(seed("sequencer")),
        "sequencer_public_key_hex": h.sequencer.to_hex(),
        "fields": header_fields(h),
        "state": state.iter().map(state::StateItem::json).collect::<Vec<_>>(),
        "transactions": tx_names,
        "transactions_hex": block.txs.iter().map(|t| hex::encode(t.bytes())).collect::<Vec<_>>(),
        "signing_message_hex": hex::encode(h.signing_message()),
        "signature_hex": h.signature.to_hex(),
        "header_hex": hex::encode(h.to_bytes()),
        "encoded_hex": hex::encode(block.encode()),
        "block_hash_hex": h.hash().to_hex(),
        "receipts": receipts,
    })
}

/// Two blocks on the vector genesis: block 1 holds four of the transaction
/// vectors, block 2 none. Each header's state root is the root of the whole
/// state after it ([`state::state_after_block_1`]); an empty block leaves it as it was.
fn block_vectors(g: &Genesis, txs: &[(Value, SignedTx)]) -> Vec<Value> {
    let names = [
        "mint",
        "transfer_with_memo",
        "transfer_without_memo",
        "register_device",
    ];
    let chosen: Vec<SignedTx> = names
        .iter()
        .map(|n| {
            txs.iter()
                .find(|(v, _)| v["name"] == *n)
                .map(|(_, tx)| tx.clone())
                .expect("named vector exists")
        })
        .collect();
    let state = state::state_after_block_1();
    let state_root = state::root_of(&state);
    let sequencer = key("sequencer");
    let first = Block::seal(
        BlockDraft {
            genesis: g.hash(),
            height: BlockHeight(1),
            epoch: 0,
            prev_hash: g.hash(),
            timestamp: Timestamp(GENESIS_MS + 2),
            state_root,
        },
        chosen,
        &sequencer,
    );
    let second = Block::seal(
        BlockDraft {
            genesis: g.hash(),
            height: BlockHeight(2),
            epoch: 0,
            prev_hash: first.header.hash(),
            timestamp: Timestamp(GENESIS_MS + 1_000),
            state_root,
        },
        Vec::new(),
        &sequencer,
    );
    vec![
        block_vector("block_1_four_transactions", &first, &names, &state),
        block_vector("block_2_empty", &second, &[], &state),
    ]
}

// ---- Account ids ----

/// The eight points of small order: multiples of a point of order 8.
fn torsion() -> Vec<EdwardsPoint> {
    let mut order_8 = [0u8; 32];
    hex::decode_to_slice(
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        &mut order_8,
    )
    .expect("hex");
    let t = CompressedEdwardsY(order_8).decompress().expect("a point");
    let mut points = vec![EdwardsPoint::default()];
    for _ in 1..8 {
        let last = *points.last().expect("non-empty");
        points.push(last + t);
    }
    points
}

fn account_vectors() -> Vec<Value> {
    let mut cases: Vec<(String, [u8; 32])> = vec![
        ("derived_key_alice".into(), id("alice").0),
        (
            "w3c_did_key_example".into(),
            AccountId::parse("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")
                .expect("parses")
                .0,
        ),
    ];
    for (i, point) in torsion().iter().enumerate() {
        cases.push((format!("small_order_point_{i}"), point.compress().0));
    }
    // y = p + 0 and y = p + 1 (both sign bits), and the sign bit set on x = 0.
    let p_plus = |k: u8, sign: u8| {
        let mut b = [0xffu8; 32];
        b[0] = 0xed + k;
        b[31] = 0x7f | (sign << 7);
        b
    };
    cases.push(("non_canonical_y_p_sign_0".into(), p_plus(0, 0)));
    cases.push(("non_canonical_y_p_sign_1".into(), p_plus(0, 1)));
    cases.push(("non_canonical_y_p_plus_1_sign_0".into(), p_plus(1, 0)));
    cases.push(("non_canonical_y_p_plus_1_sign_1".into(), p_plus(1, 1)));
    // y = p + 3 encodes a point of large order non-canonically.
    cases.push(("non_canonical_y_p_plus_3".into(), p_plus(3, 0)));
    let mut identity_negative_zero = [0u8; 32];
    identity_negative_zero[0] = 1;
    identity_negative_zero[31] = 0x80;
    cases.push(("identity_with_sign_bit".into(), identity_negative_zero));
    let mut order_2_negative_zero = [0xffu8; 32];
    order_2_negative_zero[0] = 0xec;
    cases.push(("order_2_with_sign_bit".into(), order_2_negative_zero));
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2; // y = 2 is not the y-coordinate of a curve point
    cases.push(("y_2_not_on_the_curve".into(), not_a_point));
    cases
        .into_iter()
        .map(|(name, bytes)| {
            let account = AccountId(bytes);
            let check = match account.check_valid() {
                Ok(()) => "ok",
                Err(e) => e.code(),
            };
            json!({
                "name": name,
                "hex": account.to_hex(),
                "did": account.to_did(),
                "check": check,
            })
        })
        .collect()
}

fn main() {
    let txs: Vec<(Value, SignedTx)> = tx_specs().iter().map(tx_vector).collect();
    let g = genesis();
    let invalid = [
        invalid_vectors(&txs),
        market::invalid_vectors(&txs),
        resources::invalid_vectors(&txs),
    ]
    .concat();
    let doc = json!({
        "description": "Test vectors for Ting's canonical encoding; docs/wire.md gives the layout of this file.",
        "generator": "cargo run -p ting-core --example gen_vectors > docs/test-vectors/transactions.json",
        "transactions": txs.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>(),
        "invalid_transactions": invalid,
        "merkle": MERKLE_SIZES.iter().map(|&n| merkle_vector(n)).collect::<Vec<_>>(),
        "genesis": [genesis_vector(&g), genesis_vector(&accelerated_genesis())],
        "blocks": block_vectors(&g, &txs),
        "state_proofs": state::state_proof_vectors(),
        "accounts": account_vectors(),
        "channels": channels_vector(),
        "payments": payment_vectors(),
        "invalid_payments": invalid_payment_vectors(),
        "envelopes": envelopes::envelope_vectors(),
        "invalid_envelopes": envelopes::invalid_envelope_vectors(),
        "consent_records": streams::consent_vectors(),
        "invalid_consent_records": streams::invalid_consent_vectors(),
        "consent_filter": [streams::consent_filter_vector()],
        "chunks": streams::chunk_vectors(),
        "epoch_keys": streams::epoch_key_vectors(),
        "streams": streams::ledger_stream_vectors(),
        "market": market::market_vectors(),
        "resources": resources::resource_vectors(),
        "witness": witness::witness_vectors(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).expect("JSON values always serialize")
    );
}

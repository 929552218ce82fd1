//! Checks `docs/test-vectors/transactions.json` against ting-core, without its generator.
//!
//! Every vector is rebuilt twice: once through ting-core's API from the
//! vector's JSON fields, and once by hand from the byte layouts of
//! docs/wire.md, so that neither the code nor the document can drift from the
//! file unnoticed. Hashes are recomputed with `sha2` directly. Each feature has
//! one `check_*` helper, and each test runs its helper over every vector.

#[path = "vectors/envelopes.rs"]
mod envelopes;
#[path = "vectors/market.rs"]
mod market;
#[path = "vectors/resources.rs"]
mod resources;
#[path = "vectors/state.rs"]
mod state;
#[path = "vectors/streams.rs"]
mod streams;
#[path = "vectors/witness.rs"]
mod witness;

use std::sync::OnceLock;

use serde_json::Value;
use sha2::{Digest, Sha256};
use ting_core::block::{Block, BlockHeader, HEADER_BYTES, UNSIGNED_HEADER_BYTES};
use ting_core::channel::chain::prefix_block;
use ting_core::channel::{verify_voucher, voucher_message, TickSource};
use ting_core::keys::{self, BatchVerifier};
use ting_core::merkle::{self, MerkleProof};
use ting_core::tx::{device_consent_message, TxBody, TxKind};
use ting_core::{
    AccountId, Amount, BlockHeight, ChainKey, ChainSegment, ChannelId, ChannelMode, ChannelProof,
    Genesis, Hash32, Keypair, NetworkId, Nonce, Payment, Receipt, Signature, SignedTx, Timestamp,
};

// ---- Reading the file ----

fn vectors() -> &'static Value {
    static FILE: OnceLock<Value> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/test-vectors/transactions.json"
        );
        let text = std::fs::read_to_string(path).expect("the test-vector file is readable");
        serde_json::from_str(&text).expect("the test-vector file is JSON")
    })
}

fn list(name: &str) -> &'static [Value] {
    vectors()[name]
        .as_array()
        .unwrap_or_else(|| panic!("`{name}` is an array"))
}

fn hex_bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("a hex string")).expect("valid hex")
}

fn hex32(v: &Value) -> [u8; 32] {
    hex_bytes(v).try_into().expect("32 bytes")
}

fn hash(v: &Value) -> Hash32 {
    Hash32(hex32(v))
}

fn account(v: &Value) -> AccountId {
    AccountId(hex32(v))
}

fn signature(v: &Value) -> Signature {
    Signature(hex_bytes(v).try_into().expect("64 bytes"))
}

/// 64-bit values are decimal strings, so that no JSON reader rounds them.
fn dec_u64(v: &Value) -> u64 {
    v.as_str()
        .expect("a decimal string")
        .parse()
        .expect("a u64")
}

fn num_u32(v: &Value) -> u32 {
    u32::try_from(v.as_u64().expect("a number")).expect("a u32")
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn flip(bytes: &mut [u8], at: usize) {
    bytes[at] ^= 0x01;
}

/// A fixed, seeded generator for batch coefficients; only determinism of the test matters.
struct TestRng(u64);

impl rand_core::TryRng for TestRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for TestRng {}

// ---- Transactions: through the API, and by hand from docs/wire.md ----

fn kind_from_fields(kind: &str, f: &Value) -> TxKind {
    match kind {
        "transfer" => TxKind::Transfer {
            to: account(&f["to"]),
            amount: Amount::new(dec_u64(&f["amount"])),
            memo: hex_bytes(&f["memo_hex"]),
        },
        "mint" => TxKind::Mint {
            to: account(&f["to"]),
            amount: Amount::new(dec_u64(&f["amount"])),
        },
        "register_device" => TxKind::RegisterDevice {
            device: account(&f["device"]),
            metadata: hex_bytes(&f["metadata_hex"]),
            device_signature: signature(&f["device_signature_hex"]),
        },
        "set_spend_limit" => TxKind::SetSpendLimit {
            device: account(&f["device"]),
            per_day: (!f["per_day"].is_null()).then(|| Amount::new(dec_u64(&f["per_day"]))),
        },
        "freeze" => TxKind::Freeze {
            device: account(&f["device"]),
        },
        "unfreeze" => TxKind::Unfreeze {
            device: account(&f["device"]),
        },
        "sweep" => TxKind::Sweep {
            device: account(&f["device"]),
            amount: Amount::new(dec_u64(&f["amount"])),
        },
        "channel_open" => TxKind::ChannelOpen {
            payee: account(&f["payee"]),
            deposit: Amount::new(dec_u64(&f["deposit"])),
            expires_at: Timestamp(dec_u64(&f["expires_at"])),
            mode: match f["mode"].as_str() {
                Some("hash_chain") => ChannelMode::HashChain {
                    chain: segment_from(&f["chain"]),
                    price: Amount::new(dec_u64(&f["price"])),
                },
                Some("voucher") => ChannelMode::Voucher,
                other => panic!("unknown channel mode {other:?}"),
            },
        },
        "channel_claim" => TxKind::ChannelClaim {
            channel: channel(&f["channel"]),
            proof: channel_proof_from(&f["proof"]),
        },
        "channel_top_up" => TxKind::ChannelTopUp {
            channel: channel(&f["channel"]),
            amount: Amount::new(dec_u64(&f["amount"])),
            expires_at: Timestamp(dec_u64(&f["expires_at"])),
            extension: (!f["extension"].is_null()).then(|| segment_from(&f["extension"])),
        },
        "channel_close" => TxKind::ChannelClose {
            channel: channel(&f["channel"]),
            proof: (!f["proof"].is_null()).then(|| channel_proof_from(&f["proof"])),
        },
        "channel_reclaim" => TxKind::ChannelReclaim {
            channel: channel(&f["channel"]),
        },
        "set_messaging_key" => TxKind::SetMessagingKey {
            key: ting_core::MessagingKey(hex32(&f["key"])),
        },
        "stream_open" | "stream_consent" | "stream_delivery" | "stream_close" => {
            streams::stream_kind_from_fields(kind, f)
        }
        k if k.starts_with("hold_") || k.starts_with("offer_") => {
            market::market_kind_from_fields(kind, f)
        }
        k if resources::is_resource_kind(k) => resources::resource_kind_from_fields(kind, f),
        other => panic!("unknown kind {other:?} in the vectors"),
    }
}

fn channel(v: &Value) -> ChannelId {
    ChannelId(hash(v))
}

fn segment_from(v: &Value) -> ChainSegment {
    ChainSegment {
        anchor: hash(&v["anchor"]),
        len: num_u32(&v["len"]),
    }
}

fn channel_proof_from(v: &Value) -> ChannelProof {
    match v["kind"].as_str() {
        Some("tick") => ChannelProof::Tick {
            index: dec_u64(&v["index"]),
            preimage: hash(&v["preimage"]),
        },
        Some("voucher") => ChannelProof::Voucher {
            amount: Amount::new(dec_u64(&v["amount"])),
            signature: signature(&v["signature_hex"]),
        },
        other => panic!("unknown proof kind {other:?}"),
    }
}

fn body_from_fields(kind: &str, f: &Value) -> TxBody {
    TxBody {
        genesis: hash(&f["genesis"]),
        sender: account(&f["sender"]),
        nonce: Nonce(dec_u64(&f["nonce"])),
        valid_until: Timestamp(dec_u64(&f["valid_until"])),
        kind: kind_from_fields(kind, f),
    }
}

/// The unsigned transaction body, byte by byte as docs/wire.md lays it out.
fn body_by_hand(kind: &str, f: &Value) -> Vec<u8> {
    let mut b = vec![2u8];
    b.extend_from_slice(&hex32(&f["genesis"]));
    b.extend_from_slice(&hex32(&f["sender"]));
    b.extend_from_slice(&dec_u64(&f["nonce"]).to_le_bytes());
    b.extend_from_slice(&dec_u64(&f["valid_until"]).to_le_bytes());
    if let Some(stream_fields) = streams::stream_fields_by_hand(kind, f) {
        b.extend_from_slice(&stream_fields);
        return b;
    }
    if let Some(market_fields) = market::market_fields_by_hand(kind, f) {
        b.extend_from_slice(&market_fields);
        return b;
    }
    if let Some(resource_fields) = resources::resource_fields_by_hand(kind, f) {
        b.extend_from_slice(&resource_fields);
        return b;
    }
    let (tag, key) = match kind {
        "transfer" => (0x01, "to"),
        "mint" => (0x02, "to"),
        "register_device" => (0x10, "device"),
        "set_spend_limit" => (0x11, "device"),
        "freeze" => (0x12, "device"),
        "unfreeze" => (0x13, "device"),
        "sweep" => (0x14, "device"),
        "set_messaging_key" => (0x15, "key"),
        "channel_open" => (0x20, "payee"),
        "channel_claim" => (0x21, "channel"),
        "channel_top_up" => (0x22, "channel"),
        "channel_close" => (0x23, "channel"),
        "channel_reclaim" => (0x24, "channel"),
        other => panic!("unknown kind {other:?}"),
    };
    b.push(tag);
    b.extend_from_slice(&hex32(&f[key]));
    match kind {
        "transfer" => {
            let memo = hex_bytes(&f["memo_hex"]);
            b.extend_from_slice(&dec_u64(&f["amount"]).to_le_bytes());
            b.push(u8::try_from(memo.len()).expect("short memo"));
            b.extend_from_slice(&memo);
        }
        "mint" | "sweep" => b.extend_from_slice(&dec_u64(&f["amount"]).to_le_bytes()),
        "register_device" => {
            let metadata = hex_bytes(&f["metadata_hex"]);
            b.extend_from_slice(&u16::try_from(metadata.len()).expect("short").to_le_bytes());
            b.extend_from_slice(&metadata);
            b.extend_from_slice(&hex_bytes(&f["device_signature_hex"]));
        }
        "set_spend_limit" if f["per_day"].is_null() => b.push(0),
        "set_spend_limit" => {
            b.push(1);
            b.extend_from_slice(&dec_u64(&f["per_day"]).to_le_bytes());
        }
        "channel_open" => {
            b.extend_from_slice(&dec_u64(&f["deposit"]).to_le_bytes());
            b.extend_from_slice(&dec_u64(&f["expires_at"]).to_le_bytes());
            if f["mode"] == "hash_chain" {
                b.push(1);
                b.extend_from_slice(&hex32(&f["chain"]["anchor"]));
                b.extend_from_slice(&num_u32(&f["chain"]["len"]).to_le_bytes());
                b.extend_from_slice(&dec_u64(&f["price"]).to_le_bytes());
            } else {
                assert_eq!(f["mode"], "voucher");
                b.push(2);
            }
        }
        "channel_claim" => b.extend_from_slice(&proof_by_hand(&f["proof"])),
        "channel_top_up" => {
            b.extend_from_slice(&dec_u64(&f["amount"]).to_le_bytes());
            b.extend_from_slice(&dec_u64(&f["expires_at"]).to_le_bytes());
            let extension = &f["extension"];
            if extension.is_null() {
                b.push(0);
            } else {
                b.push(1);
                b.extend_from_slice(&hex32(&extension["anchor"]));
                b.extend_from_slice(&num_u32(&extension["len"]).to_le_bytes());
            }
        }
        "channel_close" if f["proof"].is_null() => b.push(0),
        "channel_close" => {
            b.push(1);
            b.extend_from_slice(&proof_by_hand(&f["proof"]));
        }
        _ => {}
    }
    b
}

/// A channel proof by docs/wire.md: kind 1 tick (index, preimage) or 2 voucher (amount, signature).
fn proof_by_hand(p: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    match p["kind"].as_str() {
        Some("tick") => {
            b.push(1);
            b.extend_from_slice(&dec_u64(&p["index"]).to_le_bytes());
            b.extend_from_slice(&hex32(&p["preimage"]));
        }
        Some("voucher") => {
            b.push(2);
            b.extend_from_slice(&dec_u64(&p["amount"]).to_le_bytes());
            b.extend_from_slice(&hex_bytes(&p["signature_hex"]));
        }
        other => panic!("unknown proof kind {other:?}"),
    }
    b
}

fn consent_by_hand(f: &Value) -> Vec<u8> {
    let metadata = hex_bytes(&f["metadata_hex"]);
    let mut m = b"ting:device:v2".to_vec();
    m.extend_from_slice(&hex32(&f["genesis"]));
    m.extend_from_slice(&hex32(&f["sender"]));
    m.extend_from_slice(&hex32(&f["device"]));
    m.extend_from_slice(&u16::try_from(metadata.len()).expect("short").to_le_bytes());
    m.extend_from_slice(&metadata);
    m
}

fn check_transaction(v: &Value) {
    let name = v["name"].as_str().expect("a name");
    let kind = v["kind"].as_str().expect("a kind");
    let f = &v["fields"];
    let key = Keypair::from_seed(hex32(&v["seed_hex"]));
    assert_eq!(
        key.account().to_hex(),
        v["public_key_hex"],
        "{name}: public key"
    );
    assert_eq!(
        key.account().to_did(),
        v["public_key_did"],
        "{name}: did:key"
    );
    let did = v["public_key_did"].as_str().expect("a did");
    assert_eq!(
        AccountId::parse(did),
        Ok(key.account()),
        "{name}: did parses"
    );
    assert_eq!(
        f["sender"], v["public_key_hex"],
        "{name}: sender is the signer"
    );

    let body = body_from_fields(kind, f);
    assert_eq!(body.kind.name(), kind, "{name}: kind name");
    let message = hex_bytes(&v["signing_message_hex"]);
    assert_eq!(body.signing_message(), message, "{name}: signing message");
    let by_hand = body_by_hand(kind, f);
    assert_eq!(
        [&b"ting:tx:v2"[..], &by_hand].concat(),
        message,
        "{name}: wire.md layout"
    );
    assert_eq!(
        u64::from(by_hand[ting_core::tx::TX_KIND_OFFSET]),
        v["kind_tag"],
        "{name}: kind tag"
    );

    let tx = body.clone().sign(&key);
    let encoded = hex_bytes(&v["encoded_hex"]);
    assert_eq!(
        tx.signature().to_hex(),
        v["signature_hex"],
        "{name}: signature"
    );
    assert_eq!(tx.bytes(), &encoded[..], "{name}: encoding");
    let sig = hex_bytes(&v["signature_hex"]);
    assert_eq!(
        [&by_hand[..], &sig].concat(),
        encoded,
        "{name}: body || signature"
    );
    assert_eq!(tx.hash().to_hex(), v["tx_hash_hex"], "{name}: tx hash");
    assert_eq!(
        hex::encode(sha256(&[&encoded])),
        v["tx_hash_hex"],
        "{name}: SHA-256"
    );

    let decoded = SignedTx::decode(&encoded).expect("the vector decodes");
    assert_eq!(decoded, tx, "{name}: decode");
    assert_eq!(
        decoded.signing_message(),
        message,
        "{name}: decoded message"
    );
    assert_eq!(
        keys::verify(&body.sender, &message, tx.signature()),
        Ok(()),
        "{name}"
    );
    assert!(decoded.verify().is_ok(), "{name}: verifies");
    check_tampered_signature(name, body, tx.signature());
    if kind == "register_device" {
        check_device_consent(name, v);
    }
    if kind.starts_with("channel_") {
        check_channel_transaction(name, v, &tx);
    }
    if kind.starts_with("stream_") {
        streams::check_stream_transaction(name, v, &tx);
    }
    if kind.starts_with("hold_") || kind.starts_with("offer_") {
        market::check_market_transaction(name, v, &tx);
    }
    if resources::is_resource_kind(kind) {
        resources::check_resource_transaction(name, v, &tx);
    }
}

/// A flipped bit anywhere in R or S fails alone and in a batch; the untouched one passes beside it.
fn check_tampered_signature(name: &str, body: TxBody, good: &Signature) {
    for at in [0, 31, 32, 63] {
        let mut bad = *good;
        flip(&mut bad.0, at);
        let tampered = SignedTx::from_parts(body.clone(), bad);
        assert!(
            tampered.clone().verify().is_err(),
            "{name}: flipped byte {at}"
        );
        let good_tx = SignedTx::from_parts(body.clone(), *good);
        let results = SignedTx::verify_batch(vec![good_tx, tampered], &mut TestRng(7));
        let oks: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(oks, [true, false], "{name}: batch with flipped byte {at}");
    }
}

fn check_device_consent(name: &str, v: &Value) {
    let f = &v["fields"];
    let device = Keypair::from_seed(hex32(&v["device_seed_hex"]));
    assert_eq!(
        device.account(),
        account(&f["device"]),
        "{name}: device key"
    );
    let consent = device_consent_message(
        &hash(&f["genesis"]),
        &account(&f["sender"]),
        &device.account(),
        &hex_bytes(&f["metadata_hex"]),
    );
    assert_eq!(
        consent,
        hex_bytes(&v["device_consent_message_hex"]),
        "{name}: consent"
    );
    assert_eq!(consent, consent_by_hand(f), "{name}: consent layout");
    let sig = signature(&f["device_signature_hex"]);
    assert_eq!(device.sign(&consent), sig, "{name}: consent signature");
    assert_eq!(
        keys::verify(&device.account(), &consent, &sig),
        Ok(()),
        "{name}"
    );
    let mut bad = sig;
    flip(&mut bad.0, 40);
    assert!(
        keys::verify(&device.account(), &consent, &bad).is_err(),
        "{name}"
    );
}

fn check_invalid_transaction(v: &Value) {
    let name = &v["name"];
    let bytes = hex_bytes(&v["encoded_hex"]);
    let err = SignedTx::decode(&bytes).expect_err("an invalid vector must not decode");
    assert_eq!(err.code(), v["error"], "{name}: {err}");
}

// ---- Payment channels: by hand from docs/wire.md §5.3 and §13 ----

/// `SHA-256("ting:channel:v2" || genesis || payer || nonce u64 LE)`.
fn channel_id_by_hand(genesis: &[u8; 32], payer: &[u8; 32], nonce: u64) -> [u8; 32] {
    sha256(&[b"ting:channel:v2", genesis, payer, &nonce.to_le_bytes()])
}

/// The 64-byte prefix block: the domain padded with zeros to 28 bytes, the segment, the channel.
fn prefix_by_hand(channel: &[u8; 32], segment: u32) -> Vec<u8> {
    let mut b = b"ting:chain:v1".to_vec();
    b.resize(28, 0);
    b.extend_from_slice(&segment.to_le_bytes());
    b.extend_from_slice(channel);
    assert_eq!(b.len(), 64);
    b
}

/// `steps` chain steps from `x`, each a plain SHA-256 of the 96 bytes `prefix || x`.
fn walk_by_hand(prefix: &[u8], x: &[u8; 32], steps: u32) -> [u8; 32] {
    let mut x = *x;
    for _ in 0..steps {
        x = sha256(&[prefix, &x]);
    }
    x
}

/// `"ting:voucher:v1" || network u32 LE || channel || amount u64 LE`, 59 bytes.
fn voucher_message_by_hand(network: u32, channel: &[u8; 32], amount: u64) -> Vec<u8> {
    let m = [
        &b"ting:voucher:v1"[..],
        &network.to_le_bytes(),
        channel,
        &amount.to_le_bytes(),
    ]
    .concat();
    assert_eq!(m.len(), 59);
    m
}

/// A tick recomputed from its chain's seed: tick `i` of a chain of `n` is `H^(n-i)(seed)`.
/// Returns its global index, its value and the anchor (tick 0) it hashes to.
fn check_tick(name: &str, t: &Value, channel: &[u8; 32]) -> (u64, Hash32, Hash32) {
    let seed = hex32(&t["seed_hex"]);
    let segment = num_u32(&t["segment"]);
    let len = num_u32(&t["len"]);
    let local = num_u32(&t["local_index"]);
    assert!(local <= len, "{name}: tick within its chain");
    let prefix = prefix_by_hand(channel, segment);
    let value = walk_by_hand(&prefix, &seed, len - local);
    assert_eq!(hex::encode(value), t["value"], "{name}: tick by hand");
    let anchor = walk_by_hand(&prefix, &value, local);
    assert_eq!(anchor, walk_by_hand(&prefix, &seed, len), "{name}: anchor");
    let id = ChannelId(Hash32(*channel));
    assert_eq!(
        &prefix_block(&id, segment)[..],
        &prefix[..],
        "{name}: prefix block"
    );
    let key = ChainKey::new(&id, segment);
    let mut source = TickSource::new(key, Hash32(seed), len);
    assert_eq!(source.tick(local), Hash32(value), "{name}: TickSource");
    assert_eq!(source.anchor(), Hash32(anchor), "{name}: TickSource anchor");
    assert!(
        key.links(&Hash32(value), u64::from(local), &Hash32(anchor)),
        "{name}: links"
    );
    if local > 0 {
        assert!(
            !key.links(&Hash32(value), u64::from(local) - 1, &Hash32(anchor)),
            "{name}: one step short"
        );
    }
    let base = dec_u64(&t["base"]);
    (base + u64::from(local), Hash32(value), Hash32(anchor))
}

/// A voucher's message rebuilt by hand, its signature re-signed and verified.
fn check_voucher(name: &str, x: &Value, channel: &[u8; 32], proof: &Value) {
    assert_eq!(proof["kind"], "voucher", "{name}: a voucher proof");
    let network = num_u32(&x["network"]);
    let amount = dec_u64(&proof["amount"]);
    let sig = signature(&proof["signature_hex"]);
    let payer = Keypair::from_seed(hex32(&x["payer_seed_hex"]));
    assert_eq!(payer.account(), account(&x["payer"]), "{name}: payer key");
    let message = voucher_message_by_hand(network, channel, amount);
    assert_eq!(
        message,
        hex_bytes(&x["message_hex"]),
        "{name}: voucher message"
    );
    let (net, id) = (NetworkId(network), ChannelId(Hash32(*channel)));
    assert_eq!(
        voucher_message(net, &id, Amount::new(amount)).to_vec(),
        message,
        "{name}: voucher_message"
    );
    assert_eq!(payer.sign(&message), sig, "{name}: voucher signature");
    assert_eq!(keys::verify(&payer.account(), &message, &sig), Ok(()));
    assert_eq!(
        verify_voucher(&payer.account(), net, &id, Amount::new(amount), &sig),
        Ok(()),
        "{name}: verify_voucher"
    );
    let other = Amount::new(amount ^ 1);
    assert!(
        verify_voucher(&payer.account(), net, &id, other, &sig).is_err(),
        "{name}: another amount"
    );
    let mut bad = sig;
    flip(&mut bad.0, 40);
    assert!(
        keys::verify(&payer.account(), &message, &bad).is_err(),
        "{name}: flipped"
    );
}

/// The proof's tick or voucher checked against the vector's `tick` or `voucher` member.
fn check_proof_source(name: &str, v: &Value, channel: &[u8; 32], proof: &Value) {
    match proof["kind"].as_str() {
        Some("tick") => {
            let (index, value, _) = check_tick(name, &v["tick"], channel);
            assert_eq!(dec_u64(&proof["index"]), index, "{name}: global index");
            assert_eq!(hash(&proof["preimage"]), value, "{name}: preimage");
        }
        Some("voucher") => check_voucher(name, &v["voucher"], channel, proof),
        other => panic!("{name}: unknown proof kind {other:?}"),
    }
}

fn check_channel_transaction(name: &str, v: &Value, tx: &SignedTx) {
    let f = &v["fields"];
    let kind = v["kind"].as_str().expect("a kind");
    let channel = if kind == "channel_open" {
        let genesis = hex32(&f["genesis"]);
        let id = channel_id_by_hand(&genesis, &hex32(&f["sender"]), dec_u64(&f["nonce"]));
        assert_eq!(hex::encode(id), v["channel_id_hex"], "{name}: channel id");
        assert_eq!(
            tx.opened_channel(),
            Some(ChannelId(Hash32(id))),
            "{name}: opened_channel"
        );
        id
    } else {
        assert_eq!(tx.opened_channel(), None, "{name}");
        assert_eq!(
            tx.kind().channel(),
            Some(channel(&f["channel"])),
            "{name}: channel"
        );
        hex32(&f["channel"])
    };
    let segment = match kind {
        "channel_open" => &f["chain"],
        "channel_top_up" => &f["extension"],
        _ => &Value::Null,
    };
    if !segment.is_null() {
        let (index, value, anchor) = check_tick(name, &v["tick"], &channel);
        assert_eq!(value, anchor, "{name}: the anchor is tick 0");
        assert_eq!(v["tick"]["local_index"], 0, "{name}: tick 0");
        assert_eq!(index, dec_u64(&v["tick"]["base"]), "{name}: segment base");
        assert_eq!(hash(&segment["anchor"]), anchor, "{name}: anchor");
        assert_eq!(segment["len"], v["tick"]["len"], "{name}: chain length");
    }
    if matches!(kind, "channel_claim" | "channel_close") && !f["proof"].is_null() {
        check_proof_source(name, v, &channel, &f["proof"]);
    }
}

fn payment_by_hand(f: &Value) -> Vec<u8> {
    let mut b = vec![1u8];
    b.extend_from_slice(&num_u32(&f["network"]).to_le_bytes());
    b.extend_from_slice(&hex32(&f["channel"]));
    b.extend_from_slice(&proof_by_hand(&f["proof"]));
    b
}

fn check_payment(v: &Value) {
    let name = v["name"].as_str().expect("a name");
    let f = &v["fields"];
    assert_eq!(f["version"], 1, "{name}: version");
    let encoded = hex_bytes(&v["encoded_hex"]);
    assert_eq!(payment_by_hand(f), encoded, "{name}: wire.md layout");
    let payment = Payment {
        network: NetworkId(num_u32(&f["network"])),
        channel: channel(&f["channel"]),
        proof: channel_proof_from(&f["proof"]),
    };
    assert_eq!(payment.encode(), encoded, "{name}: encode");
    assert_eq!(Payment::decode(&encoded), Ok(payment), "{name}: decode");
    let size = match f["proof"]["kind"].as_str() {
        Some("tick") => 78,
        _ => 110,
    };
    assert_eq!(encoded.len(), size, "{name}: size");
    check_proof_source(name, v, &hex32(&f["channel"]), &f["proof"]);
}

fn check_invalid_payment(v: &Value) {
    let name = &v["name"];
    let bytes = hex_bytes(&v["encoded_hex"]);
    let err = Payment::decode(&bytes).expect_err("an invalid payment must not decode");
    assert_eq!(err.code(), v["error"], "{name}: {err}");
}

fn check_channel_id(v: &Value) {
    let name = &v["name"];
    let (genesis, payer, nonce) = (
        hex32(&v["genesis"]),
        hex32(&v["payer"]),
        dec_u64(&v["nonce"]),
    );
    let input = [
        &b"ting:channel:v2"[..],
        &genesis,
        &payer,
        &nonce.to_le_bytes(),
    ]
    .concat();
    assert_eq!(input.len(), 87, "{name}");
    assert_eq!(input, hex_bytes(&v["hash_input_hex"]), "{name}: hash input");
    let id = channel_id_by_hand(&genesis, &payer, nonce);
    assert_eq!(hex::encode(id), v["channel_id_hex"], "{name}: id by hand");
    assert_eq!(
        ChannelId::derive(&Hash32(genesis), &AccountId(payer), Nonce(nonce)),
        ChannelId(Hash32(id)),
        "{name}: ChannelId::derive"
    );
}

fn check_chain_step(v: &Value) {
    let name = &v["name"];
    let channel = hex32(&v["channel"]);
    let segment = num_u32(&v["segment"]);
    let prefix = prefix_by_hand(&channel, segment);
    assert_eq!(prefix, hex_bytes(&v["prefix_block_hex"]), "{name}: prefix");
    let x = hex32(&v["x_hex"]);
    let message = [&prefix[..], &x].concat();
    assert_eq!(message.len(), 96, "{name}");
    assert_eq!(message, hex_bytes(&v["message_hex"]), "{name}: message");
    let h = sha256(&[&message]);
    assert_eq!(hex::encode(h), v["h_hex"], "{name}: SHA-256");
    let key = ChainKey::new(&ChannelId(Hash32(channel)), segment);
    assert_eq!(key.step(&Hash32(x)), Hash32(h), "{name}: ChainKey::step");
}

fn check_chain(v: &Value) {
    let name = &v["name"];
    let channel = hex32(&v["channel"]);
    let segment = num_u32(&v["segment"]);
    let len = num_u32(&v["len"]);
    let seed = hex32(&v["seed_hex"]);
    let ticks: Vec<[u8; 32]> = v["ticks_hex"]
        .as_array()
        .expect("ticks")
        .iter()
        .map(hex32)
        .collect();
    assert_eq!(ticks.len(), len as usize + 1, "{name}: ticks 0 to len");
    assert_eq!(ticks[len as usize], seed, "{name}: tick len is the seed");
    let prefix = prefix_by_hand(&channel, segment);
    for i in 0..len as usize {
        assert_eq!(
            ticks[i],
            sha256(&[&prefix, &ticks[i + 1]]),
            "{name}: tick {i}"
        );
    }
    let key = ChainKey::new(&ChannelId(Hash32(channel)), segment);
    let mut source = TickSource::new(key, Hash32(seed), len);
    for (i, tick) in (0..=len).zip(&ticks) {
        assert_eq!(source.tick(i), Hash32(*tick), "{name}: TickSource {i}");
    }
}

fn check_voucher_vector(v: &Value) {
    let name = v["name"].as_str().expect("a name");
    let proof = serde_json::json!({
        "kind": "voucher",
        "amount": v["amount"],
        "signature_hex": v["signature_hex"],
    });
    check_voucher(name, v, &hex32(&v["channel"]), &proof);
}

// ---- Merkle trees ----

fn leaf_by_hand(tx_hash: &Hash32) -> Hash32 {
    Hash32(sha256(&[&[0x00], &tx_hash.0]))
}

fn node_by_hand(left: &Hash32, right: &Hash32) -> Hash32 {
    Hash32(sha256(&[&[0x01], &left.0, &right.0]))
}

/// RFC 6962 §2.1, recursively: split at the largest power of two below `n`.
fn root_by_hand(tx_hashes: &[Hash32]) -> Hash32 {
    match tx_hashes.len() {
        0 => Hash32(sha256(&[])),
        1 => leaf_by_hand(&tx_hashes[0]),
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_by_hand(
                &root_by_hand(&tx_hashes[..k]),
                &root_by_hand(&tx_hashes[k..]),
            )
        }
    }
}

/// The verification algorithm of docs/wire.md, transcribed.
fn verify_by_hand(
    tx_hash: &Hash32,
    index: u32,
    count: u32,
    siblings: &[Hash32],
    root: &Hash32,
) -> bool {
    if index >= count || siblings.len() > 32 {
        return false;
    }
    let mut hash = leaf_by_hand(tx_hash);
    let (mut at, mut width, mut used) = (u64::from(index), u64::from(count), 0);
    while width > 1 {
        if (at ^ 1) < width {
            let Some(sibling) = siblings.get(used) else {
                return false;
            };
            used += 1;
            hash = if at % 2 == 1 {
                node_by_hand(sibling, &hash)
            } else {
                node_by_hand(&hash, sibling)
            };
        }
        at /= 2;
        width = width.div_ceil(2);
    }
    used == siblings.len() && hash == *root
}

fn proof_from(v: &Value) -> MerkleProof {
    MerkleProof {
        index: num_u32(&v["index"]),
        count: num_u32(&v["count"]),
        siblings: v["siblings_hex"]
            .as_array()
            .expect("siblings")
            .iter()
            .map(hash)
            .collect(),
    }
}

fn check_proof(what: &str, proof: &MerkleProof, tx_hash: &Hash32, root: &Hash32) {
    let (i, n) = (proof.index, proof.count);
    assert_eq!(
        proof.verify(tx_hash, root),
        Ok(()),
        "{what}: proof {i} of {n}"
    );
    assert!(
        verify_by_hand(tx_hash, i, n, &proof.siblings, root),
        "{what}: {i} by hand"
    );
    for s in 0..proof.siblings.len() {
        let mut bad = proof.clone();
        flip(&mut bad.siblings[s].0, 17);
        assert!(
            bad.verify(tx_hash, root).is_err(),
            "{what}: {i} sibling {s}"
        );
        assert!(
            !verify_by_hand(tx_hash, i, n, &bad.siblings, root),
            "{what}: {i} {s}"
        );
    }
    let mut other = *tx_hash;
    flip(&mut other.0, 0);
    assert!(
        proof.verify(&other, root).is_err(),
        "{what}: {i} another leaf"
    );
}

fn check_merkle(v: &Value) {
    let count = num_u32(&v["count"]);
    let what = format!("merkle tree of {count}");
    let leaves: Vec<Hash32> = v["tx_hashes_hex"]
        .as_array()
        .expect("leaves")
        .iter()
        .map(hash)
        .collect();
    assert_eq!(leaves.len(), count as usize, "{what}: leaf count");
    let leaf_hashes: Vec<Hash32> = leaves.iter().map(leaf_by_hand).collect();
    let listed: Vec<Hash32> = v["leaf_hashes_hex"]
        .as_array()
        .expect("leaf hashes")
        .iter()
        .map(hash)
        .collect();
    assert_eq!(leaf_hashes, listed, "{what}: leaf hashes");
    assert_eq!(
        leaves.iter().map(merkle::leaf_hash).collect::<Vec<_>>(),
        listed,
        "{what}"
    );
    let root = hash(&v["root_hex"]);
    assert_eq!(merkle::root(&leaves), root, "{what}: root");
    assert_eq!(root_by_hand(&leaves), root, "{what}: RFC 6962 root");
    let proofs = v["proofs"].as_array().expect("proofs");
    assert_eq!(proofs.len(), leaves.len(), "{what}: one proof per leaf");
    for (i, p) in proofs.iter().enumerate() {
        let proof = proof_from(p);
        assert_eq!(proof.index as usize, i, "{what}: proofs in order");
        assert_eq!(proof.count, count, "{what}: proof count");
        assert_eq!(
            merkle::prove(&leaves, i),
            Some(proof.clone()),
            "{what}: prove({i})"
        );
        check_proof(&what, &proof, &leaves[i], &root);
    }
}

// ---- Genesis and blocks ----

fn accounts(v: &Value) -> Vec<AccountId> {
    v.as_array()
        .expect("accounts")
        .iter()
        .map(account)
        .collect()
}

fn genesis_from_fields(f: &Value) -> Genesis {
    Genesis {
        name: f["name"].as_str().expect("a name").to_string(),
        network: NetworkId(num_u32(&f["network"])),
        timestamp: Timestamp(dec_u64(&f["timestamp"])),
        issuers: accounts(&f["issuers"]),
        sequencers: accounts(&f["sequencers"]),
        allocations: f["allocations"]
            .as_array()
            .expect("allocations")
            .iter()
            .map(|a| (account(&a["account"]), Amount::new(dec_u64(&a["amount"]))))
            .collect(),
        clock: match f.get("clock_speed") {
            None => ting_core::LedgerClock::Real,
            Some(speed) => ting_core::LedgerClock::Accelerated {
                speed: num_u32(speed),
            },
        },
    }
}

fn genesis_by_hand(g: &Genesis) -> Vec<u8> {
    let accelerated = match g.clock {
        ting_core::LedgerClock::Real => None,
        ting_core::LedgerClock::Accelerated { speed } => Some(speed),
    };
    let mut b = vec![if accelerated.is_some() { 2u8 } else { 1u8 }];
    b.extend_from_slice(&g.network.0.to_le_bytes());
    b.extend_from_slice(&g.timestamp.0.to_le_bytes());
    b.push(u8::try_from(g.name.len()).expect("short name"));
    b.extend_from_slice(g.name.as_bytes());
    for keys in [&g.issuers, &g.sequencers] {
        b.extend_from_slice(&u16::try_from(keys.len()).expect("few").to_le_bytes());
        keys.iter().for_each(|k| b.extend_from_slice(&k.0));
    }
    b.extend_from_slice(
        &u32::try_from(g.allocations.len())
            .expect("few")
            .to_le_bytes(),
    );
    for (who, amount) in &g.allocations {
        b.extend_from_slice(&who.0);
        b.extend_from_slice(&amount.base_units().to_le_bytes());
    }
    if let Some(speed) = accelerated {
        b.push(0x01);
        b.extend_from_slice(&speed.to_le_bytes());
    }
    b
}

fn check_genesis(v: &Value) {
    let g = genesis_from_fields(&v["fields"]);
    let encoded = hex_bytes(&v["encoded_hex"]);
    assert_eq!(g.encode(), encoded, "genesis encoding");
    assert_eq!(genesis_by_hand(&g), encoded, "genesis layout");
    assert_eq!(g.hash(), hash(&v["genesis_hash_hex"]), "genesis hash");
    let by_hand = sha256(&[b"ting:genesis:v1", &encoded]);
    assert_eq!(
        hex::encode(by_hand),
        v["genesis_hash_hex"],
        "genesis hash by hand"
    );
    assert_eq!(Genesis::decode(&encoded), Ok(g.clone()), "genesis decodes");
    assert_eq!(g.validate(), Ok(()), "the vector genesis is valid");
}

/// The version 2 header of docs/wire.md §7.1, without its signature: 189 bytes.
fn unsigned_header_by_hand(f: &Value) -> Vec<u8> {
    let mut b = vec![2u8];
    b.extend_from_slice(&hex32(&f["genesis"]));
    b.extend_from_slice(&dec_u64(&f["height"]).to_le_bytes());
    b.extend_from_slice(&dec_u64(&f["epoch"]).to_le_bytes());
    b.extend_from_slice(&hex32(&f["prev_hash"]));
    b.extend_from_slice(&dec_u64(&f["timestamp"]).to_le_bytes());
    b.extend_from_slice(&hex32(&f["tx_root"]));
    b.extend_from_slice(&num_u32(&f["tx_count"]).to_le_bytes());
    b.extend_from_slice(&hex32(&f["state_root"]));
    b.extend_from_slice(&hex32(&f["sequencer"]));
    assert_eq!(b.len(), 189, "the unsigned header's length");
    assert_eq!(b.len(), UNSIGNED_HEADER_BYTES);
    b
}

/// A signed header rebuilt through the API from its fields, the transactions'
/// root and count taken as listed.
fn header_from_fields(f: &Value, key: &Keypair) -> BlockHeader {
    let mut header = BlockHeader {
        genesis: hash(&f["genesis"]),
        height: BlockHeight(dec_u64(&f["height"])),
        epoch: dec_u64(&f["epoch"]),
        prev_hash: hash(&f["prev_hash"]),
        timestamp: Timestamp(dec_u64(&f["timestamp"])),
        tx_root: hash(&f["tx_root"]),
        tx_count: num_u32(&f["tx_count"]),
        state_root: hash(&f["state_root"]),
        sequencer: key.account(),
        signature: Signature([0; 64]),
    };
    header.sign(key);
    header
}

/// A header's signing message, bytes and hash, by hand and through the API.
fn check_header(name: &str, f: &Value, header: &BlockHeader, v: &Value) {
    let message = [&b"ting:block:v2"[..], &unsigned_header_by_hand(f)].concat();
    assert_eq!(message.len(), 13 + 189, "{name}: signing message length");
    assert_eq!(header.signing_message(), message, "{name}: layout");
    let bytes = [&unsigned_header_by_hand(f)[..], &header.signature.0].concat();
    assert_eq!(bytes.len(), 253, "{name}: header length");
    assert_eq!(bytes.len(), HEADER_BYTES);
    assert_eq!(header.to_bytes(), bytes, "{name}: header encoding");
    assert_eq!(hex::encode(&bytes), v["header_hex"], "{name}: header");
    assert_eq!(
        BlockHeader::from_bytes(&bytes),
        Ok(header.clone()),
        "{name}: header decodes"
    );
    assert_eq!(
        hex::encode(sha256(&[&message])),
        v["block_hash_hex"],
        "{name}: block hash by hand"
    );
    assert_eq!(
        header.verify_signature(),
        Ok(()),
        "{name}: header signature"
    );
}

/// The block as the API builds it from the vector's fields and transactions.
fn block_from_vector(v: &Value, key: &Keypair) -> Block {
    let f = &v["fields"];
    let txs: Vec<SignedTx> = v["transactions_hex"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|t| SignedTx::decode(&hex_bytes(t)).expect("block transactions decode"))
        .collect();
    let hashes: Vec<Hash32> = txs.iter().map(SignedTx::hash).collect();
    let mut header = BlockHeader {
        genesis: hash(&f["genesis"]),
        height: BlockHeight(dec_u64(&f["height"])),
        epoch: dec_u64(&f["epoch"]),
        prev_hash: hash(&f["prev_hash"]),
        timestamp: Timestamp(dec_u64(&f["timestamp"])),
        tx_root: merkle::root(&hashes),
        tx_count: u32::try_from(txs.len()).expect("few"),
        state_root: hash(&f["state_root"]),
        sequencer: key.account(),
        signature: Signature([0; 64]),
    };
    header.sign(key);
    Block { header, txs }
}

fn check_block(v: &Value) {
    let name = v["name"].as_str().expect("a name");
    let f = &v["fields"];
    let key = Keypair::from_seed(hex32(&v["sequencer_seed_hex"]));
    assert_eq!(
        key.account().to_hex(),
        v["sequencer_public_key_hex"],
        "{name}"
    );
    assert_eq!(
        f["sequencer"], v["sequencer_public_key_hex"],
        "{name}: sequencer"
    );
    let block = block_from_vector(v, &key);
    let h = &block.header;
    assert_eq!(h.tx_root, hash(&f["tx_root"]), "{name}: tx root");
    assert_eq!(u64::from(h.tx_count), f["tx_count"], "{name}: tx count");
    let message = hex_bytes(&v["signing_message_hex"]);
    assert_eq!(h.signing_message(), message, "{name}: signing message");
    assert_eq!(
        h.signature.to_hex(),
        v["signature_hex"],
        "{name}: signature"
    );
    check_header(name, f, h, v);
    state::check_block_state(name, v, &h.state_root);
    let mut encoded = h.to_bytes();
    for tx in &block.txs {
        let len = u16::try_from(tx.bytes().len()).expect("short");
        encoded.extend_from_slice(&len.to_le_bytes());
        encoded.extend_from_slice(tx.bytes());
    }
    assert_eq!(block.encode(), encoded, "{name}: block encoding");
    assert_eq!(
        hex::encode(&encoded),
        v["encoded_hex"],
        "{name}: block bytes"
    );
    assert_eq!(h.hash().to_hex(), v["block_hash_hex"], "{name}: block hash");
    let decoded = Block::decode(&encoded).expect("the block decodes");
    assert_eq!(decoded, block, "{name}: decode");
    assert!(decoded.body_matches_header(), "{name}: body matches header");
    check_receipts(name, v, h);
}

fn check_receipts(name: &str, v: &Value, header: &BlockHeader) {
    let receipts = v["receipts"].as_array().expect("receipts");
    assert_eq!(
        receipts.len(),
        header.tx_count as usize,
        "{name}: a receipt per tx"
    );
    let sequencers = [header.sequencer];
    let genesis = list("genesis")[0]["genesis_hash_hex"].clone();
    let genesis = hash(&genesis);
    assert_eq!(header.genesis, genesis, "{name}: the vector genesis");
    let mut other_genesis = genesis;
    flip(&mut other_genesis.0, 0);
    for r in receipts {
        let receipt = Receipt {
            tx_hash: hash(&r["tx_hash_hex"]),
            proof: proof_from(&r["proof"]),
            header: header.clone(),
        };
        assert_eq!(receipt.verify(&genesis, &sequencers), Ok(()), "{name}");
        check_proof(name, &receipt.proof, &receipt.tx_hash, &header.tx_root);
        let mut bad = receipt.clone();
        flip(&mut bad.header.signature.0, 3);
        assert!(
            bad.verify(&genesis, &sequencers).is_err(),
            "{name}: header sig"
        );
        if !receipt.proof.siblings.is_empty() {
            let mut bad = receipt.clone();
            flip(&mut bad.proof.siblings[0].0, 9);
            assert!(
                bad.verify(&genesis, &sequencers).is_err(),
                "{name}: sibling"
            );
        }
        let stranger = [Keypair::from_seed([0x42; 32]).account()];
        let code = |r: Result<(), ting_core::receipt::ReceiptError>| r.map_err(|e| e.code());
        assert_eq!(
            code(receipt.verify(&genesis, &stranger)),
            Err("unknown_sequencer"),
            "{name}: signer"
        );
        assert_eq!(
            code(receipt.verify(&other_genesis, &sequencers)),
            Err("wrong_network"),
            "{name}: another genesis"
        );
    }
}

fn check_account(v: &Value) {
    let name = &v["name"];
    let hex_text = v["hex"].as_str().expect("hex");
    let did = v["did"].as_str().expect("did");
    let id = AccountId::parse(hex_text).expect("hex parses");
    assert_eq!(
        AccountId::parse(did),
        Ok(id),
        "{name}: did:key parses to the same key"
    );
    assert_eq!(id.to_did(), did, "{name}: did:key form");
    let check = id.check_valid().map_or_else(|e| e.code(), |()| "ok");
    assert_eq!(check, v["check"], "{name}: check_valid");
}

// ---- The tests ----

#[test]
fn every_transaction_vector_matches_the_code_and_the_document() {
    list("transactions").iter().for_each(check_transaction);
}

#[test]
fn the_transaction_vectors_cover_every_kind_and_variant() {
    let txs = list("transactions");
    let kinds: Vec<&str> = txs.iter().filter_map(|v| v["kind"].as_str()).collect();
    for kind in [
        "transfer",
        "mint",
        "register_device",
        "set_spend_limit",
        "freeze",
        "unfreeze",
        "sweep",
        "set_messaging_key",
        "channel_open",
        "channel_claim",
        "channel_top_up",
        "channel_close",
        "channel_reclaim",
        "stream_open",
        "stream_consent",
        "stream_delivery",
        "stream_close",
        "hold_create",
        "offer_open",
        "class_register",
        "order_place",
        "order_cancel",
        "lease_settle",
        "lease_close",
    ] {
        assert!(kinds.contains(&kind), "no vector of kind {kind}");
    }
    let has = |kind: &str, test: &dyn Fn(&Value) -> bool| {
        txs.iter().any(|v| v["kind"] == kind && test(&v["fields"]))
    };
    assert!(
        has("transfer", &|f| f["memo_hex"] == ""),
        "a transfer without memo"
    );
    assert!(
        has("transfer", &|f| f["memo_hex"] != ""),
        "a transfer with a memo"
    );
    assert!(
        has("set_spend_limit", &|f| f["per_day"].is_null()),
        "no limit"
    );
    assert!(
        has("set_spend_limit", &|f| f["per_day"].is_string()),
        "a limit"
    );
    assert!(has("channel_open", &|f| f["mode"] == "hash_chain"));
    assert!(has("channel_open", &|f| f["mode"] == "voucher"));
    for proof in ["tick", "voucher"] {
        assert!(has("channel_claim", &|f| f["proof"]["kind"] == proof));
        assert!(has("channel_close", &|f| f["proof"]["kind"] == proof));
    }
    assert!(has("channel_close", &|f| f["proof"].is_null()));
    assert!(has("channel_top_up", &|f| f["extension"].is_null()));
    assert!(has("channel_top_up", &|f| f["extension"].is_object()));
}

/// The sizes the tables of docs/wire.md §5.3 give for each channel kind and variant.
#[test]
fn channel_transactions_have_their_documented_sizes() {
    for v in list("transactions") {
        let f = &v["fields"];
        let proof_len = |p: &Value| match p["kind"].as_str() {
            Some("tick") => 1 + 8 + 32,
            _ => 1 + 8 + 64,
        };
        let expected = match v["kind"].as_str().expect("a kind") {
            "channel_open" if f["mode"] == "hash_chain" => 239,
            "channel_open" => 195,
            "channel_claim" => 114 + proof_len(&f["proof"]) + 64,
            "channel_top_up" if f["extension"].is_null() => 195,
            "channel_top_up" => 231,
            "channel_close" if f["proof"].is_null() => 179,
            "channel_close" => 115 + proof_len(&f["proof"]) + 64,
            "channel_reclaim" => 178,
            _ => continue,
        };
        let got = hex_bytes(&v["encoded_hex"]).len();
        assert_eq!(got, expected, "{}: size", v["name"]);
    }
}

/// Claims, top-ups, closes and reclaims name channels that the open vectors create,
/// vouchers are signed by the channel's payer, and a second chain's ticks follow the first's.
#[test]
fn channel_vectors_act_on_the_channels_they_open() {
    let txs = list("transactions");
    let opens: Vec<&Value> = txs.iter().filter(|v| v["kind"] == "channel_open").collect();
    for v in txs.iter().filter(|v| {
        let kind = v["kind"].as_str().unwrap_or("");
        kind.starts_with("channel_") && kind != "channel_open"
    }) {
        let f = &v["fields"];
        let open = opens
            .iter()
            .find(|o| o["channel_id_hex"] == f["channel"])
            .unwrap_or_else(|| panic!("{}: its channel is opened by a vector", v["name"]));
        let (payer, payee) = (&open["fields"]["sender"], &open["fields"]["payee"]);
        match v["kind"].as_str() {
            Some("channel_top_up" | "channel_reclaim") => {
                assert_eq!(f["sender"], *payer, "{}: sent by the payer", v["name"]);
            }
            Some("channel_close") => {
                assert_eq!(f["sender"], *payee, "{}: sent by the payee", v["name"]);
            }
            _ => {}
        }
        if !v["voucher"].is_null() {
            assert_eq!(open["fields"]["mode"], "voucher", "{}", v["name"]);
            assert_eq!(v["voucher"]["payer"], *payer, "{}: payer signs", v["name"]);
        }
        if !v["tick"].is_null() {
            assert_eq!(open["fields"]["mode"], "hash_chain", "{}", v["name"]);
            let segment = v["tick"]["segment"].as_u64().expect("a segment");
            let base = dec_u64(&v["tick"]["base"]);
            let first_len = open["fields"]["chain"]["len"].as_u64().expect("a len");
            assert_eq!(base, segment * first_len, "{}: segment base", v["name"]);
        }
    }
}

#[test]
fn every_channel_id_chain_step_chain_and_voucher_vector_matches() {
    let c = &vectors()["channels"];
    let section = |name: &str| c[name].as_array().expect("an array");
    section("ids").iter().for_each(check_channel_id);
    section("chain_steps").iter().for_each(check_chain_step);
    section("chains").iter().for_each(check_chain);
    section("vouchers").iter().for_each(check_voucher_vector);
}

#[test]
fn every_payment_vector_matches_and_every_invalid_one_is_refused() {
    let payments = list("payments");
    let kinds: Vec<&Value> = payments
        .iter()
        .map(|p| &p["fields"]["proof"]["kind"])
        .collect();
    assert!(kinds.contains(&&Value::from("tick")), "a tick payment");
    assert!(
        kinds.contains(&&Value::from("voucher")),
        "a voucher payment"
    );
    payments.iter().for_each(check_payment);
    let invalid = list("invalid_payments");
    assert!(!invalid.is_empty());
    invalid.iter().for_each(check_invalid_payment);
    assert_eq!(Payment::BYTES_MAX, 110, "the longest payment");
}

#[test]
fn every_invalid_transaction_vector_is_refused_with_its_code() {
    let invalid = list("invalid_transactions");
    assert!(!invalid.is_empty());
    invalid.iter().for_each(check_invalid_transaction);
}

#[test]
fn every_merkle_vector_gives_its_root_and_proofs() {
    let trees = list("merkle");
    let sizes: Vec<u64> = trees.iter().filter_map(|v| v["count"].as_u64()).collect();
    for n in [1, 2, 3, 5, 8, 13] {
        assert!(sizes.contains(&n), "no Merkle vector of size {n}");
    }
    trees.iter().for_each(check_merkle);
}

#[test]
fn the_genesis_and_block_vectors_match_and_chain() {
    let genesis = list("genesis");
    genesis.iter().for_each(check_genesis);
    let blocks = list("blocks");
    blocks.iter().for_each(check_block);
    let mut prev = genesis[0]["genesis_hash_hex"].clone();
    for b in blocks {
        assert_eq!(b["fields"]["prev_hash"], prev, "{}: chains", b["name"]);
        prev = b["block_hash_hex"].clone();
    }
}

#[test]
fn block_transactions_are_the_named_transaction_vectors() {
    let txs = list("transactions");
    for b in list("blocks") {
        let names = b["transactions"].as_array().expect("names");
        for (name, encoded) in names
            .iter()
            .zip(b["transactions_hex"].as_array().expect("txs"))
        {
            let tx = txs
                .iter()
                .find(|t| t["name"] == *name)
                .expect("named vector");
            assert_eq!(tx["encoded_hex"], *encoded, "{name}");
        }
    }
}

#[test]
fn every_account_vector_parses_and_checks_as_listed() {
    list("accounts").iter().for_each(check_account);
}

#[test]
fn a_batch_of_every_vector_signature_agrees_with_checking_each_alone() {
    let mut batch = BatchVerifier::default();
    for v in list("transactions") {
        let tx = SignedTx::decode(&hex_bytes(&v["encoded_hex"])).expect("decodes");
        batch.queue(&tx.sender(), &tx.signing_message(), tx.signature());
    }
    let n = batch.len();
    assert_eq!(batch.verify(&mut TestRng(1)), vec![true; n]);
}

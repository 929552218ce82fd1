//! Pins every in-place (no-allocation) operation of ting-core, the ones
//! firmware uses on caller-provided buffers, to the allocating form it stands
//! in for, value for value and error for error:
//!
//! - `TxBody::sign_into` writes exactly `SignedTx::bytes` of `TxBody::sign`,
//!   for transactions of every kind, and refuses every shorter buffer with
//!   `BufferTooSmall { need: full length, have: buffer length }`;
//! - `receipt::check_receipt_bytes` gives what `Receipt::decode` then
//!   `Receipt::verify` give (a decode failure as `ReceiptError::Malformed`);
//! - `state_proof::check_account_bytes` / `check_channel_bytes` give what
//!   `StateAnswer::from_bytes` then `verify_account` / `verify_channel` give,
//!   the record as the answer's own bytes (decode failure as `Malformed`);
//! - `StateProofBytes` reads and verifies as `StateProof` does,
//!   `merkle::verify_path` over `hash::hashes_in` as `MerkleProof::verify`,
//!   and `Keypair::sign_parts` / `keys::verify_parts` as signing and
//!   verifying the joined message.
//!
//! Each is compared on valid inputs and on the same bytes with a byte
//! flipped, cut short or extended, and, for the signed checks, against a
//! wrong genesis, an unknown sequencer and a stale height. Case counts are
//! small: signing and verifying are slow in debug builds.

use proptest::prelude::*;
use proptest::sample::Index;
use ting_core::block::HEADER_BYTES;
use ting_core::channel::{ChannelTerms, CloseKind, Closed, HashChainState};
use ting_core::encoding::{BufferTooSmall, Reader, Writer};
use ting_core::hash::hashes_in;
use ting_core::keys;
use ting_core::limits::{MEMO_BYTES_MAX, METADATA_BYTES_MAX};
use ting_core::merkle::{self, MerkleProof, MerkleTree};
use ting_core::receipt::{check_receipt_bytes, CheckedReceipt};
use ting_core::state_map::{self, Account, AccountRecord, Device};
use ting_core::state_proof::{
    check_account_bytes, check_channel_bytes, CheckedState, StateAnswer, StateAnswerError,
    StateCheck,
};
use ting_core::state_tree::{bucket_of, StateProof, StateProofBytes, StateTree};
use ting_core::tx::TX_DOMAIN;
use ting_core::{
    AccountId, Amount, Block, BlockDraft, BlockHeader, BlockHeight, ChainSegment, ChannelId,
    ChannelMode, ChannelProof, Hash32, Keypair, MessagingKey, Nonce, Receipt, ReceiptError,
    Signature, SignedTx, Timestamp, TxBody, TxKind,
};

/// `ting_core::channel::Channel`, named apart from the `Channel` outcome below.
type ChannelRecord = ting_core::channel::Channel;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---- Mutations ----

/// One change to valid bytes.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR a nonzero mask into any byte.
    Flip(Index, u8),
    /// XOR a nonzero mask into one of the layout's own fields (a flag, a
    /// length, a count, an index), which uniform flips rarely hit.
    FlipField(Index, u8),
    /// Keep a strict prefix.
    Truncate(Index),
    /// Append bytes.
    Extend(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=u8::MAX).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        (any::<Index>(), 1..=u8::MAX).prop_map(|(at, mask)| Mutation::FlipField(at, mask)),
        any::<Index>().prop_map(Mutation::Truncate),
        prop::collection::vec(any::<u8>(), 1..48).prop_map(Mutation::Extend),
    ]
}

/// `valid` changed by `m`; `fields` are offsets of the layout's fields.
fn mutate(valid: &[u8], fields: &[usize], m: &Mutation) -> Vec<u8> {
    let mut bytes = valid.to_vec();
    match m {
        Mutation::Flip(at, mask) => bytes[at.index(valid.len())] ^= mask,
        Mutation::FlipField(at, mask) => bytes[fields[at.index(fields.len())]] ^= mask,
        Mutation::Truncate(keep) => bytes.truncate(keep.index(valid.len())),
        Mutation::Extend(tail) => bytes.extend_from_slice(tail),
    }
    bytes
}

// ---- Values ----

fn hash32() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}

fn account_id() -> impl Strategy<Value = AccountId> {
    any::<[u8; 32]>().prop_map(AccountId)
}

fn amount() -> impl Strategy<Value = Amount> {
    any::<u64>().prop_map(Amount::new)
}

fn signature() -> impl Strategy<Value = Signature> {
    any::<[u8; 64]>().prop_map(Signature)
}

fn segment() -> impl Strategy<Value = ChainSegment> {
    (hash32(), any::<u32>()).prop_map(|(anchor, len)| ChainSegment { anchor, len })
}

fn channel_proof() -> impl Strategy<Value = ChannelProof> {
    prop_oneof![
        (any::<u64>(), hash32())
            .prop_map(|(index, preimage)| ChannelProof::Tick { index, preimage }),
        (amount(), signature())
            .prop_map(|(amount, signature)| ChannelProof::Voucher { amount, signature }),
    ]
}

/// Every transaction kind, a transfer both with and without a memo.
fn tx_kind() -> impl Strategy<Value = TxKind> {
    prop_oneof![
        (account_id(), amount()).prop_map(|(to, amount)| TxKind::Transfer {
            to,
            amount,
            memo: Vec::new(),
        }),
        (
            account_id(),
            amount(),
            prop::collection::vec(any::<u8>(), 1..=MEMO_BYTES_MAX)
        )
            .prop_map(|(to, amount, memo)| TxKind::Transfer { to, amount, memo }),
        (account_id(), amount()).prop_map(|(to, amount)| TxKind::Mint { to, amount }),
        (
            account_id(),
            prop::collection::vec(any::<u8>(), 0..=METADATA_BYTES_MAX),
            signature()
        )
            .prop_map(|(device, metadata, device_signature)| {
                TxKind::RegisterDevice {
                    device,
                    metadata,
                    device_signature,
                }
            }),
        (account_id(), prop::option::of(amount()))
            .prop_map(|(device, per_day)| TxKind::SetSpendLimit { device, per_day }),
        account_id().prop_map(|device| TxKind::Freeze { device }),
        account_id().prop_map(|device| TxKind::Unfreeze { device }),
        (account_id(), amount()).prop_map(|(device, amount)| TxKind::Sweep { device, amount }),
        any::<[u8; 32]>().prop_map(|k| TxKind::SetMessagingKey {
            key: MessagingKey(k)
        }),
        (
            account_id(),
            amount(),
            any::<u64>(),
            prop::option::of((segment(), amount()))
        )
            .prop_map(|(payee, deposit, expires_at, chain)| TxKind::ChannelOpen {
                payee,
                deposit,
                expires_at: Timestamp(expires_at),
                mode: match chain {
                    Some((chain, price)) => ChannelMode::HashChain { chain, price },
                    None => ChannelMode::Voucher,
                },
            }),
        (hash32(), channel_proof()).prop_map(|(channel, proof)| TxKind::ChannelClaim {
            channel: ChannelId(channel),
            proof,
        }),
        (
            hash32(),
            amount(),
            any::<u64>(),
            prop::option::of(segment())
        )
            .prop_map(
                |(channel, amount, expires_at, extension)| TxKind::ChannelTopUp {
                    channel: ChannelId(channel),
                    amount,
                    expires_at: Timestamp(expires_at),
                    extension,
                }
            ),
        (hash32(), prop::option::of(channel_proof())).prop_map(|(channel, proof)| {
            TxKind::ChannelClose {
                channel: ChannelId(channel),
                proof,
            }
        }),
        hash32().prop_map(|channel| TxKind::ChannelReclaim {
            channel: ChannelId(channel)
        }),
    ]
}

fn device() -> impl Strategy<Value = Device> {
    (
        account_id(),
        prop::collection::vec(any::<u8>(), 0..48),
        prop::option::of(amount()),
        any::<bool>(),
        any::<u64>(),
        amount(),
    )
        .prop_map(
            |(owner, metadata, per_day, frozen, spent_day, spent)| Device {
                owner,
                metadata,
                per_day,
                frozen,
                spent_day,
                spent,
            },
        )
}

fn account_record() -> impl Strategy<Value = AccountRecord> {
    (
        amount(),
        any::<u64>(),
        prop::option::of(device()),
        prop::option::of(any::<[u8; 32]>()),
    )
        .prop_map(|(balance, nonce, device, key)| AccountRecord {
            account: Account {
                balance,
                nonce: Nonce(nonce),
            },
            device,
            messaging_key: key.map(MessagingKey),
        })
}

/// A hash chain's progress that its record's decoder accepts.
fn hash_chain() -> impl Strategy<Value = HashChainState> {
    (
        amount(),
        any::<u32>(),
        0u64..1 << 40,
        segment(),
        prop::option::of(segment()),
        any::<u64>(),
        hash32(),
    )
        .prop_map(|(price, seg, base, current, next, at, claimed_tick)| {
            let ticks = u64::from(current.len) + next.map_or(0, |s| u64::from(s.len));
            HashChainState {
                price,
                segment: seg,
                base,
                current,
                next,
                claimed_index: base + at % (ticks + 1),
                claimed_tick,
            }
        })
}

/// A channel whose record its decoder accepts: claims within the deposit.
fn channel() -> impl Strategy<Value = ChannelRecord> {
    (
        account_id(),
        account_id(),
        any::<u64>(),
        any::<u64>(),
        any::<(u64, u64)>(),
        prop::option::of(hash_chain()),
        prop::option::of((any::<u64>(), amount(), any::<bool>())),
    )
        .prop_map(
            |(payer, payee, deposit, claim, (opened_at, expires_at), chain, closed)| {
                let claimed = match deposit.checked_add(1) {
                    Some(bound) => claim % bound,
                    None => claim,
                };
                ChannelRecord {
                    payer,
                    payee,
                    deposit: Amount::new(deposit),
                    claimed: Amount::new(claimed),
                    opened_at: Timestamp(opened_at),
                    expires_at: Timestamp(expires_at),
                    mode: chain.map_or(ChannelTerms::Voucher, ChannelTerms::HashChain),
                    closed: closed.map(|(at, refunded, payee)| Closed {
                        at: Timestamp(at),
                        refunded,
                        by: if payee {
                            CloseKind::Payee
                        } else {
                            CloseKind::Reclaim
                        },
                    }),
                }
            },
        )
}

// ---- Blocks ----

/// A sealed block over `n` transactions. A receipt depends only on their
/// hashes, so their signatures are left unmade (signing is slow in debug).
fn sealed_block(key: &Keypair, draft: BlockDraft, n: usize, salt: u8) -> Block {
    let txs = (0..n as u64)
        .map(|i| {
            let body = TxBody {
                genesis: draft.genesis,
                sender: key.account(),
                nonce: Nonce(i),
                valid_until: Timestamp(u64::MAX),
                kind: TxKind::Mint {
                    to: AccountId([salt; 32]),
                    amount: Amount::new(i + 1),
                },
            };
            SignedTx::from_parts(body, Signature([salt; 64]))
        })
        .collect();
    Block::seal(draft, txs, key)
}

fn draft(genesis: Hash32, height: u64, state_root: Hash32) -> BlockDraft {
    BlockDraft {
        genesis,
        height: BlockHeight(height),
        epoch: height / 3,
        prev_hash: Hash32([3; 32]),
        timestamp: Timestamp(1_700_000_000_000),
        state_root,
    }
}

/// A sequencer that is not the test's key, named in the lists beside it.
fn stranger() -> AccountId {
    AccountId(Hash32::digest(&[b"not a sequencer"]).0)
}

/// Offsets in an encoded header of the fields whose change each fails
/// differently: version, genesis, height, sequencer, signature.
const HEADER_FIELDS: [usize; 5] = [0, 1, 33, 157, 189];

// ---- Receipts ----

/// `Receipt::decode` then `Receipt::verify`: the allocating form.
fn receipt_allocating(
    bytes: &[u8],
    genesis: &Hash32,
    sequencers: &[AccountId],
) -> Result<CheckedReceipt, ReceiptError> {
    let receipt = Receipt::decode(bytes).map_err(ReceiptError::Malformed)?;
    receipt.verify(genesis, sequencers)?;
    Ok(CheckedReceipt {
        tx_hash: receipt.tx_hash,
        header: receipt.header,
    })
}

/// Both forms on `bytes`; the allocating form's answer once they agree.
fn receipt_agree(
    bytes: &[u8],
    genesis: &Hash32,
    sequencers: &[AccountId],
) -> Result<Result<CheckedReceipt, ReceiptError>, TestCaseError> {
    let want = receipt_allocating(bytes, genesis, sequencers);
    let got = check_receipt_bytes(bytes, genesis, sequencers);
    prop_assert_eq!(&got, &want, "check_receipt_bytes vs decode + verify");
    prop_assert_eq!(
        got.as_ref().map_err(ReceiptError::code).err(),
        want.as_ref().map_err(ReceiptError::code).err()
    );
    Ok(want)
}

/// Offsets of a receipt's fields: the transaction hash, the header's, the
/// proof's index, count, sibling count and first sibling.
fn receipt_fields(receipt: &Receipt) -> Vec<usize> {
    let proof_at = 32 + HEADER_BYTES;
    let mut fields = vec![0];
    fields.extend(HEADER_FIELDS.iter().map(|f| 32 + f));
    fields.extend(proof_at..proof_at + 9);
    if !receipt.proof.siblings.is_empty() {
        fields.push(proof_at + 9);
    }
    fields
}

// ---- State answers ----

/// What a state answer is asked about.
#[derive(Clone, Copy, Debug)]
enum Target {
    Account(AccountId),
    Channel(ChannelId),
}

impl Target {
    fn key(self) -> Hash32 {
        match self {
            Target::Account(id) => state_map::account_key(&id),
            Target::Channel(id) => state_map::channel_key(&id),
        }
    }

    /// The same 32 bytes taken as the other kind of id.
    fn other_kind(self) -> Target {
        match self {
            Target::Account(id) => Target::Channel(ChannelId(Hash32(id.0))),
            Target::Channel(id) => Target::Account(AccountId(id.0 .0)),
        }
    }
}

/// A checked record, decoded.
#[derive(Debug, PartialEq)]
enum Decoded {
    Account(AccountRecord),
    Channel(ChannelRecord),
}

/// The header, the record's bytes and the record decoded, or the refusal.
type Outcome = Result<(BlockHeader, Option<Vec<u8>>, Option<Decoded>), StateAnswerError>;

/// `StateAnswer::from_bytes` then `verify_account` / `verify_channel`.
fn state_allocating(bytes: &[u8], target: Target, check: &StateCheck<'_>) -> Outcome {
    let answer = StateAnswer::from_bytes(bytes).map_err(StateAnswerError::Malformed)?;
    let decoded = match target {
        Target::Account(id) => answer.verify_account(&id, check)?.map(Decoded::Account),
        Target::Channel(id) => answer.verify_channel(&id, check)?.map(Decoded::Channel),
    };
    Ok((answer.header, answer.record, decoded))
}

fn state_raw<'a>(
    bytes: &'a [u8],
    target: Target,
    check: &StateCheck<'_>,
) -> Result<CheckedState<'a>, StateAnswerError> {
    match target {
        Target::Account(id) => check_account_bytes(bytes, &id, check),
        Target::Channel(id) => check_channel_bytes(bytes, &id, check),
    }
}

/// What `check_account_bytes` / `check_channel_bytes` gave, the borrowed
/// record then decoded as `verify_account` / `verify_channel` decode it.
fn state_in_place(raw: Result<CheckedState<'_>, StateAnswerError>, target: Target) -> Outcome {
    let checked = raw?;
    let decoded = checked
        .record
        .map(|r| match target {
            Target::Account(_) => AccountRecord::from_record(r).map(Decoded::Account),
            Target::Channel(_) => ChannelRecord::from_record(r).map(Decoded::Channel),
        })
        .transpose()
        .map_err(StateAnswerError::BadRecord)?;
    Ok((checked.header, checked.record.map(<[u8]>::to_vec), decoded))
}

/// Both forms on `bytes`; the allocating form's answer once they agree.
fn state_agree(
    bytes: &[u8],
    target: Target,
    check: &StateCheck<'_>,
) -> Result<Outcome, TestCaseError> {
    let want = state_allocating(bytes, target, check);
    let raw = state_raw(bytes, target, check);
    // Whatever the record decodes to, an accepted one is the answer's own bytes.
    if let Ok(checked) = &raw {
        let answer = StateAnswer::from_bytes(bytes);
        prop_assert!(answer.is_ok(), "accepted in place, refused by from_bytes");
        let answer = answer.expect("checked just above");
        prop_assert_eq!(checked.record, answer.record.as_deref());
        prop_assert_eq!(&checked.header, &answer.header);
    }
    let got = state_in_place(raw, target);
    prop_assert_eq!(&got, &want, "check_*_bytes vs from_bytes + verify_*");
    prop_assert_eq!(
        got.as_ref().map_err(StateAnswerError::code).err(),
        want.as_ref().map_err(StateAnswerError::code).err()
    );
    Ok(want)
}

/// Offsets of an answer's fields: the header's, the record flag, length and
/// first byte, the proof's bucket and entry count, first entry, sibling
/// count and first sibling.
fn answer_fields(answer: &StateAnswer) -> Vec<usize> {
    let mut fields = HEADER_FIELDS.to_vec();
    fields.push(HEADER_BYTES);
    let mut at = HEADER_BYTES + 1;
    if let Some(record) = &answer.record {
        fields.extend([at, at + 1]);
        if !record.is_empty() {
            fields.push(at + 2);
        }
        at += 2 + record.len();
    }
    fields.extend(at..at + 8);
    at += 8;
    if !answer.proof.entries.is_empty() {
        fields.extend([at, at + 32]);
    }
    at += 64 * answer.proof.entries.len();
    fields.push(at);
    if !answer.proof.siblings.is_empty() {
        fields.push(at + 1);
    }
    fields
}

/// Entries sharing `key`'s bucket (its first two bytes), so that proofs list
/// more than the one entry they are about.
fn neighbours_of(key: &Hash32, rests: &[([u8; 30], Hash32)]) -> Vec<(Hash32, Hash32)> {
    rests
        .iter()
        .map(|(rest, value)| {
            let mut k = [0u8; 32];
            k[..2].copy_from_slice(&key.0[..2]);
            k[2..].copy_from_slice(rest);
            (Hash32(k), *value)
        })
        .collect()
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn sign_into_writes_the_signed_transaction_or_says_how_much_room_it_needs(
        seed in any::<[u8; 32]>(),
        genesis in hash32(),
        nonce in any::<u64>(),
        valid_until in any::<u64>(),
        kind in tx_kind(),
        slack in 1usize..64,
        fill in any::<u8>(),
    ) {
        let key = Keypair::from_seed(seed);
        let body = TxBody {
            genesis,
            sender: key.account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(valid_until),
            kind,
        };
        let want = body.clone().sign(&key);
        let full = want.bytes().len();

        // Exactly the room needed, and more: the same bytes at the front, the
        // rest of the buffer untouched, whatever it held before.
        let mut out = vec![fill; full + slack];
        prop_assert_eq!(body.sign_into(&key, &mut out), Ok(full));
        prop_assert_eq!(&out[..full], want.bytes());
        prop_assert!(out[full..].iter().all(|&b| b == fill), "wrote past the transaction");
        out.truncate(full);
        out.fill(fill);
        prop_assert_eq!(body.sign_into(&key, &mut out), Ok(full));
        prop_assert_eq!(&out[..], want.bytes());

        // What was written is a transaction that decodes and verifies, its
        // signature over `TX_DOMAIN || body` as the parts sit in the buffer.
        let decoded = SignedTx::decode(&out);
        prop_assert_eq!(decoded.as_ref(), Ok(&want));
        prop_assert!(decoded.expect("decodes").verify().is_ok());
        let (signed, sig) = out.split_at(full - 64);
        let sig = Signature(sig.try_into().expect("64 bytes"));
        prop_assert_eq!(keys::verify_parts(&key.account(), &[TX_DOMAIN, signed], &sig), Ok(()));

        // Every shorter buffer: told the full length and its own, no panic.
        for have in 0..full {
            let mut short = vec![fill; have];
            prop_assert_eq!(
                body.sign_into(&key, &mut short),
                Err(BufferTooSmall { need: full, have })
            );
        }
    }

    #[test]
    fn receipt_bytes_check_as_decode_then_verify(
        seed in any::<[u8; 32]>(),
        genesis in hash32(),
        other_genesis in hash32(),
        height in any::<u64>(),
        state_root in hash32(),
        n in 1usize..40,
        pick in any::<Index>(),
        other in any::<Index>(),
        salt in any::<u8>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        prop_assume!(genesis != other_genesis);
        let key = Keypair::from_seed(seed);
        let block = sealed_block(&key, draft(genesis, height, state_root), n, salt);
        let hashes = block.tx_hashes();
        let tree = MerkleTree::new(&hashes);
        let i = pick.index(n);
        let receipt = Receipt {
            tx_hash: hashes[i],
            proof: tree.proof(i).expect("in range"),
            header: block.header.clone(),
        };
        let bytes = receipt.encode();
        let sequencers = [stranger(), key.account()];

        // Valid: both accept it, with the same transaction and header.
        let accepted = receipt_agree(&bytes, &genesis, &sequencers)?;
        prop_assert_eq!(
            accepted,
            Ok(CheckedReceipt { tx_hash: hashes[i], header: block.header.clone() })
        );

        // The wrong network, an unknown sequencer, no sequencers.
        let refused = receipt_agree(&bytes, &other_genesis, &sequencers)?;
        prop_assert_eq!(refused.map_err(|e| e.code()), Err("wrong_network"));
        for unknown in [&[stranger()][..], &[]] {
            let refused = receipt_agree(&bytes, &genesis, unknown)?;
            prop_assert_eq!(refused.map_err(|e| e.code()), Err("unknown_sequencer"));
        }

        // Another transaction of the block in this one's place.
        if n > 1 {
            let j = (i + 1 + other.index(n - 1)) % n;
            let swapped = Receipt { tx_hash: hashes[j], ..receipt.clone() }.encode();
            let refused = receipt_agree(&swapped, &genesis, &sequencers)?;
            prop_assert_eq!(refused.map_err(|e| e.code()), Err("bad_proof"));
        }

        // Flipped, cut short or extended: never accepted, and refused alike.
        let fields = receipt_fields(&receipt);
        for m in &mutations {
            let changed = mutate(&bytes, &fields, m);
            let outcome = receipt_agree(&changed, &genesis, &sequencers)?;
            prop_assert!(outcome.is_err(), "{:?} still proves: {:?}", m, outcome);
        }
    }
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn state_answer_bytes_check_as_from_bytes_then_verify(
        accounts in prop::collection::vec((account_id(), account_record()), 1..5),
        channels in prop::collection::vec((hash32(), channel()), 1..4),
        garbage in (
            prop::collection::vec(any::<u8>(), 0..48),
            prop::collection::vec(any::<u8>(), 0..160),
        ),
        ids in any::<[[u8; 32]; 4]>(),
        rests in prop::collection::vec((any::<[u8; 30]>(), hash32()), 0..4),
        pick in any::<Index>(),
        picks in any::<[Index; 2]>(),
        lie in 0usize..3,
        seed in any::<[u8; 32]>(),
        genesis in hash32(),
        other_genesis in hash32(),
        height in 0..u64::MAX,
        mutations in prop::collection::vec((any::<Index>(), mutation()), 1..4),
    ) {
        prop_assume!(genesis != other_genesis);
        let (account, record) = &accounts[pick.index(accounts.len())];
        let (channel_id, channel) = &channels[pick.index(channels.len())];
        let present_account = Target::Account(*account);
        let present_channel = Target::Channel(ChannelId(*channel_id));
        // Records under these two hash to their tree values but may not decode.
        let garbage_account = Target::Account(AccountId(ids[0]));
        let garbage_channel = Target::Channel(ChannelId(Hash32(ids[1])));
        let absent_account = Target::Account(AccountId(ids[2]));
        let absent_channel = Target::Channel(ChannelId(Hash32(ids[3])));
        // Distinct ids (shrinking would otherwise make them equal).
        let mut account_ids: Vec<[u8; 32]> = accounts.iter().map(|(id, _)| id.0).collect();
        account_ids.extend([ids[0], ids[2]]);
        let mut channel_ids: Vec<[u8; 32]> = channels.iter().map(|(id, _)| id.0).collect();
        channel_ids.extend([ids[1], ids[3]]);
        for list in [&mut account_ids, &mut channel_ids] {
            let len = list.len();
            list.sort_unstable();
            list.dedup();
            prop_assume!(list.len() == len);
        }

        let mut entries: Vec<(Hash32, Hash32)> = accounts
            .iter()
            .map(|(id, r)| {
                let value = state_map::account_value_hash(&r.to_record());
                (state_map::account_key(id), value)
            })
            .collect();
        entries.extend(
            channels
                .iter()
                .map(|(id, c)| state_map::channel_entry(&ChannelId(*id), c)),
        );
        entries.push((garbage_account.key(), state_map::account_value_hash(&garbage.0)));
        entries.push((garbage_channel.key(), state_map::channel_value_hash(&garbage.1)));
        for target in [present_account, absent_account, present_channel, absent_channel] {
            entries.extend(neighbours_of(&target.key(), &rests));
        }
        let tree = StateTree::from_entries(entries);

        let key = Keypair::from_seed(seed);
        let header = sealed_block(&key, draft(genesis, height, tree.root()), 0, 0).header;
        let sequencers = [stranger(), key.account()];
        let check = StateCheck {
            genesis: &genesis,
            sequencers: &sequencers,
            min_height: BlockHeight(height),
        };

        let answer = |target: Target, record: Option<Vec<u8>>| StateAnswer {
            header: header.clone(),
            record,
            proof: tree.prove(&target.key()),
        };
        let account_bytes = record.to_record();
        let channel_bytes = channel.to_record();
        let mut other_record = account_bytes.clone();
        other_record.push(0);
        // What a node may send: the honest answers, and one that decodes but
        // does not hold (a record missing, one too many, or the wrong one).
        let lies = [
            (present_account, answer(present_account, None)),
            (absent_channel, answer(absent_channel, Some(channel_bytes.clone()))),
            (present_account, answer(present_account, Some(other_record))),
        ];
        let answers = [
            (present_account, answer(present_account, Some(account_bytes.clone()))),
            (absent_account, answer(absent_account, None)),
            (garbage_account, answer(garbage_account, Some(garbage.0.clone()))),
            (present_channel, answer(present_channel, Some(channel_bytes.clone()))),
            (absent_channel, answer(absent_channel, None)),
            (garbage_channel, answer(garbage_channel, Some(garbage.1.clone()))),
            lies[lie].clone(),
        ];
        let encoded: Vec<Vec<u8>> = answers.iter().map(|(_, a)| a.to_bytes()).collect();

        // The honest answers hold, both ways, with the records put in the tree.
        let outcomes: Vec<Outcome> = answers
            .iter()
            .zip(&encoded)
            .map(|((target, _), bytes)| state_agree(bytes, *target, &check))
            .collect::<Result<_, _>>()?;
        let code = |o: &Outcome| o.as_ref().map(|_| ()).map_err(|e| e.code());
        prop_assert_eq!(
            &outcomes[0],
            &Ok((header.clone(), Some(account_bytes), Some(Decoded::Account(record.clone()))))
        );
        prop_assert_eq!(&outcomes[1], &Ok((header.clone(), None, None)));
        prop_assert_eq!(
            &outcomes[3],
            &Ok((header.clone(), Some(channel_bytes), Some(Decoded::Channel(channel.clone()))))
        );
        prop_assert_eq!(&outcomes[4], &Ok((header.clone(), None, None)));
        // A record that hashes to the tree's value is handed back in place
        // whether or not it decodes; decoding it is the caller's.
        for (at, raw) in [(2, &garbage.0), (5, &garbage.1)] {
            let (target, _) = answers[at];
            let checked = state_raw(&encoded[at], target, &check);
            prop_assert_eq!(checked.map(|c| c.record), Ok(Some(&raw[..])));
        }
        prop_assert_eq!(code(&outcomes[6]), Err("proof_record_mismatch"));

        // Every answer against the wrong network and an unknown sequencer (both
        // refused before any signature is checked); two of them against a
        // stale height, and one asked about the other kind of id.
        let stale = StateCheck { min_height: BlockHeight(height + 1), ..check };
        let wrong_network = StateCheck { genesis: &other_genesis, ..check };
        let unknown = [stranger()];
        let unknown_sequencer = StateCheck { sequencers: &unknown, ..check };
        for ((target, _), bytes) in answers.iter().zip(&encoded) {
            prop_assert_eq!(
                code(&state_agree(bytes, *target, &wrong_network)?),
                Err("wrong_network")
            );
            prop_assert_eq!(
                code(&state_agree(bytes, *target, &unknown_sequencer)?),
                Err("unknown_sequencer")
            );
        }
        for (n, which) in picks.iter().enumerate() {
            let at = which.index(answers.len());
            let (target, _) = answers[at];
            prop_assert_eq!(code(&state_agree(&encoded[at], target, &stale)?), Err("stale_state"));
            if n == 0 {
                // Another key, in another bucket but once in 65,536 draws.
                let other = target.other_kind();
                let outcome = state_agree(&encoded[at], other, &check)?;
                if bucket_of(&other.key()) != bucket_of(&target.key()) {
                    prop_assert_eq!(code(&outcome), Err("proof_wrong_bucket"));
                }
            }
        }

        // Flipped, cut short or extended: never held, and refused alike.
        for (which, m) in &mutations {
            let at = which.index(answers.len());
            let (target, answer) = &answers[at];
            let changed = mutate(&encoded[at], &answer_fields(answer), m);
            let outcome = state_agree(&changed, *target, &check)?;
            prop_assert!(outcome.is_err(), "{:?} still holds: {:?}", m, outcome);
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn state_proof_bytes_read_and_verify_as_state_proof(
        entries in prop::collection::vec((hash32(), hash32()), 1..8),
        rests in prop::collection::vec((any::<[u8; 30]>(), hash32()), 0..4),
        pick in any::<Index>(),
        absent in hash32(),
        wrong_root in hash32(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let (key, _) = entries[pick.index(entries.len())];
        let mut all = entries.clone();
        all.extend(neighbours_of(&key, &rests));
        all.extend(neighbours_of(&absent, &rests));
        let tree = StateTree::from_entries(all);
        let root = tree.root();
        prop_assert!(tree.get(&key).is_some());
        for asked in [key, absent] {
            let proof = tree.prove(&asked);
            let mut w = Writer::with_capacity(0);
            proof.encode(&mut w);
            let bytes = w.into_bytes();
            let entries_at = 8;
            let depth_at = entries_at + 64 * proof.entries.len();
            let mut fields: Vec<usize> = (0..entries_at).collect();
            fields.extend([entries_at, entries_at + 32, depth_at, depth_at + 1]);

            let mut variants = vec![bytes.clone()];
            variants.extend(mutations.iter().map(|m| mutate(&bytes, &fields, m)));
            for (v, changed) in variants.iter().enumerate() {
                let mut r = Reader::new(changed);
                let in_place = StateProofBytes::read(&mut r);
                let mut r2 = Reader::new(changed);
                let decoded = StateProof::decode(&mut r2);
                prop_assert_eq!(
                    in_place.as_ref().map(StateProofBytes::to_proof).map_err(Clone::clone),
                    decoded.clone()
                );
                prop_assert_eq!(r.remaining(), r2.remaining());
                let (Ok(in_place), Ok(decoded)) = (in_place, decoded) else { continue };
                if v == 0 {
                    prop_assert_eq!(&decoded, &proof);
                    prop_assert_eq!(in_place.verify(&asked, &root), Ok(tree.get(&asked)));
                }
                for k in [asked, key, absent] {
                    for root in [root, wrong_root] {
                        prop_assert_eq!(in_place.verify(&k, &root), decoded.verify(&k, &root));
                    }
                }
            }
        }
    }

    #[test]
    fn verify_path_over_sibling_bytes_as_merkle_proof_verify(
        n in 1usize..300,
        pick in any::<Index>(),
        flip in (any::<Index>(), 1..=u8::MAX),
        index in any::<u32>(),
        count in any::<u32>(),
        extra in hash32(),
    ) {
        let hashes: Vec<Hash32> = (0..n as u64)
            .map(|i| Hash32::digest(&[&i.to_le_bytes()]))
            .collect();
        let root = merkle::root(&hashes);
        let i = pick.index(n);
        let proof = MerkleTree::new(&hashes).proof(i).expect("in range");
        prop_assert_eq!(Some(proof.clone()), merkle::prove(&hashes, i));
        prop_assert_eq!(proof.verify(&hashes[i], &root), Ok(()));

        let mut variants: Vec<(MerkleProof, Hash32, Hash32)> =
            vec![(proof.clone(), hashes[i], root)];
        variants.push((proof.clone(), hashes[(i + 1) % n], root));
        variants.push((proof.clone(), hashes[i], extra));
        variants.push((MerkleProof { index, ..proof.clone() }, hashes[i], root));
        variants.push((MerkleProof { index: proof.index ^ 1, ..proof.clone() }, hashes[i], root));
        variants.push((MerkleProof { count, ..proof.clone() }, hashes[i], root));
        variants.push((MerkleProof { count: proof.count + 1, ..proof.clone() }, hashes[i], root));
        let mut longer = proof.clone();
        longer.siblings.push(extra);
        variants.push((longer, hashes[i], root));
        let mut deep = proof.clone();
        deep.siblings.resize(40, extra);
        variants.push((deep, hashes[i], root));
        if !proof.siblings.is_empty() {
            let mut shorter = proof.clone();
            shorter.siblings.pop();
            variants.push((shorter, hashes[i], root));
            let mut flipped = proof.clone();
            let s = flip.0.index(flipped.siblings.len());
            flipped.siblings[s].0[flip.0.index(32)] ^= flip.1;
            variants.push((flipped, hashes[i], root));
        }
        for (p, tx, root) in &variants {
            let bytes: Vec<u8> = p.siblings.iter().flat_map(|h| h.0).collect();
            let read = hashes_in(&bytes);
            prop_assert_eq!(read.len(), p.siblings.len());
            prop_assert_eq!(read.clone().collect::<Vec<_>>(), p.siblings.clone());
            prop_assert_eq!(
                merkle::verify_path(tx, p.index, p.count, read, root),
                p.verify(tx, root)
            );
        }
    }
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn sign_parts_and_verify_parts_as_over_the_joined_message(
        seed in any::<[u8; 32]>(),
        msg in prop::collection::vec(any::<u8>(), 0..300),
        cuts in prop::collection::vec(any::<Index>(), 0..4),
        flip in (any::<Index>(), 1..=u8::MAX, any::<bool>()),
    ) {
        let key = Keypair::from_seed(seed);
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(msg.len() + 1)).collect();
        at.sort_unstable();
        let split = |m: &[u8]| -> Vec<Vec<u8>> {
            let mut parts = Vec::new();
            let mut from = 0;
            for &to in &at {
                parts.push(m[from..to].to_vec());
                from = to;
            }
            parts.push(m[from..].to_vec());
            parts
        };
        let parts = split(&msg);
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();

        let sig = key.sign(&msg);
        prop_assert_eq!(key.sign_parts(&refs), sig);
        prop_assert_eq!(keys::verify_parts(&key.account(), &refs, &sig), Ok(()));
        prop_assert_eq!(keys::verify(&key.account(), &msg, &sig), Ok(()));

        // A changed message or signature: the same refusal either way.
        let (mut msg2, mut sig2) = (msg.clone(), sig);
        if flip.2 || msg.is_empty() {
            sig2.0[flip.0.index(64)] ^= flip.1;
        } else {
            msg2[flip.0.index(msg.len())] ^= flip.1;
        }
        let parts2 = split(&msg2);
        let refs2: Vec<&[u8]> = parts2.iter().map(Vec::as_slice).collect();
        let joined = keys::verify(&key.account(), &msg2, &sig2);
        prop_assert!(joined.is_err());
        prop_assert_eq!(keys::verify_parts(&key.account(), &refs2, &sig2), joined);
    }
}

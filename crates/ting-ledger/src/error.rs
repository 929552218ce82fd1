//! Why a transaction or a block was refused, with stable codes.

use thiserror::Error;
use ting_core::{
    market::{HoldId, OfferId},
    resource::{LeaseId, OrderId},
    stream::StreamId,
    AccountError, AccountId, Amount, BlockHeight, ChannelId, Hash32, NetworkId, Nonce, Timestamp,
};

/// Why one transaction was refused. A refused transaction changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TxError {
    #[error(
        "the transaction is for the network of genesis {got}, and this ledger's genesis is {want}"
    )]
    WrongNetwork { got: Hash32, want: Hash32 },
    #[error("the transaction was valid until {valid_until} and the block is at {at}: it can never apply; sign it again with a later valid_until")]
    Expired {
        valid_until: Timestamp,
        at: Timestamp,
    },
    #[error("nonce {got} is not the sender's next nonce {expected}")]
    BadNonce { expected: Nonce, got: Nonce },
    #[error("balance {balance} is less than {amount}")]
    InsufficientFunds { balance: Amount, amount: Amount },
    #[error("the sending device is frozen by its owner")]
    Frozen,
    #[error("spending {amount} would pass the daily limit {limit} (already spent today: {spent})")]
    SpendLimitExceeded {
        limit: Amount,
        spent: Amount,
        amount: Amount,
    },
    #[error("the sender is not the owner of device {0}")]
    NotOwner(AccountId),
    #[error("device {0} is not registered")]
    UnknownDevice(AccountId),
    #[error("the sender is not an issuer of this network")]
    UnknownIssuer,
    #[error("the amount would overflow a 64-bit balance or supply")]
    Overflow,
    #[error("the amount must be greater than zero")]
    ZeroAmount,
    #[error("sender and recipient are the same account")]
    SelfTransfer,
    #[error("the sender has no account; an account exists once it has received funds")]
    UnknownSender,
    #[error("owner {owner} already has {max} devices, the most one owner may register")]
    TooManyDevices { owner: AccountId, max: usize },
    #[error("the recipient's key cannot be an account: {0}")]
    InvalidRecipient(AccountError),
    #[error("the device's key cannot be a device: {0}")]
    InvalidDevice(String),
    #[error("the device's consent signature does not verify")]
    BadDeviceSignature,
    #[error("device {device} is already registered to owner {owner}")]
    AlreadyRegistered { device: AccountId, owner: AccountId },
    #[error("payer {payer} already has {max} open channels, the most one payer may have")]
    TooManyChannels { payer: AccountId, max: usize },
    #[error("channel {0} already exists")]
    ChannelExists(ChannelId),
    #[error("channel {0} does not exist")]
    UnknownChannel(ChannelId),
    #[error("channel {0} is already settled")]
    ChannelClosed(ChannelId),
    #[error("only the payer of channel {0} may do this")]
    NotPayer(ChannelId),
    #[error("only the payee of channel {0} may do this")]
    NotPayee(ChannelId),
    #[error("channel {channel} expired at {expired_at}")]
    ChannelExpired {
        channel: ChannelId,
        expired_at: Timestamp,
    },
    #[error("bad expiry: {0}")]
    BadExpiry(String),
    #[error("bad chain: {0}")]
    BadChain(String),
    #[error("the deposit {deposit} does not cover every tick of the chains: {needed} is needed")]
    DepositTooSmall { needed: Amount, deposit: Amount },
    #[error("the claim on channel {0} is not above what was already claimed")]
    StaleClaim(ChannelId),
    #[error("the claim on channel {channel} is more than its deposit {deposit}")]
    ClaimOverDeposit { channel: ChannelId, deposit: Amount },
    #[error("the proof does not verify for channel {0}")]
    BadChannelProof(ChannelId),
    #[error("the proof or extension is of the wrong kind for channel {0}'s mode")]
    WrongProofKind(ChannelId),
    #[error("the claim advances {ticks} ticks; one claim may advance at most {max}: claim an earlier tick first (any earlier tick is the later one hashed)")]
    ClaimTooFar { ticks: u64, max: u64 },
    #[error("the tick is past the end of channel {channel}'s chains, at tick {last}")]
    TickPastChain { channel: ChannelId, last: u64 },
    #[error("channel {0} already has a queued chain; it must be reached by a claim before another is added")]
    SegmentPending(ChannelId),
    #[error("the channel's claim window ended at {until}")]
    ClaimWindowClosed { until: Timestamp },
    #[error("channel {channel} can be reclaimed from {from}, after its expiry and grace period")]
    TooEarlyToReclaim { channel: ChannelId, from: Timestamp },
    #[error("the messaging key is not a canonical X25519 key of large order")]
    InvalidMessagingKey,
    #[error("{0} is not a registered device: only a device with an owner sells a stream")]
    NotADevice(AccountId),
    #[error("seller {seller} already has {max} open streams, the most one seller may have")]
    TooManyStreams { seller: AccountId, max: usize },
    #[error("stream {0} already exists")]
    StreamExists(StreamId),
    #[error("stream {0} is not open (never opened, or closed)")]
    UnknownStream(StreamId),
    #[error("only stream {0}'s seller (or, but for deliveries, its owner) may do this")]
    NotSeller(StreamId),
    #[error("buyer {0} is not an account of this ledger, or is the seller itself")]
    UnknownBuyer(AccountId),
    #[error("the buyer's delivery acknowledgement for stream {0} does not verify")]
    BadDeliverySignature(StreamId),
    #[error("the delivery for stream {0} is not above what this buyer already acknowledged")]
    StaleDelivery(StreamId),
    #[error("stream {stream} already records {max} buyers, the most one record holds")]
    TooManyBuyers { stream: StreamId, max: usize },
    #[error("the hold is not valid: {0}")]
    InvalidHold(String),
    #[error("bad deadline: {0}")]
    BadDeadline(String),
    #[error("payer {payer} already has {max} open holds, the most one payer may have")]
    TooManyHolds { payer: AccountId, max: usize },
    #[error("hold {0} already exists")]
    HoldExists(HoldId),
    #[error("hold {0} is not open (never created, or ended)")]
    UnknownHold(HoldId),
    #[error("the sender may not do this to hold {0}")]
    NotHoldParty(HoldId),
    #[error("hold {hold} is {phase}, and this needs it {needed}")]
    WrongHoldPhase {
        hold: HoldId,
        phase: &'static str,
        needed: &'static str,
    },
    #[error("hold {hold}'s deadline {deadline} has passed: it can no longer be accepted")]
    HoldPastDeadline { hold: HoldId, deadline: Timestamp },
    #[error("hold {hold} can be refunded by its payer from {from}")]
    TooEarlyToRefund { hold: HoldId, from: Timestamp },
    #[error("hold {hold} could be disputed until {until}")]
    TooLateToDispute { hold: HoldId, until: Timestamp },
    #[error("hold {0} names no arbiter, so it cannot be disputed")]
    NoArbiter(HoldId),
    #[error("hold {0} is not released by evidence")]
    NoEvidenceRule(HoldId),
    #[error("the evidence is not signed by hold {0}'s evidence device")]
    BadEvidenceSignature(HoldId),
    #[error("the evidence is for another hold than {0}")]
    EvidenceForOtherHold(HoldId),
    #[error("the evidence for hold {hold} was observed at {observed_at}, outside the hold's life (from its creation to its deadline, and at most a minute after this block's time)")]
    EvidenceOutOfTime {
        hold: HoldId,
        observed_at: Timestamp,
    },
    #[error("the evidence for hold {hold} does not meet its template's rule on field {field}")]
    EvidenceMismatch { hold: HoldId, field: String },
    #[error("the decision pays more than hold {hold}'s amount {amount}")]
    DecisionOverAmount { hold: HoldId, amount: Amount },
    #[error("the offer is not valid: {0}")]
    InvalidOffer(String),
    #[error("provider {provider} already has {max} offers listed, the most one provider may have")]
    TooManyOffers { provider: AccountId, max: usize },
    #[error("offer {0} already exists")]
    OfferExists(OfferId),
    #[error("offer {0} is not listed (never listed, or closed)")]
    UnknownOffer(OfferId),
    #[error("only offer {0}'s provider (or, to close it, its owner) may do this")]
    NotProvider(OfferId),
    #[error("the resource class is not valid: {0}")]
    InvalidClass(String),
    #[error("resource class {0} is already registered")]
    ClassExists(String),
    #[error("resource class {0} is not registered: an issuer registers it with class_register")]
    UnknownClass(String),
    #[error("the order is not valid: {0}")]
    InvalidOrder(String),
    #[error("{owner} already has {max} orders resting, the most one account may have")]
    TooManyOrders { owner: AccountId, max: usize },
    #[error(
        "buyer {buyer} already has {max} leases open: close or settle some before bidding again"
    )]
    TooManyLeases { buyer: AccountId, max: usize },
    #[error("order {0} already exists")]
    OrderExists(OrderId),
    #[error("order {0} is not resting (never placed, filled, or ended)")]
    UnknownOrder(OrderId),
    #[error("only order {0}'s owner (or its owner's owner) may cancel it before it expires")]
    NotOrderOwner(OrderId),
    #[error("lease {0} is not open (never made, or ended)")]
    UnknownLease(LeaseId),
    #[error("the delivery count is not signed by lease {0}'s buyer")]
    BadCountSignature(LeaseId),
    #[error("the count is not above what lease {lease} already paid for ({delivered} units)")]
    StaleCount { lease: LeaseId, delivered: u64 },
    #[error("the count is more than lease {lease}'s {quantity} units")]
    CountOverQuantity { lease: LeaseId, quantity: u64 },
    #[error("counts for lease {lease} could land until {until}")]
    CountTooLate { lease: LeaseId, until: Timestamp },
    #[error("lease {lease} can be closed by others than its provider only after {from}, its end and grace")]
    TooEarlyToCloseLease { lease: LeaseId, from: Timestamp },
}

impl TxError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::WrongNetwork { .. } => "wrong_network",
            TxError::Expired { .. } => "tx_expired",
            TxError::BadNonce { .. } => "bad_nonce",
            TxError::InsufficientFunds { .. } => "insufficient_funds",
            TxError::Frozen => "frozen",
            TxError::SpendLimitExceeded { .. } => "spend_limit_exceeded",
            TxError::NotOwner(_) => "not_owner",
            TxError::UnknownDevice(_) => "unknown_device",
            TxError::UnknownIssuer => "unknown_issuer",
            TxError::Overflow => "overflow",
            TxError::ZeroAmount => "zero_amount",
            TxError::SelfTransfer => "self_transfer",
            TxError::UnknownSender => "unknown_sender",
            TxError::TooManyDevices { .. } => "too_many_devices",
            TxError::InvalidRecipient(_) => "invalid_recipient",
            TxError::InvalidDevice(_) => "invalid_device",
            TxError::BadDeviceSignature => "bad_device_signature",
            TxError::AlreadyRegistered { .. } => "already_registered",
            TxError::TooManyChannels { .. } => "too_many_channels",
            TxError::ChannelExists(_) => "channel_exists",
            TxError::UnknownChannel(_) => "unknown_channel",
            TxError::ChannelClosed(_) => "channel_closed",
            TxError::NotPayer(_) => "not_payer",
            TxError::NotPayee(_) => "not_payee",
            TxError::ChannelExpired { .. } => "channel_expired",
            TxError::BadExpiry(_) => "bad_expiry",
            TxError::BadChain(_) => "bad_chain",
            TxError::DepositTooSmall { .. } => "deposit_too_small",
            TxError::StaleClaim(_) => "stale_claim",
            TxError::ClaimOverDeposit { .. } => "claim_over_deposit",
            TxError::BadChannelProof(_) => "bad_channel_proof",
            TxError::WrongProofKind(_) => "wrong_proof_kind",
            TxError::ClaimTooFar { .. } => "claim_too_far",
            TxError::TickPastChain { .. } => "tick_past_chain",
            TxError::SegmentPending(_) => "segment_pending",
            TxError::ClaimWindowClosed { .. } => "claim_window_closed",
            TxError::TooEarlyToReclaim { .. } => "too_early_to_reclaim",
            TxError::InvalidMessagingKey => "invalid_messaging_key",
            TxError::NotADevice(_) => "not_a_device",
            TxError::TooManyStreams { .. } => "too_many_streams",
            TxError::StreamExists(_) => "stream_exists",
            TxError::UnknownStream(_) => "unknown_stream",
            TxError::NotSeller(_) => "not_seller",
            TxError::UnknownBuyer(_) => "unknown_buyer",
            TxError::BadDeliverySignature(_) => "bad_delivery_signature",
            TxError::StaleDelivery(_) => "stale_delivery",
            TxError::TooManyBuyers { .. } => "too_many_buyers",
            TxError::InvalidHold(_) => "invalid_hold",
            TxError::BadDeadline(_) => "bad_deadline",
            TxError::TooManyHolds { .. } => "too_many_holds",
            TxError::HoldExists(_) => "hold_exists",
            TxError::UnknownHold(_) => "unknown_hold",
            TxError::NotHoldParty(_) => "not_hold_party",
            TxError::WrongHoldPhase { .. } => "wrong_hold_phase",
            TxError::HoldPastDeadline { .. } => "hold_past_deadline",
            TxError::TooEarlyToRefund { .. } => "too_early_to_refund",
            TxError::TooLateToDispute { .. } => "too_late_to_dispute",
            TxError::NoArbiter(_) => "no_arbiter",
            TxError::NoEvidenceRule(_) => "no_evidence_rule",
            TxError::BadEvidenceSignature(_) => "bad_evidence_signature",
            TxError::EvidenceForOtherHold(_) => "evidence_for_other_hold",
            TxError::EvidenceOutOfTime { .. } => "evidence_out_of_time",
            TxError::EvidenceMismatch { .. } => "evidence_mismatch",
            TxError::DecisionOverAmount { .. } => "decision_over_amount",
            TxError::InvalidOffer(_) => "invalid_offer",
            TxError::TooManyOffers { .. } => "too_many_offers",
            TxError::OfferExists(_) => "offer_exists",
            TxError::UnknownOffer(_) => "unknown_offer",
            TxError::InvalidClass(_) => "invalid_class",
            TxError::ClassExists(_) => "class_exists",
            TxError::UnknownClass(_) => "unknown_class",
            TxError::InvalidOrder(_) => "invalid_order",
            TxError::TooManyOrders { .. } => "too_many_orders",
            TxError::TooManyLeases { .. } => "too_many_leases",
            TxError::OrderExists(_) => "order_exists",
            TxError::UnknownOrder(_) => "unknown_order",
            TxError::NotOrderOwner(_) => "not_order_owner",
            TxError::UnknownLease(_) => "unknown_lease",
            TxError::BadCountSignature(_) => "bad_count_signature",
            TxError::StaleCount { .. } => "stale_count",
            TxError::CountOverQuantity { .. } => "count_over_quantity",
            TxError::CountTooLate { .. } => "count_too_late",
            TxError::TooEarlyToCloseLease { .. } => "too_early_to_close_lease",
            TxError::NotProvider(_) => "not_provider",
        }
    }
}

/// Why a block cannot follow the current state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BlockError {
    #[error("block height {got} does not follow the state's height {tip}")]
    WrongHeight { got: BlockHeight, tip: BlockHeight },
    #[error("block's previous hash {got} is not the tip hash {want}")]
    WrongPrevHash { got: Hash32, want: Hash32 },
    #[error("block is for the network of genesis {got}, this ledger's genesis is {want}")]
    WrongNetwork { got: Hash32, want: Hash32 },
    #[error("block timestamp {got} is before the previous block's {last}")]
    TimestampBackwards { got: Timestamp, last: Timestamp },
    #[error("block {height} carries state root {header}, and its transactions lead to {computed}: the block or this state is not what it claims")]
    StateRootMismatch {
        height: BlockHeight,
        header: Hash32,
        computed: Hash32,
    },
    #[error("the state is at height {height} and the header of that block was never given: its state root cannot be checked")]
    NoTipHeader { height: BlockHeight },
}

impl BlockError {
    pub fn code(&self) -> &'static str {
        match self {
            BlockError::WrongHeight { .. } => "wrong_height",
            BlockError::WrongPrevHash { .. } => "wrong_prev_hash",
            BlockError::WrongNetwork { .. } => "wrong_network",
            BlockError::TimestampBackwards { .. } => "timestamp_backwards",
            BlockError::StateRootMismatch { .. } => "state_root_mismatch",
            BlockError::NoTipHeader { .. } => "no_tip_header",
        }
    }
}

/// Why snapshot bytes are not a state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SnapshotDecodeError {
    #[error("snapshot encoding: {0}")]
    Decode(#[from] ting_core::DecodeError),
    #[error("snapshot keys are not in strictly increasing order")]
    Unsorted,
    #[error("snapshot balances and channel deposits add up to {sum:?}, not the recorded supply {supply}")]
    SupplyMismatch { sum: Option<Amount>, supply: Amount },
    #[error("snapshot is for network {got}, the genesis is network {want}")]
    WrongNetwork { got: NetworkId, want: NetworkId },
    #[error("snapshot version {version} was written by a Ting before wire version 2 (blocks with a state root), and this Ting reads only wire version 2: start a fresh network from a new genesis in a new data directory (no migration is offered before 1.0)")]
    OldVersion { version: u8 },
}

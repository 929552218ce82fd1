//! Each transaction kind's wire tag and stable name. The tag is the body's
//! `kind u8` (docs/wire.md §5.2); the name is what JSON and the docs use. A
//! store that keeps a kind in one byte (the query index) keeps its tag and
//! names it with [`TxKind::name_of_tag`], so the names live here only.

use super::kind::{
    TAG_CHANNEL_CLAIM, TAG_CHANNEL_CLOSE, TAG_CHANNEL_OPEN, TAG_CHANNEL_RECLAIM,
    TAG_CHANNEL_TOP_UP, TAG_CLASS_REGISTER, TAG_FREEZE, TAG_HOLD_ACCEPT, TAG_HOLD_CREATE,
    TAG_HOLD_DECIDE, TAG_HOLD_DISPUTE, TAG_HOLD_REFUND, TAG_HOLD_RELEASE, TAG_LEASE_CLOSE,
    TAG_LEASE_SETTLE, TAG_MINT, TAG_OFFER_CLOSE, TAG_OFFER_OPEN, TAG_OFFER_UPDATE,
    TAG_ORDER_CANCEL, TAG_ORDER_PLACE, TAG_REGISTER_DEVICE, TAG_SET_MESSAGING_KEY,
    TAG_SET_SPEND_LIMIT, TAG_STREAM_CLOSE, TAG_STREAM_CONSENT, TAG_STREAM_DELIVERY,
    TAG_STREAM_OPEN, TAG_SWEEP, TAG_TRANSFER, TAG_UNFREEZE,
};
use super::TxKind;

impl TxKind {
    /// The kind's wire tag: the byte a body's `kind` field holds.
    pub fn tag(&self) -> u8 {
        match self {
            TxKind::Transfer { .. } => TAG_TRANSFER,
            TxKind::Mint { .. } => TAG_MINT,
            TxKind::RegisterDevice { .. } => TAG_REGISTER_DEVICE,
            TxKind::SetSpendLimit { .. } => TAG_SET_SPEND_LIMIT,
            TxKind::Freeze { .. } => TAG_FREEZE,
            TxKind::Unfreeze { .. } => TAG_UNFREEZE,
            TxKind::Sweep { .. } => TAG_SWEEP,
            TxKind::SetMessagingKey { .. } => TAG_SET_MESSAGING_KEY,
            TxKind::ChannelOpen { .. } => TAG_CHANNEL_OPEN,
            TxKind::ChannelClaim { .. } => TAG_CHANNEL_CLAIM,
            TxKind::ChannelTopUp { .. } => TAG_CHANNEL_TOP_UP,
            TxKind::ChannelClose { .. } => TAG_CHANNEL_CLOSE,
            TxKind::ChannelReclaim { .. } => TAG_CHANNEL_RECLAIM,
            TxKind::StreamOpen { .. } => TAG_STREAM_OPEN,
            TxKind::StreamConsent { .. } => TAG_STREAM_CONSENT,
            TxKind::StreamDelivery { .. } => TAG_STREAM_DELIVERY,
            TxKind::StreamClose { .. } => TAG_STREAM_CLOSE,
            TxKind::HoldCreate { .. } => TAG_HOLD_CREATE,
            TxKind::HoldAccept { .. } => TAG_HOLD_ACCEPT,
            TxKind::HoldRelease { .. } => TAG_HOLD_RELEASE,
            TxKind::HoldRefund { .. } => TAG_HOLD_REFUND,
            TxKind::HoldDispute { .. } => TAG_HOLD_DISPUTE,
            TxKind::HoldDecide { .. } => TAG_HOLD_DECIDE,
            TxKind::OfferOpen { .. } => TAG_OFFER_OPEN,
            TxKind::OfferUpdate { .. } => TAG_OFFER_UPDATE,
            TxKind::OfferClose { .. } => TAG_OFFER_CLOSE,
            TxKind::ClassRegister { .. } => TAG_CLASS_REGISTER,
            TxKind::OrderPlace { .. } => TAG_ORDER_PLACE,
            TxKind::OrderCancel { .. } => TAG_ORDER_CANCEL,
            TxKind::LeaseSettle { .. } => TAG_LEASE_SETTLE,
            TxKind::LeaseClose { .. } => TAG_LEASE_CLOSE,
        }
    }

    /// The kind's stable name, as used in JSON and docs.
    pub fn name(&self) -> &'static str {
        TxKind::name_of_tag(self.tag()).expect("every kind's tag has a name")
    }

    /// The name of the kind with wire tag `tag`; `None` for a byte no kind has.
    pub fn name_of_tag(tag: u8) -> Option<&'static str> {
        Some(match tag {
            TAG_TRANSFER => "transfer",
            TAG_MINT => "mint",
            TAG_REGISTER_DEVICE => "register_device",
            TAG_SET_SPEND_LIMIT => "set_spend_limit",
            TAG_FREEZE => "freeze",
            TAG_UNFREEZE => "unfreeze",
            TAG_SWEEP => "sweep",
            TAG_SET_MESSAGING_KEY => "set_messaging_key",
            TAG_CHANNEL_OPEN => "channel_open",
            TAG_CHANNEL_CLAIM => "channel_claim",
            TAG_CHANNEL_TOP_UP => "channel_top_up",
            TAG_CHANNEL_CLOSE => "channel_close",
            TAG_CHANNEL_RECLAIM => "channel_reclaim",
            TAG_STREAM_OPEN => "stream_open",
            TAG_STREAM_CONSENT => "stream_consent",
            TAG_STREAM_DELIVERY => "stream_delivery",
            TAG_STREAM_CLOSE => "stream_close",
            TAG_HOLD_CREATE => "hold_create",
            TAG_HOLD_ACCEPT => "hold_accept",
            TAG_HOLD_RELEASE => "hold_release",
            TAG_HOLD_REFUND => "hold_refund",
            TAG_HOLD_DISPUTE => "hold_dispute",
            TAG_HOLD_DECIDE => "hold_decide",
            TAG_OFFER_OPEN => "offer_open",
            TAG_OFFER_UPDATE => "offer_update",
            TAG_OFFER_CLOSE => "offer_close",
            TAG_CLASS_REGISTER => "class_register",
            TAG_ORDER_PLACE => "order_place",
            TAG_ORDER_CANCEL => "order_cancel",
            TAG_LEASE_SETTLE => "lease_settle",
            TAG_LEASE_CLOSE => "lease_close",
            _ => return None,
        })
    }
}

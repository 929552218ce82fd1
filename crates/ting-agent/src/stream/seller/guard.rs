//! What keeps a seller cheap to a hostile sender: a budget of refusals per
//! sender and minute, and the words a refusal carries.

use ting_core::{AccountId, Amount, Timestamp};

/// Refusals answered per sender per minute.
pub const REFUSALS_PER_MINUTE_MAX: u32 = 10;
/// Senders whose refusals are counted at once; past it the counts start over.
const REFUSAL_SENDERS_MAX: usize = 4096;

/// How many refusals each sender was sent in the current minute.
#[derive(Debug, Default)]
pub(super) struct RefusalBudget {
    minute: u64,
    sent: std::collections::HashMap<AccountId, u32>,
}

impl RefusalBudget {
    pub(super) fn allow(&mut self, to: AccountId, at: Timestamp) -> bool {
        let minute = at.0 / 60_000;
        if minute != self.minute || self.sent.len() >= REFUSAL_SENDERS_MAX {
            self.minute = minute;
            self.sent.clear();
        }
        let n = self.sent.entry(to).or_default();
        *n = n.saturating_add(1);
        *n <= REFUSALS_PER_MINUTE_MAX
    }
}

pub(super) fn payment_code(e: &crate::device::InboxError) -> &'static str {
    match e {
        crate::device::InboxError::UnknownChannel => "unknown_channel",
        crate::device::InboxError::NotPayer => "not_payer",
        other => other.code(),
    }
}

pub(super) fn refusal_message(code: &str, price: Amount, credit: Amount) -> String {
    match code {
        "insufficient_payment" => format!(
            "an epoch costs {price}; your channel's credit here is {credit}: pay the rest"
        ),
        "buyer_not_allowed" => "the owner's consent record does not name you, nor a category you showed an attestation for".into(),
        "epoch_not_open" => "keys are sold for epochs up to the one after the current".into(),
        "channel_in_use" => "this channel already pays for another stream of this seller: open one channel per stream".into(),
        "consent_revoked" => "the owner withdrew consent from an earlier epoch".into(),
        "payment_required" => "include a payment into your channel to the seller".into(),
        "no_messaging_key" => "publish your messaging key (set_messaging_key) so the key can be sealed to you".into(),
        other => format!("refused: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_to_one_sender_are_capped_per_minute() {
        let mut budget = RefusalBudget::default();
        let (a, b) = (AccountId([1; 32]), AccountId([2; 32]));
        let minute = Timestamp(60_000 * 100);
        let answered = (0..15).filter(|_| budget.allow(a, minute)).count();
        assert_eq!(answered, REFUSALS_PER_MINUTE_MAX as usize);
        assert!(budget.allow(b, minute), "another sender has its own budget");
        assert!(
            budget.allow(a, Timestamp(minute.0 + 60_000)),
            "a new minute"
        );
    }
}

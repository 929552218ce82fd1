//! The v1 topic names (docs/mqtt.md §1), in one place.

use ting_core::AccountId;

/// Where devices publish signed transactions.
pub const TX_TOPIC: &str = "ting/v1/tx";

/// The node's subscription to [`TX_TOPIC`]: a shared subscription, so that of
/// several nodes on one broker exactly one takes each transaction.
pub const TX_SHARED_FILTER: &str = "$share/ting-nodes/ting/v1/tx";

/// Where the newest durable block header is kept (retained).
pub const BLOCKS_TOPIC: &str = "ting/v1/blocks";

/// The inbox of `account`: `ting/v1/inbox/{64 lowercase hex digits}`.
pub fn inbox(account: &AccountId) -> String {
    format!("ting/v1/inbox/{}", account.to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbox_topic_names_the_account_in_lowercase_hex() {
        let topic = inbox(&AccountId([0xAB; 32]));
        assert_eq!(topic, format!("ting/v1/inbox/{}", "ab".repeat(32)));
    }
}

//! How many error notices one inbox may be sent per second.
//!
//! Error notices go only to senders whose signature verified, but a valid
//! transaction can be replayed by anyone who saw it; this bounds what such a
//! replay can make the node write into its sender's inbox. Receipts and
//! refusals are not limited: each answers one transaction the ledger judged,
//! and carries an id the device drops when it sees it twice.

use std::collections::HashMap;

use ting_core::AccountId;

/// Counts notices per recipient in one-second windows.
#[derive(Debug)]
pub(crate) struct NoticeRate {
    per_recipient: u32,
    recipients_max: usize,
    window: u64,
    counts: HashMap<AccountId, u32>,
}

impl NoticeRate {
    pub fn new(per_recipient: u32, recipients_max: usize) -> NoticeRate {
        NoticeRate {
            per_recipient,
            recipients_max,
            window: 0,
            counts: HashMap::new(),
        }
    }

    /// Whether one more notice to `to` fits the second that `now_ms` falls in.
    pub fn allow(&mut self, to: &AccountId, now_ms: u64) -> bool {
        let window = now_ms / 1000;
        if window != self.window {
            self.window = window;
            self.counts.clear();
        }
        if !self.counts.contains_key(to) && self.counts.len() >= self.recipients_max {
            return false;
        }
        let n = self.counts.entry(*to).or_insert(0);
        if *n >= self.per_recipient {
            return false;
        }
        *n += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_recipient_gets_its_quota_per_second_and_the_map_is_bounded() {
        let mut rate = NoticeRate::new(2, 2);
        let (a, b, c) = (AccountId([1; 32]), AccountId([2; 32]), AccountId([3; 32]));
        assert!(rate.allow(&a, 1_000));
        assert!(rate.allow(&a, 1_500));
        assert!(!rate.allow(&a, 1_999), "a third in the same second");
        assert!(rate.allow(&b, 1_999));
        assert!(!rate.allow(&c, 1_999), "no room to track a third recipient");
        assert!(rate.allow(&a, 2_000), "a new second, a new quota");
        assert!(rate.allow(&c, 2_000));
    }
}

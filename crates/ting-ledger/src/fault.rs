//! A deliberate fault, for test builds only (the `fault-injection` feature):
//! one balance moved by a base unit outside any transaction, so that a node
//! applies a block wrongly and a witness that replays the block must catch
//! it (`crates/ting/tests/witness/corrupt.rs`).
//!
//! The write goes through the same path every transaction's does
//! ([`State::note_account`], then [`State::set_account`]): the state map
//! re-hashes the account, so the block's state root commits to the wrong
//! balance, and the running totals count it, so the node goes on serving a
//! state that is wrong only in that one balance (and in its supply, which
//! `GET /v1/supply` then reports as not conserved).

use ting_core::{AccountId, Amount};

use crate::state::State;

impl State {
    /// Adds one base unit to `id`'s balance, as no transaction did; the new
    /// balance, or `None` (nothing written) when `id` has no account or its
    /// balance is already the largest there is.
    pub fn corrupt_balance_for_tests(&mut self, id: &AccountId) -> Option<Amount> {
        let mut account = *self.accounts.get(id)?;
        account.balance = account.balance.checked_add(Amount::new(1))?;
        self.note_account(id);
        self.set_account(*id, account);
        Some(account.balance)
    }
}

#[cfg(test)]
mod tests {
    use ting_core::{AccountId, Amount, Hash32, NetworkId, Nonce};

    use crate::state::State;

    #[test]
    fn a_corrupted_balance_moves_the_state_root_and_the_totals() {
        let mut state = State::empty(NetworkId(1), Hash32::ZERO, 7);
        let id = AccountId([1; 32]);
        state.put(id, Amount::new(10), Nonce(0));
        let root = state.update_root();
        assert_eq!(state.corrupt_balance_for_tests(&id), Some(Amount::new(11)));
        assert_eq!(state.balance_sum(), Some(Amount::new(11)));
        assert_eq!(state.walked_sums().0, state.balance_sum());
        assert_ne!(state.update_root(), root);
        assert_eq!(state.corrupt_balance_for_tests(&AccountId([2; 32])), None);
    }
}

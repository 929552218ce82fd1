//! The point numbers a buyer has opened, kept as ranges.

use std::collections::BTreeMap;

/// A set of point numbers kept as ranges `start..=end`: points come mostly
/// in order, so this stays small.
#[derive(Debug, Default)]
pub(super) struct SeqSet {
    ranges: BTreeMap<u64, u64>,
}

impl SeqSet {
    pub(super) fn contains(&self, seq: u64) -> bool {
        self.ranges
            .range(..=seq)
            .next_back()
            .is_some_and(|(_, end)| seq <= *end)
    }

    /// Adds `seq`; false if it was there.
    pub(super) fn insert(&mut self, seq: u64) -> bool {
        if self.contains(seq) {
            return false;
        }
        let before = self
            .ranges
            .range(..seq)
            .next_back()
            .filter(|(_, end)| end.checked_add(1) == Some(seq))
            .map(|(start, _)| *start);
        let after = seq
            .checked_add(1)
            .and_then(|next| self.ranges.get(&next).map(|end| (next, *end)));
        let start = before.unwrap_or(seq);
        let end = match after {
            Some((next, end)) => {
                self.ranges.remove(&next);
                end
            }
            None => seq,
        };
        self.ranges.insert(start, end);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::SeqSet;

    #[test]
    fn a_seq_set_merges_ranges_and_says_what_it_holds() {
        let mut set = SeqSet::default();
        for seq in [5, 3, 4, 9, 7, 8, 0] {
            assert!(set.insert(seq), "{seq} is new");
        }
        assert!(!set.insert(4), "4 is there");
        for seq in [0, 3, 4, 5, 7, 8, 9] {
            assert!(set.contains(seq), "{seq}");
        }
        for seq in [1, 2, 6, 10, u64::MAX] {
            assert!(!set.contains(seq), "{seq}");
        }
        assert_eq!(set.ranges.len(), 3, "{:?}", set.ranges);
        assert!(set.insert(6));
        assert_eq!(set.ranges.len(), 2, "3..=9 is one range: {:?}", set.ranges);
        assert!(set.insert(u64::MAX) && set.contains(u64::MAX));
    }
}

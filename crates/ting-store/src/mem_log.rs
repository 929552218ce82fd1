//! `MemLog`: an in-memory [`BlockLog`] for tests of the crates above this one.
//!
//! It applies the same chain checks as the file log on append (see [`ChainRules`]), so
//! a test that passes against it does not depend on a block the file log would refuse.
//! "Durable" here means "in the vector": nothing survives the process.

use std::sync::{Arc, PoisonError, RwLock};

use ting_core::{Block, BlockHeader, BlockHeight, Genesis, Hash32};

use crate::chain::ChainRules;
use crate::{BlockLog, BlockSource, LogError, LogReader};

/// An in-memory block log with the file log's checks.
#[derive(Debug)]
pub struct MemLog {
    rules: ChainRules,
    blocks: Arc<MemBlocks>,
}

#[derive(Debug, Default)]
struct MemBlocks(RwLock<Vec<Block>>);

impl MemLog {
    pub fn new(genesis: &Genesis) -> MemLog {
        MemLog {
            rules: ChainRules::from_genesis(genesis),
            blocks: Arc::default(),
        }
    }

    /// A copy of every block appended so far.
    pub fn blocks(&self) -> Vec<Block> {
        self.blocks.read().clone()
    }
}

impl MemBlocks {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Block>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, height: BlockHeight) -> Option<Block> {
        let index = usize::try_from(height.0.checked_sub(1)?).ok()?;
        self.read().get(index).cloned()
    }
}

impl BlockLog for MemLog {
    fn append(&mut self, blocks: &[Block]) -> Result<(), LogError> {
        let mut tip = self.tip();
        for block in blocks {
            self.rules.check_next(tip, block)?;
            tip = (block.header.height, block.header.hash());
        }
        let mut stored = self
            .blocks
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        stored.extend_from_slice(blocks);
        Ok(())
    }

    fn tip(&self) -> (BlockHeight, Hash32) {
        match self.blocks.read().last() {
            Some(block) => (block.header.height, block.header.hash()),
            None => self.rules.empty_tip(),
        }
    }

    fn reader(&self) -> LogReader {
        LogReader::new(self.blocks.clone())
    }
}

impl BlockSource for MemBlocks {
    fn block(&self, height: BlockHeight) -> Result<Option<Block>, LogError> {
        Ok(self.get(height))
    }

    fn header(&self, height: BlockHeight) -> Result<Option<BlockHeader>, LogError> {
        Ok(self.get(height).map(|block| block.header))
    }

    fn height(&self) -> BlockHeight {
        BlockHeight(self.read().len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Chain;

    #[test]
    fn a_mem_log_keeps_what_it_is_given_and_refuses_a_broken_chain() {
        let mut chain = Chain::new();
        let mut log = MemLog::new(&chain.genesis);
        let reader = log.reader();
        assert_eq!(log.tip(), (BlockHeight(0), chain.genesis.hash()));
        let blocks = chain.extend(3, 2);
        log.append(&blocks).expect("appends");
        assert_eq!(log.tip(), chain.tip());
        assert_eq!(reader.height(), BlockHeight(3));
        assert_eq!(
            reader.block(BlockHeight(2)).ok().flatten(),
            Some(blocks[1].clone())
        );
        assert_eq!(reader.block(BlockHeight(4)).ok().flatten(), None);
        let gap = log.append(&blocks[..1]).map_err(|e| e.code());
        assert_eq!(gap, Err("height_gap"));
        assert_eq!(log.blocks(), blocks);
    }
}

//! A dishonest sequencer played by the test: a genesis whose sequencer key
//! the test holds, blocks built on a real ledger state (so their roots are
//! right unless the test makes one wrong), and an HTTP server that answers
//! `GET /v1/raw/blocks` as a node does, with whatever blocks it is told to
//! serve now.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ting_agent::files::write_genesis;
use ting_core::{
    Amount, Block, BlockHeader, BlockHeight, Genesis, Hash32, Keypair, LedgerClock, NetworkId,
    Signature, Timestamp,
};
use ting_ledger::State;

const START_MS: u64 = 1_700_000_000_000;

pub struct Chain {
    pub genesis: Genesis,
    pub genesis_path: PathBuf,
    sequencer: Keypair,
}

impl Chain {
    /// A network of one sequencer, its genesis written in `dir`.
    pub fn new(dir: &Path) -> Chain {
        let sequencer = Keypair::from_seed([41; 32]);
        let genesis = Genesis {
            name: "witnessed".into(),
            network: NetworkId(4242),
            timestamp: Timestamp(START_MS),
            issuers: vec![Keypair::from_seed([42; 32]).account()],
            sequencers: vec![sequencer.account()],
            allocations: vec![(Keypair::from_seed([43; 32]).account(), Amount::new(1_000))],
            clock: LedgerClock::Real,
        };
        let genesis_path = dir.join("genesis.json");
        write_genesis(&genesis_path, &genesis).expect("genesis written");
        Chain {
            genesis,
            genesis_path,
            sequencer,
        }
    }

    pub fn sequencer_did(&self) -> String {
        self.sequencer.account().to_did()
    }

    /// `n` blocks; block `h` is made with `shape(h)`: (epoch, a time
    /// offset that makes it another block, whether its root is wrong).
    fn build(&self, n: u64, shape: impl Fn(u64) -> (u64, u64, bool)) -> Vec<Block> {
        let mut state = State::from_genesis(&self.genesis, 0);
        (1..=n)
            .map(|h| {
                let (epoch, offset, wrong_root) = shape(h);
                let block = self.next(&mut state, h, epoch, offset, wrong_root);
                if !wrong_root {
                    state.apply_block(&block).expect("the fake chain applies");
                }
                block
            })
            .collect()
    }

    fn next(&self, state: &mut State, h: u64, epoch: u64, offset: u64, wrong_root: bool) -> Block {
        let root = if wrong_root {
            Hash32([9; 32])
        } else {
            state.update_root()
        };
        let mut header = BlockHeader {
            genesis: self.genesis.hash(),
            height: BlockHeight(h),
            epoch,
            prev_hash: state.tip_hash(),
            timestamp: Timestamp(START_MS + h * 1_000 + offset),
            tx_root: ting_core::merkle::root(&[]),
            tx_count: 0,
            state_root: root,
            sequencer: self.sequencer.account(),
            signature: Signature([0; 64]),
        };
        header.sign(&self.sequencer);
        Block {
            header,
            txs: Vec::new(),
        }
    }

    /// The honest chain of `n` blocks.
    pub fn blocks(&self, n: u64) -> Vec<Block> {
        self.build(n, |_| (0, 0, false))
    }

    /// Another block at `height`, after the honest ones, in `epoch`.
    pub fn other_block(&self, height: u64, epoch: u64) -> Block {
        let chain = self.build(height, |h| {
            if h == height {
                (epoch, 7, false)
            } else {
                (0, 0, false)
            }
        });
        chain.last().expect("a block").clone()
    }

    /// `n` blocks, the same as the honest ones below `from`, others from it on.
    pub fn rewritten(&self, n: u64, from: u64) -> Vec<Block> {
        self.build(n, |h| (0, if h >= from { 7 } else { 0 }, false))
    }

    /// `n` blocks, the last one claiming a state root that does not follow.
    pub fn with_wrong_root(&self, n: u64) -> Vec<Block> {
        self.build(n, |h| (0, 0, h == n))
    }
}

/// The fake sequencer's HTTP server.
pub struct Sequencer {
    addr: SocketAddr,
    blocks: Arc<Mutex<Vec<Block>>>,
}

impl Sequencer {
    pub fn start(blocks: Vec<Block>) -> Sequencer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let blocks = Arc::new(Mutex::new(blocks));
        let served = Arc::clone(&blocks);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let served = Arc::clone(&served);
                std::thread::spawn(move || answer(stream, &served));
            }
        });
        Sequencer { addr, blocks }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `blocks` from now on.
    pub fn serve(&self, blocks: Vec<Block>) {
        *self.blocks.lock().expect("blocks") = blocks;
    }
}

fn answer(stream: TcpStream, blocks: &Mutex<Vec<Block>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // The rest of the head.
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
    }
    let from = line
        .split_whitespace()
        .nth(1)
        .and_then(|path| path.split("from=").nth(1))
        .and_then(|rest| rest.split('&').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(1);
    let blocks = blocks.lock().expect("blocks").clone();
    let mut body = Vec::new();
    for b in blocks.iter().filter(|b| b.header.height.0 >= from) {
        let bytes = b.encode();
        body.extend_from_slice(&u32::try_from(bytes.len()).expect("small").to_le_bytes());
        body.extend_from_slice(&bytes);
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\nx-ting-durable-height: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        blocks.len(),
        body.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

//! Restarts over a damaged log tail, and a node started on a taken port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::json;
use ting_core::{AccountId, Hash32, Keypair};

use super::common::{self, batch_body, did, transfer, NodeProc, Rng};
use super::{log_path, small_segments_and_frequent_snapshots, wait_indexed};

/// The block log's open segment: the one with the highest first height.
fn open_segment(data: &Path) -> PathBuf {
    let blocks = data.join("blocks");
    let newest = std::fs::read_dir(&blocks)
        .expect("the log directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .into_string()
                .expect("UTF-8")
        })
        .filter(|name| name.ends_with(ting_store::log::SEGMENT_SUFFIX))
        .max()
        .expect("a segment");
    blocks.join(newest)
}

/// Reads the offsets of the records of a clean segment (see ting-store's log format).
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    use ting_store::log::{RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES};
    assert_eq!(&bytes[..8], b"TINGLOG1", "not a block log segment");
    let mut offsets = Vec::new();
    let mut at = SEGMENT_HEADER_BYTES;
    while at < bytes.len() {
        assert_eq!(&bytes[at..at + 4], b"TBLK", "no record at offset {at}");
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        offsets.push(at);
        at += RECORD_HEADER_BYTES + usize::try_from(len).expect("length");
    }
    assert_eq!(at, bytes.len(), "the last record overruns the file");
    offsets
}

/// Commits `n` transfers from `from` (nonces from `nonce`) and returns their hashes.
fn commit_transfers(
    node: &NodeProc,
    genesis: &Hash32,
    from: &Keypair,
    nonce: u64,
    to: AccountId,
    n: u64,
) -> Vec<String> {
    let txs: Vec<_> = (nonce..nonce + n)
        .map(|k| transfer(genesis, from, k, to, 1 + k))
        .collect();
    let reply = node.post("/v1/transactions/batch?wait=true", &batch_body(&txs));
    let results = reply["results"].as_array().expect("results");
    assert!(
        results.iter().all(|r| r["status"] == "committed"),
        "{reply}"
    );
    txs.iter().map(|t| t.hash().to_hex()).collect()
}

/// Restarts over a damaged tail of `segment` and checks the node cut it, said so, and
/// lost nothing.
fn restart_over_torn_tail(
    (data, segment): (&Path, &Path),
    addr: SocketAddr,
    log: &Path,
    clean_len: usize,
    acked: &[String],
) -> NodeProc {
    let node = NodeProc::start(data, addr, log);
    let stderr = node.stderr();
    assert!(
        stderr.contains("WARN")
            && stderr.contains("torn")
            && stderr.contains(&clean_len.to_string()),
        "no warning about cutting the torn tail at byte {clean_len}:\n{stderr}"
    );
    let len = std::fs::metadata(segment).expect("log").len();
    assert_eq!(
        len, clean_len as u64,
        "the log was not cut back to its last good record"
    );
    wait_indexed(&node);
    for hash in acked {
        node.get(&format!("/v1/transactions/{hash}"));
    }
    let supply = node.get("/v1/supply");
    assert_eq!(supply["conserved"], true, "{supply}");
    node
}

#[test]
fn a_torn_tail_is_cut_with_a_warning_and_never_replayed() {
    small_segments_and_frequent_snapshots();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let addr = common::free_addr();
    let mut node = NodeProc::start(&data, addr, &log_path(tmp.path(), 0));
    let genesis = common::genesis_of(&node.get("/v1/status"));
    let (alice, bob) = (Keypair::from_seed([7; 32]), Keypair::from_seed([8; 32]));
    node.post(
        "/v1/faucet",
        &json!({ "to": did(&alice), "amount": 1_000_000 }),
    );
    let mut acked = Vec::new();
    for k in 0..3 {
        acked.extend(commit_transfers(
            &node,
            &genesis,
            &alice,
            5 * k,
            bob.account(),
            5,
        ));
    }
    assert!(node.terminate().success(), "{}", node.stderr());

    // A last record cut short, as a crash in the middle of its write leaves it.
    let log_file = open_segment(&data);
    let clean = std::fs::read(&log_file).expect("read the log");
    let last = *record_offsets(&clean).last().expect("a record");
    let mut torn = clean.clone();
    torn.extend_from_slice(&clean[last..last + (clean.len() - last) / 2]);
    std::fs::write(&log_file, &torn).expect("tear the log");
    node = restart_over_torn_tail(
        (&data, &log_file),
        addr,
        &log_path(tmp.path(), 1),
        clean.len(),
        &acked,
    );
    // The node appends right where it cut.
    acked.extend(commit_transfers(
        &node,
        &genesis,
        &alice,
        15,
        bob.account(),
        3,
    ));
    assert!(node.terminate().success(), "{}", node.stderr());

    // Garbage after the last record.
    let log_file = open_segment(&data);
    let clean = std::fs::read(&log_file).expect("read the log");
    record_offsets(&clean);
    let mut rng = Rng::new(0x7e57);
    let mut garbage = clean.clone();
    garbage.extend((0..100).map(|_| rng.next_u64().to_le_bytes()[0]));
    std::fs::write(&log_file, &garbage).expect("append garbage");
    node = restart_over_torn_tail(
        (&data, &log_file),
        addr,
        &log_path(tmp.path(), 2),
        clean.len(),
        &acked,
    );
    let account = node.get(&format!("/v1/accounts/{}", did(&alice)));
    assert_eq!(account["nonce"], 18, "{account}");
    assert!(node.terminate().success(), "{}", node.stderr());
}

#[test]
fn a_taken_port_is_refused_with_a_clear_error() {
    small_segments_and_frequent_snapshots();
    let tmp = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address");
    let mut node = NodeProc::spawn(&tmp.path().join("data"), addr, &tmp.path().join("node.log"));
    let status = node.wait_exit();
    let stderr = node.stderr();
    assert!(!status.success(), "the node ran on a taken port:\n{stderr}");
    assert!(
        stderr.contains("already in use") && stderr.contains(&addr.to_string()),
        "stderr does not say that {addr} is in use:\n{stderr}"
    );
    drop(taken);
}

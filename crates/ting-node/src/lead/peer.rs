//! How a follower proves to the leader that a forwarded batch comes from a
//! node of the network, so the leader does not charge it to the follower's
//! address.
//!
//! A follower screens every client at its own door and charges the client's
//! refusal budget there (`forward.rs`). Without proof, the leader would
//! charge the refusals again, to the follower's address, whose budget every
//! client of that follower shares: one client sending refused transactions
//! through a follower would get every other client's forwards refused
//! `refusal_budget`. So a forwarded batch carries three headers:
//!
//! - `Ting-Node`: the follower's sequencer account, 64 hex digits;
//! - `Ting-Node-Time`: its wall clock, milliseconds since the Unix epoch;
//! - `Ting-Node-Signature`: its Ed25519 signature, 128 hex digits, over
//!   `"ting:forward:v1"` ‖ the genesis hash ‖ the time (u64 LE) ‖
//!   SHA-256(the request body).
//!
//! The leader takes the batch as a node's (no source budget; senders' budgets
//! still apply) when the account is a sequencer of the genesis, the time is
//! within [`FORWARD_SKEW_MAX`] of its own clock and the signature verifies;
//! headers that claim a node and do not check are refused `401 bad_forward`.
//! A batch replayed within the window resubmits the same signed
//! transactions, which apply at most once.

use std::time::Duration;

use ting_core::{keys, AccountId, Genesis, Hash32, Keypair, Signature, Timestamp};

/// The header naming the forwarding node.
pub const NODE_HEADER: &str = "ting-node";
/// The header with the forwarding node's clock, in milliseconds.
pub const TIME_HEADER: &str = "ting-node-time";
/// The header with the forwarding node's signature.
pub const SIGNATURE_HEADER: &str = "ting-node-signature";
/// Widest gap between the forwarding node's clock and the leader's.
pub const FORWARD_SKEW_MAX: Duration = Duration::from_secs(30);

const DOMAIN: &[u8] = b"ting:forward:v1";

/// The three header values for `body`, signed by `key` at `at`.
pub fn sign(key: &Keypair, genesis: &Hash32, at: Timestamp, body: &[u8]) -> [String; 3] {
    let digest = Hash32::digest(&[body]);
    let signature = key.sign_parts(&[DOMAIN, &genesis.0, &at.0.to_le_bytes(), &digest.0]);
    [key.account().to_hex(), at.0.to_string(), signature.to_hex()]
}

/// The forwarding node of a request whose headers are `node`, `time` and
/// `signature` (all present) and whose body is `body`.
///
/// # Errors
/// What did not check, in words for the `bad_forward` answer.
pub fn check(
    genesis: &Genesis,
    genesis_hash: &Hash32,
    now: Timestamp,
    [node, time, signature]: [&str; 3],
    body: &[u8],
) -> Result<AccountId, String> {
    let node = AccountId::parse(node).map_err(|_| format!("{NODE_HEADER} is not an account id"))?;
    if !genesis.sequencers.contains(&node) {
        return Err(format!(
            "{NODE_HEADER} {} is not a sequencer of this network",
            node.to_hex()
        ));
    }
    let at: u64 = time
        .parse()
        .map_err(|_| format!("{TIME_HEADER} is not a whole number of milliseconds"))?;
    let skew = at.abs_diff(now.0);
    if u128::from(skew) > FORWARD_SKEW_MAX.as_millis() {
        return Err(format!(
            "{TIME_HEADER} is {skew} ms from this node's clock, more than {} ms",
            FORWARD_SKEW_MAX.as_millis()
        ));
    }
    let bytes: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{SIGNATURE_HEADER} is not 128 hex digits"))?;
    let digest = Hash32::digest(&[body]);
    let message = [DOMAIN, &genesis_hash.0, &at.to_le_bytes(), &digest.0].concat();
    keys::verify(&node, &message, &Signature(bytes))
        .map_err(|_| format!("{SIGNATURE_HEADER} does not verify for this body"))?;
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::{LedgerClock, NetworkId};

    fn genesis(sequencers: Vec<AccountId>) -> Genesis {
        Genesis {
            name: "peer".into(),
            network: NetworkId(9),
            timestamp: Timestamp(1),
            issuers: Vec::new(),
            sequencers,
            allocations: Vec::new(),
            clock: LedgerClock::Real,
        }
    }

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    fn headers(h: &[String; 3]) -> [&str; 3] {
        [h[0].as_str(), h[1].as_str(), h[2].as_str()]
    }

    #[test]
    fn a_sequencers_signed_batch_checks_and_nothing_else_does() {
        let (node, stranger) = (Keypair::from_seed([1; 32]), Keypair::from_seed([2; 32]));
        let g = genesis(vec![node.account()]);
        let gh = g.hash();
        let body = br#"{"txs":[]}"#;
        let good = sign(&node, &gh, NOW, body);
        assert_eq!(
            check(&g, &gh, NOW, headers(&good), body),
            Ok(node.account())
        );

        let other_body = check(&g, &gh, NOW, headers(&good), b"{}").expect_err("body");
        assert!(other_body.contains("does not verify"), "{other_body}");
        let other_net = check(&g, &Hash32([5; 32]), NOW, headers(&good), body);
        assert!(other_net.is_err(), "signed for another genesis");
        let not_ours = sign(&stranger, &gh, NOW, body);
        let e = check(&g, &gh, NOW, headers(&not_ours), body).expect_err("stranger");
        assert!(e.contains("not a sequencer"), "{e}");
        let late = Timestamp(NOW.0 + FORWARD_SKEW_MAX.as_secs() * 1000 + 1);
        let e = check(&g, &gh, late, headers(&good), body).expect_err("stale");
        assert!(e.contains("ms from this node's clock"), "{e}");
        let mut forged = good.clone();
        forged[2] = "00".repeat(64);
        assert!(check(&g, &gh, NOW, headers(&forged), body).is_err());
        forged[2] = "zz".into();
        let e = check(&g, &gh, NOW, headers(&forged), body).expect_err("hex");
        assert!(e.contains("128 hex digits"), "{e}");
    }
}

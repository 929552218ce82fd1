//! The dashboard's in-page checker (`web/verify.js`) against the vectors and
//! saved answers: runs `web/test/verify.test.mjs` under Node.js, which checks
//! the ZIP-215 rule on every case of `docs/test-vectors/ed25519_rule.json`,
//! the transaction, header, receipt and state-proof vectors, and real receipts
//! and account answers with every tampering it knows failing at its step.
//! Node.js is installed by `./scripts/test`; without it this test fails.

use std::process::Command;

#[test]
fn the_page_checker_agrees_with_the_node_on_every_vector() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/web/test/verify.test.mjs");
    let out = Command::new("node").arg(script).output().unwrap_or_else(|e| {
        panic!("cannot run `node` ({e}): install Node.js 20 or later, or run ./scripts/test, which does")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "verify.test.mjs failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

//! Prints `docs/test-vectors/ed25519_rule.json`: the edge cases of Ting's
//! Ed25519 rule (ZIP-215, docs/wire.md §3.2) with their verdicts, for
//! clients that are not written in Rust.
//!
//! Run from the workspace root:
//!
//! ```text
//! cargo run -p ting-core --example gen_ed25519_vectors > docs/test-vectors/ed25519_rule.json
//! ```
//!
//! The cases live in `tests/ed25519_rule.rs`, which checks every verdict
//! against ting-core and ed25519-zebra and that the committed file is this
//! program's output; this program only borrows them, so the two cannot
//! drift apart.

// The test file's checks and batch helpers are unused here.
#[allow(dead_code, unused_imports)]
#[path = "../tests/ed25519_rule.rs"]
mod rule;

fn main() {
    print!("{}", rule::vectors_json());
}

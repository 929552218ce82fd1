//! Keeps docs/files.md true: its worked examples are exactly what ting-core
//! writes, parse, and give the account, messaging key, encoding and genesis
//! hash the document states; every error code it lists is one ting-core gives.
//!
//! The document marks what is checked with fenced blocks whose info string
//! names them: `json key-file-example`, `text key-file-example-derived`,
//! `json genesis-example`, `text genesis-example-encoding` and
//! `text genesis-example-derived`.

use std::collections::HashMap;

use ting_core::files::{
    genesis_file_text, key_file_text, parse_genesis_file, parse_key_file, FileFormatError,
};
use ting_core::MessagingSecret;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/files.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The text of the one fenced block whose info string has the word `name`,
/// ending with a newline.
fn block(doc: &str, name: &str) -> String {
    let mut found = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let body: String = lines
            .by_ref()
            .take_while(|l| l.trim_start() != "```")
            .map(|l| format!("{l}\n"))
            .collect();
        if info.split_whitespace().any(|word| word == name) {
            found.push(body);
        }
    }
    assert_eq!(found.len(), 1, "docs/files.md has one ```{name} block");
    found.remove(0)
}

/// The `label: value` lines of the block `name`.
fn values(doc: &str, name: &str) -> HashMap<String, String> {
    block(doc, name)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn value<'a>(values: &'a HashMap<String, String>, label: &str) -> &'a str {
    values
        .get(label)
        .unwrap_or_else(|| panic!("docs/files.md states no {label:?}"))
}

#[test]
fn the_key_file_example_is_what_ting_writes_and_makes_the_stated_account() {
    let doc = doc();
    let text = block(&doc, "key-file-example");
    let stated = values(&doc, "key-file-example-derived");
    let key = parse_key_file(text.as_bytes()).expect("the example key file parses");
    assert_eq!(key.seed(), [1; 32], "the example's seed is 32 bytes 0x01");
    assert_eq!(key.account().to_did(), value(&stated, "account"));
    assert_eq!(key.account().to_hex(), value(&stated, "account hex"));
    let messaging = MessagingSecret::from_keypair(&key).public();
    assert_eq!(messaging.to_hex(), value(&stated, "messaging key"));
    assert_eq!(
        key_file_text(&key),
        text,
        "the example is exactly what Ting writes"
    );
}

#[test]
fn the_genesis_example_is_what_ting_writes_and_has_the_stated_encoding_and_hash() {
    let doc = doc();
    let text = block(&doc, "genesis-example");
    let genesis = parse_genesis_file(text.as_bytes()).expect("the example genesis parses");
    let stated = values(&doc, "genesis-example-derived");
    assert_eq!(genesis.hash().to_hex(), value(&stated, "genesis hash"));
    let encoding: String = block(&doc, "genesis-example-encoding")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(hex::encode(genesis.encode()), encoding);
    assert_eq!(
        genesis_file_text(&genesis),
        text,
        "the example is exactly what Ting writes"
    );
}

/// The codes in the first column of the table after the line that introduces
/// `FileFormatError::code()`.
fn documented_codes(doc: &str) -> Vec<String> {
    let after = doc
        .split_once("`FileFormatError::code()`")
        .expect("docs/files.md lists FileFormatError's codes")
        .1;
    after
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .map(str::trim)
        .filter_map(|cell| cell.strip_prefix('`')?.strip_suffix('`'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_documented_error_code_is_one_a_broken_example_gives() {
    let doc = doc();
    let key = block(&doc, "key-file-example");
    let genesis = block(&doc, "genesis-example");
    let seed = "01".repeat(32);
    let issuer = "did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX";
    let sequencer = "did:key:z6Mko9hTggMwjSTEaJaPUfE6tqcy2xvU6BnNq3e3o8qVBiyH";
    let code = |r: Result<(), FileFormatError>| r.expect_err("refused").code();
    let key_code = |text: String| code(parse_key_file(text.as_bytes()).map(drop));
    let genesis_code = |text: String| code(parse_genesis_file(text.as_bytes()).map(drop));
    let given = [
        key_code(" ".repeat(64 * 1024 + 1)),
        key_code(key.replace("\"seed\"", "\"sede\"")),
        key_code(key.replace("ting-ed25519-seed", "ting-rsa")),
        key_code(key.replace(&seed, &seed[2..])),
        key_code(key.replace(issuer, "alice")),
        key_code(key.replace(issuer, sequencer)),
        genesis_code(genesis.replace("\"example\"", &format!("\"{}\"", "x".repeat(65)))),
    ];
    let mut given: Vec<String> = given.iter().map(|c| c.to_string()).collect();
    let mut documented = documented_codes(&doc);
    given.sort();
    documented.sort();
    assert_eq!(
        documented, given,
        "docs/files.md §4 lists the codes ting-core gives"
    );
}

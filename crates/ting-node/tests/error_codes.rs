//! docs/api.md §2.1 lists every error code the HTTP API can answer, and no
//! code it cannot.
//!
//! The codes the API can send are collected from the source, mechanically:
//! the `code()` match of each error enum whose codes become answers (the
//! ledger's `TxError`, the decoder's `DecodeError`, the pipeline's
//! `SubmitError`, the faucet's `FaucetError`), and the code literal of every
//! `ApiError` made in `src/http` and every `FormError` made in ting-api. The
//! codes that reach an answer only as values (an account id that does not
//! parse, a signature that does not verify) are asked of ting-core. A new code
//! in any of these places fails the test until the table lists it; a code the
//! table lists that nothing sends fails it too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ting_core::{AccountId, SignatureError};

/// The enums whose `code()` values the API answers with: (source file
/// relative to this crate, type).
const CODE_ENUMS: &[(&str, &str)] = &[
    ("../ting-ledger/src/error.rs", "TxError"),
    ("../ting-core/src/encoding.rs", "DecodeError"),
    ("src/pipeline/mod.rs", "SubmitError"),
    ("src/faucet.rs", "FaucetError"),
];

/// Where errors are made with a literal code: (directory relative to this
/// crate, the calls whose first string literal is the code).
const CONSTRUCTORS: &[(&str, &[&str])] = &[
    (
        "src/http",
        &[
            "ApiError::new(",
            "ApiError::bad_request(",
            "ApiError::not_found(",
        ],
    ),
    ("../ting-api/src", &["FormError::new("]),
    ("src/admission", &["Refusal::new(", "refuse("]),
];

/// Codes the sources above make that never reach an HTTP answer, and why.
const NOT_ANSWERED: &[(&str, &str)] = &[
    (
        "bad_receipt",
        "ting-api's receipt_from_json reads a receipt the node wrote, for clients; no request carries one",
    ),
    (
        "bad_proof",
        "ting-api's state_answer_from_json reads a state proof the node wrote, for clients; no request carries one",
    ),
];

fn crate_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The string literals in `text`, in order, and where each ends. Escapes are
/// skipped over, not decoded: codes have none.
fn literals(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices();
    while let Some((_, c)) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut lit = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    out.push((lit, i));
                    break;
                }
                _ => lit.push(c),
            }
        }
    }
    out
}

/// The text from `start` (just inside an opening `open`) to its matching `close`,
/// skipping string literals.
fn enclosed(text: &str, start: usize, open: char, close: char) -> &str {
    let mut depth = 1;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') | (false, _, '"') => in_string = !in_string,
            (false, _, c) if c == open => depth += 1,
            (false, _, c) if c == close => {
                depth -= 1;
                if depth == 0 {
                    return &text[start..start + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced {open}{close} in\n{}", &text[start..]);
}

fn is_code(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The code literals in the body of `impl ty { ... fn code(...) { ... } }` in `file`.
fn enum_codes(file: &str, ty: &str) -> BTreeSet<String> {
    let text = read(&crate_path(file));
    let imp = text
        .find(&format!("impl {ty} {{"))
        .unwrap_or_else(|| panic!("{file} has no `impl {ty}`"));
    let f = imp
        + text[imp..]
            .find("fn code(")
            .unwrap_or_else(|| panic!("{ty} in {file} has no code()"));
    let body = f + text[f..].find('{').expect("a function body") + 1;
    let codes: BTreeSet<String> = literals(enclosed(&text, body, '{', '}'))
        .into_iter()
        .map(|(l, _)| l)
        .filter(|l| is_code(l))
        .collect();
    assert!(!codes.is_empty(), "{ty}::code() in {file} names no code");
    codes
}

/// The first code-like string literal inside each call of `calls` under `dir`.
fn constructed_codes(dir: &str, calls: &[&str]) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&crate_path(dir), &mut files);
    let mut codes = BTreeSet::new();
    for file in files {
        let text = read(&file);
        for call in calls {
            for (at, _) in text.match_indices(call) {
                let args = enclosed(&text, at + call.len(), '(', ')');
                if let Some((first, _)) = literals(args).into_iter().find(|(l, _)| is_code(l)) {
                    codes.insert(first);
                }
            }
        }
    }
    assert!(
        !codes.is_empty(),
        "no {calls:?} with a literal code under {dir}"
    );
    codes
}

/// Codes that reach answers as values rather than literals near an answer.
fn value_codes() -> BTreeSet<String> {
    let not_ids = [
        "alice",
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
    ];
    let mut codes: BTreeSet<String> = not_ids
        .iter()
        .map(|t| {
            AccountId::parse(t)
                .expect_err("not an account id")
                .code()
                .to_owned()
        })
        .collect();
    // The verifiers refuse with this one only: a batch names no other reason.
    codes.insert(SignatureError::Invalid.code().to_owned());
    codes
}

/// Every code the sources can make, before removing those never answered.
fn made_codes() -> BTreeSet<String> {
    let mut codes = value_codes();
    for (file, ty) in CODE_ENUMS {
        codes.extend(enum_codes(file, ty));
    }
    for (dir, calls) in CONSTRUCTORS {
        codes.extend(constructed_codes(dir, calls));
    }
    codes
}

/// The codes in the first column of the tables of docs/api.md §2.1.
fn documented_codes() -> BTreeSet<String> {
    let doc = read(&crate_path("../../docs/api.md"));
    let start = doc
        .find("\n### 2.1 Error codes")
        .expect("docs/api.md has §2.1 Error codes");
    let end = start
        + 1
        + doc[start + 1..]
            .find("\n## ")
            .expect("a section after §2.1");
    let codes: BTreeSet<String> = doc[start..end]
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(code, _)| code.to_owned()))
        .collect();
    assert!(codes.len() > 20, "§2.1's tables were not found: {codes:?}");
    codes
}

#[test]
fn the_scanner_finds_codes_where_it_looks() {
    let text = r#"ApiError::new(StatusCode::GONE, "a_code", format!("(\"x\")")); "later""#;
    let at = text.find('(').expect("a call") + 1;
    let args = enclosed(text, at, '(', ')');
    let lits: Vec<String> = literals(args).into_iter().map(|(l, _)| l).collect();
    assert_eq!(lits, ["a_code", "(x)"]);
    assert!(is_code("a_code") && !is_code("(x)") && !is_code("A") && !is_code(""));
    let ledger = enum_codes("../ting-ledger/src/error.rs", "TxError");
    assert!(ledger.contains("insufficient_funds") && ledger.contains("invalid_messaging_key"));
    assert!(
        !ledger.contains("timestamp_backwards"),
        "BlockError's codes are not TxError's"
    );
}

#[test]
fn every_error_code_the_api_can_answer_is_in_the_table_of_api_md_2_1() {
    let made = made_codes();
    for (code, why) in NOT_ANSWERED {
        assert!(
            made.contains(*code),
            "{code} is listed as never answered ({why}) but nothing makes it any more"
        );
    }
    let answered: BTreeSet<String> = made
        .into_iter()
        .filter(|c| !NOT_ANSWERED.iter().any(|(n, _)| n == c))
        .collect();
    let documented = documented_codes();
    let missing: Vec<_> = answered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "codes the API can answer that docs/api.md §2.1 does not list: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&answered).collect();
    assert!(
        stale.is_empty(),
        "codes docs/api.md §2.1 lists that nothing in the API makes: {stale:?}"
    );
}

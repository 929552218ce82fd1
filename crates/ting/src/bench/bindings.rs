//! `ting bench bindings` (issue 21): transfers signed per second through the
//! C library, from a C program compiled with the system's compiler, over
//! the same signing in Rust in the same run (`c_sign_ratio`, target ≥ 0.8),
//! and the C library's code size (`c_lib_text_bytes`, the `.text` of
//! `libting.so` for this host). Both sides sign one transfer after another
//! on one core. The library is built with cargo from the source checkout
//! this binary was built from, in the same profile; `cc` and `size`
//! (binutils) must be installed. The Python package is not built yet, so
//! `py_sign_ratio` is null.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;
use ting_core::tx::{TxBody, TxKind};
use ting_core::{Amount, Hash32, Keypair, Nonce, Timestamp};

/// The target for the C library: at least this share of Rust's rate.
const TARGET_C_SIGN_RATIO: f64 = 0.8;

#[derive(Debug, Args)]
pub struct BindingsArgs {
    /// Transfers each side signs.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    pub count: u64,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// The C library's files, as cargo built them.
struct Library {
    archive: PathBuf,
    shared: PathBuf,
}

pub fn run(args: &BindingsArgs) -> anyhow::Result<()> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ting-c");
    if !source.join("include/ting.h").exists() {
        bail!(
            "ting bench bindings builds the C library from the source checkout ting was built \
             from ({}), which is not there",
            source.display()
        );
    }
    let lib = build_library(&source)?;
    let dir = super::TempDir::new("bindings")?;
    let exe = compile(&source, &lib.archive, dir.path())?;
    let rust_s = rust_seconds(args.count);
    let c_s = c_seconds(&exe, args.count)?;
    let text = text_bytes(&lib.shared)?;
    report(args, rust_s, c_s, text);
    Ok(())
}

fn build_library(source: &Path) -> anyhow::Result<Library> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "ting-c", "--lib", "--message-format=json"])
        .current_dir(source);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd
        .output()
        .context("cargo runs (it builds the C library)")?;
    if !out.status.success() {
        bail!(
            "cargo build -p ting-c failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let artifact = |suffix: &str| {
        text.lines()
            .filter(|l| l.contains("\"compiler-artifact\""))
            .flat_map(|l| l.split('"').map(str::to_owned).collect::<Vec<_>>())
            .find(|part| part.ends_with(suffix))
            .map(PathBuf::from)
            .with_context(|| format!("cargo named no {suffix} among its artifacts"))
    };
    Ok(Library {
        archive: artifact("/libting.a")?,
        shared: artifact("/libting.so")?,
    })
}

fn compile(source: &Path, archive: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let exe = dir.join("bench_sign");
    let out = Command::new("cc")
        .args(["-std=c99", "-O2", "-D_POSIX_C_SOURCE=199309L", "-o"])
        .arg(&exe)
        .arg(source.join("examples/bench_sign.c"))
        .arg("-I")
        .arg(source.join("include"))
        .arg(archive)
        .args(["-lpthread", "-ldl", "-lm"])
        .output()
        .context("the system's C compiler (cc) runs; install gcc")?;
    if !out.status.success() {
        bail!("cc failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(exe)
}

/// Seconds to sign `count` transfers in Rust, as the C program signs them.
fn rust_seconds(count: u64) -> f64 {
    let key = Keypair::from_seed([3; 32]);
    let to = Keypair::from_seed([4; 32]).account();
    let mut buf = [0u8; ting_core::limits::TX_BYTES_MAX];
    let mut checksum = 0u64;
    let started = Instant::now();
    for nonce in 0..count {
        let body = TxBody {
            genesis: Hash32([9; 32]),
            sender: key.account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(1_800_000_000_000),
            kind: TxKind::Transfer {
                to,
                amount: Amount::new(1),
                memo: Vec::new(),
            },
        };
        let len = body.sign_into(&key, &mut buf).expect("a transfer fits");
        checksum = checksum.wrapping_add(u64::from(buf[len - 1]));
    }
    std::hint::black_box(checksum);
    started.elapsed().as_secs_f64()
}

/// Seconds the C program reports for `count` transfers.
fn c_seconds(exe: &Path, count: u64) -> anyhow::Result<f64> {
    let out = Command::new(exe)
        .arg(count.to_string())
        .output()
        .context("the C benchmark runs")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "the C benchmark failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_c_seconds(&text, count)
}

/// `signed COUNT in SECONDS (checksum N)`.
fn parse_c_seconds(text: &str, count: u64) -> anyhow::Result<f64> {
    let mut words = text.split_whitespace();
    let (Some("signed"), Some(n), Some("in"), Some(s)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        bail!("the C benchmark printed {text:?}, not `signed N in S`");
    };
    if n.parse::<u64>().ok() != Some(count) {
        bail!("the C benchmark signed {n} transfers, not {count}");
    }
    let seconds: f64 = s.parse().with_context(|| format!("{s:?} is not seconds"))?;
    if !seconds.is_finite() || seconds <= 0.0 {
        bail!("the C benchmark took {seconds} s");
    }
    Ok(seconds)
}

/// The `.text` size of `lib`, by binutils' `size -A`.
fn text_bytes(lib: &Path) -> anyhow::Result<u64> {
    let out = Command::new("size")
        .arg("-A")
        .arg(lib)
        .output()
        .context("binutils' size runs; install binutils")?;
    if !out.status.success() {
        bail!("size failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse_text_bytes(&String::from_utf8_lossy(&out.stdout))
}

/// The `.text` line of `size -A`'s table: `.text  SIZE  ADDR`.
fn parse_text_bytes(table: &str) -> anyhow::Result<u64> {
    table
        .lines()
        .find_map(|l| {
            let mut cols = l.split_whitespace();
            (cols.next() == Some(".text")).then(|| cols.next()?.parse().ok())?
        })
        .context("size -A printed no .text section")
}

fn report(args: &BindingsArgs, rust_s: f64, c_s: f64, text: u64) {
    let rate = |s: f64| args.count as f64 / s.max(1e-9);
    let ratio = rate(c_s) / rate(rust_s);
    if args.json {
        let v = json!({
            "c_sign_ratio": ratio,
            "target_c_sign_ratio": TARGET_C_SIGN_RATIO,
            "c_sign_per_s": rate(c_s),
            "rust_sign_per_s": rate(rust_s),
            "c_lib_text_bytes": text,
            "py_sign_ratio": null,
            "count": args.count,
            "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        });
        println!("{v}");
        return;
    }
    println!(
        "ting bench bindings: {} transfers signed on one core\n  rust  {:>10.0} /s\n  c     {:>10.0} /s  (libting.a from C, cc -O2)\n  c_sign_ratio {ratio:.3} (target >= {TARGET_C_SIGN_RATIO})\n  c_lib_text_bytes {text} (.text of libting.so for this host)\n  py_sign_ratio: the Python package is not built yet",
        args.count,
        rate(rust_s),
        rate(c_s),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_programs_line_and_sizes_table_parse_and_bad_ones_are_refused() {
        let s = parse_c_seconds("signed 500 in 0.012500000 (checksum 7)\n", 500).expect("parses");
        assert!((s - 0.0125).abs() < 1e-12);
        assert!(parse_c_seconds("signed 499 in 0.1", 500).is_err());
        assert!(parse_c_seconds("signed 500 in 0", 500).is_err());
        assert!(parse_c_seconds("nothing", 500).is_err());
        let table = "libting.so  :\nsection   size   addr\n.text   123456   4096\n.rodata 100 0\n";
        assert_eq!(parse_text_bytes(table).expect("a text"), 123_456);
        assert!(parse_text_bytes(".data 1 2\n").is_err());
    }
}

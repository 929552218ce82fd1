//! `ting bench bindings` (issue 21): transfers signed per second through the
//! C library, from a C program compiled with the system's compiler, and
//! through the Python package, from a Python loop, each over the same
//! signing in Rust in the same run (`c_sign_ratio`, target ≥ 0.8;
//! `py_sign_ratio`, target ≥ 0.5), and the C library's code size
//! (`c_lib_text_bytes`, the `.text` of `libting.so` for this host). Every
//! side signs one transfer after another on one core, and all must sign the
//! same bytes (their checksums agree). Both libraries are built with cargo
//! from the source checkout this binary was built from, in the same
//! profile; `cc`, `size` (binutils) and CPython 3.10+ (`python3`, or
//! `TING_PYTHON`) must be installed.

mod python;

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
/// The target for the Python package: at least this share of Rust's rate.
const TARGET_PY_SIGN_RATIO: f64 = 0.5;

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

/// Seconds one side took to sign, and its checksum.
#[derive(Clone, Copy, Debug)]
struct Signed {
    seconds: f64,
    checksum: u64,
}

pub fn run(args: &BindingsArgs) -> anyhow::Result<()> {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source = checkout.join("crates/ting-c");
    if !source.join("include/ting.h").exists() {
        bail!(
            "ting bench bindings builds the C library and the Python package from the source \
             checkout ting was built from ({}), which is not there",
            checkout.display()
        );
    }
    let lib = build_library(&source)?;
    let dir = super::TempDir::new("bindings")?;
    let exe = compile(&source, &lib.archive, dir.path())?;
    let package = python::build(&checkout, dir.path())?;
    let rust = rust_signed(args.count);
    let c = signed_by(Command::new(&exe), "the C benchmark", args.count)?;
    let py = signed_by(
        python::command(&checkout, &package),
        "the Python benchmark",
        args.count,
    )?;
    for (side, got) in [("C", c), ("Python", py)] {
        if got.checksum != rust.checksum {
            bail!(
                "{side} signed other bytes than Rust: checksum {} against {}",
                got.checksum,
                rust.checksum
            );
        }
    }
    let text = text_bytes(&lib.shared)?;
    report(args, rust, c, py, text);
    Ok(())
}

/// Builds `package`'s library with cargo, in this binary's profile, with
/// `envs`, and answers the paths cargo names for it ending in `suffixes`.
pub(super) fn cargo_artifacts(
    dir: &Path,
    package: &str,
    envs: &[(&str, &str)],
    suffixes: &[&str],
) -> anyhow::Result<Vec<PathBuf>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", package, "--lib", "--message-format=json"])
        .current_dir(dir)
        .envs(envs.iter().copied());
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd
        .output()
        .with_context(|| format!("cargo runs (it builds {package})"))?;
    if !out.status.success() {
        bail!(
            "cargo build -p {package} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    suffixes
        .iter()
        .map(|suffix| {
            text.lines()
                .filter(|l| l.contains("\"compiler-artifact\""))
                .flat_map(|l| l.split('"').map(str::to_owned).collect::<Vec<_>>())
                .find(|part| part.ends_with(suffix))
                .map(PathBuf::from)
                .with_context(|| format!("cargo named no {suffix} among its artifacts"))
        })
        .collect()
}

fn build_library(source: &Path) -> anyhow::Result<Library> {
    let found = cargo_artifacts(source, "ting-c", &[], &["/libting.a", "/libting.so"])?;
    let [archive, shared] = <[PathBuf; 2]>::try_from(found).expect("two suffixes, two paths");
    Ok(Library { archive, shared })
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

/// Signing `count` transfers in Rust, as the C and Python programs sign them.
fn rust_signed(count: u64) -> Signed {
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
    Signed {
        seconds: started.elapsed().as_secs_f64(),
        checksum: std::hint::black_box(checksum),
    }
}

/// Runs `cmd COUNT` and reads what it says it signed.
fn signed_by(mut cmd: Command, what: &str, count: u64) -> anyhow::Result<Signed> {
    let out = cmd
        .arg(count.to_string())
        .output()
        .with_context(|| format!("{what} runs"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "{what} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_signed(&text, count).with_context(|| what.to_owned())
}

/// `signed COUNT in SECONDS (checksum N)`.
fn parse_signed(text: &str, count: u64) -> anyhow::Result<Signed> {
    let mut words = text.split_whitespace();
    let (Some("signed"), Some(n), Some("in"), Some(s), Some("(checksum"), Some(sum)) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        bail!("it printed {text:?}, not `signed N in S (checksum C)`");
    };
    if n.parse::<u64>().ok() != Some(count) {
        bail!("it signed {n} transfers, not {count}");
    }
    let seconds: f64 = s.parse().with_context(|| format!("{s:?} is not seconds"))?;
    if !seconds.is_finite() || seconds <= 0.0 {
        bail!("it took {seconds} s");
    }
    let checksum = sum
        .trim_end_matches(')')
        .parse()
        .with_context(|| format!("{sum:?} is not a checksum"))?;
    Ok(Signed { seconds, checksum })
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

fn report(args: &BindingsArgs, rust: Signed, c: Signed, py: Signed, text: u64) {
    let rate = |s: Signed| args.count as f64 / s.seconds.max(1e-9);
    let c_ratio = rate(c) / rate(rust);
    let py_ratio = rate(py) / rate(rust);
    if args.json {
        let v = json!({
            "c_sign_ratio": c_ratio,
            "target_c_sign_ratio": TARGET_C_SIGN_RATIO,
            "c_sign_per_s": rate(c),
            "py_sign_ratio": py_ratio,
            "target_py_sign_ratio": TARGET_PY_SIGN_RATIO,
            "py_sign_per_s": rate(py),
            "rust_sign_per_s": rate(rust),
            "c_lib_text_bytes": text,
            "count": args.count,
            "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        });
        println!("{v}");
        return;
    }
    println!(
        "ting bench bindings: {} transfers signed on one core, the same bytes on every side\n  \
         rust    {:>10.0} /s\n  \
         c       {:>10.0} /s  (libting.a from C, cc -O2)\n  \
         python  {:>10.0} /s  (the ting package, a Python loop)\n  \
         c_sign_ratio  {c_ratio:.3} (target >= {TARGET_C_SIGN_RATIO})\n  \
         py_sign_ratio {py_ratio:.3} (target >= {TARGET_PY_SIGN_RATIO})\n  \
         c_lib_text_bytes {text} (.text of libting.so for this host)",
        args.count,
        rate(rust),
        rate(c),
        rate(py),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_line_and_sizes_table_parse_and_bad_ones_are_refused() {
        let s = parse_signed("signed 500 in 0.012500000 (checksum 7)\n", 500).expect("parses");
        assert!((s.seconds - 0.0125).abs() < 1e-12);
        assert_eq!(s.checksum, 7);
        assert!(parse_signed("signed 499 in 0.1 (checksum 7)", 500).is_err());
        assert!(parse_signed("signed 500 in 0 (checksum 7)", 500).is_err());
        assert!(parse_signed("signed 500 in 0.1", 500).is_err());
        assert!(parse_signed("signed 500 in 0.1 (checksum x)", 500).is_err());
        assert!(parse_signed("nothing", 500).is_err());
        let table = "libting.so  :\nsection   size   addr\n.text   123456   4096\n.rodata 100 0\n";
        assert_eq!(parse_text_bytes(table).expect("a text"), 123_456);
        assert!(parse_text_bytes(".data 1 2\n").is_err());
    }
}

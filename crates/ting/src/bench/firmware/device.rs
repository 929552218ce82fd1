//! The check crate (`crates/ting-device-check`) built with cargo and run:
//! its `measure` report (heap and stack per operation) and callgrind's
//! instruction count of `run OP N` less that of `run none N`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, ensure, Context};

/// The bare-metal target the code size is read for (a Cortex-M4F).
pub const TARGET: &str = "thumbv7em-none-eabihf";
/// The second bare-metal target: a RISC-V core like the ESP32-C3's.
pub const RISCV_TARGET: &str = "riscv32imc-unknown-none-elf";
/// The check crate, in the source tree this binary was built from.
const CHECK_CRATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ting-device-check");
/// The workspace's target directory when `CARGO_TARGET_DIR` is not set.
const DEFAULT_TARGET_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target");
/// Forces curve25519-dalek's 32-bit field arithmetic on a 64-bit host.
const BITS_32: &str = "--cfg curve25519_dalek_bits=\"32\"";
const COMPACT_SHA2: &str = "--cfg sha2_backend_soft=\"compact\"";

/// The tools every step needs, found (never installed) before anything is built.
#[derive(Debug)]
pub struct Toolchain {
    cargo: OsString,
    check_crate: PathBuf,
    target_dir: PathBuf,
    /// `rustc --version`.
    pub rustc: String,
    /// The host triple, from `rustc -vV`.
    pub host: String,
    /// `valgrind --version`.
    pub valgrind: String,
}

/// One build of the check binary.
#[derive(Debug, Clone, Copy)]
pub struct Build<'a> {
    /// A bare-metal target (the image only links), or `None` for this host
    /// (it runs).
    pub target: Option<&'static str>,
    /// The one operation it holds (`sign_tx`), `none` (no operation: what
    /// every image carries), or all of them.
    pub op: Option<&'a str>,
    pub tables: bool,
    /// With curve25519-dalek's 32-bit backend forced (host builds only).
    pub bits32: bool,
    /// With SHA-2's compact software backend (`sha2_backend_soft =
    /// "compact"`): rounds in a loop, not unrolled.
    pub compact_sha2: bool,
}

/// What one operation took in `ting-device-check measure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpUse {
    pub name: String,
    pub heap_peak_bytes: u64,
    pub allocations: u64,
    pub stack_bytes: u64,
}

impl Toolchain {
    pub fn find() -> anyhow::Result<Toolchain> {
        let check_crate = PathBuf::from(CHECK_CRATE);
        ensure!(
            check_crate.join("Cargo.toml").is_file(),
            "ting bench firmware builds crates/ting-device-check, which is not at {}: \
             it needs a source checkout of Ting and cargo",
            check_crate.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        stdout_of(Command::new(&cargo).arg("--version")).with_context(|| {
            format!(
                "cargo ({}) does not run: ting bench firmware needs cargo",
                cargo.to_string_lossy()
            )
        })?;
        let installed = stdout_of(Command::new("rustup").args(["target", "list", "--installed"]))
            .context("`rustup target list --installed` failed: is rustup installed?")?;
        for target in [TARGET, RISCV_TARGET] {
            ensure!(
                installed.lines().any(|l| l.trim() == target),
                "the {target} target is not installed: run `rustup target add {target}`"
            );
        }
        let valgrind = stdout_of(Command::new("valgrind").arg("--version"))
            .context("valgrind is not installed: run `apt-get install valgrind`")?;
        let rustc_cmd = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let verbose = stdout_of(Command::new(&rustc_cmd).arg("-vV"))?;
        let field = |key: &str| {
            verbose
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_owned())
        };
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| PathBuf::from(DEFAULT_TARGET_DIR), PathBuf::from);
        Ok(Toolchain {
            cargo,
            check_crate,
            target_dir,
            rustc: verbose.lines().next().unwrap_or_default().to_owned(),
            host: field("host:").unwrap_or_default(),
            valgrind: valgrind.trim().to_owned(),
        })
    }

    /// Builds the check binary (release) and answers its path.
    pub fn build(&self, b: Build<'_>) -> anyhow::Result<PathBuf> {
        let mut name = String::from("device-check");
        let mut rustflags = Vec::new();
        if b.bits32 {
            name.push_str("-32");
            rustflags.push(BITS_32);
        }
        if b.compact_sha2 {
            name.push_str("-compact");
            rustflags.push(COMPACT_SHA2);
        }
        let dir = self.target_dir.join(name);
        let mut cmd = Command::new(&self.cargo);
        cmd.args([
            "build",
            "--release",
            "--locked",
            "--quiet",
            "--manifest-path",
        ])
        .arg(self.check_crate.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
        if let Some(target) = b.target {
            cmd.args(["--target", target]);
        }
        let mut features = Vec::new();
        if let Some(op) = b.op {
            cmd.arg("--no-default-features");
            if op != "none" {
                features.push(format!("op-{}", op.replace('_', "-")));
            }
        }
        if b.tables {
            features.push("precomputed-tables".to_owned());
        }
        if !features.is_empty() {
            cmd.args(["--features", &features.join(",")]);
        }
        if !rustflags.is_empty() {
            let flags = std::env::var("RUSTFLAGS").unwrap_or_default();
            cmd.env(
                "RUSTFLAGS",
                format!("{flags} {}", rustflags.join(" ")).trim(),
            );
        }
        let out = cmd.output().context("cargo did not start")?;
        ensure!(
            out.status.success(),
            "building ting-device-check ({}) failed:\n{}",
            describe(b),
            tail(&out.stderr)
        );
        let mut bin = dir;
        if let Some(target) = b.target {
            bin.push(target);
        }
        bin.push("release/ting-device-check");
        ensure!(bin.is_file(), "cargo built no {}", bin.display());
        Ok(bin)
    }
}

/// A build in a few words, for progress and errors.
pub fn describe(b: Build<'_>) -> String {
    let mut text = format!(
        "{}, {}",
        b.op.unwrap_or("all ops"),
        b.target.unwrap_or("host")
    );
    for (on, what) in [
        (b.tables, ", precomputed tables"),
        (b.bits32, ", 32-bit field backend"),
        (b.compact_sha2, ", compact SHA-2"),
    ] {
        if on {
            text.push_str(what);
        }
    }
    text
}

/// Runs `bin measure`: one line per operation, each of which must succeed.
pub fn measure(bin: &Path) -> anyhow::Result<Vec<OpUse>> {
    let out = Command::new(bin)
        .arg("measure")
        .output()
        .with_context(|| format!("{} did not start", bin.display()))?;
    let uses = parse_measure(&String::from_utf8_lossy(&out.stdout))?;
    ensure!(
        out.status.success(),
        "ting-device-check measure failed ({}):\n{}",
        out.status,
        tail(&out.stderr)
    );
    Ok(uses)
}

/// Parses `op NAME ok 1 heap_peak_bytes N allocations N stack_bytes N` lines.
pub fn parse_measure(text: &str) -> anyhow::Result<Vec<OpUse>> {
    let uses = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_measure_line)
        .collect::<anyhow::Result<Vec<_>>>()?;
    ensure!(
        !uses.is_empty(),
        "ting-device-check measure printed no operation"
    );
    Ok(uses)
}

fn parse_measure_line(line: &str) -> anyhow::Result<OpUse> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (name, pairs) = match words.as_slice() {
        ["op", name, rest @ ..] if rest.len() % 2 == 0 => (*name, rest),
        _ => bail!("not a `measure` line (`op NAME key value ...`): {line:?}"),
    };
    let field = |key: &str| -> anyhow::Result<u64> {
        let value = pairs
            .chunks(2)
            .find(|kv| kv[0] == key)
            .with_context(|| format!("no `{key}` in the `measure` line {line:?}"))?[1];
        value
            .parse()
            .with_context(|| format!("`{key} {value}` is not a count in {line:?}"))
    };
    ensure!(
        field("ok")? == 1,
        "operation {name} failed in ting-device-check (ok 0): {line:?}"
    );
    Ok(OpUse {
        name: name.to_owned(),
        heap_peak_bytes: field("heap_peak_bytes")?,
        allocations: field("allocations")?,
        stack_bytes: field("stack_bytes")?,
    })
}

/// Instructions per operation: `(Ir(op, n) - Ir(none, n)) / n` under
/// callgrind, for each of `ops`, with `n = count`, except for `tick_pay`:
/// the payer keeps a window of 64 ticks and refills it every 64 payments, so
/// its `n` is `count` rounded up to a multiple of 64, and the figure is the
/// steady cost of a tick with the refills shared out. `scratch` holds the
/// output files.
pub fn instructions(
    bin: &Path,
    ops: &[String],
    count: u32,
    scratch: &Path,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut bases = BTreeMap::new();
    ops.iter()
        .map(|op| {
            let n = calls_for(op, count);
            let base = match bases.get(&n) {
                Some(base) => *base,
                None => {
                    let base = callgrind_ir(bin, "none", n, scratch)?;
                    bases.insert(n, base);
                    base
                }
            };
            let ir = callgrind_ir(bin, op, n, scratch)?;
            let more = ir.checked_sub(base).with_context(|| {
                format!("callgrind counted fewer instructions for {op} ({ir}) than for the fixtures alone ({base})")
            })?;
            Ok((op.clone(), more / u64::from(n)))
        })
        .collect()
}

/// The payer's tick window (`TickSource`): 64 ticks for a chain of 4,096.
const TICK_WINDOW: u32 = 64;

/// How many calls of `op` callgrind counts.
pub fn calls_for(op: &str, count: u32) -> u32 {
    if op == "tick_pay" {
        count.div_ceil(TICK_WINDOW).saturating_mul(TICK_WINDOW)
    } else {
        count
    }
}

fn callgrind_ir(bin: &Path, op: &str, count: u32, scratch: &Path) -> anyhow::Result<u64> {
    let file = scratch.join(format!("callgrind.{op}.out"));
    let mut out_arg = OsString::from("--callgrind-out-file=");
    out_arg.push(&file);
    let out = Command::new("valgrind")
        .args(["--tool=callgrind"])
        .arg(out_arg)
        .arg(bin)
        .args(["run", op, &count.to_string()])
        .output()
        .context("valgrind did not start")?;
    ensure!(
        out.status.success(),
        "callgrind run of `ting-device-check run {op} {count}` failed ({}):\n{}",
        out.status,
        tail(&out.stderr)
    );
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("reading callgrind's output {}", file.display()))?;
    parse_callgrind_ir(&text).with_context(|| format!("in {}", file.display()))
}

/// The instruction count (`Ir`) of a callgrind output file: its `totals:`
/// line, or failing that its `summary:` line, at the column `events:` gives `Ir`.
pub fn parse_callgrind_ir(text: &str) -> anyhow::Result<u64> {
    let line = |key: &str| text.lines().find_map(|l| l.strip_prefix(key));
    let column = match line("events:") {
        Some(events) => events
            .split_whitespace()
            .position(|e| e == "Ir")
            .with_context(|| format!("callgrind counted no Ir (events:{events})"))?,
        None => 0,
    };
    let (key, values) = match (line("totals:"), line("summary:")) {
        (Some(v), _) => ("totals:", v),
        (None, Some(v)) => ("summary:", v),
        (None, None) => bail!("no `totals:` or `summary:` line in callgrind's output"),
    };
    let value = values
        .split_whitespace()
        .nth(column)
        .with_context(|| format!("`{key}{values}` has no count at the Ir column {column}"))?;
    value
        .parse()
        .with_context(|| format!("`{key}{values}`: {value:?} is not an instruction count"))
}

fn stdout_of(cmd: &mut Command) -> anyhow::Result<String> {
    let out: Output = cmd.output()?;
    ensure!(
        out.status.success(),
        "{:?} failed ({}): {}",
        cmd,
        out.status,
        tail(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last lines of a tool's stderr, enough to see why it failed.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_measure_lines_parse_and_a_failed_op_stops_the_run() {
        let text = "op keypair ok 1 heap_peak_bytes 0 allocations 0 stack_bytes 1840\n\
                    op seal ok 1 heap_peak_bytes 1200 allocations 3 stack_bytes 5120\n";
        let uses = parse_measure(text).unwrap();
        assert_eq!(uses.len(), 2);
        assert_eq!(
            uses[1],
            OpUse {
                name: "seal".into(),
                heap_peak_bytes: 1200,
                allocations: 3,
                stack_bytes: 5120,
            }
        );
        let err = |t: &str| parse_measure(t).unwrap_err().to_string();
        assert!(
            err("op seal ok 0 heap_peak_bytes 0 allocations 0 stack_bytes 1")
                .contains("seal failed")
        );
        assert!(err("").contains("no operation"));
        assert!(err("panic: oops").contains("not a `measure` line"));
        assert!(err("op seal ok 1 heap_peak_bytes 0 allocations 0").contains("no `stack_bytes`"));
        assert!(
            err("op seal ok 1 heap_peak_bytes x allocations 0 stack_bytes 1")
                .contains("`heap_peak_bytes x` is not a count")
        );
        assert!(err("op seal ok 1 heap_peak_bytes").contains("not a `measure` line"));
    }

    #[test]
    fn firmware_callgrind_totals_parse_and_malformed_ones_are_refused() {
        let out = "version: 1\ncreator: callgrind-3.22.0\nevents: Ir\n\
                   fn=main\n1 5\nsummary: 123456\n\ntotals: 123456\n";
        assert_eq!(parse_callgrind_ir(out).unwrap(), 123_456);
        // Only a summary line; several events, Ir the second.
        assert_eq!(
            parse_callgrind_ir("events: Dr Ir\nsummary: 7 42\n").unwrap(),
            42
        );
        let err = |t: &str| format!("{:#}", parse_callgrind_ir(t).unwrap_err());
        assert!(err("events: Ir\nfn=main\n").contains("no `totals:` or `summary:`"));
        assert!(err("events: Ir\ntotals: lots\n").contains("\"lots\" is not an instruction count"));
        assert!(err("events: Ir\ntotals:\n").contains("has no count"));
        assert!(err("events: Dr\ntotals: 5\n").contains("no Ir"));
    }
}

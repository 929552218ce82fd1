//! `ting bench firmware`: what the device operations cost a microcontroller,
//! measured on the no_std check binary (`crates/ting-device-check`), and what
//! signing a transfer costs against the ceiling, one bare Ed25519 signature.
//!
//! For every operation alone, for none (what every image carries: the
//! runtime, the device's key and its channel state) and for all of them
//! together: the code size of the release image for `thumbv7em-none-eabihf`
//! (a Cortex-M4F; opt-level "s", LTO, panic = abort), read from its ELF
//! sections (`.text`, `.rodata`, and flash: every allocated section with
//! contents), three ways: as built by default, with curve25519-dalek's
//! precomputed tables, and with SHA-2's compact backend (rounds in a loop).
//! An operation's own code is its image less the image of none. The image of
//! all operations is also built for `riscv32imc-unknown-none-elf`. From a host build of the same
//! binary: peak heap, allocations and peak stack of one call (`measure`), and
//! instructions per call counted by callgrind (`run OP N` less `run none N`,
//! over N), with curve25519-dalek's 32-bit field backend forced as a proxy for
//! a 32-bit chip (as built, with tables, with compact SHA-2), and with the
//! host's 64-bit one.
//!
//! Then, in this process with the std ting-core, the time per operation on
//! this machine (see `timing`), with `sign_overhead_ratio`: signing a transfer
//! into a buffer over a bare `ed25519-zebra` signature of a message as long,
//! taken round by round in the same run.
//!
//! It builds the check crate with cargo (50 small release builds with LTO,
//! about three minutes on two cores the first time; later runs reuse the
//! target directory's `device-check*` subdirectories)
//! and runs valgrind; it installs nothing, and stops saying what is missing.

mod device;
mod elf;
mod timing;

use super::stats::round;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Map, Value};

use self::device::{Build, OpUse, Toolchain, RISCV_TARGET, TARGET};
use self::elf::Footprint;
use self::timing::Timing;
use super::TempDir;

#[derive(Debug, Args)]
pub struct FirmwareArgs {
    /// Calls of each operation under callgrind (the fixtures' own count is subtracted).
    #[arg(long, default_value_t = 16)]
    pub calls: u32,
    /// Rounds of the timing figures; each figure is the median over them.
    #[arg(long, default_value_t = 9)]
    pub rounds: usize,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// Flash of one image: as built, with the precomputed tables, and with
/// SHA-2's compact backend.
#[derive(Debug, Clone, Copy, Default)]
struct Sizes {
    plain: Footprint,
    tables: Footprint,
    compact: Footprint,
}

/// Everything measured of one operation.
#[derive(Debug)]
struct OpFigures {
    usage: OpUse,
    sizes: Sizes,
    ir32: u64,
    ir32_tables: u64,
    ir32_compact: u64,
    ir64: u64,
}

#[derive(Debug)]
struct Report {
    tools: Toolchain,
    all: Sizes,
    baseline: Sizes,
    /// All operations for the RISC-V target: as built, and with compact SHA-2.
    riscv: (Footprint, Footprint),
    ops: Vec<OpFigures>,
    timing: Timing,
    calls: u32,
    rounds: usize,
    elapsed: Duration,
}

pub fn run(args: &FirmwareArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.calls > 0, "--calls must be at least 1");
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let started = Instant::now();
    let tools = Toolchain::find()?;
    let scratch = TempDir::new("firmware")?;
    let host = build(&tools, host_build(false, false, false))?;
    progress("running `measure` (heap and stack per operation)");
    let uses = device::measure(&host)?;
    let names: Vec<String> = uses.iter().map(|u| u.name.clone()).collect();
    let counted = |tables, bits32, compact_sha2, what| -> anyhow::Result<_> {
        let bin = build(&tools, host_build(tables, bits32, compact_sha2))?;
        count(&bin, &names, args.calls, scratch.path(), what)
    };
    let ir64 = counted(false, false, false, "64-bit backend")?;
    let ir32 = counted(false, true, false, "32-bit backend")?;
    let ir32_tables = counted(true, true, false, "32-bit, tables")?;
    let ir32_compact = counted(false, true, true, "32-bit, compact SHA-2")?;
    let all = sizes(&tools, None)?;
    let baseline = sizes(&tools, Some("none"))?;
    let riscv = (
        footprint(&tools, bare_build(RISCV_TARGET, None, false, false))?,
        footprint(&tools, bare_build(RISCV_TARGET, None, false, true))?,
    );
    let mut ops = Vec::with_capacity(uses.len());
    for usage in uses {
        let name = usage.name.clone();
        ops.push(OpFigures {
            sizes: sizes(&tools, Some(&name))?,
            ir32: ir32[&name],
            ir32_tables: ir32_tables[&name],
            ir32_compact: ir32_compact[&name],
            ir64: ir64[&name],
            usage,
        });
    }
    progress(&format!("timing in process ({} rounds)", args.rounds));
    let timing = timing::measure(args.rounds, Duration::from_millis(100))?;
    let report = Report {
        tools,
        all,
        baseline,
        riscv,
        ops,
        timing,
        calls: args.calls,
        rounds: args.rounds,
        elapsed: started.elapsed(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn progress(what: &str) {
    eprintln!("bench firmware: {what}");
}

fn build(tools: &Toolchain, b: Build<'_>) -> anyhow::Result<std::path::PathBuf> {
    progress(&format!(
        "building ting-device-check ({})",
        device::describe(b)
    ));
    tools.build(b)
}

/// A host build of all operations, to run.
fn host_build(tables: bool, bits32: bool, compact_sha2: bool) -> Build<'static> {
    Build {
        target: None,
        op: None,
        tables,
        bits32,
        compact_sha2,
    }
}

fn bare_build<'a>(
    target: &'static str,
    op: Option<&'a str>,
    tables: bool,
    compact_sha2: bool,
) -> Build<'a> {
    Build {
        target: Some(target),
        op,
        tables,
        bits32: false,
        compact_sha2,
    }
}

fn footprint(tools: &Toolchain, b: Build<'_>) -> anyhow::Result<Footprint> {
    let bin = build(tools, b)?;
    let bytes = std::fs::read(&bin)?;
    elf::footprint(&bytes).map_err(|e| e.context(format!("reading {}", bin.display())))
}

fn count(
    bin: &Path,
    names: &[String],
    calls: u32,
    scratch: &Path,
    what: &str,
) -> anyhow::Result<BTreeMap<String, u64>> {
    progress(&format!(
        "counting instructions under callgrind ({what}, {calls} calls each)"
    ));
    device::instructions(bin, names, calls, scratch)
}

/// The Cortex-M4F image of `op` (or of all ops): as built, with tables, and
/// with compact SHA-2.
fn sizes(tools: &Toolchain, op: Option<&str>) -> anyhow::Result<Sizes> {
    Ok(Sizes {
        plain: footprint(tools, bare_build(TARGET, op, false, false))?,
        tables: footprint(tools, bare_build(TARGET, op, true, false))?,
        compact: footprint(tools, bare_build(TARGET, op, false, true))?,
    })
}

fn sizes_json(s: &Sizes, into: &mut Map<String, Value>) {
    for (suffix, f) in [
        ("", s.plain),
        ("_tables", s.tables),
        ("_compact_sha2", s.compact),
    ] {
        footprint_json(suffix, f, into);
    }
}

fn footprint_json(suffix: &str, f: Footprint, into: &mut Map<String, Value>) {
    into.insert(format!("text_bytes{suffix}"), f.text.into());
    into.insert(format!("rodata_bytes{suffix}"), f.rodata.into());
    into.insert(format!("flash_bytes{suffix}"), f.flash.into());
}

/// An operation's own flash: its image less the image of no operation.
fn own(op: &Sizes, baseline: &Sizes) -> [u64; 3] {
    [
        op.plain.flash.saturating_sub(baseline.plain.flash),
        op.tables.flash.saturating_sub(baseline.tables.flash),
        op.compact.flash.saturating_sub(baseline.compact.flash),
    ]
}

fn report_json(r: &Report) -> Value {
    let t = &r.timing;
    let mut ops = Map::new();
    for op in &r.ops {
        let mut o = Map::new();
        sizes_json(&op.sizes, &mut o);
        let [plain, tables, compact] = own(&op.sizes, &r.baseline);
        o.insert("own_flash_bytes".into(), plain.into());
        o.insert("own_flash_bytes_tables".into(), tables.into());
        o.insert("own_flash_bytes_compact_sha2".into(), compact.into());
        o.insert("heap_peak_bytes".into(), op.usage.heap_peak_bytes.into());
        o.insert("allocations".into(), op.usage.allocations.into());
        o.insert("stack_bytes".into(), op.usage.stack_bytes.into());
        o.insert("instructions_32bit_host_proxy".into(), op.ir32.into());
        o.insert(
            "instructions_32bit_host_proxy_tables".into(),
            op.ir32_tables.into(),
        );
        o.insert(
            "instructions_32bit_host_proxy_compact_sha2".into(),
            op.ir32_compact.into(),
        );
        o.insert("instructions_64bit_host".into(), op.ir64.into());
        ops.insert(op.usage.name.clone(), Value::Object(o));
    }
    let mut v = json!({
        "target": TARGET,
        "profile": "release, opt-level \"s\", lto, codegen-units 1, panic = abort",
        "toolchain": r.tools.rustc,
        "host": r.tools.host,
        "valgrind": r.tools.valgrind,
        "instructions_method": format!(
            "callgrind Ir on {}: (run OP {n} - run none {n}) / {n} (tick_pay: n = {t}, whole windows of the payer's tick cache); 32-bit = curve25519_dalek_bits=\"32\", a host proxy for small chips, not their cycle count",
            r.tools.host, n = r.calls, t = device::calls_for("tick_pay", r.calls)
        ),
        "ops": ops,
        "sign_tx_us": round(t.sign_tx_us, 3),
        "verify_receipt_us": round(t.verify_receipt_us, 3),
        "tick_pay_ns": round(t.tick_pay_ns, 1),
        "seal_us": round(t.seal_us, 3),
        "bare_sign_us": round(t.bare_sign_us, 3),
        "sign_overhead_ratio": round(t.sign_overhead_ratio, 4),
        "signed_message_bytes": t.message_bytes,
        "sealed_reading_bytes": timing::READING.len(),
        "timing_rounds": r.rounds,
        "elapsed_s": round(r.elapsed.as_secs_f64(), 1),
    });
    if let Value::Object(top) = &mut v {
        sizes_json(&r.all, top);
        let mut baseline = Map::new();
        sizes_json(&r.baseline, &mut baseline);
        top.insert("no_operation".into(), Value::Object(baseline));
        let mut riscv = Map::new();
        footprint_json("", r.riscv.0, &mut riscv);
        footprint_json("_compact_sha2", r.riscv.1, &mut riscv);
        top.insert(RISCV_TARGET.replace('-', "_"), Value::Object(riscv));
    }
    v
}

fn print_report(r: &Report) {
    println!(
        "ting bench firmware: ting-device-check for {TARGET} (release, opt-level \"s\", LTO), {}",
        r.tools.rustc
    );
    println!(
        "flash bytes (.text in brackets): as built | with the curve's tables | with compact SHA-2"
    );
    let size = |f: Footprint| format!("{} ({})", f.flash, f.text);
    let row = |name: &str, s: &Sizes| {
        println!(
            "  {:<15} {:>15} {:>15} {:>15}",
            name,
            size(s.plain),
            size(s.tables),
            size(s.compact)
        );
    };
    row("all ops", &r.all);
    row("no op", &r.baseline);
    println!(
        "  {:<15} {:>15} {:>15} {:>15}   ({RISCV_TARGET}, all ops)",
        "riscv32imc",
        size(r.riscv.0),
        "",
        size(r.riscv.1)
    );
    println!("each operation: its own flash (image less no op), heap and stack of one call, instructions per call");
    println!(
        "  {:<15} {:>20} {:>7} {:>7} {:>7} {:>10} {:>10} {:>10} {:>10}",
        "op",
        "own flash b|t|c",
        "heap B",
        "allocs",
        "stack B",
        "instr 32b",
        "32b tables",
        "32b compact",
        "instr 64b"
    );
    for op in &r.ops {
        let u = &op.usage;
        let [plain, tables, compact] = own(&op.sizes, &r.baseline);
        println!(
            "  {:<15} {:>20} {:>7} {:>7} {:>7} {:>10} {:>10} {:>10} {:>10}",
            u.name,
            format!("{plain}|{tables}|{compact}"),
            u.heap_peak_bytes,
            u.allocations,
            u.stack_bytes,
            op.ir32,
            op.ir32_tables,
            op.ir32_compact,
            op.ir64
        );
    }
    println!(
        "  instructions: callgrind on {}, per call over {} calls; 32-bit field backend forced = a host proxy for small chips",
        r.tools.host, r.calls
    );
    let t = &r.timing;
    println!(
        "time per operation on this machine (std ting-core, median of {} rounds):",
        r.rounds
    );
    println!(
        "  bare Ed25519 sign  {:>9.2} µs   the ceiling: ed25519-zebra over {} bytes",
        t.bare_sign_us, t.message_bytes
    );
    println!(
        "  sign_tx            {:>9.2} µs   {:.3} × a bare signature (TxBody::sign_into)",
        t.sign_tx_us, t.sign_overhead_ratio
    );
    println!(
        "  verify_receipt     {:>9.2} µs   check_receipt_bytes, block of 64",
        t.verify_receipt_us
    );
    println!(
        "  tick_pay           {:>9.1} ns   Payer::pay_ticks(1), chain of {}",
        t.tick_pay_ns,
        timing::CHAIN_TICKS
    );
    println!(
        "  seal               {:>9.2} µs   HPKE seal of a {}-byte reading",
        t.seal_us,
        timing::READING.len()
    );
    println!("  (whole run {:.0} s)", r.elapsed.as_secs_f64());
}

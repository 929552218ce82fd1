//! `ting bench firmware`: what the device operations cost a microcontroller,
//! measured on the no_std check binary (`crates/ting-device-check`), and what
//! signing a transfer costs against the ceiling, one bare Ed25519 signature.
//!
//! For every operation alone and for all of them together, with and without
//! curve25519-dalek's precomputed tables: the code size of the release image
//! for `thumbv7em-none-eabihf` (a Cortex-M4F; opt-level "s", LTO,
//! panic = abort), read from its ELF sections (`.text`, `.rodata`, and flash:
//! every allocated section with contents). From a host build of the same
//! binary: peak heap, allocations and peak stack of one call (`measure`), and
//! instructions per call counted by callgrind (`run OP N` less `run none N`,
//! over N), with curve25519-dalek's 32-bit field backend forced as a proxy for
//! a 32-bit chip (with and without tables), and with the host's 64-bit one.
//!
//! Then, in this process with the std ting-core, the time per operation on
//! this machine (see `timing`), with `sign_overhead_ratio`: signing a transfer
//! into a buffer over a bare `ed25519-zebra` signature of a message as long,
//! taken round by round in the same run.
//!
//! It builds the check crate with cargo (31 small release builds with LTO,
//! about two minutes on two cores the first time; later runs reuse the
//! target directory's `device-check` and `device-check-32` subdirectories)
//! and runs valgrind; it installs nothing, and stops saying what is missing.

mod device;
mod elf;
mod timing;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Map, Value};

use self::device::{Build, OpUse, Toolchain, TARGET};
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

/// Flash of one image, without and with the precomputed tables.
#[derive(Debug, Clone, Copy, Default)]
struct Sizes {
    plain: Footprint,
    tables: Footprint,
}

/// Everything measured of one operation.
#[derive(Debug)]
struct OpFigures {
    usage: OpUse,
    sizes: Sizes,
    ir32: u64,
    ir32_tables: u64,
    ir64: u64,
}

#[derive(Debug)]
struct Report {
    tools: Toolchain,
    all: Sizes,
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
    let host = build(&tools, false, None, false, false)?;
    progress("running `measure` (heap and stack per operation)");
    let uses = device::measure(&host)?;
    let names: Vec<String> = uses.iter().map(|u| u.name.clone()).collect();
    let ir64 = count(&host, &names, args.calls, scratch.path(), "64-bit backend")?;
    let host32 = build(&tools, false, None, false, true)?;
    let ir32 = count(
        &host32,
        &names,
        args.calls,
        scratch.path(),
        "32-bit backend",
    )?;
    let host32 = build(&tools, false, None, true, true)?;
    let ir32_tables = count(
        &host32,
        &names,
        args.calls,
        scratch.path(),
        "32-bit, tables",
    )?;
    let all = sizes(&tools, None)?;
    let mut ops = Vec::with_capacity(uses.len());
    for usage in uses {
        let name = usage.name.clone();
        ops.push(OpFigures {
            sizes: sizes(&tools, Some(&name))?,
            ir32: ir32[&name],
            ir32_tables: ir32_tables[&name],
            ir64: ir64[&name],
            usage,
        });
    }
    progress(&format!("timing in process ({} rounds)", args.rounds));
    let timing = timing::measure(args.rounds, Duration::from_millis(100))?;
    let report = Report {
        tools,
        all,
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

fn build(
    tools: &Toolchain,
    bare: bool,
    op: Option<&str>,
    tables: bool,
    bits32: bool,
) -> anyhow::Result<std::path::PathBuf> {
    let b = Build {
        bare,
        op,
        tables,
        bits32,
    };
    progress(&format!(
        "building ting-device-check ({})",
        device::describe(b)
    ));
    tools.build(b)
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

/// The bare-metal image of `op` (or of all ops), without and with tables.
fn sizes(tools: &Toolchain, op: Option<&str>) -> anyhow::Result<Sizes> {
    let read = |tables| -> anyhow::Result<Footprint> {
        let bin = build(tools, true, op, tables, false)?;
        let bytes = std::fs::read(&bin)?;
        elf::footprint(&bytes).map_err(|e| e.context(format!("reading {}", bin.display())))
    };
    Ok(Sizes {
        plain: read(false)?,
        tables: read(true)?,
    })
}

fn sizes_json(s: &Sizes, into: &mut Map<String, Value>) {
    for (suffix, f) in [("", s.plain), ("_tables", s.tables)] {
        into.insert(format!("text_bytes{suffix}"), f.text.into());
        into.insert(format!("rodata_bytes{suffix}"), f.rodata.into());
        into.insert(format!("flash_bytes{suffix}"), f.flash.into());
    }
}

fn report_json(r: &Report) -> Value {
    let t = &r.timing;
    let mut ops = Map::new();
    for op in &r.ops {
        let mut o = Map::new();
        sizes_json(&op.sizes, &mut o);
        o.insert("heap_peak_bytes".into(), op.usage.heap_peak_bytes.into());
        o.insert("allocations".into(), op.usage.allocations.into());
        o.insert("stack_bytes".into(), op.usage.stack_bytes.into());
        o.insert("instructions_32bit_host_proxy".into(), op.ir32.into());
        o.insert(
            "instructions_32bit_host_proxy_tables".into(),
            op.ir32_tables.into(),
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
            "callgrind Ir on {}: (run OP {n} - run none {n}) / {n}; 32-bit = curve25519_dalek_bits=\"32\", a host proxy for small chips, not their cycle count",
            r.tools.host, n = r.calls
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
    }
    v
}

fn print_report(r: &Report) {
    println!(
        "ting bench firmware: ting-device-check for {TARGET} (release, opt-level \"s\", LTO), {}",
        r.tools.rustc
    );
    println!(
        "  {:<15} {:>15} {:>15} {:>7} {:>7} {:>7} {:>11} {:>11} {:>11}",
        "op",
        "flash (text)",
        "with tables",
        "heap B",
        "allocs",
        "stack B",
        "instr 32b",
        "32b tables",
        "instr 64b"
    );
    let size = |f: Footprint| format!("{} ({})", f.flash, f.text);
    println!(
        "  {:<15} {:>15} {:>15}",
        "all ops",
        size(r.all.plain),
        size(r.all.tables)
    );
    for op in &r.ops {
        let u = &op.usage;
        println!(
            "  {:<15} {:>15} {:>15} {:>7} {:>7} {:>7} {:>11} {:>11} {:>11}",
            u.name,
            size(op.sizes.plain),
            size(op.sizes.tables),
            u.heap_peak_bytes,
            u.allocations,
            u.stack_bytes,
            op.ir32,
            op.ir32_tables,
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

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

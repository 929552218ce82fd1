//! ting-device-check: every operation a device needs from ting-core, in a
//! `#![no_std]` binary with `panic = "abort"` and nothing of `std` linked.
//!
//! That it links at all is the proof: if any crate in ting-core's tree
//! pulled `std` in, `std`'s panic handler would clash with the one here.
//! On a host (Linux) it also runs the operations and reports, for each, the
//! peak heap, the number of allocations and the peak stack it took; on a
//! bare-metal target (`thumbv7em-none-eabihf`, a Cortex-M4F, or
//! `riscv32imc-unknown-none-elf`, an ESP32-C3-class RISC-V core) it only
//! links, for its code size. `ting bench firmware` builds and measures it;
//! `./scripts/check-no-std` builds it in CI.

#![no_std]
#![no_main]

extern crate alloc;

mod fixtures;
mod heap;
mod ops;

#[cfg(target_os = "linux")]
mod host;

#[cfg(target_os = "none")]
mod bare;

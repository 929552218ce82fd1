//! The bare-metal entry point (`thumbv7em-none-eabihf`, a Cortex-M4F, and
//! `riscv32imc-unknown-none-elf`, a RISC-V core like the ESP32-C3's): the
//! image links every operation so its code size can be read. It is never
//! run: it has no vector table and does not set up `.data` or `.bss`, which
//! a real firmware's runtime does (with its memory layout and its RNG). It
//! only has to prove that the code builds and links with no operating
//! system, and hold each operation's code as a firmware calling it would.

use core::hint::black_box;

use crate::fixtures::Fixtures;
use crate::ops;

/// Without an operating system a panic has nowhere to go: stop here.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut fixtures = Fixtures::new(1);
    // What arrives over the air is unknown to the compiler on a real device.
    let fixtures = black_box(&mut fixtures);
    for op in ops::OPS {
        black_box((op.run)(fixtures, 0));
    }
    loop {
        core::hint::spin_loop();
    }
}

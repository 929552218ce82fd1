//! The bare-metal entry point (`thumbv7em-none-eabihf`, a Cortex-M4F, and
//! `riscv32imc-unknown-none-elf`, a RISC-V core like the ESP32-C3's): the
//! image links every operation so its code size can be read, and runs them
//! once from reset. A real firmware brings its own runtime (vector table,
//! memory layout, RNG); this one only has to prove the code builds and links
//! with no operating system.

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
    for op in ops::OPS {
        black_box((op.run)(&mut fixtures, 0));
    }
    loop {
        core::hint::spin_loop();
    }
}

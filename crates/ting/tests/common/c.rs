//! C programs against libting: the library built with cargo (the tests of
//! this package build only what Rust links), and an example compiled with
//! the system's C compiler, warnings as errors.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The C library's source: crates/ting-c.
pub fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ting-c")
}

/// Builds libting.a with cargo and says where it is.
pub fn static_lib() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "-p", "ting-c", "--lib", "--message-format=json"])
        .current_dir(source())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build -p ting-c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"compiler-artifact\""))
        .flat_map(|l| l.split('"').map(str::to_owned).collect::<Vec<_>>())
        .find(|part| part.ends_with("/libting.a"))
        .map(PathBuf::from)
        .expect("cargo names libting.a among its artifacts")
}

/// `crates/ting-c/examples/NAME.c` compiled into `dir`, linked with libting.a.
pub fn compile(name: &str, dir: &Path) -> PathBuf {
    let lib = static_lib();
    let exe = dir.join(name);
    let out = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(source().join(format!("examples/{name}.c")))
        .arg("-I")
        .arg(source().join("include"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm"])
        .output()
        .expect("the system's C compiler (cc) runs: scripts/test installs gcc");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// The value of the line `NAME VALUE` a C example printed.
pub fn line(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no line {name} in:\n{stdout}"))
        .to_owned()
}

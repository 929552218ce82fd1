//! The Python side of `ting bench bindings`: the package built from the
//! checkout (the extension with cargo, as maturin builds it, beside the
//! package's Python files in a temporary directory) and its benchmark
//! script run by CPython (`TING_PYTHON`, else `python3`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// Builds the package into `dir/python/ting`; answers `dir/python`.
pub fn build(checkout: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let source = checkout.join("bindings/python");
    // As maturin builds it: an extension module, not linked to libpython.
    let envs = [("PYO3_BUILD_EXTENSION_MODULE", "1")];
    let found = super::cargo_artifacts(&source, "ting-py", &envs, &["/lib_native.so"])?;
    let root = dir.join("python");
    let package = root.join("ting");
    std::fs::create_dir_all(&package)?;
    let python_source = source.join("python/ting");
    for entry in std::fs::read_dir(&python_source)
        .with_context(|| format!("read {}", python_source.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "py") {
            let name = path.file_name().expect("a file in a directory");
            std::fs::copy(&path, package.join(name))?;
        }
    }
    std::fs::copy(&found[0], package.join("_native.abi3.so"))
        .context("copy the extension module")?;
    Ok(root)
}

/// The command that runs the benchmark script on the package in `root`.
pub fn command(checkout: &Path, root: &Path) -> Command {
    let python = std::env::var("TING_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut cmd = Command::new(python);
    cmd.arg(checkout.join("bindings/python/bench/bench_sign.py"))
        .env("PYTHONPATH", root)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

//! Writes the C header for this crate's exported functions into `OUT_DIR`
//! with cbindgen. The header the library ships is `include/ting.h`; a test
//! (`tests/header.rs`) checks it is this one, and `scripts/c-header` copies
//! this one over it after a change.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config =
        cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).expect("cbindgen.toml reads");
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("the C header generates")
        .write_to_file(format!("{out}/ting.h"));
}

//! `ting bench bindings` end to end, scaled down: the real binary builds the
//! C library and the Python package, compiles the C benchmark with the
//! system's compiler, signs with C, Python and Rust (the same bytes: the
//! bench fails otherwise), and prints one JSON object whose figures are all
//! there. Rates are a debug build's; only what must hold on any machine is
//! checked.

#[path = "common/bench.rs"]
mod bench;

#[test]
fn the_bindings_benchmark_signs_through_c_python_and_rust_and_prints_every_figure() {
    let report = bench::run(&["bench", "bindings", "--count", "300", "--json"]);
    let number = |key: &str| bench::number(&report, key);
    for key in [
        "c_sign_ratio",
        "c_sign_per_s",
        "py_sign_ratio",
        "py_sign_per_s",
        "rust_sign_per_s",
        "c_lib_text_bytes",
    ] {
        assert!(number(key) > 0.0, "{key} in {report}");
    }
    assert_eq!(number("target_c_sign_ratio"), 0.8);
    assert_eq!(number("target_py_sign_ratio"), 0.5);
    assert_eq!(number("count"), 300.0);
    let ratio = number("c_sign_per_s") / number("rust_sign_per_s");
    assert!((ratio - number("c_sign_ratio")).abs() < 1e-9, "{report}");
    let ratio = number("py_sign_per_s") / number("rust_sign_per_s");
    assert!((ratio - number("py_sign_ratio")).abs() < 1e-9, "{report}");
}

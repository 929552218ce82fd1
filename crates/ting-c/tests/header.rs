//! The header the library ships (`include/ting.h`) is the one cbindgen
//! makes from the code now (`build.rs` writes it into `OUT_DIR`). After a
//! change to the exported functions, `scripts/c-header` writes it again.

#[test]
fn the_shipped_header_is_the_one_the_code_makes() {
    let made = include_str!(concat!(env!("OUT_DIR"), "/ting.h"));
    let shipped = include_str!("../include/ting.h");
    assert!(
        made == shipped,
        "crates/ting-c/include/ting.h is out of date: run scripts/c-header"
    );
}

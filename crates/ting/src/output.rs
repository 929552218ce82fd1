//! Printing results: a human line by default, the JSON itself with `--json`.

use serde_json::Value;

pub fn print_value(v: &Value, json_out: bool, human: impl FnOnce(&Value) -> String) {
    if json_out {
        println!("{v}");
    } else {
        println!("{}", human(v));
    }
}

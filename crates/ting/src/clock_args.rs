//! `ting node --max-clock-step` and `--clock-speed`: the ledger clock a node
//! runs on, checked before anything is written (docs/operations.md, "Time").

use std::sync::Arc;

use ting_node::NodeConfig;

use crate::failure::bad_input;

/// `--max-clock-step` and `--clock-speed`, checked.
#[derive(Debug)]
pub struct ClockOptions {
    max_step: Option<(String, std::time::Duration)>,
    speed: Option<u32>,
}

impl ClockOptions {
    /// `--max-clock-step` and `--clock-speed` as given, checked before
    /// anything is written.
    pub fn parse(max_step: Option<&str>, speed: Option<u32>) -> anyhow::Result<ClockOptions> {
        let max_step = match max_step {
            None => None,
            Some(text) => {
                let ms = crate::channel_cmd::parse_duration_ms(text).map_err(|e| {
                    bad_input("bad_max_clock_step", format!("--max-clock-step: {e}"))
                })?;
                if ms == 0 {
                    return Err(bad_input(
                        "bad_max_clock_step",
                        "--max-clock-step must be more than 0",
                    ));
                }
                Some((text.to_owned(), std::time::Duration::from_millis(ms)))
            }
        };
        Ok(ClockOptions { max_step, speed })
    }

    /// Puts the clock into `cfg`; says loudly when the bound on its jumps is
    /// not the default.
    pub fn apply(&self, cfg: &mut NodeConfig) {
        if let Some((text, step)) = &self.max_step {
            cfg.max_clock_step = *step;
            eprintln!(
                "ting node: WARNING: --max-clock-step {text}: the clock may jump up to {text} either way between blocks and ledger time follows it (default {} s)",
                ting_node::clock::MAX_CLOCK_STEP_DEFAULT.as_secs()
            );
        }
        if let Some(speed) = self.speed {
            cfg.clock = Arc::new(ting_node::clock::ScaledClock::new(
                ting_node::clock::now(),
                speed,
            ));
            eprintln!(
                "ting node: ledger time runs {speed} times faster than real time (--clock-speed)"
            );
        }
    }
}

//! `ting market buy`'s arguments: what the buyer needs (a `Need`) and its
//! owner's policy (a `Policy`), checked whole before a device starts.
//!
//! The release rule follows from the flags: `--require` rules make an
//! evidence rule, signed by `--evidence-from` (the buyer itself unless
//! named); `--release arbiter` with `--arbiter` lets the arbiter release
//! it; otherwise the payer's word does. An `--arbiter` always decides
//! disputes. Running the buyer is [`super::buy_run`].

use clap::Args;
use ting_agent::market::{Need, Policy};
use ting_core::limits::{
    CALL_ROUNDS_MAX, CALL_SPEC_BYTES_MAX, CALL_WINDOW_MS_MAX, HOLD_DEADLINE_MAX_MS,
    HOLD_GRACE_MS_MAX,
};
use ting_core::market::ReleaseRule;
use ting_core::{AccountId, Amount};

use super::{parse, DeviceArgs};
use crate::failure::bad_input;
use crate::kinds::parse_id;

#[derive(Debug, Args)]
pub struct BuyArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// What service: a dotted category, such as water.cartridge.replace.
    #[arg(long)]
    pub category: String,
    /// Where it is needed: a geohash such as u4pruydq (empty for anywhere).
    #[arg(long)]
    pub area: String,
    /// What exactly, in words (up to 512 bytes); the provider sees it with the job.
    #[arg(long, default_value = "")]
    pub spec: String,
    /// The most it pays, in base units.
    #[arg(long)]
    pub max_price: u64,
    /// When the service is due at the latest, from now, such as 4h (at most 366d).
    #[arg(long)]
    pub deliver_within: String,
    /// How long proposals are taken, such as 10s (at most 1d).
    #[arg(long, default_value = "10s")]
    pub answer_within: String,
    /// How long after the deadline evidence may still land before the money can be taken back
    /// (at most 7d).
    #[arg(long, default_value = "1h")]
    pub grace: String,
    /// Counter-offer rounds the buyer may start (0 to 4; 1 when --target-price is given).
    #[arg(long)]
    pub rounds: Option<u8>,
    /// Counter-offer when the best proposal asks more than this.
    #[arg(long)]
    pub target_price: Option<u64>,
    /// Providers with a record must score at least this in the category: 50% or 500000 (ppm).
    #[arg(long)]
    pub min_score: Option<String>,
    /// The most paid to a provider with no record yet (default: --max-price).
    #[arg(long)]
    pub newcomer_max: Option<u64>,
    /// The device whose signed evidence releases the hold (did:key or hex; default: this one).
    #[arg(long, value_name = "ID")]
    pub evidence_from: Option<String>,
    /// What the evidence must show: NAME=TEXT, NAME>=N or NAME<=N; repeat for each (up to 8).
    #[arg(long = "require", value_name = "RULE")]
    pub requires: Vec<String>,
    /// Who decides a dispute (did:key or hex); without one the hold cannot be disputed.
    #[arg(long, value_name = "ID")]
    pub arbiter: Option<String>,
    /// How the hold is released: evidence (the default with --require), arbiter,
    /// or payer (the default otherwise).
    #[arg(long, value_name = "RULE")]
    pub release: Option<String>,
    /// When to stop: accepted (the provider took the job on) or released (the hold ended).
    #[arg(long, default_value = "accepted", value_name = "WHEN")]
    pub wait: String,
    /// How long the chosen provider has to accept the hold, such as 60s (at most 1d).
    #[arg(long, default_value = "60s")]
    pub accept_within: String,
}

/// When `buy` stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    Accepted,
    Released,
}

/// A checked `buy`.
#[derive(Debug)]
pub struct Plan {
    pub need: Need,
    pub policy: Policy,
    pub wait: Wait,
    pub accept_within_ms: u64,
}

fn rule(a: &BuyArgs, me: &AccountId, arbiter: Option<AccountId>) -> anyhow::Result<ReleaseRule> {
    let conflict = |why: &str| bad_input("bad_release", why.to_owned());
    let kind = match a.release.as_deref() {
        Some(k) => k,
        None if a.requires.is_empty() => "payer",
        None => "evidence",
    };
    if a.evidence_from.is_some() && kind != "evidence" {
        return Err(conflict(
            "--evidence-from names who signs the evidence that --require \
            asks for: give --require too",
        ));
    }
    match kind {
        "evidence" if a.requires.is_empty() => Err(conflict(
            "an evidence rule needs what the evidence must show: --require \
                NAME=TEXT, NAME>=N or NAME<=N",
        )),
        "evidence" => {
            let device = match &a.evidence_from {
                Some(d) => parse_id("--evidence-from", d)?,
                None => *me,
            };
            Ok(ReleaseRule::Evidence {
                device,
                template: parse::template(&a.requires)?,
            })
        }
        "arbiter" | "payer" if !a.requires.is_empty() => Err(conflict(&format!(
            "--require makes an evidence rule, and --release {kind} another: choose one"
        ))),
        "arbiter" if arbiter.is_none() => Err(conflict(
            "--release arbiter lets the arbiter release the hold: name it with --arbiter ID",
        )),
        "arbiter" => Ok(ReleaseRule::Arbiter),
        "payer" => Ok(ReleaseRule::Payer),
        other => Err(conflict(&format!(
            "--release {other:?}: write evidence, arbiter or payer"
        ))),
    }
}

fn rounds(a: &BuyArgs) -> anyhow::Result<u8> {
    let rounds = a.rounds.unwrap_or(u8::from(a.target_price.is_some()));
    if rounds > CALL_ROUNDS_MAX {
        return Err(bad_input(
            "bad_rounds",
            format!("--rounds {rounds}: a call allows 0 to {CALL_ROUNDS_MAX} counter-offer rounds"),
        ));
    }
    if a.target_price.is_some() && rounds == 0 {
        return Err(bad_input(
            "bad_rounds",
            "--target-price is asked for in a counter-offer round: give \
                --rounds 1 (or more), or leave --rounds out",
        ));
    }
    Ok(rounds)
}

/// Checks every flag of `a` for the buyer `me`.
pub fn plan(a: &BuyArgs, me: &AccountId) -> anyhow::Result<Plan> {
    let max_price = parse::amount("--max-price", a.max_price)?;
    let answer_within_ms = parse::duration(
        "--answer-within",
        &a.answer_within,
        1,
        CALL_WINDOW_MS_MAX,
        "from 1ms to 1d",
    )?;
    let deliver_within_ms = parse::duration(
        "--deliver-within",
        &a.deliver_within,
        1,
        HOLD_DEADLINE_MAX_MS,
        "at most 366d",
    )?;
    if deliver_within_ms <= answer_within_ms {
        return Err(bad_input(
            "bad_duration",
            format!(
                "--deliver-within {} ends before proposals do (--answer-within {}): give it longer",
                a.deliver_within, a.answer_within
            ),
        ));
    }
    if a.spec.len() > CALL_SPEC_BYTES_MAX {
        return Err(bad_input(
            "too_long",
            format!(
                "--spec is {} bytes; the limit is {CALL_SPEC_BYTES_MAX}",
                a.spec.len()
            ),
        ));
    }
    let target_price = a
        .target_price
        .map(|t| parse::amount("--target-price", t))
        .transpose()?;
    if target_price.is_some_and(|t| t > max_price) {
        return Err(bad_input(
            "bad_amount",
            "--target-price is above --max-price: the target is what a counter-offer asks",
        ));
    }
    let arbiter = a
        .arbiter
        .as_deref()
        .map(|x| parse_id("--arbiter", x))
        .transpose()?;
    if arbiter == Some(*me) {
        return Err(bad_input(
            "bad_arbiter",
            "the buyer cannot be its own arbiter: name a third party with --arbiter",
        ));
    }
    let wait = match a.wait.as_str() {
        "accepted" => Wait::Accepted,
        "released" => Wait::Released,
        other => {
            return Err(bad_input(
                "bad_wait",
                format!(
                    "--wait {other:?}: write accepted (stop once the provider took \
                    the job on) or released (stop once the hold ended)"
                ),
            ))
        }
    };
    let need = Need {
        category: parse::category("--category", &a.category)?,
        area: parse::area("--area", &a.area)?,
        spec: a.spec.clone(),
        max_price,
        answer_within_ms,
        deliver_within_ms,
        grace_ms: parse::duration("--grace", &a.grace, 0, HOLD_GRACE_MS_MAX, "at most 7d")?,
        rounds: rounds(a)?,
        rule: rule(a, me, arbiter)?,
        arbiter,
    };
    let policy = Policy {
        max_price,
        min_score_ppm: a
            .min_score
            .as_deref()
            .map(|s| parse::score("--min-score", s))
            .transpose()?
            .unwrap_or(0),
        newcomer_max: a.newcomer_max.map_or(max_price, Amount::new),
        value_of_hour: Amount::ZERO,
        target_price,
        min_warranty_ms: 0,
        avoid: Vec::new(),
    };
    let accept_within_ms = parse::duration(
        "--accept-within",
        &a.accept_within,
        1,
        CALL_WINDOW_MS_MAX,
        "from 1ms to 1d",
    )?;
    Ok(Plan {
        need,
        policy,
        wait,
        accept_within_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        buy: BuyArgs,
    }

    fn args(extra: &[&str]) -> BuyArgs {
        let base = [
            "buy",
            "--key",
            "p.key",
            "--category",
            "water.cartridge.replace",
            "--area",
            "u4pruydq",
            "--max-price",
            "60000",
            "--deliver-within",
            "4h",
        ];
        Wrap::try_parse_from(base.iter().chain(extra))
            .expect("parses")
            .buy
    }

    fn code(a: &BuyArgs) -> String {
        let me = AccountId([1; 32]);
        crate::failure::Failed::classify(&plan(a, &me).expect_err("refused")).code
    }

    #[test]
    fn requires_make_an_evidence_rule_signed_by_the_buyer_unless_named() {
        let me = AccountId([1; 32]);
        let p = plan(
            &args(&[
                "--require",
                "event=cartridge_installed",
                "--require",
                "flow_ml_min>=500",
            ]),
            &me,
        )
        .expect("a plan");
        assert!(matches!(
            p.need.rule,
            ReleaseRule::Evidence { device, ref template }
                if device == me && template.rules.len() == 2
        ));
        let payer = plan(&args(&[]), &me).expect("a plan");
        assert_eq!(payer.need.rule, ReleaseRule::Payer);
        let arbiter = AccountId([2; 32]).to_hex();
        let by_arbiter =
            plan(&args(&["--arbiter", &arbiter, "--release", "arbiter"]), &me).expect("a plan");
        assert_eq!(by_arbiter.need.rule, ReleaseRule::Arbiter);
        let disputes_only = plan(&args(&["--arbiter", &arbiter]), &me).expect("a plan");
        assert_eq!(disputes_only.need.rule, ReleaseRule::Payer);
        assert_eq!(disputes_only.need.arbiter, Some(AccountId([2; 32])));
    }

    #[test]
    fn contradictions_are_refused_naming_the_flags() {
        assert_eq!(code(&args(&["--release", "arbiter"])), "bad_release");
        assert_eq!(code(&args(&["--release", "evidence"])), "bad_release");
        assert_eq!(
            code(&args(&["--require", "a>=1", "--release", "payer"])),
            "bad_release"
        );
        assert_eq!(
            code(&args(&["--evidence-from", &AccountId([3; 32]).to_hex()])),
            "bad_release"
        );
        assert_eq!(code(&args(&["--rounds", "5"])), "bad_rounds");
        assert_eq!(
            code(&args(&["--target-price", "1", "--rounds", "0"])),
            "bad_rounds"
        );
        assert_eq!(code(&args(&["--target-price", "70000"])), "bad_amount");
        assert_eq!(code(&args(&["--answer-within", "5h"])), "bad_duration");
        assert_eq!(code(&args(&["--grace", "8d"])), "bad_duration");
        assert_eq!(code(&args(&["--wait", "forever"])), "bad_wait");
        assert_eq!(
            code(&args(&["--arbiter", &AccountId([1; 32]).to_hex()])),
            "bad_arbiter"
        );
    }

    #[test]
    fn a_target_price_opens_one_round_by_default() {
        let me = AccountId([1; 32]);
        let p = plan(&args(&["--target-price", "35000"]), &me).expect("a plan");
        assert_eq!(
            (p.need.rounds, p.policy.target_price),
            (1, Some(Amount::new(35_000)))
        );
        assert_eq!(p.policy.newcomer_max, Amount::new(60_000));
    }
}

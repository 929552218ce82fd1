//! `ting market provide`: a provider device answering calls for proposals
//! until Ctrl-C, `--for` or `--jobs` (docs/market.md §6).
//!
//! Its pricing is the simplest a person can state on a command line: ask
//! `--price`; meet a buyer's counter-offer at or above `--floor`, decline
//! one below it; deliver `--deliver-in` after the call. Everything else is
//! `ting_agent::market::Provider`: the checks on every call, the hold read
//! with its proof before the job is taken, the evidence presented.
//!
//! Each event is printed in words on stdout as it happens (with `--json`,
//! one JSON object a line, `event` naming it), and so is each call passed
//! over, with the reason, so a provider that never answers says why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use ting_agent::market::provider::Pricing;
use ting_agent::market::{Provider, ProviderConfig, Quote};
use ting_agent::Device;
use ting_core::limits::{OFFER_DELIVERY_MS_MAX, OFFER_WARRANTY_MS_MAX};
use ting_core::market::cfp::{Call, Counter};
use ting_core::market::OfferId;
use ting_core::{AccountId, Amount};

use super::device::{drain, market_err, open};
use super::serve::{serve, summary};
use super::words::{count, span};
use super::{parse, DeviceArgs};
use crate::failure::bad_input;
use crate::output::emit;

/// Categories one provider follows.
const CATEGORIES_MAX: usize = 8;
/// How long the broker has to confirm the call subscriptions.
const SETTLE_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Args)]
pub struct ProvideArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// A category it serves, and every one under it; repeat for more (up to 8).
    #[arg(long = "category", value_name = "CATEGORY", required = true)]
    pub categories: Vec<String>,
    /// Where it serves: a geohash prefix such as u4pr (empty for anywhere).
    #[arg(long)]
    pub area: String,
    /// What it asks, in base units.
    #[arg(long)]
    pub price: u64,
    /// The least it takes when a buyer counters; a counter below is declined (default: --price).
    #[arg(long)]
    pub floor: Option<u64>,
    /// How long after a call it delivers, such as 2h (at most 366d).
    #[arg(long)]
    pub deliver_in: String,
    /// How long its work is warranted, such as 90d.
    #[arg(long, default_value = "0s")]
    pub warranty: String,
    /// The listed offer its proposals come from (as `ting market offer open` printed it).
    #[arg(long, value_name = "OFFER")]
    pub offer: Option<String>,
    /// Stop after this long, such as 10m (without it, Ctrl-C stops).
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: Option<String>,
    /// Stop once this many jobs have ended (paid, or ended another way).
    #[arg(long)]
    pub jobs: Option<u32>,
    /// Create this file once calls are followed (for scripts that start a buyer after it).
    #[arg(long, value_name = "FILE")]
    pub ready: Option<PathBuf>,
}

/// What the provider was told, checked.
#[derive(Debug)]
struct Setup {
    categories: Vec<String>,
    area: String,
    price: Amount,
    floor: Amount,
    deliver_in_ms: u64,
    warranty_ms: u64,
    offer: Option<OfferId>,
    for_ms: Option<u64>,
}

fn setup(a: &ProvideArgs) -> anyhow::Result<Setup> {
    if a.categories.len() > CATEGORIES_MAX {
        return Err(bad_input(
            "too_many_categories",
            format!(
                "{} --category given; one provider follows at most \
                {CATEGORIES_MAX} (a category covers those under it)",
                a.categories.len()
            ),
        ));
    }
    let price = parse::amount("--price", a.price)?;
    let floor = parse::amount("--floor", a.floor.unwrap_or(a.price))?;
    if floor > price {
        return Err(bad_input(
            "bad_floor",
            format!(
                "--floor {floor} is above --price {price}: the floor is the \
                least taken on a counter-offer"
            ),
        ));
    }
    let year = 366 * 86_400_000;
    Ok(Setup {
        categories: a
            .categories
            .iter()
            .map(|c| parse::category("--category", c))
            .collect::<anyhow::Result<_>>()?,
        area: parse::area("--area", &a.area)?,
        price,
        floor,
        deliver_in_ms: parse::duration(
            "--deliver-in",
            &a.deliver_in,
            1,
            OFFER_DELIVERY_MS_MAX,
            "from 1ms to 366d",
        )?,
        warranty_ms: parse::duration(
            "--warranty",
            &a.warranty,
            0,
            OFFER_WARRANTY_MS_MAX,
            "at most five years (1826d)",
        )?,
        offer: a.offer.as_deref().map(parse::offer).transpose()?,
        for_ms: a
            .for_
            .as_deref()
            .map(|f| parse::duration("--for", f, 1, year, "from 1ms to 366d"))
            .transpose()?,
    })
}

/// Ask the price; meet a counter at or above the floor, decline one below.
fn pricing(s: &Setup) -> Pricing {
    let (price, floor, deliver_in_ms, warranty_ms) =
        (s.price, s.floor, s.deliver_in_ms, s.warranty_ms);
    Box::new(move |_: &Call, counter: Option<&Counter>| {
        let price = match counter {
            None => price,
            Some(c) if c.price >= floor => c.price.min(price),
            Some(_) => return None,
        };
        Some(Quote {
            price,
            deliver_in_ms,
            warranty_ms,
            note: String::new(),
        })
    })
}

/// The listed offer must be this provider's own.
async fn check_offer(device: &Device, offer: &OfferId) -> anyhow::Result<()> {
    let listed = device.http().offer(offer).await?.ok_or_else(|| {
        bad_input(
            "unknown_offer",
            format!(
                "the ledger proves offer {offer} is not listed (closed, or never \
                listed): give one of `ting market offers --provider {}`",
                device.account()
            ),
        )
    })?;
    if listed.provider != device.account() {
        return Err(bad_input(
            "not_our_offer",
            format!(
                "offer {offer} is listed by {}, not by this key",
                listed.provider
            ),
        ));
    }
    Ok(())
}

async fn wait_settled(device: &Device) -> anyhow::Result<()> {
    let end = tokio::time::Instant::now() + SETTLE_WAIT;
    while !device.streams_settled() {
        if tokio::time::Instant::now() >= end {
            return Err(anyhow::anyhow!(
                "the broker did not confirm the subscription to calls within {SETTLE_WAIT:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The provider's first lines: what it serves, at what price, until when.
fn intro(a: &ProvideArgs, s: &Setup, me: &AccountId, dir: &Path) -> String {
    let area = match s.area.as_str() {
        "" => "anywhere".to_owned(),
        x => format!("in {x}"),
    };
    let floor = match s.floor < s.price {
        true => format!(" (down to {} on a counter-offer)", s.floor),
        false => String::new(),
    };
    let jobs = a.jobs.map(|j| count(j.into(), "job"));
    let stops = match (&a.for_, jobs) {
        (Some(f), Some(j)) => format!("stops after {f} or {j}"),
        (Some(f), None) => format!("stops after {f}"),
        (None, Some(j)) => format!("stops after {j}"),
        (None, None) => "Ctrl-C stops".to_owned(),
    };
    format!(
        "{me} serves {} {area}: asks {}{floor}, delivers {} after a \
            call\nfollowing calls for proposals; {stops}; contracts are \
            kept in {}",
        s.categories.join(", "),
        s.price,
        span(s.deliver_in_ms),
        dir.display(),
    )
}

pub async fn run(a: ProvideArgs, json_out: bool) -> anyhow::Result<()> {
    let s = setup(&a)?;
    let dir = a.device.state.dir(&a.device.key);
    let (mut device, _lock) = open(&a.device.key, &a.device.state, &a.device.node).await?;
    if let Some(offer) = &s.offer {
        check_offer(&device, offer).await?;
    }
    let config = ProviderConfig {
        categories: s.categories.clone(),
        area: s.area.clone(),
        offer: s.offer,
    };
    let mut provider = Provider::open(&device, config, pricing(&s)).map_err(market_err)?;
    wait_settled(&device).await?;
    if let Some(ready) = &a.ready {
        std::fs::write(ready, b"following calls\n")?;
    }
    let intro = intro(&a, &s, &device.account(), &dir);
    if json_out {
        eprintln!("{intro}");
    } else {
        emit(&intro);
    }
    let until = s
        .for_ms
        .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
    let served = serve(&mut device, &mut provider, until, a.jobs, json_out).await;
    let drained = drain(&device).await;
    device.shutdown().await;
    let (why, tally) = served?;
    summary(json_out, why, &tally, &provider, drained, &dir);
    Ok(())
}

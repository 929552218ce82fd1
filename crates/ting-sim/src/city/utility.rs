//! The water utility: buys hardness and consumption from consenting
//! purifiers and builds its district map.
//!
//! It keeps a panel of streams, the same number in each district, found on
//! the ledger by area (`find_streams`) and read with their proofs: for each
//! it opens a payment channel to the purifier and follows the stream with
//! the SDK's stream `Buyer`, which buys each simulated day's key once,
//! within the channel. What the owner's record did not let out never
//! arrives. Every point opened goes into the [`CityMap`] in the tally. The
//! panel (stream and channel) is kept in the utility's state directory, so
//! a rerun of the city follows the same streams on the same channels.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ting_agent::stream::{Bought, Buyer, BuyerError, BuyerSetup};
use ting_agent::{ChannelOffer, Device, Message};
use ting_core::stream::chunk::Chunk;
use ting_core::stream::StreamId;
use ting_core::{AccountId, Amount, ChannelId, Timestamp};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::data::{DATA_PRICE_PER_DAY, FIELD_CONSUMPTION};
use super::{district_area, Cast, Tally};
use crate::world::{Scenario, DAY_MS};

/// The most streams the utility follows: what one device may follow.
pub const PANEL_MAX: usize = ting_agent::device::streams::STREAMS_FOLLOWED_MAX;
/// Days of data each channel pays for: its deposit is this many days' keys.
pub const PANEL_DAYS: u64 = 60;
/// How long a channel lasts (simulated): the days it pays for and a margin.
const CHANNEL_LIFETIME_MS: u64 = (PANEL_DAYS + 10) * DAY_MS;
/// How often (wall clock) the utility ticks its buyers.
const STEP: Duration = Duration::from_millis(500);
/// How often (simulated) it looks for streams to fill its panel.
const PANEL_REFRESH_MS: u64 = DAY_MS / 4;
/// The file in its state directory listing the panel.
const PANEL_FILE: &str = "panel";

/// One stream the utility follows.
#[derive(Debug)]
struct Member {
    buyer: Buyer,
    district: u16,
    household: u32,
}

/// A stream ready to join the panel.
struct Joined {
    stream: StreamId,
    seller: AccountId,
    member: Member,
}

/// The utility and its panel.
pub struct UtilityAgent {
    device: Device,
    scenario: Arc<Scenario>,
    cast: Arc<Cast>,
    tally: Arc<Tally>,
    panel: Vec<Member>,
    by_stream: BTreeMap<StreamId, usize>,
    by_seller: BTreeMap<AccountId, usize>,
    refreshed_ms: Option<u64>,
}

impl std::fmt::Debug for UtilityAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtilityAgent")
            .field("panel", &self.panel.len())
            .finish_non_exhaustive()
    }
}

/// Why the utility could not follow a stream.
#[derive(Debug, thiserror::Error)]
enum JoinError {
    #[error("the node could not be asked: {0}")]
    Lookup(String),
    #[error("the stream's seller is not a purifier of this city")]
    NotOurs,
    #[error("the channel could not be opened: {0}")]
    Channel(String),
    #[error(transparent)]
    Buyer(#[from] BuyerError),
}

impl UtilityAgent {
    /// Starts the utility on `device`: publishes its messaging key (the
    /// purifiers seal each day's key to it) and rejoins its saved panel.
    pub async fn open(
        device: Device,
        scenario: Arc<Scenario>,
        cast: Arc<Cast>,
        tally: Arc<Tally>,
    ) -> UtilityAgent {
        let mut agent = UtilityAgent {
            device,
            scenario,
            cast,
            tally,
            panel: Vec::new(),
            by_stream: BTreeMap::new(),
            by_seller: BTreeMap::new(),
            refreshed_ms: None,
        };
        if let Err(e) = agent.device.publish_messaging_key().await {
            agent.tally.error(format!("utility: messaging key: {e}"));
        }
        let saved = read_panel(agent.device.state_dir())
            .into_iter()
            .map(|(stream, channel)| (stream, Some(channel)))
            .collect();
        agent.join_all(saved, "rejoining").await;
        agent
    }

    /// Runs until `stop`; answers the device, to be shut down.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Device {
        let mut tick = tokio::time::interval(STEP);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                m = self.device.recv() => match m {
                    Some(m) => self.on_message(m).await,
                    None => break,
                },
                _ = tick.tick() => self.step().await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() { break; }
                }
            }
        }
        self.device
    }

    async fn on_message(&mut self, m: Message) {
        let (i, result) = match &m {
            Message::Chunk { bytes, .. } => {
                let Some(i) = Chunk::decode(bytes)
                    .ok()
                    .and_then(|c| self.by_stream.get(&c.stream).copied())
                else {
                    return;
                };
                let buyer = &mut self.panel[i].buyer;
                (i, buyer.on_chunk(&self.device, bytes).await)
            }
            Message::KeyGrant { from, grant } => {
                let Some(&i) = self.by_seller.get(from) else {
                    return;
                };
                let buyer = &mut self.panel[i].buyer;
                (i, buyer.on_grant(&self.device, *from, grant).await)
            }
            Message::KeyRefusal { from, refusal } => {
                let Some(&i) = self.by_seller.get(from) else {
                    return;
                };
                let buyer = &mut self.panel[i].buyer;
                let done = buyer.on_refusal(&self.device, *from, refusal).await;
                (i, done.map(|()| Vec::new()))
            }
            _ => return,
        };
        match result {
            Ok(points) => self.take(i, &points),
            Err(e) => self.tally.error(format!("utility: {}: {e}", e.code())),
        }
    }

    /// Adds what a member's buyer opened to the map and the figures.
    fn take(&mut self, i: usize, points: &[Bought]) {
        let member = &self.panel[i];
        let fields = &member.buyer.terms().fields;
        let mut map = self.tally.map();
        for p in points {
            let Some(field) = fields.get(usize::from(p.point.field)) else {
                continue;
            };
            map.add(
                member.district,
                member.household,
                &field.name,
                &p.point.value,
            );
            let aggregate = matches!(
                p.point.value,
                ting_core::stream::point::PointValue::Aggregate { .. }
            );
            let counter = if aggregate {
                &self.tally.data_aggregates
            } else {
                &self.tally.data_points
            };
            Tally::add(counter, 1);
        }
    }

    async fn step(&mut self) {
        for i in 0..self.panel.len() {
            let result = self.panel[i].buyer.tick(&self.device).await;
            if let Err(e) = result {
                self.tally.error(format!("utility: {}: {e}", e.code()));
            }
        }
        let spent: u64 = self
            .panel
            .iter()
            .map(|m| m.buyer.spent().base_units())
            .sum();
        self.tally
            .data_paid
            .store(spent, std::sync::atomic::Ordering::Relaxed);
        let now = self.device.now().0;
        let due = self
            .refreshed_ms
            .is_none_or(|at| now.saturating_sub(at) >= PANEL_REFRESH_MS);
        if due && self.panel.len() < PANEL_MAX {
            self.refreshed_ms = Some(now);
            self.fill().await;
        }
    }

    /// Looks for streams in each district whose share of the panel is not full.
    async fn fill(&mut self) {
        let districts = self.scenario.districts().len().max(1);
        let share = PANEL_MAX / districts;
        let scenario = Arc::clone(&self.scenario);
        let mut wanted = Vec::new();
        for d in scenario.districts() {
            let have = self.panel.iter().filter(|m| m.district == d.id).count();
            if have >= share {
                continue;
            }
            let query = format!(
                "field={FIELD_CONSUMPTION}&area={}&max_price={DATA_PRICE_PER_DAY}",
                district_area(d.id)
            );
            let found = match self.device.http().find_streams(&query).await {
                Ok(found) => found,
                Err(e) => {
                    self.tally.error(format!("utility: finding streams: {e}"));
                    break;
                }
            };
            wanted.extend(
                found
                    .into_iter()
                    .filter(|s| !self.by_stream.contains_key(s))
                    .take(share - have)
                    .map(|s| (s, None)),
            );
        }
        self.join_all(wanted, "joining").await;
    }

    /// Follows every stream of `wanted` at once: their lookups overlap and
    /// their channels open in shared blocks instead of one block round trip
    /// each. One at a time, a loaded machine kept the utility from its
    /// messages for the whole run and every chunk went unread; together, 44
    /// streams still take seconds on a busy debug build (each answer's
    /// proof is checked in this one task).
    async fn join_all(&mut self, wanted: Vec<(StreamId, Option<ChannelId>)>, doing: &str) {
        let this = &*self;
        let joins = wanted.iter().map(|&(s, c)| this.prepare(s, c));
        let results = futures_util::future::join_all(joins).await;
        for ((stream, _), result) in wanted.iter().zip(results) {
            match result {
                Ok(joined) => self.admit(joined),
                Err(e) => self.tally.error(format!("utility: {doing} {stream}: {e}")),
            }
        }
    }

    /// Adds a stream made ready by [`UtilityAgent::prepare`] to the panel.
    fn admit(&mut self, joined: Joined) {
        let i = self.panel.len();
        self.by_stream.insert(joined.stream, i);
        self.by_seller.insert(joined.seller, i);
        self.panel.push(joined.member);
    }

    /// Readies `stream` to follow, on `channel` or a new one to its seller.
    async fn prepare(
        &self,
        stream: StreamId,
        channel: Option<ChannelId>,
    ) -> Result<Joined, JoinError> {
        let record = self
            .device
            .http()
            .stream(&stream)
            .await
            .map_err(|e| JoinError::Lookup(e.to_string()))?
            .ok_or(JoinError::Lookup("the stream is closed".into()))?;
        let household = self
            .cast
            .household_of(&record.seller)
            .ok_or(JoinError::NotOurs)?;
        let district = self
            .scenario
            .household(household)
            .ok_or(JoinError::NotOurs)?
            .district;
        let budget = Amount::new(DATA_PRICE_PER_DAY.saturating_mul(PANEL_DAYS));
        let channel = match channel {
            Some(c) => c,
            None => {
                let c = self.open_channel(record.seller, budget).await?;
                // Not kept, a rerun would open another channel to this
                // purifier while this one's deposit stays locked.
                if let Err(e) = append_panel(self.device.state_dir(), &stream, &c) {
                    self.tally.error(format!(
                        "utility: keeping channel {c} in its panel file: {e}"
                    ));
                }
                c
            }
        };
        let setup = BuyerSetup {
            stream,
            channel,
            budget,
            attestation: None,
        };
        let (buyer, _earlier) = Buyer::open(&self.device, setup).await?;
        Ok(Joined {
            stream,
            seller: record.seller,
            member: Member {
                buyer,
                district,
                household,
            },
        })
    }

    async fn open_channel(
        &self,
        seller: AccountId,
        budget: Amount,
    ) -> Result<ChannelId, JoinError> {
        let ticks = u32::try_from(budget.base_units())
            .map_err(|_| JoinError::Channel("the budget is too large".into()))?;
        let now = self.device.now().0;
        let offer = ChannelOffer {
            payee: seller,
            deposit: budget,
            price: Amount::new(1),
            ticks,
            expires_at: Timestamp(now.saturating_add(CHANNEL_LIFETIME_MS)),
        };
        self.device
            .open_channel(offer)
            .await
            .map_err(|e| JoinError::Channel(e.to_string()))
    }
}

/// The panel saved by earlier runs: a stream and its channel per line,
/// read up to what a full panel takes. Lines that do not parse are left out.
fn read_panel(dir: &std::path::Path) -> Vec<(StreamId, ChannelId)> {
    use std::io::Read;
    // A line is two ids of 64 hex digits, a space and a newline.
    let bytes_max = (PANEL_MAX * 130) as u64;
    let mut text = String::new();
    if let Ok(f) = std::fs::File::open(dir.join(PANEL_FILE)) {
        let _ = f.take(bytes_max).read_to_string(&mut text);
    }
    text.lines()
        .filter_map(|line| {
            let (s, c) = line.split_once(' ')?;
            Some((StreamId::from_hex(s)?, ChannelId::from_hex(c)?))
        })
        .take(PANEL_MAX)
        .collect()
}

fn append_panel(
    dir: &std::path::Path,
    stream: &StreamId,
    channel: &ChannelId,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(PANEL_FILE))?;
    writeln!(f, "{} {}", stream.to_hex(), channel.to_hex())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_file_reads_back_and_skips_what_does_not_parse() {
        let dir = tempfile::tempdir().expect("a dir");
        let s = StreamId::from_hex(&"ab".repeat(32)).expect("an id");
        let c = ChannelId::from_hex(&"cd".repeat(32)).expect("an id");
        append_panel(dir.path(), &s, &c).expect("written");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(PANEL_FILE))
            .expect("open");
        std::io::Write::write_all(&mut f, b"not a line\nzz yy\n").expect("write");
        assert_eq!(read_panel(dir.path()), vec![(s, c)]);
        assert!(read_panel(&dir.path().join("missing")).is_empty());
    }
}

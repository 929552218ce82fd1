//! Starts the city's actors as `ting-agent` devices on the node's broker:
//! the owners register their purifiers (once per city) and each purifier
//! whose owner consents opens its data stream, then every purifier, service
//! centre and the utility runs as its own task until stopped. The uplink
//! relay follows: the issuer registers its class (once per city), then the
//! district gateways, the battery sensors and the utility's mains monitor
//! start. Last, the owners' watch.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use ting_agent::market::Buyer;
use ting_agent::{Device, DeviceConfig, TlsTrust};
use ting_core::{Genesis, Keypair};
use ting_sim::city::centre::CentreAgent;
use ting_sim::city::data::{self, DataSeller};
use ting_sim::city::gateway::{self as relay_gateway, GatewayAgent};
use ting_sim::city::mains::MainsAgent;
use ting_sim::city::purifier::{self, PurifierAgent};
use ting_sim::city::sensor::SensorAgent;
use ting_sim::city::utility::UtilityAgent;
use ting_sim::city::{district_area, owner, Actor, Cast, Physical, Tally};
use ting_sim::world::Scenario;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the agents are started from.
#[derive(Debug, Clone)]
pub struct City {
    pub scenario: Arc<Scenario>,
    pub cast: Arc<Cast>,
    pub genesis: Genesis,
    pub node_url: String,
    pub broker: SocketAddr,
    /// Each device's state directory is here, by name.
    pub dir: PathBuf,
}

/// The running agents.
#[derive(Debug)]
pub struct Running {
    pub tally: Arc<Tally>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Device>>,
    owners: JoinHandle<()>,
}

impl Running {
    /// Stops every agent and shuts its device down.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.owners.await;
        for t in self.tasks {
            if let Ok(device) = t.await {
                device.shutdown().await;
            }
        }
    }
}

impl City {
    pub fn device(&self, actor: &Actor, seed: u64) -> anyhow::Result<Device> {
        let config = DeviceConfig {
            key: Keypair::from_seed(actor.key.seed()),
            state_dir: self.state_dir(actor),
            network: self.genesis.network,
            sequencers: self.genesis.sequencers.clone(),
            genesis_hash: self.genesis.hash(),
            node_url: self.node_url.clone(),
            broker: Some(ting_agent::Broker {
                host: self.broker.ip().to_string(),
                port: self.broker.port(),
                tls: false,
            }),
            tls: TlsTrust::SystemRoots,
            seed,
            clock: ting_agent::clock::NetworkClock::of(&self.genesis),
            witnesses: ting_core::witness::WitnessPolicy::default(),
        };
        Device::start(config).with_context(|| format!("starting {}", actor.name))
    }

    /// The consent record household `h`'s owner signs for its purifier,
    /// and the terms of the stream that sells under it; `None` if the
    /// owner shares nothing.
    fn data_terms(
        &self,
        h: u32,
    ) -> anyhow::Result<
        Option<(
            ting_core::consent::SignedConsent,
            ting_core::stream::StreamTerms,
        )>,
    > {
        let (owner, purifier) = (
            &self.cast.owners[h as usize],
            &self.cast.purifiers[h as usize],
        );
        let consent = data::consent(
            &self.scenario,
            h,
            &owner.key,
            purifier.account(),
            self.cast.utility.account(),
            self.genesis.hash(),
        )
        .with_context(|| format!("{}'s consent record", owner.name))?;
        let district = self.scenario.household(h).map_or(0, |x| x.district);
        Ok(consent.map(|c| {
            let terms = data::terms(&c, district_area(district));
            (c, terms)
        }))
    }

    fn state_dir(&self, actor: &Actor) -> PathBuf {
        self.dir.join(actor.name.replace(' ', "-"))
    }
}

/// The purifier opens its data stream, once per city, and keeps its id.
async fn open_stream(
    purifier: &Device,
    terms: ting_core::stream::StreamTerms,
) -> anyhow::Result<()> {
    if data::saved_stream(purifier.state_dir()).is_some() {
        return Ok(());
    }
    let stream = purifier.open_stream(terms).await?;
    data::save_stream(purifier.state_dir(), &stream).context("saving the stream's id")?;
    Ok(())
}

/// Households registering at once: each starts two devices, and a city of
/// a thousand at once would be a thousand MQTT logins in the same second.
const REGISTERING_AT_ONCE: usize = 32;

/// Registers every purifier not yet registered under its owner: the owner
/// registers it, the purifier opens its data stream if the owner consents,
/// and the owner sets its daily limit.
async fn register(city: &City, shared: &ting_node::Shared) -> anyhow::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(REGISTERING_AT_ONCE));
    let mut tasks = Vec::new();
    for h in city.scenario.households() {
        let purifier = &city.cast.purifiers[h.id as usize];
        let registered = shared
            .state
            .read()
            .map(|s| s.device(&purifier.account()).is_some())
            .unwrap_or(false);
        if registered {
            continue;
        }
        let key = Keypair::from_seed(purifier.key.seed());
        let (name, per_day) = (purifier.name.clone(), h.policy.daily_limit_base_units);
        let terms = city.data_terms(h.id)?.map(|(_, t)| t);
        let (city, permits, id) = (city.clone(), Arc::clone(&permits), h.id);
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let owner = city.device(&city.cast.owners[id as usize], u64::from(id))?;
            let device = city.device(&city.cast.purifiers[id as usize], 20_000 + u64::from(id))?;
            let done = async {
                owner::register(&owner, &key, &name).await?;
                if let Some(terms) = terms {
                    open_stream(&device, terms).await?;
                }
                owner::limit(&owner, &key.account(), per_day).await?;
                anyhow::Ok(())
            }
            .await;
            owner.shutdown().await;
            device.shutdown().await;
            done.with_context(|| format!("registering {name}"))
        }));
    }
    for t in tasks {
        t.await.context("a registration task")??;
    }
    Ok(())
}

/// Starts the city: registrations first, then every purifier and centre.
pub async fn start(city: &City, shared: &ting_node::Shared) -> anyhow::Result<Running> {
    register(city, shared).await?;
    let tally = Arc::new(Tally::default());
    let physical = Arc::new(Physical::default());
    let names: BTreeMap<_, _> = city
        .cast
        .centres
        .iter()
        .map(|a| (a.account(), a.name.clone()))
        .collect();
    let names = Arc::new(names);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for (i, actor) in city.cast.centres.iter().enumerate() {
        let id = u16::try_from(i).context("centre ids fit u16")?;
        let device = city.device(actor, 1_000 + i as u64)?;
        let shared_parts = (
            Arc::clone(&physical),
            Arc::clone(&tally),
            Arc::clone(&city.cast),
        );
        let agent = CentreAgent::open(id, device, Arc::clone(&city.scenario), shared_parts)?;
        tasks.push(tokio::spawn(agent.run(stopped.clone())));
    }
    for h in city.scenario.households() {
        let actor = &city.cast.purifiers[h.id as usize];
        let device = city.device(actor, 10_000 + u64::from(h.id))?;
        let buyer = Buyer::open(&device, purifier::policy(&city.scenario, h.id))?;
        let parts = (
            Arc::clone(&physical),
            Arc::clone(&tally),
            Arc::clone(&names),
        );
        let mut agent = PurifierAgent::new(h.id, device, buyer, Arc::clone(&city.scenario), parts);
        if let Some((consent, terms)) = city.data_terms(h.id)? {
            if let Some(stream) = data::saved_stream(agent.device.state_dir()) {
                let seller = DataSeller::open(&agent.device, consent, terms, stream)
                    .with_context(|| format!("{}'s data stream", actor.name))?;
                agent = agent.selling(seller);
            }
        }
        tasks.push(tokio::spawn(agent.run(stopped.clone())));
    }
    let device = city.device(&city.cast.utility, 2_000)?;
    let utility = UtilityAgent::open(
        device,
        Arc::clone(&city.scenario),
        Arc::clone(&city.cast),
        Arc::clone(&tally),
    )
    .await;
    tasks.push(tokio::spawn(utility.run(stopped.clone())));
    start_relay(city, shared, &tally, &stopped, &mut tasks).await?;
    let owners = tokio::spawn(super::owners::watch(
        city.clone(),
        shared.events.subscribe(),
        Arc::clone(&tally),
        stopped.clone(),
    ));
    Ok(Running {
        tally,
        stop,
        tasks,
        owners,
    })
}

// ---- The uplink relay ----

/// Device seeds of the relay's devices, apart from the others'.
const GATEWAY_DEVICE_SEED: u64 = 2_000;
const SENSOR_DEVICE_SEED: u64 = 3_000;
const MAINS_DEVICE_SEED: u64 = 4_000;

/// Registers the relay class (signed by the issuer, the node's key), then
/// starts the gateways, the sensors and the mains monitor.
async fn start_relay(
    city: &City,
    shared: &ting_node::Shared,
    tally: &Arc<Tally>,
    stopped: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<Device>>,
) -> anyhow::Result<()> {
    register_relay_class(city, shared).await?;
    let mains = city.cast.mains.account();
    for (g, actor) in city.scenario.gateways().iter().zip(&city.cast.gateways) {
        let device = city.device(actor, GATEWAY_DEVICE_SEED + u64::from(g.district))?;
        let tally = Arc::clone(tally);
        let agent = GatewayAgent::open(g.district, actor.name.clone(), device, mains, tally)?;
        tasks.push(tokio::spawn(agent.run(stopped.clone())));
    }
    for (s, actor) in city.scenario.sensors().iter().zip(&city.cast.sensors) {
        let device = city.device(actor, SENSOR_DEVICE_SEED + u64::from(s.id))?;
        let scenario = Arc::clone(&city.scenario);
        let agent = SensorAgent::open(s.id, device, scenario, Arc::clone(tally))?;
        tasks.push(tokio::spawn(agent.run(stopped.clone())));
    }
    let device = city.device(&city.cast.mains, MAINS_DEVICE_SEED)?;
    let gateways = city.cast.gateways.iter().map(|a| a.account()).collect();
    let scenario = Arc::clone(&city.scenario);
    let sensors = city.cast.sensors.iter().map(|a| a.account()).collect();
    let agent = MainsAgent::new(device, scenario, Arc::clone(tally), gateways, sensors);
    tasks.push(tokio::spawn(agent.run(stopped.clone())));
    Ok(())
}

/// Registers the relay's resource class unless the city has it already.
async fn register_relay_class(city: &City, shared: &ting_node::Shared) -> anyhow::Result<()> {
    let issuer = super::files::node_key(city.scenario.seed());
    let nonce = {
        let state = shared
            .state
            .read()
            .map_err(|_| anyhow::anyhow!("state lock"))?;
        if state.class(relay_gateway::RELAY_CLASS).is_some() {
            return Ok(());
        }
        state.next_nonce(&issuer.account())
    };
    let tx = ting_core::TxBody {
        genesis: city.genesis.hash(),
        sender: issuer.account(),
        nonce,
        valid_until: ting_core::Timestamp(shared.time.now().0.saturating_add(CLASS_TX_VALID_MS)),
        kind: relay_gateway::class_register(),
    }
    .sign(&issuer);
    let reply = shared
        .submit(vec![tx])
        .map_err(|e| anyhow::anyhow!("registering the relay class: {e}"))?
        .pop()
        .context("a reply to the relay class")?;
    match reply.await.context("the relay class's outcome")? {
        ting_node::pipeline::Outcome::Committed(_) => Ok(()),
        ting_node::pipeline::Outcome::Refused(r) => Err(anyhow::anyhow!(
            "the relay class was refused: {}: {}",
            r.code,
            r.message
        )),
    }
}

/// How long the class registration may wait to land (network ms).
const CLASS_TX_VALID_MS: u64 = ting_core::limits::DAY_MS;

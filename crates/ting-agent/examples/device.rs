//! A water purifier on Ting: it publishes its messaging key, sends a reading
//! to the utility encrypted, pays the utility for filter service through a
//! channel (which the utility then claims on the ledger), and prints its
//! receipts. The utility runs in the same process here.
//!
//! ```sh
//! ting node --dev &                                        # HTTP on :8080; MQTT on 1883 or a free port
//! cargo run --release -p ting-agent --example device       # or: ... --example device -- purifier.key
//! ```
//!
//! The devices learn the network, the sequencer key and the MQTT broker from
//! the node's `/v1/status` (`TING_NODE`, default `http://127.0.0.1:8080`).
//! `TING_MQTT=mqtt://HOST:PORT` makes them use another broker than the one
//! the node names; if no node answers there, they say so within
//! `NODE_WAIT` instead of waiting for ever. Against `ting node --dev --tls`,
//! give the pin it prints (`TING_NODE=https://127.0.0.1:8080
//! TING_TLS_PIN=...`), or a CA file with `TING_TLS_CA=FILE`.

use std::path::Path;
use std::time::Duration;

use ting_agent::clock::now;
use ting_agent::{read_key, Broker, ChannelOffer, Device, DeviceConfig, Message, TlsTrust};
use ting_core::channel::payee::ClaimPolicy;
use ting_core::{Amount, Keypair, Timestamp};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// How long a device waits for its node to show on its broker.
pub const NODE_WAIT: Duration = Duration::from_secs(10);

/// Where a device is and what it trusts: the node, another broker if given,
/// the TLS trust for both, and how long it waits for the node on the broker.
#[derive(Clone, Debug)]
pub struct Setup {
    pub node: String,
    pub broker: Option<Broker>,
    pub tls: TlsTrust,
    pub wait: Duration,
}

async fn start(key: Keypair, name: &str, setup: &Setup) -> Result<Device, AnyError> {
    let dir = std::env::temp_dir().join(format!("ting-{name}-{}", &key.account().to_hex()[..8]));
    let mut config = DeviceConfig::discover_with(key, dir, &setup.node, setup.tls.clone()).await?;
    let (broker, wait) = (setup.broker.as_ref(), setup.wait);
    if let Some(b) = broker {
        config.broker = Some(b.clone());
    }
    let device = Device::start(config)?;
    let seen = device.wait_for_node(wait).await?;
    println!(
        "{name} {}: node {} on {}",
        device.account(),
        seen.node,
        seen.broker
    );
    let faucet = serde_json::json!({ "to": device.account().to_did(), "amount": 100_000 });
    device.http().post("/v1/faucet", &faucet).await?;
    let receipt = device.publish_messaging_key().await?;
    println!("{name}: messaging key in block {}", receipt.height);
    Ok(device)
}

/// The purifier and the utility as `setup` says, each waiting up to its
/// `wait` for the node to show on the broker.
pub async fn run(setup: &Setup, key: Keypair) -> Result<(), AnyError> {
    let purifier = start(key, "purifier", setup).await?;
    let utility_key = Keypair::from_seed(rand::random());
    let mut utility = start(utility_key, "utility", setup).await?;

    let reading = b"tds_ppm=42 flow_l=1.5".to_vec();
    purifier.send(utility.account(), reading, true).await?;

    let offer = ChannelOffer {
        payee: utility.account(),
        deposit: Amount::new(1_000),
        price: Amount::new(10),
        ticks: 100,
        expires_at: Timestamp(now().0 + 3_600_000),
    };
    let channel = purifier.open_channel(offer).await?;
    println!("purifier opened channel {channel}");
    utility.accept_channel(&channel).await?;
    purifier.pay(&channel, 3).await?;

    for _ in 0..2 {
        match tokio::time::timeout(Duration::from_secs(10), utility.recv()).await {
            Ok(Some(Message::Data {
                payload, encrypted, ..
            })) => {
                let text = String::from_utf8_lossy(&payload);
                println!("utility received a reading {text:?} (encrypted: {encrypted})");
            }
            Ok(Some(Message::Payment { accepted, .. })) => {
                println!(
                    "utility was paid {} ({} in all)",
                    accepted.newly_paid.base_units(),
                    accepted.total.base_units()
                );
            }
            _ => return Err("the utility heard nothing within 10 s".into()),
        }
    }
    let claimed = utility.claim(&channel, &ClaimPolicy::ALWAYS).await?;
    println!("utility claimed {} on the ledger", claimed.base_units());
    println!(
        "purifier balance {}",
        purifier.balance().await?.base_units()
    );
    purifier.shutdown().await;
    utility.shutdown().await;
    Ok(())
}

#[allow(dead_code)] // a test includes this file as a module and calls `run`
#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let node = std::env::var("TING_NODE").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let key = match std::env::args().nth(1) {
        Some(path) => read_key(Path::new(&path))?,
        None => Keypair::from_seed(rand::random()),
    };
    let broker = match std::env::var("TING_MQTT") {
        Ok(url) => Some(
            Broker::parse(&url)
                .ok_or("TING_MQTT must look like mqtt://HOST:PORT or mqtts://HOST:PORT")?,
        ),
        Err(_) => None,
    };
    let ca = std::env::var_os("TING_TLS_CA").map(std::path::PathBuf::from);
    let pin = std::env::var("TING_TLS_PIN").ok();
    let tls = TlsTrust::from_options(ca.as_deref(), pin.as_deref())?;
    let setup = Setup {
        node,
        broker,
        tls,
        wait: NODE_WAIT,
    };
    if let Err(e) = run(&setup, key).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    Ok(())
}

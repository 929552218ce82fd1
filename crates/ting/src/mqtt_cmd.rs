//! `ting mqtt login`: credentials for MQTT tools such as `mosquitto_sub`
//! (docs/mqtt.md §9). The SDK and the CLI log in by themselves; this is for
//! watching topics by hand.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use ting_agent::clock::NetworkClock;
use ting_agent::files::{read_genesis, read_key};
use ting_agent::mqtt_login;
use ting_core::broker_url::BrokerUrl;
use ting_core::topics;

use crate::failure::bad_input;
use crate::output::{print_value, utc};
use crate::NodeArg;

#[derive(Debug, Subcommand)]
pub enum MqttCmd {
    /// Print a username, client id and one-use login token for a key.
    Login(LoginArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The key to log in as.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The network's genesis file; without it the genesis hash (and the
    /// broker) are read from the node.
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// The client id's suffix after `{account}-` (1 to 16 of a-z 0-9 -), so
    /// that the tool does not push the device's own session off.
    #[arg(long, default_value = "cli")]
    pub suffix: String,
    #[command(flatten)]
    pub node: NodeArg,
}

pub async fn run(cmd: MqttCmd, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        MqttCmd::Login(args) => login(args, json_out).await,
    }
}

async fn login(args: LoginArgs, json_out: bool) -> anyhow::Result<()> {
    let key = read_key(&args.key)?;
    let (genesis_hash, broker, clock) = match &args.genesis {
        Some(path) => {
            let genesis = read_genesis(path)?;
            (genesis.hash(), None, NetworkClock::of(&genesis))
        }
        None => {
            let status = args.node.client()?.status().await?;
            (status.genesis_hash, status.mqtt, status.clock)
        }
    };
    let login = mqtt_login(&key, &genesis_hash, Some(&args.suffix), &clock)
        .map_err(|e| bad_input(e.code(), e.to_string()))?;
    let broker = broker.as_deref().and_then(BrokerUrl::parse);
    let v = json!({
        "username": login.username,
        "client_id": login.client_id,
        "password": login.password,
        "expires_ms": login.expires_at.0,
        "broker": broker.as_ref().map(|b| b.to_string()),
    });
    let tls = broker
        .as_ref()
        .filter(|b| b.tls)
        .map(|_| mosquitto_tls(&args.node.tls))
        .unwrap_or_default();
    print_value(&v, json_out, |_| {
        human(&login, broker.as_ref(), &tls, &key.account())
    });
    Ok(())
}

/// mosquitto_sub's options for an `mqtts://` broker. It cannot pin: a pinned
/// (self-signed) certificate is given to it as its own CA file.
fn mosquitto_tls(tls: &crate::TlsArg) -> String {
    match (&tls.tls_ca, &tls.tls_pin) {
        (Some(ca), _) => format!(" --cafile {}", ca.display()),
        (None, Some(_)) => " --cafile NODE-CERT.pem".to_owned(),
        (None, None) => " --capath /etc/ssl/certs".to_owned(),
    }
}

fn human(
    l: &ting_agent::MqttLogin,
    broker: Option<&BrokerUrl>,
    tls: &str,
    me: &ting_core::AccountId,
) -> String {
    let (host, port) = broker.map_or(("127.0.0.1".to_owned(), 1883), |b| (b.host.clone(), b.port));
    format!(
        "username   {}\nclient id  {}\npassword   {}\n           (one connection, until {})\n\nWatch this account's inbox and the blocks:\n  mosquitto_sub -h {host} -p {port}{tls} -V mqttv311 -i {} -u {} -P {} -t {} -t {} -F '%t %l bytes'",
        l.username,
        l.client_id,
        l.password,
        utc(l.expires_at),
        l.client_id,
        l.username,
        l.password,
        topics::inbox(me),
        topics::BLOCKS_TOPIC,
    )
}

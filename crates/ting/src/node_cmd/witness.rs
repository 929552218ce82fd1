//! `ting node --witness --follow URL`: the witness's shell. It reads the
//! genesis and the witness's key, binds its API (saying so when the port is
//! taken), starts following and serves until SIGTERM or Ctrl-C.

use std::sync::Arc;

use anyhow::Context;
use ting_agent::files::{read_genesis, read_key};
use ting_core::broker_url::BrokerUrl;
use ting_node::witness::{serve, Publisher, Witness, WitnessConfig};

use super::{shutdown_signal, NodeArgs};
use crate::failure::bad_input;

/// Runs a witness until it is told to stop.
pub fn run(args: &NodeArgs) -> anyhow::Result<()> {
    let Some(genesis_path) = &args.genesis else {
        return Err(bad_input(
            "missing_genesis",
            "a witness needs the network's genesis: give --genesis FILE (the file the nodes were started with)",
        ));
    };
    let genesis = read_genesis(genesis_path)?;
    let key_path = args
        .key
        .clone()
        .unwrap_or_else(|| args.data_dir.join("witness.key"));
    let key = read_key(&key_path).with_context(|| {
        format!(
            "the witness signs with its own key; make one with `ting keygen --out {}`",
            key_path.display()
        )
    })?;
    let follow = args.follow.clone().unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(ting_node::http::bind(args.http))?;
    let broker = broker(args)?;
    let publisher = broker
        .as_ref()
        .map(|(b, tls)| Publisher::start(runtime.handle(), b, tls.clone(), &key, &genesis));
    let witness = Witness::start(WitnessConfig {
        follow: follow.clone(),
        key,
        genesis,
        data_dir: args.data_dir.clone(),
        publisher,
    })
    .map_err(|e| bad_input("witness_start", e.to_string()))?;
    let shared = std::sync::Arc::clone(&witness.shared);
    let attested = shared.record.lock().expect("record lock").height();
    eprintln!(
        "ting node: witness {} of network {}, following {follow}\n  \
         HTTP  http://{}  (GET /v1/status, /v1/attestations/HEIGHT, /v1/evidence; POST /v1/headers)\n  \
         MQTT  {}\n  \
         data  {} ({attested} blocks attested before; they are replayed and compared first)",
        shared.witness.to_did(),
        shared.genesis_hash.to_hex(),
        listener.local_addr()?,
        broker.map_or_else(
            || "off (give --mqtt-broker mqtt://HOST:PORT to publish attestations there too)".to_owned(),
            |(b, _)| format!(
                "publishing on {} at {}://{}:{}",
                ting_core::topics::witness_attestations(&shared.witness),
                if b.tls { "mqtts" } else { "mqtt" },
                b.host,
                b.port
            ),
        ),
        args.data_dir.display(),
    );
    runtime.block_on(serve(listener, shared, shutdown_signal()))?;
    witness.stop();
    eprintln!("ting node: the witness stopped cleanly");
    Ok(())
}

/// The broker the witness publishes on, if `--mqtt-broker` names one, and
/// whom it trusts there when it is `mqtts://` (`--mqtt-tls-ca`,
/// `--mqtt-tls-pin`, or the system's CAs). It must answer now, as it must
/// for a node.
fn broker(
    args: &NodeArgs,
) -> anyhow::Result<Option<(BrokerUrl, Option<Arc<rustls::ClientConfig>>)>> {
    let Some(url) = &args.mqtt.mqtt_broker else {
        return Ok(None);
    };
    let broker = BrokerUrl::parse(url).ok_or_else(|| {
        bad_input(
            "invalid_broker_url",
            format!("--mqtt-broker {url:?} is not mqtt://HOST:PORT or mqtts://HOST:PORT"),
        )
    })?;
    let trust = crate::broker_probe::trust(
        url,
        broker.tls,
        args.mqtt.mqtt_tls_ca.as_deref(),
        args.mqtt.mqtt_tls_pin.as_deref(),
    )?;
    crate::broker_probe::probe(url, &broker.host, broker.port, trust.as_ref())?;
    Ok(Some((broker, trust.map(|(config, _)| config))))
}

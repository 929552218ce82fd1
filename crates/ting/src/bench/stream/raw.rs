//! The broker's raw rate in the same run, the stream's ceiling: one client
//! publishes QoS 1 opaque payloads of one sealed point's size to another
//! client's inbox as fast as the broker takes them, and the rate is what the
//! subscriber receives. Both log in as devices (a fresh token each, as in
//! `bench mqtt`), the publisher on the seller's runtime and the subscriber
//! on the buyer's, as the stream's two devices run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rumqttc::QoS;
use tokio::runtime::Handle;

use super::super::mqtt::session::{connect, Broker, Sink, Traffic};
use super::super::workload;
use super::WARM_UP;

/// Key purpose of the raw run's two clients: keys of their own, not funded.
const RAW_KEY_PURPOSE: u8 = 0x7b;

/// Publishes per second the subscriber received over `window`, after the warm-up.
pub(super) async fn raw_rate(
    broker: &Broker,
    publisher_rt: &Handle,
    subscriber_rt: &Handle,
    size: usize,
    window: Duration,
) -> anyhow::Result<f64> {
    let sub_key = workload::keypair(RAW_KEY_PURPOSE, 0);
    let pub_key = workload::keypair(RAW_KEY_PURPOSE, 1);
    let topic = ting_core::topics::inbox(&sub_key.account());
    let (counting, count) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let (on, seen) = (Arc::clone(&counting), Arc::clone(&count));
    let sink = Sink::Call(Box::new(move |_: &[u8]| {
        if on.load(Ordering::Relaxed) {
            seen.fetch_add(1, Ordering::Relaxed);
        }
    }));
    let (b, inbox) = (broker.clone(), topic.clone());
    let subscriber = subscriber_rt
        .spawn(
            async move { connect(&b, &sub_key, "raw", Traffic::Stream, Some(inbox), sink).await },
        )
        .await
        .context("the subscriber's task")??;
    let b = broker.clone();
    let publisher = publisher_rt
        .spawn(
            async move { connect(&b, &pub_key, "raw", Traffic::Stream, None, Sink::Ignore).await },
        )
        .await
        .context("the publisher's task")??;
    let stop = Arc::new(AtomicBool::new(false));
    let (client, halt) = (publisher.client.clone(), Arc::clone(&stop));
    let payload = vec![0xa5u8; size];
    let pump = publisher_rt.spawn(async move {
        while !halt.load(Ordering::Relaxed) {
            let p = payload.clone();
            if client
                .publish(&topic, QoS::AtLeastOnce, false, p)
                .await
                .is_err()
            {
                return;
            }
        }
    });
    tokio::time::sleep(WARM_UP).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(window).await;
    counting.store(false, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    let stopped_early = pump.is_finished();
    stop.store(true, Ordering::Relaxed);
    let _ = pump.await;
    drop((publisher, subscriber));
    anyhow::ensure!(
        !stopped_early,
        "the raw run's publisher lost its connection before the window ended"
    );
    Ok(count.load(Ordering::Relaxed) as f64 / seconds.max(1e-9))
}

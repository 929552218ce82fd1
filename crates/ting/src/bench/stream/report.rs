//! What `ting bench stream` prints: the delivered rate beside the broker's
//! raw rate at one point's size, the half-load latency from reading to
//! opened point, each against issue 13's target, and what the devices did;
//! as a table for people or one JSON object.

use serde_json::json;
use ting_core::stream::chunk::{ChunkBuilder, Position};
use ting_core::stream::epoch::POINT_TAG_BYTES;
use ting_core::stream::point::{Point, PointValue};
use ting_core::stream::StreamId;
use ting_core::{Hash32, Keypair, Timestamp};

use super::super::stats::{format_cores, Latency, ThreadUse};
use super::buyer::BuyerOut;
use super::seller::SellerOut;
use super::{Rate, TARGET_P99_MS, TARGET_RATIO};

/// Bytes of what one reading becomes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sizes {
    /// A Number point, encoded.
    pub point: usize,
    /// Sealed under its epoch's key: what a chunk carries per point, and the
    /// raw run's payload.
    pub sealed_point: usize,
    /// A full chunk, signed and encoded: one MQTT payload.
    pub chunk: usize,
}

impl Sizes {
    pub fn of(chunk_points: usize) -> Sizes {
        let point = Point {
            field: 0,
            value: PointValue::Number {
                value: 0,
                at: Timestamp(0),
            },
        }
        .encode()
        .len();
        let sealed_point = point + POINT_TAG_BYTES;
        let mut chunk = ChunkBuilder::new(StreamId(Hash32::ZERO), 0, Position::START);
        for _ in 0..chunk_points {
            chunk
                .push(vec![0; sealed_point])
                .expect("chunk_points is checked against CHUNK_POINTS_MAX");
        }
        let key = Keypair::from_seed([0; 32]);
        let chunk = chunk.sign(&key, &Hash32::ZERO).0.encode().len();
        Sizes {
            point,
            sealed_point,
            chunk,
        }
    }
}

/// What the three windows measured.
#[derive(Debug)]
pub(super) struct Figures {
    pub raw_per_s: f64,
    pub peak: Rate,
    /// Cores each thread group used over the peak window.
    pub peak_cores: Vec<ThreadUse>,
    /// Cores other processes used over the peak window.
    pub other_cores: f64,
    pub half_per_s_target: u64,
    pub half: Rate,
    /// Whether the buyer opened every pushed point after each run.
    pub drained: bool,
}

#[derive(Debug)]
pub(super) struct Report {
    pub broker: String,
    pub chunk_points: usize,
    pub epoch_points: u32,
    pub window_points: u64,
    pub sizes: Sizes,
    pub figures: Figures,
    /// Points pushed that the buyer never opened (none should be).
    pub unopened: u64,
    pub seller: SellerOut,
    pub buyer: BuyerOut,
}

impl Report {
    fn ratio(&self) -> f64 {
        self.figures.peak.per_s() / self.figures.raw_per_s.max(1e-9)
    }

    /// Timed points opened as their chunk arrived: the key was bought ahead.
    fn deliver(&self) -> Latency {
        Latency::of(self.buyer.on_arrival_us.clone())
    }

    /// Every timed point, those that waited for their epoch's key too.
    fn deliver_all(&self) -> Latency {
        let mut all = self.buyer.on_arrival_us.clone();
        all.extend_from_slice(&self.buyer.key_waited_us);
        Latency::of(all)
    }

    fn refused_chunks(&self) -> u64 {
        self.buyer.stats.refused_chunks.values().sum()
    }

    pub fn json(&self) -> serde_json::Value {
        let f = &self.figures;
        let (d, all) = (self.deliver(), self.deliver_all());
        let key = Latency::of(self.buyer.key_waits_us.clone());
        let cores: serde_json::Map<String, serde_json::Value> = f
            .peak_cores
            .iter()
            .map(|u| (u.name.clone(), json!(u.cores)))
            .collect();
        let mut out = json!({
            "broker": self.broker,
            "broker_kind": "embedded rmqtt",
            "points_per_s": f.peak.per_s(),
            "broker_raw_per_s": f.raw_per_s,
            "ratio": self.ratio(),
            "target_ratio": TARGET_RATIO,
            "deliver_p50_ms": d.p50_ms,
            "deliver_p99_ms": d.p99_ms,
            "deliver_max_ms": d.max_ms,
            "deliver_samples": d.samples,
            "deliver_p99_ms_with_key_waits": all.p99_ms,
            "deliver_max_ms_with_key_waits": all.max_ms,
            "target_p99_ms": TARGET_P99_MS,
            "half_load_points_per_s": f.half.per_s(),
            "half_load_target_per_s": f.half_per_s_target,
            "timed_readings": self.seller.timed_readings,
            "timed_points_waited_for_key": self.buyer.key_waited_us.len(),
            "points_waited_for_key": self.buyer.key_waited,
            "key_wait_p50_ms": key.p50_ms,
            "key_wait_max_ms": key.max_ms,
        });
        let more = json!({
            "chunk_points": self.chunk_points,
            "epoch_points": self.epoch_points,
            "window_points": self.window_points,
            "point_bytes": self.sizes.point,
            "sealed_point_bytes": self.sizes.sealed_point,
            "chunk_bytes": self.sizes.chunk,
            "points": self.buyer.stats.points,
            "chunks": self.buyer.stats.chunks,
            "seller_chunks": self.seller.stats.chunks,
            "refused_chunks": self.refused_chunks(),
            "gaps": self.buyer.stats.gaps,
            "repeats": self.buyer.stats.repeats,
            "epochs_bought": self.buyer.stats.epochs_bought,
            "keys_sold": self.seller.stats.keys_sold,
            "key_refusals": self.buyer.stats.refusals.values().sum::<u64>(),
            "budget_stops": self.buyer.stats.budget_stops,
            "unopened_points": self.unopened,
            "drained": f.drained,
            "paced_held_by_window": self.seller.paced_held,
            "flat_window_wait_s": self.seller.flat_window_wait.as_secs_f64(),
            "link_failures": self.seller.link.failures + self.buyer.link.failures,
            "chunks_dropped": self.seller.chunks_dropped,
            "app_dropped": self.buyer.app_dropped + self.seller.app_dropped,
            "envelopes_refused": {
                "seller": self.seller.refused,
                "buyer": self.buyer.refused,
            },
            "key_refusals_by_code": self.buyer.stats.refusals,
            "foreign_points": self.buyer.foreign,
            "peak_cores": cores,
            "other_cores": f.other_cores,
        });
        if let (Some(out), serde_json::Value::Object(more)) = (out.as_object_mut(), more) {
            out.extend(more);
        }
        out
    }

    pub fn print(&self) {
        let f = &self.figures;
        let (d, all) = (self.deliver(), self.deliver_all());
        let verdict = |met: bool| if met { "MET" } else { "MISSED" };
        println!(
            "ting bench stream: broker {} (embedded rmqtt), one seller device, one buyer device",
            self.broker
        );
        println!(
            "  a reading: {} B point, {} B sealed; a chunk of {} points: {} B, one signature; epochs of {} points",
            self.sizes.point, self.sizes.sealed_point, self.chunk_points, self.sizes.chunk, self.epoch_points
        );
        println!(
            "  broker raw, {:>3} B QoS 1, one pair          {:>9.0} msg/s",
            self.sizes.sealed_point, f.raw_per_s
        );
        println!(
            "  paid, verified points delivered (peak)      {:>9.0} points/s = {:.3} of raw",
            f.peak.per_s(),
            self.ratio()
        );
        println!(
            "  ratio: points / raw = {:.3} (target >= {TARGET_RATIO}: {})",
            self.ratio(),
            verdict(self.ratio() >= TARGET_RATIO)
        );
        println!(
            "  half load, paced at {} readings/s           {:>9.0} points/s",
            f.half_per_s_target,
            f.half.per_s()
        );
        println!(
            "  reading -> opened point, key held ({} points): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 < {TARGET_P99_MS} ms: {})",
            d.samples,
            d.p50_ms,
            d.p99_ms,
            d.max_ms,
            verdict(d.samples > 0 && d.p99_ms < TARGET_P99_MS)
        );
        println!(
            "    {} timed points waited for their epoch's key; with them p99 {:.2} ms, max {:.2} ms",
            self.buyer.key_waited_us.len(),
            all.p99_ms,
            all.max_ms
        );
        println!(
            "  buyer: {} chunks verified, {} points opened, {} epochs bought ({} points waited for a key), {} chunks refused, {} gaps",
            self.buyer.stats.chunks,
            self.buyer.stats.points,
            self.buyer.stats.epochs_bought,
            self.buyer.key_waited,
            self.refused_chunks(),
            self.buyer.stats.gaps
        );
        let key = Latency::of(self.buyer.key_waits_us.clone());
        println!(
            "  a key bought, from the first chunk held to the grant: p50 {:.2} ms, max {:.2} ms",
            key.p50_ms, key.max_ms
        );
        println!(
            "  seller: {} readings, {} chunks signed, {} keys sold; flat out, it waited {:.2} s for the buyer",
            self.seller.stats.readings,
            self.seller.stats.chunks,
            self.seller.stats.keys_sold,
            self.seller.flat_window_wait.as_secs_f64()
        );
        println!(
            "  cores over the peak window: {}; other processes {:.2}",
            format_cores(&f.peak_cores),
            f.other_cores
        );
        let dropped = self.seller.chunks_dropped + self.buyer.app_dropped + self.seller.app_dropped;
        if self.unopened + dropped > 0 || !f.drained {
            println!(
                "  NOT ALL DELIVERED: {} points never opened; dropped: {} chunks by the seller's link, {} messages by the devices",
                self.unopened,
                self.seller.chunks_dropped,
                self.buyer.app_dropped + self.seller.app_dropped
            );
            println!(
                "    key refusals {:?}; envelopes refused by the seller {:?}, by the buyer {:?}; buyer {:?}",
                self.buyer.stats.refusals, self.seller.refused, self.buyer.refused, self.buyer.stats
            );
            println!(
                "    seller link {:?}, outbox {}; buyer link {:?}, outbox {}",
                self.seller.link, self.seller.outbox_len, self.buyer.link, self.buyer.outbox_len
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_an_18_byte_point_sealed_in_34_and_a_chunk_adds_147_bytes_and_2_per_point() {
        let s = Sizes::of(64);
        assert_eq!((s.point, s.sealed_point), (18, 34));
        assert_eq!(s.chunk, 147 + 64 * (2 + 34));
        assert_eq!(Sizes::of(1).chunk, 147 + 2 + 34);
    }
}

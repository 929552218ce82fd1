//! `ting bench stream` end to end with the shortest windows: the real binary
//! sets up its node, broker and two devices, sells a stream through them,
//! and prints one JSON object whose figures say every point went through.
//! Rates and latencies are the machine's; only what must hold on any
//! machine is checked.

#[path = "common/bench.rs"]
mod bench;

#[test]
fn the_stream_benchmark_delivers_every_point_it_pushes_and_prints_its_figures() {
    let report = bench::run(&[
        "bench",
        "stream",
        "--seconds",
        "1",
        "--half-seconds",
        "1",
        "--json",
    ]);
    let number = |key: &str| bench::number(&report, key);
    for key in [
        "points_per_s",
        "broker_raw_per_s",
        "ratio",
        "deliver_p50_ms",
        "deliver_p99_ms",
        "deliver_max_ms",
        "half_load_points_per_s",
    ] {
        assert!(number(key) > 0.0, "{key} in {report}");
    }
    assert_eq!(number("target_ratio"), 0.5);
    assert_eq!(number("target_p99_ms"), 50.0);
    assert_eq!(number("chunk_points"), 64.0);
    assert!(number("epochs_bought") >= 1.0, "{report}");
    assert!(number("chunks") >= 1.0, "{report}");
    assert!(number("deliver_samples") >= 1.0, "{report}");
    for key in [
        "refused_chunks",
        "gaps",
        "unopened_points",
        "chunks_dropped",
        "app_dropped",
    ] {
        assert_eq!(number(key), 0.0, "{key} in {report}");
    }
    assert_eq!(report["drained"], true, "{report}");
}

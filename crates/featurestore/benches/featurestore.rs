//! Feature store benchmark: ingest throughput for 100k synthetic patients and GetRecord
//! latency. `cargo bench -p flow-featurestore` (plain `main`, no harness: the numbers are
//! wall-clock times of whole operations, printed as a table for docs/benchmarks.md).
//!
//! Options after `--`: `--patients N` (default 100000), `--lookups N` (default 20000).

use std::time::{Duration, Instant};

use flow_featurestore::polars::prelude::*;
use flow_featurestore::{AsOf, FeatureStore};

/// A deterministic xorshift generator: the bench needs varied values, not statistical quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `patients` rows: case_id, event_time, `floats` numeric features, 5 categorical columns.
fn cohort(patients: usize, floats: usize, seed: u64, event_time: i64) -> DataFrame {
    let mut rng = Rng(seed | 1);
    let mut columns = vec![
        Column::new("case_id".into(), (0..patients).map(|i| format!("P{i:07}")).collect::<Vec<_>>()),
        Column::new("event_time".into(), vec![event_time; patients]),
    ];
    for f in 0..floats {
        let values: Vec<f64> = (0..patients).map(|_| rng.unit() * 100.0).collect();
        columns.push(Column::new(format!("feature_{f:03}").into(), values));
    }
    let vocab = ["Adenocarcinoma", "Squamous cell carcinoma", "NSCLC NOS", "Not Collected"];
    for c in 0..5 {
        let values: Vec<&str> = (0..patients).map(|_| vocab[(rng.next() % 4) as usize]).collect();
        columns.push(Column::new(format!("category_{c}").into(), values));
    }
    DataFrame::new(patients, columns).expect("columns of equal length")
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let patients = arg("--patients", 100_000);
    let lookups = arg("--lookups", 20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FeatureStore::new(dir.path().join("featurestore"));
    println!("| operation | table | time | rate |");
    println!("|---|---|---|---|");
    for (group, floats) in [("clinical", 40), ("multimodal", 210)] {
        let table = cohort(patients, floats, 42, 1_700_000_000_000);
        let shape = format!("{} x {}", table.height(), table.width());
        let cells = (table.height() * table.width()) as f64;
        let start = Instant::now();
        let receipt = store.ingest(group, "case_id", "event_time", &table).expect("ingest");
        let took = start.elapsed();
        assert!(receipt.new_version);
        println!(
            "| ingest (new version: Parquet + online) | {shape} | {:.2} s | {:.0} rows/s, {:.1} M cells/s |",
            took.as_secs_f64(),
            patients as f64 / took.as_secs_f64(),
            cells / took.as_secs_f64() / 1e6
        );
        let start = Instant::now();
        let again = store.ingest(group, "case_id", "event_time", &table).expect("ingest again");
        assert!(!again.new_version);
        println!("| ingest the same table again (no-op) | {shape} | {:.2} s | |", start.elapsed().as_secs_f64());
        let update = cohort(patients, floats, 43, 1_700_000_000_001);
        let start = Instant::now();
        store.ingest(group, "case_id", "event_time", &update).expect("ingest update");
        let took = start.elapsed();
        println!(
            "| ingest a second version (every record newer) | {shape} | {:.2} s | {:.0} rows/s |",
            took.as_secs_f64(),
            patients as f64 / took.as_secs_f64()
        );
        let start = Instant::now();
        let latest = store.read(group, AsOf::Latest).expect("read");
        assert_eq!(latest.height(), patients);
        println!(
            "| read latest per id over 2 versions (a SQL table) | {shape} | {:.2} s | |",
            start.elapsed().as_secs_f64()
        );

        let online = store.online(group).expect("online");
        let mut rng = Rng(7);
        let ids: Vec<String> = (0..lookups).map(|_| format!("P{:07}", rng.next() as usize % patients)).collect();
        let mut times = Vec::with_capacity(lookups);
        for id in &ids {
            let start = Instant::now();
            let record = online.get(id).expect("get");
            times.push(start.elapsed());
            assert!(record.is_some());
        }
        times.sort();
        println!(
            "| GetRecord, open handle ({lookups} random ids) | {shape} | p50 {} / p99 {} | |",
            micros(percentile(&times, 0.5)),
            micros(percentile(&times, 0.99))
        );
        drop(online);
        let mut cold = Vec::new();
        for id in ids.iter().take(200) {
            let start = Instant::now();
            store.get_record(group, id).expect("get").expect("present");
            cold.push(start.elapsed());
        }
        cold.sort();
        println!(
            "| GetRecord, opening the store each time (as `flow fs get`) | {shape} | p50 {} / p99 {} | |",
            micros(percentile(&cold, 0.5)),
            micros(percentile(&cold, 0.99))
        );
    }
}

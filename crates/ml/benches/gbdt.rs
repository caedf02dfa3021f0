//! GBDT fit on synthetic binary data (100k x 200 by default), to compare with XGBoost's `hist`
//! on the same data, params and thread count. Run by hand:
//!
//!     FLOW_GBDT_BENCH_DATA=/tmp/gbdt-bench cargo bench -p flow-ml --bench gbdt
//!     cd /tmp/gbdt-bench && /path/to/venv/bin/python xgboost_side.py .
//!
//! (`xgboost_side.py`, written next to the data, needs numpy, xgboost and scikit-learn.) Both
//! sides fit 100 rounds of XGBoost's defaults (eta 0.3, depth 6, max_bin 256, base_score from
//! the labels) and report the best wall and CPU time of the repeats and the test AUC. Other
//! processes on the machine skew wall times: compare runs made one after the other.
//!
//! Settings (environment): FLOW_GBDT_BENCH_ROWS (100000), FLOW_GBDT_BENCH_COLS (200),
//! FLOW_GBDT_BENCH_THREADS (2), FLOW_GBDT_BENCH_REPEATS (3), FLOW_GBDT_BENCH_ROUNDS (100).
//! With FLOW_GBDT_BENCH_DATA set, the data is also written there (raw little-endian f32:
//! x_train, y_train, x_test, y_test, plus shape.txt) with the Python side of the comparison.

use std::time::Instant;

use flow_ml::Dataset;
use flow_ml::gbdt::{Gbdt, GbdtParams};
use ndarray::Array2;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// SplitMix64: a fixed, dependency-free stream.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// Gaussian features (5 % missing in every tenth one); the label is Bernoulli of a logistic
/// model on 20 features with two interactions and a threshold effect, so trees have work.
fn synthetic(rows: usize, cols: usize, rng: &mut Rng) -> (Array2<f64>, Vec<f64>) {
    let mut x = Array2::zeros((rows, cols));
    let mut y = Vec::with_capacity(rows);
    let informative = cols.min(20);
    for r in 0..rows {
        for c in 0..cols {
            x[[r, c]] = rng.normal();
        }
        let mut logit = 0.0;
        for c in 0..informative {
            logit += if c % 2 == 0 { 0.4 } else { -0.3 } * x[[r, c]];
        }
        if cols > 3 {
            logit += 0.8 * x[[r, 0]] * x[[r, 1]] + if x[[r, 2]] > 0.5 { 1.0 } else { -0.2 } - 0.5 * x[[r, 3]].abs();
        }
        y.push(f64::from(u8::from(rng.uniform() < 1.0 / (1.0 + (-logit).exp()))));
        for c in (0..cols).step_by(10) {
            if rng.uniform() < 0.05 {
                x[[r, c]] = f64::NAN;
            }
        }
    }
    (x, y)
}

fn auc(y: &[f64], p: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && p[order[j + 1]] == p[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&k| y[k] > 0.5).count() as f64 * mid;
        i = j + 1;
    }
    let pos = y.iter().filter(|&&v| v > 0.5).count() as f64;
    let neg = y.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// This process's CPU time (user + system), from /proc (Linux); 0 elsewhere.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<f64>().ok()).sum();
    ticks / 100.0
}

fn write_f32(path: &std::path::Path, values: impl Iterator<Item = f64>) {
    let bytes: Vec<u8> = values.flat_map(|v| (v as f32).to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

const PYTHON: &str = r#"# The XGBoost side of benches/gbdt.rs: python3 xgboost_side.py DIR
import sys, time, json, numpy as np, xgboost as xgb
from sklearn.metrics import roc_auc_score
d = sys.argv[1]
rows, cols, test_rows, threads, rounds, repeats = map(int, open(f"{d}/shape.txt").read().split())
load = lambda n, r, c: np.fromfile(f"{d}/{n}", dtype="<f4").reshape(r, c)
x, y = load("x_train", rows, cols), load("y_train", rows, 1).ravel()
xt, yt = load("x_test", test_rows, cols), load("y_test", test_rows, 1).ravel()
params = {"objective": "binary:logistic", "tree_method": "hist", "nthread": threads,
          "eta": 0.3, "max_depth": 6, "min_child_weight": 1, "lambda": 1, "max_bin": 256}
times, cpu = [], []
for _ in range(repeats):
    t, c = time.perf_counter(), time.process_time()
    b = xgb.train(params, xgb.DMatrix(x, label=y, nthread=threads), rounds)
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
p = b.predict(xgb.DMatrix(xt, nthread=threads))
print(f"xgboost {xgb.__version__}: fit {min(times):.3f} s wall, {min(cpu):.3f} s CPU (min of {repeats}: "
      f"{[round(t, 3) for t in times]}), DMatrix included; test AUC {roc_auc_score(yt, p):.5f}")
"#;

fn main() {
    let rows = env("FLOW_GBDT_BENCH_ROWS", 100_000);
    let cols = env("FLOW_GBDT_BENCH_COLS", 200);
    let threads = env("FLOW_GBDT_BENCH_THREADS", 2);
    let repeats = env("FLOW_GBDT_BENCH_REPEATS", 3).max(1);
    let rounds = env("FLOW_GBDT_BENCH_ROUNDS", 100);
    let test_rows = rows / 5;
    let mut rng = Rng(42);
    let (x, y) = synthetic(rows, cols, &mut rng);
    let (xt, yt) = synthetic(test_rows, cols, &mut rng);
    let names: Vec<String> = (0..cols).map(|c| format!("f{c}")).collect();
    let ids = (0..rows).map(|r| r.to_string()).collect();
    let train = Dataset::new(ids, names, x, y).expect("shapes");

    if let Ok(dir) = std::env::var("FLOW_GBDT_BENCH_DATA") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("data dir");
        write_f32(&dir.join("x_train"), train.x.iter().copied());
        write_f32(&dir.join("y_train"), train.y.iter().copied());
        write_f32(&dir.join("x_test"), xt.iter().copied());
        write_f32(&dir.join("y_test"), yt.iter().copied());
        let shape = format!("{rows} {cols} {test_rows} {threads} {rounds} {repeats}\n");
        std::fs::write(dir.join("shape.txt"), shape).expect("shape");
        std::fs::write(dir.join("xgboost_side.py"), PYTHON).expect("script");
        println!("data and xgboost_side.py written to {}", dir.display());
    }

    let params = GbdtParams { n_estimators: rounds, ..GbdtParams::default() };
    let (mut times, mut cpu) = (Vec::new(), Vec::new());
    let mut model = None;
    for _ in 0..repeats {
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        model = Some(Gbdt::fit(&train, &params, threads).expect("fit"));
        times.push(start.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - cpu_start);
    }
    let model = model.expect("at least one repeat");
    let start = Instant::now();
    let p = model.predict_proba(&xt).expect("predict");
    let predict = start.elapsed().as_secs_f64();
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "flow gbdt: {rows} x {cols}, {rounds} rounds, depth 6, {threads} threads: fit {:.3} s wall, {:.3} s CPU \
         (min of {repeats}: {times:.3?}); predict {test_rows} rows {predict:.3} s; test AUC {:.5}",
        min(&times),
        min(&cpu),
        auc(&yt, &p)
    );
}

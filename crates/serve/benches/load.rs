//! Load test of `flow serve` against Redis, by hand (numbers go to docs/benchmarks.md):
//!
//! cargo bench -p flow-serve --bench load -- [--patients N] [--seconds S] [--redis PATH]
//!
//! One process, loopback only, bounded in time. It builds a state directory with three feature
//! groups of N patients (default 100,000: 21 genes, 40 clinical, 107 radiomics features) and a
//! 65-component multimodal model bundle, starts the server in-process on its own 2-thread
//! runtime, and drives it open-loop from a second runtime at fixed rates: each request has a
//! scheduled send time and its latency is counted from then, so a stall shows up in the
//! percentiles instead of slowing the load down. Then it loads the same records into a
//! `redis-server` it starts (and stops) and asks for them with HGETALL through the same client
//! code at the same rates. While GetRecord runs at 1k req/s a thread ingests new versions of
//! a group, and the server picks them up. Last, wrong tokens of three kinds are timed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flow_engine::store::StateDir;
use flow_engine::store::runs::{NodeRecord, NodeStatus, RunRecord};
use flow_featurestore::FeatureStore;
use flow_featurestore::polars::prelude::*;
use flow_ml::bundle::{FeatureSource, ModelBundle};
use flow_ml::gbdt::{Gbdt, GbdtParams};
use flow_ml::{Components, Dataset, Pca, StandardScaler};
use flow_serve::{Config, Limits, Server, Token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "load-test-token-0123456789abcdef0123456789";
const GROUPS: [(&str, &str, usize); 3] = [("genomic", "g", 21), ("clinical", "c", 40), ("imaging", "r", 107)];

fn usage(message: &str) -> ! {
    eprintln!(
        "{message}\nusage: cargo bench -p flow-serve --bench load -- [--patients N] [--seconds S] [--redis PATH]"
    );
    std::process::exit(2)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut option = |name: &str| -> Option<String> {
        let at = args.iter().position(|a| a == name)?;
        let value = args.get(at + 1).cloned().unwrap_or_else(|| usage(&format!("{name} needs a value")));
        args.drain(at..at + 2);
        Some(value)
    };
    let number = |v: Option<String>, default: usize| {
        v.map(|v| v.parse().unwrap_or_else(|_| usage("not a number"))).unwrap_or(default)
    };
    let patients = number(option("--patients"), 100_000);
    let seconds = number(option("--seconds"), 10) as u64;
    let redis = option("--redis").unwrap_or_else(|| "redis-server".to_string());
    if !args.is_empty() {
        usage(&format!("unknown arguments {args:?}"));
    }

    let dir = tempfile::tempdir().unwrap_or_else(|e| usage(&format!("temporary directory: {e}")));
    let store = FeatureStore::new(dir.path().join("featurestore"));
    let started = Instant::now();
    for (group, prefix, width) in GROUPS {
        store.ingest(&format!("{group}_s1"), "id", "t", &table(patients, prefix, width, 0)).unwrap();
    }
    println!("ingested 3 groups x {patients} patients in {:.1} s", started.elapsed().as_secs_f64());
    for (group, _, width) in GROUPS {
        let started = Instant::now();
        let snapshot = store.online_snapshot(&format!("{group}_s1")).unwrap();
        println!(
            "snapshot of {group}_s1 ({} records x {width} features) read in {:.0} ms",
            snapshot.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    let model = bundle(patients.min(3000));
    record_run(dir.path(), &model);
    println!(
        "model: {} features -> {} components -> {} trees",
        model.feature_names().len(),
        model.n_components(),
        model.n_trees()
    );

    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let addr = server_rt.block_on(async {
        let server = Server::bind(Config {
            state: StateDir::new(dir.path()),
            addr: "127.0.0.1:0".parse().unwrap(),
            token: Token::new(TOKEN, "the load test").unwrap(),
            refresh: Duration::from_millis(200),
            limits: Limits::default(),
            tls: None,
        })
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(server.run(std::future::pending(), Duration::from_secs(1)));
        addr
    });
    let client = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ids: Arc<Vec<String>> = Arc::new((0..patients).map(id).collect());
    let duration = Duration::from_secs(seconds);
    let mut rows: Vec<(String, Summary)> = Vec::new();

    let get = |i: usize, ids: &[String]| {
        let id = &ids[i * 7919 % ids.len()];
        http("GET", &format!("/v1/groups/imaging_s1/records/{id}"), "")
    };
    let predict = |i: usize, ids: &[String]| {
        let id = &ids[i * 7919 % ids.len()];
        http("POST", "/v1/models/multimodal_s1/predict", &format!("{{\"ids\":[\"{id}\"]}}"))
    };
    let mut phase = |name: &str, addr, rate, connections, request: fn(usize, &[String]) -> Vec<u8>| {
        let summary = client.block_on(drive(addr, rate, duration, connections, Arc::clone(&ids), request));
        rows.push((name.to_string(), summary));
    };
    phase("flow GetRecord, 1k/s", addr, 1_000, 8, get);
    phase("flow GetRecord, 10k/s", addr, 10_000, 32, get);
    phase("flow predict (ids), 1k/s", addr, 1_000, 8, predict);

    // Then again while another thread ingests a new version of the clinical group every
    // second (1,000 patients' records changed), which the server loads after each.
    let ingesting = Arc::new(AtomicBool::new(true));
    let versions = {
        let (store, ingesting, n) = (store.clone(), Arc::clone(&ingesting), patients);
        std::thread::spawn(move || {
            let mut k = 0;
            let mut slowest = Duration::ZERO;
            while ingesting.load(Ordering::Relaxed) {
                k += 1;
                let started = Instant::now();
                let first = (k * 1000) % n;
                let changed = first..(first + 1000).min(n);
                let version = |p: usize| if changed.contains(&p) { k } else { 0 };
                let mut columns = vec![
                    Column::new("id".into(), (0..n).map(id).collect::<Vec<_>>()),
                    Column::new("t".into(), (0..n).map(|p| time(version(p))).collect::<Vec<_>>()),
                ];
                for f in 0..40 {
                    let values: Vec<f64> = (0..n).map(|p| value(p, f + 1000, version(p))).collect();
                    columns.push(Column::new(format!("c{f}").into(), values));
                }
                let table = DataFrame::new(n, columns).unwrap();
                store.ingest("clinical_s1", "id", "t", &table).unwrap();
                slowest = slowest.max(started.elapsed());
                std::thread::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()));
            }
            (k, slowest)
        })
    };
    phase("flow GetRecord, 1k/s, during ingestion", addr, 1_000, 8, get);
    phase("flow predict (ids), 1k/s, during ingestion", addr, 1_000, 8, predict);
    ingesting.store(false, Ordering::Relaxed);
    let (ingested, slowest) = versions.join().unwrap_or_default();
    println!(
        "during ingestion: {ingested} versions of clinical_s1 (1,000 records changed in each; slowest ingestion {:.2} s)",
        slowest.as_secs_f64()
    );

    match Redis::start(&redis) {
        Ok(redis) => {
            let started = Instant::now();
            redis.load(patients);
            println!("loaded Redis in {:.1} s", started.elapsed().as_secs_f64());
            let hgetall = |i: usize, ids: &[String]| {
                let key = format!("imaging:{}", ids[i * 7919 % ids.len()]);
                format!("*2\r\n$7\r\nHGETALL\r\n${}\r\n{key}\r\n", key.len()).into_bytes()
            };
            phase("Redis HGETALL, 1k/s", redis.addr, 1_000, 8, hgetall);
            phase("Redis HGETALL, 10k/s", redis.addr, 10_000, 32, hgetall);
            // The same write load as flow's ingestion: 1,000 records of 40 fields a second.
            let writing = Arc::new(AtomicBool::new(true));
            let writer = {
                let (writing, addr) = (Arc::clone(&writing), redis.addr);
                std::thread::spawn(move || {
                    let mut k = 0;
                    while writing.load(Ordering::Relaxed) {
                        k += 1;
                        let started = Instant::now();
                        let first = (k * 1000) % patients;
                        let mut stream = std::net::TcpStream::connect(addr).unwrap();
                        let commands = hset_commands(first..(first + 1000).min(patients), "clinical", "c", 40, k);
                        std::io::Write::write_all(&mut stream, &commands).unwrap();
                        read_replies(&mut stream, (first..(first + 1000).min(patients)).len());
                        std::thread::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()));
                    }
                })
            };
            phase("Redis HGETALL, 1k/s, during writes", redis.addr, 1_000, 8, hgetall);
            writing.store(false, Ordering::Relaxed);
            let _ = writer.join();
        }
        Err(e) => println!("Redis not measured: {e}"),
    }

    println!(
        "\n{:<44} {:>8} {:>7} {:>8} {:>8} {:>8} {:>12} {:>7}",
        "", "sent", "errors", "p50 ms", "p99 ms", "max ms", "p99 due ms", "rate/s"
    );
    for (name, s) in &rows {
        println!(
            "{name:<44} {:>8} {:>7} {:>8.3} {:>8.3} {:>8.3} {:>12.3} {:>7.0}",
            s.sent, s.errors, s.p50, s.p99, s.max, s.due_p99, s.achieved
        );
    }
    token_timing(&client, addr);
}

fn id(i: usize) -> String {
    format!("P{i:06}")
}

/// Deterministic values in [0, 1): a hash of (patient, feature, version).
fn value(patient: usize, feature: usize, version: usize) -> f64 {
    let mut x = (patient as u64) << 32 ^ (feature as u64) << 8 ^ version as u64 ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn time(version: usize) -> String {
    format!("2026-01-01T{:02}:{:02}:{:02}Z", version / 3600, version / 60 % 60, version % 60)
}

fn table(patients: usize, prefix: &str, width: usize, version: usize) -> DataFrame {
    let mut columns = vec![
        Column::new("id".into(), (0..patients).map(id).collect::<Vec<_>>()),
        Column::new("t".into(), vec![time(version); patients]),
    ];
    for f in 0..width {
        let values: Vec<f64> = (0..patients).map(|p| value(p, f + prefix.len() * 1000, version)).collect();
        columns.push(Column::new(format!("{prefix}{f}").into(), values));
    }
    DataFrame::new(patients, columns).unwrap()
}

/// A multimodal model over all three groups: 65 components, 100 trees of depth 3.
fn bundle(train: usize) -> ModelBundle {
    let mut names = Vec::new();
    let mut sources = Vec::new();
    for (group, prefix, width) in GROUPS {
        for f in 0..width {
            names.push(format!("{prefix}{f}"));
            sources.push(FeatureSource { feature: format!("{prefix}{f}"), group: format!("{group}_s1") });
        }
    }
    let offsets: Vec<usize> =
        GROUPS.iter().flat_map(|(_, prefix, width)| (0..*width).map(move |f| f + prefix.len() * 1000)).collect();
    let x = ndarray::Array2::from_shape_fn((train, names.len()), |(p, f)| value(p, offsets[f], 0));
    let y = (0..train).map(|p| f64::from(u8::from(x[(p, 0)] + x[(p, 30)] > 1.0))).collect();
    let data = Dataset::new((0..train).map(id).collect(), names, x, y).unwrap();
    let scaler = StandardScaler::fit(&data).unwrap();
    let scaled = scaler.transform(&data).unwrap();
    let pca = Pca::fit(&scaled, Components::Count(65)).unwrap();
    let params = GbdtParams { n_estimators: 100, max_depth: 3, eta: 0.1, ..GbdtParams::default() };
    let gbdt = Gbdt::fit(&pca.transform(&scaled).unwrap(), &params, 2).unwrap();
    ModelBundle::new("multimodal_s1", sources, scaler, pca, gbdt).unwrap()
}

/// Stores the bundle and a run record naming it, as `flow run` would.
fn record_run(state: &Path, bundle: &ModelBundle) {
    let bytes = bundle.to_json().unwrap();
    let digest = blake3::hash(bytes.as_bytes()).to_hex().to_string();
    let object = state.join("cas").join(&digest[..2]).join(&digest[2..]);
    std::fs::create_dir_all(object.parent().unwrap()).unwrap();
    std::fs::write(&object, bytes).unwrap();
    let node = NodeRecord {
        name: "multimodal_bundle".into(),
        kind: "ml.bundle".into(),
        status: NodeStatus::Ran,
        seconds: 0.0,
        key: None,
        outputs: BTreeMap::from([("bundle".to_string(), digest)]),
        error: None,
        log: None,
        attempts: 1,
        repaired: None,
        items: None,
        jobs: Vec::new(),
    };
    std::fs::create_dir_all(state.join("runs")).unwrap();
    RunRecord {
        id: "20261204T000000.000Z-1".into(),
        workflow: "load.yaml".into(),
        name: "load".into(),
        started: "2026-12-04 00:00:00 UTC".into(),
        seconds: 0.0,
        status: "ok".into(),
        warnings: Vec::new(),
        nodes: vec![node],
    }
    .save(&StateDir::new(state))
    .unwrap();
}

fn http(method: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[derive(Default)]
struct Summary {
    sent: usize,
    errors: usize,
    p50: f64,
    p99: f64,
    max: f64,
    /// p99 counted from the time the request was due rather than sent: includes waiting for a
    /// busy connection, and up to 1 ms of the client's timer granularity.
    due_p99: f64,
    achieved: f64,
}

/// Sends `rate` requests a second for `duration` over `connections` keep-alive connections;
/// request i is due at start + i / rate, and its latency runs from then to its whole answer.
async fn drive(
    addr: SocketAddr,
    rate: usize,
    duration: Duration,
    connections: usize,
    ids: Arc<Vec<String>>,
    request: impl Fn(usize, &[String]) -> Vec<u8> + Send + Sync + Copy + 'static,
) -> Summary {
    let total = rate * duration.as_secs() as usize;
    let next = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, ids) = (Arc::clone(&next), Arc::clone(&ids));
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<(f64, f64)> = Vec::new();
            let mut errors = 0;
            let Ok(mut stream) = TcpStream::connect(addr).await else { return (latencies, total) };
            let _ = stream.set_nodelay(true);
            let mut buffer = Vec::with_capacity(64 * 1024);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let due = start + interval * i as u32;
                tokio::time::sleep_until(due).await;
                let sent = Instant::now();
                let ok =
                    stream.write_all(&request(i, &ids)).await.is_ok() && read_answer(&mut stream, &mut buffer).await;
                latencies.push((sent.elapsed().as_secs_f64() * 1e3, due.elapsed().as_secs_f64() * 1e3));
                if !ok {
                    errors += 1;
                    match TcpStream::connect(addr).await {
                        Ok(fresh) => stream = fresh,
                        Err(_) => break,
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut all: Vec<(f64, f64)> = Vec::with_capacity(total);
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.unwrap_or_default();
        all.extend(latencies);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let quantiles = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values.get(((values.len() as f64 * q) as usize).min(values.len().saturating_sub(1))).copied();
        [at(0.5), at(0.99), values.last().copied()].map(|v| v.unwrap_or(f64::NAN))
    };
    let [p50, p99, max] = quantiles(all.iter().map(|l| l.0).collect());
    let [_, due_p99, _] = quantiles(all.iter().map(|l| l.1).collect());
    Summary {
        sent: all.len(),
        errors: errors + total.saturating_sub(all.len()),
        p50,
        p99,
        max,
        due_p99,
        achieved: all.len() as f64 / elapsed,
    }
}

/// Reads one whole answer, HTTP (status 200 and Content-Length) or RESP (an array of bulk
/// strings, as HGETALL answers); false on an error status or a broken connection.
async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    buffer.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(done) = complete(buffer) {
            return done;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// `Some(ok)` once `buffer` holds one whole answer.
fn complete(buffer: &[u8]) -> Option<bool> {
    if buffer.starts_with(b"HTTP/1.1 ") {
        let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = std::str::from_utf8(&buffer[..end]).ok()?;
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))?
            .parse()
            .ok()?;
        return (buffer.len() >= end + length).then(|| head.starts_with("HTTP/1.1 200"));
    }
    if buffer.first() == Some(&b'*') {
        let mut lines = buffer.split(|&b| b == b'\n');
        let count: usize = std::str::from_utf8(lines.next()?).ok()?.trim()[1..].parse().ok()?;
        let mut at = buffer.iter().position(|&b| b == b'\n')? + 1;
        for _ in 0..count {
            let line_end = at + buffer[at..].iter().position(|&b| b == b'\n')?;
            let length: usize = std::str::from_utf8(&buffer[at + 1..line_end]).ok()?.trim().parse().ok()?;
            at = line_end + 1 + length + 2;
            if at > buffer.len() {
                return None;
            }
        }
        return Some(count > 0);
    }
    (!buffer.is_empty()).then_some(false)
}

/// A `redis-server` of our own on a free loopback port, without persistence; killed and reaped
/// on drop, and by the kernel should the harness die first.
struct Redis {
    child: Child,
    addr: SocketAddr,
}

impl Redis {
    fn start(program: &str) -> Result<Redis, String> {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let mut command = Command::new(program);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            // Its own process group, out of reach of the terminal's Ctrl-C; killed by the
            // kernel if the harness dies without running Drop (SIGKILL, abort).
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches only the child being started.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child =
            command.spawn().map_err(|e| format!("{program}: {e} (apt install redis-server, or --redis PATH)"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        for _ in 0..200 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Ok(Redis { child, addr });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!("{program} did not start listening on {addr}"))
    }

    /// HSET imaging:ID r0 v r1 v ... for every patient, pipelined by the thousand.
    fn load(&self, patients: usize) {
        let mut stream = std::net::TcpStream::connect(self.addr).unwrap();
        let (_, prefix, width) = GROUPS[2];
        for first in (0..patients).step_by(1000) {
            let batch = first..(first + 1000).min(patients);
            std::io::Write::write_all(&mut stream, &hset_commands(batch.clone(), "imaging", prefix, width, 0)).unwrap();
            read_replies(&mut stream, batch.len());
        }
    }
}

/// One pipelined HSET per patient of `patients`: key GROUP:ID, fields PREFIX0.. with version
/// `version`'s values (the same values the feature groups hold).
fn hset_commands(patients: std::ops::Range<usize>, group: &str, prefix: &str, width: usize, version: usize) -> Vec<u8> {
    let mut out = String::new();
    for p in patients {
        let key = format!("{group}:{}", id(p));
        out.push_str(&format!("*{}\r\n$4\r\nHSET\r\n${}\r\n{key}\r\n", 2 + 2 * width, key.len()));
        for f in 0..width {
            let field = format!("{prefix}{f}");
            let v = value(p, f + prefix.len() * 1000, version).to_string();
            out.push_str(&format!("${}\r\n{field}\r\n${}\r\n{v}\r\n", field.len(), v.len()));
        }
    }
    out.into_bytes()
}

/// Reads `n` integer replies (":N\r\n", one line each).
fn read_replies(stream: &mut std::net::TcpStream, n: usize) {
    let mut lines = 0;
    let mut buffer = [0u8; 64 * 1024];
    while lines < n {
        match std::io::Read::read(stream, &mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => lines += buffer[..read].iter().filter(|&&b| b == b'\n').count(),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Median answer times of refused requests whose token is wrong in its first byte, in its
/// last byte, or in its length: a server that compared byte by byte would refuse the first
/// kind soonest.
fn token_timing(client: &tokio::runtime::Runtime, addr: SocketAddr) {
    let mut first = TOKEN.as_bytes().to_vec();
    first[0] ^= 1;
    let mut last = TOKEN.as_bytes().to_vec();
    *last.last_mut().unwrap() ^= 1;
    let kinds = [
        ("wrong first byte", String::from_utf8(first).unwrap()),
        ("wrong last byte", String::from_utf8(last).unwrap()),
        ("one byte short", TOKEN[1..].to_string()),
    ];
    println!("\ntoken timing: 5 rounds of 2,000 requests of each kind, interleaved; median and p90 in microseconds");
    let medians = client.block_on(async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let _ = stream.set_nodelay(true);
        let mut buffer = Vec::new();
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
        for _ in 0..5 {
            for i in 0..2000 * kinds.len() {
                let (_, token) = &kinds[i % kinds.len()];
                let request = format!("GET /v1/groups HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {token}\r\n\r\n");
                let started = Instant::now();
                stream.write_all(request.as_bytes()).await.unwrap();
                read_whole(&mut stream, &mut buffer).await;
                times[i % kinds.len()].push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
        times
    });
    for ((name, _), mut t) in kinds.iter().zip(medians) {
        t.sort_by(f64::total_cmp);
        println!("  {name:<18} median {:>7.1}  p90 {:>7.1}", t[t.len() / 2], t[t.len() * 9 / 10]);
    }
}

/// Reads one HTTP answer whatever its status.
async fn read_whole(stream: &mut TcpStream, buffer: &mut Vec<u8>) {
    buffer.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse().ok()))
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

//! The server as a client sees it: real TCP on the loopback address, raw HTTP/1.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use flow_engine::store::StateDir;
use flow_featurestore::FeatureStore;
use flow_featurestore::polars::prelude::*;
use flow_serve::{Config, Limits, Server, Token};
use serde_json::{Value, json};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A state directory whose feature store the test fills.
fn state() -> (tempfile::TempDir, FeatureStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FeatureStore::new(dir.path().join("featurestore"));
    (dir, store)
}

fn start(state: &tempfile::TempDir, limits: Limits) -> Running {
    start_with(state, limits, None)
}

fn start_with(state: &tempfile::TempDir, limits: Limits, tls: Option<flow_serve::tls::TlsFiles>) -> Running {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = StateDir::new(state.path());
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let server = Server::bind(Config {
                state,
                addr: "127.0.0.1:0".parse().unwrap(),
                token: Token::new(TOKEN, "test").unwrap(),
                refresh: Duration::from_millis(10),
                limits,
                tls,
            })
            .await
            .unwrap();
            addr_tx.send(server.local_addr().unwrap()).unwrap();
            server.run(async { stop_rx.await.unwrap_or(()) }, Duration::from_secs(5)).await.unwrap();
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    Running { addr, stop: Some(stop_tx), thread: Some(thread) }
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, extra: &str, body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = headers.split(' ').nth(1).unwrap().parse().unwrap();
    Reply { status, headers: headers.to_string(), body: body.to_string() }
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, Some(TOKEN), "", b"")
}

fn post(addr: SocketAddr, path: &str, body: &str) -> Reply {
    request(addr, "POST", path, Some(TOKEN), "Content-Type: application/json\r\n", body.as_bytes())
}

/// A clinical-like group: three patients with an age and a smoking flag.
fn clinical(store: &FeatureStore) {
    let table = df!(
        "case_id" => ["R01-001", "R01-002", "R01 003/x"],
        "event_time" => ["2026-01-01T00:00:00Z"; 3],
        "age" => [61.5, 70.0, 55.25],
        "smoker" => [true, false, true],
    )
    .unwrap();
    store.ingest("clinical_s42", "case_id", "event_time", &table).unwrap();
}

#[test]
fn requests_without_the_token_get_401_and_no_data() {
    let (dir, store) = state();
    clinical(&store);
    let server = start(&dir, Limits::default());
    for token in [None, Some("wrong"), Some(&TOKEN[1..]), Some("0123456789abcdef0123456789abcdeF")] {
        for path in ["/v1/groups", "/v1/groups/clinical_s42/records/R01-001", "/metrics", "/nowhere"] {
            let reply = request(server.addr, "GET", path, token, "", b"");
            assert_eq!(reply.status, 401, "{path} with {token:?}");
            assert!(reply.headers.contains("www-authenticate: Bearer"), "{}", reply.headers);
            assert!(!reply.body.contains("R01") && !reply.body.contains("61.5") && !reply.body.contains("clinical"));
        }
    }
    let reply = request(server.addr, "GET", "/v1/groups", None, &format!("Authorization: Basic {TOKEN}\r\n"), b"");
    assert_eq!(reply.status, 401);
    // Health needs no token and says nothing else.
    let health = request(server.addr, "GET", "/healthz", None, "", b"");
    assert_eq!((health.status, health.json()), (200, json!({ "status": "ok" })));
    // The scheme is case-insensitive, as RFC 7235 says.
    let reply = request(server.addr, "GET", "/v1/groups", None, &format!("authorization: bearer {TOKEN}\r\n"), b"");
    assert_eq!(reply.status, 200);
}

#[test]
fn get_record_answers_the_latest_record_and_selected_features() {
    let (dir, store) = state();
    clinical(&store);
    let server = start(&dir, Limits::default());

    let groups = get(server.addr, "/v1/groups").json();
    assert_eq!(groups["groups"][0]["name"], "clinical_s42");
    assert_eq!(groups["groups"][0]["records"], 3);
    assert_eq!(groups["groups"][0]["features"][2], json!({ "name": "age", "type": "f64" }));

    let record = get(server.addr, "/v1/groups/clinical_s42/records/R01-002").json();
    assert_eq!(record["id"], "R01-002");
    assert_eq!(record["version"], 1);
    assert_eq!(record["features"]["age"], 70.0);
    assert_eq!(record["features"]["smoker"], false);
    // An id with a space and a slash, percent-encoded in the path.
    let odd = get(server.addr, "/v1/groups/clinical_s42/records/R01%20003%2Fx").json();
    assert_eq!(odd["features"]["age"], 55.25);

    let selected = get(server.addr, "/v1/groups/clinical_s42/records/R01-001?features=smoker,age").json();
    assert_eq!(selected["features"], json!({ "age": 61.5, "smoker": true }));

    let unknown = get(server.addr, "/v1/groups/clinical_s42/records/R01-001?features=age,weight");
    assert_eq!((unknown.status, unknown.code()), (400, "unknown_feature".to_string()));
    assert!(unknown.body.contains("'weight'"), "{}", unknown.body);
    let param = get(server.addr, "/v1/groups/clinical_s42/records/R01-001?feature=age");
    assert_eq!((param.status, param.code()), (400, "unknown_parameter".to_string()));

    let no_group = get(server.addr, "/v1/groups/imaging_s42/records/R01-001");
    assert_eq!((no_group.status, no_group.code()), (404, "unknown_group".to_string()));
    assert!(no_group.body.contains("clinical_s42"), "names the groups there are: {}", no_group.body);
    let no_id = get(server.addr, "/v1/groups/clinical_s42/records/R01-999");
    assert_eq!((no_id.status, no_id.code()), (404, "unknown_record".to_string()));
    let long = get(server.addr, &format!("/v1/groups/clinical_s42/records/{}", "x".repeat(300)));
    assert_eq!((long.status, long.code()), (400, "id_too_long".to_string()));
    let wrong_method = post(server.addr, "/v1/groups/clinical_s42/records/R01-001", "{}");
    assert_eq!(wrong_method.status, 405);
    assert!(wrong_method.headers.contains("allow: GET"), "{}", wrong_method.headers);
}

#[test]
fn batch_get_answers_many_ids_and_refuses_malformed_requests() {
    let (dir, store) = state();
    clinical(&store);
    let limits = Limits { max_body_bytes: 4096, max_id_bytes: 64, max_batch: 5 };
    let server = start(&dir, limits);
    let path = "/v1/groups/clinical_s42/records:batchGet";

    let both = post(server.addr, path, r#"{"ids": ["R01-001", "nobody", "R01-002"], "features": ["age"]}"#).json();
    assert_eq!(both["records"].as_array().unwrap().len(), 2);
    assert_eq!(both["records"][1]["features"], json!({ "age": 70.0 }));
    assert_eq!(both["not_found"], json!(["nobody"]));

    let cases: [(&str, u16, &str); 7] = [
        (r#"{"ids": ["R01-001""#, 400, "malformed_json"),
        (r#"{"ids": [1, 2]}"#, 400, "bad_request"),
        (r#"{"ids": ["R01-001"], "colour": 1}"#, 400, "bad_request"),
        (r#"{"ids": []}"#, 400, "bad_request"),
        (r#"{"ids": ["a", "b", "c", "d", "e", "f"]}"#, 400, "too_many_ids"),
        (r#"{"ids": ["R01-001"], "features": ["height"]}"#, 400, "unknown_feature"),
        (
            r#"{"ids": ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]}"#,
            400,
            "id_too_long",
        ),
    ];
    for (body, status, code) in cases {
        let reply = post(server.addr, path, body);
        assert_eq!((reply.status, reply.code()), (status, code.to_string()), "{body}: {}", reply.body);
        assert!(!reply.json()["error"]["message"].as_str().unwrap().is_empty());
    }
    let wrong_type = post(server.addr, path, r#"{"ids": [1, 2]}"#);
    assert!(wrong_type.body.contains("expected a string"), "says what is wrong: {}", wrong_type.body);

    let big = format!(r#"{{"ids": ["{}"]}}"#, "x".repeat(5000));
    let reply = post(server.addr, path, &big);
    assert_eq!((reply.status, reply.code()), (413, "body_too_large".to_string()));
    let form = request(server.addr, "POST", path, Some(TOKEN), "Content-Type: text/plain\r\n", b"ids=1");
    assert_eq!((form.status, form.code()), (415, "unsupported_media_type".to_string()));
}

#[test]
fn metrics_count_requests_by_route_and_status() {
    let (dir, store) = state();
    clinical(&store);
    let server = start(&dir, Limits::default());
    get(server.addr, "/v1/groups/clinical_s42/records/R01-001");
    get(server.addr, "/v1/groups/clinical_s42/records/R01-404");
    let text = get(server.addr, "/metrics").body;
    assert!(text.contains("flow_serve_requests_total{route=\"get_record\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("flow_serve_requests_total{route=\"get_record\",status=\"404\"} 1"), "{text}");
    assert!(text.contains("flow_serve_errors_total{route=\"get_record\"} 1"), "{text}");
    assert!(text.contains("flow_serve_records 3"), "{text}");
    assert!(!text.contains("R01"), "no id reaches the metrics");
}

/// Version k of every record has every feature equal to k: a reader that ever sees two
/// different numbers in one record has seen a torn record.
#[test]
fn reads_during_ingestion_see_whole_records_and_new_versions_arrive() {
    let (dir, store) = state();
    let ids: Vec<String> = (0..200).map(|i| format!("P{i:04}")).collect();
    let version = |k: u32| {
        let value = vec![f64::from(k); ids.len()];
        let time = vec![format!("2026-01-01T00:00:{k:02}Z"); ids.len()];
        df!("id" => &ids, "t" => time, "a" => &value, "b" => &value, "c" => &value).unwrap()
    };
    store.ingest("g", "id", "t", &version(1)).unwrap();
    let server = start(&dir, Limits::default());
    let addr = server.addr;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) || reads < 50 {
                let body = r#"{"ids": ["P0000", "P0100", "P0199"]}"#;
                let reply = post(addr, "/v1/groups/g/records:batchGet", body);
                assert_eq!(reply.status, 200, "{}", reply.body);
                for record in reply.json()["records"].as_array().unwrap() {
                    let f = &record["features"];
                    assert!(f["a"] == f["b"] && f["b"] == f["c"], "torn record: {record}");
                    seen.insert(f["a"].as_f64().unwrap() as u32);
                }
                reads += 1;
            }
            (seen, reads)
        })
    };
    for k in 2..=12 {
        store.ingest("g", "id", "t", &version(k)).unwrap();
        std::thread::sleep(Duration::from_millis(15));
    }
    // The last version is what a reader gets once the server has looked again.
    std::thread::sleep(Duration::from_millis(200));
    done.store(true, Ordering::Relaxed);
    let (seen, reads) = reader.join().unwrap();
    assert!(seen.len() >= 2, "the server picked up new versions while serving ({reads} reads saw {seen:?})");
    let last = get(addr, "/v1/groups/g/records/P0042").json();
    assert_eq!((last["version"].as_u64(), last["features"]["c"].as_f64()), (Some(12), Some(12.0)));
}

#[test]
fn a_group_ingested_after_start_is_served_without_restart() {
    let (dir, store) = state();
    let server = start(&dir, Limits::default());
    assert_eq!(get(server.addr, "/v1/groups").json()["groups"], json!([]));
    clinical(&store);
    let mut found = 0;
    for _ in 0..200 {
        found = get(server.addr, "/v1/groups").json()["groups"].as_array().unwrap().len();
        if found == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(found, 1);
    store.drop_group("clinical_s42").unwrap();
    let mut status = 200;
    for _ in 0..200 {
        status = get(server.addr, "/v1/groups/clinical_s42/records/R01-001").status;
        if status == 404 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(status, 404, "a dropped group is no longer served");
}

mod models {
    use super::*;
    use flow_engine::store::runs::{NodeRecord, NodeStatus, RunRecord};
    use flow_ml::bundle::{FeatureSource, ModelBundle};
    use flow_ml::gbdt::{Gbdt, GbdtParams};
    use flow_ml::{Components, Dataset, Pca, StandardScaler};
    use std::collections::BTreeMap;

    const FEATURES: [&str; 3] = ["age", "pack_years", "ACTB"];

    /// Patient i's three features; clinical ones in one group, the gene in another.
    fn row(i: usize) -> [f64; 3] {
        [40.0 + (i * 7 % 41) as f64, (i * 13 % 29) as f64 * 1.5, ((i * 5 % 11) as f64).sqrt()]
    }

    fn bundle(name: &str, rounds: usize) -> ModelBundle {
        let n = 60;
        let x = ndarray::Array2::from_shape_fn((n, 3), |(i, f)| row(i)[f]);
        let y = (0..n).map(|i| f64::from(u8::from(row(i)[0] + row(i)[1] > 70.0))).collect();
        let ids = (0..n).map(|i| format!("P{i:03}")).collect();
        let train = Dataset::new(ids, FEATURES.map(String::from).to_vec(), x, y).unwrap();
        let scaler = StandardScaler::fit(&train).unwrap();
        let scaled = scaler.transform(&train).unwrap();
        let pca = Pca::fit(&scaled, Components::VarianceTarget(0.99)).unwrap();
        let params = GbdtParams { n_estimators: rounds, max_depth: 2, ..GbdtParams::default() };
        let gbdt = Gbdt::fit(&pca.transform(&scaled).unwrap(), &params, 1).unwrap();
        let sources = FEATURES
            .iter()
            .map(|f| FeatureSource {
                feature: f.to_string(),
                group: if *f == "ACTB" { "genomic" } else { "clinical" }.into(),
            })
            .collect();
        ModelBundle::new(name, sources, scaler, pca, gbdt).unwrap()
    }

    /// Stores `bundle` as a run's `ml.bundle` output would be stored; returns its digest.
    fn record_run(state: &std::path::Path, run: &str, bundle: &ModelBundle) -> String {
        let bytes = bundle.to_json().unwrap();
        let digest = blake3::hash(bytes.as_bytes()).to_hex().to_string();
        let object = state.join("cas").join(&digest[..2]).join(&digest[2..]);
        std::fs::create_dir_all(object.parent().unwrap()).unwrap();
        std::fs::write(&object, bytes).unwrap();
        let node = NodeRecord {
            name: format!("{}_bundle", bundle.name()),
            kind: "ml.bundle".into(),
            status: NodeStatus::Ran,
            seconds: 0.01,
            key: None,
            outputs: BTreeMap::from([("bundle".to_string(), digest.clone())]),
            error: None,
            log: None,
            attempts: 1,
            repaired: None,
            items: None,
            jobs: Vec::new(),
        };
        let record = RunRecord {
            id: run.into(),
            workflow: "w.yaml".into(),
            name: "w".into(),
            started: "2026-12-04 12:00:00 UTC".into(),
            seconds: 1.0,
            status: "ok".into(),
            warnings: Vec::new(),
            nodes: vec![node],
        };
        std::fs::create_dir_all(state.join("runs")).unwrap();
        record.save(&StateDir::new(state)).unwrap();
        digest
    }

    fn ingest(store: &FeatureStore, n: usize) {
        let ids: Vec<String> = (0..n).map(|i| format!("P{i:03}")).collect();
        let times = vec!["2026-01-01T00:00:00Z"; n];
        let column = |f: usize| (0..n).map(|i| row(i)[f]).collect::<Vec<f64>>();
        let clinical = df!("case_id" => &ids, "t" => &times, "age" => column(0), "pack_years" => column(1)).unwrap();
        let genomic = df!("case_id" => &ids, "t" => &times, "ACTB" => column(2)).unwrap();
        store.ingest("clinical", "case_id", "t", &clinical).unwrap();
        store.ingest("genomic", "case_id", "t", &genomic).unwrap();
    }

    #[test]
    fn predictions_by_id_and_by_values_equal_the_bundle_on_the_same_rows() {
        let (dir, store) = state();
        ingest(&store, 10);
        let model = bundle("clinical_risk", 20);
        let digest = record_run(dir.path(), "20261204T120000.000Z-1", &model);
        let server = start(&dir, Limits::default());

        let listed = get(server.addr, "/v1/models").json();
        assert_eq!(listed["models"][0]["name"], "clinical_risk");
        assert_eq!(listed["models"][0]["digest"], digest.as_str());
        assert_eq!(listed["models"][0]["run"], "20261204T120000.000Z-1");
        assert_eq!(listed["models"][0]["groups"], json!(["clinical", "genomic"]));

        let ids = ["P003", "P007", "P001"];
        let x = ndarray::Array2::from_shape_fn((3, 3), |(r, f)| row([3, 7, 1][r])[f]);
        let expected = model.predict(x.view()).unwrap();
        let by_id = post(server.addr, "/v1/models/clinical_risk/predict", &json!({ "ids": ids }).to_string()).json();
        assert_eq!(by_id["digest"], digest.as_str());
        let rows: Vec<Value> = [3, 7, 1]
            .iter()
            .map(|&i| json!({ "age": row(i)[0], "pack_years": row(i)[1], "ACTB": row(i)[2] }))
            .collect();
        let by_value =
            post(server.addr, "/v1/models/clinical_risk/predict", &json!({ "rows": rows }).to_string()).json();
        for (i, p) in expected.iter().enumerate() {
            assert_eq!(by_id["predictions"][i]["id"], ids[i]);
            assert_eq!(by_id["predictions"][i]["probability"].as_f64(), Some(*p), "by id, row {i}");
            assert_eq!(by_value["predictions"][i]["row"], i);
            assert_eq!(by_value["predictions"][i]["probability"].as_f64(), Some(*p), "by value, row {i}");
        }
    }

    #[test]
    fn bad_predict_requests_say_what_is_wrong() {
        let (dir, store) = state();
        ingest(&store, 5);
        record_run(dir.path(), "20261204T120000.000Z-1", &bundle("m", 5));
        let server = start(&dir, Limits::default());
        let path = "/v1/models/m/predict";
        let cases: [(&str, u16, &str); 7] = [
            (r#"{"ids": ["P001"], "rows": []}"#, 400, "bad_request"),
            (r#"{}"#, 400, "bad_request"),
            (r#"{"ids": ["P404"]}"#, 404, "unknown_record"),
            (r#"{"rows": [{"age": 50, "pack_years": 1}]}"#, 400, "missing_feature"),
            (r#"{"rows": [{"age": 50, "pack_years": 1, "ACTB": 2, "EGFR": 1}]}"#, 400, "unknown_feature"),
            (r#"{"rows": [{"age": "fifty", "pack_years": 1, "ACTB": 2}]}"#, 400, "wrong_type"),
            (r#"{"rows": [{"age": 50, "pack_years": 1, "ACTB": 2}"#, 400, "malformed_json"),
        ];
        for (body, status, code) in cases {
            let reply = post(server.addr, path, body);
            assert_eq!((reply.status, reply.code()), (status, code.to_string()), "{body}: {}", reply.body);
        }
        let unknown = post(server.addr, "/v1/models/other/predict", r#"{"ids": ["P001"]}"#);
        assert_eq!((unknown.status, unknown.code()), (404, "unknown_model".to_string()));
        assert!(unknown.body.contains("models served: m"), "{}", unknown.body);
    }

    #[test]
    fn a_newer_run_replaces_a_model_and_a_corrupt_bundle_is_never_served() {
        let (dir, store) = state();
        ingest(&store, 5);
        let first = record_run(dir.path(), "20261204T120000.000Z-1", &bundle("m", 5));
        let server = start(&dir, Limits::default());
        let served = |addr| get(addr, "/v1/models").json()["models"][0]["digest"].as_str().map(str::to_string);
        assert_eq!(served(server.addr), Some(first.clone()));

        // A later run bundles a different model under the same name: served without restart.
        let second = record_run(dir.path(), "20261204T130000.000Z-2", &bundle("m", 9));
        let mut now = None;
        for _ in 0..300 {
            now = served(server.addr);
            if now.as_deref() == Some(second.as_str()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(now, Some(second));

        // A third run's bundle whose stored bytes were changed afterwards: refused, and the
        // second stays in service.
        let third = record_run(dir.path(), "20261204T140000.000Z-3", &bundle("m", 12));
        let object = dir.path().join("cas").join(&third[..2]).join(&third[2..]);
        let text = std::fs::read_to_string(&object).unwrap().replacen("\"m\"", "\"n\"", 1);
        std::fs::write(&object, text).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let listed = get(server.addr, "/v1/models").json();
        assert_eq!(listed["models"].as_array().unwrap().len(), 1, "{listed}");
        assert_ne!(listed["models"][0]["digest"], third.as_str());
    }
}

/// tests/data/localhost.{crt,key}: a self-signed test certificate made for these tests with
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
/// -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1
/// -addext basicConstraints=critical,CA:FALSE -addext keyUsage=critical,digitalSignature
/// -addext extendedKeyUsage=serverAuth -keyout localhost.key -out localhost.crt`.
#[test]
fn with_a_certificate_the_server_speaks_https_only() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;

    let (dir, store) = state();
    clinical(&store);
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let tls = flow_serve::tls::TlsFiles { cert: data.join("localhost.crt"), key: data.join("localhost.key") };
    let server = start_with(&dir, Limits::default(), Some(tls));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let answer = runtime.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_file_iter(data.join("localhost.crt")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let request = format!(
            "GET /v1/groups/clinical_s42/records/R01-001 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Authorization: Bearer {TOKEN}\r\n\r\n"
        );
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let _ = tls.read_to_end(&mut raw).await;
        String::from_utf8(raw).unwrap()
    });
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"age\":61.5"), "{answer}");

    // Plain HTTP to the HTTPS port gets no answer it could read.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").as_bytes());
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("HTTP/1.1 200"), "plain HTTP was answered");
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("other.key");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nnotakey\n-----END PRIVATE KEY-----\n").unwrap();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let error = runtime
        .block_on(Server::bind(Config {
            state: StateDir::new(dir.path()),
            addr: "127.0.0.1:0".parse().unwrap(),
            token: Token::new(TOKEN, "test").unwrap(),
            refresh: Duration::from_millis(10),
            limits: Limits::default(),
            tls: Some(flow_serve::tls::TlsFiles { cert: data.join("localhost.crt"), key: key.clone() }),
        }))
        .err()
        .unwrap();
    assert!(error.to_string().contains("other.key"), "{error}");
}

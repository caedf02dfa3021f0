//! Behaviour of the store as a whole: idempotency, versions, drift, online vs offline, as-of
//! reads, deletes, SQL. Latency is measured in benches/, not here.

use std::os::unix::fs::PermissionsExt;

use polars::prelude::*;
use serde_json::json;

use super::*;

fn store() -> (tempfile::TempDir, FeatureStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FeatureStore::new(dir.path().join("featurestore"));
    (dir, store)
}

fn clinical(ages: [i64; 3], time: i64) -> DataFrame {
    df!("case_id" => ["R01-001", "R01-002", "R01-003"], "age" => ages, "event_time" => [time; 3]).unwrap()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn ingesting_the_same_table_twice_adds_nothing() {
    let (_dir, store) = store();
    let first = store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap();
    assert_eq!((first.version, first.rows, first.new_version), (1, 3, true));
    let again = store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap();
    assert_eq!(again, Receipt { new_version: false, ..first.clone() });
    // The same content in two chunks and another column order is the same table.
    let mut chunked = clinical([60, 70, 80], 1).slice(0, 1);
    chunked.vstack_mut(&clinical([60, 70, 80], 1).slice(1, 2)).unwrap();
    let reordered = chunked.select(["age", "event_time", "case_id"]).unwrap();
    let third = store.ingest("clinical", "case_id", "event_time", &reordered).unwrap();
    assert_eq!((third.version, third.new_version, &third.digest), (1, false, &first.digest));
    let manifest = store.manifest("clinical").unwrap();
    assert_eq!(manifest.ingestions.len(), 1);
    // A table seen before, after another one, returns its old version: receipts stay stable.
    store.ingest("clinical", "case_id", "event_time", &clinical([61, 71, 81], 2)).unwrap();
    let back = store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap();
    assert_eq!((back.version, back.new_version), (1, false));
}

#[test]
fn every_version_is_kept_and_readable_as_of() {
    let (_dir, store) = store();
    let v1 = store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap();
    let v2 = store.ingest("clinical", "case_id", "event_time", &clinical([61, 71, 81], 2)).unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    let ages = |df: DataFrame| df.column("age").unwrap().i64().unwrap().into_no_null_iter().collect::<Vec<_>>();
    assert_eq!(ages(store.read("clinical", AsOf::Version(1)).unwrap()), [60, 70, 80]);
    assert_eq!(ages(store.read("clinical", AsOf::Latest).unwrap()), [61, 71, 81]);
    let manifest = store.manifest("clinical").unwrap();
    let t1 = manifest.ingestions[0].write_time_ms;
    assert_eq!(ages(store.read("clinical", AsOf::WriteTime(t1)).unwrap()).len(), 3);
    let before = store.read("clinical", AsOf::WriteTime(t1 - 1)).unwrap();
    assert_eq!((before.height(), before.width()), (0, 3), "empty, with the group's columns");
    let history = store.history("clinical", AsOf::Latest).unwrap();
    assert_eq!(history.height(), 6);
    assert_eq!(history.column("write_time").unwrap().dtype(), &DataType::Datetime(TimeUnit::Milliseconds, None));
    assert_eq!(history.column("is_deleted").unwrap().bool().unwrap().sum(), Some(0));
    let err = store.read("clinical", AsOf::Version(3)).err().unwrap().to_string();
    assert_eq!(err, "feature group 'clinical' has no version 3 (it has 2)");
    // The store is private: it holds patient data.
    let group = store.root().join("clinical");
    assert_eq!(mode(&group), 0o700);
    assert_eq!(mode(&group.join("manifest.json")), 0o600);
    assert_eq!(mode(&group.join("online.redb")), 0o600);
    assert_eq!(mode(&group.join(&manifest.ingestions[1].file)), 0o600);
}

#[test]
fn a_grown_table_writes_only_its_new_and_changed_records() {
    let (_dir, store) = store();
    let v1 = store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap();
    // One record changed (R01-002), one new (R01-004), two as they were.
    let grown = df!(
        "case_id" => ["R01-001", "R01-002", "R01-003", "R01-004"],
        "age" => [60i64, 71, 80, 90],
        "event_time" => [1i64; 4]
    )
    .unwrap();
    let v2 = store.ingest("clinical", "case_id", "event_time", &grown).unwrap();
    assert_eq!((v2.version, v2.rows, v2.new_version), (2, 4, true), "the receipt counts the table");
    let manifest = store.manifest("clinical").unwrap();
    let written: Vec<(u64, u64)> = manifest.ingestions.iter().map(|i| (i.rows, i.unchanged)).collect();
    assert_eq!(written, [(3, 0), (2, 2)]);
    let v2_file = offline::read_parquet(&store.root().join("clinical").join(&manifest.ingestions[1].file)).unwrap();
    let ids: Vec<&str> = v2_file.column("case_id").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(ids, ["R01-002", "R01-004"], "only these were written again");

    // Reads as of each version are exactly the table ingested then.
    assert_eq!(store.read("clinical", AsOf::Version(2)).unwrap(), grown);
    assert_eq!(store.read("clinical", AsOf::Version(1)).unwrap(), clinical([60, 70, 80], 1));
    assert_eq!(store.history("clinical", AsOf::Latest).unwrap().height(), 5);
    let online = store.online("clinical").unwrap();
    let versions: Vec<u64> =
        ["R01-001", "R01-002", "R01-004"].iter().map(|id| online.get(id).unwrap().unwrap().version).collect();
    assert_eq!(versions, [1, 2, 2]);
    drop(online);

    // Idempotent by the whole table's content, as before.
    let again = store.ingest("clinical", "case_id", "event_time", &grown).unwrap();
    assert_eq!((again.version, again.new_version), (2, false));
    assert_eq!(
        store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap().version,
        v1.version
    );
    // A table the group holds entirely (one record fewer) is a version that writes nothing.
    let fewer = grown.slice(0, 3);
    let v3 = store.ingest("clinical", "case_id", "event_time", &fewer).unwrap();
    assert_eq!((v3.version, v3.rows), (3, 3));
    let last = store.manifest("clinical").unwrap().ingestions[2].clone();
    assert_eq!((last.rows, last.unchanged), (0, 3));
    assert_eq!(store.read("clinical", AsOf::Version(3)).unwrap(), grown, "ingestion never deletes");
}

#[test]
fn a_record_from_a_version_the_manifest_does_not_list_is_written_again() {
    // A crash after the online update and before the manifest: the online store holds rows of a
    // version whose offline file is not listed. The retry must write them, or offline reads
    // would miss them.
    let (_dir, store) = store();
    store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap();
    let dir = store.root().join("clinical");
    let manifest_path = dir.join("manifest.json");
    let listed_v1 = std::fs::read(&manifest_path).unwrap();
    let changed = clinical([60, 75, 80], 1);
    store.ingest("clinical", "case_id", "event_time", &changed).unwrap();
    std::fs::write(&manifest_path, &listed_v1).unwrap();
    let retried = store.ingest("clinical", "case_id", "event_time", &changed).unwrap();
    assert_eq!(retried.version, 2);
    assert_eq!(store.manifest("clinical").unwrap().ingestions[1].rows, 1);
    assert_eq!(store.read("clinical", AsOf::Version(2)).unwrap(), changed);
}

#[test]
fn schema_drift_and_missing_keys_are_named() {
    let (_dir, store) = store();
    store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap();
    let drifted = df!("case_id" => ["R01-004"], "age" => [1.5], "smoker" => [true], "event_time" => [3i64]).unwrap();
    let err = store.ingest("clinical", "case_id", "event_time", &drifted).err().unwrap().to_string();
    assert!(
        err.starts_with("schema drift in feature group 'clinical': added smoker; retyped age (i64 -> f64)"),
        "{err}"
    );
    let err = store.ingest("clinical", "patient", "event_time", &clinical([1, 2, 3], 1)).err().unwrap().to_string();
    assert_eq!(
        err,
        "the table for feature group 'clinical' has no record id column 'patient'; its columns are: case_id, age, event_time"
    );
    let no_time = df!("case_id" => ["a"], "x" => [1i64]).unwrap();
    let err = store.ingest("other", "case_id", "event_time", &no_time).err().unwrap().to_string();
    assert!(err.contains("no event time column 'event_time'; its columns are: case_id, x"), "{err}");
    let err = store.ingest("clinical", "age", "event_time", &clinical([1, 2, 3], 1)).err().unwrap().to_string();
    assert!(err.contains("created with record id column 'case_id'"), "{err}");
    let null_ids = df!("case_id" => [Some("a"), None], "event_time" => [1i64, 1]).unwrap();
    let err = store.ingest("other", "case_id", "event_time", &null_ids).err().unwrap().to_string();
    assert!(err.contains("record id column 'case_id' has 1 missing values"), "{err}");
    let err = store.ingest("a-b", "case_id", "event_time", &no_time).err().unwrap().to_string();
    assert!(err.starts_with("bad feature group name 'a-b'"), "{err}");
    assert_eq!(store.groups().unwrap(), ["clinical"], "failed ingestions create no group");
}

#[test]
fn online_keeps_the_latest_event_not_the_latest_write() {
    let (_dir, store) = store();
    store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 10)).unwrap();
    // An older event ingested later replaces nothing, online or offline.
    let older = df!("case_id" => ["R01-001"], "age" => [1i64], "event_time" => [5i64]).unwrap();
    store.ingest("clinical", "case_id", "event_time", &older).unwrap();
    let record = store.get_record("clinical", "R01-001").unwrap().unwrap();
    assert_eq!(record.version, 1);
    assert_eq!(
        record.values,
        [("case_id".into(), json!("R01-001")), ("age".into(), json!(60)), ("event_time".into(), json!(10))]
    );
    let latest = store.read("clinical", AsOf::Latest).unwrap();
    assert_eq!(latest.column("age").unwrap().i64().unwrap().get(0), Some(60));
    // Equal event time: the later ingestion wins; within a batch, the latest event, then the later row.
    let same =
        df!("case_id" => ["R01-002", "R01-002", "R01-002"], "age" => [1i64, 2, 3], "event_time" => [10i64, 11, 11])
            .unwrap();
    store.ingest("clinical", "case_id", "event_time", &same).unwrap();
    let record = store.get_record("clinical", "R01-002").unwrap().unwrap();
    assert_eq!((record.version, &record.values[1].1), (3, &json!(3)));
    let latest = store.read("clinical", AsOf::Latest).unwrap();
    assert_eq!(latest.column("age").unwrap().i64().unwrap().get(1), Some(3));
    assert_eq!(store.get_record("clinical", "R01-999").unwrap(), None);
    let err = store.get_record("clinicl", "R01-001").err().unwrap().to_string();
    assert_eq!(err, "no feature group 'clinicl' (groups: clinical)");
}

#[test]
fn event_times_order_by_type() {
    let (_dir, store) = store();
    let texts = df!("id" => [1i64, 1], "t" => ["2024-05-01", "2023-12-31"], "x" => [1.0, 2.0]).unwrap();
    store.ingest("texts", "id", "t", &texts).unwrap();
    assert_eq!(store.get_record("texts", "1").unwrap().unwrap().values[2].1, json!(1.0));
    let floats = df!("id" => ["a", "a", "a"], "t" => [-1.5, -2.5, -0.5], "x" => [1i64, 2, 3]).unwrap();
    store.ingest("floats", "id", "t", &floats).unwrap();
    assert_eq!(store.get_record("floats", "a").unwrap().unwrap().values[2].1, json!(3));
    let bad = df!("id" => ["a"], "t" => [true]).unwrap();
    let err = store.ingest("bools", "id", "t", &bad).err().unwrap().to_string();
    assert!(err.contains("event time column 't' has type bool"), "{err}");
}

#[test]
fn deletes_hide_records_from_then_on() {
    let (_dir, store) = store();
    store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 10)).unwrap();
    let keys = df!("case_id" => ["R01-001"], "event_time" => [20i64]).unwrap();
    let deleted = store.delete("clinical", &keys).unwrap();
    assert_eq!((deleted.version, deleted.rows), (2, 1));
    assert!(!store.delete("clinical", &keys).unwrap().new_version);
    assert_eq!(store.get_record("clinical", "R01-001").unwrap(), None);
    assert_eq!(store.read("clinical", AsOf::Latest).unwrap().height(), 2);
    assert_eq!(store.read("clinical", AsOf::Version(1)).unwrap().height(), 3);
    // A put older than the delete does not bring the record back.
    let older = df!("case_id" => ["R01-001"], "age" => [1i64], "event_time" => [15i64]).unwrap();
    store.ingest("clinical", "case_id", "event_time", &older).unwrap();
    assert_eq!(store.get_record("clinical", "R01-001").unwrap(), None);
    assert_eq!(store.read("clinical", AsOf::Latest).unwrap().height(), 2);
    let history = store.history("clinical", AsOf::Latest).unwrap();
    assert_eq!(history.column("is_deleted").unwrap().bool().unwrap().sum(), Some(1));
}

/// The seed's query, verbatim: genomic LEFT JOIN clinical LEFT JOIN imaging.
const SEED_SQL: &str = "SELECT * FROM genomic LEFT OUTER JOIN clinical ON genomic.case_id = clinical.case_id \
     LEFT OUTER JOIN imaging ON clinical.case_id = imaging.subject ORDER BY genomic.case_id";

fn seed_store() -> (tempfile::TempDir, FeatureStore) {
    let (dir, store) = store();
    let genomic = df!("case_id" => ["R01-3", "R01-1", "R01-2"], "ESR1" => [3.0, 1.0, 2.0], "event_time" => [1i64; 3]);
    store.ingest("genomic", "case_id", "event_time", &genomic.unwrap()).unwrap();
    let clinical = df!("case_id" => ["R01-1", "R01-3", "R01-9"], "age" => [50i64, 60, 70], "event_time" => [1i64; 3]);
    store.ingest("clinical", "case_id", "event_time", &clinical.unwrap()).unwrap();
    let imaging = df!("subject" => ["R01-1", "R01-2", "R01-9"], "volume" => [5.0, 6.0, 7.0], "event_time" => [1i64; 3]);
    store.ingest("imaging", "subject", "event_time", &imaging.unwrap()).unwrap();
    (dir, store)
}

#[test]
fn the_seeds_three_way_left_join_works_verbatim() {
    let (_dir, store) = seed_store();
    let joined = store.query(SEED_SQL, AsOf::Latest).unwrap();
    let names: Vec<&str> = joined.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "case_id",
            "ESR1",
            "event_time",
            "case_id:clinical",
            "age",
            "event_time:clinical",
            "subject",
            "volume",
            "event_time:imaging"
        ]
    );
    let ids: Vec<&str> = joined.column("case_id").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(ids, ["R01-1", "R01-2", "R01-3"], "every genomic row, ordered by case_id");
    let ages: Vec<Option<i64>> = joined.column("age").unwrap().i64().unwrap().iter().collect();
    assert_eq!(ages, [Some(50), None, Some(60)]);
    // Imaging joins on clinical's id: R01-2 has imaging but no clinical row, so no volume.
    let volumes: Vec<Option<f64>> = joined.column("volume").unwrap().f64().unwrap().iter().collect();
    assert_eq!(volumes, [Some(5.0), None, None]);
    // The key copies can be dropped in SQL.
    let sql = SEED_SQL.replace("SELECT *", "SELECT * EXCLUDE (\"case_id:clinical\", subject)");
    let trimmed = store.query(&sql, AsOf::Latest).unwrap();
    assert_eq!(trimmed.width(), joined.width() - 2);
    // Pinned versions: the node's path.
    let pinned = store.query_at("SELECT count(*) AS n FROM imaging", &[("imaging".into(), AsOf::Version(1))]).unwrap();
    assert_eq!(pinned.column("n").unwrap().get(0).unwrap().extract::<u32>(), Some(3));
}

#[test]
fn sql_errors_show_the_query() {
    let (_dir, store) = seed_store();
    let err = store.query("SELECT nope FROM genomic", AsOf::Latest).err().unwrap().to_string();
    assert!(err.starts_with("SQL error: "), "{err}");
    assert!(err.contains("nope"), "{err}");
    assert!(err.ends_with("\n  in query: SELECT nope FROM genomic"), "{err}");
    let err = store.query("SELECT * FROM genomics", AsOf::Latest).err().unwrap().to_string();
    assert!(err.contains("relation 'genomics' was not found (tables: clinical, genomic, imaging)"), "{err}");
    let err = store.query("SELEC 1", AsOf::Latest).err().unwrap().to_string();
    assert!(err.contains("SELEC") && err.contains("in query: SELEC 1"), "{err}");
}

#[test]
fn parquet_bytes_depend_only_on_the_data() {
    let one = df!("id" => ["a", "b", "c"], "x" => [1.0, f64::NAN, 3.0], "n" => [Some(1i64), None, Some(3)]).unwrap();
    let mut two = one.slice(0, 2);
    two.vstack_mut(&one.slice(2, 1)).unwrap();
    assert!(two.first_col_n_chunks() > 1);
    let bytes = |mut df: DataFrame| {
        let mut out = Vec::new();
        offline::write_parquet(&mut df, &mut out).unwrap();
        out
    };
    let first = bytes(one.clone());
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(first, bytes(two), "same data, other chunks, later: same bytes");
    assert_ne!(first, bytes(one.slice(0, 2)));
    assert!(offline::digest(&one).unwrap() == offline::digest(&one.slice(0, 3)).unwrap());
}

#[test]
fn order_by_detection() {
    assert!(query::has_order_by(SEED_SQL));
    assert!(query::has_order_by("select * from t order\n  by x"));
    assert!(!query::has_order_by("SELECT border, by FROM t"));
}

#[test]
fn concurrent_writers_to_one_group_take_turns() {
    let (_dir, store) = store();
    std::thread::scope(|scope| {
        for t in 0..4i64 {
            let store = &store;
            scope.spawn(move || store.ingest("clinical", "case_id", "event_time", &clinical([t, t, t], t)).unwrap());
        }
    });
    let manifest = store.manifest("clinical").unwrap();
    let versions: Vec<u64> = manifest.ingestions.iter().map(|i| i.version).collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    // The latest event time (3) wins online, whichever thread wrote last.
    assert_eq!(store.get_record("clinical", "R01-001").unwrap().unwrap().values[1].1, json!(3));
}

#[test]
fn the_digest_tells_tables_apart_by_values_nulls_names_and_types() {
    let base = df!("id" => ["a", "b"], "x" => [Some(1.0), None], "n" => [1i64, 2]).unwrap();
    let digest = |df: &DataFrame| offline::digest(df).unwrap();
    let same = base.clone();
    assert_eq!(digest(&base), digest(&same));
    let others = [
        df!("id" => ["a", "b"], "x" => [Some(1.0), Some(0.0)], "n" => [1i64, 2]).unwrap(),
        df!("id" => ["a", "b"], "y" => [Some(1.0), None], "n" => [1i64, 2]).unwrap(),
        df!("id" => ["a", "b"], "x" => [Some(1.0), None], "n" => [1i32, 2]).unwrap(),
        df!("id" => ["ab", ""], "x" => [Some(1.0), None], "n" => [1i64, 2]).unwrap(),
        base.slice(0, 1),
    ];
    for other in &others {
        assert_ne!(digest(&base), digest(other), "{other}");
    }
}

#[test]
fn a_group_digested_by_an_older_flow_still_recognises_its_tables() {
    let (_dir, store) = store();
    let first = store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap();
    // As written before digests hashed the columns directly: the Parquet encoding's digest.
    let path = store.root().join("clinical/manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let legacy = offline::legacy_digest(&clinical([60, 70, 80], 1)).unwrap();
    std::fs::write(&path, text.replace(&first.digest, &legacy)).unwrap();
    let again = store.ingest("clinical", "case_id", "event_time", &clinical([60, 70, 80], 1)).unwrap();
    assert_eq!((again.version, again.new_version), (1, false));
    let changed = store.ingest("clinical", "case_id", "event_time", &clinical([61, 70, 80], 1)).unwrap();
    assert_eq!((changed.version, changed.new_version), (2, true));
}

//! `map`: one action per item of an input, gathered per port (issue 12).

use std::fs;

use crate::util::{Project, locate, walk};

/// A cohort dir with one file per line of patients.txt, a feature per patient (mapped), and a
/// whole-cohort table after the gather.
const COHORT: &str = r#"
name: cohort
nodes:
  cohort:
    uses: shell
    in: { list: file:patients.txt }
    with:
      run: |
        mkdir -p {out.d}
        while read -r id scan; do printf '%s\n' "$scan" > {out.d}/"$id"; done < {in.list}
      outputs: { d: dir }
  feature:
    uses: shell
    map: scan
    in: { scan: cohort.d }
    with:
      run: |
        if grep -q unreadable {in.scan}; then echo "cannot read the scan of {item.id}" >&2; exit 3; fi
        printf '%s %s\n' {item.id} "$(wc -c < {in.scan})" > {out.f}
      outputs: { f: file }
  table:
    uses: shell
    in: { f: feature.f }
    with: { run: "cat {in.f}/* > {out.t}", outputs: { t: file } }
"#;

fn cohort(patients: &str) -> Project {
    let project = Project::with_workflow(COHORT);
    project.write("patients.txt", patients);
    project
}

fn items(run: &crate::util::RunJson, node: &str) -> (u64, u64, u64) {
    let items = &run.node(node)["items"];
    (items["ran"].as_u64().unwrap_or(0), items["cached"].as_u64().unwrap_or(0), items["failed"].as_u64().unwrap_or(0))
}

#[test]
fn adding_one_patient_runs_one_item_and_matches_a_cold_run() {
    let three = "R01 aaaa\nR02 bb\nR03 c\n";
    let project = cohort(three);
    let first = project.run_ok(&[]);
    assert_eq!(items(&first, "feature"), (3, 0, 0));
    assert_eq!(project.read_object(&first.output("table", "t")), "R01 5\nR02 3\nR03 2\n");
    project.run_ok(&[]).assert_all("cached");

    // One more patient: the cohort reruns, exactly one item runs, the table reruns.
    project.write("patients.txt", &format!("{three}R04 dddddd\n"));
    let added = project.run_ok(&[]);
    added.assert_statuses(&[("cohort", "ran"), ("feature", "ran"), ("table", "ran")]);
    assert_eq!(items(&added, "feature"), (1, 3, 0));

    // Byte for byte what a cold run of the larger cohort gives.
    let cold = cohort(&format!("{three}R04 dddddd\n")).run_ok(&[]);
    assert_eq!(added.output("feature", "f"), cold.output("feature", "f"));
    assert_eq!(added.output("table", "t"), cold.output("table", "t"));

    // One patient's scan changes: that item alone reruns.
    project.write("patients.txt", "R01 aaaa\nR02 changed\nR03 c\nR04 dddddd\n");
    let changed = project.run_ok(&[]);
    assert_eq!(items(&changed, "feature"), (1, 3, 0));

    // One patient removed: no item runs, the gather and the table change.
    project.write("patients.txt", "R01 aaaa\nR02 changed\nR04 dddddd\n");
    let removed = project.run_ok(&[]);
    assert_eq!(items(&removed, "feature"), (0, 3, 0));
    removed.assert_statuses(&[("cohort", "ran"), ("feature", "ran"), ("table", "ran")]);
    assert_eq!(project.read_object(&removed.output("table", "t")), "R01 5\nR02 8\nR04 7\n");
}

#[test]
fn a_failed_item_fails_its_node_after_every_item_was_tried() {
    let project = cohort("R01 aaaa\nR02 unreadable\nR03 c\n");
    let out = project.run(&[]);
    out.assert_code(1)
        .assert_stderr_contains("1 of 3 items failed")
        .assert_stderr_contains("R02: ")
        .assert_stderr_contains("feature[R02].log")
        .assert_stderr_contains("on_error: skip");
    let run = out.json_run();
    run.assert_statuses(&[("cohort", "ran"), ("feature", "failed"), ("table", "skipped")]);
    assert_eq!(items(&run, "feature"), (2, 0, 1), "the other items were tried");
    let log = project.state().join("logs").join(run.value["id"].as_str().unwrap()).join("feature[R02].log");
    assert!(fs::read_to_string(&log).unwrap().contains("cannot read the scan of R02"));

    // Once the scan is fixed, only that item runs: the others were kept.
    project.write("patients.txt", "R01 aaaa\nR02 bb\nR03 c\n");
    let fixed = project.run_ok(&[]);
    assert_eq!(items(&fixed, "feature"), (1, 2, 0));
}

#[test]
fn with_on_error_skip_failed_items_are_left_out_listed_and_retried() {
    let project = cohort("R01 aaaa\nR02 unreadable\nR03 c\n");
    project.write("flow.yaml", &COHORT.replace("map: scan", "map: { over: scan, on_error: skip }"));
    let out = project.run(&[]);
    out.assert_code(0).assert_stderr_contains("1 of 3 items failed and were left out (on_error: skip): R02");
    let run = out.json_run();
    run.assert_statuses(&[("cohort", "ran"), ("feature", "ran"), ("table", "ran")]);
    assert_eq!(run.node("feature")["items"]["failed_items"][0], "R02");
    assert_eq!(project.read_object(&run.output("table", "t")), "R01 5\nR03 2\n");

    // A skipped item is not remembered as done: the next run tries it again.
    let again = project.run(&[]);
    again.assert_code(0);
    assert_eq!(items(&again.json_run(), "feature"), (0, 2, 1));
}

#[test]
fn item_ids_are_data_never_code() {
    let project = Project::with_workflow(
        r#"
nodes:
  each:
    uses: shell
    map: scan
    in: { scan: file:scans }
    with: { run: "echo {item.id} > {out.o}", outputs: { o: file } }
"#,
    );
    let hostile = "$(touch pwned); `touch pwned2` 'quoted'";
    project.write(&format!("scans/{hostile}"), "x");
    project.write("scans/plain", "y");
    let run = project.run_ok(&[]);
    assert!(!project.exists("pwned") && !project.exists("pwned2"), "an item id ran as code");
    let gathered = project.state().join("cas").join(&run.output("each", "o")[..2]).join(&run.output("each", "o")[2..]);
    assert_eq!(fs::read_to_string(gathered.join(hostile)).unwrap(), format!("{hostile}\n"));
    assert_eq!(walk(&gathered).len(), 2, "one entry per item");
}

#[test]
fn a_list_input_maps_one_item_per_artifact_named_after_its_node() {
    let project = Project::with_workflow(
        r#"
nodes:
  genomic: { uses: shell, with: { run: "echo g > {out.o}", outputs: { o: file } } }
  clinical: { uses: shell, with: { run: "echo c > {out.o}", outputs: { o: file } } }
  count:
    uses: shell
    map: x
    in: { x: [genomic.o, clinical.o] }
    with: { run: "echo {item.id} $(cat {in.x}) > {out.n}", outputs: { n: file } }
  all:
    uses: shell
    in: { n: count.n }
    with: { run: "cat {in.n}/clinical {in.n}/genomic > {out.o}", outputs: { o: file } }
"#,
    );
    let run = project.run_ok(&[]);
    assert_eq!(project.read_object(&run.output("all", "o")), "clinical c\ngenomic g\n");
    assert_eq!(items(&run, "count"), (2, 0, 0));
}

#[test]
fn map_mistakes_are_load_errors_with_positions() {
    let text = COHORT.replace("map: scan", "map: scans");
    let project = cohort("R01 a\n");
    project.write("flow.yaml", &text);
    let (line, column) = locate(&text, "scans");
    project
        .run(&[])
        .assert_code(2)
        .assert_stderr_contains(&format!("flow.yaml:{line}:{column}"))
        .assert_stderr_contains("maps over input 'scans', which is not bound under `in:`; its inputs are: scan");

    let text = COHORT.replace("map: scan", "map: { over: scan, on_error: ignore }");
    project.write("flow.yaml", &text);
    project.run(&[]).assert_code(2).assert_stderr_contains("`on_error:` of `map:` is `fail`");

    // A single file is not a collection: said when the node would run, as bad input.
    project.write(
        "flow.yaml",
        "nodes:\n  each:\n    uses: shell\n    map: x\n    in: { x: file:patients.txt }\n    with: { run: \"cat {in.x} > {out.o}\", outputs: { o: file } }\n",
    );
    project
        .run(&[])
        .assert_code(2)
        .assert_stderr_contains("maps over input 'x', which holds a single file: map needs a dir");

    // {item.X} without items, or a row field where items are not rows: load errors, nothing runs.
    project.write(
        "flow.yaml",
        "nodes:\n  once:\n    uses: shell\n    in: { x: file:patients.txt }\n    with: { run: \"echo {item.id} > {out.o}\", outputs: { o: file } }\n",
    );
    project
        .run(&[])
        .assert_code(2)
        .assert_stderr_contains("flow.yaml:2:3")
        .assert_stderr_contains("node 'once' uses {item.id}, which exists only in a node that maps over an input");
    let text = COHORT.replace("{item.id}", "{item.site}");
    assert_ne!(text, COHORT, "the cohort workflow's command changed shape; update this test");
    project.write("flow.yaml", &text);
    project.run(&[]).assert_code(2).assert_stderr_contains("uses {item.site}, but only a samplesheet row");
}

#[test]
fn a_file_glob_maps_one_item_per_match_and_sees_new_files() {
    let project = Project::with_workflow(
        r#"
nodes:
  each:
    uses: shell
    map: scan
    in: { scan: "file:scans/*.txt" }
    with: { run: "wc -c < {in.scan} > {out.n}", outputs: { n: file } }
"#,
    );
    project.write("scans/a.txt", "1");
    project.write("scans/b.txt", "22");
    project.write("scans/notes.csv", "not matched");
    project.write("scans/.hidden.txt", "not matched either");
    let first = project.run_ok(&[]);
    assert_eq!(items(&first, "each"), (2, 0, 0));
    project.run_ok(&[]).assert_all("cached");

    // A new file matches on the next run, though the workflow did not change; plan and why
    // say so item by item.
    project.write("scans/c.txt", "333");
    project.write("scans/b.txt", "2222");
    project
        .flow(&["plan", "flow.yaml"])
        .assert_ok()
        .assert_stdout_contains("2 of 3 items to run: b.txt changed, c.txt is new");
    project.flow(&["why", "flow.yaml", "each"]).assert_ok().assert_stdout_contains("c.txt is new");
    let next = project.run_ok(&[]);
    assert_eq!(items(&next, "each"), (2, 1, 0));
    assert!(
        next.context().contains("each: 2 of 3 items to run: b.txt changed, c.txt is new"),
        "the run says which items run and why\n{}",
        next.context()
    );
    let gathered = next.output("each", "n");
    let gathered = project.state().join("cas").join(&gathered[..2]).join(&gathered[2..]);
    let names: Vec<String> =
        walk(&gathered).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["a.txt", "b.txt", "c.txt"]);

    project.write("flow.yaml", &fs::read_to_string(project.join("flow.yaml")).unwrap().replace("*.txt", "*.nii"));
    project.run(&[]).assert_code(2).assert_stderr_contains("file:scans/*.nii matches no file");
}

#[test]
fn a_samplesheet_maps_one_item_per_row_and_tracks_the_files_a_row_names() {
    let workflow = r#"
nodes:
  per_sample:
    uses: shell
    map: { over: sheet, id: sample }
    in: { sheet: file:samples.tsv }
    with:
      run: |
        printf '%s %s %s\n' {item.id} {item.site} "$(cat {item.image})" > {out.o}
        tail -n +2 {in.sheet} | wc -l >> {out.o}
      outputs: { o: file }
"#;
    let project = Project::with_workflow(workflow);
    project.write("samples.tsv", "sample\tsite\timage\nS2\tlung; rm -rf /\timages/s2.txt\nS1\tliver\timages/s1.txt\n");
    project.write("images/s1.txt", "one");
    project.write("images/s2.txt", "two");
    let first = project.run_ok(&[]);
    assert_eq!(items(&first, "per_sample"), (2, 0, 0));
    let gathered = first.output("per_sample", "o");
    let gathered = project.state().join("cas").join(&gathered[..2]).join(&gathered[2..]);
    assert_eq!(fs::read_to_string(gathered.join("S1")).unwrap(), "S1 liver one\n1\n", "each item reads its own row");
    assert_eq!(fs::read_to_string(gathered.join("S2")).unwrap(), "S2 lung; rm -rf / two\n1\n", "cells are data");

    // Editing the file one row names reruns that row alone, though the sheet did not change.
    project.write("images/s2.txt", "two, rescanned");
    let edited = project.run_ok(&[]);
    assert_eq!(items(&edited, "per_sample"), (1, 1, 0));

    // A new row runs alone; rows reordered change nothing.
    project.write(
        "samples.tsv",
        "sample\tsite\timage\nS3\tbone\timages/s1.txt\nS1\tliver\timages/s1.txt\nS2\tlung; rm -rf /\timages/s2.txt\n",
    );
    let added = project.run_ok(&[]);
    assert_eq!(items(&added, "per_sample"), (1, 2, 0));

    // Nothing changed: every row is cached, and so is the gathered whole (no gather again).
    project
        .flow(&["plan", "flow.yaml"])
        .assert_ok()
        .assert_stdout_contains("0 to run, 0 pending on upstream changes, 1 cached");
    let again = project.run_ok(&[]);
    again.assert_statuses(&[("per_sample", "cached")]);
    assert_eq!(again.output("per_sample", "o"), added.output("per_sample", "o"));
    // A referenced file edited: the row's key changes, so the whole is gathered anew.
    project.write("images/s1.txt", "one, rescanned");
    let rescanned = project.run_ok(&[]);
    assert_eq!(items(&rescanned, "per_sample"), (2, 1, 0), "S1 and S3 name the file");
    assert_ne!(rescanned.output("per_sample", "o"), added.output("per_sample", "o"));

    // A missing id column says which columns there are.
    project.write("flow.yaml", &workflow.replace("id: sample", "id: patient"));
    project
        .run(&[])
        .assert_code(2)
        .assert_stderr_contains("has no column 'patient' (the `id:` of `map:`); its columns are: sample, site, image");
}

#[test]
fn an_item_that_changes_its_input_fails_and_the_cohort_is_rebuilt() {
    let project = cohort("R01 aaaa\nR02 bb\n");
    project.write(
        "flow.yaml",
        &COHORT.replace(
            "printf '%s %s\\n' {item.id}",
            "chmod u+w {in.scan}; echo x >> {in.scan}; printf '%s %s\\n' {item.id}",
        ),
    );
    let out = project.run(&[]);
    out.assert_code(1).assert_stderr_contains("its input 'scan'").assert_stderr_contains("was changed");
    project.write("flow.yaml", COHORT);
    let fixed = project.run_ok(&[]);
    fixed.assert_statuses(&[("cohort", "ran"), ("feature", "ran"), ("table", "ran")]);
    assert_eq!(project.read_object(&fixed.output("table", "t")), "R01 5\nR02 3\n");
}

#[test]
fn a_parquet_table_maps_one_item_per_row_and_each_item_is_a_one_row_parquet() {
    // Another node's Parquet output as the samplesheet: one item per preprocessed patient.
    let workflow = r#"
nodes:
  cohort: { uses: synth.nsclc_cohort, with: { patients: 12, genes: 21, imaging: false } }
  clinical: { uses: clinical.preprocess, in: { table: cohort.clinical }, with: { label: survival_status } }
  per_case:
    uses: shell
    map: { over: sheet, id: case_id }
    in: { sheet: clinical.table }
    with:
      run: |
        printf '%s %s ' {item.id} {item.case_id} > {out.o}
        head -c 4 {in.sheet} >> {out.o}
      outputs: { o: file }
"#;
    let project = Project::with_workflow(workflow);
    let first = project.run_ok(&[]);
    let (ran, _, _) = items(&first, "per_case");
    assert!(ran > 3, "one item per preprocessed patient\n{}", first.context());
    let gathered = first.output("per_case", "o");
    let gathered = project.state().join("cas").join(&gathered[..2]).join(&gathered[2..]);
    let entries = walk(&gathered);
    assert_eq!(entries.len() as u64, ran);
    for entry in entries {
        let id = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(fs::read_to_string(&entry).unwrap(), format!("{id} {id} PAR1"), "a row's sheet is Parquet");
    }
    // A sheet node is checked row by row (rows may name files): every row is cached.
    assert_eq!(items(&project.run_ok(&[]), "per_case"), (0, ran, 0));
}

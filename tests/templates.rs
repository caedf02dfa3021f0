//! Templates end to end: a chain written once per sample runs, caches and reruns per instance
//! under the names the template spells out, and a gather sees the instances in list order.

use crate::util::{Project, locate};

/// One clean -> count chain per sample, listed out of name order, and a summary gathering the
/// counts. Each chain reads only its own sample's file.
const TEMPLATED: &str = r#"
name: templated
nodes:
  per_sample:
    for_each: { sample: [s2, s1, s3] }
    nodes:
      ${sample}_clean:
        uses: shell
        in: { raw: file:data/${sample}.txt }
        with: { run: "sort -u {in.raw} > {out.clean}", outputs: { clean: file } }
      ${sample}_count:
        uses: shell
        in: { clean: ${sample}_clean.clean }
        with: { run: "echo ${sample} $(wc -l < {in.clean}) > {out.count}", outputs: { count: file } }
  summary:
    uses: shell
    in: { counts: ${each sample}_count.count }
    with: { run: "cat {in.counts} > {out.all}", outputs: { all: file } }
publish: { summary.all: results/all.txt, s1_clean.clean: results/s1.txt }
"#;

const CHAINS: [&str; 6] = ["s2_clean", "s2_count", "s1_clean", "s1_count", "s3_clean", "s3_count"];

fn project() -> Project {
    let project = Project::with_workflow(TEMPLATED);
    project.write("data/s1.txt", "b\na\n");
    project.write("data/s2.txt", "x\n");
    project.write("data/s3.txt", "c\nc\nd\ne\n");
    project
}

#[test]
fn a_templated_chain_runs_caches_and_gathers_in_list_order() {
    let project = project();
    // `flow plan` names instance nodes like any other.
    let plan = project.flow(&["plan", "flow.yaml"]);
    plan.assert_ok();
    for name in CHAINS {
        plan.assert_stdout_contains(&format!("{name} "));
    }
    let first = project.run_ok(&[]);
    first.assert_all("ran");
    let mut names: Vec<String> = first.statuses().into_keys().collect();
    names.sort();
    let mut expected: Vec<String> = CHAINS.iter().map(|n| n.to_string()).chain(["summary".to_string()]).collect();
    expected.sort();
    assert_eq!(names, expected, "the instances are plain nodes named by their values\n{}", first.context());
    assert_eq!(project.read("results/all.txt"), "s2 1\ns1 2\ns3 3\n", "the gather keeps the list's order");
    assert_eq!(project.read("results/s1.txt"), "a\nb\n", "an instance's node is published by its name");

    project.run_ok(&[]).assert_all("cached");

    project.flow(&["why", "flow.yaml", "s1_count"]).assert_ok().assert_stdout_contains("'s1_count' is up to date");
}

#[test]
fn changing_one_instance_input_reruns_only_that_instance_and_the_gather() {
    let project = project();
    let first = project.run_ok(&[]);
    project.write("data/s1.txt", "b\na\nz\n");
    let run = project.run_ok(&[]);
    run.assert_statuses(&[
        ("s1_clean", "ran"),
        ("s1_count", "ran"),
        ("s2_clean", "cached"),
        ("s2_count", "cached"),
        ("s3_clean", "cached"),
        ("s3_count", "cached"),
        ("summary", "ran"),
    ]);
    assert_eq!(first.output("s2_count", "count"), run.output("s2_count", "count"));
    assert_eq!(project.read("results/all.txt"), "s2 1\ns1 3\ns3 3\n");

    // A new value runs its own chain; the old instances stay cached.
    project.write("data/s0.txt", "q\n");
    project.write("flow.yaml", &TEMPLATED.replace("[s2, s1, s3]", "[s2, s1, s3, s0]"));
    let grown = project.run_ok(&[]);
    let ran: Vec<String> = grown.statuses().into_iter().filter(|(_, s)| s == "ran").map(|(n, _)| n).collect();
    assert_eq!(ran, ["s0_clean", "s0_count", "summary"], "{}", grown.context());
    assert_eq!(project.read("results/all.txt"), "s2 1\ns1 3\ns3 3\ns0 1\n");
}

#[test]
fn a_mistake_in_a_template_is_reported_where_it_is_written_naming_the_instance() {
    let broken = TEMPLATED.replace("in: { clean: ${sample}_clean.clean }", "in: { clean: ${sample}_clen.clean }");
    let project = Project::with_workflow(&broken);
    project.write("data/s1.txt", "a\n");
    project.write("data/s2.txt", "a\n");
    project.write("data/s3.txt", "a\n");
    let out = project.run(&[]);
    out.assert_code(2);
    let (line, column) = locate(&broken, "${sample}_clen.clean");
    for sample in ["s2", "s1", "s3"] {
        out.assert_stderr_contains(&format!(
            "flow.yaml:{line}:{column}: input 'clean' of node '{sample}_count' refers to unknown node '{sample}_clen' \
             (did you mean '{sample}_clean'?) (in template 'per_sample', instance sample={sample})"
        ));
    }
    assert!(!project.exists(".flow"), "nothing ran\n{}", out.context());
}

#[test]
fn the_reports_metrics_and_pca_lists_must_line_up_before_anything_runs() {
    // The report pairs the n-th pca with the n-th metrics; a list short by one used to fail the
    // report only after every model had trained.
    let yaml = r#"
nodes:
  first:
    uses: shell
    with: { run: "touch ran; echo x > {out.o}", outputs: { o: file } }
  report:
    uses: report.html
    in: { metrics: [file:m1.json, file:m2.json], pca: [file:p1.json] }
    with: { title: mismatch }
"#;
    let project = Project::with_workflow(yaml);
    for file in ["m1.json", "m2.json", "p1.json"] {
        project.write(file, "{}");
    }
    let out = project.run(&[]);
    out.assert_code(2);
    let (line, column) = locate(yaml, "pca: [file:p1.json]");
    out.assert_stderr_contains(&format!(
        "flow.yaml:{line}:{column}: node 'report' (report.html): input 'pca' has 1 artifact but 'metrics' has 2"
    ));
    assert!(!project.exists("ran") && !project.exists(".flow"), "nothing ran\n{}", out.context());
    // Without pca the report draws no PCA figures: that is not a mismatch.
    project.write("flow.yaml", &yaml.replace(", pca: [file:p1.json]", ""));
    project.flow(&["plan", "flow.yaml"]).assert_ok();
}

//! Cache semantics: what reruns after which change (DESIGN.md section 3).

use std::time::{Duration, SystemTime};

use crate::util::{Project, mtime, set_mtime};

/// a -> b -> c, a -> d, e on its own. `n` is read only by b.
const CHAIN: &str = r#"
name: chain
vars: { n: 3 }
nodes:
  a:
    uses: shell
    in: { data: file:data.txt }
    with: { run: "sort -n {in.data} > {out.sorted}", outputs: { sorted: file } }
  b:
    uses: shell
    in: { x: a.sorted }
    with: { run: "head -n ${n} {in.x} > {out.top}", outputs: { top: file } }
  c:
    uses: shell
    in: { x: b.top }
    with: { run: "awk '{s += $1} END {print s}' {in.x} > {out.sum}", outputs: { sum: file } }
  d:
    uses: shell
    in: { x: a.sorted }
    with: { run: "wc -l < {in.x} > {out.count}", outputs: { count: file } }
  e:
    uses: shell
    with: { run: "echo independent > {out.o}", outputs: { o: file } }
publish: { c.sum: results/sum.txt }
"#;

fn chain_project() -> Project {
    let project = Project::with_workflow(CHAIN);
    project.write("data.txt", "5\n3\n9\n1\n7\n");
    project
}

#[test]
fn first_run_runs_everything_and_second_run_is_all_cached() {
    let project = chain_project();
    let first = project.run_ok(&[]);
    first.assert_all("ran");
    assert_eq!(first.value["status"], "ok", "{}", first.context());
    assert_eq!(project.read("results/sum.txt"), "9\n", "1+3+5");

    let second = project.run_ok(&[]);
    second.assert_all("cached");
    for node in ["a", "b", "c", "d", "e"] {
        assert_eq!(first.node(node)["key"], second.node(node)["key"], "key of {node} is stable");
        assert_eq!(first.node(node)["outputs"], second.node(node)["outputs"], "outputs of {node} are stable");
    }
}

#[test]
fn param_change_reruns_only_the_node_and_dependents_whose_input_changed() {
    let project = chain_project();
    let first = project.run_ok(&[]);
    let changed = project.run_ok(&["-s", "n=4"]);
    changed.assert_statuses(&[("a", "cached"), ("b", "ran"), ("c", "ran"), ("d", "cached"), ("e", "cached")]);
    assert_ne!(first.output("b", "top"), changed.output("b", "top"));
    assert_eq!(project.read("results/sum.txt"), "16\n", "1+3+5+7");

    // Both parameter values now live in the cache: going back reruns nothing.
    project.run_ok(&["-s", "n=3"]).assert_all("cached");
    assert_eq!(project.read("results/sum.txt"), "9\n", "publish follows the current run");
    project.run_ok(&["-s", "n=4"]).assert_all("cached");
}

#[test]
fn editing_a_param_in_the_file_reruns_that_node() {
    let project = chain_project();
    project.run_ok(&[]);
    project.write("flow.yaml", &CHAIN.replace("wc -l < {in.x}", "wc -l {in.x} | cut -d' ' -f1"));
    let run = project.run_ok(&[]);
    // d's output is the same number either way; nothing reads it.
    run.assert_statuses(&[("a", "cached"), ("b", "cached"), ("c", "cached"), ("d", "ran"), ("e", "cached")]);
}

#[test]
fn early_cutoff_keeps_downstream_cached_when_output_bytes_are_identical() {
    let yaml = r#"
name: cutoff
vars: { note: first }
nodes:
  up:
    uses: shell
    in: { data: file:data.txt }
    with:
      run: "tr a-z A-Z < {in.data} > {out.o} # ${note}"
      outputs: { o: file }
  down:
    uses: shell
    in: { x: up.o }
    with: { run: "rev {in.x} > {out.o}", outputs: { o: file } }
  further:
    uses: shell
    in: { x: down.o }
    with: { run: "cat {in.x} {in.x} > {out.o}", outputs: { o: file } }
"#;
    let project = Project::with_workflow(yaml);
    project.write("data.txt", "hello\n");
    let first = project.run_ok(&[]);
    first.assert_all("ran");

    let second = project.run_ok(&["-s", "note=second"]);
    second.assert_statuses(&[("up", "ran"), ("down", "cached"), ("further", "cached")]);
    assert_ne!(first.node("up")["key"], second.node("up")["key"], "the param is part of up's key");
    assert_eq!(first.output("up", "o"), second.output("up", "o"), "up's output bytes did not change");
    assert_eq!(first.node("down")["key"], second.node("down")["key"], "down's key depends on content only");

    // The plan cannot know the new output before running: down is pending, not run.
    let plan = project.flow(&["plan", "--json", "flow.yaml", "-s", "note=third"]);
    plan.assert_ok();
    let plan = plan.json();
    let status =
        |name: &str| plan["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).map(|n| n["status"].clone());
    assert_eq!(status("up"), Some("run".into()), "{plan:#}");
    assert_eq!(status("down"), Some("pending".into()), "{plan:#}");
    assert_eq!(status("further"), Some("pending".into()), "{plan:#}");
}

#[test]
fn touching_an_input_file_reruns_nothing_but_changing_it_does() {
    let project = chain_project();
    let data = project.join("data.txt");
    // An old stamp, so the stat cache trusts it.
    set_mtime(&data, SystemTime::now() - Duration::from_secs(3600));
    let first = project.run_ok(&[]);
    first.assert_all("ran");

    // New mtime, same bytes: re-hashed, same digest, nothing reruns.
    set_mtime(&data, SystemTime::now() - Duration::from_secs(60));
    project.run_ok(&[]).assert_all("cached");
    set_mtime(&data, SystemTime::now());
    project.run_ok(&[]).assert_all("cached");

    // New bytes: a and everything whose input changed rerun; e does not read data.txt.
    project.write("data.txt", "5\n3\n9\n0\n7\n");
    let changed = project.run_ok(&[]);
    changed.assert_statuses(&[("a", "ran"), ("b", "ran"), ("c", "ran"), ("d", "ran"), ("e", "cached")]);
    assert_eq!(project.read("results/sum.txt"), "8\n", "0+3+5");

    // Restoring the old content finds the old results in the cache.
    project.write("data.txt", "5\n3\n9\n1\n7\n");
    project.run_ok(&[]).assert_all("cached");
    assert_eq!(project.read("results/sum.txt"), "9\n");
}

#[test]
fn same_size_rewrite_with_the_same_mtime_is_noticed_for_a_freshly_written_file() {
    // A file rewritten within one timestamp tick keeps (size, mtime, inode). The stat cache
    // must not trust stamps that fresh (git's "racy" rule), or this change would go unseen.
    let project = chain_project();
    let data = project.join("data.txt");
    let stamp = mtime(&data);
    project.run_ok(&[]).assert_all("ran");
    project.write("data.txt", "5\n3\n9\n2\n7\n");
    set_mtime(&data, stamp);
    assert_eq!(mtime(&data), stamp);
    let run = project.run_ok(&[]);
    run.assert_statuses(&[("a", "ran"), ("b", "ran"), ("c", "ran"), ("d", "ran"), ("e", "cached")]);
    assert_eq!(project.read("results/sum.txt"), "10\n", "2+3+5");
}

#[test]
fn directory_inputs_are_hashed_by_content() {
    let yaml = r#"
name: dirs
nodes:
  count:
    uses: shell
    in: { images: file:images }
    with: { run: "ls {in.images} | sort > {out.list}", outputs: { list: file } }
  other:
    uses: shell
    with: { run: "echo x > {out.o}", outputs: { o: file } }
"#;
    let project = Project::with_workflow(yaml);
    project.write("images/p1.txt", "one\n");
    project.write("images/p2.txt", "two\n");
    project.run_ok(&[]).assert_all("ran");
    project.run_ok(&[]).assert_all("cached");
    set_mtime(&project.join("images/p1.txt"), SystemTime::now() - Duration::from_secs(10));
    project.run_ok(&[]).assert_all("cached");
    project.write("images/p2.txt", "TWO\n");
    project.run_ok(&[]).assert_statuses(&[("count", "ran"), ("other", "cached")]);
    project.write("images/p3.txt", "three\n");
    project.run_ok(&[]).assert_statuses(&[("count", "ran"), ("other", "cached")]);
}

#[test]
fn input_order_in_yaml_does_not_change_keys_but_list_order_does() {
    let yaml = r#"
name: order
nodes:
  x:
    uses: shell
    with: { run: "echo x > {out.o}", outputs: { o: file } }
  y:
    uses: shell
    with: { run: "echo y > {out.o}", outputs: { o: file } }
  join:
    uses: shell
    in: { first: x.o, second: y.o, all: [x.o, y.o] }
    with: { run: "cat {in.all} {in.first} {in.second} > {out.o}", outputs: { o: file } }
"#;
    let project = Project::with_workflow(yaml);
    project.run_ok(&[]).assert_all("ran");
    // Port order in the mapping is not meaningful.
    project.write("flow.yaml", &yaml.replace("{ first: x.o, second: y.o,", "{ second: y.o, first: x.o,"));
    project.run_ok(&[]).assert_all("cached");
    // Order inside a list is: `cat` would concatenate differently.
    project.write("flow.yaml", &yaml.replace("[x.o, y.o]", "[y.o, x.o]"));
    project.run_ok(&[]).assert_statuses(&[("x", "cached"), ("y", "cached"), ("join", "ran")]);
}

#[test]
fn literal_dollar_braces_reach_the_shell() {
    let yaml = r#"
name: literal
vars: { who: world }
nodes:
  greet:
    uses: shell
    with:
      run: "echo \"$${GREETING}, ${who}\" > {out.o}"
      env: { GREETING: hello }
      outputs: { o: file }
publish: { greet.o: greeting.txt }
"#;
    let project = Project::with_workflow(yaml);
    project.run_ok(&[]);
    assert_eq!(project.read("greeting.txt"), "hello, world\n");
}

#[test]
fn numeric_variable_can_feed_an_env_param() {
    // `env` values are strings; a number variable should still be usable there.
    let yaml = r#"
name: envvar
vars: { seed: 42 }
nodes:
  a:
    uses: shell
    with:
      run: "echo $${SEED} > {out.o}"
      env: { SEED: "${seed}" }
      outputs: { o: file }
publish: { a.o: seed.txt }
"#;
    let project = Project::with_workflow(yaml);
    project.run_ok(&[]);
    assert_eq!(project.read("seed.txt"), "42\n");
}

/// `files_read=N` from a run's log: how many source files the run actually read.
fn files_read(project: &Project, run: &crate::util::RunJson) -> usize {
    let id = run.value["id"].as_str().expect("run id");
    let log = project.read(&format!(".flow/runs/{id}.log"));
    log.lines()
        .find_map(|l| l.split("files_read=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no files_read in the run log:\n{log}"))
}

#[test]
fn no_op_run_reads_no_source_file() {
    let project = chain_project();
    project.write("more.txt", "more\n");
    // No publish: checking a just-published file rehashes it (its stamp is too fresh to trust).
    let yaml = CHAIN
        .replace("  e:\n    uses: shell\n", "  e:\n    uses: shell\n    in: { m: file:more.txt }\n")
        .replace("publish: { c.sum: results/sum.txt }\n", "");
    project.write("flow.yaml", &yaml);
    let old = SystemTime::now() - Duration::from_secs(3600);
    set_mtime(&project.join("data.txt"), old);
    set_mtime(&project.join("more.txt"), old);

    let first = project.run_ok(&[]);
    assert_eq!(files_read(&project, &first), 2, "both sources hashed once");
    let noop = project.run_ok(&[]);
    noop.assert_all("cached");
    assert_eq!(files_read(&project, &noop), 0, "unchanged stamps answer from the stat cache");

    // A touched file is read once more (same digest, nothing reruns), then trusted again.
    set_mtime(&project.join("more.txt"), SystemTime::now() - Duration::from_secs(60));
    let touched = project.run_ok(&[]);
    touched.assert_all("cached");
    assert_eq!(files_read(&project, &touched), 1, "only the touched file is reread");
    let after = project.run_ok(&[]);
    assert_eq!(files_read(&project, &after), 0);
}

//! The Rust-plugin example through the binary: `workflows/winsorize.yaml` runs the
//! `expression.winsorize` kind of plugins/winsorize, compiled into `flow` like a built-in.

use flow_plugin::polars::prelude::{DataFrame, DataType};

use crate::util::{Project, locate};

const WINSORIZE: &str = include_str!("../workflows/winsorize.yaml");

/// A table's column as f64s (nulls as None).
fn column(table: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let cast = table.column(name).and_then(|c| c.cast(&DataType::Float64)).unwrap();
    cast.f64().unwrap().iter().collect()
}

/// numpy's default (linear) quantile, computed here independently of the plugin.
fn np_quantile(values: &[Option<f64>], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().flatten().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    let h = q * (v.len() - 1) as f64;
    let (i, f) = (h.floor() as usize, h - h.floor());
    if i + 1 < v.len() { v[i] + f * (v[i + 1] - v[i]) } else { v[i] }
}

#[test]
fn winsorize_plugin_clips_to_quantiles_and_caches() {
    let project = Project::with_workflow(WINSORIZE);
    let run = project.run_ok(&[]);
    run.assert_statuses(&[("cohort", "ran"), ("genomic", "ran"), ("winsorized", "ran")]);

    // The plugin's input, from the store, and its published output.
    let digest = run.output("genomic", "table");
    let input = flow_plugin::read_table(&project.state().join("cas").join(&digest[..2]).join(&digest[2..])).unwrap();
    let output = flow_plugin::read_table(&project.join("results/genomic-winsorized.parquet")).unwrap();
    assert_eq!(output.get_column_names(), input.get_column_names());
    assert_eq!(output.height(), input.height());
    assert!(output.column("case_id").unwrap().equals(input.column("case_id").unwrap()), "ids and row order kept");

    // Every gene is its input clipped to the input's [5%, 95%] quantiles, and some cells were.
    let mut clipped = 0;
    for name in input.get_column_names().iter().map(|n| n.as_str()).filter(|n| *n != "case_id") {
        let (before, after) = (column(&input, name), column(&output, name));
        let (lo, hi) = (np_quantile(&before, 0.05), np_quantile(&before, 0.95));
        for (b, a) in before.iter().zip(&after) {
            let want = b.map(|x| x.clamp(lo, hi));
            assert!(
                matches!((want, a), (Some(w), Some(a)) if (w - a).abs() <= 1e-12 * w.abs().max(1.0)),
                "{name}: {b:?} should become {want:?}, not {a:?}"
            );
            clipped += usize::from(want != *b);
        }
    }
    assert!(clipped > 0, "nothing was clipped");

    // The log counts what was clipped, per gene, without values.
    let log = std::fs::read_to_string(run.node("winsorized")["log"].as_str().unwrap()).unwrap();
    assert!(log.contains(&format!("winsorised 21 columns x {} rows", input.height())), "{log}");
    assert!(log.contains(&format!("{clipped} cells clipped")), "{log}");
    assert!(log.contains("  VIM: ") && log.contains(" below, ") && log.contains(" above"), "{log}");

    project.run_ok(&[]).assert_all("cached");

    // A new upper quantile reruns the plugin node only.
    project.write("flow.yaml", &WINSORIZE.replace("upper: 0.95", "upper: 0.9"));
    let rerun = project.run_ok(&[]);
    rerun.assert_statuses(&[("cohort", "cached"), ("genomic", "cached"), ("winsorized", "ran")]);
}

#[test]
fn winsorize_bad_quantile_is_a_load_error() {
    let yaml = WINSORIZE.replace("upper: 0.95", "upper: 1.5");
    let project = Project::with_workflow(&yaml);
    let (line, _) = locate(&yaml, "upper: 1.5");
    project
        .run(&[])
        .assert_code(2)
        .assert_stderr_contains(&format!("flow.yaml:{line}:"))
        .assert_stderr_contains("upper is 1.5: a quantile must be in [0, 1]");
    assert!(!project.state().exists());
}

#[test]
fn winsorize_unknown_column_names_it() {
    let yaml = WINSORIZE.replace("upper: 0.95", "upper: 0.95\n      columns: [VIM, VIN]");
    let project = Project::with_workflow(&yaml);
    project.run(&[]).assert_code(1).assert_stderr_contains("column 'VIN' from `columns` is not in the table");
}

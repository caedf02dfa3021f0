//! Writes a synthetic cohort to a directory, for looking at the data outside flow:
//! `cargo run --release -p flow-synth --example generate -- OUT_DIR [SEED] [PATIENTS]`.

use std::path::PathBuf;
use std::time::Instant;

use flow_synth::{Cohort, CohortSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: generate OUT_DIR [SEED] [PATIENTS]")?);
    let mut spec = CohortSpec::default();
    if let Some(seed) = args.next() {
        spec.seed = seed.parse()?;
    }
    if let Some(patients) = args.next() {
        // Both sites in the real 162:49 ratio, as the node's `patients` param does.
        let patients: usize = patients.parse()?;
        spec.r01 = ((patients * 162) as f64 / 211.0).round().max(1.0) as usize;
        spec.amc = patients.saturating_sub(spec.r01);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let cohort = Cohort::generate(spec)?;
    std::fs::create_dir_all(out.join("imaging"))?;
    cohort.write_clinical(&out.join("clinical.csv"))?;
    cohort.write_genomic(&out.join("genomic.tsv"))?;
    cohort.write_imaging(&out.join("imaging"), threads, &|| false)?;
    println!("{:?} in {:.2?}", cohort.summary(), started.elapsed());
    Ok(())
}

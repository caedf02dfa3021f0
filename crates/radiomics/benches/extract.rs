//! End-to-end radiomics timing per case, by hand (numbers go to docs/benchmarks.md):
//!
//! cargo bench -p flow-radiomics --bench extract -- [--runs N] [--threads N] IMAGE MASK [IMAGE MASK ...]
//!
//! Each case is read from disk and all 107 default features computed, `--runs` times (default
//! 20), on one thread and then on `--threads` threads (default 2); prints the median, min and
//! max wall time of a whole case and the median of the reading (and cropping to the ROI) alone. Without arguments it
//! measures the IBSI CT phantom PAT1 from the shared data.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flow_radiomics::Settings;
use flow_radiomics::cohort::read_roi;
use flow_radiomics::features::extract_roi;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut option = |name: &str, default: usize| -> usize {
        let Some(at) = args.iter().position(|a| a == name) else { return default };
        let value =
            args.get(at + 1).and_then(|n| n.parse().ok()).unwrap_or_else(|| usage(&format!("{name} needs a number")));
        args.drain(at..at + 2);
        value
    };
    let runs = option("--runs", 20).max(1);
    let threads = option("--threads", 2).max(1);
    if args.is_empty() {
        let shared = std::env::var_os("FLOW_SHARED_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")));
        let pat1 = shared.join("ibsi1/ct_phantom_pat1");
        args = vec![pat1.join("phantom.nii.gz"), pat1.join("mask.nii.gz")]
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
    }
    if !args.len().is_multiple_of(2) {
        usage("give images and masks in pairs");
    }
    let settings = Settings::default();
    println!(
        "{:<40} {:>8} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "case", "voxels", "threads", "read ms", "total ms", "min ms", "max ms"
    );
    for pair in args.chunks(2) {
        for threads in [1, threads] {
            let (image, mask) = (Path::new(&pair[0]), Path::new(&pair[1]));
            let mut totals = Vec::with_capacity(runs);
            let mut reads = Vec::with_capacity(runs);
            let mut voxels = 0;
            for _ in 0..runs {
                let start = Instant::now();
                let roi =
                    read_roi(image, mask, None, settings.label, threads).unwrap_or_else(|e| usage(&e.to_string()));
                reads.push(start.elapsed());
                let features = extract_roi(&roi, &settings, threads).unwrap_or_else(|e| usage(&e.to_string()));
                totals.push(start.elapsed());
                voxels = roi.voxel_count;
                std::hint::black_box(features);
            }
            let (read, total) = (median(&mut reads), median(&mut totals));
            let name = image.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy()).unwrap_or_default();
            let case = format!("{name}/{}", image.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
            println!(
                "{case:<40} {voxels:>8} {threads:>8} {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
                ms(read),
                ms(total),
                ms(totals[0]),
                ms(totals[totals.len() - 1])
            );
        }
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn usage(msg: &str) -> ! {
    eprintln!("error: {msg}\nusage: cargo bench -p flow-radiomics --bench extract -- [--runs N] IMAGE MASK ...");
    std::process::exit(2)
}

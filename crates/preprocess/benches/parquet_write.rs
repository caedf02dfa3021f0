//! What writing a small feature table costs, by hand (numbers go to docs/benchmarks.md):
//!
//! cargo bench -p flow-preprocess --bench parquet_write
//!
//! A radiomics node writes one row of 108 columns per patient; the pipeline's tables have a few
//! hundred rows. Each table is written 50 times per setting to a file in a temporary folder
//! (after one unmeasured write, so polars' thread pool and the page cache are warm) with
//! polars' writer at four compressions, then with flow's `write_parquet`; prints the median and
//! the file size.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use polars::prelude::*;

fn table(rows: usize, features: usize) -> DataFrame {
    let mut columns = vec![Column::new("subject".into(), (0..rows).map(|r| format!("R01-{r:03}")).collect::<Vec<_>>())];
    for f in 0..features {
        let values: Vec<f64> = (0..rows).map(|r| ((r * 31 + f * 17) % 1000) as f64 * 0.731 + f as f64).collect();
        columns.push(Column::new(format!("original_feature_{f}").into(), values));
    }
    DataFrame::new(rows, columns).unwrap()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let settings = [
        ("zstd (default level)", ParquetCompression::Zstd(None)),
        ("lz4", ParquetCompression::Lz4Raw),
        ("snappy", ParquetCompression::Snappy),
        ("uncompressed", ParquetCompression::Uncompressed),
    ];
    println!("{:<10} {:<22} {:>10} {:>10}", "table", "compression", "median ms", "bytes");
    for (rows, features) in [(1, 107), (211, 107)] {
        let mut df = table(rows, features);
        for (name, compression) in settings {
            let write = |df: &mut DataFrame| {
                let mut file = BufWriter::new(File::create(&path).unwrap());
                ParquetWriter::new(&mut file).with_compression(compression).set_parallel(false).finish(df).unwrap();
                file.flush().unwrap();
            };
            write(&mut df);
            let mut times: Vec<f64> = (0..50)
                .map(|_| {
                    let started = Instant::now();
                    write(&mut df);
                    started.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let bytes = std::fs::metadata(&path).unwrap().len();
            println!("{:<10} {name:<22} {:>10.3} {bytes:>10}", format!("{rows}x{}", features + 1), times[25]);
        }
        // What flow's nodes call: flow's own layout up to 128 rows, polars' writer above.
        let mut times: Vec<f64> = (0..51)
            .map(|_| {
                let started = Instant::now();
                flow_preprocess::io::write_parquet(&mut df, &path).unwrap();
                started.elapsed().as_secs_f64() * 1e3
            })
            .skip(1)
            .collect();
        times.sort_by(f64::total_cmp);
        let bytes = std::fs::metadata(&path).unwrap().len();
        println!(
            "{:<10} {:<22} {:>10.3} {bytes:>10}",
            format!("{rows}x{}", features + 1),
            "flow write_parquet",
            times[25]
        );
    }
}

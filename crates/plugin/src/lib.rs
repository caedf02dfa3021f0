//! The SDK for flow's Rust plugins.
//!
//! A plugin is a crate in `plugins/` that implements [`NodeKind`] for each of its kinds and
//! exposes `pub fn register(registry: &mut Registry)`; the `flow` binary calls it when it builds
//! its registry (docs/plugins.md, "Rust plugins"). The trait is the very one the built-in kinds
//! implement, so a plugin kind gets the same load-time parameter checks, caching and early
//! cutoff.
//!
//! Besides the trait and its types this crate gives table helpers ([`read_table`],
//! [`write_table`]) and re-exports [`polars`], so that a plugin uses the workspace's polars
//! version and feature set and its Parquet output has deterministic bytes.

use std::path::Path;

pub use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    Registry, typed_params,
};
pub use polars;
use polars::prelude::DataFrame;

/// Reads a Parquet table, typically a `file:parquet` input (`read_table(ctx.input("table")?)`).
pub fn read_table(path: &Path) -> Result<DataFrame, NodeError> {
    flow_preprocess::io::read_parquet(path).map_err(|e| {
        if e.is_bad_data() { NodeError::BadInput(e.to_string()) } else { NodeError::Failed(e.to_string()) }
    })
}

/// Writes a table as Parquet with fixed settings (zstd, single-threaded encoding, no
/// timestamps): the same table always gives the same bytes, so an unchanged output leaves the
/// nodes downstream cached.
pub fn write_table(table: &mut DataFrame, path: &Path) -> Result<(), NodeError> {
    flow_preprocess::io::write_parquet(table, path).map_err(|e| NodeError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::Column;

    #[test]
    fn tables_round_trip_with_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let make = || {
            DataFrame::new(
                2,
                vec![Column::new("case_id".into(), &["R01-001", "R01-002"]), Column::new("x".into(), &[1.5, -2.0])],
            )
            .unwrap()
        };
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        write_table(&mut make(), &a).unwrap();
        write_table(&mut make(), &b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(read_table(&a).unwrap().equals_missing(&make()));
        let missing = read_table(&dir.path().join("nope.parquet")).err().unwrap();
        assert!(missing.to_string().contains("nope.parquet"), "{missing}");
    }
}

//! SQL over feature groups with polars SQL. Each group is a table named after it, holding the
//! latest non-deleted record per id (as of a version or a write time).
//!
//! Polars SQL keeps both sides' columns in a join and suffixes a right-hand name that is
//! already taken with `:TABLE` (`case_id:clinical`), so `SELECT *` over joined groups works.

use polars::prelude::*;
use polars::sql::{SQLContext, extract_table_identifiers};

use crate::FeatureStore;
use crate::error::{FsError, Result};
use crate::manifest::AsOf;

impl FeatureStore {
    /// Runs `sql` over the groups it names, each read as of `as_of`.
    pub fn query(&self, sql: &str, as_of: AsOf) -> Result<DataFrame> {
        let groups = self.groups()?;
        // Only the groups the query names are read; a parse error is reported by `run` below.
        let named = extract_table_identifiers(sql, false, true).unwrap_or_default();
        let tables: Vec<(String, AsOf)> =
            groups.iter().filter(|g| named.iter().any(|n| n == *g)).map(|g| (g.clone(), as_of)).collect();
        self.run(sql, &tables, &groups)
    }

    /// Runs `sql` over exactly these groups, each read as of its own version or time. The
    /// `featurestore.query` node uses this with the versions its receipts name, so its result
    /// depends on nothing but the receipts and the query.
    pub fn query_at(&self, sql: &str, tables: &[(String, AsOf)]) -> Result<DataFrame> {
        let names: Vec<String> = tables.iter().map(|(g, _)| g.clone()).collect();
        self.run(sql, tables, &names)
    }

    /// `known` is what an unknown table's error lists.
    fn run(&self, sql: &str, tables: &[(String, AsOf)], known: &[String]) -> Result<DataFrame> {
        let mut ctx = SQLContext::new();
        for (group, as_of) in tables {
            ctx.register(group, self.read(group, *as_of)?.lazy());
        }
        let sql_error = |e: PolarsError| {
            let mut message = e.to_string();
            if message.contains("relation") && message.contains("not found") {
                let list = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                message.push_str(&format!(" (tables: {list})"));
            }
            FsError::Sql { query: sql.trim().to_string(), message }
        };
        ctx.execute(sql).and_then(LazyFrame::collect).map_err(sql_error)
    }
}

/// Whether a query orders its rows itself (a top-level or any `ORDER BY`). Without one, the
/// row order of a join is an implementation detail, so callers that need deterministic bytes
/// sort the result.
pub fn has_order_by(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    let words: Vec<&str> =
        upper.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').filter(|w| !w.is_empty()).collect();
    words.windows(2).any(|pair| pair == ["ORDER", "BY"])
}

/// Sorts every row by all columns (nulls last), for a deterministic order.
pub fn sort_all(df: DataFrame) -> Result<DataFrame> {
    let names: Vec<PlSmallStr> = df.get_column_names().into_iter().cloned().collect();
    if names.is_empty() {
        return Ok(df);
    }
    df.sort(names, SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true))
        .map_err(|e| FsError::polars("sort the result", e))
}

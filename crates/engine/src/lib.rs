//! flow's engine: workflow files, the DAG, action keys, the content-addressed store and the
//! scheduler. It knows nothing about genomes, CT or machine learning: node kinds come in
//! through the [`kind::NodeKind`] trait, which built-ins and plugins implement alike.
//!
//! The path of a run:
//! 1. [`workflow::load`] reads YAML (through [`yaml`], the one module that knows the parser),
//!    substitutes `${vars}`, asks each kind to check its params, resolves every port reference
//!    and rejects cycles — all before anything runs, with `file:line:column` diagnostics.
//! 2. [`plan::plan`] or [`exec::run`] hash source files (through the stat cache), compute each
//!    node's [`key::ActionManifest`] from its inputs' digests, and look the key up in the
//!    action cache ([`store::actions`]).
//! 3. [`exec::run`] executes misses in parallel under a thread budget, moves outputs into the
//!    CAS ([`store::cas`]), appends the action record last, and writes a run record. A node
//!    that maps over an input ([`map`]) runs as one action per item, gathered afterwards.

pub mod cancel;
pub mod diagnostic;
pub mod digest;
pub mod exec;
pub mod executor;
pub mod graph;
pub mod key;
pub mod kind;
pub mod map;
pub mod plan;
pub mod plugin;
pub mod process;
pub mod select;
pub mod store;
pub mod workdir;
pub mod workflow;
pub mod yaml;

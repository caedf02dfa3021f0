//! End-to-end tests of the `flow` binary: each test gets a fresh project directory, writes a
//! workflow and data, runs `flow` in it and checks exit status, output and the store.

mod util;

mod bad_data;
mod cache;
mod commands;
mod concurrency;
mod dicom;
mod errors;
mod exec_job;
mod failures;
mod map;
mod pipeline;
mod plugins;
mod plugins_rust;
mod preprocess;
mod processes;
mod project;
mod radiomics;
mod readme;
mod safety;
mod serve;
mod slurm;
mod templates;

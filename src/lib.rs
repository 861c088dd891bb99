//! govpack: patch and change governance analytics for MSPs.
//!
//! Data flows one way: `sources` (vendor and canonical exports) -> `canonical` (the model every
//! adapter produces) -> `lake` (Parquet) -> `sql` (DuckDB over the lake) -> reports. `cmd` holds
//! one file per command of the CLI; `ingest` and `sample` are the jobs behind them, and `bench`
//! the benchmark's scaled MSP.

#[macro_use]
mod output_macros;

pub mod bench;
pub mod calendar;
pub mod canonical;
pub mod catalog;
pub mod cmd;
pub mod collect;
pub mod config;
#[cfg(test)]
mod docs_tests;
pub mod error;
pub mod files;
pub mod http;
pub mod ingest;
pub mod installed;
pub mod kpi;
pub mod lake;
pub mod operations;
pub mod read_only_sql;
pub mod reports;
pub mod sample;
pub mod sources;
pub mod sql;
pub mod sql_quote;

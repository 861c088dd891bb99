//! Operations around the pipeline, for the scheduled job (`govpack run`) and `govpack status`:
//! the lake's lock, the inbox, the run ledger, freshness, breach alerts to Teams and remediation
//! tickets to Autotask. Data still flows one way: these read the lake and KPI outputs and write
//! their own ledgers and output files.

pub mod alerts;
pub mod autotask_api;
pub mod freshness;
pub mod inbox;
pub mod ledger;
pub mod lock;
pub mod teams;
pub mod tickets;

//! Autotask PSA (REST JSON): Companies and Tickets query pages (a folder of pages is one export),
//! TicketChangeRequestApprovals, ChangeRequestLinks, and the picklist export
//! (`Tickets/entityInformation/fields`) -> tenants, tickets, changes.
//!
//! Wire names are camelCase with `ID` kept upper (`companyID`); fields are matched without regard
//! to case. Picklist ids other than ticketType (1 Service Request, 2 Incident, 3 Problem, 4 Change
//! Request, 5 Alert) and status 5 (Complete) differ per Autotask instance: their labels come from
//! the picklist export, ingested before the tickets (it is kept in `source_lookups`). What the
//! MSP set up itself — which tickets are remediation, what priority labels mean, where change
//! requests keep type, risk and outcome — comes from `[mapping.autotask]`.

mod lookups;
mod tickets;

pub mod export;

pub use lookups::{read_approvals, read_companies, read_links, read_picklists};
pub use tickets::read_tickets;

pub const SOURCE: &str = "autotask";

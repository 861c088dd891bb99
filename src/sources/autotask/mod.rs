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
mod mapping;
mod tickets;

pub mod export;

pub use mapping::AutotaskMapping;

pub use lookups::{read_approvals, read_companies, read_links, read_picklists};
pub use tickets::read_tickets;

use super::registry::{Adapter, FormatSpec, Reads, Stage};
use crate::sources::settings::DateCulture;

pub const SOURCE: &str = "autotask";

pub static ADAPTER: Adapter = Adapter {
    settings_key: SOURCE,
    default_date_culture: DateCulture::Iso,
    formats: &[
        FormatSpec {
            name: "autotask-companies-json",
            stage: Stage::Tenants,
            reads: Reads::Json {
                recognises: |p| p.record_has(&["companyName", "companyType"]),
                read: |_, doc, ctx, sink, warnings| Ok(read_companies(doc, ctx, sink, warnings)),
            },
        },
        FormatSpec {
            name: "autotask-picklists-json",
            stage: Stage::Lookups,
            reads: Reads::Json {
                recognises: lookups::is_picklist_export,
                read: |_, doc, _, sink, _| Ok(read_picklists(doc, sink)),
            },
        },
        FormatSpec {
            name: "autotask-change-approvals-json",
            stage: Stage::Lookups,
            reads: Reads::Json {
                recognises: |p| p.record_has(&["ticketID", "isApproved"]),
                read: |_, doc, ctx, sink, _| Ok(read_approvals(doc, ctx, sink)),
            },
        },
        FormatSpec {
            name: "autotask-change-links-json",
            stage: Stage::Lookups,
            reads: Reads::Json {
                recognises: |p| p.record_has(&["changeRequestTicketID"]),
                read: |_, doc, _, sink, _| Ok(read_links(doc, sink)),
            },
        },
        FormatSpec {
            name: "autotask-tickets-json",
            stage: Stage::Rows,
            reads: Reads::Json {
                recognises: tickets::is_tickets_page,
                read: |_, doc, ctx, sink, warnings| Ok(read_tickets(doc, ctx, sink, warnings)),
            },
        },
    ],
};

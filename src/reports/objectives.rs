//! NIST SP 800-171A's six assessment objectives for 3.14.1 ("identify, report, and correct system
//! flaws in a timely manner"), each with the time frame govpack enforces (the settings in force for
//! the period, recorded in `kpi_parameters`), the evidence that shows it in the bundle, and the
//! period's result. Objectives [a], [c] and [e] ask that a time frame be specified: their result
//! is the setting itself. [b], [d] and [f] ask that flaws be identified, reported and corrected
//! within it: their result counts what was not, and is "not tested" where the scope lacks the
//! export the count needs (a zero nobody measured is not "met"). The time frame of [c] claims only
//! what the run ledger shows: the days the breach rules were evaluated in the period.

use anyhow::{Context, Result};
use duckdb::Connection;
use serde::Deserialize;

use crate::calendar::Period;
use crate::sql::{self, Cell};

/// The objectives' wording (`[objectives]` of proof_brief.toml). Placeholders in braces are the
/// period's settings and counts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    pub heading: String,
    pub intro: String,
    pub table: Vec<String>,
    /// The six objectives, `[a]` to `[f]`: what each asks.
    pub objectives: [String; 6],
    /// The time frame of each (`[a]`-`[f]`): `{stale_after_days}`, `{stale_tenant_days}`,
    /// `{alert_rules}`, `{open_after_hours}`, `{due_hours}`, `{ticket_within_hours}`,
    /// `{grace_days}`.
    pub time_frames: [String; 6],
    /// Where each is evidenced in the bundle.
    pub evidence: [String; 6],
    pub specified: String,
    pub not_recorded: String,
    pub met: String,
    pub not_met: String,
    /// `{stale}`, `{devices}`, `{stale_after_days}`.
    pub identified: String,
    /// `{late}`, `{episodes}`, `{ticket_within_hours}` (control C8), `{unticketed}`, `{open}`,
    /// `{open_after_hours}`.
    pub reported: String,
    /// `{overdue}`, `{overdue_devices}`, `{compliant}`, `{devices}`.
    pub corrected: String,
    /// `{note}`: why the count could not be made for the scope.
    pub not_tested: String,
    /// Nothing missed, in the last export of a client whose exports stopped.
    pub stale: String,
    /// `{days}`, `{period_days}`, `{first}`, `{last}`: the days of the period with a scheduled run
    /// that evaluated the breach rules (`{evaluations}` in the time frames).
    pub evaluated: String,
    pub not_evaluated: String,
}

/// One objective as the brief and the workbook show it.
pub struct Objective {
    /// `3.14.1[a]` ... `3.14.1[f]`, written exactly so.
    pub id: String,
    pub objective: String,
    pub time_frame: String,
    pub evidence: String,
    pub result: String,
}

pub fn build(conn: &Connection, period: Period, words: &Words) -> Result<Vec<Objective>> {
    super::bind_period(conn, period)?;
    let queries = sql::NamedQueries::read("reports/objectives.sql")?;
    let (names, settings) =
        sql::rows(conn, queries.bound(conn, "settings")?).context("reading the period's settings")?;
    let setting = |name: &str| -> Option<String> {
        let at = names.iter().position(|n| n == name)?;
        match settings.first()?.get(at)? {
            Cell::Null => None,
            value => Some(value.to_text()),
        }
    };
    // What the run ledger shows of the breach rules' evaluation in the period.
    let (evaluated_days, period_days, first, last): (i64, i64, Option<String>, Option<String>) = conn
        .query_row(queries.bound(conn, "evaluation-days")?, [], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                r.get(2)?,
                r.get(3)?,
            ))
        })
        .context("reading the run ledger for the period")?;
    let evaluations = match (first, last) {
        (Some(first), Some(last)) if evaluated_days > 0 => words
            .evaluated
            .replace("{days}", &evaluated_days.to_string())
            .replace("{period_days}", &period_days.to_string())
            .replace("{first}", &first)
            .replace("{last}", &last),
        _ => words.not_evaluated.clone(),
    };
    let fill = |text: &str| -> Option<String> {
        let mut text = text.replace("{evaluations}", &evaluations);
        for (key, column) in [
            ("{stale_after_days}", "stale_after_days"),
            ("{stale_tenant_days}", "stale_tenant_days"),
            ("{alert_rules}", "alert_rules"),
            ("{open_after_hours}", "ticket_open_after_hours"),
            ("{due_hours}", "ticket_due_hours"),
            ("{ticket_within_hours}", "ticket_within_hours"),
            ("{grace_days}", "grace_days"),
        ] {
            if text.contains(key) {
                // A period computed before govpack recorded this setting: say so, never guess.
                text = text.replace(key, &setting(column)?);
            }
        }
        Some(text)
    };
    let count = |query: &str| -> Result<i64> {
        Ok(conn
            .query_row(query, [], |r| r.get::<_, Option<i64>>(0))?
            .unwrap_or(0))
    };
    let counted = |name: &str| -> Result<i64> { count(queries.bound(conn, name)?) };
    let devices = counted("devices")?;
    let compliant = counted("compliant-devices")?;
    let stale = counted("stale-devices")?;
    let overdue = counted("overdue-patches")?;
    let overdue_devices = counted("overdue-devices")?;
    let open = counted("open-episodes")?;
    // Also `controls/unreported-flaws.csv`: the rows an assessor checks the count against.
    let unreported = super::controls::registers(conn)?;
    let (_, flaws) = unreported
        .iter()
        .find(|(name, _)| name == "unreported-flaws")
        .context("reports/registers.sql has no query named `unreported-flaws`")?;
    let unticketed = count(&format!("select count(*) from ({flaws})"))?;
    // Control C8: every failed deployment ticketed within ticket_within_hours.
    let episodes = counted("failed-deployments")?;
    let late = counted("failed-deployments-late")?;

    // Each count's figure: measured for the scope, or not tested, and the caveat to read it with.
    let coverage = |kind: &str, figure: &str| super::controls::coverage(conn, kind, figure);
    let verdict = |coverage: super::controls::Coverage, exceptions: i64, detail: Option<String>| {
        let note = coverage.note;
        match (coverage.measured, detail) {
            (false, _) => words
                .not_tested
                .replace("{note}", note.as_deref().unwrap_or_default()),
            (true, None) => words.not_recorded.clone(),
            (true, Some(detail)) => {
                // Nothing missed in a client's last export, which stopped: not a "met" for now.
                let verdict = match (exceptions, coverage.stale) {
                    (0, true) => &words.stale,
                    (0, false) => &words.met,
                    _ => &words.not_met,
                };
                match note {
                    Some(note) => format!("{verdict}: {detail} ({note})"),
                    None => format!("{verdict}: {detail}"),
                }
            }
        }
    };
    let results = [
        None,
        Some(verdict(
            coverage("kpi", "stale_devices")?,
            stale,
            fill(
                &words
                    .identified
                    .replace("{stale}", &stale.to_string())
                    .replace("{devices}", &devices.to_string()),
            ),
        )),
        None,
        Some(verdict(
            coverage("control_test", "failed-deployment-ticket")?,
            late + unticketed,
            fill(
                &words
                    .reported
                    .replace("{late}", &late.to_string())
                    .replace("{episodes}", &episodes.to_string())
                    .replace("{unticketed}", &unticketed.to_string())
                    .replace("{open}", &open.to_string()),
            ),
        )),
        None,
        Some(verdict(
            coverage("control_test", "overdue-patches")?,
            overdue,
            fill(
                &words
                    .corrected
                    .replace("{overdue}", &overdue.to_string())
                    .replace("{overdue_devices}", &overdue_devices.to_string())
                    .replace("{compliant}", &compliant.to_string())
                    .replace("{devices}", &devices.to_string()),
            ),
        )),
    ];
    Ok(results
        .into_iter()
        .enumerate()
        .map(|(i, result)| {
            let time_frame = fill(&words.time_frames[i]);
            let result = result.unwrap_or_else(|| match &time_frame {
                Some(_) => words.specified.clone(),
                None => words.not_recorded.clone(),
            });
            Objective {
                id: format!("3.14.1[{}]", (b'a' + i as u8) as char),
                objective: words.objectives[i].clone(),
                time_frame: time_frame.unwrap_or_else(|| words.not_recorded.clone()),
                evidence: words.evidence[i].clone(),
                result,
            }
        })
        .collect())
}

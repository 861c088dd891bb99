//! The automated control tests behind the control register and the evidence bundles: for each,
//! the population tested and the exceptions found, as queries over the KPI outputs of a period
//! (`queries/reports/control_tests.sql`), and the lists an assessor asks for beside them
//! (`queries/reports/registers.sql`).

use anyhow::{Result, bail};
use duckdb::{Connection, OptionalExt};

use crate::sql::{self, NamedQueries};

/// A control test: who is tested (population) and who failed (exceptions), each a query of the
/// period bound in the session (`reports::bind_period`).
#[derive(Debug, Clone)]
pub struct Test {
    pub name: String,
    pub population: String,
    pub exceptions: String,
}

/// Every control test, in the order of its file: `<test>.population` then `<test>.exceptions`,
/// for the period bound in `conn`.
pub fn tests(conn: &Connection) -> Result<Vec<Test>> {
    let queries = NamedQueries::read(CONTROL_TESTS)?;
    test_names(&queries)?
        .into_iter()
        .map(|name| {
            Ok(Test {
                population: queries.bound(conn, &format!("{name}.population"))?.to_string(),
                exceptions: queries.bound(conn, &format!("{name}.exceptions"))?.to_string(),
                name,
            })
        })
        .collect()
}

const CONTROL_TESTS: &str = "reports/control_tests.sql";

/// The names of the control tests govpack runs, for the control register to name.
pub fn names() -> Result<Vec<String>> {
    test_names(&NamedQueries::read(CONTROL_TESTS)?)
}

fn test_names(queries: &NamedQueries) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (name, _) in queries.iter() {
        let Some(test) = name.strip_suffix(".population") else {
            // An exceptions query is read with its population; one without is a test half-written.
            match name.strip_suffix(".exceptions") {
                Some(test) if !queries.contains(&format!("{test}.population")) => {
                    bail!("{CONTROL_TESTS} has no query named `{test}.population`")
                }
                Some(_) => {}
                None => bail!("{CONTROL_TESTS}: `{name}` is neither a population nor an exceptions query"),
            }
            continue;
        };
        if !queries.contains(&format!("{test}.exceptions")) {
            bail!("{CONTROL_TESTS} has no query named `{test}.exceptions`");
        }
        names.push(test.to_string());
    }
    Ok(names)
}

/// Lists an assessor asks for beside the control tests, written to the bundle's `controls/` as
/// `<name>.csv`: (name, query), for the period bound in `conn`.
pub fn registers(conn: &Connection) -> Result<Vec<(String, String)>> {
    let queries = NamedQueries::read("reports/registers.sql")?;
    queries
        .iter()
        .map(|(name, _)| Ok((name.to_string(), queries.bound(conn, name)?.to_string())))
        .collect()
}

/// What the control register says of a control with no automated test: its evidence is kept by
/// hand (a quarterly access review), so govpack shows no pass or fail for it.
pub const MANUAL_EVIDENCE: &str = "manual_evidence";

/// A control test's result for a period and the report's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub population: usize,
    pub exceptions: usize,
    /// `pass`, `exceptions_found`, `no_population` (nothing to test: not a pass either),
    /// `not_tested` (the scope lacks an export the test reads: nobody reported its population),
    /// or `stale` (no exception in a client's last export, which stopped arriving).
    pub result: &'static str,
    /// What the result is to be read with: the export a client lacks, the clients a portfolio's
    /// test leaves out, the clients whose figures are from exports that stopped.
    pub note: Option<String>,
}

/// Judges a test's counted population and exceptions, with what the period's coverage
/// (`figure_coverage`, queries/coverage.sql) says of the scope.
pub fn judge(conn: &Connection, test: &str, population: usize, exceptions: usize) -> Result<Outcome> {
    let coverage = coverage(conn, "control_test", test)?;
    let result = match (coverage.measured, coverage.stale, population, exceptions) {
        (false, _, _, _) => "not_tested",
        // Exceptions found in a client's last export stand; a pass or an empty population
        // there proves nothing about now.
        (true, true, _, 0) => "stale",
        (true, false, 0, _) => "no_population",
        (true, false, _, 0) => "pass",
        _ => "exceptions_found",
    };
    Ok(Outcome {
        population,
        exceptions,
        result,
        note: coverage.note,
    })
}

/// How a figure was measured for the report's own scope (`figure_coverage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub measured: bool,
    /// A client's figure from a devices export that stopped arriving.
    pub stale: bool,
    /// Why it is not measured or stale, or which clients a portfolio figure leaves out.
    pub note: Option<String>,
}

/// The report queries over the period's coverage.
pub const COVERAGE: &str = "reports/coverage.sql";

/// Whether a figure (`kind` `kpi` or `control_test`) was measured for the report's own scope in
/// the period bound in `conn`, and what it is to be read with. A figure with no coverage row reads
/// govpack's own records: measured.
pub fn coverage(conn: &Connection, kind: &str, figure: &str) -> Result<Coverage> {
    sql::bind(conn, &[("kind", sql::text(kind)), ("figure", sql::text(figure))])?;
    let queries = NamedQueries::read(COVERAGE)?;
    let found = conn
        .query_row(queries.bound(conn, "figure")?, [], |r| {
            Ok(Coverage {
                measured: r.get(0)?,
                stale: r.get(1)?,
                note: r.get(2)?,
            })
        })
        .optional()?;
    Ok(found.unwrap_or(Coverage {
        measured: true,
        stale: false,
        note: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_test_says_what_it_is_computed_from() {
        // A test missing from the catalogue would read "measured" (no coverage row) for a client
        // that never sent its input: a pass over a population nobody reported.
        let mut catalogued: Vec<&str> = crate::catalog::CONTROL_TESTS
            .iter()
            .map(|(name, _)| *name)
            .collect();
        catalogued.sort();
        let mut run = names().unwrap();
        run.sort();
        assert_eq!(catalogued, run);
        for (name, needs) in crate::catalog::CONTROL_TESTS {
            let reads_own_records = ["intake-validation", "weekly-review"].contains(&name);
            assert_eq!(needs.is_empty(), reads_own_records, "{name}");
        }
    }
}

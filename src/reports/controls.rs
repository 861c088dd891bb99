//! The automated control tests behind the control register and the evidence bundles: for each,
//! the population tested and the exceptions found, as queries over the KPI outputs of a period
//! (`queries/reports/control_tests.sql`), and the lists an assessor asks for beside them
//! (`queries/reports/registers.sql`).

use anyhow::{Result, bail};

use crate::sql::NamedQueries;

/// A control test of a period: who is tested (population) and who failed (exceptions), each a
/// query with the period filter put in.
#[derive(Debug, Clone)]
pub struct Test {
    pub name: String,
    pub population: String,
    pub exceptions: String,
}

/// Every control test of the period `p` (`period_start = date '...'`), in the order of its file:
/// `<test>.population` then `<test>.exceptions`.
pub fn tests(p: &str) -> Result<Vec<Test>> {
    let queries = NamedQueries::read(CONTROL_TESTS)?;
    test_names(&queries)?
        .into_iter()
        .map(|name| {
            Ok(Test {
                population: queries.fill(&format!("{name}.population"), &[("p", p)])?,
                exceptions: queries.fill(&format!("{name}.exceptions"), &[("p", p)])?,
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
                Some(test) => {
                    queries.get(&format!("{test}.population"))?;
                }
                None => bail!("{CONTROL_TESTS}: `{name}` is neither a population nor an exceptions query"),
            }
            continue;
        };
        queries.get(&format!("{test}.exceptions"))?;
        names.push(test.to_string());
    }
    Ok(names)
}

/// Lists an assessor asks for beside the control tests, written to the bundle's `controls/` as
/// `<name>.csv`: (name, query) for the period `p` (`period_start = date '...'`).
pub fn registers(p: &str) -> Result<Vec<(String, String)>> {
    let queries = NamedQueries::read("reports/registers.sql")?;
    queries
        .iter()
        .map(|(name, _)| Ok((name.to_string(), queries.fill(name, &[("p", p)])?)))
        .collect()
}

/// A test's verdict. An empty population tested nothing: that is not a pass.
pub fn result(population: usize, exceptions: usize) -> &'static str {
    match (population, exceptions) {
        (0, _) => "no population",
        (_, 0) => "pass",
        _ => "exceptions found",
    }
}

//! The automated control tests behind the control register and the evidence bundles: for each,
//! the population tested and the exceptions found, as queries over the KPI outputs of a period
//! (`queries/reports/control_tests.sql`), and the lists an assessor asks for beside them
//! (`queries/reports/registers.sql`).

use anyhow::{Result, bail};

use crate::sql::NamedQueries;

/// A control test: who is tested (population) and who failed (exceptions). `{p}` in each query
/// is the period filter.
#[derive(Debug, Clone)]
pub struct Test {
    pub name: String,
    pub population: String,
    pub exceptions: String,
}

/// Every control test, in the order of its file: `<test>.population` then `<test>.exceptions`.
pub fn tests() -> Result<Vec<Test>> {
    let queries = NamedQueries::read("reports/control_tests.sql")?;
    let mut tests = Vec::new();
    for (name, _) in queries.iter() {
        let Some(test) = name.strip_suffix(".population") else {
            // An exceptions query is read with its population; one without is a test half-written.
            match name.strip_suffix(".exceptions") {
                Some(test) => {
                    queries.get(&format!("{test}.population"))?;
                }
                None => bail!(
                    "reports/control_tests.sql: `{name}` is neither a population nor an exceptions query"
                ),
            }
            continue;
        };
        tests.push(Test {
            name: test.to_string(),
            population: queries.get(name)?.to_string(),
            exceptions: queries.get(&format!("{test}.exceptions"))?.to_string(),
        });
    }
    Ok(tests)
}

/// Lists an assessor asks for beside the control tests, written to the bundle's `controls/` as
/// `<name>.csv`: (name, query). `{p}` is the period filter of the KPI outputs.
pub fn registers() -> Result<NamedQueries> {
    NamedQueries::read("reports/registers.sql")
}

/// A test's verdict. An empty population tested nothing: that is not a pass.
pub fn result(population: usize, exceptions: usize) -> &'static str {
    match (population, exceptions) {
        (0, _) => "no population",
        (_, 0) => "pass",
        _ => "exceptions found",
    }
}

pub fn test(name: &str) -> Result<Option<Test>> {
    Ok(tests()?.into_iter().find(|t| t.name == name))
}

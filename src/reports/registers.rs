//! The risk register and control register, worded in `report_templates/registers.toml` (read at
//! run time, so the wording is edited without a rebuild), with each control's automated test run
//! for the period: population, exceptions, result.

use anyhow::{Context, Result, bail};
use duckdb::Connection;
use serde::Deserialize;

use super::controls;
use crate::calendar::Period;
use crate::sql::{self, Cell};

pub const FILE: &str = "registers.toml";

/// The sheet that says what each framework code means.
pub const FRAMEWORKS: &str = "Framework references";

/// A sheet to write: its name, column names and rows.
pub type Sheet = (&'static str, Vec<String>, Vec<Vec<Cell>>);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registers {
    pub risk: Vec<Risk>,
    pub control: Vec<Control>,
    /// What each framework code a control names means: every code shown is explained once.
    pub framework: Vec<Framework>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    pub code: String,
    pub meaning: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    pub id: String,
    pub title: String,
    pub description: String,
    pub likelihood: String,
    pub impact: String,
    pub controls: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub id: String,
    pub title: String,
    pub description: String,
    pub owner: String,
    pub frequency: String,
    pub frameworks: Vec<String>,
    /// The automated test (`controls::TESTS`), when there is one.
    pub test: Option<String>,
}

pub fn load() -> Result<Registers> {
    let file = crate::installed::TEMPLATES.read(FILE)?;
    let (path, text) = (&file.origin, file.text()?);
    let registers: Registers =
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{}: {}", path, e.to_string().trim_end()))?;
    registers.check().with_context(|| path.clone())?;
    Ok(registers)
}

impl Registers {
    /// Every risk names controls that exist; every control test is one govpack runs.
    fn check(&self) -> Result<()> {
        for risk in &self.risk {
            for c in &risk.controls {
                if !self.control.iter().any(|x| &x.id == c) {
                    bail!("risk {}: control {c} is not in the control register", risk.id);
                }
            }
        }
        for control in &self.control {
            for code in &control.frameworks {
                if !self.framework.iter().any(|f| &f.code == code) {
                    bail!(
                        "control {}: framework `{code}` has no [[framework]] entry saying what it means",
                        control.id
                    );
                }
            }
        }
        let tests = controls::names()?;
        for control in &self.control {
            if let Some(test) = &control.test
                && !tests.contains(test)
            {
                let known: Vec<&str> = tests.iter().map(String::as_str).collect();
                bail!(
                    "control {}: `{test}` is not a test govpack runs ({})",
                    control.id,
                    known.join(", ")
                );
            }
        }
        Ok(())
    }

    /// The two register sheets as (sheet name, column names, rows).
    pub fn sheets(&self, conn: &Connection, period: Period) -> Result<Vec<Sheet>> {
        super::bind_period(conn, period)?;
        let text = |s: &str| Cell::Text(s.to_string());
        let risks = self
            .risk
            .iter()
            .map(|r| {
                vec![
                    text(&r.id),
                    text(&r.title),
                    text(&r.description),
                    text(&r.likelihood),
                    text(&r.impact),
                    text(&r.controls.join(", ")),
                ]
            })
            .collect();
        let tests = controls::tests(conn)?;
        let mut control_rows = Vec::new();
        for c in &self.control {
            let test = c
                .test
                .as_deref()
                .and_then(|name| tests.iter().find(|t| t.name == name));
            let (test, population, exceptions, result, note) = match test {
                Some(t) => {
                    let count = |q: &str| -> Result<usize> { Ok(sql::rows(conn, q)?.1.len()) };
                    let outcome =
                        controls::judge(conn, &t.name, count(&t.population)?, count(&t.exceptions)?)?;
                    (
                        t.name.as_str(),
                        Cell::Int(outcome.population as i64),
                        Cell::Int(outcome.exceptions as i64),
                        outcome.result,
                        outcome.note.map_or(Cell::Null, Cell::Text),
                    )
                }
                None => ("", Cell::Null, Cell::Null, controls::MANUAL_EVIDENCE, Cell::Null),
            };
            control_rows.push(vec![
                text(&c.id),
                text(&c.title),
                text(&c.description),
                text(&c.owner),
                text(&c.frequency),
                text(&c.frameworks.join("; ")),
                text(test),
                population,
                exceptions,
                text(result),
                note,
            ]);
        }
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let frameworks = self
            .framework
            .iter()
            .map(|f| {
                let controls: Vec<&str> = self
                    .control
                    .iter()
                    .filter(|c| c.frameworks.contains(&f.code))
                    .map(|c| c.id.as_str())
                    .collect();
                vec![text(&f.code), text(&f.meaning), text(&controls.join(", "))]
            })
            .collect();
        Ok(vec![
            (
                "Risk register",
                names(&[
                    "risk_id",
                    "title",
                    "description",
                    "likelihood",
                    "impact",
                    "controls",
                ]),
                risks,
            ),
            (
                "Control register",
                names(&[
                    "control_id",
                    "title",
                    "description",
                    "owner",
                    "frequency",
                    "frameworks",
                    "automated_test",
                    "population",
                    "exceptions",
                    "result",
                    "note",
                ]),
                control_rows,
            ),
            (
                FRAMEWORKS,
                names(&["framework", "meaning", "controls"]),
                frameworks,
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_registers_load_and_map_the_programmes_frameworks() {
        let r = load().unwrap();
        let frameworks: Vec<&String> = r.control.iter().flat_map(|c| &c.frameworks).collect();
        for f in [
            "NIST SP 800-171 3.14.1",
            "CMMC SI.L2-3.14.1",
            "PSF D1",
            "PSF D4",
            "PSF D5",
            "PSF D6",
            "PAI-8 C1",
            "PAI-8 C4",
            "PAI-8 C5",
            "PAI-8 C6",
        ] {
            assert!(frameworks.iter().any(|x| x.as_str() == f), "{f}");
        }
        // Each code shown is explained once.
        let mut codes: Vec<&str> = r.framework.iter().map(|f| f.code.as_str()).collect();
        codes.sort();
        let before = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), before, "a framework explained twice");
        let risks: Vec<&str> = r.risk.iter().map(|x| x.title.as_str()).collect();
        assert_eq!(
            risks,
            [
                "Bad input data",
                "Unreviewed automated output",
                "Broad permissions",
                "Missing observability"
            ]
        );
    }
}

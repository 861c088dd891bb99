//! The reference in `docs/` held to the code: the canonical model's columns, the KPI catalogue
//! and the control tests, so the documents an MSP and its auditor read cannot drift from what
//! govpack does.

use crate::canonical::{ColumnType, TABLES};
use crate::catalog::{Better, CONTROL_TESTS, Family, KPIS};

fn doc(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The rows of the first markdown table under `## <heading>`, each a list of trimmed cells.
fn table_under(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let start = doc
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("no `## {heading}`"));
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// How docs/canonical-model.md writes a column's type.
fn documented_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Text => "string".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Timestamp => "timestamp".into(),
        ColumnType::Bool => "bool".into(),
        ColumnType::Float => "double".into(),
        ColumnType::Int { min, max: i64::MAX } => format!("int {min}.."),
        ColumnType::Int { min, max } => format!("int {min}..{max}"),
        ColumnType::Enum(words) => format!("enum `{}`", words.join(", ")),
    }
}

#[test]
fn the_canonical_model_doc_states_every_column_of_the_code() {
    let doc = doc("canonical-model.md");
    for table in TABLES {
        let rows = table_under(&doc, table.name);
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            names,
            table.column_names(),
            "the columns of {} in the doc",
            table.name
        );
        for (row, column) in rows.iter().zip(table.columns) {
            let what = format!("{}.{}", table.name, column.name);
            assert_eq!(row[1], documented_type(column.ty), "{what}: type");
            assert_eq!(row[2] == "req", column.required, "{what}: required");
            let default = column.default.map(|d| format!("default `{d}`"));
            assert_eq!(
                default.as_deref().is_some_and(|d| row[3].starts_with(d)),
                column.default.is_some(),
                "{what}: default {default:?} in {:?}",
                row[3]
            );
            assert!(!row[3].contains("default") || column.default.is_some(), "{what}");
        }
        let key = format!("Natural key: `{}`", table.key.join(", "));
        assert!(doc.contains(&key), "{}: {key}", table.name);
    }
}

#[test]
fn the_kpi_definitions_doc_lists_every_kpi_of_the_catalogue() {
    let doc = doc("kpi-definitions.md");
    let rows = table_under(&doc, "The catalogue");
    assert_eq!(rows.len(), KPIS.len(), "one catalogue row per KPI");
    for (row, kpi) in rows.iter().zip(KPIS) {
        let family = match kpi.family {
            Family::Compliance => "compliance",
            Family::Vulnerability => "vulnerability",
            Family::TimeToPatch => "time to patch",
            Family::Remediation => "remediation",
            Family::Change => "change",
            Family::ReleaseSafety => "release safety",
        };
        let better = match kpi.better {
            Better::Higher => "higher",
            Better::Lower => "lower",
            Better::Neither => "neither",
        };
        let target = kpi
            .target
            .map(|change| format!("{:+.0}%", change * 100.0))
            .unwrap_or_default();
        assert_eq!(row[0], format!("`{}`", kpi.id));
        assert_eq!(
            [&row[1], &row[2], &row[3], &row[5]],
            [family, kpi.unit.as_str(), better, &target],
            "{}",
            kpi.id
        );
        let drill_down = format!("`{}`", kpi.drill_down.output);
        assert!(row[4].starts_with(&drill_down), "{}: {}", kpi.id, row[4]);
        assert_eq!(
            row[4].contains('('),
            !kpi.drill_down.filter.is_empty(),
            "{}",
            kpi.id
        );
        assert!(
            doc.matches(&format!("`{}`", kpi.id)).count() >= 2,
            "{} is in the catalogue but defined nowhere in the doc",
            kpi.id
        );
    }
}

#[test]
fn the_kpi_definitions_doc_lists_every_control_test_of_the_register() {
    let doc = doc("kpi-definitions.md");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let register: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("report_templates/registers.toml")).unwrap())
            .unwrap();
    let controls = table_under(&doc, "Control tests");
    for control in register["control"].as_array().unwrap() {
        let Some(test) = control.get("test").and_then(|t| t.as_str()) else {
            continue;
        };
        let id = control["id"].as_str().unwrap();
        assert!(
            controls
                .iter()
                .any(|r| r[0].starts_with(&format!("{id} ")) && r[1] == format!("`{test}`")),
            "{id} ({test}) has no row in the doc's control tests"
        );
    }
    for (test, _) in CONTROL_TESTS {
        assert!(
            controls.iter().any(|r| r[1] == format!("`{test}`")),
            "{test} has no row in the doc's control tests"
        );
    }
}

//! The operator runbook (`implementation-runbook.docx`): the patch process as govpack enforces it,
//! written from the settings in force, each rule citing the govpack.toml key that sets it. The
//! wording is `report_templates/runbook.toml`; the values are the settings'. For a period (in its
//! evidence bundle) the settings are the ones recorded with the period's KPIs (`kpi_settings`), so
//! an auditor reads the procedures as they stood then (NIST SP 800-171A 3.14.1[a][c][e] ask that
//! the time frames be specified), not as configured the day the bundle is written.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use duckdb::{Connection, OptionalExt};
use serde::Deserialize;

use crate::calendar::Period;
use crate::catalog::{self, Unit};
use crate::config::Paper;
use crate::sql::Cell;

pub const FILE: &str = "implementation-runbook.docx";
const WORDS: &str = "runbook.toml";

/// The runbook's wording (`report_templates/runbook.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    pub title: String,
    pub subtitle: String,
    pub recorded: String,
    pub configured: String,
    pub citing: String,
    pub portfolio: String,
    pub msp: String,
    pub not_set: String,
    pub none: String,
    pub yes: String,
    pub no: String,
    pub rule: String,
    pub setting: String,
    pub owners: OwnerWords,
    pub policy_tiers: TierWords,
    pub grace_days: GraceWords,
    pub alert_rules: AlertWords,
    pub targets: TargetWords,
    pub controls: ControlWords,
    pub section: Vec<SectionWords>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerWords {
    pub heading: [String; 4],
    pub unassigned: String,
    /// Each role: its name and what it is responsible for.
    pub noc_lead: [String; 2],
    pub approver: [String; 2],
    pub service_delivery_manager: [String; 2],
    pub cab: [String; 2],
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierWords {
    pub heading: [String; 6],
    pub any: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraceWords {
    pub heading: [String; 7],
    pub every_tier: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertWords {
    pub heading: [String; 3],
    /// `{kpi}`, `{direction}`, `{threshold}`, `{scope}`.
    pub kpi: String,
    pub below: String,
    pub above: String,
    pub new_chronic_device: String,
    pub stale_data: String,
    pub scopes: BTreeMap<String, String>,
    /// `{env}`: the environment variable holding the client's own channel.
    pub own_channel: String,
    /// `{count}`: clients with a channel of their own.
    pub own_channels: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetWords {
    pub heading: [String; 3],
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlWords {
    pub heading: [String; 3],
    pub manual: String,
    /// `{test}`: the automated test's name.
    pub tested: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionWords {
    pub heading: String,
    pub intro: Option<String>,
    pub table: Option<String>,
    #[serde(default)]
    pub rule: Vec<RuleWords>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleWords {
    pub text: String,
}

impl Words {
    pub fn load() -> Result<Words> {
        let file = crate::installed::TEMPLATES.read(WORDS)?;
        toml::from_str(file.text()?)
            .map_err(|e| anyhow::anyhow!("{}: {}", file.origin, e.to_string().trim_end()))
    }
}

/// Where the runbook's settings come from, as its first page says.
#[derive(Debug, Clone)]
pub enum Provenance {
    /// Recorded with the KPIs of `period` (`YYYY-MM`), computed as of `as_of`.
    Recorded { period: String, as_of: String },
    /// The configuration `origin` (a file, or govpack's defaults) on `date`.
    Configured { date: String, origin: String },
}

/// Whom the runbook is for: the portfolio, or one client (its id and name). A client's runbook
/// names no other client: settings keyed by client (alert channels) show its own entry only.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Portfolio,
    Tenant { id: &'a str, name: &'a str },
}

/// The runbook as a document: sections of tables and rules, each rule with the settings it cites.
#[derive(Debug, Clone, PartialEq)]
pub struct Runbook {
    pub title: String,
    pub subtitle: String,
    pub provenance: String,
    pub citing: String,
    pub rule: String,
    pub setting: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading: String,
    pub intro: Option<String>,
    pub table: Option<Table>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub text: String,
    /// The govpack.toml keys the rule's values come from.
    pub settings: Vec<String>,
}

/// The settings in force, as one TOML table (what `govpack config` prints).
pub fn settings_of(config: &crate::config::Config) -> Result<toml::Table> {
    toml::Table::try_from(config).context("cannot render the configuration")
}

/// The settings recorded with a period's KPIs, when the period has them (`kpi_settings`).
pub fn recorded_settings(conn: &Connection, period: Period) -> Result<Option<toml::Table>> {
    let recorded: bool = conn.query_row(
        "select count(*) > 0 from duckdb_views() where view_name = 'kpi_settings'",
        [],
        |r| r.get(0),
    )?;
    if !recorded {
        return Ok(None);
    }
    super::bind_period(conn, period)?;
    let text: Option<String> = conn
        .query_row(
            "select settings from kpi_settings where period_start = getvariable('period_start') limit 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    text.map(|t| {
        t.parse::<toml::Table>()
            .context("the settings recorded with the period are not TOML")
    })
    .transpose()
}

/// The runbook of `settings` for `scope`.
pub fn build(
    settings: &toml::Table,
    scope: Scope,
    msp: Option<&str>,
    provenance: &Provenance,
) -> Result<Runbook> {
    let words = Words::load()?;
    let kpi_words = catalog::words()?;
    let scope_name = match scope {
        Scope::Portfolio => words.portfolio.clone(),
        Scope::Tenant { name, .. } => name.to_string(),
    };
    let msp = msp.map(str::to_string).unwrap_or_else(|| words.msp.clone());
    let values = Values {
        settings,
        words: &words,
    };
    let fixed = |text: &str| text.replace("{scope}", &scope_name).replace("{msp}", &msp);
    let provenance = match provenance {
        Provenance::Recorded { period, as_of } => words
            .recorded
            .replace("{period}", period)
            .replace("{as_of}", as_of),
        Provenance::Configured { date, origin } => words
            .configured
            .replace("{date}", date)
            .replace("{origin}", origin),
    };
    let mut sections = Vec::new();
    for section in &words.section {
        let mut rules: Vec<Rule> = section
            .rule
            .iter()
            .map(|r| values.fill(&fixed(&r.text)))
            .collect();
        let table = match section.table.as_deref() {
            None => None,
            Some("owners") => Some(values.owners()),
            Some("policy_tiers") => Some(values.policy_tiers()),
            Some("grace_days") => Some(values.grace_days()),
            Some("alert_rules") => {
                rules.extend(values.own_channels(scope));
                Some(values.alert_rules(&kpi_words))
            }
            Some("targets") => Some(values.targets(&kpi_words)),
            Some("controls") => Some(controls(&words.controls)?),
            Some(other) => anyhow::bail!(
                "{WORDS}: section {:?} asks for table {other:?}; the tables are owners, policy_tiers, \
                 grace_days, alert_rules, targets, controls",
                section.heading
            ),
        };
        sections.push(Section {
            heading: fixed(&section.heading),
            intro: section.intro.as_deref().map(|i| values.fill(&fixed(i)).text),
            table,
            rules,
        });
    }
    Ok(Runbook {
        title: words.title.clone(),
        subtitle: fixed(&words.subtitle),
        provenance,
        citing: words.citing.clone(),
        rule: words.rule.clone(),
        setting: words.setting.clone(),
        sections,
    })
}

/// The settings and how their values read.
struct Values<'a> {
    settings: &'a toml::Table,
    words: &'a Words,
}

impl Values<'_> {
    /// The value at a dotted key (`kpi.grace_days.critical`), if set.
    fn get(&self, key: &str) -> Option<&toml::Value> {
        let mut parts = key.split('.');
        let mut value = self.settings.get(parts.next()?)?;
        for part in parts {
            value = value.as_table()?.get(part)?;
        }
        Some(value)
    }

    /// The tables of a list of tables (`[[alerts.rules]]`), with their index from 0.
    fn numbered(&self, key: &str) -> impl Iterator<Item = (usize, &toml::Table)> {
        self.get(key)
            .and_then(toml::Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(toml::Value::as_table)
            .enumerate()
    }

    fn shown(&self, value: Option<&toml::Value>) -> String {
        match value {
            None => self.words.not_set.clone(),
            Some(toml::Value::String(s)) if s.is_empty() => self.words.not_set.clone(),
            Some(toml::Value::String(s)) => s.clone(),
            Some(toml::Value::Boolean(b)) => if *b { &self.words.yes } else { &self.words.no }.clone(),
            Some(toml::Value::Array(items)) if items.is_empty() => self.words.none.clone(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| self.shown(Some(v)))
                .collect::<Vec<_>>()
                .join(", "),
            Some(other) => other.to_string(),
        }
    }

    /// A rule's text with each `{key}` replaced by its value, citing the keys.
    fn fill(&self, text: &str) -> Rule {
        let mut out = String::new();
        let mut settings = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            // `{key|text}`: the text stands in for the value when the setting is unset.
            let (key, unset) = match rest[open + 1..close].split_once('|') {
                Some((key, unset)) => (key, Some(unset)),
                None => (&rest[open + 1..close], None),
            };
            out.push_str(&rest[..open]);
            match (self.get(key), unset) {
                (None, Some(unset)) => out.push_str(unset),
                (value, _) => out.push_str(&self.shown(value)),
            }
            if !settings.iter().any(|s| s == key) {
                settings.push(key.to_string());
            }
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Rule { text: out, settings }
    }

    fn owners(&self) -> Table {
        let w = &self.words.owners;
        let rows = [
            ("noc_lead", &w.noc_lead),
            ("approver", &w.approver),
            ("service_delivery_manager", &w.service_delivery_manager),
            ("cab", &w.cab),
        ]
        .into_iter()
        .map(|(key, [role, duty])| {
            let key = format!("owners.{key}");
            let holder = match self.get(&key) {
                Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
                _ => w.unassigned.clone(),
            };
            vec![role.clone(), holder, duty.clone(), key]
        })
        .collect();
        Table {
            header: w.heading.to_vec(),
            rows,
        }
    }

    fn policy_tiers(&self) -> Table {
        let w = &self.words.policy_tiers;
        let list = |rule: &toml::Table, key: &str| match rule.get(key) {
            Some(v @ toml::Value::Array(items)) if !items.is_empty() => self.shown(Some(v)),
            _ => w.any.clone(),
        };
        let rows = self
            .numbered("policy_tiers.rules")
            .map(|(i, rule)| {
                vec![
                    (i + 1).to_string(),
                    self.shown(rule.get("tier")),
                    list(rule, "tenant_criticality"),
                    list(rule, "device_class"),
                    list(rule, "role"),
                    format!("policy_tiers.rules[{}]", i + 1),
                ]
            })
            .collect();
        Table {
            header: w.heading.to_vec(),
            rows,
        }
    }

    fn grace_days(&self) -> Table {
        const SEVERITIES: [&str; 5] = ["critical", "important", "moderate", "low", "unspecified"];
        let w = &self.words.grace_days;
        let every: Vec<String> = SEVERITIES
            .iter()
            .map(|s| self.shown(self.get(&format!("kpi.grace_days.{s}"))))
            .collect();
        let mut rows = vec![
            std::iter::once(w.every_tier.clone())
                .chain(every.iter().cloned())
                .chain(std::iter::once("kpi.grace_days".to_string()))
                .collect::<Vec<_>>(),
        ];
        if let Some(tiers) = self.get("kpi.tier_grace_days").and_then(toml::Value::as_table) {
            for (tier, overrides) in tiers {
                let row = SEVERITIES.iter().zip(&every).map(|(s, default)| {
                    overrides
                        .get(s)
                        .map(|v| self.shown(Some(v)))
                        .unwrap_or_else(|| default.clone())
                });
                rows.push(
                    std::iter::once(tier.clone())
                        .chain(row)
                        .chain(std::iter::once(format!("kpi.tier_grace_days.{tier}")))
                        .collect(),
                );
            }
        }
        Table {
            header: w.heading.to_vec(),
            rows,
        }
    }

    fn alert_rules(&self, kpi_words: &catalog::Words) -> Table {
        let w = &self.words.alert_rules;
        let rows = self
            .numbered("alerts.rules")
            .map(|(i, rule)| {
                let text = |key: &str| rule.get(key).and_then(toml::Value::as_str).unwrap_or_default();
                let breach = match text("kind") {
                    "new_chronic_device" => w.new_chronic_device.clone(),
                    "stale_data" => w.stale_data.clone(),
                    _ => {
                        let kpi = text("kpi");
                        let (direction, threshold) = match (rule.get("below"), rule.get("above")) {
                            (Some(v), _) => (&w.below, v),
                            (None, Some(v)) => (&w.above, v),
                            (None, None) => (&w.below, &toml::Value::Float(f64::NAN)),
                        };
                        let unit = catalog::find(kpi).map(|k| k.unit).unwrap_or(Unit::Count);
                        let threshold = match threshold
                            .as_float()
                            .or(threshold.as_integer().map(|i| i as f64))
                        {
                            Some(v) if !v.is_nan() => super::summary::shown(&Cell::Float(v), unit.as_str()),
                            _ => self.words.not_set.clone(),
                        };
                        w.kpi
                            .replace("{kpi}", &kpi_words.name(kpi))
                            .replace("{direction}", direction)
                            .replace("{threshold}", &threshold)
                            .replace(
                                "{scope}",
                                w.scopes
                                    .get(text("scope"))
                                    .map(String::as_str)
                                    .unwrap_or(text("scope")),
                            )
                    }
                };
                vec![
                    text("name").to_string(),
                    breach,
                    format!("alerts.rules[{}]", i + 1),
                ]
            })
            .collect();
        Table {
            header: w.heading.to_vec(),
            rows,
        }
    }

    /// Where a client's alerts go when it has a channel of its own: for a client, its own entry
    /// only (another client's id or channel is never printed in its runbook); for the portfolio,
    /// how many clients have one.
    fn own_channels(&self, scope: Scope) -> Option<Rule> {
        let channels = self
            .get("alerts.tenant_webhook_env")
            .and_then(toml::Value::as_table)?;
        let w = &self.words.alert_rules;
        match scope {
            Scope::Tenant { id, .. } => channels.get(id).map(|env| Rule {
                text: w.own_channel.replace("{env}", &self.shown(Some(env))),
                settings: vec![format!(
                    "alerts.tenant_webhook_env.{}",
                    crate::config::toml_key(id)
                )],
            }),
            Scope::Portfolio if channels.is_empty() => None,
            Scope::Portfolio => Some(Rule {
                text: w.own_channels.replace("{count}", &channels.len().to_string()),
                settings: vec!["alerts.tenant_webhook_env".to_string()],
            }),
        }
    }

    fn targets(&self, kpi_words: &catalog::Words) -> Table {
        let rows = self
            .get("kpi.targets")
            .and_then(toml::Value::as_table)
            .map(|targets| {
                targets
                    .iter()
                    .map(|(kpi, change)| {
                        let change = change
                            .as_float()
                            .or(change.as_integer().map(|i| i as f64))
                            .map(|c| format!("{:+.0}%", c * 100.0))
                            .unwrap_or_else(|| self.shown(Some(change)));
                        vec![kpi_words.name(kpi), change, format!("kpi.targets.{kpi}")]
                    })
                    .collect()
            })
            .unwrap_or_default();
        Table {
            header: self.words.targets.heading.to_vec(),
            rows,
        }
    }
}

/// The controls of the control register and where the bundle evidences each.
fn controls(words: &ControlWords) -> Result<Table> {
    let registers = super::registers::load()?;
    let rows = registers
        .control
        .iter()
        .map(|c| {
            vec![
                format!(
                    "{} {}\n{}: {}",
                    c.id,
                    c.title,
                    c.owner,
                    c.frequency.to_lowercase()
                ),
                c.description.clone(),
                match &c.test {
                    Some(test) => words.tested.replace("{test}", test),
                    None => words.manual.clone(),
                },
            ]
        })
        .collect();
    Ok(Table {
        header: words.heading.to_vec(),
        rows,
    })
}

/// The runbook of a period for the scope of the session, as its evidence bundle carries it: the
/// settings recorded with the period's KPIs. A period computed before they were recorded is
/// refused (as `govpack report` refuses it): today's settings are not the period's.
pub fn write_for_period(
    conn: &Connection,
    period: Period,
    scope: &str,
    brand: &super::Brand,
    path: &Path,
) -> Result<()> {
    let label = period.label();
    let settings = recorded_settings(conn, period)?.with_context(|| {
        format!(
            "the KPIs of {label} were computed by an earlier govpack that did not record its settings: \
             run `govpack kpi --period {label}` again"
        )
    })?;
    let provenance = Provenance::Recorded {
        as_of: super::as_of(conn, period)?.unwrap_or_default(),
        period: label,
    };
    let scoped: bool = conn.query_row("select scoped()", [], |r| r.get(0))?;
    let name: String;
    let scope = if scoped {
        name = conn.query_row("select client_name(?)", [scope], |r| r.get(0))?;
        Scope::Tenant {
            id: scope,
            name: &name,
        }
    } else {
        Scope::Portfolio
    };
    let runbook = build(&settings, scope, brand.msp_name.as_deref(), &provenance)?;
    write(
        &runbook,
        brand.paper,
        super::document_instant(conn, period)?.naive_utc(),
        path,
    )
}

// Sizes in twentieths of a point (page, margins, widths) and half-points (type), as WordprocessingML
// counts them. 2 cm margins.
const MARGIN: i32 = 1134;
const NAVY: &str = "1F3864";
const HEADER_FILL: &str = "D9E2F3";

/// Writes the runbook as a Word document on `paper`, dated `created` (the period's as-of, or
/// today), the same bytes for the same runbook.
pub fn write(runbook: &Runbook, paper: Paper, created: chrono::NaiveDateTime, path: &Path) -> Result<()> {
    use docx_rs::{Docx, LineSpacing, PageMargin, RunFonts, Style, StyleType};
    let (page_w, page_h) = paper.points();
    let (page_w, page_h) = ((page_w * 20.0).round() as u32, (page_h * 20.0).round() as u32);
    let mut doc = Document {
        text_width: page_w as usize - 2 * MARGIN as usize,
        ..Document::default()
    };
    let mut docx = Docx::new()
        .page_size(page_w, page_h)
        .page_margin(PageMargin {
            top: MARGIN,
            left: MARGIN,
            bottom: MARGIN,
            right: MARGIN,
            header: 567,
            footer: 567,
            gutter: 0,
        })
        .default_fonts(RunFonts::new().ascii("Calibri").hi_ansi("Calibri").cs("Calibri"))
        .default_size(20)
        .default_line_spacing(LineSpacing::new().after(100))
        .add_style(
            Style::new("Title", StyleType::Paragraph)
                .name("Title")
                .size(40)
                .bold()
                .color(NAVY)
                .line_spacing(LineSpacing::new().after(120)),
        )
        .add_style(
            Style::new("Heading1", StyleType::Paragraph)
                .name("heading 1")
                .size(28)
                .bold()
                .color(NAVY)
                .line_spacing(LineSpacing::new().before(280).after(100)),
        );
    let stamp = created.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    docx = docx.created_at(&stamp).updated_at(&stamp);
    docx = docx
        .add_paragraph(doc.text(&runbook.title).style("Title"))
        .add_paragraph(doc.text(&runbook.subtitle).bold())
        .add_paragraph(doc.text(&runbook.provenance))
        .add_paragraph(doc.text(&runbook.citing).italic());
    for section in &runbook.sections {
        docx = docx.add_paragraph(doc.text(&section.heading).style("Heading1").keep_next(true));
        if let Some(intro) = &section.intro {
            docx = docx.add_paragraph(doc.text(intro).keep_next(true));
        }
        if let Some(table) = &section.table {
            docx = docx
                .add_table(doc.table(&table.header, &table.rows))
                .add_paragraph(doc.text(""));
        }
        if !section.rules.is_empty() {
            let rows: Vec<Vec<String>> = section
                .rules
                .iter()
                .map(|r| vec![r.text.clone(), r.settings.join("\n")])
                .collect();
            docx = docx
                .add_table(doc.table(&[runbook.rule.clone(), runbook.setting.clone()], &rows))
                .add_paragraph(doc.text(""));
        }
    }
    crate::files::write_atomic_path(path, |temp| {
        let file =
            std::fs::File::create(temp).with_context(|| format!("cannot create {}", temp.display()))?;
        docx.build()
            .pack(file)
            .with_context(|| format!("cannot write {}", path.display()))
    })
}

/// Numbers the paragraphs itself: docx-rs draws paragraph ids from a per-thread counter, which
/// would make a document's bytes depend on what the thread wrote before it.
#[derive(Default)]
struct Document {
    paragraphs: u32,
    /// The width between the margins, in twentieths of a point.
    text_width: usize,
}

impl Document {
    fn paragraph(&mut self) -> docx_rs::Paragraph {
        self.paragraphs += 1;
        // Named even when plain: a paragraph without a style leaves readers (python-docx) to
        // guess the default, which docx-rs does not mark.
        docx_rs::Paragraph::new()
            .id(format!("{:08X}", self.paragraphs))
            .style("Normal")
    }

    /// A paragraph of text; a line break in the text is one in the paragraph.
    fn text(&mut self, text: &str) -> docx_rs::Paragraph {
        let mut run = docx_rs::Run::new();
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                run = run.add_break(docx_rs::BreakType::TextWrapping);
            }
            run = run.add_text(line);
        }
        self.paragraph().add_run(run)
    }

    /// A table across the text width, the header row shaded and bold. Each column gets room for
    /// its longest word (a key such as `owners.service_delivery_manager` or "Frequency" is never
    /// broken), and the rest of the width goes to the columns in proportion to how much longer
    /// their longest line is: the rules get the room.
    fn table(&mut self, header: &[String], rows: &[Vec<String>]) -> docx_rs::Table {
        use docx_rs::{LineSpacing, Shading, TableCell, TableRow, WidthType};
        // About one character of 10-point text, in twips, with the cell's padding.
        const CHAR: usize = 112;
        const PADDING: usize = 230;
        // A longer word (a file path) wraps at its hyphens rather than starve the other columns.
        const LONGEST_WORD: usize = 40;
        let texts = |i: usize| {
            std::iter::once(header.get(i))
                .chain(rows.iter().map(|r| r.get(i)))
                .flatten()
                .flat_map(|t| t.split('\n'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let (words, lines): (Vec<usize>, Vec<usize>) = (0..header.len())
            .map(|i| {
                let texts = texts(i);
                let longest =
                    |split: &dyn Fn(&str) -> usize| texts.iter().map(|t| split(t)).max().unwrap_or(0);
                (
                    longest(&|t| t.split_whitespace().map(|w| w.chars().count()).max().unwrap_or(0)),
                    longest(&|t| t.chars().count()),
                )
            })
            .unzip();
        let words: Vec<usize> = words.iter().map(|w| (*w).min(LONGEST_WORD)).collect();
        let lines: Vec<usize> = lines
            .iter()
            .zip(&words)
            .map(|(l, w)| (*l).clamp(*w, 60))
            .collect();
        let floor: Vec<usize> = words.iter().map(|w| w * CHAR + PADDING).collect();
        let floor_total: usize = floor.iter().sum();
        let widths: Vec<usize> = if floor_total >= self.text_width {
            floor.iter().map(|f| self.text_width * f / floor_total).collect()
        } else {
            let extra: Vec<usize> = lines.iter().zip(&words).map(|(l, w)| l - w).collect();
            let extra_total = extra.iter().sum::<usize>().max(1);
            floor
                .iter()
                .zip(&extra)
                .map(|(f, e)| f + (self.text_width - floor_total) * e / extra_total)
                .collect()
        };
        let tight = |p: docx_rs::Paragraph| p.line_spacing(LineSpacing::new().before(0).after(0));
        let mut table_rows = Vec::with_capacity(rows.len() + 1);
        let head = header
            .iter()
            .zip(&widths)
            .map(|(h, w)| {
                TableCell::new()
                    .width(*w, WidthType::Dxa)
                    .shading(Shading::new().fill(HEADER_FILL))
                    // Kept with the first row: a header alone at the foot of a page reads as
                    // an empty table.
                    .add_paragraph(tight(self.text(h).bold()).keep_next(true))
            })
            .collect();
        table_rows.push(TableRow::new(head).cant_split());
        for row in rows {
            let cells = row
                .iter()
                .zip(&widths)
                .map(|(text, w)| {
                    TableCell::new()
                        .width(*w, WidthType::Dxa)
                        .add_paragraph(self.text(text))
                })
                .collect();
            table_rows.push(TableRow::new(cells).cant_split());
        }
        docx_rs::Table::new(table_rows)
            .set_grid(widths)
            .width(self.text_width, WidthType::Dxa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn runbook_of(config: &str, scope: Scope) -> Runbook {
        let config = Config::parse(config).unwrap();
        build(
            &settings_of(&config).unwrap(),
            scope,
            Some("Contoso Managed Services"),
            &Provenance::Configured {
                date: "2026-12-06".into(),
                origin: "govpack.toml".into(),
            },
        )
        .unwrap()
    }

    fn rule_citing<'a>(runbook: &'a Runbook, key: &str) -> &'a Rule {
        runbook
            .sections
            .iter()
            .flat_map(|s| &s.rules)
            .find(|r| r.settings.iter().any(|s| s == key))
            .unwrap_or_else(|| panic!("no rule cites {key}"))
    }

    #[test]
    fn each_rule_states_the_value_in_force_and_cites_its_key() {
        let runbook = runbook_of("[kpi]\nstale_after_days = 5\n", Scope::Portfolio);
        let rule = rule_citing(&runbook, "kpi.stale_after_days");
        assert!(rule.text.contains("more than 5 days"), "{}", rule.text);
        let grace = runbook
            .sections
            .iter()
            .find_map(|s| {
                s.table
                    .as_ref()
                    .filter(|t| t.rows[0].last().unwrap() == "kpi.grace_days")
            })
            .expect("the grace days table");
        assert_eq!(grace.rows[0][1..6], ["14", "30", "60", "90", "30"]);
    }

    #[test]
    fn a_tier_with_its_own_grace_days_gets_a_row_that_inherits_the_rest() {
        let runbook = runbook_of(
            "[kpi.tier_grace_days.critical_servers]\ncritical = 7\n",
            Scope::Portfolio,
        );
        let grace = runbook
            .sections
            .iter()
            .find_map(|s| {
                s.table
                    .as_ref()
                    .filter(|t| t.rows[0].last().unwrap() == "kpi.grace_days")
            })
            .unwrap();
        assert_eq!(
            grace.rows[1],
            [
                "critical_servers",
                "7",
                "30",
                "60",
                "90",
                "30",
                "kpi.tier_grace_days.critical_servers"
            ]
        );
    }

    #[test]
    fn every_setting_the_wording_names_exists_when_every_optional_one_is_set() {
        let runbook = runbook_of(
            r#"
            [kpi]
            baseline_period = "2026-08"
            [alerts]
            detail_url = "https://contoso.sharepoint.com/packs"
            [tickets]
            queue_id = 29682833
            [evidence]
            signing_key = "keys/evidence_ed25519"
            [collect]
            sources = ["cisa-kev"]
            [owners]
            noc_lead = "noc@contoso.example"
            approver = "approvals@contoso.example"
            service_delivery_manager = "sdm@contoso.example"
            cab = "cab@contoso.example"
            "#,
            Scope::Portfolio,
        );
        let words = Words::load().unwrap();
        for section in &runbook.sections {
            for rule in &section.rules {
                assert!(
                    !rule.text.contains(&words.not_set),
                    "{:?} names a setting that does not exist",
                    rule
                );
            }
            if let Some(table) = &section.table {
                for row in &table.rows {
                    assert!(!row.contains(&words.owners.unassigned), "{row:?}");
                }
            }
        }
    }

    #[test]
    fn an_unset_optional_setting_reads_as_the_wording_says_and_is_still_cited() {
        let unset = runbook_of("", Scope::Portfolio);
        let rule = rule_citing(&unset, "tickets.queue_id");
        assert!(
            rule.text
                .contains("queue (none set: `--apply` cannot create tickets), with status 1"),
            "{}",
            rule.text
        );
        let set = runbook_of("[tickets]\nqueue_id = 29682833\n", Scope::Portfolio);
        let rule = rule_citing(&set, "tickets.queue_id");
        assert!(
            rule.text.contains("queue 29682833, with status 1"),
            "{}",
            rule.text
        );
    }

    #[test]
    fn an_unset_owner_reads_unassigned_and_a_set_one_by_name() {
        let runbook = runbook_of("[owners]\ncab = \"cab@contoso.example\"\n", Scope::Portfolio);
        let owners = runbook.sections[0].table.as_ref().unwrap();
        let row = |key: &str| owners.rows.iter().find(|r| r[3] == key).unwrap()[1].clone();
        assert_eq!(row("owners.cab"), "cab@contoso.example");
        assert_eq!(row("owners.noc_lead"), "unassigned");
    }

    #[test]
    fn a_clients_runbook_names_its_own_alert_channel_and_no_other_clients() {
        let config = "[alerts.tenant_webhook_env]\n\"29683500\" = \"GOVPACK_TEAMS_NORTHWIND\"\n\"29683501\" = \"GOVPACK_TEAMS_FABRIKAM\"\n";
        let own = runbook_of(
            config,
            Scope::Tenant {
                id: "29683500",
                name: "Northwind",
            },
        );
        let text = format!("{own:?}");
        assert!(text.contains("GOVPACK_TEAMS_NORTHWIND"));
        assert!(!text.contains("29683501") && !text.contains("FABRIKAM"), "{text}");
        let portfolio = runbook_of(config, Scope::Portfolio);
        assert!(format!("{portfolio:?}").contains("2 clients"));
    }

    #[test]
    fn the_same_runbook_is_the_same_bytes() {
        let runbook = runbook_of("", Scope::Portfolio);
        let dir = tempfile::TempDir::new().unwrap();
        let created = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_opt(23, 59, 59)
            .unwrap();
        write(&runbook, Paper::A4, created, &dir.path().join("a.docx")).unwrap();
        write(&runbook, Paper::A4, created, &dir.path().join("b.docx")).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("a.docx")).unwrap(),
            std::fs::read(dir.path().join("b.docx")).unwrap()
        );
    }

    #[test]
    fn the_runbook_is_laid_out_for_the_paper_configured() {
        let runbook = runbook_of("", Scope::Portfolio);
        let dir = tempfile::TempDir::new().unwrap();
        let created = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let page = |paper: Paper| {
            let path = dir.path().join("runbook.docx");
            write(&runbook, paper, created, &path).unwrap();
            let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
            let mut xml = String::new();
            std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml).unwrap();
            let at = xml.find("<w:pgSz").expect("a page size");
            xml[at..at + xml[at..].find("/>").unwrap()].to_string()
        };
        // Twentieths of a point: A4 is 210 x 297 mm, Letter 8.5 x 11 inches.
        let a4 = page(Paper::A4);
        assert!(
            a4.contains(r#"w:w="11906""#) && a4.contains(r#"w:h="16838""#),
            "{a4}"
        );
        let letter = page(Paper::Letter);
        assert!(
            letter.contains(r#"w:w="12240""#) && letter.contains(r#"w:h="15840""#),
            "{letter}"
        );
    }
}

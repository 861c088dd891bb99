//! Adapters: each turns one kind of export into canonical batches. Nothing after this layer
//! knows which tool a row came from.

pub mod autotask;
pub mod canonical_csv;
pub mod cisa_kev;
pub mod connectwise_automate;
pub mod connectwise_manage;
pub mod datto_rmm;
mod file;
pub mod json;
pub mod msrc_cvrf;
pub mod ninjaone;
pub mod records;
pub mod registry;
pub mod settings;
pub mod text;
pub mod timestamps;
pub mod wufb;

pub use crate::canonical::Rejection;
pub use file::{FileError, SourceFile};
pub use registry::{Format, Recognised, default_date_culture, read, recognise};

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::canonical::{self, Batch, Cell, Problem, Reason, Table};
use settings::{MappingSettings, SourceSettings};
use timestamps::TimeStyle;

/// The first `KB` number in a text, as patch tickets usually name the failed update.
pub(crate) fn kb_in(text: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    upper.match_indices("KB").find_map(|(i, _)| {
        let digits: String = upper[i + 2..].chars().take_while(char::is_ascii_digit).collect();
        (6..=8).contains(&digits.len()).then(|| format!("KB{digits}"))
    })
}

/// What an adapter made of one file.
#[derive(Debug)]
pub struct AdapterOutput {
    pub batches: Vec<Batch>,
    pub rejections: Vec<Rejection>,
    /// Data rows read from the file (loaded + rejected).
    pub rows_read: u64,
    /// Things worth a reader's attention that did not stop a row (e.g. ignored columns).
    pub warnings: Vec<String>,
    pub encoding: text::TextEncoding,
    /// The day the document says it describes, for exports that carry one (a KEV catalog's
    /// release, a CVRF document's revision): its rows' export date when the file name gives none.
    pub document_date: Option<NaiveDate>,
}

impl AdapterOutput {
    /// Rows refused, counted once however many of their cells were wrong.
    pub fn rows_rejected(&self) -> u64 {
        let mut lines: Vec<(&str, u64)> = self
            .rejections
            .iter()
            .map(|r| (r.table.as_str(), r.line))
            .collect();
        lines.sort_unstable();
        lines.dedup();
        lines.len() as u64
    }

    pub fn reasons(&self) -> Vec<Reason> {
        let mut reasons: Vec<Reason> = self.rejections.iter().map(|r| r.problem.reason).collect();
        reasons.sort_unstable();
        reasons.dedup();
        reasons
    }
}

/// One canonical row as the vendor export writers (the inverse of the adapters, for vendor-shaped
/// sample data) see it: cells by column name, as canonical CSV text.
pub trait ExportRow {
    fn get(&self, column: &str) -> &str;
}

/// A row an adapter is building: (canonical column, text) pairs.
pub type Cells = Vec<(&'static str, String)>;

/// Rows of one table as text, for `RowSink::push_rows` to read a block at a time.
pub trait TextRows {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Where the row stands in its file.
    fn line(&self, row: usize) -> u64;
    /// The row's text for the table's column at `column` (empty when the file lacks that
    /// column); asked only of rows that are not `misshapen`.
    fn cell(&self, row: usize, column: usize) -> &str;
    /// Why the row cannot be read as one of the table's, if it cannot.
    fn misshapen(&self, row: usize) -> Option<Problem>;
}

/// One row given as text in the table's column order.
struct OneRow<'r> {
    line: u64,
    raw: &'r [&'r str],
}

impl TextRows for OneRow<'_> {
    fn len(&self) -> usize {
        1
    }

    fn line(&self, _: usize) -> u64 {
        self.line
    }

    fn cell(&self, _: usize, column: usize) -> &str {
        self.raw[column]
    }

    fn misshapen(&self, _: usize) -> Option<Problem> {
        None
    }
}

/// Collects the canonical rows an adapter builds from text cells and validates each exactly as a
/// canonical CSV row is validated (required columns, types, vocabularies, spans, duplicate keys
/// within the file): a refused row becomes a rejection with its line, never a silent drop.
///
/// A large file is handed on in chunks (`take_chunk`); the natural keys seen stay behind, as
/// 128-bit hashes of their typed values, so a duplicate is found across chunks without keeping
/// the rows or formatting a key as text.
#[derive(Debug)]
pub struct RowSink {
    source_name: String,
    /// One entry per table this file has given rows of (rarely more than two).
    tables: Vec<TableRows>,
    rejections: Vec<Rejection>,
    /// Tenants this file created (`tenant`), each once.
    tenants_created: std::collections::HashSet<String>,
    /// (kind, id) links this file made (`link_site`, `link_company`), each once.
    links_made: std::collections::HashSet<(String, String)>,
    /// A row's key as bytes, rebuilt for each row in the same buffer.
    key_bytes: Vec<u8>,
    /// Text cells cut to `canonical::TEXT_BYTES` since the last chunk, by column.
    cut_cells: std::collections::BTreeMap<&'static str, u64>,
}

/// The entry of `table` among a sink's tables, made on its first row.
fn rows_of<'s>(tables: &'s mut Vec<TableRows>, table: &'static Table) -> &'s mut TableRows {
    let index = match tables.iter().position(|t| std::ptr::eq(t.table, table)) {
        Some(i) => i,
        None => {
            let checks = canonical::RowChecks::of(table);
            tables.push(TableRows {
                table,
                rows: None,
                last_size: Default::default(),
                keys: KeysSeen::of(table, &checks.key),
                checks,
            });
            tables.len() - 1
        }
    };
    &mut tables[index]
}

/// What a sink holds for one table: the rows since the last chunk, the keys of the whole file,
/// and the row checks with their columns already found.
#[derive(Debug)]
struct TableRows {
    table: &'static Table,
    rows: Option<Batch>,
    /// The size the previous chunk's rows reached: the next chunk starts at it.
    last_size: canonical::BatchSize,
    checks: canonical::RowChecks,
    keys: KeysSeen,
}

/// The natural keys a file has given, with the line of each one's first row. A key is kept as
/// two 128-bit hashes: of its owner columns (day, tenant, device, source system: a device, for
/// patch rows), which picks a group, and of the rest (the patch), kept in that group. Exports
/// list a device's rows together, so a file of millions of rows looks up its groups a device at
/// a time and each group stays in the cache while its rows pass; one map of every key would be a
/// cache miss per row. Groups are owners, never a near-unique prefix (an attempt's time), so a
/// group holds many keys, not one map per row. Two keys are taken for one only if both hashes of
/// each collide (odds of 2^-128).
#[derive(Debug, Default)]
struct KeysSeen {
    /// Positions of the key's owner columns and of the rest, in key order.
    group_columns: Vec<usize>,
    rest_columns: Vec<usize>,
    // A u128 would be 16-byte aligned and pad every entry; two u64 halves take less. The keys are
    // hashes already: foldhash mixes them cheaply, SipHash's DoS guard buys nothing.
    groups: HashMap<[u64; 2], HashMap<[u64; 2], u64, foldhash::fast::FixedState>, foldhash::fast::FixedState>,
    /// How many keys the group last begun holds: the next one starts with that much room
    /// (a device's patches are about as many as the last device's), not growing by doubling.
    last_group: ([u64; 2], usize),
}

impl KeysSeen {
    fn of(table: &Table, key: &[usize]) -> Self {
        const OWNERS: &[&str] = &["snapshot_date", "tenant_id", "device_id", "source_system"];
        let (mut group_columns, mut rest_columns): (Vec<usize>, Vec<usize>) = key
            .iter()
            .partition(|&&k| OWNERS.contains(&table.columns[k].name));
        // A key of owners only (a device of a day) is grouped by all but its last column.
        if rest_columns.is_empty()
            && let Some(last) = group_columns.pop()
        {
            rest_columns.push(last);
        }
        KeysSeen {
            group_columns,
            rest_columns,
            ..Default::default()
        }
    }

    /// The line of the first row with this key, or `None` (and the key is kept with `line`).
    fn first_line(&mut self, group: [u64; 2], last: [u64; 2], line: u64) -> Option<u64> {
        let room = self.last_group.1;
        let keys = self.groups.entry(group).or_insert_with(|| {
            HashMap::with_capacity_and_hasher(room, foldhash::fast::FixedState::default())
        });
        if self.last_group.0 != group {
            self.last_group = (group, 0);
        }
        self.last_group.1 = keys.len() + 1;
        match keys.entry(last) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(vacant) => {
                vacant.insert(line);
                None
            }
        }
    }
}

impl RowSink {
    pub fn new(source_name: &str) -> Self {
        RowSink {
            source_name: source_name.to_string(),
            tables: Vec::new(),
            rejections: Vec::new(),
            tenants_created: Default::default(),
            links_made: Default::default(),
            key_bytes: Vec::new(),
            cut_cells: Default::default(),
        }
    }

    /// Validates and keeps one row given as (canonical column, text) pairs; columns not named
    /// are empty. `line` is where the row stands in its file (a record number for JSON).
    pub fn push(&mut self, table: &'static Table, line: u64, cells: &[(&str, String)]) {
        debug_assert!(
            cells.iter().all(|(name, _)| table.column(name).is_some()),
            "unknown column in {cells:?} for {}",
            table.name
        );
        let raw: Vec<&str> = table
            .columns
            .iter()
            .map(|column| {
                cells
                    .iter()
                    .find(|(name, _)| *name == column.name)
                    .map_or("", |(_, v)| v.as_str())
            })
            .collect();
        self.push_values(table, line, &raw);
    }

    /// Validates and keeps one row given as text in the table's column order.
    pub fn push_values(&mut self, table: &'static Table, line: u64, raw: &[&str]) {
        debug_assert_eq!(
            raw.len(),
            table.columns.len(),
            "one cell per column of {}",
            table.name
        );
        self.push_rows(table, &OneRow { line, raw });
    }

    /// Validates and keeps a block of rows. Their cells are read a column at a time (see
    /// `Batch::append_column`), a window of rows at a time; then each row, in file order, is
    /// refused with every problem of its cells, or for a span that ends before it starts, or for
    /// a natural key an earlier row of the file has, and otherwise kept.
    pub fn push_rows(&mut self, table: &'static Table, rows: &impl TextRows) {
        let mut start = 0;
        while start < rows.len() {
            let end = rows.len().min(start + Self::WINDOW);
            self.push_window(table, rows, start..end);
            start = end;
        }
    }

    /// Rows whose cells are read together: a window's text stays in the core's cache while
    /// each of its columns is read.
    const WINDOW: usize = 256;

    fn push_window(&mut self, table: &'static Table, rows: &impl TextRows, window: std::ops::Range<usize>) {
        let source_name = &self.source_name;
        let entry = rows_of(&mut self.tables, table);
        let batch = entry
            .rows
            .get_or_insert_with(|| Batch::with_size(table, source_name, &entry.last_size));
        let first = batch.len();
        // Rows that cannot be read as the table's are refused whole; their cells are not read.
        let misshapen: Vec<(usize, Problem)> = window
            .clone()
            .filter_map(|row| Some((row - window.start, rows.misshapen(row)?)))
            .collect();
        let mut readable = [true; Self::WINDOW];
        for (row, _) in &misshapen {
            readable[*row] = false;
        }
        let mut cell_problems = Vec::new();
        for (index, column) in table.columns.iter().enumerate() {
            let cells = window
                .clone()
                .map(|row| readable[row - window.start].then(|| rows.cell(row, index)));
            let cut = batch.append_column(index, cells, &mut cell_problems);
            if cut > 0 {
                *self.cut_cells.entry(column.name).or_default() += cut;
            }
        }
        batch.append_lines(window.clone().map(|row| rows.line(row)));
        // Found a column at a time; refused a row at a time, each row's in column order.
        cell_problems.extend(misshapen);
        cell_problems.sort_by_key(|(row, _)| *row);
        let mut cell_problems = cell_problems.into_iter().peekable();
        // One flag per row of the window, made when the first row is refused.
        let mut keep: Vec<bool> = Vec::new();
        for (row, line) in window.clone().map(|row| rows.line(row)).enumerate() {
            let mut problems: Vec<Problem> = Vec::new();
            while let Some((_, problem)) = cell_problems.next_if(|(r, _)| *r == row) {
                problems.push(problem);
            }
            let cell = |index| batch.cell(first + row, index);
            if problems.is_empty() {
                problems = entry.checks.problems(cell);
            }
            if problems.is_empty() {
                let group = key_hash(&entry.keys.group_columns, cell, &mut self.key_bytes);
                let last = key_hash(&entry.keys.rest_columns, cell, &mut self.key_bytes);
                if let Some(first_line) = entry.keys.first_line(group, last, line) {
                    problems.push(Problem {
                        column: table.key.join("+"),
                        value: entry
                            .checks
                            .key
                            .iter()
                            .map(|&k| cell(k).to_key_text())
                            .collect::<Vec<_>>()
                            .join("|"),
                        reason: Reason::DuplicateKey,
                        detail: format!("same natural key as line {first_line}, which is kept"),
                    });
                }
            }
            if !problems.is_empty() {
                if keep.is_empty() {
                    keep = vec![true; window.len()];
                }
                keep[row] = false;
                self.rejections
                    .extend(problems.into_iter().map(|problem| Rejection {
                        table: table.name.to_string(),
                        line,
                        problem,
                    }));
            }
        }
        if !keep.is_empty() {
            batch.keep_rows(first, &keep);
        }
    }

    /// Creates the tenant a row of this export belongs to, from what the export says of it (a
    /// Datto site, a NinjaOne organization, a Manage company), when the lake has no tenant of that
    /// id: every row's tenant exists, and a tenant already known keeps what other tools said.
    pub fn tenant(
        &mut self,
        ctx: &Context,
        line: u64,
        tenant_id: &str,
        tenant_name: &str,
        psa_company_id: Option<&str>,
        rmm_site_id: Option<&str>,
    ) {
        if tenant_id.is_empty()
            || ctx.tenants.contains_key(tenant_id)
            || self.tenants_created.contains(tenant_id)
        {
            return;
        }
        self.tenants_created.insert(tenant_id.to_string());
        let name = if tenant_name.trim().is_empty() {
            tenant_id
        } else {
            tenant_name
        };
        self.push(
            &canonical::TENANTS,
            line,
            &ctx.tenant_cells(tenant_id, name, psa_company_id, rmm_site_id),
        );
    }

    /// The items of a JSON page that are objects, with their item number (the line a rejection
    /// names); an item that is no object is quarantined as `malformed_record` and the rest of the
    /// page still loads.
    pub fn object_items<'v>(
        &mut self,
        table: &Table,
        items: &'v [serde_json::Value],
    ) -> Vec<(u64, &'v serde_json::Value)> {
        let mut objects = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let line = i as u64 + 1;
            if item.is_object() {
                objects.push((line, item));
            } else {
                let text = item.to_string();
                self.reject(
                    table,
                    line,
                    Problem {
                        column: String::new(),
                        value: text.chars().take(200).collect(),
                        reason: Reason::MalformedRecord,
                        detail: format!("item {line} of the page is no JSON object"),
                    },
                );
            }
        }
        objects
    }

    /// Records that a site (organization, client) id of this export's tool belongs to a tenant,
    /// so the tool's later exports resolve it among their own ids only.
    pub fn link_site(&mut self, ctx: &Context, line: u64, site_id: &str, tenant_id: &str) {
        self.link(ctx, line, SITE_LINK, site_id, tenant_id);
    }

    /// A PSA's client company as a tenant: the tenant its id names (`Context::company_tenant`),
    /// its row (the company list is the authority on the client's name) and the company link.
    /// Refused with the reason when the id is another PSA's client's.
    pub fn client_company(&mut self, ctx: &Context, line: u64, company_id: &str, name: &str) {
        match ctx.company_tenant(company_id) {
            Ok(tenant) => {
                let cells = ctx.tenant_cells(&tenant, name, Some(company_id), None);
                self.push(&canonical::TENANTS, line, &cells);
                self.link_company(ctx, line, company_id, &tenant);
            }
            Err(problem) => self.reject(&canonical::TENANTS, line, problem),
        }
    }

    /// Records that a company id of this export's PSA belongs to a tenant (`company_tenant`).
    pub fn link_company(&mut self, ctx: &Context, line: u64, company_id: &str, tenant_id: &str) {
        self.link(ctx, line, COMPANY_LINK, company_id, tenant_id);
    }

    fn link(&mut self, ctx: &Context, line: u64, kind: &str, id: &str, tenant_id: &str) {
        if id.is_empty()
            || tenant_id.is_empty()
            || !self.links_made.insert((kind.to_string(), id.to_string()))
        {
            return;
        }
        if ctx.own_link(kind, id) == Some(tenant_id) {
            return;
        }
        self.push(
            &crate::canonical::system::SOURCE_LOOKUPS,
            line,
            &[
                ("source", ctx.source.to_string()),
                ("kind", kind.to_string()),
                ("record_id", id.to_string()),
                ("key", tenant_id.to_string()),
            ],
        );
    }

    /// Rows kept so far, across tables (since the last chunk was taken).
    pub fn rows_held(&self) -> usize {
        self.tables
            .iter()
            .filter_map(|t| t.rows.as_ref())
            .map(Batch::len)
            .sum()
    }

    /// Hands over the rows and rejections collected since the last chunk; the keys seen stay,
    /// so a later duplicate of a row already handed over is still refused.
    pub fn take_chunk(
        &mut self,
        rows_read: u64,
        mut warnings: Vec<String>,
        encoding: text::TextEncoding,
    ) -> AdapterOutput {
        if !self.cut_cells.is_empty() {
            let cut = std::mem::take(&mut self.cut_cells);
            warnings.push(format!(
                "{} text cell(s) longer than {} bytes were cut to that length: {}",
                cut.values().sum::<u64>(),
                canonical::TEXT_BYTES,
                cut.iter()
                    .map(|(column, n)| format!("{column} ({n})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut batches: Vec<Batch> = Vec::new();
        for rows in &mut self.tables {
            if let Some(batch) = rows.rows.take() {
                rows.last_size = batch.size();
                batches.push(batch);
            }
        }
        // In table name order, whatever order the file gave its tables in.
        batches.sort_by_key(|b| b.table.name);
        AdapterOutput {
            batches,
            rejections: std::mem::take(&mut self.rejections),
            rows_read,
            warnings,
            encoding,
            document_date: None,
        }
    }

    /// A timestamp cell read with the source's style, as canonical text (empty for no value).
    /// When the text is no timestamp the source writes, the row is refused here with the reason
    /// and `None` comes back: the caller skips the row.
    pub fn time_cell(
        &mut self,
        style: &TimeStyle,
        table: &Table,
        line: u64,
        column: &str,
        raw: &str,
    ) -> Option<String> {
        match style.parse(raw) {
            Ok(t) => Some(t.map(|t| t.to_rfc3339()).unwrap_or_default()),
            Err(reason) => {
                self.reject(table, line, bad_value(column, raw, reason));
                None
            }
        }
    }

    /// Records a row refused before it could be built (e.g. a vendor value with no meaning).
    pub fn reject(&mut self, table: &Table, line: u64, problem: Problem) {
        self.rejections.push(Rejection {
            table: table.name.to_string(),
            line,
            problem,
        });
    }

    pub fn finish(
        mut self,
        rows_read: u64,
        warnings: Vec<String>,
        encoding: text::TextEncoding,
    ) -> AdapterOutput {
        self.take_chunk(rows_read, warnings, encoding)
    }
}

/// A natural key as a 128-bit hash of its typed values (each tagged with its type, text ended
/// by a separator), so that two keys collide only with probability 2^-128. `bytes` is scratch
/// space, reused from row to row.
fn key_hash<'c>(key_columns: &[usize], cell: impl Fn(usize) -> Cell<'c>, bytes: &mut Vec<u8>) -> [u64; 2] {
    bytes.clear();
    for &column in key_columns {
        match &cell(column) {
            Cell::Null => bytes.push(0),
            Cell::Text(s) => {
                bytes.push(1);
                bytes.extend_from_slice(s.as_bytes());
                bytes.push(0xff);
            }
            Cell::Date(d) => {
                bytes.push(2);
                bytes.extend_from_slice(&chrono::Datelike::num_days_from_ce(d).to_le_bytes());
            }
            Cell::Timestamp(t) => {
                bytes.push(3);
                bytes.extend_from_slice(&t.timestamp_micros().to_le_bytes());
            }
            Cell::Bool(b) => bytes.extend_from_slice(&[4, u8::from(*b)]),
            Cell::Int(i) => {
                bytes.push(5);
                bytes.extend_from_slice(&i.to_le_bytes());
            }
            Cell::Float(x) => {
                bytes.push(6);
                bytes.extend_from_slice(&x.to_bits().to_le_bytes());
            }
        }
    }
    let hash = xxhash_rust::xxh3::xxh3_128(bytes);
    [(hash >> 64) as u64, hash as u64]
}

/// The `source_lookups` kind linking a tool's site (organization, client) id to a tenant.
pub const SITE_LINK: &str = "site";
/// The `source_lookups` kind linking a PSA's company id to a tenant.
pub const COMPANY_LINK: &str = "company";

/// What an adapter may know beyond its own file.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// `[mapping.<tool>]`: how the MSP set up its PSA.
    pub mapping: &'a MappingSettings,
    /// `[sources.<name>]`: how each tool's exports write times and dates.
    pub source_settings: &'a std::collections::BTreeMap<String, SourceSettings>,
    /// `--snapshot-date`, else a `YYYY-MM-DD` in the file name.
    pub snapshot_date: Option<NaiveDate>,
    /// The tool whose export is read (`Format::source`): its own site links win.
    pub source: &'static str,
    /// RMM site or organization id -> tenant_id, from the tenants already in the lake.
    pub site_tenants: HashMap<String, String>,
    /// Site ids another tool linked to a tenant (`source_lookups`, kind `site`): never matched
    /// against `site_tenants` for this tool (NinjaOne org 7 is not Automate client 7).
    pub claimed_sites: std::collections::HashSet<String>,
    /// Company ids another PSA linked to a tenant: Autotask company 23 and ConnectWise Manage
    /// company 23 are different clients.
    pub claimed_companies: std::collections::HashSet<String>,
    /// Lower-cased tenant name -> tenant_id, for exports that name their client only.
    pub tenant_names: HashMap<String, String>,
    /// device_id -> tenant_id from the latest devices snapshot in the lake, for exports that name
    /// only the device (NinjaOne patch queries, WUfB).
    pub device_tenants: HashMap<String, String>,
    /// What earlier exports of the same tool left in `source_lookups` (picklists, approvals...).
    pub lookups: Vec<crate::canonical::system::Lookup>,
    /// The tenants already in the lake, by tenant_id: (criticality, psa_company_id, rmm_site_id).
    pub tenants: HashMap<String, [Option<String>; 3]>,
}

impl Context<'_> {
    /// A source's settings: its `[sources.<name>]` table, else the adapter's own defaults.
    pub fn settings(&self, source: &str) -> SourceSettings {
        self.source_settings
            .get(source)
            .cloned()
            .unwrap_or_else(|| SourceSettings {
                date_culture: default_date_culture(source),
                ..Default::default()
            })
    }

    pub fn time_style(&self, source: &str) -> TimeStyle {
        let settings = self.settings(source);
        TimeStyle {
            culture: settings.date_culture,
            zone: settings.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC),
        }
    }

    /// A tenant row from a tool that knows only some of its columns: what the tool does not say
    /// (an RMM knows no PSA company, a PSA no RMM site, neither a criticality) is kept from the
    /// tenant already in the lake, so that ingesting a second tool never erases what the first
    /// one linked.
    pub fn tenant_cells(
        &self,
        tenant_id: &str,
        tenant_name: &str,
        psa_company_id: Option<&str>,
        rmm_site_id: Option<&str>,
    ) -> Cells {
        let known = self.tenants.get(tenant_id);
        let keep = |i: usize| known.and_then(|k| k[i].clone()).unwrap_or_default();
        vec![
            ("tenant_id", tenant_id.to_string()),
            ("tenant_name", tenant_name.to_string()),
            ("criticality", keep(0)),
            (
                "psa_company_id",
                psa_company_id
                    .filter(|v| !v.is_empty())
                    .map_or_else(|| keep(1), str::to_string),
            ),
            (
                "rmm_site_id",
                rmm_site_id
                    .filter(|v| !v.is_empty())
                    .map_or_else(|| keep(2), str::to_string),
            ),
        ]
    }

    /// The tenant of a site (organization, client) id of this tool: this tool's own links first,
    /// then the tenants' `rmm_site_id` (as a tenants file may set it), unless another tool
    /// linked that id.
    pub fn site_tenant(&self, site_id: &str) -> Option<String> {
        if site_id.is_empty() {
            return None;
        }
        if let Some(tenant) = self.own_site(site_id) {
            return Some(tenant.to_string());
        }
        if self.claimed_sites.contains(site_id) {
            return None;
        }
        self.site_tenants.get(site_id).cloned()
    }

    fn own_site(&self, site_id: &str) -> Option<&str> {
        self.own_link(SITE_LINK, site_id)
    }

    fn own_link(&self, kind: &str, id: &str) -> Option<&str> {
        self.lookups
            .iter()
            .find(|l| l.kind == kind && l.record_id == id)
            .and_then(|l| l.key.as_deref())
    }

    /// The tenant of a PSA company id: the tenant of that id, unless another PSA already linked
    /// the same number to its client. Then the row is refused rather than filed under the other
    /// PSA's client (an MSP moving from Autotask to ConnectWise Manage has both numberings).
    pub fn company_tenant(&self, company_id: &str) -> Result<String, Problem> {
        if let Some(tenant) = self.own_link(COMPANY_LINK, company_id) {
            return Ok(tenant.to_string());
        }
        if self.claimed_companies.contains(company_id) {
            return Err(Problem {
                column: "tenant_id".into(),
                value: company_id.to_string(),
                reason: Reason::UnknownTenant,
                detail: format!(
                    "company {company_id} of {} has the number of another PSA's client: it is not \
                     filed under that client; give this PSA's companies their own tenants",
                    self.source
                ),
            });
        }
        Ok(company_id.to_string())
    }

    pub fn device_tenant(&self, device_id: &str) -> Option<String> {
        self.device_tenants.get(device_id).cloned()
    }

    pub fn named_tenant(&self, name: &str) -> Option<String> {
        self.tenant_names.get(&name.trim().to_lowercase()).cloned()
    }

    /// The day the export describes; a snapshot without one is refused, never dated by the clock
    /// or the file's modification time.
    pub fn require_snapshot_date(&self, file: &SourceFile) -> Result<NaiveDate, FileError> {
        self.snapshot_date.ok_or_else(|| {
            FileError::whole(
                &file.path,
                "this export has no snapshot date: pass --snapshot-date YYYY-MM-DD or put the date in \
                 the file name (e.g. devices_2026-10-31.json)",
            )
        })
    }
}

/// The first `YYYY-MM-DD` in a file name.
pub fn date_in_file_name(path: &std::path::Path) -> Option<NaiveDate> {
    let name = path.file_name()?.to_string_lossy();
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|i| {
        let candidate = name.get(i..i + 10)?;
        let shaped = candidate.bytes().enumerate().all(|(j, b)| match j {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
        if shaped {
            NaiveDate::parse_from_str(candidate, "%Y-%m-%d").ok()
        } else {
            None
        }
    })
}

/// The release date a Microsoft monthly title implies: `2024-07 Cumulative Update ...` -> the
/// second Tuesday (Patch Tuesday) of July 2024.
pub fn microsoft_release_date(title: &str) -> Option<NaiveDate> {
    let prefix = title.trim().get(..7)?;
    let (year, month) = prefix.split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let (year, month): (i32, u32) = (year.parse().ok()?, month.parse().ok()?);
    (1..=12)
        .contains(&month)
        .then(|| crate::calendar::patch_tuesday(year, month))
}

/// A vendor severity word -> the canonical one: case folded, `optional` is low, anything else
/// unspecified.
pub fn severity_word(raw: &str) -> &'static str {
    match raw.trim().to_ascii_lowercase().as_str() {
        "critical" => "critical",
        "important" => "important",
        "moderate" => "moderate",
        "low" | "optional" => "low",
        _ => "unspecified",
    }
}

/// Whether a vendor severity word means one of the canonical severities (empty counts as
/// known: nothing was said).
pub fn is_severity_word(raw: &str) -> bool {
    raw.trim().is_empty()
        || severity_word(raw) != "unspecified"
        || raw.trim().eq_ignore_ascii_case("unspecified")
}

/// A PSA change's outcome: the mapped field when it says one; else what the ticket status
/// proves (open: in progress, cancelled: cancelled). A completed change whose outcome nobody
/// recorded is refused rather than counted as a success. `mapping_key` names the setting to fix.
pub fn change_outcome(mapped: String, status: &str, mapping_key: &str) -> Result<String, Problem> {
    match (mapped, status) {
        (o, _) if !o.is_empty() => Ok(o),
        (_, "cancelled") => Ok("cancelled".into()),
        (_, "complete") => Err(Problem {
            column: "outcome".into(),
            value: String::new(),
            reason: Reason::MissingRequired,
            detail: format!("completed change with no outcome: map {mapping_key}"),
        }),
        _ => Ok("in_progress".into()),
    }
}

/// A problem with one vendor value, for the quarantine.
pub fn bad_value(column: &str, value: &str, detail: String) -> Problem {
    let reason = if column.ends_with("_utc") {
        Reason::InvalidTimestamp
    } else {
        Reason::InvalidEnum
    };
    Problem {
        column: column.to_string(),
        value: value.to_string(),
        reason,
        detail,
    }
}

/// A vendor CSV read into records whose fields are found by header name without regard to case
/// or a ` [UTC]` suffix (WUfB). PowerShell's all-quoted fields, a BOM, UTF-16 and the `;`
/// delimiter of day-first locales are all read.
#[derive(Debug, Clone)]
pub struct VendorCsv {
    pub headers: Vec<String>,
    pub records: Vec<VendorRecord>,
}

#[derive(Debug, Clone)]
pub struct VendorRecord {
    pub line: u64,
    fields: HashMap<String, String>,
}

impl VendorRecord {
    /// A field by header name (case-insensitive), trimmed; empty when absent.
    pub fn get(&self, name: &str) -> String {
        self.fields
            .get(&normalise_header(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    }
}

pub fn normalise_header(h: &str) -> String {
    let h = h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
    h.strip_suffix(" [utc]").unwrap_or(&h).trim().to_string()
}

impl VendorCsv {
    pub fn parse(file: &SourceFile, text: &str) -> Result<VendorCsv, FileError> {
        let first_line = text.lines().next().unwrap_or_default();
        let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
            b';'
        } else {
            b','
        };
        // The whole file is one block: the header is its first record.
        let mut splitter = records::Splitter::new(text.as_bytes(), delimiter);
        let mut block = records::RecordBlock::default();
        let cannot = |e: std::io::Error| FileError::whole(&file.path, format!("cannot read: {e}"));
        while splitter.next_record(&mut block).map_err(cannot)? {}
        let split = block.text().map_err(|e| block.utf8_error(file, &e))?;
        if block.is_empty() {
            return Ok(VendorCsv {
                headers: Vec::new(),
                records: Vec::new(),
            });
        }
        let headers: Vec<String> = (0..block.width(0))
            .map(|i| normalise_header(block.field(split, 0, i)))
            .collect();
        let records = (1..block.len())
            .map(|row| VendorRecord {
                line: block.lines[row],
                fields: headers
                    .iter()
                    .cloned()
                    .zip((0..block.width(row)).map(|i| block.field(split, row, i).to_string()))
                    .collect(),
            })
            .collect();
        Ok(VendorCsv { headers, records })
    }

    pub fn has(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.headers.contains(&normalise_header(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vendor_csv_row_has_the_line_it_starts_on_whatever_ends_the_lines() {
        let file = SourceFile {
            path: "export.csv".into(),
            size: 0,
            plain_utf8: true,
        };
        for end in ["\n", "\r\n"] {
            let text = ["Ticket Number;Title", "T1;\"Patch\nfailed\"", "", "T2;Reboot", ""].join(end);
            let csv = VendorCsv::parse(&file, &text).unwrap();
            assert_eq!(csv.headers, vec!["ticket number", "title"], "{end:?}");
            let lines: Vec<u64> = csv.records.iter().map(|r| r.line).collect();
            assert_eq!(lines, vec![2, 5], "lines ending {end:?}");
            assert_eq!(csv.records[0].get("Title"), "Patch\nfailed");
        }
    }

    #[test]
    fn the_snapshot_date_is_the_first_iso_date_in_the_file_name() {
        let date = |name: &str| date_in_file_name(std::path::Path::new(name));
        assert_eq!(
            date("exports/devices_2026-10-31.json"),
            NaiveDate::from_ymd_opt(2026, 10, 31)
        );
        assert_eq!(
            date("2026-10-30 ninja 2026-10-31.json"),
            NaiveDate::from_ymd_opt(2026, 10, 30)
        );
        assert_eq!(date("devices_2026-13-31.json"), None);
        assert_eq!(date("devices.json"), None);
    }

    #[test]
    fn microsoft_titles_give_patch_tuesday_and_severities_fold() {
        assert_eq!(
            microsoft_release_date("2024-07 Cumulative Update for Windows 11 (KB5040442)"),
            NaiveDate::from_ymd_opt(2024, 7, 9)
        );
        assert_eq!(microsoft_release_date("Intel - System - 10.1.36.7"), None);
        assert_eq!(severity_word("CRITICAL"), "critical");
        assert_eq!(severity_word("OPTIONAL"), "low");
        assert_eq!(severity_word("recommended"), "unspecified");
        assert!(!is_severity_word("recommended") && is_severity_word("IMPORTANT") && is_severity_word(""));
    }
}

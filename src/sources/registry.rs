//! Which exports govpack reads: each adapter declares its formats (name, stage, how a file is
//! recognised and read) in one `ADAPTER` static, and `ADAPTERS` joins them. Adding a vendor is
//! its file, one line in `ADAPTERS`, its fixtures and its sample writer.

use chrono::NaiveDate;
use serde_json::Value;

use super::{
    AdapterOutput, Context, FileError, RowSink, SourceFile, VendorCsv, canonical_csv, cisa_kev,
    connectwise_automate, connectwise_manage, datto_rmm, json, msrc_cvrf, ninjaone, text, wufb,
};
use crate::canonical::Table;
use crate::sources::settings::DateCulture;

/// Every adapter. Recognition tries their JSON formats in this order (the reference documents,
/// recognised by their whole envelope, first), and files of one stage load in this order.
pub static ADAPTERS: [&Adapter; 9] = [
    &canonical_csv::ADAPTER,
    &cisa_kev::ADAPTER,
    &msrc_cvrf::ADAPTER,
    &datto_rmm::ADAPTER,
    &ninjaone::ADAPTER,
    &connectwise_automate::ADAPTER,
    &wufb::ADAPTER,
    &super::autotask::ADAPTER,
    &connectwise_manage::ADAPTER,
];

/// One tool's exports and the settings they read with.
#[derive(Debug)]
pub struct Adapter {
    /// The `[sources.<name>]` settings the exports read with.
    pub settings_key: &'static str,
    /// How the tool writes ambiguous dates when `date_culture` is not set.
    pub default_date_culture: DateCulture,
    /// Its formats, in load order within a stage.
    pub formats: &'static [FormatSpec],
}

/// One export format of an adapter.
#[derive(Debug)]
pub struct FormatSpec {
    /// The name `--source` takes and the ingest ledger records.
    pub name: &'static str,
    pub stage: Stage,
    pub reads: Reads,
}

/// When a format's files load in a run. Devices and tickets of a vendor export find their tenant
/// among the tenants already in the lake, and tickets their picklist labels among the lookups:
/// those files go first. Within a stage files load in `ADAPTERS` order, each adapter's formats
/// in its own order (a tool's devices before its patch queries, which name only the device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Tenants,
    Lookups,
    Rows,
    /// Vulnerability reference data, of no tenant.
    Reference,
}

/// Reads one JSON document's rows into the sink, returning how many records it read.
pub type JsonReader =
    fn(&SourceFile, &Value, &Context, &mut RowSink, &mut Vec<String>) -> Result<u64, FileError>;
/// Reads one vendor CSV's rows into the sink, returning how many records it read.
pub type CsvReader =
    fn(&SourceFile, &VendorCsv, &Context, &mut RowSink, &mut Vec<String>) -> Result<u64, FileError>;

/// How a format is recognised and read.
#[derive(Debug)]
pub enum Reads {
    /// Canonical CSV: recognised by its header, streamed from disk a chunk at a time.
    Canonical,
    /// A JSON document read whole: a page or an export of a tool's records.
    Json {
        recognises: fn(&JsonProbe) -> bool,
        read: JsonReader,
    },
    /// A reference document with one long list (CISA's catalog, a month of MSRC's CVRF): its
    /// items are read one at a time as the file streams from disk and handed on in chunks, so a
    /// document of any size is never held, as a document or as rows.
    JsonList {
        recognises: fn(&JsonProbe) -> bool,
        /// What the document is, for messages: "the KEV catalog".
        document: &'static str,
        /// The key of its list (case ignored).
        list: &'static str,
        /// A reader of the items, from the document in outline (its own fields whole).
        reader: fn(&Value) -> Box<dyn ListReader>,
        /// The document's own release date: a newer release's rows replace an older one's.
        released: fn(&Value) -> Option<NaiveDate>,
    },
    Csv {
        /// Header names that together say the file is this export (case and spacing ignored).
        headers: &'static [&'static str],
        read: CsvReader,
    },
}

/// Reads the items of a `JsonList` document.
pub trait ListReader {
    /// Reads one item (numbered from 1) into the sink, returning the rows it read.
    fn item(&mut self, number: u64, item: &Value, sink: &mut RowSink) -> u64;
    /// What there is to say once every item is read.
    fn finish(&mut self, items: u64, warnings: &mut Vec<String>);
}

/// What JSON recognition looks at: the document in outline (`json::Outline`), one of its
/// records and one of its alerts.
pub struct JsonProbe<'a> {
    pub document: &'a Value,
    pub record: &'a Value,
    pub alert: &'a Value,
}

impl JsonProbe<'_> {
    pub fn document_has(&self, key: &str) -> bool {
        json::field(self.document, key).is_some()
    }

    pub fn record_has(&self, keys: &[&str]) -> bool {
        keys.iter().all(|k| json::field(self.record, k).is_some())
    }

    pub fn alert_has(&self, keys: &[&str]) -> bool {
        keys.iter().all(|k| json::field(self.alert, k).is_some())
    }
}

/// A format, with the adapter that declares it.
#[derive(Clone, Copy)]
pub struct Format {
    adapter: &'static Adapter,
    spec: &'static FormatSpec,
    /// Its position in `ADAPTERS` order, which orders files within a stage.
    rank: usize,
}

impl PartialEq for Format {
    fn eq(&self, other: &Self) -> bool {
        self.spec.name == other.spec.name
    }
}

impl Eq for Format {}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.spec.name)
    }
}

impl Format {
    /// Every format, in `ADAPTERS` order.
    pub fn all() -> impl Iterator<Item = Format> {
        ADAPTERS
            .iter()
            .flat_map(|adapter| adapter.formats.iter().map(move |spec| (*adapter, spec)))
            .enumerate()
            .map(|(rank, (adapter, spec))| Format { adapter, spec, rank })
    }

    /// The name `--source` takes and the ingest ledger records.
    pub fn name(self) -> &'static str {
        self.spec.name
    }

    /// The `[sources.<name>]` settings this format reads with.
    pub fn source(self) -> &'static str {
        self.adapter.settings_key
    }

    pub fn is_canonical(self) -> bool {
        matches!(self.spec.reads, Reads::Canonical)
    }

    /// Where its files come in a run: by stage, then in `ADAPTERS` order.
    pub fn load_order(self) -> (Stage, usize) {
        (self.spec.stage, self.rank)
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::all().find(|f| f.name() == name)
    }

    pub fn names() -> String {
        Format::all().map(Format::name).collect::<Vec<_>>().join(", ")
    }

    fn canonical() -> Format {
        Format::all()
            .find(|f| f.is_canonical())
            .expect("canonical CSV is registered")
    }
}

/// The settings keys `[sources.<name>]` may use, one per adapter.
pub fn settings_keys() -> impl Iterator<Item = &'static str> {
    ADAPTERS.iter().map(|a| a.settings_key)
}

/// A source's date culture when its config does not set one: the adapter's own default.
pub fn default_date_culture(settings_key: &str) -> DateCulture {
    ADAPTERS
        .iter()
        .find(|a| a.settings_key == settings_key)
        .map_or(DateCulture::Iso, |a| a.default_date_culture)
}

/// A file decoded and recognised.
#[derive(Debug)]
pub struct Recognised {
    pub format: Format,
    pub encoding: text::TextEncoding,
    content: Content,
}

#[derive(Debug)]
enum Content {
    Json {
        outline: json::Outline,
        text: json::JsonText,
    },
    Csv(String),
    /// A canonical CSV in plain UTF-8, read from disk as it is ingested.
    CanonicalCsvOnDisk,
}

impl Recognised {
    /// The canonical table a canonical CSV file holds, from its header.
    pub fn canonical_table(&self, file: &SourceFile) -> Option<&'static Table> {
        match &self.content {
            Content::CanonicalCsvOnDisk => canonical_csv::table_on_disk(file).ok(),
            Content::Csv(text) if self.format.is_canonical() => canonical_csv::table_of(file, text).ok(),
            _ => None,
        }
    }
}

/// Recognises a file's format by its content, or takes the one forced with `--source`.
pub fn recognise(file: &SourceFile, forced: Option<Format>) -> Result<Recognised, FileError> {
    // The bulk of every lake: canonical CSV. Its header alone says so, and its rows are then read
    // from disk a chunk at a time, never the whole file into memory.
    if file.plain_utf8
        && forced.is_none_or(Format::is_canonical)
        && canonical_csv::table_on_disk(file).is_ok()
    {
        let (_, encoding) = file.utf8_reader(64)?;
        return Ok(Recognised {
            format: Format::canonical(),
            encoding,
            content: Content::CanonicalCsvOnDisk,
        });
    }
    // JSON in plain UTF-8 is read from disk as it streams; anything else is decoded whole.
    let on_disk = if file.plain_utf8 {
        let (mut input, encoding) = file.utf8_reader(1 << 16)?;
        let start = std::io::BufRead::fill_buf(&mut input)
            .map_err(|e| FileError::whole(&file.path, format!("cannot read: {e}")))?;
        json::starts_as_json(start).then_some(encoding)
    } else {
        None
    };
    let (json_text, encoding) = match on_disk {
        Some(encoding) => (json::JsonText::OnDisk, encoding),
        None => {
            let (text, encoding) = text::decode(&file.bytes()?)
                .map_err(|e| FileError::at(&file.path, e.line, Some(e.column), e.message))?;
            if !json::starts_as_json(text.as_bytes()) {
                let format = match forced {
                    Some(f) => f,
                    None => csv_format(file, &text)?,
                };
                return Ok(Recognised {
                    format,
                    encoding,
                    content: Content::Csv(text),
                });
            }
            (json::JsonText::Decoded(text), encoding)
        }
    };
    let outline = json_text.outline(file)?;
    let format = match forced {
        Some(f) => f,
        None => json_format(&outline.document).ok_or_else(|| {
            FileError::whole(
                &file.path,
                format!(
                    "unrecognised export: {}. Known formats: {} (force one with --source)",
                    json::shape(&outline),
                    Format::names()
                ),
            )
        })?,
    };
    Ok(Recognised {
        format,
        encoding,
        content: Content::Json {
            outline,
            text: json_text,
        },
    })
}

/// The format of a JSON export, from its envelope and its records. A page whose first records
/// are malformed (an item that is no object, or lacks the keys that say what it is) is still
/// recognised by the first record that does say: the malformed ones are quarantined one by one.
fn json_format(document: &Value) -> Option<Format> {
    let records = json::records(
        document,
        &["devices", "sites", "results", "organizations", "items"],
    );
    let alerts = json::records(document, &["alerts"]);
    let tries = records.len().max(alerts.len()).clamp(1, 20);
    (0..tries).find_map(|i| {
        let probe = JsonProbe {
            document,
            record: records.get(i).unwrap_or(document),
            alert: alerts.get(i).unwrap_or(document),
        };
        Format::all().find(|f| match f.spec.reads {
            Reads::Json { recognises, .. } | Reads::JsonList { recognises, .. } => recognises(&probe),
            _ => false,
        })
    })
}

fn csv_format(file: &SourceFile, text: &str) -> Result<Format, FileError> {
    let csv = VendorCsv::parse(file, text.lines().next().unwrap_or_default())?;
    if canonical_csv::detect_table(&csv.headers, &file.name()).is_ok() {
        return Ok(Format::canonical());
    }
    if let Some(format) =
        Format::all().find(|f| matches!(f.spec.reads, Reads::Csv { headers, .. } if csv.has(headers)))
    {
        return Ok(format);
    }
    // Neither canonical nor a known vendor header: the canonical message lists what each table
    // expects, which is the most useful thing to say about a CSV.
    let canonical = canonical_csv::detect_table(&csv.headers, &file.name()).unwrap_err();
    Err(FileError::at(
        &file.path,
        1,
        None,
        format!(
            "unrecognised export: {canonical}\nNor is it a vendor export govpack knows: {}",
            Format::names()
        ),
    ))
}

/// Reads a recognised file into canonical rows, handing them to `on_chunk`: a canonical CSV or
/// a reference document in chunks of `canonical_csv::CHUNK_ROWS` rows or items as it streams
/// from disk, any other export in one.
pub fn read(
    file: &SourceFile,
    recognised: Recognised,
    ctx: &Context,
    on_chunk: &mut dyn FnMut(AdapterOutput) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match (&recognised.format.spec.reads, &recognised.content) {
        (Reads::Canonical, Content::CanonicalCsvOnDisk) => canonical_csv::read_from_disk(file, on_chunk),
        (Reads::Canonical, Content::Csv(text)) => {
            canonical_csv::read_text(file, text, recognised.encoding, on_chunk)
        }
        (
            &Reads::JsonList {
                document: what,
                list,
                reader,
                released,
                ..
            },
            Content::Json { outline, text },
        ) => {
            let mut reader = reader(&outline.document);
            let document_date = released(&outline.document);
            let mut sink = RowSink::new(&file.name());
            let mut hand_on = |sink: &mut RowSink, rows_read: u64, warnings: Vec<String>| {
                let mut chunk = sink.take_chunk(rows_read, warnings, recognised.encoding);
                chunk.document_date = document_date;
                on_chunk(chunk)
            };
            let (mut rows_read, mut items_held) = (0, 0);
            let listed = text.for_each_item(file, list, &mut |number, item| {
                rows_read += reader.item(number, &item, &mut sink);
                items_held += 1;
                if items_held == canonical_csv::CHUNK_ROWS {
                    hand_on(&mut sink, std::mem::take(&mut rows_read), Vec::new())?;
                    items_held = 0;
                }
                Ok(())
            })?;
            // A document whose list is not a list would load nothing and look like an empty
            // catalog, a month without fixes: refused, so that nothing reads 0 for want of a
            // readable file.
            let items = match listed {
                json::Listed::Items(items) => items,
                json::Listed::NotAList => {
                    return Err(
                        FileError::whole(&file.path, format!("{what}'s `{list}` is not a list")).into(),
                    );
                }
                json::Listed::Absent => {
                    return Err(FileError::whole(&file.path, format!("{what} has no `{list}` list")).into());
                }
            };
            let mut warnings = Vec::new();
            reader.finish(items, &mut warnings);
            hand_on(&mut sink, rows_read, warnings)
        }
        _ => on_chunk(read_whole(file, recognised, ctx)?),
    }
}

/// A vendor export, read whole.
fn read_whole(file: &SourceFile, recognised: Recognised, ctx: &Context) -> Result<AdapterOutput, FileError> {
    let mut sink = RowSink::new(&file.name());
    let mut warnings = Vec::new();
    let wrong_kind = |what: &str| {
        FileError::whole(
            &file.path,
            format!("--source {} reads {what} files", recognised.format.name()),
        )
    };
    let rows = match (&recognised.format.spec.reads, &recognised.content) {
        (Reads::Json { read, .. }, Content::Json { text, .. }) => {
            read(file, &text.parse(file)?, ctx, &mut sink, &mut warnings)?
        }
        (Reads::Csv { read, .. }, Content::Csv(text)) => read(
            file,
            &VendorCsv::parse(file, text)?,
            ctx,
            &mut sink,
            &mut warnings,
        )?,
        (_, Content::Json { .. }) => return Err(wrong_kind("CSV")),
        (_, Content::Csv(_) | Content::CanonicalCsvOnDisk) => return Err(wrong_kind("JSON")),
    };
    Ok(sink.finish(rows, warnings, recognised.encoding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_and_settings_keys_are_unique() {
        let names: Vec<_> = Format::all().map(Format::name).collect();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        let keys: Vec<_> = settings_keys().collect();
        let unique: std::collections::BTreeSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
        assert_eq!(Format::all().filter(|f| f.is_canonical()).count(), 1);
    }

    #[test]
    fn tenants_and_lookups_load_before_the_rows_that_resolve_against_them() {
        let order = |name: &str| Format::from_name(name).unwrap().load_order();
        assert!(order("datto-rmm-sites-json") < order("canonical-csv"));
        assert!(order("autotask-companies-json") < order("autotask-picklists-json"));
        assert!(order("autotask-picklists-json") < order("canonical-csv"));
        assert!(order("canonical-csv") < order("datto-rmm-devices-json"));
        assert!(order("ninjaone-devices-json") < order("ninjaone-os-patches-json"));
        assert!(order("ninjaone-devices-json") < order("wufb-ucclientupdatestatus-csv"));
        assert!(order("connectwise-manage-tickets-json") < order("cisa-kev-json"));
    }
}

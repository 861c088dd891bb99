//! Reading vendor JSON leniently: field names matched without regard to case (Autotask's wire
//! names are camelCase with `ID` kept upper; PowerShell re-exports PascalCase), nulls and absent
//! fields alike, numbers and strings interchangeable where a vendor is inconsistent.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{FileError, SourceFile};

/// Items an outline keeps of each list: recognition looks for a record that says what the
/// export is among the first twenty (see `registry`), and a catalog of millions costs nothing.
pub const OUTLINE_ITEMS: usize = 20;

/// Whether text starting with these bytes is a JSON document rather than a CSV file.
pub fn starts_as_json(start: &[u8]) -> bool {
    start
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'['))
}

/// Where a JSON export's text is read from.
#[derive(Debug)]
pub enum JsonText {
    /// Plain UTF-8 on disk, streamed from the file each time it is read.
    OnDisk,
    /// Decoded whole (UTF-16), held in memory.
    Decoded(String),
}

/// A document with every list cut to its first `OUTLINE_ITEMS` items: enough to recognise an
/// export and read its own fields, whatever the size of its lists.
#[derive(Debug)]
pub struct Outline {
    pub document: Value,
    /// The items of a document that is a list, all of them.
    pub items: u64,
}

/// What `JsonText::for_each_item` found under its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    Items(u64),
    /// Absent or null.
    Absent,
    NotAList,
}

impl JsonText {
    /// The document in outline, read as it streams; a syntax error anywhere in the file names
    /// its line and column.
    pub fn outline(&self, file: &SourceFile) -> Result<Outline, FileError> {
        let items = std::cell::Cell::new(0);
        let document = self.run(file, Cut { items: Some(&items) })?;
        Ok(Outline {
            document,
            items: items.get(),
        })
    }

    /// The whole document, for adapters that read it at once.
    pub fn parse(&self, file: &SourceFile) -> Result<Value, FileError> {
        let parsed = match self {
            JsonText::OnDisk => {
                let bytes = file.bytes()?;
                serde_json::from_slice(bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(&bytes))
            }
            JsonText::Decoded(text) => serde_json::from_str(text),
        };
        parsed.map_err(|e| json_error(file, &e))
    }

    /// Hands each item of the list under `key` (case ignored) to `each`, numbered from 1, one at
    /// a time as the file streams: a document of any size is never held. The rest of the
    /// document is checked for syntax and skipped. An error from `each` stops the reading.
    pub fn for_each_item(
        &self,
        file: &SourceFile,
        key: &str,
        each: &mut dyn FnMut(u64, Value) -> anyhow::Result<()>,
    ) -> anyhow::Result<Listed> {
        let mut stopped = None;
        let read = self.run(
            file,
            Document {
                key,
                each,
                stopped: &mut stopped,
            },
        );
        match (stopped, read) {
            (Some(error), _) => Err(error),
            (None, read) => Ok(read?),
        }
    }

    fn run<T>(
        &self,
        file: &SourceFile,
        seed: impl for<'de> DeserializeSeed<'de, Value = T>,
    ) -> Result<T, FileError> {
        fn whole<'de, T, R: serde_json::de::Read<'de>>(
            mut deserializer: serde_json::Deserializer<R>,
            seed: impl DeserializeSeed<'de, Value = T>,
        ) -> serde_json::Result<T> {
            let value = seed.deserialize(&mut deserializer)?;
            deserializer.end()?;
            Ok(value)
        }
        match self {
            JsonText::OnDisk => {
                let (input, _) = file.utf8_reader(1 << 16)?;
                whole(serde_json::Deserializer::from_reader(input), seed)
            }
            JsonText::Decoded(text) => whole(serde_json::Deserializer::from_str(text), seed),
        }
        .map_err(|e| json_error(file, &e))
    }
}

/// A JSON error as a file error: where the text stops being JSON, or what it holds instead of
/// what was expected.
fn json_error(file: &SourceFile, e: &serde_json::Error) -> FileError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => FileError::whole(&file.path, format!("cannot read: {e}")),
        Category::Syntax | Category::Eof => FileError::at(
            &file.path,
            e.line() as u64,
            Some(e.column() as u64),
            format!("invalid JSON: {e}"),
        ),
        Category::Data => FileError::at(
            &file.path,
            e.line() as u64,
            Some(e.column() as u64),
            e.to_string(),
        ),
    }
}

/// Reads any JSON value as a `Value`, keeping the first `OUTLINE_ITEMS` items of each list and
/// skipping the rest (counted at the top level).
struct Cut<'c> {
    items: Option<&'c std::cell::Cell<u64>>,
}

impl<'de> DeserializeSeed<'de> for Cut<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Cut<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut kept = Vec::new();
        let mut count = 0;
        while kept.len() < OUTLINE_ITEMS {
            match seq.next_element_seed(Cut { items: None })? {
                Some(item) => kept.push(item),
                None => break,
            }
        }
        count += kept.len() as u64;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        if let Some(items) = self.items {
            items.set(count);
        }
        Ok(Value::Array(kept))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Cut { items: None })?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

/// A document whose list under `key` is handed on item by item; everything else is skipped.
struct Document<'a> {
    key: &'a str,
    each: &'a mut dyn FnMut(u64, Value) -> anyhow::Result<()>,
    /// The error that stopped `each`, kept whole (the parser can carry only a message).
    stopped: &'a mut Option<anyhow::Error>,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = Listed;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Listed, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = Listed;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON object with a `{}` list", self.key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listed, A::Error> {
        let mut listed = Listed::Absent;
        while let Some(name) = map.next_key::<String>()? {
            // The first non-null field of the name, as `field` finds it.
            if listed == Listed::Absent && name.eq_ignore_ascii_case(self.key) {
                listed = map.next_value_seed(Items {
                    each: &mut *self.each,
                    stopped: &mut *self.stopped,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(listed)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listed, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Listed::Absent)
    }
}

/// The value under a document's key: a list whose items are handed on, or what it is instead.
struct Items<'a> {
    each: &'a mut dyn FnMut(u64, Value) -> anyhow::Result<()>,
    stopped: &'a mut Option<anyhow::Error>,
}

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = Listed;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Listed, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = Listed;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listed, A::Error> {
        let mut number = 0;
        while let Some(item) = seq.next_element::<Value>()? {
            number += 1;
            if let Err(error) = (self.each)(number, item) {
                *self.stopped = Some(error);
                return Err(serde::de::Error::custom("stopped"));
            }
        }
        Ok(Listed::Items(number))
    }

    fn visit_unit<E>(self) -> Result<Listed, E> {
        Ok(Listed::Absent)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listed, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Listed::NotAList)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Listed, E> {
        Ok(Listed::NotAList)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Listed, E> {
        Ok(Listed::NotAList)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Listed, E> {
        Ok(Listed::NotAList)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Listed, E> {
        Ok(Listed::NotAList)
    }

    fn visit_str<E>(self, _: &str) -> Result<Listed, E> {
        Ok(Listed::NotAList)
    }
}

/// A field by name, case-insensitively; `None` when absent or null.
pub fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    let value = map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })?;
    (!value.is_null()).then_some(value)
}

/// A nested field: `path(device, &["patchManagement", "patchStatus"])`.
pub fn path<'a>(object: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names.iter().try_fold(object, |v, name| field(v, name))
}

/// A scalar field as text (strings as they are, numbers and booleans printed), empty when absent.
pub fn text(object: &Value, name: &str) -> String {
    field(object, name).map(scalar_text).unwrap_or_default()
}

pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A boolean field, accepting JSON booleans and the usual text forms.
pub fn flag(object: &Value, name: &str) -> Option<bool> {
    match field(object, name)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => crate::canonical::parse_bool(s.trim()),
        _ => None,
    }
}

/// The records of an export: a bare array, or the array under one of the envelope keys.
pub fn records<'a>(document: &'a Value, envelope_keys: &[&str]) -> &'a [Value] {
    if let Some(array) = document.as_array() {
        return array;
    }
    envelope_keys
        .iter()
        .find_map(|k| field(document, k).and_then(Value::as_array))
        .map_or(&[], Vec::as_slice)
}

/// The top-level keys of an object (or the keys of an array's first item), for messages.
/// Names at most `SHAPE_KEYS` keys, each only if it reads as a field name (letters, digits, `_`,
/// `-`, `.`, `@`, `$`, up to 64 characters), so a message never carries a file's content.
pub fn shape(outline: &Outline) -> String {
    let document = &outline.document;
    const SHAPE_KEYS: usize = 12;
    let keys = |v: &Value| {
        v.as_object().map(|m| {
            let named: Vec<&str> = m
                .keys()
                .filter(|k| {
                    k.len() <= 64
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.@$".contains(c))
                })
                .take(SHAPE_KEYS)
                .map(String::as_str)
                .collect();
            match m.len() - named.len() {
                0 => named.join(", "),
                more => format!("{} and {more} more", named.join(", ")),
            }
        })
    };
    match document {
        Value::Array(items) => format!(
            "a JSON array of {} item(s){}",
            outline.items,
            items
                .first()
                .and_then(keys)
                .map_or(String::new(), |k| format!(" with keys {k}"))
        ),
        Value::Object(_) => format!("a JSON object with keys {}", keys(document).unwrap_or_default()),
        other => format!("a JSON {}", if other.is_string() { "string" } else { "scalar" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_disk(text: &str) -> (tempfile::TempDir, SourceFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.json");
        std::fs::write(&path, text).unwrap();
        let file = SourceFile::read(&path).unwrap();
        assert!(file.plain_utf8);
        (dir, file)
    }

    fn items_of(text: &JsonText, file: &SourceFile, key: &str) -> (anyhow::Result<Listed>, Vec<Value>) {
        let mut seen = Vec::new();
        let listed = text.for_each_item(file, key, &mut |number, item| {
            assert_eq!(number, seen.len() as u64 + 1);
            seen.push(item);
            Ok(())
        });
        (listed, seen)
    }

    #[test]
    fn items_are_handed_on_as_the_file_streams_before_the_end_of_the_document_is_read() {
        // Were the document parsed whole first, the syntax error at its end would come before
        // any item.
        let (_dir, file) =
            on_disk("{\"vulnerabilities\": [{\"cveID\": \"CVE-1\"}, {\"cveID\": \"CVE-2\"}],\n \"x\": tru }");
        let (listed, seen) = items_of(&JsonText::OnDisk, &file, "Vulnerabilities");
        assert_eq!(seen.len(), 2);
        let error = listed.unwrap_err().downcast::<FileError>().unwrap();
        assert_eq!((error.line, error.column), (Some(2), Some(10)), "{error}");
        assert!(error.to_string().contains("invalid JSON"), "{error}");
    }

    #[test]
    fn the_list_is_found_whatever_its_place_and_case_and_other_fields_are_skipped() {
        let text = r#"{"title": "t", "other": [1, [2, {"vulnerabilities": 3}]], "VULNERABILITIES": [{"a": 1}, 2, null], "z": {}}"#;
        let (_dir, file) = on_disk(text);
        let (listed, seen) = items_of(&JsonText::OnDisk, &file, "vulnerabilities");
        assert_eq!(listed.unwrap(), Listed::Items(3));
        assert_eq!(seen, [serde_json::json!({"a": 1}), Value::from(2), Value::Null]);
        // The same text decoded (as from UTF-16) reads the same.
        let (listed, seen) = items_of(&JsonText::Decoded(text.into()), &file, "vulnerabilities");
        assert_eq!((listed.unwrap(), seen.len()), (Listed::Items(3), 3));
    }

    #[test]
    fn a_list_that_is_something_else_or_absent_says_so() {
        for (text, expected) in [
            (r#"{"vulnerabilities": {"cveID": "CVE-1"}}"#, Listed::NotAList),
            (r#"{"vulnerabilities": "none"}"#, Listed::NotAList),
            (r#"{"vulnerabilities": 7}"#, Listed::NotAList),
            (r#"{"vulnerabilities": null}"#, Listed::Absent),
            (r#"{"other": []}"#, Listed::Absent),
            (r#"[{"vulnerabilities": []}]"#, Listed::Absent),
            // The first non-null field of the name, as `field` reads a document.
            (
                r#"{"vulnerabilities": null, "Vulnerabilities": [1]}"#,
                Listed::Items(1),
            ),
        ] {
            let (_dir, file) = on_disk(text);
            assert_eq!(
                items_of(&JsonText::OnDisk, &file, "vulnerabilities").0.unwrap(),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn an_error_from_the_reader_of_the_items_stops_the_reading_and_comes_back_whole() {
        let (_dir, file) = on_disk(r#"{"vulnerabilities": [1, 2, 3]}"#);
        let mut seen = 0;
        let error = JsonText::OnDisk
            .for_each_item(&file, "vulnerabilities", &mut |_, _| {
                seen += 1;
                anyhow::ensure!(seen < 2, "the staging writer stopped");
                Ok(())
            })
            .unwrap_err();
        assert_eq!(
            (seen, error.to_string()),
            (2, "the staging writer stopped".to_string())
        );
    }

    #[test]
    fn an_outline_keeps_the_first_items_of_every_list_and_counts_a_document_that_is_a_list() {
        let items: Vec<Value> = (0..1000)
            .map(|i| serde_json::json!({"id": i, "tags": (0..50).collect::<Vec<_>>()}))
            .collect();
        let (_dir, file) = on_disk(&Value::Array(items.clone()).to_string());
        let outline = JsonText::OnDisk.outline(&file).unwrap();
        assert_eq!(outline.items, 1000);
        let kept = outline.document.as_array().unwrap();
        assert_eq!(kept.len(), OUTLINE_ITEMS);
        assert_eq!(kept[3]["id"], 3);
        assert_eq!(kept[3]["tags"].as_array().unwrap().len(), OUTLINE_ITEMS);
        assert_eq!(shape(&outline), "a JSON array of 1000 item(s) with keys id, tags");

        let catalog =
            serde_json::json!({"catalogVersion": "2026.10.15", "count": 1000, "vulnerabilities": items});
        let (_dir, file) = on_disk(&catalog.to_string());
        let outline = JsonText::OnDisk.outline(&file).unwrap();
        assert_eq!(text(&outline.document, "catalogVersion"), "2026.10.15");
        assert_eq!(
            field(&outline.document, "vulnerabilities")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            OUTLINE_ITEMS
        );
    }

    #[test]
    fn an_outline_names_where_the_text_stops_being_json() {
        let (_dir, file) = on_disk("{\"a\": [1,\n 2,,]}");
        let error = JsonText::OnDisk.outline(&file).unwrap_err();
        assert_eq!((error.line, error.column), (Some(2), Some(4)), "{error}");
    }
}

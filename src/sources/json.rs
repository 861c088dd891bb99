//! Reading vendor JSON leniently: field names matched without regard to case (Autotask's wire
//! names are camelCase with `ID` kept upper; PowerShell re-exports PascalCase), nulls and absent
//! fields alike, numbers and strings interchangeable where a vendor is inconsistent.

use serde_json::Value;

use super::{FileError, SourceFile};

/// Parses a JSON export; a syntax error names its line and column.
pub fn parse(file: &SourceFile, text: &str) -> Result<Value, FileError> {
    serde_json::from_str(text).map_err(|e| {
        FileError::at(
            &file.path,
            e.line() as u64,
            Some(e.column() as u64),
            format!("invalid JSON: {e}"),
        )
    })
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
pub fn shape(document: &Value) -> String {
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
            items.len(),
            items
                .first()
                .and_then(keys)
                .map_or(String::new(), |k| format!(" with keys {k}"))
        ),
        Value::Object(_) => format!("a JSON object with keys {}", keys(document).unwrap_or_default()),
        other => format!("a JSON {}", if other.is_string() { "string" } else { "scalar" }),
    }
}

//! Quoting for SQL text govpack builds: names and paths pasted into DuckDB statements (which
//! take no bound parameters for a file list or a column name). Below the lake, which merges
//! partitions with DuckDB, and the SQL session above it.

/// A SQL identifier, quoted.
pub fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal (paths may hold quotes).
pub fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

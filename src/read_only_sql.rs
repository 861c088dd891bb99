//! The operator's own SQL (`govpack query`), run where it cannot write.
//!
//! DuckDB decides what the text is, not govpack: its parser splits the text into statements
//! (`duckdb_extract_statements`), there must be exactly one, and DuckDB's own `query()` table
//! function must take it, which it does only for a single SELECT (checked by its parser, before
//! anything is bound or planned). Quoting (`$a$ ... $a$`, `E'\''`), comments and
//! unicode are the parser's business, so a `;` hidden from a hand-written scanner cannot smuggle
//! a second statement (COPY, ATTACH, SET) past it. The check uses its own connection to the
//! session's database: `duckdb::Connection::prepare` runs every statement of a text but the last,
//! so the text must not reach it before the check.
//!
//! The session is locked once its views exist (`lock_configuration`): no query can switch
//! extensions on or move the spill folder. A SELECT can read files outside the lake
//! (`read_csv('other.csv')`): the operator runs govpack with their own rights and may read what
//! they can read anyway; nothing a SELECT does writes a file.

use std::ffi::{CStr, CString};
use std::mem::ManuallyDrop;
use std::ptr;

use anyhow::{Context, Result, anyhow};
use duckdb::{Connection, ffi};

use crate::error::UsageError;
use crate::lake::Lake;
use crate::sql::string_literal;

/// A DuckDB session over the lake (`sql::open`'s views) that runs only single SELECTs.
pub struct ReadOnlySession {
    /// The session's connection; dropped before `checker` and `db` (see `Drop`).
    conn: ManuallyDrop<Connection>,
    /// A second connection to the same database, for the parser and binder only.
    checker: ffi::duckdb_connection,
    db: ffi::duckdb_database,
}

impl ReadOnlySession {
    pub fn open(lake: &Lake) -> Result<Self> {
        let mut db = ptr::null_mut();
        // SAFETY: a null path opens an in-memory database; `db` is written on success only.
        if unsafe { ffi::duckdb_open(ptr::null(), &mut db) } != ffi::DuckDBSuccess {
            anyhow::bail!("cannot start DuckDB");
        }
        let mut session = Self {
            // SAFETY: `db` is open; the connection does not close it (we do, in `Drop`).
            conn: ManuallyDrop::new(unsafe { Connection::open_from_raw(db) }.context("cannot start DuckDB")?),
            checker: ptr::null_mut(),
            db,
        };
        // SAFETY: `db` is open; `checker` is written on success only.
        if unsafe { ffi::duckdb_connect(session.db, &mut session.checker) } != ffi::DuckDBSuccess {
            anyhow::bail!("cannot start DuckDB");
        }
        crate::sql::create_views(&session.conn, lake)?;
        session
            .conn
            .execute_batch("set lock_configuration = true")
            .context("cannot lock the DuckDB session")?;
        Ok(session)
    }

    /// The connection, for statements `check` has passed.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Whether `sql` is exactly one statement and DuckDB's parser reads it as a SELECT (which
    /// covers `with`, `from`, `values`, `describe`, `summarize`, `pivot` with its values listed).
    /// Nothing but a SELECT is ever prepared. A refusal is a usage error; a SELECT that does not
    /// bind (a column that is not there) is DuckDB's error.
    pub fn check(&self, sql: &str) -> Result<()> {
        let text = CString::new(sql).map_err(|_| UsageError("the query holds a NUL character".into()))?;
        let mut extracted = ptr::null_mut();
        // SAFETY: `checker` is connected; `extracted` is destroyed below whatever the count.
        let count = unsafe { ffi::duckdb_extract_statements(self.checker, text.as_ptr(), &mut extracted) };
        let outcome = self.check_extracted(extracted, count, sql);
        // SAFETY: `extracted` came from duckdb_extract_statements (destroying null is allowed).
        unsafe { ffi::duckdb_destroy_extracted(&mut extracted) };
        outcome
    }

    fn check_extracted(
        &self,
        extracted: ffi::duckdb_extracted_statements,
        count: ffi::idx_t,
        sql: &str,
    ) -> Result<()> {
        if count == 0 {
            // SAFETY: the error belongs to `extracted`, read before it is destroyed.
            let error = unsafe { text_of(ffi::duckdb_extract_statements_error(extracted)) };
            return Err(match error {
                Some(e) => anyhow!(UsageError(format!("DuckDB cannot parse the query: {e}"))),
                None => anyhow!(UsageError("the query holds no statement".into())),
            });
        }
        if count > 1 {
            return Err(UsageError(format!(
                "query runs one statement, and DuckDB reads {count} in this text: \
                 remove everything after the first `;`"
            ))
            .into());
        }
        // The statement's kind, without preparing it: preparing is not harmless (DuckDB creates
        // an EXPORT DATABASE's folder while planning it). DuckDB's `query()` table function
        // parses its text and takes it only if it is one SELECT, before binding anything.
        let probe = CString::new(format!("select * from query({})", string_literal(sql)))
            .map_err(|_| UsageError("the query holds a NUL character".into()))?;
        let mut prepared = ptr::null_mut();
        // SAFETY: `checker` is connected; `prepared` is destroyed below in every case.
        let state = unsafe { ffi::duckdb_prepare(self.checker, probe.as_ptr(), &mut prepared) };
        let outcome = if state == ffi::DuckDBSuccess {
            Ok(())
        } else {
            // SAFETY: the error belongs to `prepared`, read before it is destroyed.
            let error = unsafe { text_of(ffi::duckdb_prepare_error(prepared)) }
                .unwrap_or_else(|| "no reason given".into());
            if error.contains("Expected a single SELECT statement") {
                Err(UsageError(
                    "query only reads: DuckDB does not read this statement as a SELECT (COPY, \
                     ATTACH, SET, INSTALL, CREATE, EXPORT... are refused; write results with --out FILE)"
                        .into(),
                )
                .into())
            } else if error.contains("PIVOT statements without explicit IN") {
                Err(UsageError(format!("query only reads: {error}")).into())
            } else {
                Err(anyhow!("DuckDB refused the query: {error}"))
            }
        };
        // SAFETY: from duckdb_prepare; destroyed once (destroying a failed one is allowed).
        unsafe { ffi::duckdb_destroy_prepare(&mut prepared) };
        outcome
    }
}

impl Drop for ReadOnlySession {
    fn drop(&mut self) {
        // SAFETY: each handle is released once, connections before their database; `conn` is
        // not used after this.
        unsafe {
            ManuallyDrop::drop(&mut self.conn);
            if !self.checker.is_null() {
                ffi::duckdb_disconnect(&mut self.checker);
            }
            ffi::duckdb_close(&mut self.db);
        }
    }
}

/// # Safety
/// `text` is null or a NUL-terminated string alive for the call.
unsafe fn text_of(text: *const std::os::raw::c_char) -> Option<String> {
    (!text.is_null()).then(|| unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> (tempfile::TempDir, ReadOnlySession) {
        let dir = tempfile::TempDir::new().unwrap();
        let lake = Lake::open(&dir.path().join("lake")).unwrap();
        let session = ReadOnlySession::open(&lake).unwrap();
        (dir, session)
    }

    #[test]
    fn a_query_is_one_statement_duckdb_reads_as_a_select() {
        let (_dir, session) = session();
        for ok in [
            "select 1",
            "select 1;",
            "  -- a note\nwith t as (select 'a;b' as x) select * from t",
            "from devices where hostname = 'x;y' /* ; */",
            "select $a$ it's; fine $a$ as x",
            "(select 1) union (select 2)",
            "describe devices",
            "select 'é' as é",
        ] {
            assert!(session.check(ok).is_ok(), "{ok}: {:?}", session.check(ok));
        }
    }

    #[test]
    fn a_statement_that_writes_or_a_second_statement_is_refused_whatever_the_quoting() {
        let dir = tempfile::TempDir::new().unwrap();
        let target = dir.path().join("written.csv");
        let t = target.to_string_lossy();
        let (_lake_dir, session) = session();
        for refused in [
            format!("copy (select 1) to '{t}'"),
            format!("select 1; copy (select 1) to '{t}'"),
            format!("select $a$ ; $a$ as q; copy (select 1) to '{t}'"),
            format!("select E'\\'' as q; copy (select 1) to '{t}'"),
            format!("select 1 as q; attach '{t}' as x"),
            "install httpfs".into(),
            "set enable_external_access = true".into(),
            format!("/* hi */ export database '{t}'"),
            "pragma version; select 1".into(),
            "create table x as select 1".into(),
            format!("explain analyze copy (select 1) to '{t}'"),
            "sélect 1".into(),
            "".into(),
            "\0".into(),
        ] {
            let outcome = session.check(&refused);
            assert!(!target.exists(), "checking {refused} wrote a file");
            assert!(outcome.is_err(), "{refused}");
            assert!(
                outcome.unwrap_err().chain().any(|e| e.is::<UsageError>()),
                "{refused} is the operator's to fix"
            );
        }
        assert!(!target.exists(), "nothing ran while checking");
    }

    #[test]
    fn a_select_cannot_reach_a_write_through_the_query_function_or_a_setting() {
        let dir = tempfile::TempDir::new().unwrap();
        let target = dir.path().join("written.csv");
        let (_lake_dir, session) = session();
        let sneaky = format!(
            "select * from query('copy (select 1) to ''{}''')",
            target.to_string_lossy()
        );
        let ran = session.check(&sneaky).and_then(|()| {
            session
                .conn()
                .prepare(&sneaky)?
                .query([])?
                .next()
                .map(|_| ())
                .map_err(Into::into)
        });
        assert!(ran.is_err(), "DuckDB's query() takes only a SELECT");
        assert!(!target.exists());
        assert!(
            session
                .conn()
                .execute_batch("set enable_external_access = false")
                .is_err(),
            "the configuration is locked"
        );
    }
}

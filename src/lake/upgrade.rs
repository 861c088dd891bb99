//! Lakes an earlier govpack wrote: the month-file layout becomes day partitions, and files
//! written before a column existed get it.

use super::*;

impl Lake {
    /// Converts tables written in the month-file layout (`devices/devices-2026-10.parquet`) to
    /// day partitions. Each month file is merged into its days by key and removed only after, so
    /// the conversion can be interrupted and resumed, and running it twice changes nothing.
    pub(super) fn upgrade_layout(&self) -> Result<()> {
        for table in canonical::TABLES {
            let Partitioning::Day { .. } = table.partitioning else {
                continue;
            };
            let dir = self.table_dir(table.name);
            let month_files: Vec<PathBuf> = list(&dir)?.into_iter().filter(|p| is_parquet(p)).collect();
            for file in month_files {
                let frame = read_parquet(&file)?;
                let mut days = 0;
                for (day, rows) in split_by_partition(table, frame)
                    .with_context(|| format!("converting {} to day partitions", file.display()))?
                {
                    self.merge_into(table, day, vec![rows])?;
                    days += 1;
                }
                std::fs::remove_file(&file).with_context(|| format!("cannot remove {}", file.display()))?;
                sync_dir(&dir)?;
                tracing::info!(file = %file.display(), days, "converted a month file to day partitions");
            }
        }
        Ok(())
    }

    /// Writes a column into the files of a table that lack it (written before govpack had that
    /// column): each row's value chosen by its source file (its lineage), `default` for a file
    /// not in `by_source_file`. Each file is rewritten atomically; returns how many were.
    pub fn add_missing_column(
        &self,
        table: &Table,
        column: &str,
        by_source_file: &std::collections::HashMap<String, String>,
        default: &str,
    ) -> Result<usize> {
        let mut rewritten = 0;
        for path in self.table_files(table.name)? {
            if parquet_columns(&path)?.iter().any(|c| c == column) {
                continue;
            }
            let mut frame = read_parquet(&path)?;
            let sources = frame.column(canonical::LINEAGE_SOURCE_FILE)?.str()?.clone();
            let values: StringChunked = sources
                .iter()
                .map(|file| {
                    Some(
                        file.and_then(|f| by_source_file.get(f))
                            .map_or(default, String::as_str),
                    )
                })
                .collect();
            frame.with_column(values.with_name(column.into()).into_column())?;
            let order: Vec<String> = table
                .columns
                .iter()
                .map(|c| c.name.to_string())
                .chain([
                    canonical::LINEAGE_SOURCE_FILE.into(),
                    canonical::LINEAGE_SOURCE_LINE.into(),
                    canonical::LINEAGE_EXPORT_DATE.into(),
                ])
                .filter(|name| frame.column(name).is_ok())
                .collect();
            let mut frame = frame.select(order)?;
            write_parquet_atomic(&path, &mut frame)?;
            tracing::info!(file = %path.display(), column, "added a column written by a later govpack");
            rewritten += 1;
        }
        Ok(rewritten)
    }
}

//! CSV import and export.

use std::path::Path;

use anyhow::{Context, Result, bail};
use heliosdb_nano::Value;
use heliosdb_nano::core::Database;
use heliosdb_nano::sql::values;
use indicatif::{ProgressBar, ProgressStyle};

/// Loads `file` into `table` in one transaction: every row or none.
pub fn import(db: &Database, table: &str, file: &Path) -> Result<()> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(file)
        .with_context(|| format!("opening {}", file.display()))?;
    let mut w = db.begin_write()?;
    let schema = w
        .catalog()
        .table(table)
        .with_context(|| {
            format!("table {table} must exist before importing into it; create it first")
        })?
        .clone();
    let header = reader.headers().context("reading the header row")?.clone();
    let mut positions = Vec::with_capacity(header.len());
    for name in &header {
        match schema.column_index(name.trim()) {
            Some(at) => positions.push(at),
            None => bail!("the CSV names a column {name:?} that table {table} does not have"),
        }
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut record = csv::StringRecord::new();
    let mut count = 0u64;
    while reader
        .read_record(&mut record)
        .with_context(|| format!("reading {}", file.display()))?
    {
        let line = record.position().map_or(0, csv::Position::line);
        let mut row = vec![Value::Null; schema.columns.len()];
        for (field, &at) in record.iter().zip(&positions) {
            // An empty field is NULL, as COPY ... CSV reads it.
            if field.is_empty() {
                continue;
            }
            let column = &schema.columns[at];
            row[at] = values::cast(&Value::Text(field.to_owned()), column.data_type)
                .with_context(|| format!("line {line}, column {}", column.name))?;
        }
        w.insert(table, &row)
            .with_context(|| format!("line {line}"))?;
        count += 1;
        if count.is_multiple_of(1024) {
            bar.set_position(record.position().map_or(0, csv::Position::byte));
        }
    }
    w.commit()?;
    bar.finish_and_clear();
    println!("imported {count} rows into {table}");
    Ok(())
}

/// Writes `table` as CSV to `file` (or standard output).
pub fn export(db: &Database, table: &str, file: Option<&Path>) -> Result<()> {
    let r = db.begin_read()?;
    let schema = r.table(table)?;
    let sink: Box<dyn std::io::Write> = match file {
        Some(f) => {
            Box::new(std::fs::File::create(f).with_context(|| format!("creating {}", f.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(sink);
    writer.write_record(schema.columns.iter().map(|c| c.name.as_str()))?;
    let mut count = 0u64;
    for row in r.scan(table, ..)? {
        let values = row?.values()?;
        writer.write_record(values.iter().map(|v| {
            if v.is_null() {
                String::new()
            } else {
                values::to_text(v)
            }
        }))?;
        count += 1;
    }
    writer.flush()?;
    if file.is_some() {
        println!("exported {count} rows from {table}");
    }
    Ok(())
}

//! `heliosdb_compression`: how each column of each table is stored, readable with SQL.
//!
//! | column | type | what |
//! | --- | --- | --- |
//! | `table_name` | TEXT | the table |
//! | `column_name` | TEXT | the column |
//! | `layout` | TEXT | `row` or `columnar` |
//! | `codec` | TEXT | the codecs its stored values use, most used first (`fsst+none`, `alp`, …) |
//! | `value_count` | INTEGER | values measured |
//! | `raw_bytes` | INTEGER | their size in the plain row-value encoding |
//! | `stored_bytes` | INTEGER | their size as stored |
//! | `ratio` | REAL | `raw_bytes / stored_bytes`; NULL when nothing is stored |
//!
//! Reading it measures every current row of every table (history versions are not
//! counted), so it costs a full scan; `\compression t` in the shell measures one table.

use heliosdb_core::{ColumnStats, DataType, Database, Value};
use heliosdb_sql::system::SystemTable;

pub(crate) struct CompressionTable {
    db: Database,
    columns: Vec<(String, DataType)>,
}

impl CompressionTable {
    pub(crate) fn new(db: Database) -> Self {
        let columns = [
            ("table_name", DataType::Text),
            ("column_name", DataType::Text),
            ("layout", DataType::Text),
            ("codec", DataType::Text),
            ("value_count", DataType::Integer),
            ("raw_bytes", DataType::Integer),
            ("stored_bytes", DataType::Integer),
            ("ratio", DataType::Real),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_owned(), t))
        .collect();
        CompressionTable { db, columns }
    }
}

/// One row of `heliosdb_compression` (also what the shell's `\compression` prints).
pub fn compression_row(table: &str, layout: &str, s: &ColumnStats) -> Vec<Value> {
    let int = |n: u64| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    let ratio = if s.stored_bytes == 0 {
        Value::Null
    } else {
        Value::Real(((s.raw_bytes as f64 / s.stored_bytes as f64) * 100.0).round() / 100.0)
    };
    vec![
        Value::Text(table.to_owned()),
        Value::Text(s.column.clone()),
        Value::Text(layout.to_owned()),
        Value::Text(s.codec.clone()),
        int(s.values),
        int(s.raw_bytes),
        int(s.stored_bytes),
        ratio,
    ]
}

impl SystemTable for CompressionTable {
    fn columns(&self) -> &[(String, DataType)] {
        &self.columns
    }

    fn rows(&self) -> Result<Vec<Vec<Value>>, String> {
        let r = self.db.begin_read().map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        for table in r.catalog().tables() {
            let layout = if table.is_columnar() {
                "columnar"
            } else {
                "row"
            };
            let stats = r
                .compression_stats(&table.name)
                .map_err(|e| e.to_string())?;
            rows.extend(
                stats
                    .iter()
                    .map(|s| compression_row(&table.name, layout, s)),
            );
        }
        Ok(rows)
    }
}

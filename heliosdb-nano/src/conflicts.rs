//! `heliosdb_conflicts`: the conflicts sync resolved, readable with SQL.
//!
//! | column | type | what |
//! | --- | --- | --- |
//! | `id` | INTEGER | 1, 2, … in the order they were resolved here |
//! | `table_name` | TEXT | the table |
//! | `row_key` | TEXT | the row's primary key, as SQL literals |
//! | `remote_node` | TEXT | the node whose write arrived concurrent with this row's (hex) |
//! | `remote_hlc` | INTEGER | that write's HLC timestamp |
//! | `before` | TEXT | the row as it read before, `(col = value, …)`; NULL if absent |
//! | `after` | TEXT | the row as it reads after resolution; NULL if deleted |
//! | `rule` | TEXT | the resolver (`last-writer-wins`, `per-column`, or a user's) |

use std::collections::BTreeMap;

use heliosdb_core::{ColumnId, DataType, Database, TableSchema, Value};
use heliosdb_sql::system::SystemTable;
use heliosdb_sync::SyncNode;

pub(crate) struct ConflictsTable {
    db: Database,
    columns: Vec<(String, DataType)>,
}

impl ConflictsTable {
    pub(crate) fn new(db: Database) -> Self {
        let columns = [
            ("id", DataType::Integer),
            ("table_name", DataType::Text),
            ("row_key", DataType::Text),
            ("remote_node", DataType::Text),
            ("remote_hlc", DataType::Integer),
            ("before", DataType::Text),
            ("after", DataType::Text),
            ("rule", DataType::Text),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_owned(), t))
        .collect();
        ConflictsTable { db, columns }
    }
}

/// `(name = value, …)` in column order, names from the table's schema where it has them.
fn show(row: &BTreeMap<ColumnId, Value>, table: Option<&TableSchema>) -> String {
    let parts: Vec<String> = row
        .iter()
        .map(|(id, v)| {
            let name = table
                .and_then(|t| t.column_by_id(*id).map(|at| t.columns[at].name.clone()))
                .unwrap_or_else(|| format!("#{id}"));
            format!("{name} = {v}")
        })
        .collect();
    format!("({})", parts.join(", "))
}

impl SystemTable for ConflictsTable {
    fn columns(&self) -> &[(String, DataType)] {
        &self.columns
    }

    fn rows(&self) -> Result<Vec<Vec<Value>>, String> {
        let conflicts = SyncNode::new(self.db.clone())
            .conflicts()
            .map_err(|e| e.to_string())?;
        let r = self.db.begin_read().map_err(|e| e.to_string())?;
        Ok(conflicts
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let table = r.catalog().table(&c.table).ok().map(|t| &**t);
                let key: Vec<String> = c.key.iter().map(ToString::to_string).collect();
                let node: String = c.remote.node.0.iter().map(|b| format!("{b:02x}")).collect();
                let text = |row: &Option<BTreeMap<ColumnId, Value>>| {
                    row.as_ref()
                        .map_or(Value::Null, |row| Value::Text(show(row, table)))
                };
                vec![
                    Value::Integer(i as i64 + 1),
                    Value::Text(c.table.clone()),
                    Value::Text(key.join(", ")),
                    Value::Text(node),
                    Value::Integer(c.remote_stamp.hlc.0 as i64),
                    text(&c.before),
                    text(&c.after),
                    Value::Text(c.rule),
                ]
            })
            .collect())
    }
}

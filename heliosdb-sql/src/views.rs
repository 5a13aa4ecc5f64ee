//! Views: named queries, kept as SQL text in the catalog's database-wide `sql.views`
//! extension (replicated with the schema) and expanded by the binder where they are named.
//!
//! Extension format, version 1: `u8 1` followed by the postcard encoding of [`Views`].

use heliosdb_core::{Catalog, WriteTxn};
use serde::{Deserialize, Serialize};

use crate::ast::{self, StatementKind};

pub const EXTENSION: &str = "sql.views";
const FORMAT: u8 = 1;

/// One view: its name, its column names (empty: the query's own) and its query as SQL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub name: String,
    pub columns: Vec<String>,
    pub sql: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Views {
    pub views: Vec<View>,
}

#[derive(Debug, thiserror::Error)]
#[error("the stored views are damaged: {0}")]
pub struct DamagedViews(String);

impl Views {
    pub fn of(catalog: &Catalog) -> Result<Views, DamagedViews> {
        let Some(bytes) = catalog.extension(EXTENSION) else {
            return Ok(Views::default());
        };
        match bytes.split_first() {
            Some((&FORMAT, body)) => {
                postcard::from_bytes(body).map_err(|e| DamagedViews(e.to_string()))
            }
            Some((v, _)) => Err(DamagedViews(format!(
                "format {v} is newer than this build reads"
            ))),
            None => Err(DamagedViews("empty".into())),
        }
    }

    pub fn get(&self, name: &str) -> Option<&View> {
        self.views.iter().find(|v| v.name == name)
    }

    pub fn save(&self, w: &mut WriteTxn) -> Result<(), heliosdb_core::Error> {
        let value = (!self.views.is_empty()).then(|| {
            let mut bytes = vec![FORMAT];
            // Serializing plain structs into a Vec cannot fail.
            bytes.extend(postcard::to_stdvec(self).unwrap_or_default());
            bytes
        });
        w.set_database_extension(EXTENSION, value)
    }
}

impl View {
    /// The view's query, parsed from its stored text.
    pub fn query(&self) -> Result<ast::Query, DamagedViews> {
        let stmt = crate::parser::parse_one(&self.sql)
            .map_err(|e| DamagedViews(format!("{}: {e}", self.name)))?;
        match stmt.kind {
            StatementKind::Query(q) => Ok(*q),
            _ => Err(DamagedViews(format!("{} is not a query", self.name))),
        }
    }
}

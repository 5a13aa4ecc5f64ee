//! The catalog: tables, columns, primary keys and secondary indexes.
//!
//! Persisted in the meta table as `u32 LE catalog format version` followed by the postcard
//! encoding of [`Catalog`]. Ids are local to one database file and never reused within it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::value::{DataType, Value};

pub type TableId = u32;
pub type ColumnId = u32;
pub type IndexId = u32;

/// The catalog encoding this build writes and the newest it reads.
pub const CATALOG_FORMAT: u32 = 1;

/// The most columns a table may have (PostgreSQL's limit; rows count values in a `u16`).
pub const COLUMNS_MAX: usize = 1600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub id: ColumnId,
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The value that rows written before this column existed read as (see `ADD COLUMN`).
    pub backfill: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexSchema {
    pub id: IndexId,
    pub name: String,
    /// Positions of the indexed columns in the table's column list.
    pub columns: Vec<usize>,
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    pub id: TableId,
    pub name: String,
    pub columns: Vec<ColumnSchema>,
    /// Positions of the primary-key columns. Empty: the table has a hidden `i64` rowid.
    pub primary_key: Vec<usize>,
    pub indexes: Vec<IndexSchema>,
    pub next_column_id: ColumnId,
    /// Metadata that layers above core keep with the table (e.g. the SQL layer's DEFAULT
    /// and CHECK expressions), opaque to core, by owner name. Persisted with the catalog
    /// and replicated through the change log like the rest of the schema.
    pub extensions: BTreeMap<String, Vec<u8>>,
    /// Parsed extensions (see `storage.rs`); not persisted.
    #[serde(skip)]
    pub(crate) cache: Box<crate::storage::SchemaCache>,
}

impl TableSchema {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn column_by_id(&self, id: ColumnId) -> Option<usize> {
        self.columns.iter().position(|c| c.id == id)
    }

    pub fn has_rowid(&self) -> bool {
        self.primary_key.is_empty()
    }

    pub fn index(&self, name: &str) -> Option<&IndexSchema> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// Number of values in a key of this table.
    pub fn key_len(&self) -> usize {
        self.primary_key.len().max(1)
    }

    fn column_positions(&self, names: &[String]) -> Result<Vec<usize>> {
        names
            .iter()
            .map(|n| {
                self.column_index(n).ok_or_else(|| Error::ColumnNotFound {
                    table: self.name.clone(),
                    column: n.clone(),
                })
            })
            .collect()
    }
}

/// A column to create.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// For `add_column`: the value existing rows get. Must be non-NULL for a NOT NULL column.
    pub backfill: Value,
}

impl ColumnSpec {
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        ColumnSpec {
            name: name.into(),
            data_type,
            nullable: true,
            backfill: Value::Null,
        }
    }

    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    pub fn backfill(mut self, value: Value) -> Self {
        self.backfill = value;
        self
    }
}

/// A table to create.
#[derive(Debug, Clone, Default)]
pub struct TableSpec {
    pub name: String,
    pub columns: Vec<ColumnSpec>,
    pub primary_key: Vec<String>,
    /// Storage settings (layout, compression); `None`: a plain row table.
    pub storage: Option<crate::storage::StorageOptions>,
}

impl TableSpec {
    pub fn new(name: impl Into<String>) -> Self {
        TableSpec {
            name: name.into(),
            ..Default::default()
        }
    }

    pub fn column(mut self, column: ColumnSpec) -> Self {
        self.columns.push(column);
        self
    }

    pub fn primary_key<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.primary_key = columns.into_iter().map(Into::into).collect();
        self
    }

    pub fn storage(mut self, storage: crate::storage::StorageOptions) -> Self {
        self.storage = Some(storage);
        self
    }

    /// A columnar table (see `columnar.rs`): no primary key, no unique index.
    pub fn columnar(self) -> Self {
        let storage = crate::storage::StorageOptions {
            layout: crate::storage::Layout::Columnar,
            ..self.storage.clone().unwrap_or_default()
        };
        self.storage(storage)
    }
}

/// A secondary index to create.
#[derive(Debug, Clone)]
pub struct IndexSpec {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

impl IndexSpec {
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        columns: impl IntoIterator<Item = S>,
    ) -> Self {
        IndexSpec {
            name: name.into(),
            columns: columns.into_iter().map(Into::into).collect(),
            unique: false,
        }
    }

    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
}

/// All tables of a database.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    tables: BTreeMap<String, Arc<TableSchema>>,
    next_table_id: TableId,
    next_index_id: IndexId,
    /// Database-wide metadata of layers above core (e.g. the SQL layer's views), opaque to
    /// core; see `TableSchema::extensions`.
    extensions: BTreeMap<String, Vec<u8>>,
}

fn check_value_fits(table: &str, column: &ColumnSchema, value: &Value) -> Result<()> {
    if value.is_null() {
        if !column.nullable {
            return Err(Error::NullViolation {
                table: table.into(),
                column: column.name.clone(),
            });
        }
        return Ok(());
    }
    if let (Value::Vector(v), DataType::Vector(n)) = (value, column.data_type) {
        if v.len() != n as usize {
            return Err(Error::VectorDimension {
                table: table.into(),
                column: column.name.clone(),
                expected: n,
                found: v.len(),
            });
        }
        if let Some(index) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::VectorNotFinite {
                table: table.into(),
                column: column.name.clone(),
                index,
            });
        }
    }
    if !value.fits(column.data_type) {
        return Err(Error::TypeMismatch {
            table: table.into(),
            column: column.name.clone(),
            expected: column.data_type,
            found: value.type_name(),
        });
    }
    Ok(())
}

fn check_name(kind: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 255 {
        return Err(Error::InvalidSchema(format!(
            "a {kind} name must have 1 to 255 bytes"
        )));
    }
    Ok(())
}

impl Catalog {
    pub fn table(&self, name: &str) -> Result<&Arc<TableSchema>> {
        self.tables
            .get(name)
            .ok_or_else(|| Error::TableNotFound(name.into()))
    }

    pub fn tables(&self) -> impl Iterator<Item = &Arc<TableSchema>> {
        self.tables.values()
    }

    pub fn find_index(&self, index: &str) -> Option<(&Arc<TableSchema>, &IndexSchema)> {
        self.tables
            .values()
            .find_map(|t| t.index(index).map(|i| (t, i)))
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = CATALOG_FORMAT.to_le_bytes().to_vec();
        // Serializing plain structs into a Vec cannot fail.
        out.extend(postcard::to_stdvec(self).unwrap_or_default());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Catalog> {
        let (version, body) = bytes
            .split_first_chunk::<4>()
            .ok_or_else(|| Error::Corrupt("catalog record truncated".into()))?;
        let version = u32::from_le_bytes(*version);
        if version > CATALOG_FORMAT {
            return Err(Error::NewerFormat {
                found: version,
                supported: CATALOG_FORMAT,
            });
        }
        let catalog: Catalog =
            postcard::from_bytes(body).map_err(|e| Error::Corrupt(format!("catalog: {e}")))?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// Checks what the rest of the engine relies on: every position names a column.
    fn validate(&self) -> Result<()> {
        for (name, t) in &self.tables {
            let n = t.columns.len();
            let bad = |what: &str| Err(Error::Corrupt(format!("catalog: table {name} {what}")));
            if *name != t.name || n == 0 || n > COLUMNS_MAX {
                return bad("is malformed");
            }
            t.check_storage()?;
            if t.primary_key.iter().any(|&c| c >= n) {
                return bad("has a primary key on a missing column");
            }
            if t.indexes
                .iter()
                .any(|i| i.columns.is_empty() || i.columns.iter().any(|&c| c >= n))
            {
                return bad("has an index on a missing column");
            }
        }
        Ok(())
    }

    /// Validates `spec` and adds the table; returns its schema.
    pub(crate) fn create_table(&mut self, spec: &TableSpec) -> Result<Arc<TableSchema>> {
        check_name("table", &spec.name)?;
        if self.tables.contains_key(&spec.name) {
            return Err(Error::TableExists(spec.name.clone()));
        }
        if spec.columns.is_empty() {
            return Err(Error::InvalidSchema(format!(
                "table {} needs a column",
                spec.name
            )));
        }
        let mut columns: Vec<ColumnSchema> = Vec::with_capacity(spec.columns.len());
        for (i, c) in spec.columns.iter().enumerate() {
            check_name("column", &c.name)?;
            if columns.iter().any(|d| d.name == c.name) {
                return Err(Error::ColumnExists {
                    table: spec.name.clone(),
                    column: c.name.clone(),
                });
            }
            if c.data_type == DataType::Vector(0) {
                return Err(Error::InvalidSchema(
                    "a vector needs at least 1 dimension".into(),
                ));
            }
            columns.push(ColumnSchema {
                id: i as ColumnId,
                name: c.name.clone(),
                data_type: c.data_type,
                nullable: c.nullable,
                backfill: Value::Null,
            });
        }
        let mut table = TableSchema {
            id: self.next_table_id,
            name: spec.name.clone(),
            next_column_id: columns.len() as ColumnId,
            columns,
            primary_key: Vec::new(),
            indexes: Vec::new(),
            extensions: BTreeMap::new(),
            cache: Default::default(),
        };
        let pk = table.column_positions(&spec.primary_key)?;
        for (n, p) in pk.iter().enumerate() {
            if pk[..n].contains(p) {
                return Err(Error::InvalidSchema(
                    "a primary-key column is listed twice".into(),
                ));
            }
            // A primary key is never NULL, as in PostgreSQL.
            table.columns[*p].nullable = false;
        }
        table.primary_key = pk;
        let table = Arc::new(table);
        self.next_table_id += 1;
        self.tables.insert(spec.name.clone(), table.clone());
        Ok(table)
    }

    pub(crate) fn drop_table(&mut self, name: &str) -> Result<Arc<TableSchema>> {
        self.tables
            .remove(name)
            .ok_or_else(|| Error::TableNotFound(name.into()))
    }

    pub(crate) fn rename_table(&mut self, from: &str, to: &str) -> Result<Arc<TableSchema>> {
        check_name("table", to)?;
        if self.tables.contains_key(to) {
            return Err(Error::TableExists(to.into()));
        }
        let mut table = (*self.drop_table(from)?).clone();
        table.name = to.into();
        let table = Arc::new(table);
        self.tables.insert(to.into(), table.clone());
        Ok(table)
    }

    pub(crate) fn add_column(
        &mut self,
        table: &str,
        spec: &ColumnSpec,
    ) -> Result<Arc<TableSchema>> {
        check_name("column", &spec.name)?;
        let mut t = (**self.table(table)?).clone();
        if t.columns.len() >= COLUMNS_MAX {
            return Err(Error::InvalidSchema(format!(
                "table {table} has {COLUMNS_MAX} columns"
            )));
        }
        if t.column_index(&spec.name).is_some() {
            return Err(Error::ColumnExists {
                table: table.into(),
                column: spec.name.clone(),
            });
        }
        let column = ColumnSchema {
            id: t.next_column_id,
            name: spec.name.clone(),
            data_type: spec.data_type,
            nullable: spec.nullable,
            backfill: spec.backfill.clone(),
        };
        check_value_fits(table, &column, &column.backfill)?;
        if matches!(column.backfill, Value::Vector(_)) {
            return Err(Error::InvalidSchema(
                "a vector column added to a table starts NULL in existing rows".into(),
            ));
        }
        t.next_column_id += 1;
        t.columns.push(column);
        let t = Arc::new(t);
        self.tables.insert(table.into(), t.clone());
        Ok(t)
    }

    pub(crate) fn create_index(
        &mut self,
        table: &str,
        spec: &IndexSpec,
    ) -> Result<(Arc<TableSchema>, IndexSchema)> {
        check_name("index", &spec.name)?;
        if self.find_index(&spec.name).is_some() {
            return Err(Error::IndexExists(spec.name.clone()));
        }
        let mut t = (**self.table(table)?).clone();
        if spec.columns.is_empty() {
            return Err(Error::InvalidSchema(format!(
                "index {} needs a column",
                spec.name
            )));
        }
        if spec.unique && t.is_columnar() {
            return Err(Error::InvalidSchema(format!(
                "table {table} is columnar and cannot have a unique index (a uniqueness \
                 check would read every row group); use a plain index or a row table"
            )));
        }
        let index = IndexSchema {
            id: self.next_index_id,
            name: spec.name.clone(),
            columns: t.column_positions(&spec.columns)?,
            unique: spec.unique,
        };
        self.next_index_id += 1;
        t.indexes.push(index.clone());
        let t = Arc::new(t);
        self.tables.insert(table.into(), t.clone());
        Ok((t, index))
    }

    /// A database-wide extension.
    pub fn extension(&self, key: &str) -> Option<&[u8]> {
        self.extensions.get(key).map(Vec::as_slice)
    }

    pub(crate) fn set_database_extension(&mut self, key: &str, value: Option<Vec<u8>>) {
        match value {
            Some(v) => self.extensions.insert(key.to_owned(), v),
            None => self.extensions.remove(key),
        };
    }

    /// Sets (or with `None` removes) an extension of `table`.
    pub(crate) fn set_extension(
        &mut self,
        table: &str,
        key: &str,
        value: Option<Vec<u8>>,
    ) -> Result<Arc<TableSchema>> {
        let mut t = (**self.table(table)?).clone();
        if key == crate::storage::STORAGE_EXTENSION {
            let options = match &value {
                Some(v) => crate::storage::StorageOptions::decode(v)?,
                None => Default::default(),
            };
            if options.layout == crate::storage::Layout::Columnar
                && (!t.primary_key.is_empty() || t.indexes.iter().any(|i| i.unique))
            {
                {
                    return Err(Error::InvalidSchema(format!(
                        "table {table} has a primary key or a unique index, so it cannot be \
                         columnar: a columnar table has no uniqueness checks (drop the \
                         constraint, or keep a row table)"
                    )));
                }
            }
        }
        match value {
            Some(v) => t.extensions.insert(key.to_owned(), v),
            None => t.extensions.remove(key),
        };
        let t = Arc::new(t);
        self.tables.insert(table.into(), t.clone());
        Ok(t)
    }

    pub(crate) fn drop_index(&mut self, name: &str) -> Result<(Arc<TableSchema>, IndexSchema)> {
        let (table, _) = self
            .find_index(name)
            .ok_or_else(|| Error::IndexNotFound(name.into()))?;
        let mut t = (**table).clone();
        let at = t
            .indexes
            .iter()
            .position(|i| i.name == name)
            .unwrap_or_default();
        let index = t.indexes.remove(at);
        let t = Arc::new(t);
        self.tables.insert(t.name.clone(), t.clone());
        Ok((t, index))
    }
}

/// Checks a full row against the table's columns: arity, types, NOT NULL, sizes.
pub(crate) fn check_row(table: &TableSchema, values: &[Value]) -> Result<()> {
    if values.len() != table.columns.len() {
        return Err(Error::ArityMismatch {
            table: table.name.clone(),
            expected: table.columns.len(),
            found: values.len(),
        });
    }
    for (column, value) in table.columns.iter().zip(values) {
        check_value_fits(&table.name, column, value)?;
        crate::value::check_value_size(value)?;
    }
    Ok(())
}

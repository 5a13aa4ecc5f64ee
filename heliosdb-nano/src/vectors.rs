//! The typed vector API: insert many vectors, search the k nearest with a filter.
//!
//! It is SQL underneath (the same planner, so an HNSW index with the metric's operator
//! class answers), with identifiers quoted and every value passed as a parameter.

use heliosdb_core::Value;
use heliosdb_sql::vector::Metric;

use crate::SqlError;
use crate::embedded::{EmbeddedDatabase, SqlResult};

/// One search result: the row's primary key and its distance from the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbor {
    pub key: Vec<Value>,
    pub distance: f64,
}

/// A nearest-neighbour query being built; see [`EmbeddedDatabase::search`].
#[derive(Debug, Clone)]
pub struct VectorQuery<'a> {
    db: &'a EmbeddedDatabase,
    table: String,
    column: String,
    metric: Metric,
    k: usize,
    filter: Option<(String, Vec<Value>)>,
    ef_search: Option<u32>,
}

/// `"name"` with embedded quotes doubled.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn operator(metric: Metric) -> &'static str {
    match metric {
        Metric::L2 => "<->",
        Metric::Cosine => "<=>",
        Metric::InnerProduct => "<#>",
    }
}

impl EmbeddedDatabase {
    /// Inserts `(key, vector)` rows into `table(key_column, vector_column)` in one
    /// transaction; all or none. Returns the rows inserted.
    pub fn insert_vectors(
        &self,
        table: &str,
        key_column: &str,
        vector_column: &str,
        rows: impl IntoIterator<Item = (Value, Vec<f32>)>,
    ) -> SqlResult<u64> {
        let sql = format!(
            "INSERT INTO {} ({}, {}) VALUES ($1, $2)",
            quote(table),
            quote(key_column),
            quote(vector_column)
        );
        let insert = self.prepare(&sql)?;
        let mut tx = self.transaction()?;
        let mut n = 0u64;
        for (key, vector) in rows {
            n += tx.execute_prepared(&insert, &[key, Value::Vector(vector)])?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Starts a k-nearest-neighbour search over `table.column` (a `VECTOR(n)` column):
    /// `db.search("docs", "embedding").metric(Metric::Cosine).k(5).filter("lang = $1",
    /// vec!["en".into()]).run(&query)`. Defaults: L2 distance, k = 10.
    pub fn search(&self, table: &str, column: &str) -> VectorQuery<'_> {
        VectorQuery {
            db: self,
            table: table.into(),
            column: column.into(),
            metric: Metric::L2,
            k: 10,
            filter: None,
            ef_search: None,
        }
    }
}

impl VectorQuery<'_> {
    /// The distance: L2 (`<->`), cosine (`<=>`) or negative inner product (`<#>`).
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// How many neighbours (at most).
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// Only rows for which the SQL condition `condition` holds; it refers to its
    /// parameters as `$1`, `$2`, ... (given in `params`).
    pub fn filter(mut self, condition: &str, params: Vec<Value>) -> Self {
        self.filter = Some((condition.into(), params));
        self
    }

    /// The HNSW beam width for this query (default: the index's `ef_search`); higher
    /// finds more of the true neighbours, slower.
    pub fn ef_search(mut self, ef: u32) -> Self {
        self.ef_search = Some(ef);
        self
    }

    /// Runs the search: the nearest rows first.
    pub fn run(&self, query: &[f32]) -> SqlResult<Vec<Neighbor>> {
        let catalog = self.db.database().begin_read()?.catalog().clone();
        let schema = catalog.table(&self.table)?;
        if schema.has_rowid() {
            return Err(SqlError::Unsupported(format!(
                "table {} has no primary key; vector search returns keys, so declare one",
                self.table
            )));
        }
        let keys: Vec<String> = schema
            .primary_key
            .iter()
            .map(|&i| quote(&schema.columns[i].name))
            .collect();
        let (condition, mut params) = self.filter.clone().unwrap_or_default();
        let q = params.len() + 1;
        let distance = format!("{} {} ${q}", quote(&self.column), operator(self.metric));
        let mut sql = format!(
            "SELECT {}, {distance} FROM {}",
            keys.join(", "),
            quote(&self.table)
        );
        if !condition.is_empty() {
            sql.push_str(&format!(" WHERE ({condition})"));
        }
        sql.push_str(&format!(" ORDER BY {distance} LIMIT {}", self.k));
        params.push(Value::Vector(query.to_vec()));
        let mut conn = self.db.connect();
        if let Some(ef) = self.ef_search {
            conn.execute(&format!("SET hnsw.ef_search = {ef}"), &[])?;
        }
        let rows = conn.query(&sql, &params)?;
        let n = keys.len();
        Ok(rows
            .rows
            .into_iter()
            .map(|r| {
                let mut values = r.values;
                let distance = match values.pop() {
                    Some(Value::Real(d)) => d,
                    _ => f64::NAN,
                };
                values.truncate(n);
                Neighbor {
                    key: values,
                    distance,
                }
            })
            .collect())
    }
}

//! The executor: runs a bound [`Plan`] over a [`Source`] of rows, pushing each row from
//! the scan through filters, projections and join probes into a [`Sink`] (a closure), with
//! no copy or allocation per row on the way; a sink answers [`Flow::Stop`] so that LIMIT
//! stops the scan early. Aggregates, sorts, the build side of joins and set operations
//! hold what they must.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use heliosdb_core::{ReadTxn, Value, WriteTxn, key};

use crate::error::{Error, Result};
use crate::plan::{
    AggCall, AggFunc, AsOf, Expr, JoinKind, KeyRange, Plan, SetOpKind, SortKey, Subquery,
};
use crate::values::{self, CmpOp, ValueError};

pub type Row = Vec<Value>;

/// What a consumer of rows asks for after each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    More,
    Stop,
}

/// A consumer of rows. The row it is handed lives only for the call (producers reuse
/// their buffers), so a consumer that keeps it copies it.
pub type Sink<'s> = dyn FnMut(&[Value]) -> Result<Flow> + 's;

/// Where table rows come from: a snapshot, or the write transaction (which sees its own
/// writes). Rows are pushed into `sink` in key order until it says [`Flow::Stop`].
/// `columns` says which columns the caller reads (`None`: all); a source may leave the
/// others NULL.
pub trait Source {
    fn scan(
        &self,
        table: &str,
        range: &KeyRange,
        columns: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow>;

    fn index_scan(
        &self,
        table: &str,
        index: &str,
        range: &KeyRange,
        columns: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow>;

    /// `scan` for a filtered scan: `zones` are bounds the filter implies, which a columnar
    /// table uses to skip row groups (the filter itself still runs on every row).
    fn scan_zoned(
        &self,
        table: &str,
        range: &KeyRange,
        columns: Option<&[bool]>,
        zones: &[heliosdb_core::ZoneFilter],
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        let _ = zones;
        self.scan(table, range, columns, sink)
    }

    /// The row of `table` with primary key `key`, if any.
    fn get(&self, table: &str, key: &[Value], columns: Option<&[bool]>) -> Result<Option<Row>> {
        let range = (
            std::ops::Bound::Included(key.to_vec()),
            std::ops::Bound::Included(key.to_vec()),
        );
        let mut found = None;
        self.scan(table, &range, columns, &mut |row| {
            found = Some(row.to_vec());
            Ok(Flow::Stop)
        })?;
        Ok(found)
    }

    /// The committed snapshot this source reads, when it is one.
    fn snapshot(&self) -> Option<&ReadTxn> {
        None
    }

    /// The rows of `table` with a key in `range` as they were at `at`, in key order.
    fn scan_as_of(
        &self,
        table: &str,
        range: &KeyRange,
        at: AsOf,
        columns: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow>;

    /// Every version of `table`'s rows in the window (see [`Plan::Versions`]).
    fn versions(&self, table: &str, from: AsOf, to: AsOf, sink: &mut Sink<'_>) -> Result<Flow>;

    /// Whether this source holds writes not yet committed. Derived indexes (HNSW) follow
    /// committed data, so a transaction that wrote searches exactly instead.
    fn uncommitted(&self) -> bool {
        false
    }

    /// Exact nearest-neighbour scan: offers every row of `table` whose vector in
    /// `column` is not NULL to `top` with its distance from `query` (dimensions already
    /// checked by the caller per row); `filter` sees rows that `top` would keep.
    #[allow(clippy::too_many_arguments)]
    fn vector_scan(
        &self,
        table: &str,
        column: usize,
        metric: heliosdb_vector::Metric,
        query: &[f32],
        columns: Option<&[bool]>,
        filter: &mut dyn FnMut(&[Value]) -> Result<bool>,
        top: &mut crate::vector::TopK,
    ) -> Result<()> {
        let mut dim_error = None;
        self.scan(table, &crate::plan::full_range(), columns, &mut |row| {
            let d = match row.get(column) {
                Some(Value::Vector(v)) if v.len() != query.len() => {
                    dim_error = Some(v.len());
                    return Ok(Flow::Stop);
                }
                Some(Value::Vector(v)) => Some(heliosdb_vector::distance(metric, v, query)),
                _ => None,
            };
            if top.admits(d) && filter(row)? {
                top.push(d, row.to_vec());
            }
            Ok(Flow::More)
        })?;
        match dim_error {
            Some(n) => Err(dimension_error(n, query.len())),
            None => Ok(()),
        }
    }
}

/// Whether every column marked in `columns` is a primary-key column whose value the
/// encoded key gives back exactly (not REAL: the key form normalizes -0.0 and NaN).
fn key_only(schema: &heliosdb_core::TableSchema, columns: Option<&[bool]>) -> bool {
    let Some(columns) = columns else { return false };
    columns.iter().enumerate().all(|(i, &read)| {
        !read
            || (schema.primary_key.contains(&i)
                && schema
                    .columns
                    .get(i)
                    .is_some_and(|c| !matches!(c.data_type, heliosdb_core::DataType::Real)))
    })
}

#[cold]
fn dimension_error(stored: usize, query: usize) -> Error {
    ValueError::InvalidArgument {
        func: "vector search",
        why: format!("different vector dimensions {stored} and {query}"),
    }
    .into()
}

/// Decodes each stored row into one reused buffer and hands it on.
fn push_stored<'t>(
    rows: impl Iterator<Item = heliosdb_core::Result<heliosdb_core::StoredRow<'t>>>,
    columns: Option<&[bool]>,
    sink: &mut Sink<'_>,
) -> Result<Flow> {
    let mut values = Vec::new();
    for row in rows {
        row?.decode_into(columns, &mut values)?;
        if sink(&values)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::More)
}

/// Hands on rows that are decoded already.
fn push_rows(
    rows: impl Iterator<Item = heliosdb_core::Result<heliosdb_core::Row>>,
    sink: &mut Sink<'_>,
) -> Result<Flow> {
    for row in rows {
        if sink(&row?.values)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::More)
}

impl Source for ReadTxn {
    fn scan(
        &self,
        table: &str,
        range: &KeyRange,
        columns: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        self.scan_zoned(table, range, columns, &[], sink)
    }

    fn scan_zoned(
        &self,
        table: &str,
        range: &KeyRange,
        columns: Option<&[bool]>,
        zones: &[heliosdb_core::ZoneFilter],
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        let full = matches!(
            range,
            (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
        );
        if full && self.table(table)?.is_columnar() {
            let mut flow = Flow::More;
            self.scan_columns(table, columns, zones, |row| {
                flow = sink(row)?;
                Ok::<_, Error>(flow == Flow::More)
            })?;
            return Ok(flow);
        }
        let mut values = Vec::new();
        let mut flow = Flow::More;
        ReadTxn::scan(self, table, range.clone())?.for_each(|row| {
            row.decode_into(columns, &mut values)?;
            flow = sink(&values)?;
            Ok::<_, Error>(flow == Flow::More)
        })?;
        Ok(flow)
    }

    fn index_scan(
        &self,
        table: &str,
        index: &str,
        range: &KeyRange,
        columns: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        let rows = ReadTxn::index_scan(self, table, index, range.clone())?;
        push_stored(rows, columns, sink)
    }

    fn get(&self, table: &str, key: &[Value], columns: Option<&[bool]>) -> Result<Option<Row>> {
        let Some(row) = ReadTxn::get(self, table, key)? else {
            return Ok(None);
        };
        let mut values = Vec::new();
        row.decode_into(columns, &mut values)?;
        Ok(Some(values))
    }

    fn snapshot(&self) -> Option<&ReadTxn> {
        Some(self)
    }

    fn scan_as_of(
        &self,
        table: &str,
        range: &KeyRange,
        at: AsOf,
        columns: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        scan_as_of_snapshot(self, table, range, at, columns, sink)
    }

    fn versions(&self, table: &str, from: AsOf, to: AsOf, sink: &mut Sink<'_>) -> Result<Flow> {
        versions_snapshot(self, table, from, to, sink)
    }

    /// Reads each row's vector in place and decodes only the rows the heap keeps.
    fn vector_scan(
        &self,
        table: &str,
        column: usize,
        metric: heliosdb_vector::Metric,
        query: &[f32],
        columns: Option<&[bool]>,
        filter: &mut dyn FnMut(&[Value]) -> Result<bool>,
        top: &mut crate::vector::TopK,
    ) -> Result<()> {
        let mut v: Vec<f32> = Vec::with_capacity(query.len());
        let mut values = Vec::new();
        ReadTxn::scan(self, table, ..)?.for_each(|row| {
            let d = match row.get(column)?.as_ref() {
                heliosdb_core::ValueRef::Vector(bytes) => {
                    if bytes.len() != query.len() * 4 {
                        return Err(dimension_error(bytes.len() / 4, query.len()));
                    }
                    v.clear();
                    v.extend(
                        bytes
                            .chunks_exact(4)
                            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    );
                    Some(heliosdb_vector::distance(metric, &v, query))
                }
                _ => None,
            };
            if top.admits(d) {
                row.decode_into(columns, &mut values)?;
                if filter(&values)? {
                    top.push(d, values.clone());
                }
            }
            Ok::<_, Error>(true)
        })
    }
}

/// A source with no tables, for expressions that read none.
struct NoTables;

impl Source for NoTables {
    fn scan(
        &self,
        table: &str,
        _: &KeyRange,
        _: Option<&[bool]>,
        _: &mut Sink<'_>,
    ) -> Result<Flow> {
        Err(Error::Internal(format!(
            "a constant expression read table {table}"
        )))
    }

    fn index_scan(
        &self,
        table: &str,
        _: &str,
        range: &KeyRange,
        columns: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        self.scan(table, range, columns, sink)
    }

    fn scan_as_of(
        &self,
        table: &str,
        range: &KeyRange,
        _: AsOf,
        columns: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        self.scan(table, range, columns, sink)
    }

    fn versions(&self, table: &str, _: AsOf, _: AsOf, sink: &mut Sink<'_>) -> Result<Flow> {
        self.scan(table, &crate::plan::full_range(), None, sink)
    }
}

/// The value of an expression that reads no table (subqueries over tables are refused).
pub(crate) fn eval_constant(expr: &Expr, params: &[Value]) -> Result<Value> {
    Executor::new(&NoTables, params).eval(expr, &[])
}

/// The time a history read names: a commit's is its local commit time.
pub(crate) fn resolve_as_of(r: &ReadTxn, at: AsOf) -> Result<heliosdb_core::Hlc> {
    match at {
        AsOf::Time(t) => Ok(t),
        AsOf::Commit(n) => match r.commit(n)? {
            Some(c) => Ok(c.local_ts),
            None => {
                let (first, last) = (r.first_commit_seq()?, r.last_commit_seq()?);
                Err(Error::Execution(if n > last {
                    format!("transaction {n} has not been committed (the last is {last})")
                } else {
                    format!(
                        "transaction {n} is no longer in the change log (the oldest kept is \
                         {first}); use AS OF TIMESTAMP"
                    )
                }))
            }
        },
    }
}

/// A time as a TIMESTAMP value (milliseconds; the logical counter is dropped).
fn hlc_timestamp(t: heliosdb_core::Hlc) -> Value {
    Value::Timestamp(i64::try_from(t.physical_ms().saturating_mul(1000)).unwrap_or(i64::MAX))
}

fn scan_as_of_snapshot(
    r: &ReadTxn,
    table: &str,
    range: &KeyRange,
    at: AsOf,
    columns: Option<&[bool]>,
    sink: &mut Sink<'_>,
) -> Result<Flow> {
    let at = resolve_as_of(r, at)?;
    if let (std::ops::Bound::Included(a), std::ops::Bound::Included(b)) = range
        && a == b
        && r.table(table)?.key_len() == a.len()
    {
        let Some(row) = r.get_as_of(table, a, at)? else {
            return Ok(Flow::More);
        };
        let mut values = Vec::new();
        row.decode_into(columns, &mut values)?;
        return sink(&values);
    }
    push_stored(r.scan_as_of_range(table, range.clone(), at)?, columns, sink)
}

fn versions_snapshot(
    r: &ReadTxn,
    table: &str,
    from: AsOf,
    to: AsOf,
    sink: &mut Sink<'_>,
) -> Result<Flow> {
    let (from, to) = (resolve_as_of(r, from)?, resolve_as_of(r, to)?);
    if from > to {
        return Err(Error::Execution(format!(
            "VERSIONS BETWEEN {from} AND {to}: the window ends before it begins"
        )));
    }
    let mut flow = Flow::More;
    r.versions(table, .., from, to, |v| {
        let mut row = v.values;
        row.push(hlc_timestamp(v.valid_from));
        row.push(v.valid_to.map_or(Value::Null, hlc_timestamp));
        row.push(Value::Text(
            match v.op {
                heliosdb_core::VersionOp::Insert => "INSERT",
                heliosdb_core::VersionOp::Update => "UPDATE",
                heliosdb_core::VersionOp::Delete => "DELETE",
            }
            .into(),
        ));
        flow = sink(&row)?;
        Ok::<_, Error>(flow == Flow::More)
    })?;
    Ok(flow)
}

/// The write transaction's rows come decoded whole; history reads see what was committed
/// before it (its own writes are not history yet).
impl Source for WriteTxn {
    fn scan_as_of(
        &self,
        table: &str,
        range: &KeyRange,
        at: AsOf,
        columns: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        scan_as_of_snapshot(&self.committed()?, table, range, at, columns, sink)
    }

    fn versions(&self, table: &str, from: AsOf, to: AsOf, sink: &mut Sink<'_>) -> Result<Flow> {
        versions_snapshot(&self.committed()?, table, from, to, sink)
    }

    fn scan(
        &self,
        table: &str,
        range: &KeyRange,
        _: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        push_rows(WriteTxn::scan(self, table, range.clone())?, sink)
    }

    fn index_scan(
        &self,
        table: &str,
        index: &str,
        range: &KeyRange,
        _: Option<&[bool]>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        let rows = WriteTxn::index_scan(self, table, index, range.clone())?;
        push_rows(rows.into_iter().map(Ok), sink)
    }

    fn uncommitted(&self) -> bool {
        self.has_changes()
    }
}

/// What vector searches need beyond the rows: the open database (for its loaded HNSW
/// indexes) and the session's `hnsw.ef_search`.
#[derive(Clone)]
pub struct VectorContext {
    pub db: heliosdb_core::Database,
    pub ef_search: Option<u32>,
}

/// Runs plans for one statement: holds its parameters, the rows of enclosing queries while
/// a correlated subquery runs, and the results of uncorrelated subqueries.
pub struct Executor<'a> {
    source: &'a dyn Source,
    params: &'a [Value],
    outer: RefCell<Vec<Row>>,
    /// Uncorrelated subquery results, by the subquery's address in the plan.
    cache: RefCell<HashMap<usize, Rc<Vec<Row>>>>,
    /// Without it, vector searches scan exactly.
    vectors: Option<&'a VectorContext>,
}

/// Whether `e` is a value known before any row is read.
fn is_constant(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) | Expr::Param(_) => true,
        Expr::Cast(inner, _) => is_constant(inner),
        _ => false,
    }
}

impl Executor<'_> {
    /// Bounds on single columns that `predicate` implies (its conjuncts `col op constant`
    /// and `col BETWEEN constant AND constant`), for skipping row groups.
    fn zone_filters(
        &self,
        predicate: &Expr,
        out: &mut Vec<heliosdb_core::ZoneFilter>,
    ) -> Result<()> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let bound = |column: usize, lower, upper| heliosdb_core::ZoneFilter {
            column,
            lower,
            upper,
        };
        match predicate {
            Expr::And(a, b) => {
                self.zone_filters(a, out)?;
                self.zone_filters(b, out)?;
            }
            Expr::Compare(op, a, b) => {
                let (column, op, constant) = match (&**a, &**b) {
                    (Expr::Column(c), e) if is_constant(e) => (*c, *op, e),
                    (e, Expr::Column(c)) if is_constant(e) => {
                        let flipped = match op {
                            CmpOp::Lt => CmpOp::Gt,
                            CmpOp::LtEq => CmpOp::GtEq,
                            CmpOp::Gt => CmpOp::Lt,
                            CmpOp::GtEq => CmpOp::LtEq,
                            other => *other,
                        };
                        (*c, flipped, e)
                    }
                    _ => return Ok(()),
                };
                let v = self.eval(constant, &[])?;
                if v.is_null() {
                    return Ok(());
                }
                out.push(match op {
                    CmpOp::Eq => bound(column, Included(v.clone()), Included(v)),
                    CmpOp::Lt => bound(column, Unbounded, Excluded(v)),
                    CmpOp::LtEq => bound(column, Unbounded, Included(v)),
                    CmpOp::Gt => bound(column, Excluded(v), Unbounded),
                    CmpOp::GtEq => bound(column, Included(v), Unbounded),
                    CmpOp::NotEq => return Ok(()),
                });
            }
            Expr::Between {
                expr,
                low,
                high,
                negated: false,
            } => {
                if let Expr::Column(c) = &**expr
                    && is_constant(low)
                    && is_constant(high)
                {
                    let (lo, hi) = (self.eval(low, &[])?, self.eval(high, &[])?);
                    if !lo.is_null() && !hi.is_null() {
                        out.push(bound(*c, Included(lo), Included(hi)));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cold]
fn missing_column(i: usize, width: usize) -> Error {
    Error::Internal(format!("column #{i} of a {width}-column row"))
}

/// The order of values in ORDER BY, DISTINCT ties aside: `compare`, with NULLs placed.
fn sort_cmp(a: &Value, b: &Value, key: &SortKey) -> Result<Ordering> {
    let ord = match (a.is_null(), b.is_null()) {
        (true, true) => return Ok(Ordering::Equal),
        (true, false) => {
            return Ok(if key.nulls_first {
                Ordering::Less
            } else {
                Ordering::Greater
            });
        }
        (false, true) => {
            return Ok(if key.nulls_first {
                Ordering::Greater
            } else {
                Ordering::Less
            });
        }
        (false, false) => values::compare(a, b)?.unwrap_or(Ordering::Equal),
    };
    Ok(if key.descending { ord.reverse() } else { ord })
}

/// The identity of a row for DISTINCT, GROUP BY and set operations (NULLs are equal).
fn row_key(values: &[Value]) -> Vec<u8> {
    key::encode(values)
}

/// An aggregate's running state.
#[derive(Debug)]
struct AggState {
    count: i64,
    int_sum: i128,
    real_sum: f64,
    any_real: bool,
    best: Option<Value>,
    seen: Option<HashSet<Vec<u8>>>,
}

impl AggState {
    fn new(call: &AggCall) -> Self {
        AggState {
            count: 0,
            int_sum: 0,
            real_sum: 0.0,
            any_real: false,
            best: None,
            seen: call.distinct.then(HashSet::new),
        }
    }

    fn add(&mut self, call: &AggCall, v: Option<&Value>) -> Result<()> {
        let Some(v) = v else {
            // count(*): every row counts.
            self.count += 1;
            return Ok(());
        };
        if v.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen
            && !seen.insert(row_key(std::slice::from_ref(v)))
        {
            return Ok(());
        }
        self.count += 1;
        match call.func {
            AggFunc::CountRows | AggFunc::Count => {}
            AggFunc::Sum | AggFunc::Avg => match v {
                Value::Integer(i) => self.int_sum += i128::from(*i),
                Value::Real(r) => {
                    self.real_sum += *r;
                    self.any_real = true;
                }
                other => {
                    return Err(ValueError::InvalidArgument {
                        func: if call.func == AggFunc::Sum {
                            "sum"
                        } else {
                            "avg"
                        },
                        why: format!("cannot add up {} values", other.type_name()),
                    }
                    .into());
                }
            },
            AggFunc::Min | AggFunc::Max => {
                let want = if call.func == AggFunc::Min {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                let better = match &self.best {
                    None => true,
                    Some(b) => values::compare(v, b)? == Some(want),
                };
                if better {
                    self.best = Some(v.clone());
                }
            }
        }
        Ok(())
    }

    fn finish(self, call: &AggCall) -> Result<Value> {
        Ok(match call.func {
            AggFunc::CountRows | AggFunc::Count => Value::Integer(self.count),
            _ if self.count == 0 => Value::Null,
            AggFunc::Sum if self.any_real => Value::Real(self.int_sum as f64 + self.real_sum),
            AggFunc::Sum => Value::Integer(
                i64::try_from(self.int_sum).map_err(|_| ValueError::OutOfRange("bigint"))?,
            ),
            AggFunc::Avg => Value::Real((self.int_sum as f64 + self.real_sum) / self.count as f64),
            AggFunc::Min | AggFunc::Max => self.best.unwrap_or(Value::Null),
        })
    }
}

/// An index join with more left rows than this hashes the right table instead.
const INDEX_JOIN_LEFT_MAX: usize = 1024;

/// A hash of a join's right rows on the columns its condition equates with left columns:
/// a nested loop then only tries rows whose keys are equal.
struct HashSide {
    /// `(left column, right column)` pairs of `left = right` conjuncts.
    pairs: Vec<(usize, usize)>,
    rows: HashMap<Vec<u8>, Vec<usize>>,
}

/// A value for hashing as `=` compares it: integral reals equal integers.
fn join_key(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e18 => Some(Value::Integer(*r as i64)),
        other => Some(other.clone()),
    }
}

impl HashSide {
    fn build(on: Option<&Expr>, left_width: usize, right: &[Row]) -> Option<HashSide> {
        let pairs = on?.equi_pairs(left_width);
        // Hashing pays only past a handful of rows.
        if pairs.is_empty() || right.len() < 8 {
            return None;
        }
        let mut rows: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, r) in right.iter().enumerate() {
            let key: Option<Vec<Value>> = pairs
                .iter()
                .map(|&(_, rc)| r.get(rc).and_then(join_key))
                .collect();
            // A NULL key equals nothing.
            if let Some(key) = key {
                rows.entry(row_key(&key)).or_default().push(i);
            }
        }
        Some(HashSide { pairs, rows })
    }

    fn probe(&self, left: &[Value]) -> &[usize] {
        let key: Option<Vec<Value>> = self
            .pairs
            .iter()
            .map(|&(lc, _)| left.get(lc).and_then(join_key))
            .collect();
        match key.and_then(|k| self.rows.get(&row_key(&k))) {
            Some(hits) => hits,
            None => &[],
        }
    }
}

/// A join's right rows, held while the left rows stream past: hashed on the equality
/// columns of `on` when there are any (built at the first left row, when the left width
/// is known), else tried one by one.
struct HashJoin<'p> {
    right: Vec<Row>,
    hash: Option<Option<HashSide>>,
    kind: JoinKind,
    on: Option<&'p Expr>,
    right_width: usize,
    joined: Vec<Value>,
}

impl<'p> HashJoin<'p> {
    fn new(right: Vec<Row>, kind: JoinKind, on: Option<&'p Expr>, right_width: usize) -> Self {
        HashJoin {
            right,
            hash: None,
            kind,
            on,
            right_width,
            joined: Vec::new(),
        }
    }

    /// Joins one left row, sending the joined rows to `sink`.
    fn probe(&mut self, ex: &Executor<'_>, left: &[Value], sink: &mut Sink<'_>) -> Result<Flow> {
        let (right, on) = (&self.right, self.on);
        let side = self
            .hash
            .get_or_insert_with(|| HashSide::build(on, left.len(), right));
        let (kind, width, joined) = (self.kind, self.right_width, &mut self.joined);
        match side {
            // With a hash on the equality columns, only rows with equal keys can match.
            Some(h) => {
                let candidates = h.probe(left).iter().map(|&i| right[i].as_slice());
                ex.join_row(left, candidates, kind, on, width, joined, sink)
            }
            None => {
                let candidates = right.iter().map(Vec::as_slice);
                ex.join_row(left, candidates, kind, on, width, joined, sink)
            }
        }
    }
}

/// A LEFT join's left row that matched nothing, NULL-extended, to `sink`.
fn emit_unmatched(
    left: &[Value],
    right_width: usize,
    joined: &mut Vec<Value>,
    sink: &mut Sink<'_>,
) -> Result<Flow> {
    joined.clear();
    joined.extend_from_slice(left);
    joined.extend(std::iter::repeat_n(Value::Null, right_width));
    sink(joined)
}

/// Sends materialized rows on.
fn emit(rows: Vec<Row>, sink: &mut Sink<'_>) -> Result<Flow> {
    for row in rows {
        if sink(&row)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::More)
}

impl<'a> Executor<'a> {
    pub fn new(source: &'a dyn Source, params: &'a [Value]) -> Self {
        Executor {
            source,
            params,
            outer: RefCell::new(Vec::new()),
            cache: RefCell::new(HashMap::new()),
            vectors: None,
        }
    }

    /// Lets vector searches use HNSW indexes.
    pub fn with_vectors(mut self, vectors: Option<&'a VectorContext>) -> Self {
        self.vectors = vectors;
        self
    }

    /// Runs `plan` to completion.
    pub fn collect(&self, plan: &Plan) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        self.run(plan, &mut |row| {
            rows.push(row.to_vec());
            Ok(Flow::More)
        })?;
        Ok(rows)
    }

    /// Runs `plan`, pushing its rows into `sink` until it says [`Flow::Stop`] (then this
    /// returns `Stop` too). Rows stream from the scans through filters, projections and
    /// the probe side of joins without being copied; aggregates, sorts, the build side of
    /// joins and set operations hold what they must.
    pub fn run(&self, plan: &Plan, sink: &mut Sink<'_>) -> Result<Flow> {
        match plan {
            Plan::Unit => sink(&[]),
            Plan::Values { rows } => {
                let mut values = Vec::new();
                for exprs in rows {
                    values.clear();
                    for e in exprs {
                        values.push(self.eval(e, &[])?);
                    }
                    if sink(&values)? == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
                Ok(Flow::More)
            }
            Plan::Scan {
                table,
                range,
                columns,
                at: None,
            } => self.source.scan(table, range, columns.as_deref(), sink),
            Plan::Scan {
                table,
                range,
                columns,
                at: Some(at),
            } => self
                .source
                .scan_as_of(table, range, *at, columns.as_deref(), sink),
            Plan::Versions { table, from, to } => self.source.versions(table, *from, *to, sink),
            Plan::IndexScan {
                table,
                index,
                range,
                columns,
            } => self
                .source
                .index_scan(table, index, range, columns.as_deref(), sink),
            Plan::VectorSearch {
                table,
                column,
                metric,
                index,
                ef_search,
                query,
                limit,
                offset,
                filter,
                columns,
            } => {
                let k = match (
                    self.count_arg(Some(limit), "LIMIT")?,
                    self.count_arg(offset.as_ref(), "OFFSET")?,
                ) {
                    (Some(l), o) => l.saturating_add(o.unwrap_or(0)),
                    (None, _) => usize::MAX,
                };
                let hits = self.vector_search(
                    table,
                    *column,
                    *metric,
                    index.as_deref(),
                    *ef_search,
                    query,
                    k,
                    filter.as_ref(),
                    columns.as_deref(),
                    columns.as_deref(),
                )?;
                for (_, row) in hits {
                    if sink(&row)? == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
                Ok(Flow::More)
            }
            Plan::Filter { input, predicate } => {
                let mut filtered = |row: &[Value]| {
                    if self.is_true(predicate, row)? {
                        sink(row)
                    } else {
                        Ok(Flow::More)
                    }
                };
                if let Plan::Scan {
                    table,
                    range,
                    columns,
                    at: None,
                } = &**input
                {
                    let mut zones = Vec::new();
                    self.zone_filters(predicate, &mut zones)?;
                    if !zones.is_empty() {
                        return self.source.scan_zoned(
                            table,
                            range,
                            columns.as_deref(),
                            &zones,
                            &mut filtered,
                        );
                    }
                }
                self.run(input, &mut filtered)
            }
            Plan::Project { input, exprs } => {
                if let Some(flow) = self.project_vector_search(exprs, input, sink)? {
                    return Ok(flow);
                }
                let mut out = Vec::with_capacity(exprs.len());
                self.run(input, &mut |row| {
                    out.clear();
                    for e in exprs {
                        out.push(self.eval(e, row)?);
                    }
                    sink(&out)
                })
            }
            Plan::Join {
                left,
                right,
                kind,
                on,
                right_width,
            } => {
                let right = self.collect(right)?;
                let mut join = HashJoin::new(right, *kind, on.as_ref(), *right_width);
                self.run(left, &mut |l| join.probe(self, l, sink))
            }
            Plan::IndexJoin {
                left,
                table,
                index,
                left_key,
                key_type,
                right_filter,
                kind,
                on,
                right_width,
            } => {
                let (kind, on, width) = (*kind, on.as_ref(), *right_width);
                // Up to INDEX_JOIN_LEFT_MAX left rows look their partners up by key; past
                // that, the whole right table is hashed, as a plain join does.
                let mut buffered: Vec<Row> = Vec::new();
                let mut hashed: Option<HashJoin<'_>> = None;
                let flow = self.run(left, &mut |l| {
                    if let Some(join) = hashed.as_mut() {
                        return join.probe(self, l, sink);
                    }
                    buffered.push(l.to_vec());
                    if buffered.len() <= INDEX_JOIN_LEFT_MAX {
                        return Ok(Flow::More);
                    }
                    let rows = self.filtered_rows(table, right_filter.as_ref())?;
                    let join = hashed.insert(HashJoin::new(rows, kind, on, width));
                    for b in std::mem::take(&mut buffered) {
                        if join.probe(self, &b, sink)? == Flow::Stop {
                            return Ok(Flow::Stop);
                        }
                    }
                    Ok(Flow::More)
                })?;
                if flow == Flow::Stop {
                    return Ok(Flow::Stop);
                }
                let mut joined = Vec::new();
                for l in &buffered {
                    let mut matched = false;
                    let flow = self.lookup(
                        table,
                        index.as_deref(),
                        *key_type,
                        l.get(*left_key),
                        &mut |r| {
                            if !self.holds(right_filter.as_ref(), r)? {
                                return Ok(Flow::More);
                            }
                            self.emit_joined(l, r, on, &mut joined, &mut matched, sink)
                        },
                    )?;
                    if flow == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                    if !matched
                        && kind == JoinKind::Left
                        && emit_unmatched(l, width, &mut joined, sink)? == Flow::Stop
                    {
                        return Ok(Flow::Stop);
                    }
                }
                Ok(Flow::More)
            }
            Plan::Aggregate {
                input,
                group_by,
                aggregates,
            } => emit(self.aggregate(input, group_by, aggregates)?, sink),
            Plan::Sort { input, keys } => emit(self.sort(input, keys)?, sink),
            Plan::Limit {
                input,
                limit,
                offset,
            } => {
                let offset = self.count_arg(offset.as_ref(), "OFFSET")?.unwrap_or(0);
                let limit = self.count_arg(limit.as_ref(), "LIMIT")?;
                if limit == Some(0) {
                    return Ok(Flow::More);
                }
                let (mut skipped, mut taken, mut sink_stopped) = (0, 0, false);
                self.run(input, &mut |row| {
                    if skipped < offset {
                        skipped += 1;
                        return Ok(Flow::More);
                    }
                    taken += 1;
                    if sink(row)? == Flow::Stop {
                        sink_stopped = true;
                        return Ok(Flow::Stop);
                    }
                    Ok(if Some(taken) == limit {
                        Flow::Stop
                    } else {
                        Flow::More
                    })
                })?;
                Ok(if sink_stopped { Flow::Stop } else { Flow::More })
            }
            Plan::Distinct { input } => {
                let mut seen = HashSet::new();
                self.run(input, &mut |row| {
                    if seen.insert(row_key(row)) {
                        sink(row)
                    } else {
                        Ok(Flow::More)
                    }
                })
            }
            Plan::SetOp {
                op,
                all,
                left,
                right,
            } => self.set_op(*op, *all, left, right, sink),
        }
    }

    /// The rows of `table` for which `filter` holds, for hashing a join's right side.
    fn filtered_rows(&self, table: &str, filter: Option<&Expr>) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        self.source
            .scan(table, &crate::plan::full_range(), None, &mut |row| {
                if self.holds(filter, row)? {
                    rows.push(row.to_vec());
                }
                Ok(Flow::More)
            })?;
        Ok(rows)
    }

    /// Joins one left row with `candidates` (right rows): every joined row for which `on`
    /// holds goes to `sink`; a LEFT join with no match sends the left row NULL-extended.
    #[allow(clippy::too_many_arguments)]
    fn join_row<'r>(
        &self,
        left: &[Value],
        candidates: impl Iterator<Item = &'r [Value]>,
        kind: JoinKind,
        on: Option<&Expr>,
        right_width: usize,
        joined: &mut Vec<Value>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        let mut matched = false;
        for r in candidates {
            if self.emit_joined(left, r, on, joined, &mut matched, sink)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        if !matched && kind == JoinKind::Left {
            return emit_unmatched(left, right_width, joined, sink);
        }
        Ok(Flow::More)
    }

    /// Sends `left ++ right` to `sink` if `on` holds for it, noting the match.
    fn emit_joined(
        &self,
        left: &[Value],
        right: &[Value],
        on: Option<&Expr>,
        joined: &mut Vec<Value>,
        matched: &mut bool,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        joined.clear();
        joined.extend_from_slice(left);
        joined.extend_from_slice(right);
        if !self.holds(on, joined)? {
            return Ok(Flow::More);
        }
        *matched = true;
        sink(joined)
    }

    /// Sends `sink` the rows of `table` whose key (`index`, or the primary key) is
    /// `value`. A value of another numeric type is converted when that is exact; NULL, or a
    /// value no key of `key_type` can equal, finds nothing.
    fn lookup(
        &self,
        table: &str,
        index: Option<&str>,
        key_type: heliosdb_core::DataType,
        value: Option<&Value>,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        use heliosdb_core::DataType;
        let key = match (value, key_type) {
            (None | Some(Value::Null), _) => return Ok(Flow::More),
            (Some(v), ty) if v.fits(ty) => v.clone(),
            (Some(Value::Real(r)), DataType::Integer) if r.fract() == 0.0 && r.abs() < 9.0e18 => {
                Value::Integer(*r as i64)
            }
            (Some(Value::Integer(i)), DataType::Real) if i.unsigned_abs() < (1 << 53) => {
                Value::Real(*i as f64)
            }
            _ => return Ok(Flow::More),
        };
        let range = (
            std::ops::Bound::Included(vec![key.clone()]),
            std::ops::Bound::Included(vec![key]),
        );
        match index {
            Some(index) => self.source.index_scan(table, index, &range, None, sink),
            None => self.source.scan(table, &range, None, sink),
        }
    }

    /// `Project` straight over a [`Plan::VectorSearch`], or a projection of columns over
    /// that (the shape ORDER BY leaves when it sorted by a hidden distance column): the
    /// search fetches only the columns the projected expressions read, and expressions
    /// no output refers to (the hidden sort key, already ordered by) are not evaluated.
    /// `None` for any other shape.
    fn project_vector_search(
        &self,
        exprs: &[Expr],
        input: &Plan,
        sink: &mut Sink<'_>,
    ) -> Result<Option<Flow>> {
        let (used, search): (Vec<&Expr>, &Plan) = match input {
            Plan::VectorSearch { .. } => (exprs.iter().collect(), input),
            Plan::Project {
                input: search,
                exprs: inner,
            } if matches!(**search, Plan::VectorSearch { .. }) => {
                let mut used = Vec::with_capacity(exprs.len());
                for e in exprs {
                    match e {
                        Expr::Column(c) if *c < inner.len() => used.push(&inner[*c]),
                        _ => return Ok(None),
                    }
                }
                (used, &**search)
            }
            _ => return Ok(None),
        };
        let Plan::VectorSearch {
            table,
            column,
            metric,
            index,
            ef_search,
            query,
            limit,
            offset,
            filter,
            columns,
        } = search
        else {
            return Ok(None);
        };
        // The columns the outputs and the filter read (None: all of them); the search
        // pads the flags to the table's width.
        let fetch: Option<Vec<bool>> = (|| {
            let mut read = Vec::new();
            for e in used.iter().copied().chain(filter.as_ref()) {
                crate::bind::columns_read(e, &mut read)?;
            }
            let mut mask = Vec::new();
            for i in read {
                if i >= mask.len() {
                    mask.resize(i + 1, false);
                }
                mask[i] = true;
            }
            Some(mask)
        })();
        let k = match (
            self.count_arg(Some(limit), "LIMIT")?,
            self.count_arg(offset.as_ref(), "OFFSET")?,
        ) {
            (Some(l), o) => l.saturating_add(o.unwrap_or(0)),
            (None, _) => usize::MAX,
        };
        let hits = self.vector_search(
            table,
            *column,
            *metric,
            index.as_deref(),
            *ef_search,
            query,
            k,
            filter.as_ref(),
            columns.as_deref(),
            match &fetch {
                Some(f) => Some(f),
                None => columns.as_deref(),
            },
        )?;
        let mut out = Vec::with_capacity(used.len());
        for (_, row) in hits {
            out.clear();
            for e in &used {
                out.push(self.eval(e, &row)?);
            }
            if sink(&out)? == Flow::Stop {
                return Ok(Some(Flow::Stop));
            }
        }
        Ok(Some(Flow::More))
    }

    /// The rows of a [`Plan::VectorSearch`], nearest first.
    #[allow(clippy::too_many_arguments)]
    fn vector_search(
        &self,
        table: &str,
        column: usize,
        metric: u8,
        index: Option<&str>,
        ef_search: u32,
        query: &Expr,
        k: usize,
        filter: Option<&Expr>,
        columns: Option<&[bool]>,
        fetch_columns: Option<&[bool]>,
    ) -> Result<crate::vector::Hits> {
        let metric = crate::vector::metric_of_code(metric)?;
        let q = self.operand(query, &[])?;
        if q.is_null() || k == 0 {
            return Ok(Vec::new());
        }
        let q = values::vector_arg("vector search", &q)?;
        let mut keep = |row: &[Value]| self.holds(filter, row);
        if let (Some(index), Some(ctx)) = (index, self.vectors)
            && !self.source.uncommitted()
        {
            // A write transaction that changed nothing reads what is committed.
            let own;
            let r = match self.source.snapshot() {
                Some(r) => r,
                None => {
                    own = ctx.db.begin_read()?;
                    &own
                }
            };
            let schema = r.table(table)?;
            if let Some(def) = crate::vector::defs(schema)?
                .into_iter()
                .find(|d| d.name == index)
            {
                let state = crate::vector::VectorState::of(&ctx.db);
                let view = state.view(&ctx.db, r, schema, &def)?;
                if view.index.dim() as usize != q.len() {
                    return Err(dimension_error(view.index.dim() as usize, q.len()));
                }
                let ef = ctx.ef_search.unwrap_or(ef_search).max(1) as usize;
                // The view is exactly this snapshot's rows with a vector: when only key
                // columns are read, the row comes from the key (an index-only scan).
                let width = schema.columns.len();
                let padded: Option<Vec<bool>> = fetch_columns.and_then(|f| {
                    (f.len() <= width).then(|| {
                        let mut f = f.to_vec();
                        f.resize(width, false);
                        f
                    })
                });
                let fetch_columns = padded.as_deref();
                let key_only = key_only(schema, fetch_columns);
                let mut fetch = |key: &[u8]| -> Result<Option<Row>> {
                    let values = key::decode(key)?;
                    if key_only {
                        let mut row = vec![Value::Null; width];
                        for (&c, v) in schema.primary_key.iter().zip(values) {
                            row[c] = v;
                        }
                        return Ok(Some(row));
                    }
                    self.source.get(table, &values, fetch_columns)
                };
                if let Some(hits) = crate::vector::indexed_top_k(
                    &view,
                    &q,
                    k,
                    ef,
                    &mut fetch,
                    &mut keep,
                    filter.is_some(),
                )? {
                    return Ok(hits);
                }
            }
        }
        let mut top = crate::vector::TopK::new(k);
        self.source
            .vector_scan(table, column, metric, &q, columns, &mut keep, &mut top)?;
        Ok(top.into_sorted())
    }

    /// Whether `condition` (none: always) is true for `row`.
    fn holds(&self, condition: Option<&Expr>, row: &[Value]) -> Result<bool> {
        match condition {
            Some(c) => self.is_true(c, row),
            None => Ok(true),
        }
    }

    /// LIMIT and OFFSET arguments: a non-negative count, or no limit for NULL.
    fn count_arg(&self, expr: Option<&Expr>, what: &str) -> Result<Option<usize>> {
        let Some(expr) = expr else { return Ok(None) };
        match self.eval(expr, &[])? {
            Value::Null => Ok(None),
            Value::Integer(n) if n >= 0 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            Value::Integer(_) => Err(Error::Execution(format!("{what} must not be negative"))),
            other => Err(Error::Execution(format!(
                "argument of {what} must be an integer, not {}",
                other.type_name()
            ))),
        }
    }

    fn aggregate(&self, input: &Plan, group_by: &[Expr], aggs: &[AggCall]) -> Result<Vec<Row>> {
        // Groups in order of first appearance: the key's position in `groups`.
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut groups: Vec<(Row, Vec<AggState>)> = Vec::new();
        if group_by.is_empty() {
            // One group: no key to compute or look up.
            groups.push((Vec::new(), aggs.iter().map(AggState::new).collect()));
        }
        // Keys of columns and literals are encoded from borrowed values and copied only for
        // a new group; other keys are evaluated once per row (they may not be repeatable).
        let borrowed = group_by
            .iter()
            .all(|e| matches!(e, Expr::Column(_) | Expr::Literal(_)));
        let mut keys: Row = Vec::with_capacity(group_by.len());
        let mut key_bytes = Vec::new();
        self.run(input, &mut |row| {
            let at = if group_by.is_empty() {
                0
            } else {
                key_bytes.clear();
                keys.clear();
                for e in group_by {
                    if borrowed {
                        key::encode_into(&*self.operand(e, row)?, &mut key_bytes);
                    } else {
                        let k = self.eval(e, row)?;
                        key::encode_into(&k, &mut key_bytes);
                        keys.push(k);
                    }
                }
                match index.get(key_bytes.as_slice()) {
                    Some(&at) => at,
                    None => {
                        if borrowed {
                            for e in group_by {
                                keys.push(self.operand(e, row)?.into_owned());
                            }
                        }
                        index.insert(key_bytes.clone(), groups.len());
                        groups.push((keys.clone(), aggs.iter().map(AggState::new).collect()));
                        groups.len() - 1
                    }
                }
            };
            let states = &mut groups[at].1;
            for (call, state) in aggs.iter().zip(states.iter_mut()) {
                match &call.arg {
                    Some(arg) => state.add(call, Some(&*self.operand(arg, row)?))?,
                    None => state.add(call, None)?,
                }
            }
            Ok(Flow::More)
        })?;
        groups
            .into_iter()
            .map(|(mut keys, states)| {
                for (call, state) in aggs.iter().zip(states) {
                    keys.push(state.finish(call)?);
                }
                Ok(keys)
            })
            .collect()
    }

    fn sort(&self, input: &Plan, keys: &[SortKey]) -> Result<Vec<Row>> {
        let mut keyed: Vec<(Row, Row)> = Vec::new();
        self.run(input, &mut |row| {
            let k = keys
                .iter()
                .map(|k| self.eval(&k.expr, row))
                .collect::<Result<Row>>()?;
            keyed.push((k, row.to_vec()));
            Ok(Flow::More)
        })?;
        let mut failure = None;
        keyed.sort_by(|(a, _), (b, _)| {
            for ((x, y), key) in a.iter().zip(b).zip(keys) {
                match sort_cmp(x, y, key) {
                    Ok(Ordering::Equal) => continue,
                    Ok(ord) => return ord,
                    Err(e) => {
                        failure.get_or_insert(e);
                        return Ordering::Equal;
                    }
                }
            }
            Ordering::Equal
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(keyed.into_iter().map(|(_, row)| row).collect()),
        }
    }

    fn set_op(
        &self,
        op: SetOpKind,
        all: bool,
        left: &Plan,
        right: &Plan,
        sink: &mut Sink<'_>,
    ) -> Result<Flow> {
        if op == SetOpKind::Union {
            if all {
                if self.run(left, sink)? == Flow::Stop {
                    return Ok(Flow::Stop);
                }
                return self.run(right, sink);
            }
            let mut seen = HashSet::new();
            let mut distinct = |row: &[Value]| {
                if seen.insert(row_key(row)) {
                    sink(row)
                } else {
                    Ok(Flow::More)
                }
            };
            if self.run(left, &mut distinct)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
            return self.run(right, &mut distinct);
        }
        let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
        self.run(right, &mut |row| {
            *counts.entry(row_key(row)).or_default() += 1;
            Ok(Flow::More)
        })?;
        let mut emitted: HashSet<Vec<u8>> = HashSet::new();
        self.run(left, &mut |row| {
            let k = row_key(row);
            let in_right = counts.get_mut(&k);
            let keep = match (op, all) {
                (SetOpKind::Intersect, true) => match in_right {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        true
                    }
                    _ => false,
                },
                (SetOpKind::Intersect, false) => in_right.is_some() && emitted.insert(k),
                (SetOpKind::Except, true) => match in_right {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        false
                    }
                    _ => true,
                },
                (SetOpKind::Except, false) => in_right.is_none() && emitted.insert(k),
                (SetOpKind::Union, _) => true,
            };
            if keep { sink(row) } else { Ok(Flow::More) }
        })
    }

    /// The rows of a subquery for the current row: run once if uncorrelated.
    fn subquery_rows(&self, sq: &Subquery, row: &[Value]) -> Result<Rc<Vec<Row>>> {
        if !sq.correlated {
            let id = std::ptr::from_ref(sq) as usize;
            if let Some(rows) = self.cache.borrow().get(&id) {
                return Ok(rows.clone());
            }
            let rows = Rc::new(self.collect(&sq.plan)?);
            self.cache.borrow_mut().insert(id, rows.clone());
            return Ok(rows);
        }
        self.outer.borrow_mut().push(row.to_vec());
        let rows = self.collect(&sq.plan);
        self.outer.borrow_mut().pop();
        Ok(Rc::new(rows?))
    }

    /// An operand's value, borrowed when it is a column or a literal (no clone of a text).
    #[inline]
    fn operand<'r>(&self, e: &'r Expr, row: &'r [Value]) -> Result<Cow<'r, Value>> {
        match e {
            Expr::Literal(v) => Ok(Cow::Borrowed(v)),
            Expr::Column(i) => match row.get(*i) {
                Some(v) => Ok(Cow::Borrowed(v)),
                None => Err(missing_column(*i, row.len())),
            },
            other => Ok(Cow::Owned(self.eval(other, row)?)),
        }
    }

    /// Whether `expr` is true (not false or unknown) for `row`.
    #[inline]
    fn is_true(&self, expr: &Expr, row: &[Value]) -> Result<bool> {
        Ok(self.truth_of(expr, row)? == Some(true))
    }

    /// The truth of a predicate (`None`: unknown), computed without building boolean
    /// values for the logical and comparison operators.
    fn truth_of(&self, expr: &Expr, row: &[Value]) -> Result<Option<bool>> {
        use values::{and, not, or, truth};
        Ok(match expr {
            Expr::Not(e) => not(self.truth_of(e, row)?),
            Expr::And(a, b) => {
                let left = self.truth_of(a, row)?;
                if left == Some(false) {
                    return Ok(Some(false));
                }
                and(left, self.truth_of(b, row)?)
            }
            Expr::Or(a, b) => {
                let left = self.truth_of(a, row)?;
                if left == Some(true) {
                    return Ok(Some(true));
                }
                or(left, self.truth_of(b, row)?)
            }
            Expr::Compare(op, a, b) => {
                values::compare_truth(*op, &*self.operand(a, row)?, &*self.operand(b, row)?)?
            }
            Expr::IsNull { expr, negated } => Some(self.operand(expr, row)?.is_null() != *negated),
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let v = self.operand(expr, row)?;
                let ge = values::compare_truth(CmpOp::GtEq, &v, &*self.operand(low, row)?)?;
                let le = values::compare_truth(CmpOp::LtEq, &v, &*self.operand(high, row)?)?;
                let inside = and(ge, le);
                if *negated { not(inside) } else { inside }
            }
            other => truth(&*self.operand(other, row)?)?,
        })
    }

    /// Evaluates `expr` against `row`. The common operators are here; the rest are in
    /// `eval_other`, which keeps this function's frame small, since it recurses per node.
    pub fn eval(&self, expr: &Expr, row: &[Value]) -> Result<Value> {
        Ok(match expr {
            Expr::Literal(v) => v.clone(),
            Expr::Column(i) => row
                .get(*i)
                .cloned()
                .ok_or_else(|| missing_column(*i, row.len()))?,
            Expr::Param(i) => self
                .params
                .get(*i)
                .cloned()
                .ok_or_else(|| Error::Execution(format!("there is no parameter ${}", i + 1)))?,
            Expr::Not(_)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Compare(..)
            | Expr::IsNull { .. }
            | Expr::Between { .. } => values::from_truth(self.truth_of(expr, row)?),
            Expr::Arith(op, a, b) => {
                values::arith(*op, &*self.operand(a, row)?, &*self.operand(b, row)?)?
            }
            other => self.eval_other(other, row)?,
        })
    }

    #[inline(never)]
    fn eval_other(&self, expr: &Expr, row: &[Value]) -> Result<Value> {
        use values::truth;
        Ok(match expr {
            Expr::Outer { depth, index } => {
                let outer = self.outer.borrow();
                outer
                    .len()
                    .checked_sub(*depth)
                    .and_then(|at| outer.get(at))
                    .and_then(|r| r.get(*index))
                    .cloned()
                    .ok_or_else(|| Error::Internal(format!("outer column {depth}.{index}")))?
            }
            Expr::Negate(e) => values::negate(&self.eval(e, row)?)?,
            Expr::Concat(a, b) => values::concat(&*self.operand(a, row)?, &*self.operand(b, row)?)?,
            Expr::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                let same = values::not_distinct(&self.eval(left, row)?, &self.eval(right, row)?)?;
                Value::Boolean(same == *negated)
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                case_insensitive,
                negated,
            } => {
                let (text, pattern) = (self.eval(expr, row)?, self.eval(pattern, row)?);
                let escape = match escape {
                    Some(e) => match self.eval(e, row)? {
                        Value::Null => return Ok(Value::Null),
                        Value::Text(s) if s.chars().count() <= 1 => s.chars().next(),
                        _ => {
                            return Err(Error::Execution(
                                "invalid escape string: it must be empty or one character".into(),
                            ));
                        }
                    },
                    None => Some('\\'),
                };
                match (&text, &pattern) {
                    (Value::Null, _) | (_, Value::Null) => Value::Null,
                    (Value::Text(t), Value::Text(p)) => {
                        Value::Boolean(values::like(t, p, escape, *case_insensitive)? != *negated)
                    }
                    _ => {
                        return Err(ValueError::NoOperator {
                            op: "LIKE",
                            left: text.type_name(),
                            right: pattern.type_name(),
                        }
                        .into());
                    }
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let v = self.eval(expr, row)?;
                let mut candidates = Vec::with_capacity(list.len());
                for item in list {
                    candidates.push(self.eval(item, row)?);
                }
                self.in_values(&v, candidates.iter(), *negated)?
            }
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => {
                let subject = match operand {
                    Some(o) => Some(self.eval(o, row)?),
                    None => None,
                };
                for (when, then) in branches {
                    let w = self.eval(when, row)?;
                    let hit = match &subject {
                        Some(s) => values::compare_op(CmpOp::Eq, s, &w)? == Value::Boolean(true),
                        None => truth(&w)? == Some(true),
                    };
                    if hit {
                        return self.eval(then, row);
                    }
                }
                match otherwise {
                    Some(e) => self.eval(e, row)?,
                    None => Value::Null,
                }
            }
            Expr::Cast(e, ty) => values::cast(&self.eval(e, row)?, *ty)?,
            Expr::Call(f, args) => {
                let args = args
                    .iter()
                    .map(|a| self.eval(a, row))
                    .collect::<Result<Vec<_>>>()?;
                f.call(&args)?
            }
            Expr::Coalesce(args) => {
                for a in args {
                    let v = self.eval(a, row)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Value::Null
            }
            Expr::ScalarSubquery(sq) => {
                let rows = self.subquery_rows(sq, row)?;
                match rows.as_slice() {
                    [] => Value::Null,
                    [one] => one.first().cloned().unwrap_or(Value::Null),
                    _ => {
                        return Err(Error::Execution(
                            "more than one row returned by a subquery used as an expression".into(),
                        ));
                    }
                }
            }
            Expr::Exists { subquery, negated } => {
                Value::Boolean(self.subquery_rows(subquery, row)?.is_empty() == *negated)
            }
            Expr::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let v = self.eval(expr, row)?;
                let rows = self.subquery_rows(subquery, row)?;
                self.in_values(&v, rows.iter().filter_map(|r| r.first()), *negated)?
            }
            Expr::Literal(_)
            | Expr::Column(_)
            | Expr::Param(_)
            | Expr::Not(_)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Compare(..)
            | Expr::Arith(..)
            | Expr::IsNull { .. }
            | Expr::Between { .. } => self.eval(expr, row)?,
        })
    }

    /// `v [NOT] IN (candidates)` with SQL's NULL rules: no match but a NULL candidate is
    /// unknown.
    fn in_values<'v>(
        &self,
        v: &Value,
        candidates: impl Iterator<Item = &'v Value>,
        negated: bool,
    ) -> Result<Value> {
        let mut result = Some(false);
        let mut any = false;
        for c in candidates {
            any = true;
            match values::compare(v, c)? {
                Some(Ordering::Equal) => {
                    result = Some(true);
                    break;
                }
                None => result = None,
                Some(_) => {}
            }
        }
        if !any {
            // x IN () is false even for a NULL x.
            return Ok(Value::Boolean(negated));
        }
        Ok(values::from_truth(if negated {
            values::not(result)
        } else {
            result
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use heliosdb_core::{ColumnSpec, DataType, Database, TableSpec};

    use super::*;
    use crate::plan::{Subquery, full_range};
    use crate::values::ArithOp;

    /// emp(id, dept, salary): 1 a 10, 2 a 20, 3 b NULL, 4 b 40, 5 NULL 50
    fn db() -> Database {
        let db = Database::open_in_memory().unwrap();
        let mut w = db.begin_write().unwrap();
        w.create_table(
            &TableSpec::new("emp")
                .column(ColumnSpec::new("id", DataType::Integer))
                .column(ColumnSpec::new("dept", DataType::Text))
                .column(ColumnSpec::new("salary", DataType::Integer))
                .primary_key(["id"]),
        )
        .unwrap();
        let rows: [(i64, Option<&str>, Option<i64>); 5] = [
            (1, Some("a"), Some(10)),
            (2, Some("a"), Some(20)),
            (3, Some("b"), None),
            (4, Some("b"), Some(40)),
            (5, None, Some(50)),
        ];
        for (id, dept, salary) in rows {
            w.insert("emp", &[id.into(), dept.into(), salary.into()])
                .unwrap();
        }
        w.commit().unwrap();
        db
    }

    fn scan() -> Box<Plan> {
        Plan::Scan {
            table: "emp".into(),
            range: full_range(),
            columns: None,
            at: None,
        }
        .boxed()
    }

    fn col(i: usize) -> Expr {
        Expr::Column(i)
    }

    fn lit(v: impl Into<Value>) -> Expr {
        Expr::Literal(v.into())
    }

    fn run(db: &Database, plan: &Plan) -> Vec<Row> {
        let r = db.begin_read().unwrap();
        Executor::new(&r, &[]).collect(plan).unwrap()
    }

    fn ints(rows: &[Row]) -> Vec<Vec<Option<i64>>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .map(|v| match v {
                        Value::Integer(i) => Some(*i),
                        Value::Null => None,
                        other => panic!("{other:?}"),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn filter_project_with_three_valued_logic() {
        let db = db();
        // SELECT id, salary * 2 FROM emp WHERE salary > 15 OR dept = 'a'
        let plan = Plan::Project {
            input: Plan::Filter {
                input: scan(),
                predicate: Expr::Or(
                    Expr::Compare(CmpOp::Gt, col(2).boxed(), lit(15).boxed()).boxed(),
                    Expr::Compare(CmpOp::Eq, col(1).boxed(), lit("a").boxed()).boxed(),
                ),
            }
            .boxed(),
            exprs: vec![
                col(0),
                Expr::Arith(ArithOp::Mul, col(2).boxed(), lit(2).boxed()),
            ],
        };
        assert_eq!(
            ints(&run(&db, &plan)),
            vec![
                vec![Some(1), Some(20)],
                vec![Some(2), Some(40)],
                vec![Some(4), Some(80)],
                vec![Some(5), Some(100)]
            ]
        );
        // NOT (salary > 15) drops the NULL salary too.
        let plan = Plan::Filter {
            input: scan(),
            predicate: Expr::Not(Expr::Compare(CmpOp::Gt, col(2).boxed(), lit(15).boxed()).boxed()),
        };
        assert_eq!(run(&db, &plan).len(), 1);
    }

    #[test]
    fn aggregates_group_and_handle_nulls_and_empty_input() {
        let db = db();
        let call = |func, arg: Option<Expr>, distinct| AggCall {
            func,
            arg,
            distinct,
        };
        // SELECT dept, count(*), count(salary), sum(salary), min(salary), max(salary)
        // GROUP BY dept
        let plan = Plan::Sort {
            input: Plan::Aggregate {
                input: scan(),
                group_by: vec![col(1)],
                aggregates: vec![
                    call(AggFunc::CountRows, None, false),
                    call(AggFunc::Count, Some(col(2)), false),
                    call(AggFunc::Sum, Some(col(2)), false),
                    call(AggFunc::Min, Some(col(2)), false),
                    call(AggFunc::Max, Some(col(2)), false),
                ],
            }
            .boxed(),
            keys: vec![SortKey {
                expr: col(0),
                descending: false,
                nulls_first: false,
            }],
        };
        let rows = run(&db, &plan);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][0], Value::from("a"));
        assert_eq!(
            ints(&[rows[0][1..].to_vec()]),
            vec![vec![Some(2), Some(2), Some(30), Some(10), Some(20)]]
        );
        assert_eq!(
            ints(&[rows[1][1..].to_vec()]),
            vec![vec![Some(2), Some(1), Some(40), Some(40), Some(40)]]
        );
        assert_eq!(rows[2][0], Value::Null, "NULLs group together, sorted last");
        // No GROUP BY over no rows: one row, count 0 and NULL sum.
        let empty = Plan::Aggregate {
            input: Plan::Filter {
                input: scan(),
                predicate: lit(false),
            }
            .boxed(),
            group_by: vec![],
            aggregates: vec![
                call(AggFunc::CountRows, None, false),
                call(AggFunc::Sum, Some(col(2)), false),
            ],
        };
        assert_eq!(ints(&run(&db, &empty)), vec![vec![Some(0), None]]);
        // count(DISTINCT dept) and avg.
        let distinct = Plan::Aggregate {
            input: scan(),
            group_by: vec![],
            aggregates: vec![
                call(AggFunc::Count, Some(col(1)), true),
                call(AggFunc::Avg, Some(col(2)), false),
            ],
        };
        assert_eq!(
            run(&db, &distinct),
            vec![vec![Value::Integer(2), Value::Real(30.0)]]
        );
    }

    #[test]
    fn sort_nulls_limit_offset_distinct() {
        let db = db();
        let sorted = |descending, nulls_first| Plan::Project {
            input: Plan::Sort {
                input: scan(),
                keys: vec![SortKey {
                    expr: col(2),
                    descending,
                    nulls_first,
                }],
            }
            .boxed(),
            exprs: vec![col(0)],
        };
        assert_eq!(
            ints(&run(&db, &sorted(false, false))).concat(),
            [1, 2, 4, 5, 3].map(Some)
        );
        assert_eq!(
            ints(&run(&db, &sorted(true, true))).concat(),
            [3, 5, 4, 2, 1].map(Some)
        );
        let page = Plan::Limit {
            input: sorted(false, false).boxed(),
            limit: Some(lit(2)),
            offset: Some(lit(1)),
        };
        assert_eq!(ints(&run(&db, &page)).concat(), [2, 4].map(Some));
        let negative = Plan::Limit {
            input: scan(),
            limit: Some(lit(-1)),
            offset: None,
        };
        let r = db.begin_read().unwrap();
        assert!(
            Executor::new(&r, &[])
                .collect(&negative)
                .unwrap_err()
                .to_string()
                .contains("LIMIT must not be negative")
        );
        let depts = Plan::Distinct {
            input: Plan::Project {
                input: scan(),
                exprs: vec![col(1)],
            }
            .boxed(),
        };
        assert_eq!(run(&db, &depts).len(), 3);
    }

    #[test]
    fn joins_and_set_operations() {
        let db = db();
        // emp e LEFT JOIN (VALUES ('a', 'alpha')) d ON e.dept = d.0
        let names = Plan::Values {
            rows: vec![vec![lit("a"), lit("alpha")]],
        };
        let join = |kind| Plan::Project {
            input: Plan::Join {
                left: scan(),
                right: names.clone().boxed(),
                kind,
                on: Some(Expr::Compare(CmpOp::Eq, col(1).boxed(), col(3).boxed())),
                right_width: 2,
            }
            .boxed(),
            exprs: vec![col(0), col(4)],
        };
        assert_eq!(run(&db, &join(JoinKind::Inner)).len(), 2);
        let left = run(&db, &join(JoinKind::Left));
        assert_eq!(left.len(), 5);
        assert_eq!(left[2], vec![Value::Integer(3), Value::Null]);

        let vals = |xs: &[i64]| Plan::Values {
            rows: xs.iter().map(|x| vec![lit(*x)]).collect(),
        };
        let set = |op, all| Plan::SetOp {
            op,
            all,
            left: vals(&[1, 1, 2, 3]).boxed(),
            right: vals(&[1, 3, 3, 4]).boxed(),
        };
        let flat = |p: Plan| ints(&run(&db, &p)).concat();
        assert_eq!(flat(set(SetOpKind::Union, true)).len(), 8);
        assert_eq!(flat(set(SetOpKind::Union, false)), [1, 2, 3, 4].map(Some));
        assert_eq!(flat(set(SetOpKind::Intersect, false)), [1, 3].map(Some));
        assert_eq!(flat(set(SetOpKind::Intersect, true)), [1, 3].map(Some));
        assert_eq!(flat(set(SetOpKind::Except, false)), [2].map(Some));
        assert_eq!(flat(set(SetOpKind::Except, true)), [1, 2].map(Some));
    }

    #[test]
    fn subqueries_scalar_exists_in_and_correlated() {
        let db = db();
        let salaries = Subquery {
            plan: Plan::Project {
                input: scan(),
                exprs: vec![col(2)],
            },
            correlated: false,
        };
        // 40 IN (salaries) is true; 41 IN (salaries) is unknown because of the NULL.
        let in_sub = |x: i64, negated| Plan::Project {
            input: Plan::Unit.boxed(),
            exprs: vec![Expr::InSubquery {
                expr: lit(x).boxed(),
                subquery: Box::new(salaries.clone()),
                negated,
            }],
        };
        assert_eq!(
            run(&db, &in_sub(40, false)),
            vec![vec![Value::Boolean(true)]]
        );
        assert_eq!(run(&db, &in_sub(41, false)), vec![vec![Value::Null]]);
        assert_eq!(run(&db, &in_sub(41, true)), vec![vec![Value::Null]]);
        // A scalar subquery with two rows is an error.
        let two = Plan::Project {
            input: Plan::Unit.boxed(),
            exprs: vec![Expr::ScalarSubquery(Box::new(salaries.clone()))],
        };
        let r = db.begin_read().unwrap();
        assert!(
            Executor::new(&r, &[])
                .collect(&two)
                .unwrap_err()
                .to_string()
                .contains("more than one row")
        );
        // Correlated: employees earning more than the average of their department.
        let dept_avg = Subquery {
            plan: Plan::Aggregate {
                input: Plan::Filter {
                    input: scan(),
                    predicate: Expr::Compare(
                        CmpOp::Eq,
                        col(1).boxed(),
                        Expr::Outer { depth: 1, index: 1 }.boxed(),
                    ),
                }
                .boxed(),
                group_by: vec![],
                aggregates: vec![AggCall {
                    func: AggFunc::Avg,
                    arg: Some(col(2)),
                    distinct: false,
                }],
            },
            correlated: true,
        };
        let above = Plan::Project {
            input: Plan::Filter {
                input: scan(),
                predicate: Expr::Compare(
                    CmpOp::Gt,
                    col(2).boxed(),
                    Expr::ScalarSubquery(Box::new(dept_avg)).boxed(),
                ),
            }
            .boxed(),
            exprs: vec![col(0)],
        };
        assert_eq!(ints(&run(&db, &above)).concat(), [2].map(Some));
        // EXISTS with a key range: is there an employee with id >= 5?
        let exists = Plan::Project {
            input: Plan::Unit.boxed(),
            exprs: vec![Expr::Exists {
                subquery: Box::new(Subquery {
                    plan: Plan::Scan {
                        table: "emp".into(),
                        range: (Bound::Included(vec![Value::Integer(5)]), Bound::Unbounded),
                        columns: None,
                        at: None,
                    },
                    correlated: false,
                }),
                negated: false,
            }],
        };
        assert_eq!(run(&db, &exists), vec![vec![Value::Boolean(true)]]);
    }

    #[test]
    fn in_lists_between_case_coalesce_like_and_params() {
        let db = db();
        let r = db.begin_read().unwrap();
        let params = [Value::Integer(7)];
        let ex = Executor::new(&r, &params);
        let e = |expr: Expr| ex.eval(&expr, &[]).unwrap();
        assert_eq!(
            e(Expr::InList {
                expr: lit(1).boxed(),
                list: vec![lit(2), Expr::Literal(Value::Null)],
                negated: false
            }),
            Value::Null
        );
        assert_eq!(
            e(Expr::InList {
                expr: lit(2).boxed(),
                list: vec![lit(2), Expr::Literal(Value::Null)],
                negated: true
            }),
            Value::Boolean(false)
        );
        assert_eq!(
            e(Expr::InList {
                expr: Expr::Literal(Value::Null).boxed(),
                list: vec![],
                negated: false
            }),
            Value::Boolean(false)
        );
        assert_eq!(
            e(Expr::Between {
                expr: lit(5).boxed(),
                low: lit(1).boxed(),
                high: lit(5).boxed(),
                negated: false
            }),
            Value::Boolean(true)
        );
        assert_eq!(
            e(Expr::Case {
                operand: Some(lit(2).boxed()),
                branches: vec![(lit(1), lit("one")), (lit(2), lit("two"))],
                otherwise: None
            }),
            Value::from("two")
        );
        assert_eq!(
            e(Expr::Case {
                operand: None,
                branches: vec![(Expr::Literal(Value::Null), lit(1))],
                otherwise: Some(lit(0).boxed())
            }),
            Value::Integer(0)
        );
        // COALESCE stops at the first non-NULL: the division by zero after it never runs.
        let boom = Expr::Arith(ArithOp::Div, lit(1).boxed(), lit(0).boxed());
        assert_eq!(
            e(Expr::Coalesce(vec![
                Expr::Literal(Value::Null),
                lit(3),
                boom.clone()
            ])),
            Value::Integer(3)
        );
        assert!(ex.eval(&boom, &[]).is_err());
        assert_eq!(
            e(Expr::Like {
                expr: lit("hello").boxed(),
                pattern: lit("H%").boxed(),
                escape: None,
                case_insensitive: true,
                negated: false
            }),
            Value::Boolean(true)
        );
        assert_eq!(e(Expr::Param(0)), Value::Integer(7));
        assert!(
            ex.eval(&Expr::Param(1), &[])
                .unwrap_err()
                .to_string()
                .contains("$2")
        );
        // AND short-circuits on false, OR on true.
        assert_eq!(
            e(Expr::And(lit(false).boxed(), boom.clone().boxed())),
            Value::Boolean(false)
        );
        assert_eq!(
            e(Expr::Or(lit(true).boxed(), boom.boxed())),
            Value::Boolean(true)
        );
    }

    #[test]
    fn a_write_transaction_reads_its_own_writes() {
        let db = db();
        let mut w = db.begin_write().unwrap();
        w.delete("emp", &[Value::Integer(1)]).unwrap();
        let count = Plan::Aggregate {
            input: scan(),
            group_by: vec![],
            aggregates: vec![AggCall {
                func: AggFunc::CountRows,
                arg: None,
                distinct: false,
            }],
        };
        assert_eq!(
            Executor::new(&w, &[]).collect(&count).unwrap(),
            vec![vec![Value::Integer(4)]]
        );
    }
}

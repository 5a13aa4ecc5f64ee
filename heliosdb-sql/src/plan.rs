//! Bound query plans: what the binder produces from the syntax tree and the executor runs.
//!
//! Names are resolved: a column is a position in the row its operator receives, a function
//! is a built-in's entry, a table is its catalog name. Rows flow between operators as
//! `Vec<Value>`; a join's row is the left row followed by the right row.

use std::ops::Bound;

use heliosdb_core::{DataType, Value};

use crate::values::{ArithOp, CmpOp, ScalarFn};

/// Bounds on a primary key or an index key; each bound is a key prefix.
pub type KeyRange = (Bound<Vec<Value>>, Bound<Vec<Value>>);

/// A point in a table's history that a read names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// A time (`AS OF TIMESTAMP`).
    Time(heliosdb_core::Hlc),
    /// Just after a commit of the change log (`AS OF TRANSACTION`), resolved when the
    /// statement runs.
    Commit(u64),
}

/// Which columns of a table a scan decodes: `None` for all, else a flag per column
/// (columns past the end count as wanted). Unwanted columns read as NULL; the pruning
/// pass (`prune.rs`) sets this from what the plan above the scan reads.
pub type Columns = Option<Vec<bool>>;

/// The whole key space.
pub fn full_range() -> KeyRange {
    (Bound::Unbounded, Bound::Unbounded)
}

/// A bound scalar expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Literal(Value),
    /// A column of the row the operator receives.
    Column(usize),
    /// A column of an enclosing query's current row, for correlated subqueries; depth 1 is
    /// the nearest enclosing query.
    Outer {
        depth: usize,
        index: usize,
    },
    /// `$n`, zero-based.
    Param(usize),
    Not(Box<Expr>),
    Negate(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    IsDistinctFrom {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<Box<Expr>>,
        case_insensitive: bool,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Cast(Box<Expr>, DataType),
    Call(&'static ScalarFn, Vec<Expr>),
    /// `COALESCE`: evaluates arguments only until one is not NULL.
    Coalesce(Vec<Expr>),
    /// A subquery giving one value (NULL for no row; more than one row is an error).
    ScalarSubquery(Box<Subquery>),
    Exists {
        subquery: Box<Subquery>,
        negated: bool,
    },
    InSubquery {
        expr: Box<Expr>,
        subquery: Box<Subquery>,
        negated: bool,
    },
}

/// A subquery inside an expression.
#[derive(Debug, Clone)]
pub struct Subquery {
    pub plan: Plan,
    /// Whether it reads an enclosing row (`Expr::Outer`); uncorrelated ones run once.
    pub correlated: bool,
}

impl Expr {
    pub fn boxed(self) -> Box<Expr> {
        Box::new(self)
    }

    /// The operands of a chain of ANDs (the expression itself if it is not an AND).
    pub fn conjuncts(&self) -> Vec<&Expr> {
        fn walk<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
            match e {
                Expr::And(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                other => out.push(other),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// The `(left column, right column)` pairs of conjuncts `left = right` in a join
    /// condition over a row whose first `left_width` columns come from the left side
    /// (right columns counted from the right side's start).
    pub fn equi_pairs(&self, left_width: usize) -> Vec<(usize, usize)> {
        self.conjuncts()
            .into_iter()
            .filter_map(|p| match p {
                Expr::Compare(CmpOp::Eq, a, b) => match (a.as_ref(), b.as_ref()) {
                    (Expr::Column(x), Expr::Column(y)) | (Expr::Column(y), Expr::Column(x))
                        if *x < left_width && *y >= left_width =>
                    {
                        Some((*x, *y - left_width))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// `count(*)`: rows, NULL or not.
    CountRows,
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

/// An aggregate call: its function, its argument (none for `count(*)`), DISTINCT.
#[derive(Debug, Clone)]
pub struct AggCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    pub distinct: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

/// One key of ORDER BY.
#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: bool,
}

/// A bound query plan.
#[derive(Debug, Clone)]
pub enum Plan {
    /// One row of no columns: `SELECT 1` reads from this.
    Unit,
    /// Literal rows (`VALUES`).
    Values {
        rows: Vec<Vec<Expr>>,
    },
    /// Rows of a table in primary-key order, within `range`; with `at`, as they were then.
    Scan {
        table: String,
        range: KeyRange,
        columns: Columns,
        at: Option<AsOf>,
    },
    /// `t VERSIONS BETWEEN from AND to`: every version of the rows of `table` valid at some
    /// time in the window, and its deletes, each row followed by valid_from, valid_to and
    /// the operation.
    Versions {
        table: String,
        from: AsOf,
        to: AsOf,
    },
    /// Rows of a table in the order of one of its indexes, within `range`.
    IndexScan {
        table: String,
        index: String,
        range: KeyRange,
        columns: Columns,
    },
    /// `ORDER BY col <op> query LIMIT k` over one table: its rows in ascending distance
    /// from `query`, at most `limit + offset` of them, each passing `filter`. With
    /// `index`, an HNSW index answers (asking it for more candidates while a selective
    /// filter rejects them, and scanning exactly when that stops paying); without, an
    /// exact scan keeps the nearest rows in a bounded heap.
    VectorSearch {
        table: String,
        /// The vector column's position.
        column: usize,
        /// heliosdb-vector's metric code (see `vector::metric_code`).
        metric: u8,
        index: Option<String>,
        /// The index's default; `SET hnsw.ef_search` overrides it.
        ef_search: u32,
        query: Expr,
        limit: Expr,
        offset: Option<Expr>,
        filter: Option<Expr>,
        columns: Columns,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    /// Nested-loop join; the right side is read once. `on` sees the joined row.
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        on: Option<Expr>,
        right_width: usize,
    },
    /// A join that looks its right rows up by key: for each left row, the rows of `table`
    /// whose index (the primary key for `None`) starts with the left row's `left_key`
    /// value, kept if `right_filter` holds. With many left rows it hashes the whole right
    /// table instead, as `Join` does.
    IndexJoin {
        left: Box<Plan>,
        table: String,
        index: Option<String>,
        left_key: usize,
        key_type: DataType,
        right_filter: Option<Expr>,
        kind: JoinKind,
        on: Option<Expr>,
        right_width: usize,
    },
    /// Output: the group-by values, then one value per aggregate. Without GROUP BY there is
    /// exactly one output row, even for no input.
    Aggregate {
        input: Box<Plan>,
        group_by: Vec<Expr>,
        aggregates: Vec<AggCall>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    Distinct {
        input: Box<Plan>,
    },
    SetOp {
        op: SetOpKind,
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
    },
}

impl Plan {
    pub fn boxed(self) -> Box<Plan> {
        Box::new(self)
    }
}

//! The binder: turns a query's syntax tree into a [`Plan`], resolving names against the
//! catalog and checking what PostgreSQL checks at this stage (unknown columns, ambiguous
//! names, aggregates in the wrong place, set operations of different widths).
//!
//! Scopes: a FROM clause builds a row whose columns are the FROM items' columns in order;
//! a name resolves there first, then in the enclosing queries' rows (a correlated
//! reference, [`Expr::Outer`]).

use std::collections::HashMap;
use std::ops::Bound;

use heliosdb_core::{Catalog, DataType, Value};

use crate::ast::{
    self, BinaryOp, ExprKind, Literal, SelectItem, SetExpr, Span, TableRef, TypeKind, UnaryOp,
};
use crate::plan::{
    AggCall, AggFunc, AsOf, Expr, JoinKind, KeyRange, Plan, SetOpKind, SortKey, Subquery,
    full_range,
};
use crate::values::{self, ArithOp, CmpOp};

/// A name or type error, pointing at the text it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct BindError {
    pub message: String,
    pub span: Span,
}

pub type Result<T, E = BindError> = std::result::Result<T, E>;

fn err<T>(span: Span, message: impl Into<String>) -> Result<T> {
    Err(BindError {
        message: message.into(),
        span,
    })
}

/// A column visible in a scope.
#[derive(Debug, Clone)]
pub struct ScopeColumn {
    /// The table (or alias) it belongs to.
    pub table: Option<String>,
    pub name: String,
    /// `None` when unknown (a NULL literal, a parameter).
    pub ty: Option<DataType>,
}

/// The columns of the row an expression is evaluated against.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
}

/// An output column of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub ty: Option<DataType>,
}

/// A bound query: its plan and the columns it produces.
#[derive(Debug, Clone)]
pub struct BoundQuery {
    pub plan: Plan,
    pub columns: Vec<OutputColumn>,
}

/// What a bound expression computes and what type it has.
struct Typed {
    expr: Expr,
    ty: Option<DataType>,
}

/// Aggregation state while binding a grouped SELECT: expressions after grouping refer to
/// the group keys and aggregate results by position.
struct Grouping {
    /// GROUP BY expressions by their SQL text, with their position.
    keys: HashMap<String, (usize, Option<DataType>)>,
    /// GROUP BY keys that are plain columns, by the column's place in the FROM row, so
    /// that `cor0.col2` and `col2` are the same key.
    key_columns: HashMap<usize, (usize, Option<DataType>)>,
    /// Aggregate calls found so far, by their SQL text.
    calls: Vec<(String, AggCall, Option<DataType>)>,
    key_count: usize,
}

/// Binds queries against one catalog.
pub struct Binder<'c> {
    catalog: &'c Catalog,
    /// Enclosing queries' scopes, innermost last.
    outer: Vec<Scope>,
    /// Whether a reference reached into `outer` while binding the current subquery, per
    /// subquery nesting level.
    correlated: Vec<bool>,
    /// Common table expressions in force, innermost last.
    ctes: Vec<HashMap<String, BoundQuery>>,
    /// While binding what a grouped SELECT computes after grouping.
    grouping: Option<Grouping>,
    /// Views of the catalog, read on first use.
    views: Option<crate::views::Views>,
    /// Views being expanded, to refuse a view that refers to itself.
    expanding: Vec<String>,
    /// The statement's parameter values, when known: plans are bound per execution, so a
    /// parameter binds as its value and key ranges and folding can use it.
    params: Vec<Value>,
    /// Read-only tables that layers above SQL provide (e.g. sync's conflicts).
    system: Option<&'c crate::system::SystemTables>,
}

fn core_type(t: &ast::DataType) -> Result<DataType> {
    Ok(match t.kind {
        TypeKind::SmallInt | TypeKind::Integer | TypeKind::BigInt => DataType::Integer,
        TypeKind::Real | TypeKind::Double | TypeKind::Numeric { .. } => DataType::Real,
        TypeKind::Text | TypeKind::Varchar(_) | TypeKind::Char(_) => DataType::Text,
        TypeKind::Blob => DataType::Blob,
        TypeKind::Boolean => DataType::Boolean,
        TypeKind::Timestamp | TypeKind::TimestampTz => DataType::Timestamp,
        TypeKind::Vector(Some(n)) if n > 0 => DataType::Vector(n),
        TypeKind::Vector(_) => return err(t.span, "a vector type needs its dimension: VECTOR(n)"),
    })
}

/// The SQL data type for a type name, as columns and casts use it.
pub fn data_type(t: &ast::DataType) -> Result<DataType> {
    core_type(t)
}

fn literal(l: &Literal, span: Span) -> Result<Typed> {
    let (v, ty) = match l {
        Literal::Null => (Value::Null, None),
        Literal::Boolean(b) => (Value::Boolean(*b), Some(DataType::Boolean)),
        Literal::Integer(i) => (Value::Integer(*i), Some(DataType::Integer)),
        Literal::Numeric(s) => match s.parse::<f64>() {
            Ok(r) if r.is_finite() => (Value::Real(r), Some(DataType::Real)),
            _ => return err(span, format!("numeric literal {s} is out of range")),
        },
        Literal::String(s) => (Value::Text(s.clone()), Some(DataType::Text)),
    };
    Ok(Typed {
        expr: Expr::Literal(v),
        ty,
    })
}

fn is_numeric(ty: Option<DataType>) -> bool {
    matches!(ty, None | Some(DataType::Integer | DataType::Real))
}

/// The result type of arithmetic: REAL wins, otherwise INTEGER.
fn arith_type(a: Option<DataType>, b: Option<DataType>) -> Option<DataType> {
    match (a, b) {
        (Some(DataType::Real), _) | (_, Some(DataType::Real)) => Some(DataType::Real),
        (Some(DataType::Integer), _) | (_, Some(DataType::Integer)) => Some(DataType::Integer),
        _ => None,
    }
}

fn agg_func(name: &str) -> Option<AggFunc> {
    Some(match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        _ => return None,
    })
}

/// Whether an expression contains an aggregate call (not looking into subqueries).
fn has_aggregate(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Function(f) => {
            agg_func(&f.name.value).is_some()
                || matches!(&f.args, ast::FunctionArgs::List(args) if args.iter().any(has_aggregate))
        }
        ExprKind::Unary { expr, .. }
        | ExprKind::IsNull { expr, .. }
        | ExprKind::IsTruth { expr, .. }
        | ExprKind::Cast { expr, .. }
        | ExprKind::InSubquery { expr, .. } => has_aggregate(expr),
        ExprKind::Binary { left, right, .. } | ExprKind::IsDistinctFrom { left, right, .. } => {
            has_aggregate(left) || has_aggregate(right)
        }
        ExprKind::Between {
            expr, low, high, ..
        } => has_aggregate(expr) || has_aggregate(low) || has_aggregate(high),
        ExprKind::InList { expr, list, .. } => {
            has_aggregate(expr) || list.iter().any(has_aggregate)
        }
        ExprKind::Like {
            expr,
            pattern,
            escape,
            ..
        } => {
            has_aggregate(expr)
                || has_aggregate(pattern)
                || escape.as_deref().is_some_and(has_aggregate)
        }
        ExprKind::Case {
            operand,
            branches,
            else_result,
        } => {
            operand.as_deref().is_some_and(has_aggregate)
                || branches
                    .iter()
                    .any(|(w, t)| has_aggregate(w) || has_aggregate(t))
                || else_result.as_deref().is_some_and(has_aggregate)
        }
        ExprKind::Literal(_)
        | ExprKind::TypedString { .. }
        | ExprKind::Column { .. }
        | ExprKind::Parameter(_)
        | ExprKind::Subquery(_)
        | ExprKind::Exists(_)
        | ExprKind::Default => false,
    }
}

impl<'c> Binder<'c> {
    pub fn new(catalog: &'c Catalog) -> Self {
        Binder {
            catalog,
            outer: Vec::new(),
            correlated: Vec::new(),
            ctes: Vec::new(),
            grouping: None,
            views: None,
            expanding: Vec::new(),
            params: Vec::new(),
            system: None,
        }
    }

    /// Resolves names that are no table or view of the catalog among `system`'s tables.
    pub fn with_system_tables(mut self, system: &'c crate::system::SystemTables) -> Self {
        self.system = Some(system);
        self
    }

    /// Binds `$n` as the value given for it (still typed as unknown, as a parameter is).
    pub fn with_params(mut self, params: &[Value]) -> Self {
        self.params = params.to_vec();
        self
    }

    /// The view called `name`, if there is one.
    fn view(&mut self, name: &str, span: Span) -> Result<Option<crate::views::View>> {
        if self.views.is_none() {
            let views = crate::views::Views::of(self.catalog).map_err(|e| BindError {
                message: e.to_string(),
                span,
            })?;
            self.views = Some(views);
        }
        Ok(self.views.as_ref().and_then(|v| v.get(name)).cloned())
    }

    /// Binds a view's query, with its column names.
    fn expand_view(&mut self, view: &crate::views::View, span: Span) -> Result<BoundQuery> {
        if self.expanding.contains(&view.name) {
            return err(
                span,
                format!("infinite recursion detected in view \"{}\"", view.name),
            );
        }
        let query = view.query().map_err(|e| BindError {
            message: e.to_string(),
            span,
        })?;
        // A view sees no enclosing query and no CTE of the query that names it.
        let outer = std::mem::take(&mut self.outer);
        let correlated = std::mem::take(&mut self.correlated);
        let ctes = std::mem::take(&mut self.ctes);
        let grouping = self.grouping.take();
        self.expanding.push(view.name.clone());
        let bound = self.query(&query);
        self.expanding.pop();
        self.outer = outer;
        self.correlated = correlated;
        self.ctes = ctes;
        self.grouping = grouping;
        let mut bound = bound?;
        for (c, name) in bound.columns.iter_mut().zip(&view.columns) {
            c.name = name.clone();
        }
        Ok(bound)
    }

    // ----------------------------------------------------------------------------------
    // Queries
    // ----------------------------------------------------------------------------------

    /// Binds a query.
    pub fn query(&mut self, q: &ast::Query) -> Result<BoundQuery> {
        let mut ctes = HashMap::new();
        for cte in &q.with {
            self.ctes.push(ctes.clone());
            let bound = self.query(&cte.query);
            self.ctes.pop();
            let mut bound = bound?;
            if !cte.columns.is_empty() {
                if cte.columns.len() > bound.columns.len() {
                    return err(
                        cte.span,
                        format!(
                            "WITH query {} has {} columns available but {} columns specified",
                            cte.name.value,
                            bound.columns.len(),
                            cte.columns.len()
                        ),
                    );
                }
                for (c, name) in bound.columns.iter_mut().zip(&cte.columns) {
                    c.name = name.value.clone();
                }
            }
            ctes.insert(cte.name.value.clone(), bound);
        }
        self.ctes.push(ctes);
        let result = self.query_body(q);
        self.ctes.pop();
        result
    }

    fn query_body(&mut self, q: &ast::Query) -> Result<BoundQuery> {
        let order_limit = !q.order_by.is_empty() || q.limit.is_some() || q.offset.is_some();
        let mut bound = match (&q.body, order_limit) {
            // A plain SELECT sorts by expressions over its FROM row, not just its output.
            (SetExpr::Select(select), _) => self.select(select, &q.order_by)?,
            (body, _) => {
                let b = self.set_expr(body)?;
                self.order_output(b, &q.order_by)?
            }
        };
        if q.limit.is_some() || q.offset.is_some() {
            let limit = q
                .limit
                .as_ref()
                .map(|e| self.constant_expr(e, "LIMIT"))
                .transpose()?;
            let offset = q
                .offset
                .as_ref()
                .map(|e| self.constant_expr(e, "OFFSET"))
                .transpose()?;
            bound.plan = Plan::Limit {
                input: bound.plan.boxed(),
                limit,
                offset,
            };
        }
        Ok(bound)
    }

    /// `name AS OF …` or `name VERSIONS BETWEEN …`: a table of the catalog read in the past.
    fn time_travel(
        &mut self,
        name: &ast::Ident,
        alias: Option<&ast::TableAlias>,
        time: &ast::TimeTravel,
        span: Span,
    ) -> Result<(Plan, Scope)> {
        let Ok(table) = self.catalog.table(&name.value) else {
            let what = if self.cte(&name.value).is_some() {
                "a WITH query"
            } else if self.view(&name.value, span)?.is_some() {
                "a view"
            } else if self.system.and_then(|s| s.get(&name.value)).is_some() {
                "a system table"
            } else {
                return err(span, format!("relation \"{}\" does not exist", name.value));
            };
            return err(
                span,
                format!(
                    "{} is {what}: AS OF and VERSIONS read the history of tables only",
                    name.value
                ),
            );
        };
        let table_name = table.name.clone();
        let mut columns: Vec<(String, Option<DataType>)> = table
            .columns
            .iter()
            .map(|c| (c.name.clone(), Some(c.data_type)))
            .collect();
        let plan = match time {
            ast::TimeTravel::AsOf(p) => Plan::Scan {
                table: table_name,
                range: full_range(),
                columns: None,
                at: Some(self.time_point(p)?),
            },
            ast::TimeTravel::Versions { from, to } => {
                let (from, to) = (self.time_point(from)?, self.time_point(to)?);
                for (n, ty) in [
                    ("valid_from", DataType::Timestamp),
                    ("valid_to", DataType::Timestamp),
                    ("operation", DataType::Text),
                ] {
                    if columns.iter().any(|(c, _)| c == n) {
                        return err(
                            span,
                            format!(
                                "{} has a column named {n}, which VERSIONS adds; rename it \
                                 to list versions",
                                name.value
                            ),
                        );
                    }
                    columns.push((n.into(), Some(ty)));
                }
                Plan::Versions {
                    table: table_name,
                    from,
                    to,
                }
            }
        };
        if let Some(a) = alias {
            rename_columns(&mut columns, &a.columns, a.name.span)?;
        }
        let label = alias.map_or(&name.value, |a| &a.name.value).clone();
        let scope = Scope {
            columns: columns
                .into_iter()
                .map(|(name, ty)| ScopeColumn {
                    table: Some(label.clone()),
                    name,
                    ty,
                })
                .collect(),
        };
        Ok((plan, scope))
    }

    /// The time or commit a time point names (a constant of the statement).
    fn time_point(&mut self, p: &ast::TimePoint) -> Result<AsOf> {
        match p {
            ast::TimePoint::Timestamp(e) => {
                let bound = self.expr(e, &Scope::default())?;
                let v = self.constant_value(&bound.expr, e.span)?;
                let v = match v {
                    Value::Timestamp(_) => v,
                    Value::Text(_) => {
                        crate::values::cast(&v, DataType::Timestamp).map_err(|why| BindError {
                            message: format!("AS OF TIMESTAMP: {why}"),
                            span: e.span,
                        })?
                    }
                    other => {
                        return err(
                            e.span,
                            format!(
                                "AS OF TIMESTAMP needs a timestamp, not {}",
                                other.type_name()
                            ),
                        );
                    }
                };
                match v {
                    Value::Timestamp(us) if us >= 0 => Ok(AsOf::Time(
                        heliosdb_core::Hlc::at_unix_ms((us / 1000) as u64),
                    )),
                    _ => err(e.span, "AS OF TIMESTAMP: times before 1970 hold no history"),
                }
            }
            ast::TimePoint::Transaction(e) => {
                let bound = self.expr(e, &Scope::default())?;
                match self.constant_value(&bound.expr, e.span)? {
                    Value::Integer(n) if n >= 1 => Ok(AsOf::Commit(n as u64)),
                    other => err(
                        e.span,
                        format!(
                            "AS OF TRANSACTION needs a commit id (a positive integer, as \
                             heliosdb_commits() lists), not {other}"
                        ),
                    ),
                }
            }
        }
    }

    /// Evaluates an expression that reads no rows (parameters are bound already).
    fn constant_value(&self, e: &Expr, span: Span) -> Result<Value> {
        crate::exec::eval_constant(e, &self.params).map_err(|why| BindError {
            message: why.to_string(),
            span,
        })
    }

    fn constant_expr(&mut self, e: &ast::Expr, what: &str) -> Result<Expr> {
        let t = self.expr(e, &Scope::default())?;
        if !is_numeric(t.ty) {
            return err(e.span, format!("argument of {what} must be an integer"));
        }
        Ok(t.expr)
    }

    fn set_expr(&mut self, body: &SetExpr) -> Result<BoundQuery> {
        match body {
            SetExpr::Select(s) => self.select(s, &[]),
            SetExpr::Query(q) => self.query(q),
            SetExpr::Values(v) => self.values(v),
            SetExpr::SetOperation {
                op,
                all,
                left,
                right,
                span,
            } => {
                let l = self.set_expr(left)?;
                let r = self.set_expr(right)?;
                if l.columns.len() != r.columns.len() {
                    let name = match op {
                        ast::SetOperator::Union => "UNION",
                        ast::SetOperator::Intersect => "INTERSECT",
                        ast::SetOperator::Except => "EXCEPT",
                    };
                    return err(
                        *span,
                        format!("each {name} query must have the same number of columns"),
                    );
                }
                let columns = l
                    .columns
                    .iter()
                    .zip(&r.columns)
                    .map(|(a, b)| OutputColumn {
                        name: a.name.clone(),
                        ty: a.ty.or(b.ty),
                    })
                    .collect();
                let op = match op {
                    ast::SetOperator::Union => SetOpKind::Union,
                    ast::SetOperator::Intersect => SetOpKind::Intersect,
                    ast::SetOperator::Except => SetOpKind::Except,
                };
                Ok(BoundQuery {
                    plan: Plan::SetOp {
                        op,
                        all: *all,
                        left: l.plan.boxed(),
                        right: r.plan.boxed(),
                    },
                    columns,
                })
            }
        }
    }

    fn values(&mut self, v: &ast::Values) -> Result<BoundQuery> {
        let width = v.rows.first().map_or(0, Vec::len);
        let mut types: Vec<Option<DataType>> = vec![None; width];
        let mut rows = Vec::with_capacity(v.rows.len());
        for row in &v.rows {
            if row.len() != width {
                return err(v.span, "VALUES lists must all be the same length");
            }
            let mut bound = Vec::with_capacity(width);
            for (i, e) in row.iter().enumerate() {
                let t = self.expr(e, &Scope::default())?;
                types[i] = types[i].or(t.ty);
                bound.push(t.expr);
            }
            rows.push(bound);
        }
        let columns = types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| OutputColumn {
                name: format!("column{}", i + 1),
                ty,
            })
            .collect();
        Ok(BoundQuery {
            plan: Plan::Values { rows },
            columns,
        })
    }

    /// ORDER BY over a query's output (set operations, VALUES): names and ordinals only.
    fn order_output(
        &mut self,
        mut b: BoundQuery,
        order_by: &[ast::OrderByItem],
    ) -> Result<BoundQuery> {
        if order_by.is_empty() {
            return Ok(b);
        }
        let scope = Scope {
            columns: b
                .columns
                .iter()
                .map(|c| ScopeColumn {
                    table: None,
                    name: c.name.clone(),
                    ty: c.ty,
                })
                .collect(),
        };
        let mut keys = Vec::with_capacity(order_by.len());
        for item in order_by {
            let expr = match self.output_ordinal(&item.expr, b.columns.len())? {
                Some(i) => Expr::Column(i),
                None => self.expr(&item.expr, &scope)?.expr,
            };
            keys.push(sort_key(expr, item));
        }
        b.plan = Plan::Sort {
            input: b.plan.boxed(),
            keys,
        };
        Ok(b)
    }

    /// `ORDER BY 2`: the output column it names, checked.
    fn output_ordinal(&self, e: &ast::Expr, width: usize) -> Result<Option<usize>> {
        match &e.kind {
            ExprKind::Literal(Literal::Integer(n)) => {
                if *n < 1 || *n as usize > width {
                    return err(
                        e.span,
                        format!("ORDER BY position {n} is not in select list"),
                    );
                }
                Ok(Some(*n as usize - 1))
            }
            _ => Ok(None),
        }
    }

    // ----------------------------------------------------------------------------------
    // FROM
    // ----------------------------------------------------------------------------------

    fn from(&mut self, from: &[TableRef]) -> Result<(Plan, Scope)> {
        let mut items = from.iter();
        let Some(first) = items.next() else {
            return Ok((Plan::Unit, Scope::default()));
        };
        let (mut plan, mut scope) = self.table_ref(first)?;
        for item in items {
            let (right, right_scope) = self.table_ref(item)?;
            plan = Plan::Join {
                left: plan.boxed(),
                right: right.boxed(),
                kind: JoinKind::Inner,
                on: None,
                right_width: right_scope.columns.len(),
            };
            scope.columns.extend(right_scope.columns);
        }
        Ok((plan, scope))
    }

    fn table_ref(&mut self, t: &TableRef) -> Result<(Plan, Scope)> {
        match t {
            TableRef::Function {
                name,
                args,
                alias,
                span,
            } => {
                let label = alias
                    .as_ref()
                    .map_or(&name.value, |a| &a.name.value)
                    .clone();
                let Some(function) = self.system.and_then(|s| s.function(&name.value)) else {
                    return err(*span, format!("function {}() does not exist", name.value));
                };
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    let bound = self.expr(a, &Scope::default())?;
                    values.push(self.constant_value(&bound.expr, a.span)?);
                }
                let rows = function.rows(&values).map_err(|why| BindError {
                    message: format!("{}(): {why}", name.value),
                    span: *span,
                })?;
                let mut columns: Vec<(String, Option<DataType>)> = function
                    .columns()
                    .into_iter()
                    .map(|(n, ty)| (n, Some(ty)))
                    .collect();
                let plan = literal_rows(rows, columns.len());
                if let Some(a) = alias {
                    rename_columns(&mut columns, &a.columns, a.name.span)?;
                }
                let scope = Scope {
                    columns: columns
                        .into_iter()
                        .map(|(name, ty)| ScopeColumn {
                            table: Some(label.clone()),
                            name,
                            ty,
                        })
                        .collect(),
                };
                Ok((plan, scope))
            }
            TableRef::Table {
                name,
                alias,
                span,
                time: Some(time),
            } => self.time_travel(name, alias.as_ref(), time, *span),
            TableRef::Table {
                name,
                alias,
                span,
                time: None,
            } => {
                let label = alias
                    .as_ref()
                    .map_or(&name.value, |a| &a.name.value)
                    .clone();
                let (plan, mut columns) = if let Some(cte) = self.cte(&name.value) {
                    let cols = cte
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), c.ty))
                        .collect::<Vec<_>>();
                    (cte.plan.clone(), cols)
                } else if self.catalog.table(&name.value).is_err()
                    && let Some(view) = self.view(&name.value, *span)?
                {
                    let bound = self.expand_view(&view, *span)?;
                    let cols = bound
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), c.ty))
                        .collect::<Vec<_>>();
                    (bound.plan, cols)
                } else if self.catalog.table(&name.value).is_err()
                    && let Some(system) = self.system.and_then(|s| s.get(&name.value))
                {
                    let rows = system.rows().map_err(|why| BindError {
                        message: format!("system table {} could not be read: {why}", name.value),
                        span: *span,
                    })?;
                    let cols = system
                        .columns()
                        .iter()
                        .map(|(n, ty)| (n.clone(), Some(*ty)))
                        .collect::<Vec<_>>();
                    (literal_rows(rows, cols.len()), cols)
                } else {
                    let table = self.catalog.table(&name.value).map_err(|_| BindError {
                        message: format!("relation \"{}\" does not exist", name.value),
                        span: *span,
                    })?;
                    let cols = table
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), Some(c.data_type)))
                        .collect();
                    (
                        Plan::Scan {
                            table: table.name.clone(),
                            range: full_range(),
                            columns: None,
                            at: None,
                        },
                        cols,
                    )
                };
                if let Some(a) = alias {
                    rename_columns(&mut columns, &a.columns, a.name.span)?;
                }
                let scope = Scope {
                    columns: columns
                        .into_iter()
                        .map(|(name, ty)| ScopeColumn {
                            table: Some(label.clone()),
                            name,
                            ty,
                        })
                        .collect(),
                };
                Ok((plan, scope))
            }
            TableRef::Subquery {
                query,
                alias,
                span: _,
            } => {
                let bound = self.query(query)?;
                let label = alias.as_ref().map(|a| a.name.value.clone());
                let mut columns: Vec<(String, Option<DataType>)> = bound
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.ty))
                    .collect();
                if let Some(a) = alias {
                    rename_columns(&mut columns, &a.columns, a.name.span)?;
                }
                let scope = Scope {
                    columns: columns
                        .into_iter()
                        .map(|(name, ty)| ScopeColumn {
                            table: label.clone(),
                            name,
                            ty,
                        })
                        .collect(),
                };
                Ok((bound.plan, scope))
            }
            TableRef::Join {
                left,
                right,
                kind,
                constraint,
                span,
            } => {
                let (lp, ls) = self.table_ref(left)?;
                let (rp, rs) = self.table_ref(right)?;
                let right_width = rs.columns.len();
                let mut scope = ls.clone();
                scope.columns.extend(rs.columns.iter().cloned());
                let kind = match kind {
                    ast::JoinKind::Inner | ast::JoinKind::Cross => JoinKind::Inner,
                    ast::JoinKind::Left => JoinKind::Left,
                    ast::JoinKind::Right | ast::JoinKind::Full => {
                        return err(
                            *span,
                            "RIGHT and FULL joins are not supported yet; swap the tables and use LEFT JOIN",
                        );
                    }
                };
                let on = match constraint {
                    ast::JoinConstraint::None => None,
                    ast::JoinConstraint::On(e) => Some(self.predicate(e, &scope, "JOIN/ON")?),
                    ast::JoinConstraint::Using(cols) => {
                        let mut on: Option<Expr> = None;
                        for c in cols {
                            let l = find_column(&ls, None, &c.value, c.span)?.ok_or_else(|| BindError {
                                message: format!("column \"{}\" specified in USING clause does not exist in left table", c.value),
                                span: c.span,
                            })?;
                            let r = find_column(&rs, None, &c.value, c.span)?.ok_or_else(|| BindError {
                                message: format!("column \"{}\" specified in USING clause does not exist in right table", c.value),
                                span: c.span,
                            })?;
                            let eq = Expr::Compare(
                                CmpOp::Eq,
                                Expr::Column(l).boxed(),
                                Expr::Column(ls.columns.len() + r).boxed(),
                            );
                            on = Some(match on {
                                Some(prev) => Expr::And(prev.boxed(), eq.boxed()),
                                None => eq,
                            });
                        }
                        on
                    }
                };
                Ok((
                    Plan::Join {
                        left: lp.boxed(),
                        right: rp.boxed(),
                        kind,
                        on,
                        right_width,
                    },
                    scope,
                ))
            }
        }
    }

    fn cte(&self, name: &str) -> Option<&BoundQuery> {
        self.ctes.iter().rev().find_map(|m| m.get(name))
    }

    // ----------------------------------------------------------------------------------
    // SELECT
    // ----------------------------------------------------------------------------------

    fn select(&mut self, s: &ast::Select, order_by: &[ast::OrderByItem]) -> Result<BoundQuery> {
        let (mut plan, scope) = match &s.selection {
            Some(w) if s.from.len() > 2 => {
                if has_aggregate(w) {
                    return err(w.span, "aggregate functions are not allowed in WHERE");
                }
                let items = s
                    .from
                    .iter()
                    .map(|t| self.table_ref(t))
                    .collect::<Result<Vec<_>>>()?;
                let mut scope = Scope::default();
                for (_, item_scope) in &items {
                    scope.columns.extend(item_scope.columns.iter().cloned());
                }
                let predicate = self.predicate(w, &scope, "WHERE")?;
                (join_ordered(self.catalog, items, predicate), scope)
            }
            Some(w) => {
                if has_aggregate(w) {
                    return err(w.span, "aggregate functions are not allowed in WHERE");
                }
                let (plan, scope) = self.from(&s.from)?;
                let predicate = self.predicate(w, &scope, "WHERE")?;
                (push_down(self.catalog, plan, predicate), scope)
            }
            None => self.from(&s.from)?,
        };

        let grouped = !s.group_by.is_empty()
            || s.having.is_some()
            || s.items
                .iter()
                .any(|i| matches!(i, SelectItem::Expr { expr, .. } if has_aggregate(expr)))
            || order_by.iter().any(|o| has_aggregate(&o.expr));

        // Expand the select list into (expression, name) pairs.
        let mut items: Vec<(&ast::Expr, String)> = Vec::new();
        let mut wildcard_cols: Vec<(usize, usize)> = Vec::new(); // (item position, scope column)
        for item in &s.items {
            match item {
                SelectItem::Expr { expr, alias } => {
                    let name = alias
                        .as_ref()
                        .map_or_else(|| output_name(expr), |a| a.value.clone());
                    items.push((expr, name));
                }
                SelectItem::Wildcard(span) | SelectItem::QualifiedWildcard(_, span) => {
                    let qualifier = match item {
                        SelectItem::QualifiedWildcard(q, _) => Some(q.value.as_str()),
                        _ => None,
                    };
                    if grouped {
                        return err(
                            *span,
                            "SELECT * with GROUP BY is not supported; list the columns",
                        );
                    }
                    let before = wildcard_cols.len();
                    for (i, c) in scope.columns.iter().enumerate() {
                        if qualifier.is_none_or(|q| c.table.as_deref() == Some(q)) {
                            wildcard_cols.push((items.len() + wildcard_cols.len() - before, i));
                        }
                    }
                    if wildcard_cols.len() == before {
                        return err(
                            *span,
                            match qualifier {
                                Some(q) => format!("missing FROM-clause entry for table \"{q}\""),
                                None => "SELECT * with no tables specified is not valid".into(),
                            },
                        );
                    }
                    // Placeholders keep positions; filled below.
                    for _ in before..wildcard_cols.len() {
                        items.push((&WILDCARD_MARK, String::new()));
                    }
                }
            }
        }

        let grouping = if grouped {
            let mut keys = HashMap::new();
            let mut key_columns = HashMap::new();
            let mut key_exprs = Vec::with_capacity(s.group_by.len());
            for (i, g) in s.group_by.iter().enumerate() {
                // GROUP BY 1 and GROUP BY alias name select-list items, as in PostgreSQL.
                let target = match &g.kind {
                    ExprKind::Literal(Literal::Integer(n)) => {
                        let n = usize::try_from(*n)
                            .ok()
                            .filter(|n| (1..=items.len()).contains(n));
                        let Some(n) = n else {
                            return err(
                                g.span,
                                format!("GROUP BY position {g} is not in select list"),
                            );
                        };
                        items[n - 1].0
                    }
                    ExprKind::Column {
                        table: None,
                        column,
                    } if find_column(&scope, None, &column.value, column.span)?.is_none() => {
                        match items.iter().find(|(_, name)| *name == column.value) {
                            Some((e, _)) => *e,
                            None => g,
                        }
                    }
                    _ => g,
                };
                if has_aggregate(target) {
                    return err(g.span, "aggregate functions are not allowed in GROUP BY");
                }
                let t = self.expr(target, &scope)?;
                keys.insert(target.to_string(), (i, t.ty));
                if let Expr::Column(c) = t.expr {
                    key_columns.entry(c).or_insert((i, t.ty));
                }
                key_exprs.push(t.expr);
            }
            self.grouping = Some(Grouping {
                keys,
                key_columns,
                calls: Vec::new(),
                key_count: s.group_by.len(),
            });
            Some(key_exprs)
        } else {
            None
        };
        let result = self.select_outputs(s, order_by, &scope, &items, &wildcard_cols);
        let grouping_state = self.grouping.take();
        let (exprs, columns, having, sort_keys, hidden) = result?;
        if let (Some(key_exprs), Some(g)) = (grouping, grouping_state) {
            let aggregates = g.calls.into_iter().map(|(_, call, _)| call).collect();
            plan = Plan::Aggregate {
                input: plan.boxed(),
                group_by: key_exprs,
                aggregates,
            };
            if let Some(h) = having {
                plan = Plan::Filter {
                    input: plan.boxed(),
                    predicate: h,
                };
            }
        }
        let width = exprs.len();
        let mut projected = exprs;
        projected.extend(hidden.iter().cloned());
        plan = Plan::Project {
            input: plan.boxed(),
            exprs: projected,
        };
        if s.distinct {
            plan = Plan::Distinct {
                input: plan.boxed(),
            };
        }
        if !sort_keys.is_empty() {
            plan = Plan::Sort {
                input: plan.boxed(),
                keys: sort_keys,
            };
        }
        if !hidden.is_empty() {
            plan = Plan::Project {
                input: plan.boxed(),
                exprs: (0..width).map(Expr::Column).collect(),
            };
        }
        Ok(BoundQuery { plan, columns })
    }

    /// The select list, HAVING and ORDER BY keys of a SELECT (over the grouped row when
    /// `self.grouping` is set).
    #[allow(clippy::type_complexity)]
    fn select_outputs(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByItem],
        scope: &Scope,
        items: &[(&ast::Expr, String)],
        wildcard_cols: &[(usize, usize)],
    ) -> Result<(
        Vec<Expr>,
        Vec<OutputColumn>,
        Option<Expr>,
        Vec<SortKey>,
        Vec<Expr>,
    )> {
        // Bind the select list (over the FROM row, or over the grouped row).
        let mut exprs = Vec::with_capacity(items.len());
        let mut columns = Vec::with_capacity(items.len());
        let mut wildcards = wildcard_cols.iter();
        for (e, name) in items {
            if std::ptr::eq(*e, &WILDCARD_MARK) {
                let Some(&(_, col)) = wildcards.next() else {
                    return err(s.span, "internal: wildcard expansion mismatch");
                };
                exprs.push(Expr::Column(col));
                columns.push(OutputColumn {
                    name: scope.columns[col].name.clone(),
                    ty: scope.columns[col].ty,
                });
                continue;
            }
            let t = self.expr(e, scope)?;
            exprs.push(t.expr);
            columns.push(OutputColumn {
                name: name.clone(),
                ty: t.ty,
            });
        }
        let having = match &s.having {
            Some(h) => {
                let t = self.expr(h, scope)?;
                if !matches!(t.ty, None | Some(DataType::Boolean)) {
                    return err(h.span, "argument of HAVING must be type boolean");
                }
                Some(t.expr)
            }
            None => None,
        };
        // ORDER BY: output ordinals and names first, then expressions over the row.
        let mut sort_keys = Vec::new();
        let mut hidden = Vec::new();
        for item in order_by {
            let position = match self.output_ordinal(&item.expr, columns.len())? {
                Some(i) => Some(i),
                None => match &item.expr.kind {
                    ExprKind::Column {
                        table: None,
                        column,
                    } => {
                        let named: Vec<usize> = columns
                            .iter()
                            .enumerate()
                            .filter(|(_, c)| c.name == column.value)
                            .map(|(i, _)| i)
                            .collect();
                        match named.as_slice() {
                            [one] => Some(*one),
                            [] => None,
                            _ => {
                                return err(
                                    column.span,
                                    format!("ORDER BY \"{}\" is ambiguous", column.value),
                                );
                            }
                        }
                    }
                    _ => None,
                },
            };
            let key_expr = match position {
                Some(i) => Expr::Column(i),
                None => {
                    if s.distinct {
                        return err(
                            item.expr.span,
                            "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                        );
                    }
                    let t = self.expr(&item.expr, scope)?;
                    hidden.push(t.expr);
                    Expr::Column(exprs.len() + hidden.len() - 1)
                }
            };
            sort_keys.push(sort_key(key_expr, item));
        }

        Ok((exprs, columns, having, sort_keys, hidden))
    }

    // ----------------------------------------------------------------------------------
    // Expressions
    // ----------------------------------------------------------------------------------

    /// A boolean condition.
    pub fn predicate(&mut self, e: &ast::Expr, scope: &Scope, clause: &str) -> Result<Expr> {
        let t = self.expr(e, scope)?;
        if !matches!(t.ty, None | Some(DataType::Boolean)) {
            return err(
                e.span,
                format!(
                    "argument of {clause} must be type boolean, not type {}",
                    type_name(t.ty)
                ),
            );
        }
        Ok(t.expr)
    }

    /// Binds a scalar expression over `scope`.
    pub fn scalar(&mut self, e: &ast::Expr, scope: &Scope) -> Result<(Expr, Option<DataType>)> {
        let t = self.expr(e, scope)?;
        Ok((t.expr, t.ty))
    }

    fn expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Typed> {
        if let Some(g) = &self.grouping {
            if let Some(&(i, ty)) = g.keys.get(&e.to_string()) {
                return Ok(Typed {
                    expr: Expr::Column(i),
                    ty,
                });
            }
            if let ExprKind::Function(f) = &e.kind
                && let Some(func) = agg_func(&f.name.value)
            {
                return self.aggregate_call(e, f, func, scope);
            }
            if let ExprKind::Column { table, column } = &e.kind {
                let qualifier = table.as_ref().map(|t| t.value.as_str());
                if let Some(at) = find_column(scope, qualifier, &column.value, column.span)? {
                    if let Some(&(i, ty)) = g.key_columns.get(&at) {
                        return Ok(Typed {
                            expr: Expr::Column(i),
                            ty,
                        });
                    }
                    let shown = match table {
                        Some(t) => format!("{}.{}", t.value, column.value),
                        None => column.value.clone(),
                    };
                    return err(
                        e.span,
                        format!(
                            "column \"{shown}\" must appear in the GROUP BY clause or be used in an aggregate function"
                        ),
                    );
                }
            }
        } else if let ExprKind::Function(f) = &e.kind
            && agg_func(&f.name.value).is_some()
        {
            return err(
                e.span,
                format!("aggregate function {}() is not allowed here", f.name.value),
            );
        }
        let span = e.span;
        let bad = |x: values::ValueError| BindError {
            message: x.to_string(),
            span,
        };
        Ok(match &e.kind {
            ExprKind::Literal(l) => literal(l, span)?,
            ExprKind::TypedString {
                data_type: t,
                value,
            } => {
                let ty = core_type(t)?;
                let v = values::cast(&Value::Text(value.clone()), ty).map_err(bad)?;
                Typed {
                    expr: Expr::Literal(v),
                    ty: Some(ty),
                }
            }
            ExprKind::Column { table, column } => self.column(scope, table.as_ref(), column)?,
            ExprKind::Parameter(n) => match (*n as usize).checked_sub(1) {
                Some(i) => Typed {
                    expr: self
                        .params
                        .get(i)
                        .map_or(Expr::Param(i), |v| Expr::Literal(v.clone())),
                    ty: None,
                },
                None => return err(span, "there is no parameter $0"),
            },
            ExprKind::Unary { op, expr } => {
                let t = self.expr(expr, scope)?;
                match op {
                    UnaryOp::Not => {
                        self.expect_bool(&t, expr.span, "NOT")?;
                        Typed {
                            expr: Expr::Not(t.expr.boxed()),
                            ty: Some(DataType::Boolean),
                        }
                    }
                    UnaryOp::Minus | UnaryOp::Plus => {
                        if !is_numeric(t.ty) {
                            let sym = if *op == UnaryOp::Minus { "-" } else { "+" };
                            return err(
                                span,
                                format!("operator does not exist: {sym} {}", type_name(t.ty)),
                            );
                        }
                        match (op, t.expr) {
                            (UnaryOp::Plus, expr) => Typed { expr, ty: t.ty },
                            // Fold `-5` so that i64::MIN and key ranges see a literal.
                            (_, Expr::Literal(v)) => Typed {
                                expr: Expr::Literal(values::negate(&v).map_err(bad)?),
                                ty: t.ty,
                            },
                            (_, other) => Typed {
                                expr: Expr::Negate(other.boxed()),
                                ty: t.ty,
                            },
                        }
                    }
                }
            }
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, span, scope)?,
            ExprKind::IsNull { expr, negated } => {
                let t = self.expr(expr, scope)?;
                Typed {
                    expr: Expr::IsNull {
                        expr: t.expr.boxed(),
                        negated: *negated,
                    },
                    ty: Some(DataType::Boolean),
                }
            }
            ExprKind::IsTruth {
                expr,
                value,
                negated,
            } => {
                let t = self.expr(expr, scope)?;
                self.expect_bool(&t, expr.span, "IS TRUE")?;
                let expr = match value {
                    Some(b) => Expr::IsDistinctFrom {
                        left: t.expr.boxed(),
                        right: Expr::Literal(Value::Boolean(*b)).boxed(),
                        negated: !negated,
                    },
                    None => Expr::IsNull {
                        expr: t.expr.boxed(),
                        negated: *negated,
                    },
                };
                Typed {
                    expr,
                    ty: Some(DataType::Boolean),
                }
            }
            ExprKind::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                let l = self.expr(left, scope)?;
                let r = self.expr(right, scope)?;
                self.comparable(&l, &r, span)?;
                Typed {
                    expr: Expr::IsDistinctFrom {
                        left: l.expr.boxed(),
                        right: r.expr.boxed(),
                        negated: *negated,
                    },
                    ty: Some(DataType::Boolean),
                }
            }
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = self.expr(expr, scope)?;
                let lo = self.expr(low, scope)?;
                let hi = self.expr(high, scope)?;
                self.comparable(&x, &lo, span)?;
                self.comparable(&x, &hi, span)?;
                Typed {
                    expr: Expr::Between {
                        expr: x.expr.boxed(),
                        low: lo.expr.boxed(),
                        high: hi.expr.boxed(),
                        negated: *negated,
                    },
                    ty: Some(DataType::Boolean),
                }
            }
            ExprKind::InList {
                expr,
                list,
                negated,
            } => {
                let x = self.expr(expr, scope)?;
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    let t = self.expr(item, scope)?;
                    self.comparable(&x, &t, item.span)?;
                    items.push(t.expr);
                }
                Typed {
                    expr: Expr::InList {
                        expr: x.expr.boxed(),
                        list: items,
                        negated: *negated,
                    },
                    ty: Some(DataType::Boolean),
                }
            }
            ExprKind::InSubquery {
                expr,
                query,
                negated,
            } => {
                let x = self.expr(expr, scope)?;
                let (subquery, columns) = self.subquery(query, scope)?;
                if columns.len() != 1 {
                    return err(query.span, "subquery has too many columns");
                }
                Typed {
                    expr: Expr::InSubquery {
                        expr: x.expr.boxed(),
                        subquery: Box::new(subquery),
                        negated: *negated,
                    },
                    ty: Some(DataType::Boolean),
                }
            }
            ExprKind::Like {
                expr,
                pattern,
                escape,
                negated,
                case_insensitive,
            } => {
                let x = self.expr(expr, scope)?;
                let p = self.expr(pattern, scope)?;
                for t in [&x, &p] {
                    if !matches!(t.ty, None | Some(DataType::Text)) {
                        let op = if *case_insensitive { "~~*" } else { "~~" };
                        return err(
                            span,
                            format!(
                                "operator does not exist: {} {op} {}",
                                type_name(x.ty),
                                type_name(p.ty)
                            ),
                        );
                    }
                }
                let escape = match escape {
                    Some(esc) => Some(self.expr(esc, scope)?.expr.boxed()),
                    None => None,
                };
                Typed {
                    expr: Expr::Like {
                        expr: x.expr.boxed(),
                        pattern: p.expr.boxed(),
                        escape,
                        case_insensitive: *case_insensitive,
                        negated: *negated,
                    },
                    ty: Some(DataType::Boolean),
                }
            }
            ExprKind::Cast { expr, data_type: t } => {
                let x = self.expr(expr, scope)?;
                let ty = core_type(t)?;
                match x.expr {
                    // Casting a literal happens now, so a bad literal is a bind error.
                    Expr::Literal(v) => Typed {
                        expr: Expr::Literal(values::cast(&v, ty).map_err(bad)?),
                        ty: Some(ty),
                    },
                    other => Typed {
                        expr: Expr::Cast(other.boxed(), ty),
                        ty: Some(ty),
                    },
                }
            }
            ExprKind::Case {
                operand,
                branches,
                else_result,
            } => {
                let subject = match operand {
                    Some(o) => Some(self.expr(o, scope)?),
                    None => None,
                };
                let mut ty = None;
                let mut bound = Vec::with_capacity(branches.len());
                for (when, then) in branches {
                    let w = self.expr(when, scope)?;
                    match &subject {
                        Some(sub) => self.comparable(sub, &w, when.span)?,
                        None => self.expect_bool(&w, when.span, "CASE/WHEN")?,
                    }
                    let t = self.expr(then, scope)?;
                    ty = merge_type(ty, t.ty, then.span)?;
                    bound.push((w.expr, t.expr));
                }
                let otherwise = match else_result {
                    Some(x) => {
                        let t = self.expr(x, scope)?;
                        ty = merge_type(ty, t.ty, x.span)?;
                        Some(t.expr.boxed())
                    }
                    None => None,
                };
                Typed {
                    expr: Expr::Case {
                        operand: subject.map(|s| s.expr.boxed()),
                        branches: bound,
                        otherwise,
                    },
                    ty,
                }
            }
            ExprKind::Function(f) => self.function(f, span, scope)?,
            ExprKind::Subquery(q) => {
                let (subquery, columns) = self.subquery(q, scope)?;
                if columns.len() != 1 {
                    return err(q.span, "subquery must return only one column");
                }
                Typed {
                    expr: Expr::ScalarSubquery(Box::new(subquery)),
                    ty: columns[0].ty,
                }
            }
            ExprKind::Exists(q) => {
                let (subquery, _) = self.subquery(q, scope)?;
                Typed {
                    expr: Expr::Exists {
                        subquery: Box::new(subquery),
                        negated: false,
                    },
                    ty: Some(DataType::Boolean),
                }
            }
            ExprKind::Default => return err(span, "DEFAULT is not allowed in this context"),
        })
    }

    fn expect_bool(&self, t: &Typed, span: Span, what: &str) -> Result<()> {
        if matches!(t.ty, None | Some(DataType::Boolean)) {
            return Ok(());
        }
        err(
            span,
            format!(
                "argument of {what} must be type boolean, not type {}",
                type_name(t.ty)
            ),
        )
    }

    /// PostgreSQL refuses to compare unrelated types (`1 = 'a'` where 'a' is not a number).
    fn comparable(&self, a: &Typed, b: &Typed, span: Span) -> Result<()> {
        let ok = match (a.ty, b.ty) {
            (None, _) | (_, None) => true,
            (Some(x), Some(y)) => x == y || (is_numeric(Some(x)) && is_numeric(Some(y))),
        };
        if ok {
            return Ok(());
        }
        err(
            span,
            format!(
                "operator does not exist: {} = {}",
                type_name(a.ty),
                type_name(b.ty)
            ),
        )
    }

    fn column(
        &mut self,
        scope: &Scope,
        table: Option<&ast::Ident>,
        column: &ast::Ident,
    ) -> Result<Typed> {
        let qualifier = table.map(|t| t.value.as_str());
        if let Some(i) = find_column(scope, qualifier, &column.value, column.span)? {
            return Ok(Typed {
                expr: Expr::Column(i),
                ty: scope.columns[i].ty,
            });
        }
        // Enclosing queries, nearest first: a correlated reference.
        for depth in 1..=self.outer.len() {
            let outer = &self.outer[self.outer.len() - depth];
            if let Some(i) = find_column(outer, qualifier, &column.value, column.span)? {
                let ty = outer.columns[i].ty;
                // Every subquery level between here and the scope found is correlated.
                let n = self.correlated.len();
                for flag in &mut self.correlated[n.saturating_sub(depth)..] {
                    *flag = true;
                }
                return Ok(Typed {
                    expr: Expr::Outer { depth, index: i },
                    ty,
                });
            }
        }
        let shown = match table {
            Some(t) => {
                if !scope
                    .columns
                    .iter()
                    .any(|c| c.table.as_deref() == Some(&t.value))
                    && !self.outer.iter().any(|s| {
                        s.columns
                            .iter()
                            .any(|c| c.table.as_deref() == Some(&t.value))
                    })
                {
                    return err(
                        t.span,
                        format!("missing FROM-clause entry for table \"{}\"", t.value),
                    );
                }
                format!("{}.{}", t.value, column.value)
            }
            None => column.value.clone(),
        };
        err(column.span, format!("column \"{shown}\" does not exist"))
    }

    /// Binds a subquery with `scope` as its nearest enclosing row.
    fn subquery(&mut self, q: &ast::Query, scope: &Scope) -> Result<(Subquery, Vec<OutputColumn>)> {
        let grouping = self.grouping.take();
        self.outer.push(scope.clone());
        self.correlated.push(false);
        let bound = self.query(q);
        let correlated = self.correlated.pop().unwrap_or(true);
        self.outer.pop();
        self.grouping = grouping;
        let bound = bound?;
        Ok((
            Subquery {
                plan: bound.plan,
                correlated,
            },
            bound.columns,
        ))
    }

    fn aggregate_call(
        &mut self,
        e: &ast::Expr,
        f: &ast::FunctionCall,
        func: AggFunc,
        scope: &Scope,
    ) -> Result<Typed> {
        let key = e.to_string();
        if let Some(g) = &self.grouping
            && let Some(at) = g.calls.iter().position(|(k, _, _)| *k == key)
        {
            let ty = g.calls[at].2;
            return Ok(Typed {
                expr: Expr::Column(g.key_count + at),
                ty,
            });
        }
        // Arguments are evaluated per input row: bind them without the grouping.
        let grouping = self.grouping.take();
        let arg = match &f.args {
            ast::FunctionArgs::Star if func == AggFunc::Count => Ok(None),
            ast::FunctionArgs::Star => err(
                e.span,
                format!("{}(*) is not valid; only count(*) takes *", f.name.value),
            ),
            ast::FunctionArgs::List(args) if args.len() == 1 => {
                if has_aggregate(&args[0]) {
                    err(args[0].span, "aggregate function calls cannot be nested")
                } else {
                    self.expr(&args[0], scope).map(Some)
                }
            }
            ast::FunctionArgs::List(_) => err(
                e.span,
                format!("{}() takes exactly one argument", f.name.value),
            ),
        };
        self.grouping = grouping;
        let arg = arg?;
        let arg_ty = arg.as_ref().and_then(|t| t.ty);
        let ty = match func {
            AggFunc::Count | AggFunc::CountRows => Some(DataType::Integer),
            AggFunc::Avg => Some(DataType::Real),
            AggFunc::Sum | AggFunc::Min | AggFunc::Max => arg_ty,
        };
        if matches!(func, AggFunc::Sum | AggFunc::Avg) && !is_numeric(arg_ty) {
            return err(
                e.span,
                format!(
                    "function {}({}) does not exist",
                    f.name.value,
                    type_name(arg_ty)
                ),
            );
        }
        let call = AggCall {
            func: if arg.is_none() {
                AggFunc::CountRows
            } else {
                func
            },
            arg: arg.map(|t| t.expr),
            distinct: f.distinct,
        };
        let Some(g) = &mut self.grouping else {
            return err(e.span, "internal: aggregate outside a grouped query");
        };
        g.calls.push((key, call, ty));
        Ok(Typed {
            expr: Expr::Column(g.key_count + g.calls.len() - 1),
            ty,
        })
    }

    fn function(&mut self, f: &ast::FunctionCall, span: Span, scope: &Scope) -> Result<Typed> {
        let name = f.name.value.as_str();
        let args = match &f.args {
            ast::FunctionArgs::Star => return err(span, format!("{name}(*) is not valid")),
            ast::FunctionArgs::List(args) => args,
        };
        if f.distinct {
            return err(
                span,
                format!("DISTINCT is specified, but {name} is not an aggregate function"),
            );
        }
        let mut bound = Vec::with_capacity(args.len());
        let mut types = Vec::with_capacity(args.len());
        for a in args {
            let t = self.expr(a, scope)?;
            bound.push(t.expr);
            types.push(t.ty);
        }
        if name == "coalesce" {
            if bound.is_empty() {
                return err(span, "coalesce() needs at least one argument");
            }
            let ty = types
                .iter()
                .try_fold(None, |acc, t| merge_type(acc, *t, span))?;
            return Ok(Typed {
                expr: Expr::Coalesce(bound),
                ty,
            });
        }
        let Some(func) = values::scalar_function(name) else {
            return err(f.name.span, format!("function {name}() does not exist"));
        };
        if !(func.min_args..=func.max_args).contains(&bound.len()) {
            return err(
                span,
                format!(
                    "function {name}() takes {} to {} arguments, not {}",
                    func.min_args,
                    func.max_args,
                    bound.len()
                ),
            );
        }
        let ty = function_type(name, &types);
        Ok(Typed {
            expr: Expr::Call(func, bound),
            ty,
        })
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        left: &ast::Expr,
        right: &ast::Expr,
        span: Span,
        scope: &Scope,
    ) -> Result<Typed> {
        let l = self.expr(left, scope)?;
        let r = self.expr(right, scope)?;
        let boolean = Some(DataType::Boolean);
        let compare = |cmp: CmpOp, me: &Self| -> Result<Typed> {
            me.comparable(&l, &r, span)?;
            Ok(Typed {
                expr: Expr::Compare(cmp, l.expr.clone().boxed(), r.expr.clone().boxed()),
                ty: boolean,
            })
        };
        let arith = |a: ArithOp| -> Result<Typed> {
            if !is_numeric(l.ty) || !is_numeric(r.ty) {
                return err(
                    span,
                    format!(
                        "operator does not exist: {} {} {}",
                        type_name(l.ty),
                        op.as_str(),
                        type_name(r.ty)
                    ),
                );
            }
            Ok(Typed {
                expr: Expr::Arith(a, l.expr.clone().boxed(), r.expr.clone().boxed()),
                ty: arith_type(l.ty, r.ty),
            })
        };
        Ok(match op {
            BinaryOp::And | BinaryOp::Or => {
                self.expect_bool(&l, left.span, op.as_str())?;
                self.expect_bool(&r, right.span, op.as_str())?;
                let expr = if op == BinaryOp::And {
                    Expr::And(l.expr.boxed(), r.expr.boxed())
                } else {
                    Expr::Or(l.expr.boxed(), r.expr.boxed())
                };
                Typed { expr, ty: boolean }
            }
            BinaryOp::Eq => compare(CmpOp::Eq, self)?,
            BinaryOp::NotEq => compare(CmpOp::NotEq, self)?,
            BinaryOp::Lt => compare(CmpOp::Lt, self)?,
            BinaryOp::LtEq => compare(CmpOp::LtEq, self)?,
            BinaryOp::Gt => compare(CmpOp::Gt, self)?,
            BinaryOp::GtEq => compare(CmpOp::GtEq, self)?,
            BinaryOp::Plus => arith(ArithOp::Add)?,
            BinaryOp::Minus => arith(ArithOp::Sub)?,
            BinaryOp::Multiply => arith(ArithOp::Mul)?,
            BinaryOp::Divide => arith(ArithOp::Div)?,
            BinaryOp::Modulo => arith(ArithOp::Rem)?,
            BinaryOp::Power => {
                let Some(power) = values::scalar_function("power") else {
                    return err(span, "internal: power() missing");
                };
                arith(ArithOp::Mul)?;
                Typed {
                    expr: Expr::Call(power, vec![l.expr, r.expr]),
                    ty: Some(DataType::Real),
                }
            }
            BinaryOp::Concat => Typed {
                expr: Expr::Concat(l.expr.boxed(), r.expr.boxed()),
                ty: Some(DataType::Text),
            },
            BinaryOp::L2Distance | BinaryOp::CosineDistance | BinaryOp::NegativeInnerProduct => {
                let name = match op {
                    BinaryOp::L2Distance => "l2_distance",
                    BinaryOp::CosineDistance => "cosine_distance",
                    _ => "vector_negative_inner_product",
                };
                for side in [l.ty, r.ty] {
                    if !matches!(
                        side,
                        None | Some(DataType::Vector(_)) | Some(DataType::Text)
                    ) {
                        return err(
                            span,
                            format!(
                                "operator does not exist: {} {} {}",
                                type_name(l.ty),
                                op.as_str(),
                                type_name(r.ty)
                            ),
                        );
                    }
                }
                if let (Some(DataType::Vector(a)), Some(DataType::Vector(b))) = (l.ty, r.ty)
                    && a != b
                {
                    return err(span, format!("different vector dimensions {a} and {b}"));
                }
                let Some(f) = values::scalar_function(name) else {
                    return err(span, format!("internal: {name}() missing"));
                };
                Typed {
                    expr: Expr::Call(f, vec![l.expr, r.expr]),
                    ty: Some(DataType::Real),
                }
            }
            BinaryOp::BitAnd
            | BinaryOp::BitOr
            | BinaryOp::BitXor
            | BinaryOp::ShiftLeft
            | BinaryOp::ShiftRight => {
                return err(span, format!("operator {} is not supported", op.as_str()));
            }
        })
    }
}

/// The result type of a built-in function, as far as it is known at bind time.
fn function_type(name: &str, args: &[Option<DataType>]) -> Option<DataType> {
    let first = args.first().copied().flatten();
    match name {
        "length" | "char_length" | "octet_length" | "strpos" => Some(DataType::Integer),
        "abs" | "round" | "ceil" | "ceiling" | "floor" | "sign" | "mod" | "greatest" | "least"
        | "nullif" => first,
        "sqrt" | "power" | "pow" | "exp" | "ln" | "log" | "pi" => Some(DataType::Real),
        "l2_distance"
        | "cosine_distance"
        | "inner_product"
        | "vector_negative_inner_product"
        | "vector_norm" => Some(DataType::Real),
        "vector_dims" => Some(DataType::Integer),
        "date_trunc" | "to_timestamp" | "now" | "current_timestamp" => Some(DataType::Timestamp),
        "date_part" => None,
        _ => Some(DataType::Text),
    }
}

/// The common type of CASE branches and COALESCE arguments.
fn merge_type(a: Option<DataType>, b: Option<DataType>, span: Span) -> Result<Option<DataType>> {
    Ok(match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) if x == y => Some(x),
        (Some(x), Some(y)) if is_numeric(Some(x)) && is_numeric(Some(y)) => Some(DataType::Real),
        (Some(x), Some(y)) => return err(span, format!("types {x} and {y} cannot be matched")),
    })
}

fn type_name(ty: Option<DataType>) -> String {
    ty.map_or_else(|| "unknown".into(), |t| t.to_string().to_lowercase())
}

/// The position of `name` (in `table` when qualified) in `scope`; two matches is an error.
fn find_column(
    scope: &Scope,
    table: Option<&str>,
    name: &str,
    span: Span,
) -> Result<Option<usize>> {
    let mut found = None;
    for (i, c) in scope.columns.iter().enumerate() {
        if c.name == name && table.is_none_or(|t| c.table.as_deref() == Some(t)) {
            if found.is_some() {
                return err(span, format!("column reference \"{name}\" is ambiguous"));
            }
            found = Some(i);
        }
    }
    Ok(found)
}

fn rename_columns(
    columns: &mut [(String, Option<DataType>)],
    names: &[ast::Ident],
    span: Span,
) -> Result<()> {
    if names.len() > columns.len() {
        return err(
            span,
            format!(
                "table has {} columns available but {} columns specified",
                columns.len(),
                names.len()
            ),
        );
    }
    for (c, n) in columns.iter_mut().zip(names) {
        c.0 = n.value.clone();
    }
    Ok(())
}

/// The name PostgreSQL gives an unaliased select-list item.
fn output_name(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Column { column, .. } => column.value.clone(),
        ExprKind::Function(f) => f.name.value.clone(),
        ExprKind::Cast { expr, .. } => match &expr.kind {
            ExprKind::Column { column, .. } => column.value.clone(),
            _ => "?column?".into(),
        },
        ExprKind::Case { .. } => "case".into(),
        ExprKind::Exists(_) => "exists".into(),
        _ => "?column?".into(),
    }
}

fn sort_key(expr: Expr, item: &ast::OrderByItem) -> SortKey {
    let descending = item.asc == Some(false);
    // PostgreSQL: NULLs sort as if larger than everything, unless told otherwise.
    let nulls_first = item.nulls_first.unwrap_or(descending);
    SortKey {
        expr,
        descending,
        nulls_first,
    }
}

/// Filters `plan` by `predicate`, pushing each conjunct as deep as it can go: into the
/// side of an inner join whose columns it uses, into the join's condition when it uses
/// both, and into a table scan's primary-key range. Without this a comma join of eight
/// tables would build their whole cross product before filtering it.
fn push_down(catalog: &Catalog, plan: Plan, predicate: Expr) -> Plan {
    let parts = predicate.conjuncts();
    let parts = parts.into_iter().cloned().collect();
    push_filter(catalog, plan, parts)
}

fn and_all(parts: Vec<Expr>) -> Option<Expr> {
    parts
        .into_iter()
        .reduce(|a, b| Expr::And(a.boxed(), b.boxed()))
}

/// The columns of the current row an expression reads; `None` if it holds a subquery or
/// an outer reference, which must stay where the whole row is.
pub(crate) fn columns_read(e: &Expr, out: &mut Vec<usize>) -> Option<()> {
    match e {
        Expr::Column(i) => out.push(*i),
        Expr::Literal(_) | Expr::Param(_) => {}
        Expr::Outer { .. }
        | Expr::ScalarSubquery(_)
        | Expr::Exists { .. }
        | Expr::InSubquery { .. } => {
            return None;
        }
        Expr::Not(a) | Expr::Negate(a) | Expr::IsNull { expr: a, .. } | Expr::Cast(a, _) => {
            columns_read(a, out)?
        }
        Expr::And(a, b)
        | Expr::Or(a, b)
        | Expr::Compare(_, a, b)
        | Expr::Arith(_, a, b)
        | Expr::Concat(a, b)
        | Expr::IsDistinctFrom {
            left: a, right: b, ..
        } => {
            columns_read(a, out)?;
            columns_read(b, out)?;
        }
        Expr::Like {
            expr,
            pattern,
            escape,
            ..
        } => {
            columns_read(expr, out)?;
            columns_read(pattern, out)?;
            if let Some(x) = escape {
                columns_read(x, out)?;
            }
        }
        Expr::InList { expr, list, .. } => {
            columns_read(expr, out)?;
            for x in list {
                columns_read(x, out)?;
            }
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            columns_read(expr, out)?;
            columns_read(low, out)?;
            columns_read(high, out)?;
        }
        Expr::Case {
            operand,
            branches,
            otherwise,
        } => {
            if let Some(o) = operand {
                columns_read(o, out)?;
            }
            for (w, t) in branches {
                columns_read(w, out)?;
                columns_read(t, out)?;
            }
            if let Some(o) = otherwise {
                columns_read(o, out)?;
            }
        }
        Expr::Call(_, args) | Expr::Coalesce(args) => {
            for x in args {
                columns_read(x, out)?;
            }
        }
    }
    Some(())
}

/// `e` with every column index `i` replaced by `to(i)` (for a conjunct moved to a join's
/// right side, or into a reordered join). Only called on expressions `columns_read`
/// accepted.
fn map_columns(e: Expr, to: &dyn Fn(usize) -> usize) -> Expr {
    let s = |x: Box<Expr>| map_columns(*x, to).boxed();
    let v = |xs: Vec<Expr>| xs.into_iter().map(|x| map_columns(x, to)).collect();
    match e {
        Expr::Column(i) => Expr::Column(to(i)),
        Expr::Not(a) => Expr::Not(s(a)),
        Expr::Negate(a) => Expr::Negate(s(a)),
        Expr::IsNull { expr, negated } => Expr::IsNull {
            expr: s(expr),
            negated,
        },
        Expr::Cast(a, ty) => Expr::Cast(s(a), ty),
        Expr::And(a, b) => Expr::And(s(a), s(b)),
        Expr::Or(a, b) => Expr::Or(s(a), s(b)),
        Expr::Compare(op, a, b) => Expr::Compare(op, s(a), s(b)),
        Expr::Arith(op, a, b) => Expr::Arith(op, s(a), s(b)),
        Expr::Concat(a, b) => Expr::Concat(s(a), s(b)),
        Expr::IsDistinctFrom {
            left,
            right,
            negated,
        } => Expr::IsDistinctFrom {
            left: s(left),
            right: s(right),
            negated,
        },
        Expr::Like {
            expr,
            pattern,
            escape,
            case_insensitive,
            negated,
        } => Expr::Like {
            expr: s(expr),
            pattern: s(pattern),
            escape: escape.map(s),
            case_insensitive,
            negated,
        },
        Expr::InList {
            expr,
            list,
            negated,
        } => Expr::InList {
            expr: s(expr),
            list: v(list),
            negated,
        },
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => Expr::Between {
            expr: s(expr),
            low: s(low),
            high: s(high),
            negated,
        },
        Expr::Case {
            operand,
            branches,
            otherwise,
        } => Expr::Case {
            operand: operand.map(s),
            branches: branches
                .into_iter()
                .map(|(w, t)| (map_columns(w, to), map_columns(t, to)))
                .collect(),
            otherwise: otherwise.map(s),
        },
        Expr::Call(f, args) => Expr::Call(f, v(args)),
        Expr::Coalesce(args) => Expr::Coalesce(v(args)),
        other => other,
    }
}

/// How many columns a plan's rows have.
pub(crate) fn plan_width(catalog: &Catalog, plan: &Plan) -> Option<usize> {
    Some(match plan {
        Plan::Unit => 0,
        Plan::Values { rows } => rows.first().map_or(0, Vec::len),
        Plan::Scan { table, .. }
        | Plan::IndexScan { table, .. }
        | Plan::VectorSearch { table, .. } => catalog.table(table).ok()?.columns.len(),
        Plan::Versions { table, .. } => catalog.table(table).ok()?.columns.len() + 3,
        Plan::Filter { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input } => plan_width(catalog, input)?,
        Plan::Project { exprs, .. } => exprs.len(),
        Plan::Join {
            left, right_width, ..
        }
        | Plan::IndexJoin {
            left, right_width, ..
        } => plan_width(catalog, left)? + right_width,
        Plan::Aggregate {
            group_by,
            aggregates,
            ..
        } => group_by.len() + aggregates.len(),
        Plan::SetOp { left, .. } => plan_width(catalog, left)?,
    })
}

/// Joins comma-separated FROM items in an order that keeps intermediate results small:
/// first the item with the most conditions of its own, then, repeatedly, the first item
/// that a WHERE condition connects to those already joined. The rows come out in the
/// written order of columns (a projection restores it), so binding is unaffected.
fn join_ordered(catalog: &Catalog, items: Vec<(Plan, Scope)>, predicate: Expr) -> Plan {
    let widths: Vec<usize> = items.iter().map(|(_, s)| s.columns.len()).collect();
    let offsets: Vec<usize> = widths
        .iter()
        .scan(0, |at, w| {
            let start = *at;
            *at += w;
            Some(start)
        })
        .collect();
    let total: usize = widths.iter().sum();
    let item_of = |col: usize| offsets.iter().rposition(|&o| o <= col).unwrap_or(0);
    let parts = predicate.conjuncts();
    // Each pushable conjunct with the set of items it reads; the rest stay on top.
    let mut pushable: Vec<(Expr, Vec<usize>)> = Vec::new();
    let mut above = Vec::new();
    for p in parts {
        let mut cols = Vec::new();
        match columns_read(p, &mut cols) {
            Some(()) => {
                let mut touched: Vec<usize> = cols.iter().map(|&c| item_of(c)).collect();
                touched.sort_unstable();
                touched.dedup();
                pushable.push((p.clone(), touched));
            }
            None => above.push(p.clone()),
        }
    }
    let own = |i: usize| pushable.iter().filter(|(_, t)| t.as_slice() == [i]).count();
    let first = (0..items.len())
        .max_by_key(|&i| (own(i), std::cmp::Reverse(i)))
        .unwrap_or(0);
    let mut order = vec![first];
    while order.len() < items.len() {
        let connected = (0..items.len())
            .filter(|i| !order.contains(i))
            .find(|&cand| {
                pushable.iter().any(|(_, t)| {
                    t.contains(&cand)
                        && t.iter().any(|x| order.contains(x))
                        && t.iter().all(|x| *x == cand || order.contains(x))
                })
            });
        let next = connected.or_else(|| (0..items.len()).find(|i| !order.contains(i)));
        match next {
            Some(n) => order.push(n),
            None => break,
        }
    }
    // Where each original column lands in the reordered row.
    let mut new_pos = vec![0usize; total];
    let mut at = 0;
    for &i in &order {
        for c in 0..widths[i] {
            new_pos[offsets[i] + c] = at + c;
        }
        at += widths[i];
    }
    let mut plans: Vec<Option<Plan>> = items.into_iter().map(|(p, _)| Some(p)).collect();
    let mut joined: Option<Plan> = None;
    for &i in &order {
        let Some(next) = plans[i].take() else {
            continue;
        };
        joined = Some(match joined {
            None => next,
            Some(left) => Plan::Join {
                left: left.boxed(),
                right: next.boxed(),
                kind: JoinKind::Inner,
                on: None,
                right_width: widths[i],
            },
        });
    }
    let remapped = pushable
        .into_iter()
        .map(|(p, _)| map_columns(p, &|c| new_pos[c]))
        .collect();
    let plan = push_filter(catalog, joined.unwrap_or(Plan::Unit), remapped);
    let restored = Plan::Project {
        input: plan.boxed(),
        exprs: (0..total).map(|c| Expr::Column(new_pos[c])).collect(),
    };
    match and_all(above) {
        Some(predicate) => Plan::Filter {
            input: restored.boxed(),
            predicate,
        },
        None => restored,
    }
}

/// A join whose condition equates a left column with the first column of an index (or
/// the whole primary key) of a plainly scanned right table becomes an `IndexJoin`;
/// anything else stays a `Join`.
fn index_join(
    catalog: &Catalog,
    left: Box<Plan>,
    right: Box<Plan>,
    kind: JoinKind,
    on: Option<Expr>,
    right_width: usize,
    left_width: usize,
) -> Plan {
    let plain = |left: Box<Plan>, right: Box<Plan>, on: Option<Expr>| Plan::Join {
        left,
        right,
        kind,
        on,
        right_width,
    };
    let (table, right_filter) = match right.as_ref() {
        Plan::Scan {
            table,
            range: (Bound::Unbounded, Bound::Unbounded),
            at: None,
            ..
        } => (table.clone(), None),
        Plan::Filter { input, predicate } => match input.as_ref() {
            Plan::Scan {
                table,
                range: (Bound::Unbounded, Bound::Unbounded),
                at: None,
                ..
            } => (table.clone(), Some(predicate.clone())),
            _ => return plain(left, right, on),
        },
        _ => return plain(left, right, on),
    };
    let Ok(schema) = catalog.table(&table) else {
        return plain(left, right, on);
    };
    let pairs = on
        .as_ref()
        .map(|e| e.equi_pairs(left_width))
        .unwrap_or_default();
    for (left_key, right_col) in pairs {
        let key_type = schema.columns[right_col].data_type;
        let index = if schema.primary_key == [right_col] {
            Some(None)
        } else {
            schema
                .indexes
                .iter()
                .find(|i| i.columns.first() == Some(&right_col))
                .map(|i| Some(i.name.clone()))
        };
        if let Some(index) = index {
            return Plan::IndexJoin {
                left,
                table,
                index,
                left_key,
                key_type,
                right_filter,
                kind,
                on,
                right_width,
            };
        }
    }
    plain(left, right, on)
}

fn push_filter(catalog: &Catalog, plan: Plan, parts: Vec<Expr>) -> Plan {
    if parts.is_empty() {
        return plan;
    }
    match plan {
        Plan::Join {
            left,
            right,
            kind,
            on,
            right_width,
        } => {
            let Some(left_width) = plan_width(catalog, &left) else {
                let join = Plan::Join {
                    left,
                    right,
                    kind,
                    on,
                    right_width,
                };
                return Plan::Filter {
                    input: join.boxed(),
                    predicate: and_all(parts).unwrap_or(Expr::Literal(Value::Boolean(true))),
                };
            };
            let (mut to_left, mut to_right, mut both, mut above) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for p in parts {
                let mut cols = Vec::new();
                match columns_read(&p, &mut cols) {
                    Some(()) if cols.iter().all(|&c| c < left_width) => to_left.push(p),
                    // A LEFT join's right side and condition see rows before NULL-extension:
                    // WHERE on them must stay above the join.
                    Some(()) if kind == JoinKind::Left => above.push(p),
                    Some(()) if cols.iter().all(|&c| c >= left_width) => {
                        to_right.push(map_columns(p, &|c| c - left_width))
                    }
                    Some(()) => both.push(p),
                    None => above.push(p),
                }
            }
            let left = push_filter(catalog, *left, to_left).boxed();
            let right = push_filter(catalog, *right, to_right).boxed();
            let on = and_all(on.into_iter().chain(both).collect());
            let join = index_join(catalog, left, right, kind, on, right_width, left_width);
            match and_all(above) {
                Some(predicate) => Plan::Filter {
                    input: join.boxed(),
                    predicate,
                },
                None => join,
            }
        }
        Plan::Scan {
            table,
            range,
            columns,
            at,
        } => {
            let path = catalog.table(&table).ok().and_then(|t| {
                let refs: Vec<&Expr> = parts.iter().collect();
                if at.is_some() {
                    // Indexes hold current rows only: a read of the past ranges over keys.
                    let mut t = (**t).clone();
                    t.indexes.clear();
                    access_path(&t, &refs)
                } else {
                    access_path(t, &refs)
                }
            });
            let (scan, covered) = match path {
                Some((None, access)) => (
                    Plan::Scan {
                        table,
                        range: access.range,
                        columns,
                        at,
                    },
                    access.covered,
                ),
                Some((Some(index), access)) => (
                    Plan::IndexScan {
                        table,
                        index,
                        range: access.range,
                        columns,
                    },
                    access.covered,
                ),
                None => (
                    Plan::Scan {
                        table,
                        range,
                        columns,
                        at,
                    },
                    Vec::new(),
                ),
            };
            // What the key range enforces needs no second check.
            let rest: Vec<Expr> = parts
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !covered.contains(i))
                .map(|(_, p)| p)
                .collect();
            match and_all(rest) {
                Some(predicate) => Plan::Filter {
                    input: scan.boxed(),
                    predicate,
                },
                None => scan,
            }
        }
        other => match and_all(parts) {
            Some(predicate) => Plan::Filter {
                input: other.boxed(),
                predicate,
            },
            None => other,
        },
    }
}

/// `column op literal` (either way round), with the literal of the column's own type, so
/// that key order and value order agree.
fn column_vs_literal(e: &Expr, column: usize, ty: DataType) -> Option<(CmpOp, &Value)> {
    let Expr::Compare(op, a, b) = e else {
        return None;
    };
    match (a.as_ref(), b.as_ref()) {
        (Expr::Column(c), lit) if *c == column => literal_of(lit, ty).map(|v| (*op, v)),
        (lit, Expr::Column(c)) if *c == column => literal_of(lit, ty).map(|v| (flip(*op), v)),
        _ => None,
    }
}

/// A literal of exactly type `ty`, whose key order is therefore its value order.
fn literal_of(e: &Expr, ty: DataType) -> Option<&Value> {
    let Expr::Literal(v) = e else {
        return None;
    };
    let same_type = matches!(
        (v, ty),
        (Value::Integer(_), DataType::Integer)
            | (Value::Real(_), DataType::Real)
            | (Value::Text(_), DataType::Text)
            | (Value::Blob(_), DataType::Blob)
            | (Value::Boolean(_), DataType::Boolean)
            | (Value::Timestamp(_), DataType::Timestamp)
    );
    same_type.then_some(v)
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::LtEq => CmpOp::GtEq,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::GtEq => CmpOp::LtEq,
        other => other,
    }
}

/// A key range, how selective it is, and which conjuncts it enforces exactly (by their
/// place in `parts`), so a filter above the scan need not check them again.
struct KeyAccess {
    range: KeyRange,
    score: usize,
    covered: Vec<usize>,
}

/// The range over the key made of `columns` that `parts` imply, and how selective it
/// is: two points per leading column fixed by an equality, one for a bound on the next.
/// Bounds come from literals of the column's own type, whose value order is their key
/// order, so the range holds exactly the rows the conjuncts it came from accept.
fn range_on(
    table: &heliosdb_core::TableSchema,
    columns: &[usize],
    parts: &[&Expr],
) -> Option<KeyAccess> {
    let mut prefix = Vec::new();
    let mut covered = Vec::new();
    for &col in columns {
        let ty = table.columns[col].data_type;
        let eq = parts
            .iter()
            .enumerate()
            .find_map(|(i, p)| match column_vs_literal(p, col, ty) {
                Some((CmpOp::Eq, v)) => Some((i, v.clone())),
                _ => None,
            });
        match eq {
            Some((i, v)) => {
                prefix.push(v);
                covered.push(i);
            }
            None => break,
        }
    }
    if !prefix.is_empty() {
        return Some(KeyAccess {
            score: 2 * prefix.len(),
            range: (Bound::Included(prefix.clone()), Bound::Included(prefix)),
            covered,
        });
    }
    let first = *columns.first()?;
    let ty = table.columns[first].data_type;
    // Each bound with the conjunct that set it; a later conjunct replaces an earlier one,
    // which then stays in the filter.
    let (mut lower, mut upper) = ((Bound::Unbounded, None), (Bound::Unbounded, None));
    for (i, p) in parts.iter().enumerate() {
        match column_vs_literal(p, first, ty) {
            Some((CmpOp::Gt, v)) => lower = (Bound::Excluded(vec![v.clone()]), Some(i)),
            Some((CmpOp::GtEq, v)) => lower = (Bound::Included(vec![v.clone()]), Some(i)),
            Some((CmpOp::Lt, v)) => upper = (Bound::Excluded(vec![v.clone()]), Some(i)),
            Some((CmpOp::LtEq, v)) => upper = (Bound::Included(vec![v.clone()]), Some(i)),
            _ => {}
        }
        if let Expr::Between {
            expr,
            low,
            high,
            negated: false,
        } = p
            && matches!(expr.as_ref(), Expr::Column(c) if *c == first)
            && let (Some(lo), Some(hi)) = (literal_of(low, ty), literal_of(high, ty))
        {
            lower = (Bound::Included(vec![lo.clone()]), Some(i));
            upper = (Bound::Included(vec![hi.clone()]), Some(i));
        }
    }
    if matches!((&lower.0, &upper.0), (Bound::Unbounded, Bound::Unbounded)) {
        return None;
    }
    // NULL keys sort first: with no lower bound, the range holds NULLs that `column < x`
    // rejects, unless the column cannot be NULL.
    if matches!(lower.0, Bound::Unbounded) && table.columns[first].nullable {
        upper.1 = None;
    }
    // A BETWEEN is enforced only if it set both bounds that remain.
    let covered = match (lower.1, upper.1) {
        (Some(a), Some(b)) if a == b => vec![a],
        (a, b) => a
            .into_iter()
            .chain(b)
            .filter(|&i| !matches!(parts[i], Expr::Between { .. }))
            .collect(),
    };
    Some(KeyAccess {
        range: (lower.0, upper.0),
        score: 1,
        covered,
    })
}

/// The primary-key range `predicate` implies, if any.
pub fn key_range(table: &heliosdb_core::TableSchema, predicate: &Expr) -> Option<KeyRange> {
    if table.has_rowid() {
        return None;
    }
    let parts = predicate.conjuncts();
    range_on(table, &table.primary_key, &parts).map(|a| a.range)
}

/// How to read `table` under the conjuncts `parts`: the primary key's range or a
/// secondary index's, whichever fixes more of its key (the primary key on ties), with
/// the places in `parts` of the conjuncts the range enforces. `None`: scan everything.
fn access_path(
    table: &heliosdb_core::TableSchema,
    parts: &[&Expr],
) -> Option<(Option<String>, KeyAccess)> {
    let mut best: Option<(Option<String>, KeyAccess)> = None;
    if !table.has_rowid()
        && let Some(access) = range_on(table, &table.primary_key, parts)
    {
        best = Some((None, access));
    }
    for index in &table.indexes {
        if let Some(access) = range_on(table, &index.columns, parts)
            && best.as_ref().is_none_or(|b| access.score > b.1.score)
        {
            best = Some((Some(index.name.clone()), access));
        }
    }
    best
}

/// A marker for select-list positions filled by `*`.
static WILDCARD_MARK: ast::Expr = ast::Expr {
    kind: ExprKind::Default,
    span: Span { start: 0, end: 0 },
};

/// Literal rows of `width` columns as a plan. With no rows, one row of NULLs under a false
/// filter keeps the width known to the planner (join offsets are computed from it).
fn literal_rows(rows: Vec<Vec<Value>>, width: usize) -> Plan {
    let literal_rows: Vec<Vec<Expr>> = rows
        .into_iter()
        .map(|row| {
            let mut row: Vec<Expr> = row.into_iter().map(Expr::Literal).collect();
            row.resize(width, Expr::Literal(Value::Null));
            row
        })
        .collect();
    if literal_rows.is_empty() {
        Plan::Filter {
            input: Plan::Values {
                rows: vec![vec![Expr::Literal(Value::Null); width]],
            }
            .boxed(),
            predicate: Expr::Literal(Value::Boolean(false)),
        }
    } else {
        Plan::Values { rows: literal_rows }
    }
}

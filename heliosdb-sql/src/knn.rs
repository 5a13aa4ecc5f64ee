//! The nearest-neighbour rewrite: `SELECT ... FROM t [WHERE p] ORDER BY col <op> q LIMIT k`
//! becomes a [`Plan::VectorSearch`], which an HNSW index on `col` with `<op>`'s operator
//! class answers (or, without one, an exact scan with a bounded heap instead of a sort of
//! the whole table).
//!
//! The binder plans ORDER BY as a sort over a projection that computes the sort key, so
//! the shape looked for is `Limit(Sort([Column j]), Project(exprs, Scan | Filter(Scan)))`,
//! possibly with a projection between the limit and the sort that drops the hidden key,
//! where `exprs[j]` is a distance call between the column and a constant (a literal or a
//! parameter). The sort goes; the projection stays and reads the search's rows.

use heliosdb_core::{Catalog, DataType};

use crate::plan::{Expr, Plan};
use crate::vector;

/// Rewrites every nearest-neighbour pattern in `plan`.
pub fn rewrite(catalog: &Catalog, plan: &mut Plan) {
    match plan {
        Plan::Limit {
            input,
            limit: Some(limit),
            offset,
        } => {
            let (limit, offset) = (limit.clone(), offset.clone());
            let target: &mut Plan = match &mut **input {
                Plan::Project {
                    input: inner,
                    exprs,
                } if matches!(**inner, Plan::Sort { .. })
                    && exprs.iter().all(|e| matches!(e, Expr::Column(_))) =>
                {
                    inner
                }
                other => other,
            };
            if !try_rewrite(catalog, target, limit, offset) {
                rewrite(catalog, input);
            }
        }
        Plan::Limit { input, .. }
        | Plan::Project { input, .. }
        | Plan::Filter { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Distinct { input }
        | Plan::Aggregate { input, .. } => rewrite(catalog, input),
        Plan::Join { left, right, .. } => {
            rewrite(catalog, left);
            rewrite(catalog, right);
        }
        Plan::IndexJoin { left, .. } => rewrite(catalog, left),
        Plan::SetOp { left, right, .. } => {
            rewrite(catalog, left);
            rewrite(catalog, right);
        }
        Plan::Unit
        | Plan::Values { .. }
        | Plan::Scan { .. }
        | Plan::Versions { .. }
        | Plan::IndexScan { .. }
        | Plan::VectorSearch { .. } => {}
    }
}

fn is_constant(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) | Expr::Param(_) => true,
        Expr::Cast(inner, _) => is_constant(inner),
        _ => false,
    }
}

/// Replaces `Sort(Project(Scan|Filter(Scan)))` at `plan` when it sorts by a distance.
fn try_rewrite(catalog: &Catalog, plan: &mut Plan, limit: Expr, offset: Option<Expr>) -> bool {
    let Plan::Sort { input, keys } = plan else {
        return false;
    };
    let [key] = keys.as_slice() else {
        return false;
    };
    if key.descending {
        return false;
    }
    let Plan::Project { input: base, exprs } = &mut **input else {
        return false;
    };
    let Expr::Column(j) = key.expr else {
        return false;
    };
    let Some(Expr::Call(f, args)) = exprs.get(j) else {
        return false;
    };
    let Some(metric) = vector::metric_of_function(f.name) else {
        return false;
    };
    let (column, query) = match args.as_slice() {
        [Expr::Column(c), q] | [q, Expr::Column(c)] if is_constant(q) => (*c, q.clone()),
        _ => return false,
    };
    let (table, filter, columns) = match &**base {
        Plan::Scan {
            table,
            range: (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded),
            columns,
            at: None,
        } => (table.clone(), None, columns.clone()),
        Plan::Filter { input, predicate } => match &**input {
            Plan::Scan {
                table,
                range: (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded),
                columns,
                at: None,
            } => (table.clone(), Some(predicate.clone()), columns.clone()),
            _ => return false,
        },
        _ => return false,
    };
    let Ok(schema) = catalog.table(&table) else {
        return false;
    };
    let Some(col) = schema.columns.get(column) else {
        return false;
    };
    if !matches!(col.data_type, DataType::Vector(_)) {
        return false;
    }
    let code = vector::metric_code(metric);
    let def = vector::defs(schema).ok().and_then(|ds| {
        ds.into_iter()
            .find(|d| d.column == col.id && d.metric == code)
    });
    let search = Plan::VectorSearch {
        table,
        column,
        metric: code,
        index: def.as_ref().map(|d| d.name.clone()),
        ef_search: def.as_ref().map_or(0, |d| d.ef_search),
        query,
        limit,
        offset,
        filter,
        columns,
    };
    **base = search;
    let project = std::mem::replace(&mut **input, Plan::Unit);
    *plan = project;
    true
}

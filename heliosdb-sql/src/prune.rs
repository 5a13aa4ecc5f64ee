//! Column pruning: marks in every scan the columns that the operators above it read, so
//! the scan decodes only those (the others read as NULL and nothing reads them). A scan of
//! two integers out of a row with a long text then allocates nothing for the text.
//!
//! The pass is conservative: an expression that holds a subquery or an outer reference
//! makes its input keep every column (a correlated subquery sees the whole row), and so
//! do DISTINCT and set operations, which compare whole rows.

use heliosdb_core::Catalog;

use crate::bind::{columns_read, plan_width};
use crate::plan::{Expr, Plan};

/// Which output columns of a plan are read: `None` for all.
type Needed = Option<Vec<bool>>;

/// Sets `columns` on every scan of `plan` whose output is only partly read.
pub fn prune(catalog: &Catalog, plan: &mut Plan) {
    walk(catalog, plan, None);
}

/// Adds the columns `exprs` read to `needed`; `None` if one of them needs the whole row.
fn with_reads<'e>(needed: Needed, exprs: impl IntoIterator<Item = &'e Expr>) -> Needed {
    let mut needed = needed?;
    let mut cols = Vec::new();
    for e in exprs {
        columns_read(e, &mut cols)?;
    }
    for c in cols {
        if c >= needed.len() {
            needed.resize(c + 1, false);
        }
        needed[c] = true;
    }
    Some(needed)
}

/// Only the columns `exprs` read.
fn reads<'e>(exprs: impl IntoIterator<Item = &'e Expr>) -> Needed {
    with_reads(Some(Vec::new()), exprs)
}

fn walk(catalog: &Catalog, plan: &mut Plan, needed: Needed) {
    match plan {
        Plan::Unit | Plan::Values { .. } | Plan::Versions { .. } => {}
        Plan::Scan { table, columns, .. } | Plan::IndexScan { table, columns, .. } => {
            // Exactly one flag per column, so none past the end is decoded by default.
            let width = catalog.table(table).map(|t| t.columns.len());
            *columns = match (needed, width) {
                (Some(mut n), Ok(width)) if n.len() <= width => {
                    n.resize(width, false);
                    Some(n).filter(|n| n.contains(&false))
                }
                _ => None,
            };
        }
        Plan::VectorSearch {
            table,
            column,
            filter,
            columns,
            ..
        } => {
            // The search reads the vector column and the filter's columns itself.
            let needed = with_reads(needed, filter.iter()).map(|mut n| {
                if n.len() <= *column {
                    n.resize(*column + 1, false);
                }
                n[*column] = true;
                n
            });
            let width = catalog.table(table).map(|t| t.columns.len());
            *columns = match (needed, width) {
                (Some(mut n), Ok(width)) if n.len() <= width => {
                    n.resize(width, false);
                    Some(n).filter(|n| n.contains(&false))
                }
                _ => None,
            };
        }
        Plan::Filter { input, predicate } => {
            let needed = with_reads(needed, [&*predicate]);
            walk(catalog, input, needed);
        }
        Plan::Project { input, exprs } => walk(catalog, input, reads(exprs.iter())),
        Plan::Sort { input, keys } => {
            let needed = with_reads(needed, keys.iter().map(|k| &k.expr));
            walk(catalog, input, needed);
        }
        Plan::Limit { input, .. } => walk(catalog, input, needed),
        Plan::Aggregate {
            input,
            group_by,
            aggregates,
        } => {
            let args = aggregates.iter().filter_map(|a| a.arg.as_ref());
            walk(catalog, input, reads(group_by.iter().chain(args)));
        }
        Plan::Join {
            left, right, on, ..
        } => {
            let Some(left_width) = plan_width(catalog, left) else {
                walk(catalog, left, None);
                walk(catalog, right, None);
                return;
            };
            let (l, r) = split(with_reads(needed, on.iter()), left_width);
            walk(catalog, left, l);
            walk(catalog, right, r);
        }
        Plan::IndexJoin {
            left, left_key, on, ..
        } => {
            // The right rows are looked up whole; only the left side is pruned.
            let Some(left_width) = plan_width(catalog, left) else {
                walk(catalog, left, None);
                return;
            };
            let needed = with_reads(needed, on.iter()).map(|mut n| {
                if *left_key >= n.len() {
                    n.resize(*left_key + 1, false);
                }
                n[*left_key] = true;
                n
            });
            walk(catalog, left, split(needed, left_width).0);
        }
        Plan::Distinct { input } => walk(catalog, input, None),
        Plan::SetOp { left, right, .. } => {
            walk(catalog, left, None);
            walk(catalog, right, None);
        }
    }
}

/// A join row's needs, split into the left side's and the right side's.
fn split(needed: Needed, left_width: usize) -> (Needed, Needed) {
    match needed {
        None => (None, None),
        Some(n) => {
            let left = n.iter().take(left_width).copied().collect();
            let right = n.iter().skip(left_width).copied().collect();
            (Some(left), Some(right))
        }
    }
}

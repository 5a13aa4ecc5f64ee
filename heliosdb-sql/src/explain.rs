//! EXPLAIN: a plan as indented lines, saying how each table is read (a full scan, a
//! primary-key lookup or range, or an index).

use std::fmt::Write as _;
use std::ops::Bound;

use heliosdb_core::Value;

use crate::plan::{AggFunc, Expr, JoinKind, KeyRange, Plan, SetOpKind};
use crate::values::{ArithOp, CmpOp};

/// The plan's lines, outermost operator first.
pub fn explain(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    node(plan, 0, &mut lines);
    lines
}

fn bound(b: &Bound<Vec<Value>>) -> String {
    match b {
        Bound::Included(v) => format!("{} (inclusive)", values(v)),
        Bound::Excluded(v) => format!("{} (exclusive)", values(v)),
        Bound::Unbounded => "unbounded".into(),
    }
}

fn values(v: &[Value]) -> String {
    let parts: Vec<String> = v.iter().map(ToString::to_string).collect();
    format!("({})", parts.join(", "))
}

fn point_text(at: crate::plan::AsOf) -> String {
    match at {
        crate::plan::AsOf::Time(t) => t.to_string(),
        crate::plan::AsOf::Commit(n) => format!("transaction {n}"),
    }
}

fn as_of_text(at: crate::plan::AsOf) -> String {
    format!("(as of {})", point_text(at))
}

fn access(range: &KeyRange, table: &str, index: Option<&str>) -> String {
    let using = index.map_or_else(String::new, |i| format!(" using {i}"));
    match range {
        (Bound::Unbounded, Bound::Unbounded) if index.is_none() => format!("Seq Scan on {table}"),
        (Bound::Unbounded, Bound::Unbounded) => format!("Index Scan{using} on {table}"),
        (Bound::Included(a), Bound::Included(b)) if a == b && index.is_none() => {
            format!("Primary Key Lookup on {table} (key = {})", values(a))
        }
        (Bound::Included(a), Bound::Included(b)) if a == b => {
            format!("Index Lookup{using} on {table} (key = {})", values(a))
        }
        (lo, hi) => {
            let kind = if index.is_none() {
                "Primary Key Range Scan"
            } else {
                "Index Range Scan"
            };
            format!(
                "{kind}{using} on {table} (from {} to {})",
                bound(lo),
                bound(hi)
            )
        }
    }
}

fn node(plan: &Plan, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    let (line, children): (String, Vec<&Plan>) = match plan {
        Plan::Unit => ("Result".into(), vec![]),
        Plan::Values { rows } => (format!("Values ({} rows)", rows.len()), vec![]),
        Plan::Scan {
            table,
            range,
            at: None,
            ..
        } => (access(range, table, None), vec![]),
        Plan::Scan {
            table,
            range,
            at: Some(at),
            ..
        } => (
            format!("{} {}", access(range, table, None), as_of_text(*at)),
            vec![],
        ),
        Plan::Versions { table, from, to } => (
            format!(
                "Versions on {table} between {} and {}",
                point_text(*from),
                point_text(*to)
            ),
            vec![],
        ),
        Plan::IndexScan {
            table,
            index,
            range,
            ..
        } => (access(range, table, Some(index)), vec![]),
        Plan::VectorSearch {
            table,
            column: _,
            metric,
            index,
            ef_search,
            query,
            limit,
            offset,
            filter,
            ..
        } => {
            let op = match metric {
                1 => "<->",
                2 => "<=>",
                _ => "<#>",
            };
            let k = match offset {
                Some(o) => format!("{} + {}", expr(limit), expr(o)),
                None => expr(limit),
            };
            let how = match index {
                Some(i) => format!(
                    "Vector Index Scan using {i} on {table} (hnsw, ef_search {ef_search}, k {k})"
                ),
                None => format!("Vector Exact Scan on {table} (no index applies, k {k})"),
            };
            let mut line = format!("{how}; order by distance {op} {}", expr(query));
            if let Some(f) = filter {
                let _ = write!(line, "; filter: {}", expr(f));
                if index.is_some() {
                    line.push_str(
                        " (more candidates while it rejects; exact scan past 1/4 of the table)",
                    );
                }
            }
            (line, vec![])
        }
        Plan::Filter { input, predicate } => (format!("Filter: {}", expr(predicate)), vec![input]),
        Plan::Project { input, exprs } => {
            let shown: Vec<String> = exprs.iter().map(expr).collect();
            (format!("Project: {}", shown.join(", ")), vec![input])
        }
        Plan::Join {
            left,
            right,
            kind,
            on,
            ..
        } => {
            let kind = match kind {
                JoinKind::Inner => "Nested Loop Join",
                JoinKind::Left => "Nested Loop Left Join",
            };
            let on = on
                .as_ref()
                .map_or_else(String::new, |e| format!(" on {}", expr(e)));
            (format!("{kind}{on}"), vec![left, right])
        }
        Plan::IndexJoin {
            left,
            table,
            index,
            left_key,
            kind,
            ..
        } => {
            let kind = match kind {
                JoinKind::Inner => "Index Join",
                JoinKind::Left => "Index Left Join",
            };
            let using = index
                .as_deref()
                .map_or_else(|| "primary key".to_string(), |i| format!("index {i}"));
            (
                format!("{kind} on {table} using {using} (key = #{left_key})"),
                vec![left],
            )
        }
        Plan::Aggregate {
            input,
            group_by,
            aggregates,
        } => {
            let aggs: Vec<String> = aggregates
                .iter()
                .map(|a| {
                    let name = match a.func {
                        AggFunc::CountRows => return "count(*)".to_string(),
                        AggFunc::Count => "count",
                        AggFunc::Sum => "sum",
                        AggFunc::Avg => "avg",
                        AggFunc::Min => "min",
                        AggFunc::Max => "max",
                    };
                    let distinct = if a.distinct { "DISTINCT " } else { "" };
                    format!(
                        "{name}({distinct}{})",
                        a.arg.as_ref().map_or_else(String::new, expr)
                    )
                })
                .collect();
            let keys: Vec<String> = group_by.iter().map(expr).collect();
            let mut line = format!("Aggregate: {}", aggs.join(", "));
            if !keys.is_empty() {
                let _ = write!(line, " group by {}", keys.join(", "));
            }
            (line, vec![input])
        }
        Plan::Sort { input, keys } => {
            let shown: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}{}",
                        expr(&k.expr),
                        if k.descending { " DESC" } else { "" }
                    )
                })
                .collect();
            (format!("Sort: {}", shown.join(", ")), vec![input])
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            let mut line = "Limit".to_string();
            if let Some(l) = limit {
                let _ = write!(line, " {}", expr(l));
            }
            if let Some(o) = offset {
                let _ = write!(line, " offset {}", expr(o));
            }
            (line, vec![input])
        }
        Plan::Distinct { input } => ("Distinct".into(), vec![input]),
        Plan::SetOp {
            op,
            all,
            left,
            right,
        } => {
            let op = match op {
                SetOpKind::Union => "Union",
                SetOpKind::Intersect => "Intersect",
                SetOpKind::Except => "Except",
            };
            (
                format!("{op}{}", if *all { " All" } else { "" }),
                vec![left, right],
            )
        }
    };
    out.push(format!("{pad}{line}"));
    for child in children {
        node(child, depth + 1, out);
    }
}

/// A compact rendering of a bound expression: `#n` is input column n.
pub fn expr(e: &Expr) -> String {
    let bin = |a: &Expr, op: &str, b: &Expr| format!("({} {op} {})", expr(a), expr(b));
    match e {
        Expr::Literal(v) => v.to_string(),
        Expr::Column(i) => format!("#{i}"),
        Expr::Outer { depth, index } => format!("outer{depth}.#{index}"),
        Expr::Param(i) => format!("${}", i + 1),
        Expr::Not(a) => format!("(NOT {})", expr(a)),
        Expr::Negate(a) => format!("(- {})", expr(a)),
        Expr::And(a, b) => bin(a, "AND", b),
        Expr::Or(a, b) => bin(a, "OR", b),
        Expr::Compare(op, a, b) => {
            let op = match op {
                CmpOp::Eq => "=",
                CmpOp::NotEq => "<>",
                CmpOp::Lt => "<",
                CmpOp::LtEq => "<=",
                CmpOp::Gt => ">",
                CmpOp::GtEq => ">=",
            };
            bin(a, op, b)
        }
        Expr::Arith(op, a, b) => {
            let op = match op {
                ArithOp::Add => "+",
                ArithOp::Sub => "-",
                ArithOp::Mul => "*",
                ArithOp::Div => "/",
                ArithOp::Rem => "%",
            };
            bin(a, op, b)
        }
        Expr::Concat(a, b) => bin(a, "||", b),
        Expr::IsNull { expr: a, negated } => {
            format!(
                "({} IS {}NULL)",
                expr(a),
                if *negated { "NOT " } else { "" }
            )
        }
        Expr::IsDistinctFrom {
            left,
            right,
            negated,
        } => bin(
            left,
            if *negated {
                "IS NOT DISTINCT FROM"
            } else {
                "IS DISTINCT FROM"
            },
            right,
        ),
        Expr::Like {
            expr: a,
            pattern,
            negated,
            case_insensitive,
            ..
        } => {
            let op = match (negated, case_insensitive) {
                (false, false) => "LIKE",
                (true, false) => "NOT LIKE",
                (false, true) => "ILIKE",
                (true, true) => "NOT ILIKE",
            };
            bin(a, op, pattern)
        }
        Expr::InList {
            expr: a,
            list,
            negated,
        } => {
            let items: Vec<String> = list.iter().map(expr).collect();
            format!(
                "({} {}IN ({}))",
                expr(a),
                if *negated { "NOT " } else { "" },
                items.join(", ")
            )
        }
        Expr::Between {
            expr: a,
            low,
            high,
            negated,
        } => format!(
            "({} {}BETWEEN {} AND {})",
            expr(a),
            if *negated { "NOT " } else { "" },
            expr(low),
            expr(high)
        ),
        Expr::Case { .. } => "CASE ...".into(),
        Expr::Cast(a, ty) => format!("CAST({} AS {ty})", expr(a)),
        Expr::Call(f, args) => {
            let args: Vec<String> = args.iter().map(expr).collect();
            format!("{}({})", f.name, args.join(", "))
        }
        Expr::Coalesce(args) => {
            let args: Vec<String> = args.iter().map(expr).collect();
            format!("coalesce({})", args.join(", "))
        }
        Expr::ScalarSubquery(_) => "(subquery)".into(),
        Expr::Exists { negated, .. } => {
            format!("{}EXISTS (subquery)", if *negated { "NOT " } else { "" })
        }
        Expr::InSubquery {
            expr: a, negated, ..
        } => {
            format!(
                "({} {}IN (subquery))",
                expr(a),
                if *negated { "NOT " } else { "" }
            )
        }
    }
}

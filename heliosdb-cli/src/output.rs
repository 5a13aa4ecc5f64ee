//! Printing results: aligned tables (as psql), CSV and JSON lines.

use std::io::Write;

use heliosdb_nano::Value;
use heliosdb_nano::sql::session::Outcome;
use heliosdb_nano::sql::values;

use crate::Format;

/// The text of a value in a table or CSV cell; NULL is empty, as in psql.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Boolean(true) => "t".into(),
        Value::Boolean(false) => "f".into(),
        other => values::to_text(other),
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) if r.is_finite() => values::to_text(v),
        Value::Vector(x) => {
            let parts: Vec<String> = x
                .iter()
                .map(|f| {
                    if f.is_finite() {
                        f.to_string()
                    } else {
                        "null".into()
                    }
                })
                .collect();
            format!("[{}]", parts.join(","))
        }
        other => json_string(&values::to_text(other)),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Prints rows under `names` in `format`.
pub fn print_rows(
    names: &[&str],
    rows: &[Vec<Value>],
    format: Format,
    out: &mut impl Write,
) -> std::io::Result<()> {
    match format {
        Format::Csv => {
            let header: Vec<String> = names.iter().map(|n| csv_field(n)).collect();
            writeln!(out, "{}", header.join(","))?;
            for row in rows {
                let fields: Vec<String> = row.iter().map(|v| csv_field(&cell(v))).collect();
                writeln!(out, "{}", fields.join(","))?;
            }
        }
        Format::Json => {
            for row in rows {
                let fields: Vec<String> = names
                    .iter()
                    .zip(row)
                    .map(|(n, v)| format!("{}:{}", json_string(n), json_value(v)))
                    .collect();
                writeln!(out, "{{{}}}", fields.join(","))?;
            }
        }
        Format::Table => {
            let cells: Vec<Vec<String>> =
                rows.iter().map(|r| r.iter().map(cell).collect()).collect();
            let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
            for row in &cells {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let numeric: Vec<bool> = (0..names.len())
                .map(|i| {
                    rows.iter().all(|r| {
                        matches!(
                            r.get(i),
                            Some(Value::Integer(_) | Value::Real(_) | Value::Null)
                        )
                    }) && !rows.is_empty()
                })
                .collect();
            let header: Vec<String> = names
                .iter()
                .zip(&widths)
                .map(|(n, w)| format!(" {n:^w$} "))
                .collect();
            writeln!(out, "{}", header.join("|").trim_end())?;
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            writeln!(out, "{}", rule.join("+"))?;
            for row in &cells {
                let line: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .zip(&numeric)
                    .map(|((c, w), num)| {
                        if *num {
                            format!(" {c:>w$} ")
                        } else {
                            format!(" {c:<w$} ")
                        }
                    })
                    .collect();
                writeln!(out, "{}", line.join("|").trim_end())?;
            }
            let n = rows.len();
            writeln!(out, "({n} row{})", if n == 1 { "" } else { "s" })?;
        }
    }
    Ok(())
}

/// Prints what a statement produced.
pub fn print(outcome: &Outcome, format: Format, out: &mut impl Write) -> std::io::Result<()> {
    match outcome {
        Outcome::Rows { columns, rows } => {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            print_rows(&names, rows, format, out)
        }
        Outcome::Affected { command, rows } => match (format, *command) {
            (Format::Table, "INSERT") => writeln!(out, "INSERT 0 {rows}"),
            (Format::Table, command) => writeln!(out, "{command} {rows}"),
            _ => Ok(()),
        },
        Outcome::Done(tag) if format == Format::Table => writeln!(out, "{tag}"),
        Outcome::Done(_) => Ok(()),
    }
}

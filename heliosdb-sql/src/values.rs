//! SQL semantics on core values, PostgreSQL's where SQL dialects differ.
//!
//! - Three-valued logic: a predicate is `Some(bool)` or `None` (unknown, from NULL).
//! - Comparison: numbers compare across INTEGER and REAL exactly; text by bytes (the "C"
//!   collation); NULL compares as unknown. Comparing unrelated types is an error, not a
//!   guess.
//! - Arithmetic: INTEGER stays INTEGER and overflow is an error ("integer out of range"),
//!   as is division by zero; a REAL operand makes the result REAL.
//! - Casts follow PostgreSQL's input and output formats (`'t'`/`'yes'` are booleans, text
//!   to integer trims blanks, REAL to INTEGER rounds half away from zero, timestamps are
//!   `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC).

use std::cmp::Ordering;
use std::fmt::Write as _;

use heliosdb_core::{DataType, Value};

/// Why an operation on values failed. Messages follow PostgreSQL's where it has one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    #[error("division by zero")]
    DivisionByZero,
    #[error("{0} out of range")]
    OutOfRange(&'static str),
    #[error("invalid input syntax for type {ty}: \"{text}\"")]
    InvalidText { ty: String, text: String },
    #[error("operator does not exist: {left} {op} {right}")]
    NoOperator {
        op: &'static str,
        left: &'static str,
        right: &'static str,
    },
    #[error("cannot cast type {from} to {to}")]
    NoCast { from: &'static str, to: String },
    #[error("{func}: {why}")]
    InvalidArgument { func: &'static str, why: String },
}

pub type Result<T, E = ValueError> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------------------
// Three-valued logic
// ---------------------------------------------------------------------------------------

/// The truth of a value used as a predicate: NULL is unknown.
pub fn truth(v: &Value) -> Result<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Boolean(b) => Ok(Some(*b)),
        other => Err(ValueError::InvalidArgument {
            func: "predicate",
            why: format!("argument must be BOOLEAN, not {}", other.type_name()),
        }),
    }
}

/// SQL AND: false wins over unknown.
pub fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// SQL OR: true wins over unknown.
pub fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

pub fn not(a: Option<bool>) -> Option<bool> {
    a.map(|b| !b)
}

pub fn from_truth(t: Option<bool>) -> Value {
    t.map_or(Value::Null, Value::Boolean)
}

// ---------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------

/// Exact comparison of an integer with a real (no rounding of large integers).
fn cmp_int_real(i: i64, r: f64) -> Ordering {
    if r.is_nan() {
        // PostgreSQL: NaN is greater than every number.
        return Ordering::Less;
    }
    // -2^63 is exact as f64; anything at or above 2^63 is above every i64.
    if r >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    if r < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    let t = r.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(r - t)).unwrap_or(Ordering::Equal),
        other => other,
    }
}

/// PostgreSQL's REAL order: NaN equals NaN and is above everything.
fn cmp_real(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Compares two values; `None` when either is NULL.
#[inline]
pub fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>> {
    use Value::*;
    Ok(Some(match (a, b) {
        (Null, _) | (_, Null) => return Ok(None),
        (Integer(x), Integer(y)) => x.cmp(y),
        (Real(x), Real(y)) => cmp_real(*x, *y),
        (Integer(x), Real(y)) => cmp_int_real(*x, *y),
        (Real(x), Integer(y)) => cmp_int_real(*y, *x).reverse(),
        (Text(x), Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Blob(x), Blob(y)) => x.cmp(y),
        (Boolean(x), Boolean(y)) => x.cmp(y),
        (Timestamp(x), Timestamp(y)) => x.cmp(y),
        (Vector(x), Vector(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| cmp_real(f64::from(*p), f64::from(*q)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => {
            return Err(ValueError::NoOperator {
                op: "=",
                left: a.type_name(),
                right: b.type_name(),
            });
        }
    }))
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

/// `a op b` with SQL NULL semantics.
pub fn compare_op(op: CmpOp, a: &Value, b: &Value) -> Result<Value> {
    Ok(from_truth(compare_truth(op, a, b)?))
}

/// The truth of `a op b`: unknown (`None`) when either side is NULL.
#[inline]
pub fn compare_truth(op: CmpOp, a: &Value, b: &Value) -> Result<Option<bool>> {
    let Some(ord) = compare(a, b)? else {
        return Ok(None);
    };
    Ok(Some(match op {
        CmpOp::Eq => ord.is_eq(),
        CmpOp::NotEq => ord.is_ne(),
        CmpOp::Lt => ord.is_lt(),
        CmpOp::LtEq => ord.is_le(),
        CmpOp::Gt => ord.is_gt(),
        CmpOp::GtEq => ord.is_ge(),
    }))
}

/// `a IS NOT DISTINCT FROM b`: NULL equals NULL.
pub fn not_distinct(a: &Value, b: &Value) -> Result<bool> {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ok(true),
        (true, false) | (false, true) => Ok(false),
        _ => Ok(compare(a, b)?.is_some_and(Ordering::is_eq)),
    }
}

// ---------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl ArithOp {
    fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Rem => "%",
        }
    }
}

fn int_arith(op: ArithOp, x: i64, y: i64) -> Result<Value> {
    let out = match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::Div | ArithOp::Rem if y == 0 => return Err(ValueError::DivisionByZero),
        ArithOp::Div => x.checked_div(y),
        // i64::MIN % -1 overflows in Rust; the answer is 0.
        ArithOp::Rem => Some(x.checked_rem(y).unwrap_or(0)),
    };
    out.map(Value::Integer)
        .ok_or(ValueError::OutOfRange("bigint"))
}

fn real_arith(op: ArithOp, x: f64, y: f64) -> Result<Value> {
    let out = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div | ArithOp::Rem if y == 0.0 => return Err(ValueError::DivisionByZero),
        ArithOp::Div => x / y,
        ArithOp::Rem => x % y,
    };
    if out.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(ValueError::OutOfRange("double precision"));
    }
    Ok(Value::Real(out))
}

/// `a op b` for numbers; NULL in, NULL out.
pub fn arith(op: ArithOp, a: &Value, b: &Value) -> Result<Value> {
    use Value::*;
    match (a, b) {
        (Null, _) | (_, Null) => Ok(Null),
        (Integer(x), Integer(y)) => int_arith(op, *x, *y),
        (Integer(x), Real(y)) => real_arith(op, *x as f64, *y),
        (Real(x), Integer(y)) => real_arith(op, *x, *y as f64),
        (Real(x), Real(y)) => real_arith(op, *x, *y),
        _ => Err(ValueError::NoOperator {
            op: op.symbol(),
            left: a.type_name(),
            right: b.type_name(),
        }),
    }
}

/// Unary minus.
pub fn negate(a: &Value) -> Result<Value> {
    match a {
        Value::Null => Ok(Value::Null),
        Value::Integer(i) => i
            .checked_neg()
            .map(Value::Integer)
            .ok_or(ValueError::OutOfRange("bigint")),
        Value::Real(r) => Ok(Value::Real(-r)),
        other => Err(ValueError::NoOperator {
            op: "-",
            left: "",
            right: other.type_name(),
        }),
    }
}

/// `a || b`: text concatenation; a non-text side is cast to text, NULL gives NULL.
pub fn concat(a: &Value, b: &Value) -> Result<Value> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let mut s = to_text(a);
    s.push_str(&to_text(b));
    Ok(Value::Text(s))
}

// ---------------------------------------------------------------------------------------
// Text output and casts
// ---------------------------------------------------------------------------------------

/// PostgreSQL's text output of a REAL (float8): the shortest text that reads back the
/// same, with an exponent outside 1e-4 .. 1e15.
pub fn format_real(r: f64) -> String {
    if r.is_nan() {
        return "NaN".into();
    }
    if r.is_infinite() {
        return if r > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if r == 0.0 {
        return if r.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = r.abs().log10().floor() as i32;
    if (-4..15).contains(&exp) {
        format!("{r}")
    } else {
        // Rust's `{:e}` gives the shortest mantissa: 1e20, 1.5e-7.
        let s = format!("{r:e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC) for microseconds since the epoch.
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let in_day = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = heliosdb_core::civil_from_days(days);
    let secs = in_day / 1_000_000;
    let frac = in_day % 1_000_000;
    let mut s = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    if frac != 0 {
        let digits = format!("{frac:06}");
        let _ = write!(s, ".{}", digits.trim_end_matches('0'));
    }
    s
}

fn invalid(ty: &str, text: &str) -> ValueError {
    ValueError::InvalidText {
        ty: ty.into(),
        text: text.into(),
    }
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|+00|+00:00]` as UTC microseconds.
pub fn parse_timestamp(text: &str) -> Result<i64> {
    let bad = || invalid("timestamp", text);
    let t = text.trim();
    let t = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .or_else(|| t.strip_suffix("+00"))
        .unwrap_or(t);
    let (date, time) = match t.find([' ', 'T']) {
        Some(at) => (&t[..at], t[at + 1..].trim()),
        None => (t, ""),
    };
    let mut parts = date.splitn(3, '-');
    let num = |s: Option<&str>| -> Result<i64> { s.and_then(|s| s.parse().ok()).ok_or_else(bad) };
    let (y, m, d) = (num(parts.next())?, num(parts.next())?, num(parts.next())?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(-4713..=294_276).contains(&y) {
        return Err(bad());
    }
    let days = days_from_civil(y, m as u32, d as u32);
    // Reject 2026-02-31: the date must read back as itself.
    if heliosdb_core::civil_from_days(days) != (y, m as u32, d as u32) {
        return Err(bad());
    }
    let mut micros = 0i64;
    if !time.is_empty() {
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut f = hms.splitn(3, ':');
        let (h, mi) = (num(f.next())?, num(f.next())?);
        let s = match f.next() {
            Some(s) => s.parse::<i64>().map_err(|_| bad())?,
            None => 0,
        };
        if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..=60).contains(&s) {
            return Err(bad());
        }
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let frac_micros = format!("{frac:0<6}")[..6]
            .parse::<i64>()
            .map_err(|_| bad())?;
        micros = ((h * 60 + mi) * 60 + s) * 1_000_000 + frac_micros;
    }
    days.checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(micros))
        .ok_or_else(bad)
}

/// The text form of a value, as `CAST(v AS TEXT)` gives it (NULL gives "NULL" here;
/// callers handle NULL first).
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Boolean(b) => if *b { "true" } else { "false" }.into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => format_real(*r),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => {
            let mut s = String::with_capacity(2 + 2 * b.len());
            s.push_str("\\x");
            for byte in b {
                let _ = write!(s, "{byte:02x}");
            }
            s
        }
        Value::Timestamp(t) => format_timestamp(*t),
        Value::Vector(v) => {
            let parts: Vec<String> = v.iter().map(|x| format_real(f64::from(*x))).collect();
            format!("[{}]", parts.join(","))
        }
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Parses pgvector's text form `[1, 2.5, -3]`.
pub fn parse_vector(text: &str) -> Result<Vec<f32>> {
    let bad = || invalid("vector", text);
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(bad)?;
    if inner.trim().is_empty() {
        return Err(ValueError::InvalidArgument {
            func: "vector",
            why: "a vector must have at least 1 dimension".into(),
        });
    }
    inner
        .split(',')
        .map(|x| {
            let f: f32 = x.trim().parse().map_err(|_| bad())?;
            if f.is_finite() { Ok(f) } else { Err(bad()) }
        })
        .collect()
}

/// Parses PostgreSQL's bytea hex form `\x0a1b`.
fn parse_bytea(text: &str) -> Result<Vec<u8>> {
    let Some(hex) = text.strip_prefix("\\x") else {
        return Ok(text.as_bytes().to_vec());
    };
    if hex.len() % 2 != 0 {
        return Err(invalid("bytea", text));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| invalid("bytea", text)))
        .collect()
}

fn real_to_int(r: f64) -> Result<i64> {
    let rounded = r.round();
    if rounded.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&rounded)
    {
        return Err(ValueError::OutOfRange("bigint"));
    }
    Ok(rounded as i64)
}

/// `CAST(v AS ty)`.
pub fn cast(v: &Value, ty: DataType) -> Result<Value> {
    use Value::*;
    let no_cast = || ValueError::NoCast {
        from: v.type_name(),
        to: ty.to_string(),
    };
    Ok(match (v, ty) {
        (Null, _) => Null,
        (Text(s), DataType::Text) => Text(s.clone()),
        (_, DataType::Text) => Text(to_text(v)),
        (Integer(i), DataType::Integer) => Integer(*i),
        (Real(r), DataType::Integer) => Integer(real_to_int(*r)?),
        (Boolean(b), DataType::Integer) => Integer(i64::from(*b)),
        (Text(s), DataType::Integer) => {
            Integer(s.trim().parse().map_err(|_| invalid("integer", s))?)
        }
        (Integer(i), DataType::Real) => Real(*i as f64),
        (Real(r), DataType::Real) => Real(*r),
        (Text(s), DataType::Real) => {
            let t = s.trim();
            Real(match t.to_ascii_lowercase().as_str() {
                "nan" => f64::NAN,
                "infinity" | "inf" | "+infinity" => f64::INFINITY,
                "-infinity" | "-inf" => f64::NEG_INFINITY,
                _ => t.parse().map_err(|_| invalid("double precision", s))?,
            })
        }
        (Boolean(b), DataType::Boolean) => Boolean(*b),
        (Integer(i), DataType::Boolean) => Boolean(*i != 0),
        (Text(s), DataType::Boolean) => {
            Boolean(parse_bool(s).ok_or_else(|| invalid("boolean", s))?)
        }
        (Blob(b), DataType::Blob) => Blob(b.clone()),
        (Text(s), DataType::Blob) => Blob(parse_bytea(s)?),
        (Timestamp(t), DataType::Timestamp) => Timestamp(*t),
        (Text(s), DataType::Timestamp) => Timestamp(parse_timestamp(s)?),
        (Vector(x), DataType::Vector(n)) => {
            if x.len() != n as usize {
                return Err(ValueError::InvalidArgument {
                    func: "vector",
                    why: format!("expected {n} dimensions, not {}", x.len()),
                });
            }
            Vector(x.clone())
        }
        (Text(s), DataType::Vector(n)) => cast(&Vector(parse_vector(s)?), DataType::Vector(n))?,
        _ => return Err(no_cast()),
    })
}

// ---------------------------------------------------------------------------------------
// LIKE
// ---------------------------------------------------------------------------------------

/// `text LIKE pattern [ESCAPE escape]`: `%` is any run, `_` any one character.
/// Linear in the usual case and never exponential: on a mismatch it resumes after the
/// last `%` only.
pub fn like(
    text: &str,
    pattern: &str,
    escape: Option<char>,
    case_insensitive: bool,
) -> Result<bool> {
    #[derive(PartialEq)]
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let fold = |c: char| {
        if case_insensitive {
            c.to_lowercase().next().unwrap_or(c)
        } else {
            c
        }
    };
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            let next = chars.next().ok_or_else(|| ValueError::InvalidArgument {
                func: "LIKE",
                why: "LIKE pattern must not end with escape character".into(),
            })?;
            toks.push(Tok::Lit(fold(next)));
        } else if c == '%' {
            if toks.last() != Some(&Tok::Any) {
                toks.push(Tok::Any);
            }
        } else if c == '_' {
            toks.push(Tok::One);
        } else {
            toks.push(Tok::Lit(fold(c)));
        }
    }
    let text: Vec<char> = text.chars().map(fold).collect();
    let (mut t, mut p) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Any) => {
                resume = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                t += 1;
                p += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match resume {
                Some((rp, rt)) => {
                    resume = Some((rp, rt + 1));
                    p = rp + 1;
                    t = rt + 1;
                }
                None => return Ok(false),
            },
        }
    }
    Ok(toks[p..].iter().all(|tok| *tok == Tok::Any))
}

// ---------------------------------------------------------------------------------------
// Scalar functions
// ---------------------------------------------------------------------------------------

/// A built-in scalar function: its argument count range and its body. Bodies see NULL
/// arguments; unless `null_passes`, a NULL argument gives NULL without calling the body.
#[derive(Clone, Copy)]
pub struct ScalarFn {
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    pub null_passes: bool,
    body: fn(&[Value]) -> Result<Value>,
}

impl std::fmt::Debug for ScalarFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScalarFn")
            .field("name", &self.name)
            .finish()
    }
}

impl ScalarFn {
    /// Calls the function; the caller checked the argument count at bind time.
    pub fn call(&self, args: &[Value]) -> Result<Value> {
        if !self.null_passes && args.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        (self.body)(args)
    }
}

fn text_arg<'a>(func: &'static str, v: &'a Value) -> Result<&'a str> {
    match v {
        Value::Text(s) => Ok(s),
        other => Err(ValueError::InvalidArgument {
            func,
            why: format!("expected TEXT, got {}", other.type_name()),
        }),
    }
}

fn int_arg(func: &'static str, v: &Value) -> Result<i64> {
    match v {
        Value::Integer(i) => Ok(*i),
        other => Err(ValueError::InvalidArgument {
            func,
            why: format!("expected INTEGER, got {}", other.type_name()),
        }),
    }
}

fn real_arg(func: &'static str, v: &Value) -> Result<f64> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Real(r) => Ok(*r),
        other => Err(ValueError::InvalidArgument {
            func,
            why: format!("expected a number, got {}", other.type_name()),
        }),
    }
}

fn ts_arg(func: &'static str, v: &Value) -> Result<i64> {
    match v {
        Value::Timestamp(t) => Ok(*t),
        Value::Text(s) => parse_timestamp(s),
        other => Err(ValueError::InvalidArgument {
            func,
            why: format!("expected TIMESTAMP, got {}", other.type_name()),
        }),
    }
}

/// `substring(s, start[, count])` with PostgreSQL's 1-based, clamp-at-the-edges rules.
fn substring(args: &[Value]) -> Result<Value> {
    let s = text_arg("substring", &args[0])?;
    let start = int_arg("substring", &args[1])?;
    let chars: Vec<char> = s.chars().collect();
    let end = match args.get(2) {
        Some(n) => {
            let n = int_arg("substring", n)?;
            if n < 0 {
                return Err(ValueError::InvalidArgument {
                    func: "substring",
                    why: "negative substring length not allowed".into(),
                });
            }
            start.saturating_add(n)
        }
        None => i64::MAX,
    };
    let from = start.max(1) - 1;
    let to = (end - 1).clamp(0, chars.len() as i64);
    let from = from.min(to) as usize;
    Ok(Value::Text(chars[from..to as usize].iter().collect()))
}

fn trim_with(args: &[Value], func: &'static str, left: bool, right: bool) -> Result<Value> {
    let s = text_arg(func, &args[0])?;
    let set: Vec<char> = match args.get(1) {
        Some(v) => text_arg(func, v)?.chars().collect(),
        None => vec![' '],
    };
    let mut out = s;
    if left {
        out = out.trim_start_matches(|c| set.contains(&c));
    }
    if right {
        out = out.trim_end_matches(|c| set.contains(&c));
    }
    Ok(Value::Text(out.to_owned()))
}

/// `round(x[, digits])`: half away from zero, as PostgreSQL's numeric round.
fn round(args: &[Value]) -> Result<Value> {
    let digits = match args.get(1) {
        Some(d) => int_arg("round", d)?,
        None => 0,
    };
    match &args[0] {
        Value::Integer(i) if digits >= 0 => Ok(Value::Integer(*i)),
        v => {
            let x = real_arg("round", v)?;
            let scale = 10f64.powi(digits.clamp(-300, 300) as i32);
            Ok(Value::Real((x * scale).round() / scale))
        }
    }
}

fn math1(func: &'static str, args: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    Ok(Value::Real(f(real_arg(func, &args[0])?)))
}

/// `date_part('field', ts)` / `EXTRACT(field FROM ts)`.
fn date_part(args: &[Value]) -> Result<Value> {
    let field = text_arg("date_part", &args[0])?.to_ascii_lowercase();
    let t = ts_arg("date_part", &args[1])?;
    let days = t.div_euclid(MICROS_PER_DAY);
    let in_day = t.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = heliosdb_core::civil_from_days(days);
    let secs = in_day / 1_000_000;
    Ok(match field.as_str() {
        "year" => Value::Integer(y),
        "month" => Value::Integer(i64::from(m)),
        "day" => Value::Integer(i64::from(d)),
        "hour" => Value::Integer(secs / 3600),
        "minute" => Value::Integer((secs / 60) % 60),
        "second" => Value::Real((secs % 60) as f64 + (in_day % 1_000_000) as f64 / 1e6),
        // 0 = Sunday, as PostgreSQL's dow; 1970-01-01 was a Thursday.
        "dow" => Value::Integer((days + 4).rem_euclid(7)),
        "doy" => Value::Integer(days - days_from_civil(y, 1, 1) + 1),
        "epoch" => Value::Real(t as f64 / 1e6),
        _ => {
            return Err(ValueError::InvalidArgument {
                func: "date_part",
                why: format!("unit \"{field}\" not recognized"),
            });
        }
    })
}

/// `date_trunc('unit', ts)`.
fn date_trunc(args: &[Value]) -> Result<Value> {
    let unit = text_arg("date_trunc", &args[0])?.to_ascii_lowercase();
    let t = ts_arg("date_trunc", &args[1])?;
    let days = t.div_euclid(MICROS_PER_DAY);
    let (y, m, _) = heliosdb_core::civil_from_days(days);
    let day_start = days * MICROS_PER_DAY;
    let floor = |unit_micros: i64| t.div_euclid(unit_micros) * unit_micros;
    Ok(Value::Timestamp(match unit.as_str() {
        "year" => days_from_civil(y, 1, 1) * MICROS_PER_DAY,
        "month" => days_from_civil(y, m, 1) * MICROS_PER_DAY,
        "day" => day_start,
        "hour" => floor(3_600_000_000),
        "minute" => floor(60_000_000),
        "second" => floor(1_000_000),
        _ => {
            return Err(ValueError::InvalidArgument {
                func: "date_trunc",
                why: format!("unit \"{unit}\" not recognized"),
            });
        }
    }))
}

/// Ignoring NULLs, the greatest or least argument (PostgreSQL's GREATEST/LEAST).
fn extreme(args: &[Value], want: Ordering) -> Result<Value> {
    let mut best: Option<&Value> = None;
    for v in args.iter().filter(|v| !v.is_null()) {
        best = match best {
            Some(b) if compare(v, b)? != Some(want) => Some(b),
            _ => Some(v),
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

macro_rules! scalar {
    ($name:literal, $min:literal..=$max:literal, $body:expr) => {
        ScalarFn {
            name: $name,
            min_args: $min,
            max_args: $max,
            null_passes: false,
            body: $body,
        }
    };
    ($name:literal, $min:literal..=$max:literal, nulls, $body:expr) => {
        ScalarFn {
            name: $name,
            min_args: $min,
            max_args: $max,
            null_passes: true,
            body: $body,
        }
    };
}

/// A vector argument: a VECTOR value, or pgvector's text form (`'[1,2,3]'`).
pub fn vector_arg<'v>(func: &'static str, v: &'v Value) -> Result<std::borrow::Cow<'v, [f32]>> {
    match v {
        Value::Vector(x) => Ok(std::borrow::Cow::Borrowed(x)),
        Value::Text(s) => Ok(std::borrow::Cow::Owned(parse_vector(s)?)),
        other => Err(ValueError::InvalidArgument {
            func,
            why: format!("expected VECTOR, got {}", other.type_name()),
        }),
    }
}

/// The distance `metric` between two vector arguments, with pgvector's rules: both must
/// have the same dimension; cosine distance with a zero vector is NaN.
pub fn vector_distance(
    func: &'static str,
    metric: heliosdb_vector::Metric,
    a: &Value,
    b: &Value,
) -> Result<f64> {
    let (x, y) = (vector_arg(func, a)?, vector_arg(func, b)?);
    if x.len() != y.len() {
        return Err(ValueError::InvalidArgument {
            func,
            why: format!("different vector dimensions {} and {}", x.len(), y.len()),
        });
    }
    Ok(f64::from(heliosdb_vector::distance(metric, &x, &y)))
}

/// The built-in scalar functions, by lower-case name.
static SCALARS: &[ScalarFn] = &[
    // pgvector: `<->` is l2_distance, `<=>` cosine_distance, `<#>` the negative of
    // inner_product (so that ascending order puts the largest product first).
    scalar!("l2_distance", 2..=2, |a| Ok(Value::Real(vector_distance(
        "l2_distance",
        heliosdb_vector::Metric::L2,
        &a[0],
        &a[1]
    )?))),
    scalar!("cosine_distance", 2..=2, |a| Ok(Value::Real(
        vector_distance(
            "cosine_distance",
            heliosdb_vector::Metric::Cosine,
            &a[0],
            &a[1]
        )?
    ))),
    scalar!("vector_negative_inner_product", 2..=2, |a| Ok(Value::Real(
        vector_distance(
            "vector_negative_inner_product",
            heliosdb_vector::Metric::InnerProduct,
            &a[0],
            &a[1]
        )?
    ))),
    scalar!("inner_product", 2..=2, |a| Ok(Value::Real(
        -vector_distance(
            "inner_product",
            heliosdb_vector::Metric::InnerProduct,
            &a[0],
            &a[1]
        )?
    ))),
    scalar!("vector_dims", 1..=1, |a| Ok(Value::Integer(
        vector_arg("vector_dims", &a[0])?.len() as i64
    ))),
    scalar!("vector_norm", 1..=1, |a| Ok(Value::Real(f64::from(
        heliosdb_vector::norm(&vector_arg("vector_norm", &a[0])?)
    )))),
    scalar!("lower", 1..=1, |a| Ok(Value::Text(
        text_arg("lower", &a[0])?.to_lowercase()
    ))),
    scalar!("upper", 1..=1, |a| Ok(Value::Text(
        text_arg("upper", &a[0])?.to_uppercase()
    ))),
    scalar!("length", 1..=1, |a| match &a[0] {
        Value::Blob(b) => Ok(Value::Integer(b.len() as i64)),
        v => Ok(Value::Integer(text_arg("length", v)?.chars().count() as i64)),
    }),
    scalar!("char_length", 1..=1, |a| Ok(Value::Integer(
        text_arg("char_length", &a[0])?.chars().count() as i64
    ))),
    scalar!("octet_length", 1..=1, |a| match &a[0] {
        Value::Blob(b) => Ok(Value::Integer(b.len() as i64)),
        v => Ok(Value::Integer(text_arg("octet_length", v)?.len() as i64)),
    }),
    scalar!("substring", 2..=3, substring),
    scalar!("substr", 2..=3, substring),
    scalar!("trim", 1..=2, |a| trim_with(a, "trim", true, true)),
    scalar!("btrim", 1..=2, |a| trim_with(a, "btrim", true, true)),
    scalar!("ltrim", 1..=2, |a| trim_with(a, "ltrim", true, false)),
    scalar!("rtrim", 1..=2, |a| trim_with(a, "rtrim", false, true)),
    scalar!("replace", 3..=3, |a| Ok(Value::Text(
        text_arg("replace", &a[0])?
            .replace(text_arg("replace", &a[1])?, text_arg("replace", &a[2])?)
    ))),
    scalar!("strpos", 2..=2, |a| {
        let (s, sub) = (text_arg("strpos", &a[0])?, text_arg("strpos", &a[1])?);
        Ok(Value::Integer(
            s.find(sub)
                .map_or(0, |at| s[..at].chars().count() as i64 + 1),
        ))
    }),
    scalar!("left", 2..=2, |a| {
        let (s, n) = (text_arg("left", &a[0])?, int_arg("left", &a[1])?);
        let count = s.chars().count() as i64;
        let take = if n >= 0 {
            n.min(count)
        } else {
            (count + n).max(0)
        };
        Ok(Value::Text(s.chars().take(take as usize).collect()))
    }),
    scalar!("right", 2..=2, |a| {
        let (s, n) = (text_arg("right", &a[0])?, int_arg("right", &a[1])?);
        let count = s.chars().count() as i64;
        let take = if n >= 0 {
            n.min(count)
        } else {
            (count + n).max(0)
        };
        Ok(Value::Text(
            s.chars().skip((count - take) as usize).collect(),
        ))
    }),
    scalar!("repeat", 2..=2, |a| {
        let (s, n) = (text_arg("repeat", &a[0])?, int_arg("repeat", &a[1])?);
        let n = usize::try_from(n.max(0)).unwrap_or(0);
        if s.len().saturating_mul(n) > heliosdb_core::VALUE_BYTES_MAX {
            return Err(ValueError::OutOfRange("repeat result"));
        }
        Ok(Value::Text(s.repeat(n)))
    }),
    scalar!("reverse", 1..=1, |a| Ok(Value::Text(
        text_arg("reverse", &a[0])?.chars().rev().collect()
    ))),
    scalar!("concat", 0..=100, nulls, |a| Ok(Value::Text(
        a.iter().filter(|v| !v.is_null()).map(to_text).collect()
    ))),
    scalar!("abs", 1..=1, |a| match &a[0] {
        Value::Integer(i) => i
            .checked_abs()
            .map(Value::Integer)
            .ok_or(ValueError::OutOfRange("bigint")),
        v => Ok(Value::Real(real_arg("abs", v)?.abs())),
    }),
    scalar!("round", 1..=2, round),
    scalar!("ceil", 1..=1, |a| match &a[0] {
        Value::Integer(i) => Ok(Value::Integer(*i)),
        v => math1("ceil", std::slice::from_ref(v), f64::ceil),
    }),
    scalar!("ceiling", 1..=1, |a| match &a[0] {
        Value::Integer(i) => Ok(Value::Integer(*i)),
        v => math1("ceiling", std::slice::from_ref(v), f64::ceil),
    }),
    scalar!("floor", 1..=1, |a| match &a[0] {
        Value::Integer(i) => Ok(Value::Integer(*i)),
        v => math1("floor", std::slice::from_ref(v), f64::floor),
    }),
    scalar!("sign", 1..=1, |a| match &a[0] {
        Value::Integer(i) => Ok(Value::Integer(i.signum())),
        v => Ok(Value::Real(real_arg("sign", v)?.signum())),
    }),
    scalar!("sqrt", 1..=1, |a| {
        let x = real_arg("sqrt", &a[0])?;
        if x < 0.0 {
            return Err(ValueError::InvalidArgument {
                func: "sqrt",
                why: "cannot take square root of a negative number".into(),
            });
        }
        Ok(Value::Real(x.sqrt()))
    }),
    scalar!("power", 2..=2, |a| Ok(Value::Real(
        real_arg("power", &a[0])?.powf(real_arg("power", &a[1])?)
    ))),
    scalar!("pow", 2..=2, |a| Ok(Value::Real(
        real_arg("pow", &a[0])?.powf(real_arg("pow", &a[1])?)
    ))),
    scalar!("mod", 2..=2, |a| arith(ArithOp::Rem, &a[0], &a[1])),
    scalar!("exp", 1..=1, |a| math1("exp", a, f64::exp)),
    scalar!("ln", 1..=1, |a| {
        let x = real_arg("ln", &a[0])?;
        if x <= 0.0 {
            return Err(ValueError::InvalidArgument {
                func: "ln",
                why: "cannot take logarithm of zero or a negative number".into(),
            });
        }
        Ok(Value::Real(x.ln()))
    }),
    scalar!("log", 1..=1, |a| {
        let x = real_arg("log", &a[0])?;
        if x <= 0.0 {
            return Err(ValueError::InvalidArgument {
                func: "log",
                why: "cannot take logarithm of zero or a negative number".into(),
            });
        }
        Ok(Value::Real(x.log10()))
    }),
    scalar!("pi", 0..=0, |_| Ok(Value::Real(std::f64::consts::PI))),
    scalar!("greatest", 1..=100, nulls, |a| extreme(
        a,
        Ordering::Greater
    )),
    scalar!("least", 1..=100, nulls, |a| extreme(a, Ordering::Less)),
    scalar!("nullif", 2..=2, nulls, |a| {
        Ok(
            if !a[0].is_null() && compare(&a[0], &a[1])? == Some(Ordering::Equal) {
                Value::Null
            } else {
                a[0].clone()
            },
        )
    }),
    scalar!("coalesce", 1..=100, nulls, |a| Ok(a
        .iter()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null))),
    scalar!("date_part", 2..=2, date_part),
    scalar!("date_trunc", 2..=2, date_trunc),
    scalar!("now", 0..=0, |_| Ok(Value::Timestamp(now_micros()))),
    scalar!("current_timestamp", 0..=0, |_| Ok(Value::Timestamp(
        now_micros()
    ))),
    scalar!("to_timestamp", 1..=1, |a| {
        let secs = real_arg("to_timestamp", &a[0])?;
        let micros = (secs * 1e6).round();
        if !micros.is_finite() || micros.abs() > 9.2e18 {
            return Err(ValueError::OutOfRange("timestamp"));
        }
        Ok(Value::Timestamp(micros as i64))
    }),
];

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The built-in scalar function called `name` (case-insensitive).
pub fn scalar_function(name: &str) -> Option<&'static ScalarFn> {
    let name = name.to_ascii_lowercase();
    SCALARS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(x: i64) -> Value {
        Value::Integer(x)
    }

    #[test]
    fn three_valued_logic_tables() {
        let vals = [Some(true), Some(false), None];
        for a in vals {
            for b in vals {
                let expect_and = match (a, b) {
                    (Some(x), Some(y)) => Some(x && y),
                    (Some(false), None) | (None, Some(false)) => Some(false),
                    _ => None,
                };
                assert_eq!(and(a, b), expect_and, "{a:?} AND {b:?}");
                assert_eq!(
                    or(a, b),
                    not(and(not(a), not(b))),
                    "De Morgan for {a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn numbers_compare_exactly_across_types() {
        assert_eq!(
            compare(&i(1), &Value::Real(1.0)).unwrap(),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(&i(1), &Value::Real(1.5)).unwrap(),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(&i(-2), &Value::Real(-1.5)).unwrap(),
            Some(Ordering::Less)
        );
        // 2^53 + 1 is not representable as f64; it must still be greater than 2^53.
        let big = (1i64 << 53) + 1;
        assert_eq!(
            compare(&i(big), &Value::Real((1u64 << 53) as f64)).unwrap(),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&i(i64::MAX), &Value::Real(9.3e18)).unwrap(),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(&i(0), &Value::Real(f64::NAN)).unwrap(),
            Some(Ordering::Less)
        );
        assert_eq!(compare(&Value::Null, &i(1)).unwrap(), None);
        assert!(compare(&i(1), &Value::Text("1".into())).is_err());
        assert_eq!(
            compare_op(CmpOp::LtEq, &i(1), &Value::Null).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn integer_arithmetic_is_checked() {
        assert_eq!(arith(ArithOp::Div, &i(7), &i(2)).unwrap(), i(3));
        assert_eq!(arith(ArithOp::Div, &i(-7), &i(2)).unwrap(), i(-3));
        assert_eq!(arith(ArithOp::Rem, &i(-7), &i(2)).unwrap(), i(-1));
        assert_eq!(arith(ArithOp::Rem, &i(i64::MIN), &i(-1)).unwrap(), i(0));
        assert_eq!(
            arith(ArithOp::Div, &i(1), &i(0)),
            Err(ValueError::DivisionByZero)
        );
        assert_eq!(
            arith(ArithOp::Add, &i(i64::MAX), &i(1)),
            Err(ValueError::OutOfRange("bigint"))
        );
        assert_eq!(
            arith(ArithOp::Div, &i(i64::MIN), &i(-1)),
            Err(ValueError::OutOfRange("bigint"))
        );
        assert_eq!(
            arith(ArithOp::Mul, &i(3), &Value::Real(0.5)).unwrap(),
            Value::Real(1.5)
        );
        assert_eq!(
            arith(ArithOp::Add, &Value::Null, &i(1)).unwrap(),
            Value::Null
        );
        assert!(negate(&i(i64::MIN)).is_err());
    }

    #[test]
    fn casts_follow_postgres_formats() {
        assert_eq!(
            cast(&Value::Text(" 42 ".into()), DataType::Integer).unwrap(),
            i(42)
        );
        assert!(
            cast(&Value::Text("4x".into()), DataType::Integer)
                .unwrap_err()
                .to_string()
                .contains("invalid input syntax for type integer")
        );
        assert_eq!(cast(&Value::Real(2.5), DataType::Integer).unwrap(), i(3));
        assert_eq!(cast(&Value::Real(-2.5), DataType::Integer).unwrap(), i(-3));
        assert!(cast(&Value::Real(1e19), DataType::Integer).is_err());
        assert_eq!(
            cast(&Value::Text("yes".into()), DataType::Boolean).unwrap(),
            Value::Boolean(true)
        );
        assert_eq!(to_text(&Value::Real(0.1)), "0.1");
        assert_eq!(to_text(&Value::Real(1e20)), "1e+20");
        assert_eq!(to_text(&Value::Real(1.5e-7)), "1.5e-07");
        assert_eq!(to_text(&Value::Real(123456.0)), "123456");
        assert_eq!(to_text(&Value::Blob(vec![0, 255])), "\\x00ff");
        let ts = cast(
            &Value::Text("2026-11-25 10:00:00.25".into()),
            DataType::Timestamp,
        )
        .unwrap();
        assert_eq!(to_text(&ts), "2026-11-25 10:00:00.25");
        assert!(parse_timestamp("2026-02-31").is_err());
        assert_eq!(parse_timestamp("1970-01-01").unwrap(), 0);
        assert_eq!(parse_timestamp("1969-12-31 23:59:59").unwrap(), -1_000_000);
        let v = cast(&Value::Text("[1, 2.5,-3]".into()), DataType::Vector(3)).unwrap();
        assert_eq!(to_text(&v), "[1,2.5,-3]");
        assert!(
            cast(&Value::Text("[1,2]".into()), DataType::Vector(3))
                .unwrap_err()
                .to_string()
                .contains("expected 3 dimensions, not 2")
        );
        assert!(cast(&Value::Boolean(true), DataType::Timestamp).is_err());
    }

    #[test]
    fn like_patterns() {
        let m = |t: &str, p: &str| like(t, p, Some('\\'), false).unwrap();
        assert!(m("hello", "h%o"));
        assert!(m("hello", "h_llo"));
        assert!(!m("hello", "h_lo"));
        assert!(m("", "%"));
        assert!(m("a%b", "a\\%b"));
        assert!(!m("axb", "a\\%b"));
        assert!(m("abcabcabd", "%abd"));
        assert!(like("HeLLo", "hello", None, true).unwrap());
        assert!(like("x", "x\\", Some('\\'), false).is_err());
        // No exponential blow-up.
        let long = "a".repeat(10_000);
        assert!(!m(&long, "%a%a%a%a%a%a%a%a%b"));
    }

    fn call(name: &str, args: &[Value]) -> Value {
        let f = scalar_function(name).unwrap_or_else(|| panic!("no function {name}"));
        assert!(
            (f.min_args..=f.max_args).contains(&args.len()),
            "{name} arity"
        );
        f.call(args).unwrap()
    }

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn string_functions() {
        assert_eq!(call("UPPER", &[t("héllo")]), t("HÉLLO"));
        assert_eq!(call("length", &[t("héllo")]), i(5));
        assert_eq!(call("octet_length", &[t("héllo")]), i(6));
        assert_eq!(call("substring", &[t("hello"), i(2), i(3)]), t("ell"));
        assert_eq!(call("substring", &[t("hello"), i(0), i(2)]), t("h"));
        assert_eq!(call("substring", &[t("hello"), i(4)]), t("lo"));
        assert_eq!(call("substring", &[t("hello"), i(9)]), t(""));
        assert_eq!(call("trim", &[t("  x  ")]), t("x"));
        assert_eq!(call("ltrim", &[t("xxyx"), t("x")]), t("yx"));
        assert_eq!(call("replace", &[t("a-b-c"), t("-"), t("+")]), t("a+b+c"));
        assert_eq!(call("strpos", &[t("héllo"), t("l")]), i(3));
        assert_eq!(call("left", &[t("hello"), i(-2)]), t("hel"));
        assert_eq!(call("right", &[t("hello"), i(2)]), t("lo"));
        assert_eq!(call("concat", &[t("a"), Value::Null, i(1)]), t("a1"));
        assert_eq!(call("lower", &[Value::Null]), Value::Null);
        assert_eq!(call("coalesce", &[Value::Null, i(2), i(3)]), i(2));
        assert_eq!(call("nullif", &[i(2), i(2)]), Value::Null);
        assert_eq!(
            call("greatest", &[i(2), Value::Null, Value::Real(2.5)]),
            Value::Real(2.5)
        );
    }

    #[test]
    fn math_and_date_functions() {
        assert_eq!(call("abs", &[i(-3)]), i(3));
        assert_eq!(call("round", &[Value::Real(2.5)]), Value::Real(3.0));
        assert_eq!(
            call("round", &[Value::Real(2.345), i(2)]),
            Value::Real(2.35)
        );
        assert_eq!(call("floor", &[Value::Real(-1.5)]), Value::Real(-2.0));
        assert_eq!(call("mod", &[i(7), i(3)]), i(1));
        assert!(scalar_function("sqrt").unwrap().call(&[i(-1)]).is_err());
        let ts = Value::Timestamp(parse_timestamp("2026-11-25 10:30:15.5").unwrap());
        assert_eq!(call("date_part", &[t("year"), ts.clone()]), i(2026));
        assert_eq!(call("date_part", &[t("dow"), ts.clone()]), i(3)); // a Wednesday
        assert_eq!(call("date_part", &[t("doy"), ts.clone()]), i(329));
        assert_eq!(
            call("date_part", &[t("second"), ts.clone()]),
            Value::Real(15.5)
        );
        let day = call("date_trunc", &[t("day"), ts.clone()]);
        assert_eq!(to_text(&day), "2026-11-25 00:00:00");
        assert_eq!(
            to_text(&call("date_trunc", &[t("month"), ts])),
            "2026-11-01 00:00:00"
        );
        assert_eq!(
            to_text(&call("to_timestamp", &[i(0)])),
            "1970-01-01 00:00:00"
        );
        assert!(scalar_function("no_such_fn").is_none());
    }
}

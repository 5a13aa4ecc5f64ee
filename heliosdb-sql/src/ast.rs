//! The SQL syntax tree (PostgreSQL dialect).
//!
//! Every statement, expression and identifier carries the byte range of the text it came
//! from, so the binder can point at the offending text the way parse errors do.
//!
//! `Display` prints SQL that parses back to the same tree (spans aside). Every operator
//! expression is printed inside parentheses, which makes the printed form a readable record
//! of how precedence was resolved; tests compare against it.

use std::fmt::{self, Display, Formatter, Write as _};
use std::ops::Range;

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (bytes).
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both, for nodes built from several tokens.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span as a range, for slicing the source.
    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Span {
        Span {
            start: r.start,
            end: r.end,
        }
    }
}

/// An identifier. Unquoted identifiers are folded to lower case as PostgreSQL does, so
/// `value` is what name lookups compare; quoted ones keep their case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name after case folding.
    pub value: String,
    /// Whether it was written in double quotes.
    pub quoted: bool,
    /// Where it was written.
    pub span: Span,
}

/// A statement with the span of its text (without the trailing `;`).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// What kind of statement it is.
    pub kind: StatementKind,
    /// Its source text.
    pub span: Span,
}

/// The statements the dialect has.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// A query: SELECT, VALUES, set operations, WITH.
    Query(Box<Query>),
    /// INSERT (also SQLite's `INSERT OR REPLACE` and `REPLACE INTO`).
    Insert(Box<Insert>),
    /// UPDATE.
    Update(Box<Update>),
    /// DELETE.
    Delete(Box<Delete>),
    /// CREATE TABLE.
    CreateTable(Box<CreateTable>),
    /// CREATE [UNIQUE] INDEX.
    CreateIndex(Box<CreateIndex>),
    /// CREATE VIEW.
    CreateView(Box<CreateView>),
    /// ALTER TABLE.
    AlterTable(Box<AlterTable>),
    /// DROP TABLE / INDEX / VIEW.
    Drop {
        /// What is dropped.
        object: ObjectKind,
        /// `IF EXISTS`: a missing object is not an error.
        if_exists: bool,
        /// The objects, in order.
        names: Vec<Ident>,
    },
    /// BEGIN [TRANSACTION] / START TRANSACTION.
    Begin,
    /// COMMIT / END.
    Commit,
    /// ROLLBACK.
    Rollback,
    /// EXPLAIN statement.
    Explain(Box<Statement>),
    /// `REINDEX INDEX name` or `REINDEX TABLE name`: rebuilds indexes; for a vector
    /// index, one segment from every live vector (compaction).
    Reindex {
        /// `TABLE` rather than `INDEX`.
        table: bool,
        /// The index or table.
        name: Ident,
    },
    /// SET [SESSION | LOCAL] name {= | TO} value.
    Set {
        /// The (possibly dotted) setting name, e.g. `hnsw.ef_search`.
        name: Vec<Ident>,
        /// `SET LOCAL`: lasts until the end of the transaction.
        local: bool,
        /// The value.
        value: SetValue,
    },
    /// `ALTER DATABASE [name] SET setting {= | TO} value | DEFAULT` (database-wide,
    /// persisted settings such as `history_retention`).
    AlterDatabase {
        /// The setting.
        name: Vec<Ident>,
        /// The value.
        value: SetValue,
    },
    /// SHOW name.
    Show {
        /// The (possibly dotted) setting name; `SHOW ALL` gives `all`.
        name: Vec<Ident>,
    },
}

/// The kind of object a DROP names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// DROP TABLE.
    Table,
    /// DROP INDEX.
    Index,
    /// DROP VIEW.
    View,
}

/// The value of a SET.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// `SET x = DEFAULT` / `SET x TO DEFAULT`: back to the default.
    Default,
    /// One value or a comma-separated list (`SET search_path = a, b`).
    Values(Vec<OptionValue>),
}

/// A value in SET or in `WITH (name = value)`: these are settings, not expressions, so a
/// bare word is a value (`SET search_path TO public`).
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// A number, string or boolean literal.
    Literal(Literal, Span),
    /// A bare word or quoted identifier.
    Word(Ident),
}

/// A query: `[WITH ...] body [ORDER BY ...] [LIMIT ...] [OFFSET ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Common table expressions (non-recursive).
    pub with: Vec<Cte>,
    /// SELECT, VALUES or a set operation.
    pub body: SetExpr,
    /// ORDER BY items.
    pub order_by: Vec<OrderByItem>,
    /// LIMIT; `None` for no limit or `LIMIT ALL`.
    pub limit: Option<Expr>,
    /// OFFSET.
    pub offset: Option<Expr>,
    /// Its source text.
    pub span: Span,
}

/// `name [(columns)] AS (query)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    /// The name the query is visible under.
    pub name: Ident,
    /// Column names that replace the query's own.
    pub columns: Vec<Ident>,
    /// The query.
    pub query: Box<Query>,
    /// Its source text.
    pub span: Span,
}

/// The body of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum SetExpr {
    /// A SELECT block.
    Select(Box<Select>),
    /// `VALUES (...), (...)`.
    Values(Values),
    /// A parenthesized query, which may have its own ORDER BY and LIMIT.
    Query(Box<Query>),
    /// UNION / INTERSECT / EXCEPT.
    SetOperation {
        /// Which operation.
        op: SetOperator,
        /// `ALL`: keep duplicates.
        all: bool,
        /// Left input.
        left: Box<SetExpr>,
        /// Right input.
        right: Box<SetExpr>,
        /// Its source text.
        span: Span,
    },
}

/// A set operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOperator {
    /// UNION.
    Union,
    /// INTERSECT (binds tighter than the others).
    Intersect,
    /// EXCEPT.
    Except,
}

/// `VALUES (...), (...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    /// The rows; the parser does not check that they have the same length.
    pub rows: Vec<Vec<Expr>>,
    /// Its source text.
    pub span: Span,
}

/// One SELECT block.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// `SELECT DISTINCT`.
    pub distinct: bool,
    /// The select list.
    pub items: Vec<SelectItem>,
    /// FROM items; several are a cross join.
    pub from: Vec<TableRef>,
    /// WHERE.
    pub selection: Option<Expr>,
    /// GROUP BY.
    pub group_by: Vec<Expr>,
    /// HAVING.
    pub having: Option<Expr>,
    /// Its source text.
    pub span: Span,
}

/// An item of a select list or of RETURNING.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `expr [[AS] alias]`.
    Expr {
        /// The expression.
        expr: Expr,
        /// Its output name, when given.
        alias: Option<Ident>,
    },
    /// `*`.
    Wildcard(Span),
    /// `t.*`.
    QualifiedWildcard(Ident, Span),
}

/// An item of FROM.
#[derive(Debug, Clone, PartialEq)]
pub enum TableRef {
    /// A table, view or CTE by name.
    Table {
        /// Its name.
        name: Ident,
        /// Its alias.
        alias: Option<TableAlias>,
        /// `AS OF …`, `FOR SYSTEM_TIME …` or `VERSIONS BETWEEN …`.
        time: Option<Box<TimeTravel>>,
        /// Its source text.
        span: Span,
    },
    /// A table function: `name(args) [[AS] alias]`.
    Function {
        /// Its name.
        name: Ident,
        /// Its arguments.
        args: Vec<Expr>,
        /// Its alias.
        alias: Option<TableAlias>,
        /// Its source text.
        span: Span,
    },
    /// `(query) [AS] alias`.
    Subquery {
        /// The query.
        query: Box<Query>,
        /// Its alias (PostgreSQL 16 made it optional).
        alias: Option<TableAlias>,
        /// Its source text.
        span: Span,
    },
    /// A join of two items.
    Join {
        /// Left input.
        left: Box<TableRef>,
        /// Right input.
        right: Box<TableRef>,
        /// INNER, LEFT, ...
        kind: JoinKind,
        /// ON / USING.
        constraint: JoinConstraint,
        /// Its source text.
        span: Span,
    },
}

/// Which past state of a table a reference reads.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeTravel {
    /// `AS OF point` (also `FOR SYSTEM_TIME AS OF point`): the table as it was then.
    AsOf(TimePoint),
    /// `VERSIONS BETWEEN a AND b` (also `FOR SYSTEM_TIME BETWEEN a AND b`): every version
    /// valid at some time in the window, with validity columns.
    Versions { from: TimePoint, to: TimePoint },
}

/// A point in a table's history.
#[derive(Debug, Clone, PartialEq)]
pub enum TimePoint {
    /// `TIMESTAMP expr`.
    Timestamp(Expr),
    /// `TRANSACTION expr`: just after the commit with that id.
    Transaction(Expr),
}

impl Display for TimePoint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TimePoint::Timestamp(e) => write!(f, "TIMESTAMP {e}"),
            TimePoint::Transaction(e) => write!(f, "TRANSACTION {e}"),
        }
    }
}

impl Display for TimeTravel {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TimeTravel::AsOf(p) => write!(f, " AS OF {p}"),
            TimeTravel::Versions { from, to } => write!(f, " VERSIONS BETWEEN {from} AND {to}"),
        }
    }
}

impl TableRef {
    /// Its source text.
    pub fn span(&self) -> Span {
        match self {
            TableRef::Table { span, .. }
            | TableRef::Function { span, .. }
            | TableRef::Subquery { span, .. }
            | TableRef::Join { span, .. } => *span,
        }
    }
}

/// `[AS] name [(columns)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableAlias {
    /// The alias.
    pub name: Ident,
    /// Column aliases.
    pub columns: Vec<Ident>,
}

/// The kind of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// `[INNER] JOIN`.
    Inner,
    /// `LEFT [OUTER] JOIN`.
    Left,
    /// `RIGHT [OUTER] JOIN` (parsed; the planner may refuse it).
    Right,
    /// `FULL [OUTER] JOIN` (parsed; the planner may refuse it).
    Full,
    /// `CROSS JOIN`.
    Cross,
}

/// The condition of a join.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinConstraint {
    /// `ON expr`.
    On(Expr),
    /// `USING (columns)`.
    Using(Vec<Ident>),
    /// None (CROSS JOIN).
    None,
}

/// `expr [ASC | DESC] [NULLS FIRST | LAST]`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderByItem {
    /// The key; an integer literal is an output column's ordinal.
    pub expr: Expr,
    /// `Some(true)` for ASC, `Some(false)` for DESC, `None` when not written.
    pub asc: Option<bool>,
    /// `Some(true)` for NULLS FIRST, `Some(false)` for NULLS LAST, `None` when not
    /// written (PostgreSQL then puts NULLs last ascending and first descending).
    pub nulls_first: Option<bool>,
}

/// INSERT.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    /// Target table.
    pub table: Ident,
    /// Target columns; empty means all, in order.
    pub columns: Vec<Ident>,
    /// The rows.
    pub source: InsertSource,
    /// What a conflict with a key or unique index does.
    pub on_conflict: Option<OnConflict>,
    /// RETURNING items.
    pub returning: Vec<SelectItem>,
}

/// Where INSERT's rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertSource {
    /// VALUES or a SELECT (VALUES rows may contain [`ExprKind::Default`]).
    Query(Box<Query>),
    /// `DEFAULT VALUES`.
    DefaultValues,
}

/// `ON CONFLICT [(columns)] DO ...`, or SQLite's `OR REPLACE` / `OR IGNORE`.
#[derive(Debug, Clone, PartialEq)]
pub struct OnConflict {
    /// Conflict target columns; empty means any key or unique index.
    pub target: Vec<Ident>,
    /// What to do.
    pub action: ConflictAction,
    /// Its source text.
    pub span: Span,
}

/// What a conflicting insert does.
#[derive(Debug, Clone, PartialEq)]
pub enum ConflictAction {
    /// `DO NOTHING` (also SQLite's `INSERT OR IGNORE`).
    Nothing,
    /// `DO UPDATE SET ... [WHERE ...]`; `excluded.col` names the proposed row.
    Update {
        /// The assignments.
        assignments: Vec<Assignment>,
        /// Only update rows for which this holds.
        selection: Option<Expr>,
    },
    /// SQLite's `INSERT OR REPLACE` / `REPLACE INTO`: delete every row the new row
    /// conflicts with, then insert it.
    Replace,
}

/// `column = expr` in UPDATE and ON CONFLICT DO UPDATE.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The column.
    pub column: Ident,
    /// The value ([`ExprKind::Default`] for `DEFAULT`).
    pub value: Expr,
}

/// UPDATE.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// Target table.
    pub table: Ident,
    /// The assignments, in order (a column may repeat; the last one wins in SQLite).
    pub assignments: Vec<Assignment>,
    /// WHERE.
    pub selection: Option<Expr>,
    /// RETURNING items.
    pub returning: Vec<SelectItem>,
}

/// DELETE.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    /// Target table.
    pub table: Ident,
    /// WHERE.
    pub selection: Option<Expr>,
    /// RETURNING items.
    pub returning: Vec<SelectItem>,
}

/// CREATE TABLE.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// Table name.
    pub name: Ident,
    /// Columns, in order.
    pub columns: Vec<ColumnDef>,
    /// Table constraints.
    pub constraints: Vec<TableConstraint>,
    /// `WITH (name = value, ...)` storage options.
    pub options: Vec<SqlOption>,
}

/// A column definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Column name.
    pub name: Ident,
    /// Its type.
    pub data_type: DataType,
    /// Its constraints, in order.
    pub constraints: Vec<ColumnConstraint>,
    /// Its source text.
    pub span: Span,
}

/// A column constraint, optionally named (`CONSTRAINT name ...`).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnConstraint {
    /// The constraint's name.
    pub name: Option<Ident>,
    /// What it requires.
    pub kind: ColumnConstraintKind,
    /// Its source text.
    pub span: Span,
}

/// What a column constraint requires.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnConstraintKind {
    /// PRIMARY KEY.
    PrimaryKey,
    /// NOT NULL.
    NotNull,
    /// NULL (explicitly nullable).
    Null,
    /// UNIQUE.
    Unique,
    /// DEFAULT expr.
    Default(Expr),
    /// CHECK (expr).
    Check(Expr),
}

/// A table constraint, optionally named.
#[derive(Debug, Clone, PartialEq)]
pub struct TableConstraint {
    /// The constraint's name.
    pub name: Option<Ident>,
    /// What it requires.
    pub kind: TableConstraintKind,
    /// Its source text.
    pub span: Span,
}

/// What a table constraint requires.
#[derive(Debug, Clone, PartialEq)]
pub enum TableConstraintKind {
    /// PRIMARY KEY (columns).
    PrimaryKey(Vec<Ident>),
    /// UNIQUE (columns).
    Unique(Vec<Ident>),
    /// CHECK (expr).
    Check(Expr),
}

/// `name = value` in `WITH (...)`; the name may be dotted.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlOption {
    /// Option name.
    pub name: Vec<Ident>,
    /// Its value; `None` when only the name is given (a boolean option set to true).
    pub value: Option<OptionValue>,
}

/// CREATE [UNIQUE] INDEX.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateIndex {
    /// UNIQUE.
    pub unique: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// Index name (PostgreSQL allows leaving it out and makes one up).
    pub name: Option<Ident>,
    /// Table.
    pub table: Ident,
    /// `USING method`, e.g. `hnsw`.
    pub method: Option<Ident>,
    /// Indexed columns or expressions.
    pub columns: Vec<IndexColumn>,
    /// `WITH (name = value, ...)`, e.g. `m = 16`.
    pub options: Vec<SqlOption>,
}

/// An indexed column or expression.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexColumn {
    /// A column reference or, in parentheses, an expression.
    pub expr: Expr,
    /// Operator class, e.g. `vector_l2_ops`.
    pub opclass: Option<Ident>,
    /// ASC/DESC as in [`OrderByItem::asc`].
    pub asc: Option<bool>,
    /// NULLS FIRST/LAST as in [`OrderByItem::nulls_first`].
    pub nulls_first: Option<bool>,
}

/// CREATE VIEW.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateView {
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// View name.
    pub name: Ident,
    /// Column names that replace the query's own.
    pub columns: Vec<Ident>,
    /// The query.
    pub query: Box<Query>,
}

/// ALTER TABLE.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterTable {
    /// Table.
    pub table: Ident,
    /// What changes.
    pub action: AlterTableAction,
}

/// What ALTER TABLE changes.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterTableAction {
    /// `ADD [COLUMN] [IF NOT EXISTS] coldef`.
    AddColumn {
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// The new column.
        column: ColumnDef,
    },
    /// `RENAME TO name`.
    RenameTable(Ident),
    /// `RENAME [COLUMN] old TO new`.
    RenameColumn {
        /// Old name.
        old: Ident,
        /// New name.
        new: Ident,
    },
    /// `ALTER [COLUMN] c SET COMPRESSION fsst | lz4 | none`.
    SetCompression {
        /// The column.
        column: Ident,
        /// The codec, lower-case: `fsst`, `lz4` or `none`.
        compression: String,
    },
}

/// A type name as written, with the type it denotes.
#[derive(Debug, Clone, PartialEq)]
pub struct DataType {
    /// The type.
    pub kind: TypeKind,
    /// The text as written (`character varying(10)`), for messages and column listings.
    pub text: String,
    /// Where it was written.
    pub span: Span,
}

/// The types the dialect names. Several map to one storage type; they are kept apart so
/// the binder can apply PostgreSQL's rules (REAL is float4, `int2` ranges, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// SMALLINT / INT2.
    SmallInt,
    /// INTEGER / INT / INT4.
    Integer,
    /// BIGINT / INT8.
    BigInt,
    /// REAL / FLOAT4 / FLOAT(p ≤ 24).
    Real,
    /// DOUBLE PRECISION / FLOAT8 / FLOAT.
    Double,
    /// NUMERIC / DECIMAL [(precision[, scale])].
    Numeric {
        /// Total digits.
        precision: Option<u32>,
        /// Digits after the point.
        scale: Option<u32>,
    },
    /// TEXT.
    Text,
    /// VARCHAR / CHARACTER VARYING [(n)].
    Varchar(Option<u32>),
    /// CHAR / CHARACTER [(n)].
    Char(Option<u32>),
    /// BYTEA / BLOB.
    Blob,
    /// BOOLEAN / BOOL.
    Boolean,
    /// TIMESTAMP [WITHOUT TIME ZONE].
    Timestamp,
    /// TIMESTAMPTZ / TIMESTAMP WITH TIME ZONE.
    TimestampTz,
    /// VECTOR [(dimension)] (pgvector).
    Vector(Option<u32>),
}

/// An expression with its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Its source text, including any parentheses around it.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal.
    Literal(Literal),
    /// `type 'text'`, e.g. `TIMESTAMP '2026-11-25 10:00:00'`: a string cast at bind time.
    TypedString {
        /// The type.
        data_type: DataType,
        /// The text.
        value: String,
    },
    /// `column` or `table.column`.
    Column {
        /// The qualifier.
        table: Option<Ident>,
        /// The column.
        column: Ident,
    },
    /// `$n` (1-based).
    Parameter(u32),
    /// A prefix operator.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// A binary operator.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `expr IS [NOT] NULL`, `ISNULL`, `NOTNULL`.
    IsNull {
        /// The operand.
        expr: Box<Expr>,
        /// `IS NOT NULL` / `NOTNULL`.
        negated: bool,
    },
    /// `expr IS [NOT] TRUE | FALSE | UNKNOWN`.
    IsTruth {
        /// The operand.
        expr: Box<Expr>,
        /// `Some(b)` for TRUE/FALSE, `None` for UNKNOWN.
        value: Option<bool>,
        /// `IS NOT`.
        negated: bool,
    },
    /// `left IS [NOT] DISTINCT FROM right`.
    IsDistinctFrom {
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
        /// `IS NOT DISTINCT FROM`.
        negated: bool,
    },
    /// `expr [NOT] BETWEEN low AND high`.
    Between {
        /// The operand.
        expr: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
        /// NOT BETWEEN.
        negated: bool,
    },
    /// `expr [NOT] IN (list)`.
    InList {
        /// The operand.
        expr: Box<Expr>,
        /// The list (never empty in PostgreSQL syntax).
        list: Vec<Expr>,
        /// NOT IN.
        negated: bool,
    },
    /// `expr [NOT] IN (query)`.
    InSubquery {
        /// The operand.
        expr: Box<Expr>,
        /// The query.
        query: Box<Query>,
        /// NOT IN.
        negated: bool,
    },
    /// `expr [NOT] LIKE | ILIKE pattern [ESCAPE escape]`.
    Like {
        /// The operand.
        expr: Box<Expr>,
        /// The pattern.
        pattern: Box<Expr>,
        /// The escape character.
        escape: Option<Box<Expr>>,
        /// NOT LIKE.
        negated: bool,
        /// ILIKE.
        case_insensitive: bool,
    },
    /// `CAST(expr AS type)` or `expr::type`.
    Cast {
        /// The operand.
        expr: Box<Expr>,
        /// The target type.
        data_type: DataType,
    },
    /// `CASE [operand] WHEN ... THEN ... [ELSE ...] END`.
    Case {
        /// The operand of a simple CASE.
        operand: Option<Box<Expr>>,
        /// `(WHEN, THEN)` pairs, at least one.
        branches: Vec<(Expr, Expr)>,
        /// ELSE.
        else_result: Option<Box<Expr>>,
    },
    /// A function or aggregate call.
    Function(Box<FunctionCall>),
    /// A scalar subquery.
    Subquery(Box<Query>),
    /// `EXISTS (query)`.
    Exists(Box<Query>),
    /// `DEFAULT`, allowed only as an INSERT VALUES item or an UPDATE value.
    Default,
}

/// `name(args)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionCall {
    /// The function's name (folded like any identifier).
    pub name: Ident,
    /// Arguments.
    pub args: FunctionArgs,
    /// `f(DISTINCT x)`.
    pub distinct: bool,
}

/// A function's arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionArgs {
    /// `count(*)`.
    Star,
    /// A list, possibly empty.
    List(Vec<Expr>),
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// NULL.
    Null,
    /// TRUE / FALSE.
    Boolean(bool),
    /// An integer that fits in `i64`.
    Integer(i64),
    /// Any other number (`1.5`, `1e3`, `.5`, an integer beyond `i64`), as written:
    /// PostgreSQL types these `numeric`, and the binder decides what they become.
    Numeric(String),
    /// A string (`'it''s'` is `it's`). Vector literals are strings until a cast.
    String(String),
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// NOT.
    Not,
    /// `-`.
    Minus,
    /// `+`.
    Plus,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// OR.
    Or,
    /// AND.
    And,
    /// `=`.
    Eq,
    /// `<>` or `!=`.
    NotEq,
    /// `<`.
    Lt,
    /// `<=`.
    LtEq,
    /// `>`.
    Gt,
    /// `>=`.
    GtEq,
    /// `+`.
    Plus,
    /// `-`.
    Minus,
    /// `*`.
    Multiply,
    /// `/`.
    Divide,
    /// `%`.
    Modulo,
    /// `^` (PostgreSQL's power operator, left-associative).
    Power,
    /// `||`.
    Concat,
    /// `<->`: pgvector's Euclidean distance.
    L2Distance,
    /// `<=>`: pgvector's cosine distance.
    CosineDistance,
    /// `<#>`: pgvector's negative inner product.
    NegativeInnerProduct,
    /// `&`.
    BitAnd,
    /// `|`.
    BitOr,
    /// `#` (PostgreSQL's bitwise XOR).
    BitXor,
    /// `<<`.
    ShiftLeft,
    /// `>>`.
    ShiftRight,
}

impl BinaryOp {
    /// The operator as written in SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Plus => "+",
            BinaryOp::Minus => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
            BinaryOp::Power => "^",
            BinaryOp::Concat => "||",
            BinaryOp::L2Distance => "<->",
            BinaryOp::CosineDistance => "<=>",
            BinaryOp::NegativeInnerProduct => "<#>",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitOr => "|",
            BinaryOp::BitXor => "#",
            BinaryOp::ShiftLeft => "<<",
            BinaryOp::ShiftRight => ">>",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Display: SQL text that parses back to the same tree.

/// Words that must be quoted to be read back as identifiers.
fn needs_quotes(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_lowercase());
    !first_ok
        || !s
            .chars()
            .all(|c| c == '_' || c == '$' || c.is_ascii_lowercase() || c.is_ascii_digit())
        || crate::parser::is_reserved(s)
}

impl Display for Ident {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if needs_quotes(&self.value) {
            f.write_char('"')?;
            f.write_str(&self.value.replace('"', "\"\""))?;
            f.write_char('"')
        } else {
            f.write_str(&self.value)
        }
    }
}

/// Writes items separated by `", "`.
fn comma<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

fn dotted(f: &mut Formatter<'_>, name: &[Ident]) -> fmt::Result {
    for (i, part) in name.iter().enumerate() {
        if i > 0 {
            f.write_char('.')?;
        }
        write!(f, "{part}")?;
    }
    Ok(())
}

fn returning(f: &mut Formatter<'_>, items: &[SelectItem]) -> fmt::Result {
    if !items.is_empty() {
        f.write_str(" RETURNING ")?;
        comma(f, items)?;
    }
    Ok(())
}

fn options(f: &mut Formatter<'_>, opts: &[SqlOption]) -> fmt::Result {
    if !opts.is_empty() {
        f.write_str(" WITH (")?;
        comma(f, opts)?;
        f.write_char(')')?;
    }
    Ok(())
}

fn order(f: &mut Formatter<'_>, asc: Option<bool>, nulls_first: Option<bool>) -> fmt::Result {
    match asc {
        Some(true) => f.write_str(" ASC")?,
        Some(false) => f.write_str(" DESC")?,
        None => {}
    }
    match nulls_first {
        Some(true) => f.write_str(" NULLS FIRST"),
        Some(false) => f.write_str(" NULLS LAST"),
        None => Ok(()),
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)
    }
}

impl Display for StatementKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            StatementKind::Query(q) => write!(f, "{q}"),
            StatementKind::Insert(i) => write!(f, "{i}"),
            StatementKind::Update(u) => {
                write!(f, "UPDATE {} SET ", u.table)?;
                comma(f, &u.assignments)?;
                if let Some(w) = &u.selection {
                    write!(f, " WHERE {w}")?;
                }
                returning(f, &u.returning)
            }
            StatementKind::Delete(d) => {
                write!(f, "DELETE FROM {}", d.table)?;
                if let Some(w) = &d.selection {
                    write!(f, " WHERE {w}")?;
                }
                returning(f, &d.returning)
            }
            StatementKind::CreateTable(t) => write!(f, "{t}"),
            StatementKind::CreateIndex(i) => write!(f, "{i}"),
            StatementKind::CreateView(v) => {
                f.write_str("CREATE ")?;
                if v.or_replace {
                    f.write_str("OR REPLACE ")?;
                }
                write!(f, "VIEW {}", v.name)?;
                if !v.columns.is_empty() {
                    f.write_str(" (")?;
                    comma(f, &v.columns)?;
                    f.write_char(')')?;
                }
                write!(f, " AS {}", v.query)
            }
            StatementKind::AlterTable(a) => {
                write!(f, "ALTER TABLE {} ", a.table)?;
                match &a.action {
                    AlterTableAction::AddColumn {
                        if_not_exists,
                        column,
                    } => {
                        f.write_str("ADD COLUMN ")?;
                        if *if_not_exists {
                            f.write_str("IF NOT EXISTS ")?;
                        }
                        write!(f, "{column}")
                    }
                    AlterTableAction::RenameTable(to) => write!(f, "RENAME TO {to}"),
                    AlterTableAction::RenameColumn { old, new } => {
                        write!(f, "RENAME COLUMN {old} TO {new}")
                    }
                    AlterTableAction::SetCompression {
                        column,
                        compression,
                    } => write!(f, "ALTER COLUMN {column} SET COMPRESSION {compression}"),
                }
            }
            StatementKind::Drop {
                object,
                if_exists,
                names,
            } => {
                let what = match object {
                    ObjectKind::Table => "TABLE",
                    ObjectKind::Index => "INDEX",
                    ObjectKind::View => "VIEW",
                };
                write!(f, "DROP {what} ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                comma(f, names)
            }
            StatementKind::Begin => f.write_str("BEGIN"),
            StatementKind::Commit => f.write_str("COMMIT"),
            StatementKind::Rollback => f.write_str("ROLLBACK"),
            StatementKind::Explain(s) => write!(f, "EXPLAIN {s}"),
            StatementKind::Reindex { table, name } => write!(
                f,
                "REINDEX {} {}",
                if *table { "TABLE" } else { "INDEX" },
                name
            ),
            StatementKind::Set { name, local, value } => {
                f.write_str(if *local { "SET LOCAL " } else { "SET " })?;
                dotted(f, name)?;
                f.write_str(" = ")?;
                match value {
                    SetValue::Default => f.write_str("DEFAULT"),
                    SetValue::Values(v) => comma(f, v),
                }
            }
            StatementKind::AlterDatabase { name, value } => {
                f.write_str("ALTER DATABASE SET ")?;
                dotted(f, name)?;
                f.write_str(" = ")?;
                match value {
                    SetValue::Default => f.write_str("DEFAULT"),
                    SetValue::Values(v) => comma(f, v),
                }
            }
            StatementKind::Show { name } => {
                f.write_str("SHOW ")?;
                dotted(f, name)
            }
        }
    }
}

impl Display for OptionValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Literal(l, _) => write!(f, "{l}"),
            OptionValue::Word(w) => write!(f, "{w}"),
        }
    }
}

impl Display for SqlOption {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        dotted(f, &self.name)?;
        match &self.value {
            Some(v) => write!(f, " = {v}"),
            None => Ok(()),
        }
    }
}

impl Display for Insert {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let replace = matches!(
            &self.on_conflict,
            Some(OnConflict {
                action: ConflictAction::Replace,
                ..
            })
        );
        if replace {
            f.write_str("INSERT OR REPLACE INTO ")?;
        } else {
            f.write_str("INSERT INTO ")?;
        }
        write!(f, "{}", self.table)?;
        if !self.columns.is_empty() {
            f.write_str(" (")?;
            comma(f, &self.columns)?;
            f.write_char(')')?;
        }
        match &self.source {
            InsertSource::Query(q) => write!(f, " {q}")?,
            InsertSource::DefaultValues => f.write_str(" DEFAULT VALUES")?,
        }
        if let Some(oc) = &self.on_conflict
            && !replace
        {
            f.write_str(" ON CONFLICT")?;
            if !oc.target.is_empty() {
                f.write_str(" (")?;
                comma(f, &oc.target)?;
                f.write_char(')')?;
            }
            match &oc.action {
                ConflictAction::Nothing => f.write_str(" DO NOTHING")?,
                ConflictAction::Update {
                    assignments,
                    selection,
                } => {
                    f.write_str(" DO UPDATE SET ")?;
                    comma(f, assignments)?;
                    if let Some(w) = selection {
                        write!(f, " WHERE {w}")?;
                    }
                }
                ConflictAction::Replace => {}
            }
        }
        returning(f, &self.returning)
    }
}

impl Display for Assignment {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.column, self.value)
    }
}

impl Display for CreateTable {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("CREATE TABLE ")?;
        if self.if_not_exists {
            f.write_str("IF NOT EXISTS ")?;
        }
        write!(f, "{} (", self.name)?;
        comma(f, &self.columns)?;
        for c in &self.constraints {
            write!(f, ", {c}")?;
        }
        f.write_char(')')?;
        options(f, &self.options)
    }
}

impl Display for ColumnDef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.data_type)?;
        for c in &self.constraints {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

impl Display for ColumnConstraint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.name {
            write!(f, "CONSTRAINT {n} ")?;
        }
        match &self.kind {
            ColumnConstraintKind::PrimaryKey => f.write_str("PRIMARY KEY"),
            ColumnConstraintKind::NotNull => f.write_str("NOT NULL"),
            ColumnConstraintKind::Null => f.write_str("NULL"),
            ColumnConstraintKind::Unique => f.write_str("UNIQUE"),
            ColumnConstraintKind::Default(e) => write!(f, "DEFAULT {e}"),
            ColumnConstraintKind::Check(e) => write!(f, "CHECK ({e})"),
        }
    }
}

impl Display for TableConstraint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.name {
            write!(f, "CONSTRAINT {n} ")?;
        }
        match &self.kind {
            TableConstraintKind::PrimaryKey(cols) => {
                f.write_str("PRIMARY KEY (")?;
                comma(f, cols)?;
                f.write_char(')')
            }
            TableConstraintKind::Unique(cols) => {
                f.write_str("UNIQUE (")?;
                comma(f, cols)?;
                f.write_char(')')
            }
            TableConstraintKind::Check(e) => write!(f, "CHECK ({e})"),
        }
    }
}

impl Display for CreateIndex {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.unique {
            "CREATE UNIQUE INDEX "
        } else {
            "CREATE INDEX "
        })?;
        if self.if_not_exists {
            f.write_str("IF NOT EXISTS ")?;
        }
        if let Some(n) = &self.name {
            write!(f, "{n} ")?;
        }
        write!(f, "ON {}", self.table)?;
        if let Some(m) = &self.method {
            write!(f, " USING {m}")?;
        }
        f.write_str(" (")?;
        comma(f, &self.columns)?;
        f.write_char(')')?;
        options(f, &self.options)
    }
}

impl Display for IndexColumn {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.expr.kind {
            ExprKind::Column { .. } | ExprKind::Function(_) => write!(f, "{}", self.expr)?,
            _ => write!(f, "({})", self.expr)?,
        }
        if let Some(o) = &self.opclass {
            write!(f, " {o}")?;
        }
        order(f, self.asc, self.nulls_first)
    }
}

impl Display for DataType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let n = |f: &mut Formatter<'_>, name: &str, len: Option<u32>| match len {
            Some(l) => write!(f, "{name}({l})"),
            None => f.write_str(name),
        };
        match self.kind {
            TypeKind::SmallInt => f.write_str("SMALLINT"),
            TypeKind::Integer => f.write_str("INTEGER"),
            TypeKind::BigInt => f.write_str("BIGINT"),
            TypeKind::Real => f.write_str("REAL"),
            TypeKind::Double => f.write_str("DOUBLE PRECISION"),
            TypeKind::Numeric { precision, scale } => match (precision, scale) {
                (Some(p), Some(s)) => write!(f, "NUMERIC({p}, {s})"),
                (p, _) => n(f, "NUMERIC", p),
            },
            TypeKind::Text => f.write_str("TEXT"),
            TypeKind::Varchar(l) => n(f, "VARCHAR", l),
            TypeKind::Char(l) => n(f, "CHAR", l),
            TypeKind::Blob => f.write_str("BYTEA"),
            TypeKind::Boolean => f.write_str("BOOLEAN"),
            TypeKind::Timestamp => f.write_str("TIMESTAMP"),
            TypeKind::TimestampTz => f.write_str("TIMESTAMPTZ"),
            TypeKind::Vector(d) => n(f, "VECTOR", d),
        }
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.with.is_empty() {
            f.write_str("WITH ")?;
            comma(f, &self.with)?;
            f.write_char(' ')?;
        }
        write!(f, "{}", self.body)?;
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            comma(f, &self.order_by)?;
        }
        if let Some(l) = &self.limit {
            write!(f, " LIMIT {l}")?;
        }
        if let Some(o) = &self.offset {
            write!(f, " OFFSET {o}")?;
        }
        Ok(())
    }
}

impl Display for Cte {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if !self.columns.is_empty() {
            f.write_str(" (")?;
            comma(f, &self.columns)?;
            f.write_char(')')?;
        }
        write!(f, " AS ({})", self.query)
    }
}

impl Display for SetExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SetExpr::Select(s) => write!(f, "{s}"),
            SetExpr::Values(v) => write!(f, "{v}"),
            SetExpr::Query(q) => write!(f, "({q})"),
            SetExpr::SetOperation {
                op,
                all,
                left,
                right,
                ..
            } => {
                let op = match op {
                    SetOperator::Union => "UNION",
                    SetOperator::Intersect => "INTERSECT",
                    SetOperator::Except => "EXCEPT",
                };
                let all = if *all { " ALL" } else { "" };
                // Nested set operations print in parentheses so precedence is explicit.
                let side = |f: &mut Formatter<'_>, e: &SetExpr| match e {
                    SetExpr::SetOperation { .. } => write!(f, "({e})"),
                    _ => write!(f, "{e}"),
                };
                side(f, left)?;
                write!(f, " {op}{all} ")?;
                side(f, right)
            }
        }
    }
}

impl Display for Values {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("VALUES ")?;
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_char('(')?;
            comma(f, row)?;
            f.write_char(')')?;
        }
        Ok(())
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        })?;
        comma(f, &self.items)?;
        if !self.from.is_empty() {
            f.write_str(" FROM ")?;
            comma(f, &self.from)?;
        }
        if let Some(w) = &self.selection {
            write!(f, " WHERE {w}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            comma(f, &self.group_by)?;
        }
        if let Some(h) = &self.having {
            write!(f, " HAVING {h}")?;
        }
        Ok(())
    }
}

impl Display for SelectItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SelectItem::Expr { expr, alias } => {
                write!(f, "{expr}")?;
                if let Some(a) = alias {
                    write!(f, " AS {a}")?;
                }
                Ok(())
            }
            SelectItem::Wildcard(_) => f.write_char('*'),
            SelectItem::QualifiedWildcard(t, _) => write!(f, "{t}.*"),
        }
    }
}

impl Display for TableAlias {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, " AS {}", self.name)?;
        if !self.columns.is_empty() {
            f.write_str(" (")?;
            comma(f, &self.columns)?;
            f.write_char(')')?;
        }
        Ok(())
    }
}

impl Display for TableRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TableRef::Table {
                name, alias, time, ..
            } => {
                write!(f, "{name}")?;
                if let Some(t) = time {
                    write!(f, "{t}")?;
                }
                if let Some(a) = alias {
                    write!(f, "{a}")?;
                }
                Ok(())
            }
            TableRef::Function {
                name, args, alias, ..
            } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')?;
                if let Some(a) = alias {
                    write!(f, "{a}")?;
                }
                Ok(())
            }
            TableRef::Subquery { query, alias, .. } => {
                write!(f, "({query})")?;
                if let Some(a) = alias {
                    write!(f, "{a}")?;
                }
                Ok(())
            }
            TableRef::Join {
                left,
                right,
                kind,
                constraint,
                ..
            } => {
                let kw = match kind {
                    JoinKind::Inner => "JOIN",
                    JoinKind::Left => "LEFT JOIN",
                    JoinKind::Right => "RIGHT JOIN",
                    JoinKind::Full => "FULL JOIN",
                    JoinKind::Cross => "CROSS JOIN",
                };
                write!(f, "{left} {kw} ")?;
                // Joins are left-deep; a join on the right was parenthesized.
                if matches!(**right, TableRef::Join { .. }) {
                    write!(f, "({right})")?;
                } else {
                    write!(f, "{right}")?;
                }
                match constraint {
                    JoinConstraint::On(e) => write!(f, " ON {e}"),
                    JoinConstraint::Using(cols) => {
                        f.write_str(" USING (")?;
                        comma(f, cols)?;
                        f.write_char(')')
                    }
                    JoinConstraint::None => Ok(()),
                }
            }
        }
    }
}

impl Display for OrderByItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        order(f, self.asc, self.nulls_first)
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Boolean(true) => f.write_str("TRUE"),
            Literal::Boolean(false) => f.write_str("FALSE"),
            Literal::Integer(i) => write!(f, "{i}"),
            Literal::Numeric(s) => f.write_str(s),
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)
    }
}

impl Display for ExprKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let not = |negated: bool| if negated { "NOT " } else { "" };
        match self {
            // A negative number prints in parentheses so `- -1` does not read as a comment.
            ExprKind::Literal(l @ Literal::Integer(i)) if *i < 0 => write!(f, "({l})"),
            ExprKind::Literal(l) => write!(f, "{l}"),
            ExprKind::TypedString { data_type, value } => {
                write!(f, "{data_type} {}", Literal::String(value.clone()))
            }
            ExprKind::Column { table, column } => match table {
                Some(t) => write!(f, "{t}.{column}"),
                None => write!(f, "{column}"),
            },
            ExprKind::Parameter(n) => write!(f, "${n}"),
            ExprKind::Unary { op, expr } => match op {
                UnaryOp::Not => write!(f, "(NOT {expr})"),
                UnaryOp::Minus => write!(f, "(- {expr})"),
                UnaryOp::Plus => write!(f, "(+ {expr})"),
            },
            ExprKind::Binary { op, left, right } => {
                write!(f, "({left} {} {right})", op.as_str())
            }
            ExprKind::IsNull { expr, negated } => write!(f, "({expr} IS {}NULL)", not(*negated)),
            ExprKind::IsTruth {
                expr,
                value,
                negated,
            } => {
                let v = match value {
                    Some(true) => "TRUE",
                    Some(false) => "FALSE",
                    None => "UNKNOWN",
                };
                write!(f, "({expr} IS {}{v})", not(*negated))
            }
            ExprKind::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                write!(f, "({left} IS {}DISTINCT FROM {right})", not(*negated))
            }
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                write!(f, "({expr} {}BETWEEN {low} AND {high})", not(*negated))
            }
            ExprKind::InList {
                expr,
                list,
                negated,
            } => {
                write!(f, "({expr} {}IN (", not(*negated))?;
                comma(f, list)?;
                f.write_str("))")
            }
            ExprKind::InSubquery {
                expr,
                query,
                negated,
            } => {
                write!(f, "({expr} {}IN ({query}))", not(*negated))
            }
            ExprKind::Like {
                expr,
                pattern,
                escape,
                negated,
                case_insensitive,
            } => {
                let op = if *case_insensitive { "ILIKE" } else { "LIKE" };
                write!(f, "({expr} {}{op} {pattern}", not(*negated))?;
                if let Some(e) = escape {
                    write!(f, " ESCAPE {e}")?;
                }
                f.write_char(')')
            }
            ExprKind::Cast { expr, data_type } => write!(f, "CAST({expr} AS {data_type})"),
            ExprKind::Case {
                operand,
                branches,
                else_result,
            } => {
                f.write_str("CASE")?;
                if let Some(o) = operand {
                    write!(f, " {o}")?;
                }
                for (w, t) in branches {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = else_result {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END")
            }
            ExprKind::Function(call) => {
                let special = [
                    "current_timestamp",
                    "current_date",
                    "current_time",
                    "localtimestamp",
                    "localtime",
                ];
                let bare = !call.name.quoted;
                if bare && special.contains(&call.name.value.as_str()) {
                    return f.write_str(&call.name.value.to_ascii_uppercase());
                }
                // An unquoted name prints as written: `left(...)` is a function call even
                // though `left` is reserved.
                if bare {
                    write!(f, "{}(", call.name.value)?;
                } else {
                    write!(f, "{}(", call.name)?;
                }
                if call.distinct {
                    f.write_str("DISTINCT ")?;
                }
                match &call.args {
                    FunctionArgs::Star => f.write_char('*')?,
                    FunctionArgs::List(args) => comma(f, args)?,
                }
                f.write_char(')')
            }
            ExprKind::Subquery(q) => write!(f, "({q})"),
            ExprKind::Exists(q) => write!(f, "EXISTS ({q})"),
            ExprKind::Default => f.write_str("DEFAULT"),
        }
    }
}

//! Tokens, following PostgreSQL's lexical rules where they matter: unquoted identifiers fold
//! to lower case, `''` escapes a quote, `/* */` comments nest, and operators are runs of
//! operator characters that may not end in `+` or `-` (so `*-1` is `*` then `-1`).
//!
//! The tokenizer is a [chumsky] parser over the text: each kind of token is a combinator
//! parser, and [`token`] picks which one to run from the next character. Malformed tokens
//! (an unterminated string, a stray character, ...) are not fatal to chumsky: each is
//! reported with [`Emitter::emit`] where it is found and lexing goes on, so the first error
//! reported is the first in the text, and it becomes the [`ParseError`] with the message
//! and span the parser reports.
//!
//! Two choices keep lexing fast in debug builds, where each combinator call costs far more
//! than in optimized code: runs of characters (words, digits, string bodies, most
//! operators) are read by one primitive ([`take_while`]) rather than a parser per
//! character, and the next character selects the token's parser instead of a `choice`
//! trying them in turn. Together these took the conformance corpus test from about 5.5x
//! to about 1.6x the time it took with the hand-written lexer.

use chumsky::input::{Emitter, InputRef};
use chumsky::prelude::*;

use super::ParseError;
use crate::ast::Span;

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An identifier or keyword: folded to lower case unless quoted.
    Word {
        text: String,
        quoted: bool,
    },
    /// A number, as written.
    Number(String),
    /// A string literal, unescaped.
    Str(String),
    /// `$n`.
    Param(u32),
    /// An operator (`+`, `<=`, `<->`, `||`, ...).
    Op(String),
    LParen,
    RParen,
    Comma,
    Semicolon,
    Dot,
    /// `::`.
    DoubleColon,
    /// End of input.
    Eof,
}

/// A token and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// The characters operators are made of.
const OP_CHARS: &str = "+-*/<>=~!@#%^&|`?";

/// Operator characters that let a multi-character operator end in `+` or `-`.
const OP_SPECIAL: &str = "~!@#%^&|`?";

/// The error type of the lexer's parsers.
type Extra<'a> = extra::Err<Rich<'a, char>>;

fn is_ident_start(c: &char) -> bool {
    c.is_ascii_alphabetic() || *c == '_' || !c.is_ascii()
}

fn is_ident_char(c: &char) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || *c == '$'
}

/// One character for which `pred` holds. (Built on `select` rather than `any().filter()`,
/// which builds an error value every time it rejects a character.)
fn char_if<'a>(pred: fn(&char) -> bool) -> impl Parser<'a, &'a str, char, Extra<'a>> + Copy {
    chumsky::primitive::select(move |c: char, _| pred(&c).then_some(c))
}

/// The longest run, possibly empty, of characters for which `pred` holds: what
/// `char_if(pred).repeated().to_slice()` matches, as one primitive. Runs are most of the
/// text, and the combinator form costs a parser call per character and a rejected
/// attempt at the end, which made lexing several times slower in debug builds.
fn take_while<'a>(
    pred: impl Fn(char) -> bool + Clone,
) -> impl Parser<'a, &'a str, &'a str, Extra<'a>> + Clone {
    custom(move |inp| {
        let start = inp.cursor();
        while inp.peek().is_some_and(&pred) {
            inp.skip();
        }
        Ok(inp.slice_since(&start..))
    })
}

/// Reports `message` at `start..end` without stopping the lexer.
fn report<'a>(emitter: &mut Emitter<Rich<'a, char>>, start: usize, end: usize, message: &str) {
    emitter.emit(Rich::custom((start..end).into(), message));
}

/// A comment. `--` runs to the end of the line; `/* */` nests, and an unterminated one is
/// reported at its opening `/*`.
fn comment<'a>() -> impl Parser<'a, &'a str, (), Extra<'a>> + Clone {
    let line_comment = just("--").then(take_while(|c| c != '\n')).ignored();
    // A comment and whether it was closed. A comment left open inside another consumes
    // the rest of the text, so the outer one is open as well: only the outermost needs to
    // be checked, and nothing is ever re-read.
    let block_comment = recursive(|comment| {
        let body = choice((
            none_of("*/").ignored(),
            just('*').then(just('/').not()).ignored(),
            comment.ignored(),
            just('/').ignored(),
        ));
        just("/*")
            .ignore_then(body.repeated())
            .ignore_then(just("*/").or_not())
            .map(|close| close.is_some())
    });
    // Checking for `/*` first keeps the recursive parser's set-up off the common path.
    let block_comment =
        just("/*")
            .rewind()
            .ignore_then(block_comment)
            .validate(|closed, e, emitter| {
                if !closed {
                    let span: SimpleSpan = e.span();
                    report(
                        emitter,
                        span.start,
                        span.start + 2,
                        "unterminated /* comment",
                    );
                }
            });
    choice((line_comment, block_comment))
}

/// The text between `quote`s, with a doubled quote standing for itself, and whether the
/// closing quote was found.
fn quoted<'a>(quote: char) -> impl Parser<'a, &'a str, (String, bool), Extra<'a>> + Clone {
    let piece = choice((
        none_of(quote)
            .then(take_while(move |c| c != quote))
            .to_slice(),
        // The second of two quotes.
        just(quote).ignore_then(just(quote).to_slice()),
    ));
    just(quote)
        .ignore_then(piece.repeated().collect::<String>())
        .then(just(quote).or_not().map(|close| close.is_some()))
}

/// Skips whitespace and comments. The next character decides what to try, so that the
/// usual case (no comment here) costs no failed attempt.
fn skip_trivia<'a, 'p>(
    inp: &mut InputRef<'a, 'p, &'a str, Extra<'a>>,
    comment: &impl Parser<'a, &'a str, (), Extra<'a>>,
) {
    loop {
        match inp.peek() {
            Some(c) if c.is_ascii_whitespace() => inp.skip(),
            Some('-' | '/') => {
                let before = inp.save();
                if inp.parse(comment).is_err() {
                    inp.rewind(before);
                    return;
                }
            }
            _ => return,
        }
    }
}

/// Whitespace and comments, skipped.
fn trivia<'a>() -> impl Parser<'a, &'a str, (), Extra<'a>> + Clone {
    let comment = comment();
    custom(move |inp| {
        skip_trivia(inp, &comment);
        Ok(())
    })
}

/// One token with its span, after any whitespace and comments.
fn token<'a>() -> impl Parser<'a, &'a str, Token, Extra<'a>> + Clone {
    let comment = comment();
    let digits = take_while(|c| c.is_ascii_digit());
    let some_digits = char_if(char::is_ascii_digit).then(digits.clone());

    let word = char_if(is_ident_start)
        .then(take_while(|c| is_ident_char(&c)))
        .to_slice()
        .map(|text: &str| Tok::Word {
            text: text.to_ascii_lowercase(),
            quoted: false,
        });

    let punctuation = chumsky::primitive::select(|c: char, _| match c {
        '(' => Some(Tok::LParen),
        ')' => Some(Tok::RParen),
        ',' => Some(Tok::Comma),
        ';' => Some(Tok::Semicolon),
        _ => None,
    });

    let quoted_word = quoted('"').validate(|(text, closed), e, emitter| {
        let span: SimpleSpan = e.span();
        if !closed {
            report(
                emitter,
                span.start,
                span.start + 1,
                "unterminated quoted identifier",
            );
        } else if text.is_empty() {
            report(
                emitter,
                span.start,
                span.end,
                "zero-length quoted identifier",
            );
        }
        Tok::Word { text, quoted: true }
    });

    let string = quoted('\'').validate(|(text, closed), e, emitter| {
        if !closed {
            let span: SimpleSpan = e.span();
            report(
                emitter,
                span.start,
                span.start + 1,
                "unterminated string literal",
            );
        }
        Tok::Str(text)
    });

    // `1`, `1.`, `1.5`, `.5`, `1e10`, `1.5E-3`; `1..2` is `1` then `..2`, and an `e` without
    // digits after it is not part of the number. Letters right after a number are an error.
    let fraction = just('.').then(just('.').not()).then(digits.clone());
    let exponent = char_if(|c| matches!(c, 'e' | 'E'))
        .then(char_if(|c| matches!(c, '+' | '-')).or_not())
        .then(some_digits.clone());
    let number = choice((
        some_digits.clone().then(fraction.or_not()).ignored(),
        just('.').then(some_digits.clone()).ignored(),
    ))
    .then(exponent.or_not())
    .to_slice()
    .then(take_while(|c| is_ident_char(&c)))
    .validate(|(text, junk): (&str, &str), e, emitter| {
        if !junk.is_empty() {
            let span: SimpleSpan = e.span();
            report(
                emitter,
                span.start,
                span.end,
                "trailing junk after numeric literal",
            );
        }
        Tok::Number(text.to_string())
    });

    let param = just('$')
        .ignore_then(digits.to_slice())
        .validate(|n: &str, e, emitter| match n.parse::<u32>() {
            Ok(n) if n >= 1 => Tok::Param(n),
            _ => {
                let span: SimpleSpan = e.span();
                report(
                    emitter,
                    span.start,
                    span.end,
                    "expected a parameter number after $",
                );
                Tok::Param(0)
            }
        });

    // An operator is a run of operator characters that stops before a comment. A run of two
    // or more without any of `OP_SPECIAL` gives back any `+` and `-` it ends in (keeping at
    // least one character): the operator is then its longest prefix that ends in another
    // character, or its first character.
    let minus = just('-').then_ignore(just('-').not());
    let slash = just('/').then_ignore(just('*').not());
    let op_char = choice((char_if(|c| "+*<>=~!@#%^&|`?".contains(*c)), minus, slash));
    let whole_run = op_char
        .repeated()
        .at_least(1)
        .to_slice()
        .filter(|run: &&str| {
            run.len() == 1 || run.contains(|c| OP_SPECIAL.contains(c)) || !run.ends_with(['+', '-'])
        });
    let plus_minus = choice((just('+'), minus));
    let other = choice((char_if(|c| "*<>=".contains(*c)), slash));
    let trimmed_run = plus_minus
        .repeated()
        .then(other)
        .repeated()
        .at_least(1)
        .to_slice();
    // Most operators are a whole run with no comment start in it, read at once; the
    // parsers above are for the rest.
    let plain_run = take_while(|c| OP_CHARS.contains(c)).filter(|run: &&str| {
        !run.is_empty()
            && !run.contains("--")
            && !run.contains("/*")
            && (run.len() == 1
                || run.contains(|c| OP_SPECIAL.contains(c))
                || !run.ends_with(['+', '-']))
    });
    let operator = choice((plain_run, whole_run, trimmed_run, op_char.to_slice()))
        .map(|op: &str| Tok::Op(op.to_string()));

    // Any other character is an error; the token stands in for it so that lexing goes on.
    let unexpected = any().to_slice().validate(|ch: &str, e, emitter| {
        let span: SimpleSpan = e.span();
        report(
            emitter,
            span.start,
            span.end,
            &format!("unexpected character {ch:?}"),
        );
        Tok::Eof
    });

    let number_or_dot = choice((number, just('.').to(Tok::Dot)));
    let colon = choice((just("::").to(Tok::DoubleColon), unexpected));

    // Which of the parsers above applies is decided by the first character. Trying them in
    // turn with `choice` would give the same tokens, but most tokens would then pay for
    // several failed attempts first, and that made lexing several times slower.
    custom(move |inp| {
        skip_trivia(inp, &comment);
        let before = inp.cursor();
        let Some(c) = inp.peek() else {
            return Err(Rich::custom(inp.span_since(&before), "end of input"));
        };
        let tok = match c {
            c if is_ident_start(&c) => inp.parse(&word),
            '(' | ')' | ',' | ';' => inp.parse(punctuation),
            '0'..='9' | '.' => inp.parse(&number_or_dot),
            c if OP_CHARS.contains(c) => inp.parse(&operator),
            '\'' => inp.parse(&string),
            '"' => inp.parse(&quoted_word),
            '$' => inp.parse(&param),
            ':' => inp.parse(&colon),
            _ => inp.parse(unexpected),
        }?;
        let span: SimpleSpan = inp.span_since(&before);
        Ok(Token {
            tok,
            span: Span::new(span.start, span.end),
        })
    })
}

/// The whole text: its tokens with their byte spans.
fn lexer<'a>() -> impl Parser<'a, &'a str, Vec<Token>, Extra<'a>> {
    token()
        .repeated()
        .collect::<Vec<_>>()
        .then_ignore(trivia())
        .then_ignore(end())
}

/// Splits `sql` into tokens, ending with [`Tok::Eof`].
pub(crate) fn tokenize(sql: &str) -> Result<Vec<Token>, ParseError> {
    match lexer().parse(sql).into_result() {
        Ok(mut out) => {
            out.push(Token {
                tok: Tok::Eof,
                span: Span::new(sql.len(), sql.len()),
            });
            Ok(out)
        }
        Err(errors) => {
            // Errors are emitted in the order they occur in the text, and a failed parse
            // has at least one.
            let error = errors
                .into_iter()
                .next()
                .expect("a failed lex reports an error");
            let span = error.span();
            let message = match error.reason() {
                chumsky::error::RichReason::Custom(message) => message.clone(),
                other => other.to_string(),
            };
            Err(ParseError::unlocated(
                Span::new(span.start, span.end),
                message,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of `sql`, written compactly, without the final end of input.
    fn lex(sql: &str) -> Vec<String> {
        let tokens = tokenize(sql).unwrap_or_else(|e| panic!("{sql:?}: {e:?}"));
        assert_eq!(tokens.last().map(|t| &t.tok), Some(&Tok::Eof));
        tokens[..tokens.len() - 1]
            .iter()
            .map(|t| match &t.tok {
                Tok::Word {
                    text,
                    quoted: false,
                } => format!("w:{text}"),
                Tok::Word { text, quoted: true } => format!("q:{text}"),
                Tok::Number(n) => format!("n:{n}"),
                Tok::Str(s) => format!("s:{s}"),
                Tok::Param(n) => format!("${n}"),
                Tok::Op(op) => format!("o:{op}"),
                Tok::LParen => "(".into(),
                Tok::RParen => ")".into(),
                Tok::Comma => ",".into(),
                Tok::Semicolon => ";".into(),
                Tok::Dot => ".".into(),
                Tok::DoubleColon => "::".into(),
                Tok::Eof => "eof".into(),
            })
            .collect()
    }

    /// The message and span of the error lexing `sql` gives.
    fn lex_error(sql: &str) -> (String, usize, usize) {
        let e = tokenize(sql).expect_err(sql);
        (e.message, e.span.start, e.span.end)
    }

    #[test]
    fn words_numbers_strings_and_punctuation() {
        assert_eq!(
            lex("SELECT a$1, \"Mixed\"\"Q\" FROM t_1;"),
            [
                "w:select",
                "w:a$1",
                ",",
                "q:Mixed\"Q",
                "w:from",
                "w:t_1",
                ";"
            ]
        );
        // Any non-ASCII character is part of a word, and only ASCII letters fold.
        assert_eq!(lex("Ünï\u{a0}X"), ["w:Ünï\u{a0}x"]);
        assert_eq!(
            lex("1 1. 1.5 .5 1e10 1.5E-3 1..2 t.x"),
            [
                "n:1", "n:1.", "n:1.5", "n:.5", "n:1e10", "n:1.5E-3", "n:1", ".", "n:.2", "w:t",
                ".", "w:x"
            ]
        );
        assert_eq!(
            lex("'it''s' '' x::int"),
            ["s:it's", "s:", "w:x", "::", "w:int"]
        );
        assert_eq!(lex("$1 $12a"), ["$1", "$12", "w:a"]);
        assert_eq!(lex(" \t\r\n\x0c( ) "), ["(", ")"]);
    }

    #[test]
    fn operators() {
        assert_eq!(
            lex("a<->b <=> <#> || != <> <= >= << >> @> ~~*"),
            [
                "w:a", "o:<->", "w:b", "o:<=>", "o:<#>", "o:||", "o:!=", "o:<>", "o:<=", "o:>=",
                "o:<<", "o:>>", "o:@>", "o:~~*"
            ]
        );
        // A run may end in + or - only if it has one of ~ ! @ # % ^ & | ` ?.
        assert_eq!(lex("*-1"), ["o:*", "o:-", "n:1"]);
        assert_eq!(lex("a=-b"), ["w:a", "o:=", "o:-", "w:b"]);
        assert_eq!(lex("+-+"), ["o:+", "o:-", "o:+"]);
        assert_eq!(lex("-<-"), ["o:-<", "o:-"]);
        assert_eq!(lex("@-"), ["o:@-"]);
        // A run stops before a comment.
        assert_eq!(lex("a*--c\nb"), ["w:a", "o:*", "w:b"]);
        assert_eq!(lex("a+/*c*/b"), ["w:a", "o:+", "w:b"]);
    }

    #[test]
    fn comments() {
        assert_eq!(lex("a -- x\nb"), ["w:a", "w:b"]);
        assert_eq!(lex("a -- x"), ["w:a"]);
        assert_eq!(lex("a /* x /* nested */ still */ b"), ["w:a", "w:b"]);
        assert_eq!(lex("a /**/b/*/ x */c"), ["w:a", "w:b", "w:c"]);
        assert!(lex("").is_empty());
        assert!(lex(" /* only */ -- comments").is_empty());
    }

    #[test]
    fn deeply_nested_comments_do_not_overflow_the_stack() {
        let deep = format!("{}x{}", "/*".repeat(20_000), "*/".repeat(20_000));
        assert!(lex(&deep).is_empty());
        let open = "/*".repeat(20_000);
        assert_eq!(
            lex_error(&open),
            ("unterminated /* comment".to_string(), 0, 2)
        );
    }

    #[test]
    fn spans_are_byte_ranges() {
        let tokens = tokenize("é 'x' <->").unwrap();
        let spans: Vec<_> = tokens.iter().map(|t| (t.span.start, t.span.end)).collect();
        assert_eq!(spans, [(0, 2), (3, 6), (7, 10), (10, 10)]);
    }

    #[test]
    fn errors() {
        let err = |m: &str, start, end| (m.to_string(), start, end);
        assert_eq!(
            lex_error("SELECT 'abc"),
            err("unterminated string literal", 7, 8)
        );
        assert_eq!(
            lex_error("SELECT \"abc"),
            err("unterminated quoted identifier", 7, 8)
        );
        assert_eq!(
            lex_error("SELECT \"\""),
            err("zero-length quoted identifier", 7, 9)
        );
        assert_eq!(
            lex_error("a /* x /* y */"),
            err("unterminated /* comment", 2, 4)
        );
        assert_eq!(
            lex_error("SELECT 12abc"),
            err("trailing junk after numeric literal", 7, 12)
        );
        assert_eq!(
            lex_error("1e"),
            err("trailing junk after numeric literal", 0, 2)
        );
        assert_eq!(
            lex_error("$"),
            err("expected a parameter number after $", 0, 1)
        );
        assert_eq!(
            lex_error("$0"),
            err("expected a parameter number after $", 0, 2)
        );
        assert_eq!(lex_error("a : b"), err("unexpected character \":\"", 2, 3));
        assert_eq!(lex_error("[1]"), err("unexpected character \"[\"", 0, 1));
        assert_eq!(
            lex_error("x \x0b"),
            err("unexpected character \"\\u{b}\"", 2, 3)
        );
        // The first error in the text is the one reported.
        assert_eq!(lex_error("a [ 'b"), err("unexpected character \"[\"", 2, 3));
        assert_eq!(lex_error("'b [ "), err("unterminated string literal", 0, 1));
    }
}

//! Python's text forms (`repr`), reproduced where ddeutil-workflow's output depends
//! on them: matrix strategy ids hash `str(dict)`, and templates print values the
//! way Python does.

use std::fmt::Write as _;

/// `repr(s)` of a Python `str`: single quotes unless the text holds a single quote
/// and no double quote; backslash escapes for the quote, `\\`, `\n`, `\r`, `\t` and
/// other unprintable characters.
#[must_use]
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let code = u32::from(c);
                let _ = if code < 0x100 {
                    write!(out, "\\x{code:02x}")
                } else if code < 0x1_0000 {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character, close enough for identifiers and
/// values: control characters, separators other than space, and unassigned
/// surrogates are not printable.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{00a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{ad}'
        ))
}

/// A scalar as it appears inside a Python dict's `repr`.
#[derive(Clone, Copy, Debug)]
pub enum Scalar<'a> {
    Str(&'a str),
    Int(i64),
    /// An integer beyond 64 bits, as its decimal digits.
    BigInt(&'a str),
}

/// `str(dict)` of a flat dict of strings and integers, in the given key order:
/// `{'region': 'th', 'shard': 1}`.
#[must_use]
pub fn repr_dict(entries: &[(&str, Scalar<'_>)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&repr_str(key));
        out.push_str(": ");
        match value {
            Scalar::Str(s) => out.push_str(&repr_str(s)),
            Scalar::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Scalar::BigInt(digits) => out.push_str(digits),
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_like_python() {
        assert_eq!(repr_str("a"), "'a'");
        assert_eq!(repr_str("it's"), "\"it's\"");
        assert_eq!(repr_str("say \"it's\""), "'say \"it\\'s\"'");
        assert_eq!(repr_str("a\\b\n\t"), "'a\\\\b\\n\\t'");
        assert_eq!(repr_str("\u{1}é"), "'\\x01é'");
        assert_eq!(
            repr_dict(&[("sleep", Scalar::Str("1")), ("n", Scalar::Int(-2))]),
            "{'sleep': '1', 'n': -2}"
        );
    }
}

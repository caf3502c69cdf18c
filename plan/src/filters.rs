//! The built-in filters, in one table: each one's name, arguments (their names, kinds
//! and defaults), a call that is right, and what it gives. The compiler checks calls
//! and writes its help from it, the parser resolves names to [`BuiltinFilter`] for the
//! runtime to dispatch on, and tests hold the README's filter table and the
//! diagnostics' explanations to it. A filter name not in the table is one registered
//! in Python (`@custom_filter`).

use crate::expr::ast::Literal;

/// What an argument of a built-in filter must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A string literal.
    Str,
    /// An integer literal of 64 bits.
    Int,
    /// Any literal.
    Any,
}

/// What an argument of a built-in filter is when a call leaves it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgDefault {
    /// A call must give it.
    Required,
    /// `None`.
    Null,
    /// This string.
    Str(&'static str),
}

/// One argument of a built-in filter, given by position or by its name.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Its keyword: `getitem(default=None)`.
    pub name: &'static str,
    /// What it is, in error messages: "the format".
    pub what: &'static str,
    pub kind: ArgKind,
    pub default: ArgDefault,
}

impl Param {
    /// The value of a left-out argument; a required one left out is null.
    #[must_use]
    pub fn default_literal(&self) -> Literal {
        match self.default {
            ArgDefault::Str(text) => Literal::Str(text.to_string()),
            ArgDefault::Null | ArgDefault::Required => Literal::Null,
        }
    }

    /// True when `literal` is of the kind this argument takes.
    #[must_use]
    pub fn accepts(&self, literal: &Literal) -> bool {
        match self.kind {
            ArgKind::Str => matches!(literal, Literal::Str(_)),
            ArgKind::Int => matches!(literal, Literal::Int(_)),
            ArgKind::Any => true,
        }
    }
}

/// One built-in filter's entry in the table.
#[derive(Clone, Copy, Debug)]
pub struct FilterDef {
    pub filter: BuiltinFilter,
    pub name: &'static str,
    /// Its arguments in order, the required ones first.
    pub params: &'static [Param],
    /// A call that is right, for help text: `getitem('key', default=None)`.
    pub usage: &'static str,
    /// What it gives, in one line.
    pub doc: &'static str,
}

impl FilterDef {
    /// The fewest arguments a call may give.
    #[must_use]
    pub fn min_args(&self) -> usize {
        self.params
            .iter()
            .filter(|p| p.default == ArgDefault::Required)
            .count()
    }

    /// The most arguments a call may give.
    #[must_use]
    pub fn max_args(&self) -> usize {
        self.params.len()
    }

    /// The argument called `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The name with its arguments and their defaults, as Python writes a signature:
    /// `getitem(key, default=None)`; the bare name when it takes none.
    #[must_use]
    pub fn signature(&self) -> String {
        if self.params.is_empty() {
            return self.name.to_string();
        }
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match p.default {
                ArgDefault::Required => p.name.to_string(),
                _ => format!("{}={}", p.name, p.default_literal()),
            })
            .collect();
        format!("{}({})", self.name, params.join(", "))
    }
}

/// One argument in [`filters!`]'s list: `name "what it is": Kind`, then `= None` or
/// `= "text"` when a call may leave it out.
macro_rules! param {
    ($name:ident $what:literal: $kind:ident) => {
        Param {
            name: stringify!($name),
            what: $what,
            kind: ArgKind::$kind,
            default: ArgDefault::Required,
        }
    };
    ($name:ident $what:literal: $kind:ident = None) => {
        Param {
            name: stringify!($name),
            what: $what,
            kind: ArgKind::$kind,
            default: ArgDefault::Null,
        }
    };
    ($name:ident $what:literal: $kind:ident = $default:literal) => {
        Param {
            name: stringify!($name),
            what: $what,
            kind: ArgKind::$kind,
            default: ArgDefault::Str($default),
        }
    };
}

/// The enum of built-in filters and their table, from one list, so that neither has
/// an entry the other lacks. An entry is `Variant = "name", "doc";` for a filter
/// without arguments (its usage is its name), or
/// `Variant = "name"(argument, …) => "usage", "doc";`.
macro_rules! filters {
    ($(
        $variant:ident = $name:literal
        $(($($param:ident $what:literal: $kind:ident $(= $default:tt)?),+) => $usage:literal)?,
        $doc:literal;
    )*) => {
        /// A built-in filter.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum BuiltinFilter { $($variant,)* }

        /// Every built-in filter, in [`BuiltinFilter`]'s order (the order help lists them in).
        pub const FILTERS: &[FilterDef] = &[$(
            FilterDef {
                filter: BuiltinFilter::$variant,
                name: $name,
                params: &[$($(param!($param $what: $kind $(= $default)?)),+)?],
                usage: first!($($usage,)? $name),
                doc: $doc,
            },
        )*];
    };
}

/// The first of the expressions given.
macro_rules! first {
    ($first:expr $(, $rest:expr)*) => {
        $first
    };
}

filters! {
    Abs = "abs", "the absolute value of a number";
    Str = "str", "the value's text, as Python's `str()` writes it";
    Int = "int", "an integer from a number (truncated), a bool or decimal text, as Python's `int()`";
    List = "list", "a list from a list, the characters of a string or a mapping's keys";
    Dict = "dict", "a mapping from a mapping, or from a list of `[key, value]` pairs";
    Title = "title", "the string with each word capitalized, as Python's `str.title()`";
    Upper = "upper", "the string in upper case";
    Lower = "lower", "the string in lower case";
    Rstr = "rstr", "the value's text as a quoted Python string (`'a b'`); as a condition's value, the text itself";
    Keys = "keys", "a mapping's keys, as a list";
    Values = "values", "a mapping's values, as a list";
    Fmt = "fmt"(fmt "the format": Str = "%Y-%m-%d %H:%M:%S") => "fmt('%Y-%m-%d')",
        "a datetime or a date as text, by `strftime` codes";
    Coalesce = "coalesce"(default "the default": Any) => "coalesce('default')",
        "the argument when the value is null, else the value";
    Getitem = "getitem"(key "the key": Any, default "the default": Any = None)
        => "getitem('key', default=None)",
        "a mapping's value under the key's text, or the default when it has none";
    Getindex = "getindex"(index "the index": Int) => "getindex(0)",
        "a list's item at the index (a negative one counts from the end)";
}

impl BuiltinFilter {
    /// The built-in filter called `name`, if there is one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<BuiltinFilter> {
        FILTERS.iter().find(|d| d.name == name).map(|d| d.filter)
    }

    /// Its entry in the table.
    #[must_use]
    pub fn def(self) -> &'static FilterDef {
        // The macro writes the table in the enum's order.
        &FILTERS[self as usize]
    }

    /// The name templates call it by.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.def().name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn the_table_is_in_the_enums_order_with_unique_names() {
        for (i, def) in FILTERS.iter().enumerate() {
            assert_eq!(def.filter as usize, i, "{}", def.name);
            assert_eq!(BuiltinFilter::from_name(def.name), Some(def.filter));
            assert_eq!(def.filter.name(), def.name);
        }
        assert_eq!(BuiltinFilter::from_name("slugify"), None);
    }

    #[test]
    fn required_arguments_come_first() {
        for def in FILTERS {
            let required = def.min_args();
            assert!(
                def.params[..required]
                    .iter()
                    .all(|p| p.default == ArgDefault::Required),
                "{}",
                def.name
            );
        }
    }

    #[test]
    fn signatures_and_usages() {
        let get = |f: BuiltinFilter| f.def();
        assert_eq!(get(BuiltinFilter::Abs).signature(), "abs");
        assert_eq!(get(BuiltinFilter::Abs).usage, "abs");
        assert_eq!(
            get(BuiltinFilter::Fmt).signature(),
            "fmt(fmt='%Y-%m-%d %H:%M:%S')"
        );
        assert_eq!(
            get(BuiltinFilter::Getitem).signature(),
            "getitem(key, default=None)"
        );
        assert_eq!(
            (
                get(BuiltinFilter::Getitem).min_args(),
                get(BuiltinFilter::Getitem).max_args()
            ),
            (1, 2)
        );
    }

    /// README's table of filters, as the table here writes it.
    fn readme_table() -> String {
        let mut out = String::from("| filter | example | what it gives |\n|---|---|---|\n");
        for def in FILTERS {
            writeln!(
                out,
                "| `{}` | `{}` | {} |",
                def.signature(),
                def.usage,
                def.doc
            )
            .expect("writes to a string");
        }
        out
    }

    #[test]
    fn the_readme_lists_exactly_these_filters() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
            .expect("README.md");
        let expected = readme_table();
        let header = expected.lines().next().expect("a header");
        let Some(at) = readme.find(&format!("\n{header}\n")) else {
            panic!("README has no table of filters; write one as:\n\n{expected}")
        };
        let found: Vec<&str> = readme[at + 1..]
            .lines()
            .take_while(|line| line.starts_with('|'))
            .collect();
        assert!(
            found == expected.lines().collect::<Vec<_>>(),
            "README's table of filters differs from plan/src/filters.rs; write it as:\n\n{expected}"
        );
    }

    /// Plans store a filter's name, and loading finds its built-in again.
    #[test]
    fn a_stored_filter_is_resolved_when_loaded() {
        let template =
            crate::expr::parse_template("${{ x | getindex(0) | slugify }}").expect("a template");
        let bytes = postcard::to_allocvec(&template).expect("encoded");
        let loaded: crate::expr::ast::Template = postcard::from_bytes(&bytes).expect("decoded");
        assert_eq!(loaded, template);
        let filters = &loaded
            .interps()
            .next()
            .expect("an interpolation")
            .pipeline
            .filters;
        assert_eq!(filters[0].builtin, Some(BuiltinFilter::Getindex));
        assert_eq!(filters[1].builtin, None);
    }

    /// Every usage parses as a filter call that the table's arity accepts.
    #[test]
    fn usages_are_calls_the_table_accepts() {
        for def in FILTERS {
            let template = crate::expr::parse_template(&format!("${{{{ x | {} }}}}", def.usage))
                .unwrap_or_else(|e| panic!("{}: {e:?}", def.usage));
            let interp = template.interps().next().expect("an interpolation");
            let [filter] = interp.pipeline.filters.as_slice() else {
                panic!("{}: one filter", def.usage)
            };
            assert_eq!(filter.builtin, Some(def.filter));
            let given = filter.args.len() + filter.kwargs.len();
            assert!((def.min_args()..=def.max_args()).contains(&given));
            for (i, arg) in filter.args.iter().enumerate() {
                assert!(def.params[i].accepts(arg), "{}", def.usage);
            }
            for (name, arg) in &filter.kwargs {
                assert!(def.param(name).is_some_and(|p| p.accepts(arg)));
            }
        }
    }
}

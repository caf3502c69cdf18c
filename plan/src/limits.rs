//! The sizes and depths wfc holds workflows, plans and runs to, in one place: the
//! checker refuses what goes beyond them with a finding, the plan loader refuses a
//! plan beyond them, and the runtime refuses what a template makes beyond them. A
//! workflow that `wfc check` accepts therefore compiles, loads and runs.

/// Most strategies one matrix may make (GitHub Actions' limit for a matrix job).
pub const MAX_MATRIX_COMBINATIONS: u64 = 256;

/// Deepest nesting of a condition or template: parentheses, lists, `not`, unary `-`
/// and the operators between them. Chains (`a and b and …`, `x | f | g`, `1 + 2 + …`)
/// are flat and do not count per term.
pub const MAX_EXPR_DEPTH: usize = 32;

/// Deepest nesting of YAML values (mappings and lists inside each other). It also
/// bounds how deep stages nest in each other.
pub const MAX_YAML_DEPTH: usize = 200;

/// Deepest nesting of values, stages and expressions a plan may hold: what the
/// YAML and the expressions can make together. A plan beyond it is refused.
pub const MAX_PLAN_DEPTH: usize = MAX_YAML_DEPTH + MAX_EXPR_DEPTH;

/// Longest stage `timeout` and run `--timeout`: 30 days, in seconds.
pub const MAX_TIMEOUT_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// The same bound, as written in messages.
pub const MAX_TIMEOUT_TEXT: &str = "2592000 seconds (30 days)";

/// How deep a value a run takes in may nest (a param's list and map literals, a
/// Python stage's outputs): values are walked recursively (converted, written,
/// freed), and deeper ones would exhaust a thread's stack.
pub const MAX_VALUE_DEPTH: usize = 128;

/// An Empty stage's `sleep` is less than this many seconds.
pub const MAX_SLEEP_SECONDS: f64 = 1800.0;

/// Depth of the plan being decoded on this thread, for [`DecodeDepth`].
mod decode {
    use std::cell::Cell;

    thread_local! {
        pub(super) static DEPTH: Cell<usize> = const { Cell::new(0) };
        /// A decode on this thread went beyond the limit (decoders such as
        /// postcard do not keep a custom error's message).
        pub(super) static EXCEEDED: Cell<bool> = const { Cell::new(false) };
    }
}

/// True (once) when a decode on this thread was refused for its depth since the
/// last call.
#[must_use]
pub fn decode_depth_exceeded() -> bool {
    decode::EXCEEDED.with(|e| e.replace(false))
}

/// One level of nesting while a plan is decoded: decoding a recursive value enters
/// one, and a plan that nests deeper than [`MAX_PLAN_DEPTH`] is refused before the
/// decoder's recursion can exhaust the stack.
#[derive(Debug)]
pub struct DecodeDepth(());

impl DecodeDepth {
    pub fn enter<E: serde::de::Error>() -> Result<Self, E> {
        let depth = decode::DEPTH.with(|d| {
            let depth = d.get() + 1;
            d.set(depth);
            depth
        });
        let guard = DecodeDepth(());
        if depth > MAX_PLAN_DEPTH {
            decode::EXCEEDED.with(|e| e.set(true));
            return Err(E::custom(format!(
                "values nested more than {MAX_PLAN_DEPTH} levels deep"
            )));
        }
        Ok(guard)
    }
}

impl Drop for DecodeDepth {
    fn drop(&mut self) {
        decode::DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Deserializes `T` one nesting level deeper (for `#[serde(deserialize_with)]` on
/// the fields through which plan types nest).
pub fn nested<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    let _depth = DecodeDepth::enter::<D::Error>()?;
    T::deserialize(deserializer)
}

/// A value for a message: long text is cut after `max` characters, and says how
/// long it was.
#[must_use]
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_guard_refuses_beyond_the_limit_and_unwinds() {
        let mut guards = Vec::new();
        for _ in 0..MAX_PLAN_DEPTH {
            guards.push(DecodeDepth::enter::<serde::de::value::Error>().expect("within"));
        }
        assert!(DecodeDepth::enter::<serde::de::value::Error>().is_err());
        guards.clear();
        assert!(DecodeDepth::enter::<serde::de::value::Error>().is_ok());
    }

    #[test]
    fn shorten_cuts_long_text() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc… (6 bytes)");
    }
}

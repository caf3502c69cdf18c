//! wfc-plan: what the compiler and the runtime share, so that neither reaches into
//! the other. The plan (a checked workflow lowered for the runtime, its `.wfp` file,
//! and a visitor to walk it), the stage kinds and their facts, the expression
//! language (its grammar, parser and typed AST: plans hold parsed templates), the
//! words of the workflow format both sides speak, the bounds on inputs, and bounded
//! reads and atomic writes of wfc's files. Cron expressions (what the compiler
//! validates is what the runtime's scheduler reads) and their ticks in a timezone,
//! and the durations and datetimes the scheduler's command line takes.

pub mod cron;
pub mod expr;
pub mod file;
pub mod filters;
pub mod ids;
pub mod input;
mod ir;
pub mod kind;
pub mod limits;
pub mod matrix;
pub mod output;
pub mod pytext;
pub mod schedule;
pub mod state;
pub mod visit;
pub mod vocab;
pub mod volume;
mod walk;
pub mod when;

pub use file::{
    FORMAT_VERSION, Header, PlanError, decode, encode, file_name, read, read_header, verify, write,
    write_bytes,
};
pub use ir::*;

/// An enum of unit variants, with `ALL` (every variant, in declaration order)
/// and `variant_name` (a variant's name as written): lists of the variants that
/// cannot miss one, for enums whose every value is looked at in turn.
#[macro_export]
macro_rules! listed_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant),+];

            /// The variant's name, as written in the source.
            #[must_use]
            pub const fn variant_name(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),+
                }
            }
        }
    };
}

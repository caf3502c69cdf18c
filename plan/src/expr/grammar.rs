//! The pest parser generated from `grammar/expression.pest`. Its `Rule` type stays
//! inside `expr`: everything outside sees the typed AST only.

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/expression.pest"]
pub(super) struct ExpressionParser;

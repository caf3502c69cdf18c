//! Places in source files: one `Span` type for everything that has a location.
//!
//! Spans are byte offsets into a file's text. Lines and columns are computed only
//! when a diagnostic is rendered (see `source::SourceFile::line_col`).

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Index of a file in [`crate::source::Sources`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one file.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    #[must_use]
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Self {
            file,
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    /// An empty span at `offset`.
    #[must_use]
    pub fn point(file: FileId, offset: usize) -> Self {
        Self::new(file, offset, offset)
    }

    #[must_use]
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    #[must_use]
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    #[must_use]
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both `self` and `other` (same file assumed).
    #[must_use]
    pub fn cover(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// A sub-span given by offsets relative to `self.start`.
    #[must_use]
    pub fn within(self, range: Range<usize>) -> Span {
        let start = self.start as usize + range.start;
        let end = self.start as usize + range.end;
        Span::new(self.file, start, end.min(self.end as usize).max(start))
    }
}

fn clamp(offset: usize) -> u32 {
    u32::try_from(offset).unwrap_or(u32::MAX)
}

/// Anything that has a place in a file.
pub trait Ranged {
    fn span(&self) -> Span;
}

impl Ranged for Span {
    fn span(&self) -> Span {
        *self
    }
}

/// A value with the span it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

impl<T> Ranged for Spanned<T> {
    fn span(&self) -> Span {
        self.span
    }
}

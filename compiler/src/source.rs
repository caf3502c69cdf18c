//! The text of every loaded file, and the conversion of byte offsets to lines and
//! columns for rendering.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::span::{FileId, Span};

/// One loaded file.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user should see it (relative when the user gave a relative path).
    pub path: PathBuf,
    pub text: String,
    /// Where each line starts; computed when first needed (only for rendering).
    line_starts: OnceLock<Vec<u32>>,
}

impl SourceFile {
    #[must_use]
    pub fn new(path: PathBuf, text: String) -> Self {
        Self {
            path,
            text,
            line_starts: OnceLock::new(),
        }
    }

    /// Where each line starts. Lines end as YAML ends them: at `\n`, at `\r\n` and at
    /// a lone `\r` (other characters some editors break lines at, such as U+2028,
    /// are text in YAML).
    pub(crate) fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            let bytes = self.text.as_bytes();
            let mut starts = vec![0];
            for (i, &b) in bytes.iter().enumerate() {
                if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                    starts.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
                }
            }
            starts
        })
    }

    /// The nearest character boundary at or before `offset` (clamped to the text).
    #[must_use]
    pub fn floor_boundary(&self, offset: usize) -> usize {
        let mut at = offset.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    /// The nearest character boundary at or after `offset` (clamped to the text).
    #[must_use]
    pub fn ceil_boundary(&self, offset: usize) -> usize {
        let mut at = offset.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at += 1;
        }
        at
    }

    /// 0-based line of a byte offset (clamped to the text).
    #[must_use]
    pub fn line_index(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.line_starts()
            .partition_point(|&s| s as usize <= offset)
            .saturating_sub(1)
    }

    /// Byte range of a 0-based line, without its line break.
    #[must_use]
    pub fn line_range(&self, line: usize) -> std::ops::Range<usize> {
        let starts = self.line_starts();
        let Some(&start) = starts.get(line) else {
            return self.text.len()..self.text.len();
        };
        let start = start as usize;
        let next = starts
            .get(line + 1)
            .map_or(self.text.len(), |&s| s as usize);
        let text = &self.text.as_bytes()[start..next];
        let end = text
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(next, |i| start + i);
        start..end
    }

    /// 1-based line and 1-based column (in characters) of a byte offset. An offset
    /// past the end is the end; one inside a character is that character.
    #[must_use]
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = self.floor_boundary(offset as usize);
        let line = self.line_index(offset);
        let start = self.line_starts()[line] as usize;
        let column = self.text[start..offset.max(start)].chars().count();
        (line + 1, column + 1)
    }

    /// Byte offset of a 1-based line and 1-based character column.
    #[must_use]
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        if line == 0 || line > self.line_starts().len() {
            return self.text.len();
        }
        let range = self.line_range(line - 1);
        let line_text = &self.text[range.clone()];
        let within = line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i);
        range.start + within
    }

    /// The text of a span, if it lies in this file.
    #[must_use]
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }
}

/// All files of one run, indexed by [`FileId`].
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    #[must_use]
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    #[must_use]
    pub fn path(&self, id: FileId) -> &Path {
        &self.get(id).path
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(u32::try_from(i).unwrap_or(u32::MAX)), f))
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.files.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Maps a range of a scalar's *content* (the string the YAML parser produced) to the
/// bytes of the source that produced it.
///
/// For plain scalars the content is the source; for quoted, folded and block scalars
/// quotes, escapes and indentation sit in between. The content is aligned to the
/// source greedily, character by character, skipping source characters that have no
/// counterpart (indentation, quotes). That is exact for the text templates and
/// expressions are made of, and falls back to the whole scalar otherwise.
#[must_use]
pub fn map_content_range(
    source: &str,
    scalar: Span,
    content: &str,
    range: std::ops::Range<usize>,
) -> Span {
    let raw = source.get(scalar.range()).unwrap_or("");
    if raw == content {
        return scalar.within(range);
    }
    let (Some(start), Some(end)) = (
        align(raw, content, range.start),
        align(raw, content, range.end),
    ) else {
        return scalar;
    };
    scalar.within(start..end.max(start))
}

/// Source offset (within `raw`) of content offset `target`.
fn align(raw: &str, content: &str, target: usize) -> Option<usize> {
    // How far ahead a content character may be looked for in the source. Indentation
    // and quoting seldom add more than this between two content characters.
    const WINDOW: usize = 256;
    let find = |from: usize, ch: char| {
        let rest = &raw[from..];
        let limit = rest
            .char_indices()
            .nth(WINDOW)
            .map_or(rest.len(), |(i, _)| i);
        rest[..limit].find(ch).map(|i| from + i)
    };
    let mut r = 0;
    for (c_off, ch) in content.char_indices() {
        let at = find(r, ch)?;
        if c_off >= target {
            return Some(at);
        }
        r = at + ch.len_utf8();
    }
    (target >= content.len()).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("a.yml".into(), "ab\né x\n".into());
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        // 'x' is after a 2-byte char and a space
        assert_eq!(f.line_col(6), (2, 3));
        assert_eq!(f.offset_of(2, 3), 6);
    }

    #[test]
    fn every_yaml_line_break_counts() {
        // LF, CRLF and a lone CR end lines; U+2028 and a form feed do not (not in YAML).
        let f = SourceFile::new("a.yml".into(), "a\nb\r\nc\rd\u{2028}e\x0cf".into());
        assert_eq!(f.line_col(2), (2, 1));
        assert_eq!(f.line_col(5), (3, 1));
        assert_eq!(f.line_col(7), (4, 1));
        let e = f.text.find('e').unwrap();
        assert_eq!(f.line_col(u32::try_from(e).unwrap()), (4, 3));
        assert_eq!(f.line_col(u32::try_from(f.text.len()).unwrap()), (4, 6));
        assert_eq!(f.offset_of(3, 1), 5);
        assert_eq!(f.offset_of(4, 3), e);
        assert_eq!(&f.text[f.line_range(1)], "b");
        assert_eq!(&f.text[f.line_range(2)], "c");
    }

    #[test]
    fn offsets_inside_a_character_are_that_character() {
        let f = SourceFile::new("a.yml".into(), "\u{FFFD}x".into());
        assert_eq!(f.line_col(1), (1, 1));
        assert_eq!(f.line_col(3), (1, 2));
        assert_eq!(f.line_col(99), (1, 3));
    }

    #[test]
    fn maps_block_scalar_content() {
        let src = "bash: |\n  echo ${{ a }}\n  exit\n";
        let start = src.find("echo").unwrap();
        let scalar = Span::new(FileId(0), start, src.len());
        let content = "echo ${{ a }}\nexit\n";
        let at = content.find("exit").unwrap();
        let span = map_content_range(src, scalar, content, at..at + 4);
        assert_eq!(&src[span.range()], "exit");
    }

    #[test]
    fn maps_quoted_scalar_content() {
        let src = r#"if: "'${{ x }}' == \"a\"""#;
        let start = src.find('"').unwrap();
        let scalar = Span::new(FileId(0), start, src.len());
        let content = r#"'${{ x }}' == "a""#;
        let at = content.find("==").unwrap();
        let span = map_content_range(src, scalar, content, at..at + 2);
        assert_eq!(&src[span.range()], "==");
    }
}

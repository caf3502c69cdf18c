//! What a stage's processes write on a stream: kept for the stage's outputs up to
//! [`CAPTURE_LIMIT`], and logged line by line, within a budget.
//!
//! Both bounds exist because the size of a stage's output is not the workflow
//! author's to promise: `yes | head -c 200M` is a two-line stage that writes 100
//! million lines. Kept whole, it takes the memory of the machine; logged whole, each
//! two-byte line becomes a log record of some 170 bytes, and 200 MB of output 17 GB
//! of log. So a stream logs its first lines ([`LOG_HEAD_LINES`], at most
//! [`LOG_HEAD_BYTES`] of text) as they come, then holds only its last lines
//! ([`LOG_TAIL_LINES`], at most [`LOG_TAIL_BYTES`]), and logs them when it ends,
//! after a line that says how much was left out: the end of a long output, where its
//! error usually is, is never lost. Every source of lines (Bash, VirtualPy, Py,
//! Docker stages, and stages in a container job) goes through [`LineBudget`].

use std::collections::VecDeque;
use std::fmt::Write as _;

use crate::events::{self, RunEvent, RunEvents, Source};

/// How much of each stream a stage keeps for its outputs (`stdout`, `stderr`).
pub(crate) const CAPTURE_LIMIT: usize = 16 << 20;
/// Longest line logged in one piece; a longer one is logged in pieces.
pub(crate) const LINE_LIMIT: usize = 64 * 1024;
/// Lines of a stream logged as they come.
pub(crate) const LOG_HEAD_LINES: u64 = 100_000;
/// Text of a stream logged as it comes.
pub(crate) const LOG_HEAD_BYTES: u64 = 16 << 20;
/// Last lines of a stream logged when it ends, once the head is spent.
pub(crate) const LOG_TAIL_LINES: usize = 1_000;
/// Text of those last lines.
pub(crate) const LOG_TAIL_BYTES: usize = 1 << 20;

/// Which lines of one stream are logged: the first ones, then the last ones.
#[derive(Default)]
pub(crate) struct LineBudget {
    head_lines: u64,
    head_bytes: u64,
    tail: VecDeque<String>,
    tail_bytes: usize,
    skipped_lines: u64,
    skipped_bytes: u64,
}

impl LineBudget {
    /// Takes a line (of any length: a long one counts as its pieces), and logs
    /// what may be logged now through `log`.
    pub(crate) fn line(&mut self, text: &str, mut log: impl FnMut(&str)) {
        let mut rest = text;
        loop {
            let cut = piece_end(rest);
            let (piece, after) = rest.split_at(cut);
            self.piece(piece, &mut log);
            if after.is_empty() {
                return;
            }
            rest = after;
        }
    }

    fn piece(&mut self, text: &str, log: &mut impl FnMut(&str)) {
        let len = text.len() as u64;
        // A held-back line means the head is spent: nothing is logged as it comes
        // again until the stream ends (and `finish` empties the tail).
        if self.tail.is_empty()
            && self.head_lines < LOG_HEAD_LINES
            && self.head_bytes + len <= LOG_HEAD_BYTES
        {
            self.head_lines += 1;
            self.head_bytes += len;
            log(text);
            return;
        }
        // Past the head: keep it among the last lines, reusing the oldest one's
        // memory when one has to go.
        let mut slot = String::new();
        while self.tail.len() >= LOG_TAIL_LINES
            || (!self.tail.is_empty() && self.tail_bytes + text.len() > LOG_TAIL_BYTES)
        {
            let Some(old) = self.tail.pop_front() else {
                break;
            };
            self.tail_bytes -= old.len();
            self.skipped_lines += 1;
            self.skipped_bytes += old.len() as u64;
            slot = old;
        }
        slot.clear();
        slot.push_str(text);
        self.tail_bytes += slot.len();
        self.tail.push_back(slot);
    }

    /// The stream ended: logs what was left out (if anything) and the last lines.
    pub(crate) fn finish(&mut self, stream: &str, mut log: impl FnMut(&str)) {
        if self.skipped_lines > 0 {
            let mut note = String::new();
            let _ = write!(
                note,
                "[wfr: {} lines ({}) of {stream} were not logged: a stage logs the first {} lines ({} MiB) and the last {} of each stream]",
                self.skipped_lines,
                wfc_plan::input::size_text(self.skipped_bytes),
                LOG_HEAD_LINES,
                LOG_HEAD_BYTES >> 20,
                LOG_TAIL_LINES,
            );
            log(&note);
        }
        for line in self.tail.drain(..) {
            log(&line);
        }
        self.tail_bytes = 0;
        self.skipped_lines = 0;
        self.skipped_bytes = 0;
    }
}

/// Where the first piece of `text` ends: at most [`LINE_LIMIT`] bytes, on a
/// character boundary.
fn piece_end(text: &str) -> usize {
    if text.len() <= LINE_LIMIT {
        return text.len();
    }
    let mut end = LINE_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Where a stage's lines go: its run's events, as lines of `source`.
#[derive(Clone, Copy)]
pub(crate) struct LineLog<'a> {
    pub events: &'a RunEvents,
    pub source: Source,
    pub at: &'a str,
    /// Someone wants the lines.
    pub enabled: bool,
}

impl<'a> LineLog<'a> {
    pub(crate) fn new(events: &'a RunEvents, source: Source, at: &'a str) -> Self {
        LineLog {
            events,
            source,
            at,
            enabled: events.wants_line(source),
        }
    }

    fn emit(&self, stream: events::Stream, text: &str) {
        self.events.emit(self.source, || RunEvent::Line {
            at: self.at,
            source: self.source,
            stream: Some(stream),
            text,
        });
    }
}

/// One output stream of a stage: the bytes kept, the line being put together,
/// and the lines' budget.
pub(crate) struct StreamOutput {
    of: events::Stream,
    kept: Vec<u8>,
    dropped: usize,
    line: Vec<u8>,
    budget: LineBudget,
}

impl StreamOutput {
    pub(crate) fn new(of: events::Stream) -> Self {
        StreamOutput {
            of,
            kept: Vec::new(),
            dropped: 0,
            line: Vec::new(),
            budget: LineBudget::default(),
        }
    }

    /// Bytes the stream wrote: kept (within [`CAPTURE_LIMIT`]) and logged by line.
    pub(crate) fn push(&mut self, bytes: &[u8], log: &LineLog<'_>) {
        self.keep(bytes);
        if !log.enabled {
            return;
        }
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            self.line.extend_from_slice(&rest[..at]);
            self.emit(log);
            rest = &rest[at + 1..];
        }
        self.line.extend_from_slice(rest);
        // A line without its end yet is logged in pieces: never held whole.
        while self.line.len() >= LINE_LIMIT {
            let tail = self.line.split_off(LINE_LIMIT);
            self.emit(log);
            self.line = tail;
        }
    }

    /// Bytes the stream wrote, kept (within [`CAPTURE_LIMIT`]), not logged.
    pub(crate) fn keep(&mut self, bytes: &[u8]) {
        let room = CAPTURE_LIMIT.saturating_sub(self.kept.len());
        let keep = bytes.len().min(room);
        self.kept.extend_from_slice(&bytes[..keep]);
        self.dropped += bytes.len() - keep;
    }

    /// The stream ended: logs its last line and what the budget held back.
    pub(crate) fn finish(&mut self, log: &LineLog<'_>) {
        if !log.enabled {
            return;
        }
        if !self.line.is_empty() {
            self.emit(log);
        }
        let of = self.of;
        self.budget.finish(of.name(), |text| log.emit(of, text));
    }

    fn emit(&mut self, log: &LineLog<'_>) {
        let line = String::from_utf8_lossy(&self.line);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let of = self.of;
        self.budget.line(line, |text| log.emit(of, text));
        self.line.clear();
    }

    /// Bytes written beyond what is kept.
    pub(crate) fn dropped(&self) -> usize {
        self.dropped
    }

    /// What the stream kept, as text, with a note when some was not kept.
    pub(crate) fn text(self) -> String {
        let mut text = String::from_utf8_lossy(&self.kept).into_owned();
        if self.dropped > 0 {
            let _ = write!(
                text,
                "\n[wfr: {} more bytes of {} were not kept: a stage keeps at most {} MiB of each stream]",
                self.dropped,
                self.of.name(),
                CAPTURE_LIMIT >> 20
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::{LINE_LIMIT, LOG_HEAD_LINES, LOG_TAIL_LINES, LineBudget};

    fn logged(lines: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut budget = LineBudget::default();
        let mut out = Vec::new();
        for line in lines {
            budget.line(&line, |t| out.push(t.to_owned()));
        }
        budget.finish("stdout", |t| out.push(t.to_owned()));
        out
    }

    #[test]
    fn a_short_stream_is_logged_whole_and_in_order() {
        let lines: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        assert_eq!(logged(lines.clone()), lines);
    }

    #[test]
    fn a_long_stream_logs_its_head_a_note_and_its_tail() {
        let total = LOG_HEAD_LINES + 5_000;
        let out = logged((0..total).map(|i| i.to_string()));
        let head = usize::try_from(LOG_HEAD_LINES).unwrap();
        assert_eq!(out.len(), head + 1 + LOG_TAIL_LINES);
        assert_eq!(out[0], "0");
        assert_eq!(out[head - 1], (LOG_HEAD_LINES - 1).to_string());
        let skipped = 5_000 - LOG_TAIL_LINES;
        assert!(
            out[head].starts_with(&format!("[wfr: {skipped} lines (")),
            "{}",
            out[head]
        );
        assert!(
            out[head].contains("of stdout were not logged"),
            "{}",
            out[head]
        );
        assert_eq!(out[head + 1], (total - LOG_TAIL_LINES as u64).to_string());
        assert_eq!(out.last().unwrap(), &(total - 1).to_string());
    }

    #[test]
    fn a_long_line_is_logged_in_pieces_on_character_boundaries() {
        let line = "é".repeat(LINE_LIMIT); // 2 bytes each
        let out = logged([line.clone()]);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|p| p.len() <= LINE_LIMIT));
        assert_eq!(out.concat(), line);
    }

    #[test]
    fn a_stream_of_huge_lines_stops_at_the_head_s_bytes() {
        // 64 KiB lines, 40 MiB in all: the head's 16 MiB are spent long before its
        // line count.
        let line = "x".repeat(LINE_LIMIT);
        let out = logged(std::iter::repeat_n(line, 16 * 40));
        let logged_bytes: usize = out.iter().map(String::len).sum();
        assert!(
            logged_bytes < (16 << 20) + (1 << 20) + 1024,
            "{logged_bytes}"
        );
        assert!(out.iter().any(|l| l.contains("were not logged")));
    }
}

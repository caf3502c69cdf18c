//! `wfc lsp`: a language server over stdio (lsp-server, lsp-types).
//!
//! * Diagnostics: every `wfc check` finding of the workspace, with its code,
//!   severity, range, related locations and help, published per file. The
//!   editor's unsaved buffers are checked in place of their files on disk, and
//!   the whole workspace is checked again (debounced) after a change, so
//!   findings across files (an unknown trigger target, a cycle, a duplicate
//!   name) follow an edit in another file.
//! * Code actions: a finding's fix (`wfc check --fix`'s), kept in the LSP
//!   diagnostic's `data`, is offered as a quick fix; preferred when safe.
//! * Hover: on a key, its description (the JSON Schema's, `schema.rs`); on a
//!   code (`WF101`), its `--explain` text.
//! * Go to definition: a job's `needs` → the job; a stage's `trigger` → the
//!   workflow, in whichever file defines it.
//!
//! Positions are UTF-16 code units, as LSP counts them by default.

mod names;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams,
    CodeActionProviderCapability, CompletionItem, CompletionItemKind, CompletionOptions,
    CompletionParams, CompletionResponse, Diagnostic as LspDiagnostic,
    DiagnosticRelatedInformation, DiagnosticSeverity, DidChangeTextDocumentParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DidSaveTextDocumentParams,
    Documentation, GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverContents, HoverParams,
    HoverProviderCapability, InitializeParams, Location, MarkupContent, MarkupKind, NumberOrString,
    OneOf, Position, PublishDiagnosticsParams, Range, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri, WorkspaceEdit,
};

use crate::check;
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::project::Project;
use crate::schema::{self, Object};
use crate::source::SourceFile;
use crate::span::{FileId, Span};
use crate::syntax::discover;
use crate::syntax::yaml::{self, Node, NodeKind};

/// How long after the last change the workspace is checked again
/// (`WFC_LSP_DEBOUNCE_MS` sets another, such as 0 for a benchmark).
const DEBOUNCE: Duration = Duration::from_millis(150);

fn debounce() -> Duration {
    std::env::var("WFC_LSP_DEBOUNCE_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEBOUNCE, |ms| Duration::from_millis(ms.min(10_000)))
}

/// Why the server stopped before its client said `exit`.
#[derive(Debug, thiserror::Error)]
pub enum LspError {
    #[error("the LSP connection: {0}")]
    Protocol(String),
}

/// Serves the client on stdin/stdout until it says `exit`. `root`: the
/// workspace (default: the client's root, else `$WORKFLOW_CORE_CONF_PATH`,
/// `./conf` or `.`).
pub fn serve_stdio(root: Option<PathBuf>) -> Result<(), LspError> {
    let (connection, threads) = Connection::stdio();
    serve(&connection, root)?;
    threads
        .join()
        .map_err(|e| LspError::Protocol(e.to_string()))
}

/// Serves the client on `connection` (see [`serve_stdio`]).
pub fn serve(connection: &Connection, root: Option<PathBuf>) -> Result<(), LspError> {
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "|".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..ServerCapabilities::default()
    };
    let capabilities =
        serde_json::to_value(capabilities).map_err(|e| LspError::Protocol(e.to_string()))?;
    let params = connection
        .initialize(capabilities)
        .map_err(|e| LspError::Protocol(e.to_string()))?;
    let params: InitializeParams =
        serde_json::from_value(params).map_err(|e| LspError::Protocol(e.to_string()))?;
    #[allow(deprecated)]
    let client_root = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| f.uri.clone())
        .or(params.root_uri)
        .and_then(|uri| path_of(&uri));
    let roots = match root.or(client_root) {
        Some(root) => vec![root],
        None => discover::default_paths(),
    };
    // The workspace's `wfc.toml` / `[tool.wfc]`, as `wfc check` finds it; a
    // mistake in it is shown, and the defaults are used meanwhile.
    let config = Config::discover(&roots).unwrap_or_else(|error| {
        let _ = connection
            .sender
            .send(Message::Notification(Notification::new(
                "window/showMessage".into(),
                lsp_types::ShowMessageParams {
                    typ: lsp_types::MessageType::ERROR,
                    message: format!("wfc: {error}"),
                },
            )));
        Config::default()
    });
    let roots = config.conf_path().map_or(roots, |conf| vec![conf]);
    let mut options = check::Options::default();
    options.extra_filters.clone_from(&config.filters.0);
    let mut server = Server {
        roots,
        config,
        options,
        open: HashMap::new(),
        files: HashMap::new(),
        next_id: 0,
        published: HashMap::new(),
        due: None,
    };
    // The workspace as it is on disk, checked before the first request.
    server.check(connection);
    loop {
        let message = match server.due {
            Some(due) => {
                let wait = due.saturating_duration_since(Instant::now());
                match connection.receiver.recv_timeout(wait) {
                    Ok(message) => Some(message),
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Ok(()),
                }
            }
            None => match connection.receiver.recv() {
                Ok(message) => Some(message),
                Err(_) => return Ok(()),
            },
        };
        match message {
            None => {
                server.due = None;
                server.check(connection);
            }
            Some(Message::Request(request)) => {
                if connection
                    .handle_shutdown(&request)
                    .map_err(|e| LspError::Protocol(e.to_string()))?
                {
                    return Ok(());
                }
                let response = server.answer(request);
                let _ = connection.sender.send(Message::Response(response));
            }
            Some(Message::Notification(notification)) => server.notice(notification),
            Some(Message::Response(_)) => {}
        }
    }
}

struct Server {
    roots: Vec<PathBuf>,
    /// What decides the findings shown, as for `wfc check`.
    config: Config,
    options: check::Options,
    /// The editor's buffers, by path: checked instead of the files on disk.
    open: HashMap<PathBuf, String>,
    /// Each workflow file's own check, kept until its text changes.
    files: HashMap<PathBuf, FileState>,
    /// The next file id to give a file (ids are never reused).
    next_id: u32,
    /// What each file was last given, so that only changes are sent.
    published: HashMap<PathBuf, Vec<LspDiagnostic>>,
    /// When the workspace is to be checked again.
    due: Option<Instant>,
}

/// A file's size and time on disk.
type Stamp = (u64, Option<std::time::SystemTime>);

/// A file's text to check again, and its stamp (None: an editor's buffer).
type Changed = Option<(String, Option<Stamp>)>;

/// A file's own check (everything but the checks across files), its spans on
/// the file's own id.
struct FileState {
    id: FileId,
    source: SourceFile,
    /// Its size and time on disk when it was read (None: an editor's buffer).
    stamp: Option<Stamp>,
    own: Vec<Diagnostic>,
    summaries: Vec<crate::check::summary::WorkflowSummary>,
    /// Its `# wfc: ignore[…]` comments.
    suppressions: Vec<crate::suppress::Suppression>,
}

impl FileState {
    /// Loads and checks one file on its own, its spans moved to `id`.
    fn check(
        id: FileId,
        path: PathBuf,
        text: String,
        stamp: Option<(u64, Option<std::time::SystemTime>)>,
        options: &check::Options,
    ) -> FileState {
        let mut loaded = Project::from_sources(vec![(path, text)]);
        let mut own = loaded.diagnostics;
        let mut suppressions = loaded.suppressions.pop().unwrap_or_default();
        for s in &mut suppressions {
            s.set_file(id);
        }
        let mut summaries = Vec::new();
        if let Some(model) = loaded.project.files.first() {
            let report = check::check_file(loaded.project.sources.get(model.file), model, options);
            own.extend(report.diagnostics);
            summaries = report.workflows;
        }
        for d in &mut own {
            d.set_file(id);
        }
        for summary in &mut summaries {
            summary.set_file(id);
        }
        let source = loaded.project.sources.iter().next().map_or_else(
            || SourceFile::new(PathBuf::new(), String::new()),
            |(_, s)| SourceFile::new(s.path.clone(), s.text.clone()),
        );
        crate::diagnostic::drop_broken_fixes(&source.text, &mut own);
        FileState {
            id,
            source,
            stamp,
            own,
            summaries,
            suppressions,
        }
    }
}

impl Server {
    fn notice(&mut self, notification: Notification) {
        let changed = match notification.method.as_str() {
            "textDocument/didOpen" => notification
                .extract::<DidOpenTextDocumentParams>("textDocument/didOpen")
                .ok()
                .and_then(|p| Some((path_of(&p.text_document.uri)?, p.text_document.text)))
                .map(|(path, text)| self.open.insert(path, text))
                .is_some(),
            "textDocument/didChange" => notification
                .extract::<DidChangeTextDocumentParams>("textDocument/didChange")
                .ok()
                .and_then(|p| {
                    let text = p.content_changes.into_iter().last()?.text;
                    Some((path_of(&p.text_document.uri)?, text))
                })
                .map(|(path, text)| self.open.insert(path, text))
                .is_some(),
            "textDocument/didClose" => notification
                .extract::<DidCloseTextDocumentParams>("textDocument/didClose")
                .ok()
                .and_then(|p| path_of(&p.text_document.uri))
                .map(|path| self.open.remove(&path))
                .is_some(),
            "textDocument/didSave" | "workspace/didChangeWatchedFiles" => {
                let _ = notification.extract::<DidSaveTextDocumentParams>("textDocument/didSave");
                true
            }
            _ => false,
        };
        if changed {
            self.due = Some(Instant::now() + debounce());
        }
    }

    /// The workspace's files, the editor's buffers in place of theirs: each
    /// file's path, and its text when it must be checked again (None: its
    /// last check holds: the same buffer, or the same size and time on disk).
    fn changed_files(&self) -> Vec<(PathBuf, Changed)> {
        let found = discover::discover(&self.roots).map_or_else(|_| Vec::new(), |d| d.files);
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        let mut add = |path: PathBuf| {
            let key = std::path::absolute(&path).unwrap_or(path);
            if !seen.insert(key.clone()) {
                return;
            }
            let known = self.files.get(&key);
            if let Some(text) = self.open.get(&key) {
                let same = known.is_some_and(|f| f.stamp.is_none() && f.source.text == *text);
                files.push((key, (!same).then(|| (text.clone(), None))));
                return;
            }
            let meta = std::fs::metadata(&key).ok();
            let stamp = meta.map(|m| (m.len(), m.modified().ok()));
            if stamp.is_some() && known.is_some_and(|f| f.stamp == stamp) {
                files.push((key, None));
                return;
            }
            if let Ok(text) = wfc_plan::input::read_text(&key, wfc_plan::input::MAX_WORKFLOW_FILE) {
                files.push((key, Some((text, stamp))));
            }
        };
        for path in found {
            add(path);
        }
        // Buffers of workflow files outside the workspace are checked too.
        for path in self.open.keys() {
            if is_yaml(path) {
                add(path.clone());
            }
        }
        files
    }

    /// Checks again the files that changed (in parallel), then the checks
    /// across files over every file's summaries, and sends each file whose
    /// findings changed its new list.
    fn check(&mut self, connection: &Connection) {
        use rayon::prelude::*;
        let listed = self.changed_files();
        let present: HashSet<PathBuf> = listed.iter().map(|(p, _)| p.clone()).collect();
        self.files.retain(|path, _| present.contains(path));
        let mut work = Vec::new();
        for (path, text) in listed {
            if let Some((text, stamp)) = text {
                let id = if let Some(state) = self.files.get(&path) {
                    state.id
                } else {
                    self.next_id += 1;
                    FileId(self.next_id)
                };
                work.push((id, path, text, stamp));
            }
        }
        let options = &self.options;
        let checked: Vec<(PathBuf, FileState)> = work
            .into_par_iter()
            .map(|(id, path, text, stamp)| {
                (
                    path.clone(),
                    FileState::check(id, path, text, stamp, options),
                )
            })
            .collect();
        self.files.extend(checked);
        let summaries: Vec<&crate::check::summary::WorkflowSummary> =
            self.files.values().flat_map(|f| &f.summaries).collect();
        let across = check::check_across(&summaries);
        let by_id: HashMap<FileId, (&PathBuf, &FileState)> =
            self.files.iter().map(|(p, f)| (f.id, (p, f))).collect();
        let mut found: HashMap<FileId, Vec<Diagnostic>> = HashMap::new();
        for d in across {
            found.entry(d.span.file).or_default().push(d);
        }
        let policy = crate::suppress::Policy {
            config: Some(&self.config),
            no_suppress: false,
        };
        let mut by_file: HashMap<PathBuf, Vec<LspDiagnostic>> = HashMap::new();
        for (path, state) in &self.files {
            let mut all = found.remove(&state.id).unwrap_or_default();
            all.extend(state.own.iter().cloned());
            // Configured and suppressed as `wfc check` shows them.
            let shown =
                crate::suppress::apply_file(policy, &state.source, &state.suppressions, all);
            by_file
                .entry(path.clone())
                .or_default()
                .extend(shown.iter().map(|d| to_lsp(&by_id, d)));
        }
        // Files gone since: their findings are cleared.
        for path in self.published.keys() {
            by_file.entry(path.clone()).or_default();
        }
        for (path, mut diagnostics) in by_file {
            diagnostics.sort_by_key(|d| (d.range.start.line, d.range.start.character));
            if self.published.get(&path) == Some(&diagnostics) {
                continue;
            }
            let Some(uri) = uri_of(&path) else { continue };
            if diagnostics.is_empty() {
                self.published.remove(&path);
            } else {
                self.published.insert(path, diagnostics.clone());
            }
            let params = PublishDiagnosticsParams {
                uri,
                diagnostics,
                version: None,
            };
            let _ = connection
                .sender
                .send(Message::Notification(Notification::new(
                    "textDocument/publishDiagnostics".into(),
                    params,
                )));
        }
    }

    fn answer(&self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            "textDocument/hover" => request
                .extract::<HoverParams>("textDocument/hover")
                .ok()
                .map(|(_, p)| serde_json::to_value(self.hover(&p)).unwrap_or_default()),
            "textDocument/definition" => request
                .extract::<GotoDefinitionParams>("textDocument/definition")
                .ok()
                .map(|(_, p)| serde_json::to_value(self.definition(&p)).unwrap_or_default()),
            "textDocument/completion" => request
                .extract::<CompletionParams>("textDocument/completion")
                .ok()
                .map(|(_, p)| serde_json::to_value(self.complete(&p)).unwrap_or_default()),
            "textDocument/codeAction" => request
                .extract::<CodeActionParams>("textDocument/codeAction")
                .ok()
                .map(|(_, p)| serde_json::to_value(code_actions(&p)).unwrap_or_default()),
            _ => {
                return Response::new_err(
                    id,
                    lsp_server::ErrorCode::MethodNotFound as i32,
                    format!("wfc lsp does not answer `{}`", request.method),
                );
            }
        };
        match result {
            Some(value) => Response::new_ok(id, value),
            None => Response::new_err(
                id,
                lsp_server::ErrorCode::InvalidParams as i32,
                "the request's params do not fit its method".into(),
            ),
        }
    }

    /// The text of a document: the editor's buffer, else the file.
    fn text(&self, uri: &Uri) -> Option<(PathBuf, String)> {
        let path = path_of(uri)?;
        if let Some(text) = self.open.get(&path) {
            return Some((path, text.clone()));
        }
        let text = wfc_plan::input::read_text(&path, wfc_plan::input::MAX_WORKFLOW_FILE).ok()?;
        Some((path, text))
    }

    fn hover(&self, params: &HoverParams) -> Option<Hover> {
        let at = &params.text_document_position_params;
        let (path, text) = self.text(&at.text_document.uri)?;
        let source = SourceFile::new(path, text);
        let offset = offset_of(&source, at.position);
        // A code (`WF101`) under the cursor: what it means.
        let word = word_at(&source.text, offset);
        if let Some(code) = Code::lookup(word) {
            let value = format!(
                "**{} {}** ({})\n\n{}\n\n{}",
                code.id(),
                code.name(),
                code.severity().as_str(),
                code.summary(),
                code.explanation()
            );
            return Some(markdown(value));
        }
        let root = yaml::parse(FileId(0), &source).ok()?;
        if let Some(hover) = template_hover(&source, &root, offset) {
            return Some(hover);
        }
        let (object, key, span) = key_at(&root, offset)?;
        let described = schema::key(object, &key)?;
        let doc = described["description"].as_str().unwrap_or("");
        let mut hover = markdown(format!("`{key}`: {doc}"));
        hover.range = Some(range_of(&source, span));
        Some(hover)
    }

    fn definition(&self, params: &GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let at = &params.text_document_position_params;
        let (path, text) = self.text(&at.text_document.uri)?;
        let source = SourceFile::new(path.clone(), text);
        let offset = offset_of(&source, at.position);
        let root = yaml::parse(FileId(0), &source).ok()?;
        if let Some(span) = template_definition(&source, &root, offset) {
            return Some(GotoDefinitionResponse::Scalar(Location {
                uri: uri_of(&path)?,
                range: range_of(&source, span),
            }));
        }
        match reference_at(&root, offset)? {
            Target::Job(span) => Some(GotoDefinitionResponse::Scalar(Location {
                uri: uri_of(&path)?,
                range: range_of(&source, span),
            })),
            Target::Workflow(name) => {
                // The workflow may be in any file of the workspace: its
                // summary, from the last check, says where.
                let (file, state, summary) = self.files.iter().find_map(|(path, f)| {
                    let summary = f.summaries.iter().find(|w| w.name.value == name)?;
                    Some((path, f, summary))
                })?;
                Some(GotoDefinitionResponse::Scalar(Location {
                    uri: uri_of(file)?,
                    range: range_of(&state.source, summary.name.span),
                }))
            }
        }
    }
}

impl Server {
    /// What may be written at the cursor: keys of the mapping it is in, param
    /// names after `params.`, stage ids after `stages.`, the jobs needed after
    /// `jobs.`, filters after `|`, workflows after `trigger:`.
    fn complete(&self, params: &CompletionParams) -> Option<CompletionResponse> {
        let at = &params.text_document_position;
        let (path, text) = self.text(&at.text_document.uri)?;
        let source = SourceFile::new(path, text);
        let offset = offset_of(&source, at.position) as usize;
        let line_start = source.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let prefix = &source.text[line_start..offset];
        let item =
            |label: String, kind: CompletionItemKind, detail: Option<String>| CompletionItem {
                label,
                kind: Some(kind),
                documentation: detail.map(Documentation::String),
                ..CompletionItem::default()
            };
        let expecting = names::expecting(prefix);
        let items: Vec<CompletionItem> = match expecting {
            names::Expecting::Filters => wfc_plan::filters::FILTERS
                .iter()
                .map(|f| {
                    item(
                        f.name.to_string(),
                        CompletionItemKind::FUNCTION,
                        Some(format!("{}: {}", f.signature(), f.doc)),
                    )
                })
                .collect(),
            names::Expecting::Workflows => {
                let mut all = Vec::new();
                for state in self.files.values() {
                    for summary in &state.summaries {
                        all.push(item(
                            summary.name.value.clone(),
                            CompletionItemKind::MODULE,
                            None,
                        ));
                    }
                }
                all
            }
            names::Expecting::Keys => {
                // The line as a key being written: the partial word becomes a
                // placeholder key, and the tree says whose key it is.
                let word_start = prefix
                    .char_indices()
                    .rev()
                    .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
                    .map_or(0, |(i, c)| i + c.len_utf8());
                let at = u32::try_from(line_start + word_start).ok()?;
                let patched = with_placeholder(&source, line_start, &prefix[..word_start], offset);
                let root = yaml::parse(FileId(0), &patched).ok()?;
                let (object, siblings) = mapping_at(&root, at)?;
                object
                    .keys()
                    .into_iter()
                    .filter(|k| !siblings.contains(&(*k).to_string()))
                    .map(|k| {
                        let doc = schema::key(object, k)
                            .and_then(|d| d["description"].as_str().map(str::to_string));
                        item(k.to_string(), CompletionItemKind::PROPERTY, doc)
                    })
                    .collect()
            }
            names::Expecting::Params | names::Expecting::Stages | names::Expecting::Jobs => {
                // The line being written may not parse yet (an open quote): it
                // is read as a placeholder key at its indentation, which is
                // enough to know its workflow and job.
                let indent = prefix.len() - prefix.trim_start().len();
                let patched = with_placeholder(&source, line_start, &prefix[..indent], offset);
                let root = yaml::parse(FileId(0), &patched).ok()?;
                let all = workflows(&root);
                let scope = names::scope_at(&all, u32::try_from(line_start + indent).ok()?)?;
                match expecting {
                    names::Expecting::Params => names::entries(scope.workflow, "params")?
                        .iter()
                        .map(|p| {
                            let (ty, default) = names::param_facts(p, &patched.text);
                            let detail = match default {
                                Some(d) => format!("{ty}, default {d}"),
                                None => ty,
                            };
                            item(
                                p.key.name.clone(),
                                CompletionItemKind::VARIABLE,
                                Some(detail),
                            )
                        })
                        .collect(),
                    names::Expecting::Stages => {
                        let mut ids = Vec::new();
                        names::stage_ids(&scope.job?.value, &mut ids);
                        ids.into_iter()
                            .filter_map(|(node, name)| match &node.kind {
                                NodeKind::Str(id) => Some(item(
                                    id.clone(),
                                    CompletionItemKind::FIELD,
                                    Some(format!("stage `{name}`")),
                                )),
                                _ => None,
                            })
                            .collect()
                    }
                    _ => names::needs(scope.job?)
                        .into_iter()
                        .map(|j| item(j, CompletionItemKind::MODULE, None))
                        .collect(),
                }
            }
        };
        Some(CompletionResponse::Array(items))
    }
}

/// The key a completion writes at the cursor, while the tree is read.
const PLACEHOLDER: &str = "__wfc_cursor__";

/// The text with the cursor's line (from `line_start` to its end) replaced by
/// `kept` then a placeholder key: a line being written parses that way.
fn with_placeholder(
    source: &SourceFile,
    line_start: usize,
    kept: &str,
    offset: usize,
) -> SourceFile {
    let line_end = source.text[offset..]
        .find('\n')
        .map_or(source.text.len(), |i| offset + i);
    let text = format!(
        "{}{kept}{PLACEHOLDER}: null{}",
        &source.text[..line_start],
        &source.text[line_end..]
    );
    SourceFile::new(source.path.clone(), text)
}

/// The mapping whose key starts at `offset` (the placeholder's), as an object,
/// and the other keys it has.
fn mapping_at(root: &Node, offset: u32) -> Option<(Object, Vec<String>)> {
    for (_, _, workflow) in workflows(root) {
        if contains(workflow.span, offset)
            && let Some(found) = mapping_in(workflow, Object::Workflow, offset)
        {
            return Some(found);
        }
    }
    // A new workflow's key at the top of a file of several.
    None
}

fn mapping_in(node: &Node, object: Object, offset: u32) -> Option<(Object, Vec<String>)> {
    let NodeKind::Map(entries) = &node.kind else {
        return None;
    };
    for entry in entries {
        if contains(entry.key.span, offset) && entry.key.name == PLACEHOLDER {
            let siblings = entries
                .iter()
                .map(|e| e.key.name.clone())
                .filter(|k| k != PLACEHOLDER)
                .collect();
            return Some((object, siblings));
        }
        if contains(entry.value.span, offset) {
            for (child, inner) in children(object, &entry.key.name, &entry.value) {
                if contains(inner.span, offset) {
                    return mapping_in(inner, child, offset);
                }
            }
        }
    }
    None
}

/// Hover on a name in a template: a param's type and default, a stage's name
/// and job, a filter's signature.
fn template_hover(source: &SourceFile, root: &Node, offset: u32) -> Option<Hover> {
    let (found, start, end) = names::ref_at(&source.text, offset)?;
    let all = workflows(root);
    let scope = names::scope_at(&all, offset)?;
    let value = match &found {
        names::Ref::Param(name) => {
            let entry = names::param(scope.workflow, name)?;
            let (ty, default) = names::param_facts(entry, &source.text);
            match default {
                Some(d) => format!("param `{name}`: {ty}, default `{d}`"),
                None => format!("param `{name}`: {ty}"),
            }
        }
        names::Ref::Stage(id, job) => {
            let job = match job {
                Some(j) => names::job(scope.workflow, j)?,
                None => scope.job?,
            };
            let (_, name) = names::stage(job, id)?;
            format!("stage `{name}` (id `{id}`) of job `{}`", job.key.name)
        }
        names::Ref::Job(name) => {
            names::job(scope.workflow, name)?;
            format!("job `{name}`")
        }
        names::Ref::Filter(name) => {
            let filter = wfc_plan::filters::FILTERS.iter().find(|f| f.name == name)?;
            format!("`{}`: {}", filter.signature(), filter.doc)
        }
    };
    let mut hover = markdown(value);
    let span = Span {
        file: FileId(0),
        start: u32::try_from(start).ok()?,
        end: u32::try_from(end).ok()?,
    };
    hover.range = Some(range_of(source, span));
    Some(hover)
}

/// Where a name in a template is defined: a param's key, a stage's `id`, a job's key.
fn template_definition(source: &SourceFile, root: &Node, offset: u32) -> Option<Span> {
    let (found, _, _) = names::ref_at(&source.text, offset)?;
    let all = workflows(root);
    let scope = names::scope_at(&all, offset)?;
    match found {
        names::Ref::Param(name) => Some(names::param(scope.workflow, &name)?.key.span),
        names::Ref::Stage(id, job) => {
            let job = match job {
                Some(j) => names::job(scope.workflow, &j)?,
                None => scope.job?,
            };
            Some(names::stage(job, &id)?.0.span)
        }
        names::Ref::Job(name) => Some(names::job(scope.workflow, &name)?.key.span),
        names::Ref::Filter(_) => None,
    }
}

fn markdown(value: String) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range: None,
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yml" || e == "yaml")
}

/// A finding in LSP's words: the help and notes follow the message; its fix,
/// when the file still holds what the fix replaces, is kept in `data` for the
/// code action (see [`fix_data`]).
fn to_lsp(files: &HashMap<FileId, (&PathBuf, &FileState)>, d: &Diagnostic) -> LspDiagnostic {
    let empty = SourceFile::new(PathBuf::new(), String::new());
    let source = files.get(&d.span.file).map_or(&empty, |(_, f)| &f.source);
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    for note in &d.notes {
        message.push_str("\nnote: ");
        message.push_str(note);
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|label| {
            let (path, file) = files.get(&label.span.file)?;
            Some(DiagnosticRelatedInformation {
                location: Location {
                    uri: uri_of(path)?,
                    range: range_of(&file.source, label.span),
                },
                message: label.message.clone(),
            })
        })
        .collect();
    let fix = d
        .fix
        .as_ref()
        .filter(|f| f.holds(&source.text))
        .map(|f| fix_data(source, f));
    LspDiagnostic {
        range: range_of(source, d.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.id().to_string())),
        code_description: None,
        source: Some("wfc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: fix.map(|fix| serde_json::json!({ "fix": fix })),
    }
}

/// A fix as a code action needs it: its message, its applicability and its
/// edits as LSP text edits of the finding's file.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct FixData {
    message: String,
    /// `safe` or `unsafe` (`Applicability::as_str`).
    applicability: String,
    edits: Vec<TextEdit>,
}

fn fix_data(source: &SourceFile, fix: &crate::diagnostic::Fix) -> FixData {
    FixData {
        message: fix.message.clone(),
        applicability: fix.applicability.as_str().to_string(),
        edits: fix
            .edits
            .iter()
            .map(|e| TextEdit {
                range: range_of(source, e.span),
                new_text: e.replacement.clone(),
            })
            .collect(),
    }
}

/// The quick fixes of the findings the client sends: each applies the fix its
/// finding carries in `data`.
// `WorkspaceEdit::changes` is lsp-types' map keyed by `Uri` (whose cache is
// interior-mutable); its hash does not change while it is a key here.
#[allow(clippy::mutable_key_type)]
fn code_actions(params: &CodeActionParams) -> Vec<CodeActionOrCommand> {
    params
        .context
        .diagnostics
        .iter()
        .filter_map(|d| {
            let fix: FixData = serde_json::from_value(d.data.as_ref()?.get("fix")?.clone()).ok()?;
            let mut changes = HashMap::new();
            changes.insert(params.text_document.uri.clone(), fix.edits);
            let mut title = fix.message;
            if let Some(first) = title.get(..1) {
                title.replace_range(..1, &first.to_ascii_uppercase());
            }
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                edit: Some(WorkspaceEdit {
                    changes: Some(changes),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(fix.applicability == "safe"),
                ..CodeAction::default()
            }))
        })
        .collect()
}

/// A file's path from its `file://` URI.
fn path_of(uri: &Uri) -> Option<PathBuf> {
    let text = uri.as_str();
    let rest = text.strip_prefix("file://")?;
    let mut bytes = Vec::with_capacity(rest.len());
    let raw = rest.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            let hex = std::str::from_utf8(&raw[i + 1..i + 3]).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    let path = PathBuf::from(String::from_utf8(bytes).ok()?);
    Some(std::path::absolute(&path).unwrap_or(path))
}

/// A path's `file://` URI.
fn uri_of(path: &Path) -> Option<Uri> {
    let path = std::path::absolute(path).ok()?;
    let mut text = String::from("file://");
    for b in path.to_str()?.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            text.push(char::from(b));
        } else {
            let _ = write!(text, "%{b:02X}");
        }
    }
    text.parse().ok()
}

/// An LSP position (UTF-16 units) of a byte offset.
fn position_of(source: &SourceFile, offset: u32) -> Position {
    let offset = source.floor_boundary(offset as usize);
    let line = source.line_index(offset);
    let start = source.line_range(line).start;
    let column = source.text[start..offset.max(start)].encode_utf16().count();
    Position::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

fn range_of(source: &SourceFile, span: Span) -> Range {
    Range::new(
        position_of(source, span.start),
        position_of(source, span.end),
    )
}

/// The byte offset of an LSP position.
fn offset_of(source: &SourceFile, position: Position) -> u32 {
    let line = position.line as usize;
    let range = source.line_range(line.min(source.line_index(source.text.len())));
    let text = &source.text[range.clone()];
    let mut units = 0u32;
    let mut at = text.len();
    for (i, c) in text.char_indices() {
        if units >= position.character {
            at = i;
            break;
        }
        units += u32::try_from(c.len_utf16()).unwrap_or(1);
    }
    u32::try_from(range.start + at).unwrap_or(u32::MAX)
}

/// The word (letters, digits, `-`, `_`) at a byte offset.
fn word_at(text: &str, offset: u32) -> &str {
    let (start, end) = names::run_around(text, offset, |c| {
        c.is_ascii_alphanumeric() || c == '-' || c == '_'
    });
    &text[start..end]
}

fn contains(span: Span, offset: u32) -> bool {
    span.start <= offset && offset <= span.end
}

/// The workflows of a file's tree, with their names.
fn workflows(root: &Node) -> Vec<(String, Span, &Node)> {
    let NodeKind::Map(entries) = &root.kind else {
        return Vec::new();
    };
    if let Some(name) = entries.iter().find(|e| e.key.name == "name") {
        let shown = match &name.value.kind {
            NodeKind::Str(s) => s.clone(),
            _ => String::new(),
        };
        return vec![(shown, name.value.span, root)];
    }
    entries
        .iter()
        .filter(|e| matches!(e.value.kind, NodeKind::Map(_)))
        .map(|e| (e.key.name.clone(), e.key.span, &e.value))
        .collect()
}

/// The key under the cursor and the mapping it is a key of.
fn key_at(root: &Node, offset: u32) -> Option<(Object, String, Span)> {
    for (_, _, workflow) in workflows(root) {
        if contains(workflow.span, offset)
            && let Some(found) = key_in(workflow, Object::Workflow, offset)
        {
            return Some(found);
        }
    }
    None
}

/// What the value of `key` of an `object` holds: mappings of which object,
/// and how (a map of them, a list of them, one).
fn children<'n>(object: Object, key: &str, value: &'n Node) -> Vec<(Object, &'n Node)> {
    let each_value = |o: Object| -> Vec<(Object, &'n Node)> {
        match &value.kind {
            NodeKind::Map(entries) => entries.iter().map(|e| (o, &e.value)).collect(),
            _ => Vec::new(),
        }
    };
    let each_item = |pick: &dyn Fn(&Node) -> Object| -> Vec<(Object, &'n Node)> {
        match &value.kind {
            NodeKind::Seq(items) => items.iter().map(|n| (pick(n), n)).collect(),
            _ => Vec::new(),
        }
    };
    let has = |n: &Node, k: &str| {
        n.as_map()
            .is_some_and(|m| m.iter().any(|e| e.key.name == k))
    };
    match (object, key) {
        (Object::Workflow, "params") => each_value(Object::Param),
        (Object::Workflow, "on") => vec![(Object::On, value)],
        (Object::Workflow, "jobs") => each_value(Object::Job),
        (Object::On, "schedule") => each_item(&|n| {
            if has(n, "interval") {
                Object::Interval
            } else {
                Object::Cron
            }
        }),
        (Object::Job, "strategy") => vec![(Object::Strategy, value)],
        (Object::Job, "runs-on") => vec![(Object::RunsOn, value)],
        (Object::Job | Object::Stage | Object::CaseArm, "stages") | (Object::ElseArm, "else") => {
            each_item(&|_| Object::Stage)
        }
        (Object::Stage, "parallel") => match &value.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .flat_map(|e| match &e.value.kind {
                    NodeKind::Seq(items) => items.iter().map(|n| (Object::Stage, n)).collect(),
                    _ => Vec::new(),
                })
                .collect(),
            _ => Vec::new(),
        },
        (Object::Stage, "match") => each_item(&|n| {
            if has(n, "else") {
                Object::ElseArm
            } else {
                Object::CaseArm
            }
        }),
        _ => Vec::new(),
    }
}

fn key_in(node: &Node, object: Object, offset: u32) -> Option<(Object, String, Span)> {
    let NodeKind::Map(entries) = &node.kind else {
        return None;
    };
    for entry in entries {
        if contains(entry.key.span, offset) {
            return Some((object, entry.key.name.clone(), entry.key.span));
        }
        if contains(entry.value.span, offset) {
            for (child, inner) in children(object, &entry.key.name, &entry.value) {
                if contains(inner.span, offset) {
                    return key_in(inner, child, offset);
                }
            }
            return None;
        }
    }
    None
}

/// What a name under the cursor refers to.
enum Target {
    /// A job of the same workflow: its key.
    Job(Span),
    Workflow(String),
}

fn reference_at(root: &Node, offset: u32) -> Option<Target> {
    let all = workflows(root);
    let scope = names::scope_at(&all, offset)?;
    let job = scope.job?;
    let needs = job
        .value
        .as_map()
        .and_then(|m| m.iter().find(|e| e.key.name == "needs"));
    let needed: Vec<&Node> = match needs.map(|e| &e.value) {
        Some(Node {
            kind: NodeKind::Seq(items),
            ..
        }) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    for item in needed {
        if let NodeKind::Str(target) = &item.kind
            && contains(item.span, offset)
        {
            return Some(Target::Job(names::job(scope.workflow, target)?.key.span));
        }
    }
    trigger_in(&job.value, offset)
}

/// A stage's `trigger` under the cursor, at any depth.
fn trigger_in(node: &Node, offset: u32) -> Option<Target> {
    match &node.kind {
        NodeKind::Map(entries) => entries.iter().find_map(|e| {
            if e.key.name == "trigger"
                && let NodeKind::Str(target) = &e.value.kind
                && contains(e.value.span, offset)
            {
                return Some(Target::Workflow(target.clone()));
            }
            contains(e.value.span, offset)
                .then(|| trigger_in(&e.value, offset))
                .flatten()
        }),
        NodeKind::Seq(items) => items.iter().find_map(|n| {
            contains(n.span, offset)
                .then(|| trigger_in(n, offset))
                .flatten()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_utf16_units_both_ways() {
        let source = SourceFile::new("a.yml".into(), "é😀x: 1\nab: 2\n".into());
        let x = source.text.find('x').expect("x");
        let at = position_of(&source, u32::try_from(x).expect("small"));
        assert_eq!(at, Position::new(0, 3), "é is 1 unit, 😀 is 2");
        assert_eq!(offset_of(&source, at) as usize, x);
        let b = source.text.find('b').expect("b");
        assert_eq!(offset_of(&source, Position::new(1, 1)) as usize, b);
    }

    #[test]
    fn uris_and_paths() {
        let uri = uri_of(Path::new("/tmp/a b/c.yml")).expect("a URI");
        assert_eq!(uri.as_str(), "file:///tmp/a%20b/c.yml");
        assert_eq!(path_of(&uri), Some(PathBuf::from("/tmp/a b/c.yml")));
    }

    #[test]
    fn a_fix_is_sent_as_utf16_text_edits() {
        use crate::diagnostic::{Applicability, Fix};
        let source = SourceFile::new("a.yml".into(), "é: {ecoh: x}\n".into());
        let at = source.text.find("ecoh").expect("ecoh");
        let span = Span::new(FileId(0), at, at + 4);
        let data = fix_data(
            &source,
            &Fix::rename(span, "ecoh", "echo", Applicability::Safe),
        );
        assert_eq!(data.applicability, "safe");
        assert_eq!(data.edits.len(), 1);
        assert_eq!(data.edits[0].new_text, "echo");
        assert_eq!(
            data.edits[0].range,
            Range::new(Position::new(0, 4), Position::new(0, 8))
        );
    }
}

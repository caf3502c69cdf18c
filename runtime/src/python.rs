//! Embedded CPython: the interpreter is started once, on first use, with wfr's
//! support module (`python/wfc_support.py`) loaded; values cross between Rust and
//! Python here.
//!
//! Each worker thread that runs Python has its own thread state; the GIL is held
//! only while Python code runs (a `time.sleep` or blocking I/O releases it), and the
//! pool lends a worker's place while its thread waits for the GIL or for Python.

use std::ffi::CString;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyDate, PyDateAccess, PyDateTime, PyDict, PyFloat, PyInt, PyList, PySet, PyString,
    PyTimeAccess, PyTuple, PyTzInfo, PyTzInfoAccess,
};

use crate::value::{Foreign, Map, Str, Value};

const SUPPORT: &str = include_str!("../python/wfc_support.py");

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The support module, loaded on first use.
fn support(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    MODULE
        .get_or_try_init(py, || {
            let code = CString::new(SUPPORT).map_err(|e| {
                pyo3::exceptions::PyValueError::new_err(format!("support module: {e}"))
            })?;
            let module = PyModule::from_code(py, &code, c"wfc_support.py", c"_wfc_support")?;
            module.add_function(pyo3::wrap_pyfunction!(stage_lines, &module)?)?;
            module.add_function(pyo3::wrap_pyfunction!(spawning, &module)?)?;
            py.import("sys")?
                .getattr("modules")?
                .set_item("_wfc_support", &module)?;
            Ok(module.unbind())
        })
        .map(|m| m.bind(py))
}

/// Markers of the stages whose Python code started processes.
static SPAWNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Called by the support module before a stage's code starts a process: the
/// guard is started if need be, and the stage is noted as one to clean up after.
#[pyfunction(name = "_wfr_spawning")]
fn spawning(marker: &str) {
    let _ = crate::guard::ensure();
    let mut spawned = SPAWNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !spawned.iter().any(|m| m == marker) {
        spawned.push(marker.to_string());
    }
}

/// True (once) when the stage `marker`'s code started processes.
pub(crate) fn spawned(marker: &str) -> bool {
    let mut spawned = SPAWNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = spawned.len();
    spawned.retain(|m| m != marker);
    spawned.len() != before
}

/// The lines a stage's Python code prints on one stream, made by the support
/// module when the stage starts (`_wfr_lines(stream, run id, at)`): each is
/// logged as it comes, within the stream's budget (see [`crate::output`]), and
/// `end()` logs what the budget held back.
#[pyclass(name = "_WfrLines", frozen)]
struct StageLines {
    events: Option<Arc<crate::events::RunEvents>>,
    stream: crate::events::Stream,
    at: String,
    budget: std::sync::Mutex<crate::output::LineBudget>,
}

impl StageLines {
    fn log(&self, f: impl FnOnce(&mut crate::output::LineBudget, &mut dyn FnMut(&str))) {
        use crate::events::{RunEvent, Source};
        let Some(events) = &self.events else {
            return;
        };
        let mut emit = |text: &str| {
            events.emit(Source::Py, || RunEvent::Line {
                at: &self.at,
                source: Source::Py,
                stream: Some(self.stream),
                text,
            });
        };
        f(&mut crate::lock(&self.budget), &mut emit);
    }
}

#[pymethods]
impl StageLines {
    fn line(&self, text: &str) {
        self.log(|budget, emit| budget.line(text, emit));
    }

    fn end(&self) {
        let stream = self.stream.name();
        self.log(|budget, emit| budget.finish(stream, emit));
    }
}

#[pyfunction(name = "_wfr_lines")]
fn stage_lines(stream: &str, run: &str, at: &str) -> StageLines {
    use crate::events::{Source, Stream};
    StageLines {
        events: crate::events::of_run(run).filter(|events| events.wants_line(Source::Py)),
        stream: if stream == "stderr" {
            Stream::Stderr
        } else {
            Stream::Stdout
        },
        at: at.to_owned(),
        budget: std::sync::Mutex::default(),
    }
}

/// Starts the interpreter (once) and attaches this thread to it.
pub(crate) fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        set_stdout_aside();
        Python::initialize();
    });
    Python::attach(f)
}

/// Keeps wfr's stdout for its reports before Python starts: they go to a copy
/// of it, and descriptor 1 becomes a copy of stderr. A Py stage's print() is the
/// stage's log line (the support module's `_Capture`), but what its C code or
/// the processes it starts (`subprocess.run(["echo", ...])`, `os.system`) write to
/// descriptor 1 would otherwise land in the middle of `--output json`; it shows
/// on stderr instead.
fn set_stdout_aside() {
    use std::io::Write as _;
    use std::os::fd::AsFd as _;
    let _ = std::io::stdout().flush();
    let copy = std::io::stdout().as_fd().try_clone_to_owned();
    let moved = copy.and_then(|copy| {
        nix::unistd::dup2_stdout(std::io::stderr().as_fd())?;
        Ok(copy)
    });
    match moved {
        Ok(copy) => wfc_plan::output::report_to(std::fs::File::from(copy)),
        Err(e) => {
            tracing::warn!(target: "wfr::py", "cannot keep stdout for wfr's own output ({e}): what Py stages' processes write to it is mixed with it");
        }
    }
}

/// A Python object kept alive inside a job's context (a function a Py stage made).
#[derive(Debug)]
pub(crate) struct PyForeign {
    object: Py<PyAny>,
    name: String,
}

impl Foreign for PyForeign {
    fn name(&self) -> &str {
        &self.name
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A run-time value as a Python object.
pub(crate) fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(n) => n.into_pyobject(py)?.into_any(),
        Value::BigInt(n) => n.as_ref().into_pyobject(py)?.into_any(),
        Value::Float(x) => PyFloat::new(py, *x).into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Tuple(items) => PyTuple::new(
            py,
            items
                .iter()
                .map(|item| to_py(py, item))
                .collect::<PyResult<Vec<_>>>()?,
        )?
        .into_any(),
        Value::Map(map) => map_to_py(py, map)?.into_any(),
        Value::Date(d) => PyDate::new(
            py,
            i32::from(d.year()),
            u8::try_from(d.month()).unwrap_or(1),
            u8::try_from(d.day()).unwrap_or(1),
        )?
        .into_any(),
        Value::DateTime(t) => {
            let dt = jiff::tz::TimeZone::UTC.to_datetime(*t);
            let utc = PyTzInfo::utc(py)?;
            PyDateTime::new(
                py,
                i32::from(dt.year()),
                u8::try_from(dt.month()).unwrap_or(1),
                u8::try_from(dt.day()).unwrap_or(1),
                u8::try_from(dt.hour()).unwrap_or(0),
                u8::try_from(dt.minute()).unwrap_or(0),
                u8::try_from(dt.second()).unwrap_or(0),
                u32::try_from(dt.subsec_nanosecond() / 1000).unwrap_or(0),
                Some(&utc),
            )?
            .into_any()
        }
        Value::Decimal(d) => py
            .import("decimal")?
            .getattr("Decimal")?
            .call1((d.as_str(),))?,
        Value::Foreign(f) => match f.as_any().downcast_ref::<PyForeign>() {
            Some(object) => object.object.bind(py).clone(),
            None => PyString::new(py, f.name()).into_any(),
        },
    })
}

pub(crate) fn map_to_py<'py>(py: Python<'py>, map: &Map) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in map {
        dict.set_item(k.as_str(), to_py(py, v)?)?;
    }
    Ok(dict)
}

/// A Python object as a run-time value: JSON-like data as such (tuples kept
/// apart from lists), dates and UTC datetimes as dates, functions as live objects
/// (their name outside the job), anything else as its `str()` (what upstream's
/// JSON output shows).
pub(crate) fn from_py(object: &Bound<'_, PyAny>) -> PyResult<Value> {
    from_py_at(object, 0)
}

/// [`from_py`] for a value `depth` levels down: deeper than
/// `limits::MAX_VALUE_DEPTH` is an error (a list nested a million times over
/// would exhaust the stack of every walk over the value).
fn from_py_at(object: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > wfc_plan::limits::MAX_VALUE_DEPTH {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "a value nests more than {} levels deep; wfr keeps values up to that depth",
            wfc_plan::limits::MAX_VALUE_DEPTH
        )));
    }
    if object.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = object.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if object.is_instance_of::<PyInt>() {
        return Ok(match object.extract::<i64>() {
            Ok(n) => Value::Int(n),
            // Beyond 64 bits (an int of any size converts).
            Err(_) => Value::int(object.extract::<crate::value::BigInt>()?),
        });
    }
    if let Ok(x) = object.cast::<PyFloat>() {
        return Ok(Value::Float(x.value()));
    }
    if let Ok(s) = object.cast::<PyString>() {
        return Ok(Value::Str(Str::from(s.to_string_lossy().as_ref())));
    }
    if let Ok(list) = object.cast::<PyList>() {
        return list
            .iter()
            .map(|item| from_py_at(&item, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    if let Ok(tuple) = object.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|item| from_py_at(&item, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::Tuple);
    }
    if let Ok(dict) = object.cast::<PyDict>() {
        return dict_from_py_at(dict, depth + 1).map(Value::from);
    }
    if let Ok(dt) = object.cast::<PyDateTime>() {
        let utc = dt
            .get_tzinfo()
            .is_some_and(|tz| tz.str().is_ok_and(|s| s.to_str().is_ok_and(|t| t == "UTC")));
        if utc {
            let civil = jiff::civil::DateTime::new(
                i16::try_from(dt.get_year()).unwrap_or(1970),
                i8::try_from(dt.get_month()).unwrap_or(1),
                i8::try_from(dt.get_day()).unwrap_or(1),
                i8::try_from(dt.get_hour()).unwrap_or(0),
                i8::try_from(dt.get_minute()).unwrap_or(0),
                i8::try_from(dt.get_second()).unwrap_or(0),
                i32::try_from(dt.get_microsecond() * 1000).unwrap_or(0),
            );
            if let Ok(t) = civil.and_then(|c| jiff::tz::TimeZone::UTC.to_timestamp(c)) {
                return Ok(Value::DateTime(t));
            }
        }
        return Ok(Value::Str(Str::from(object.str()?.to_string())));
    }
    if let Ok(d) = object.cast::<PyDate>()
        && let Ok(date) = jiff::civil::Date::new(
            i16::try_from(d.get_year()).unwrap_or(1970),
            i8::try_from(d.get_month()).unwrap_or(1),
            i8::try_from(d.get_day()).unwrap_or(1),
        )
    {
        return Ok(Value::Date(date));
    }
    if object.is_instance_of::<PySet>() {
        return Ok(Value::Str(Str::from(object.str()?.to_string())));
    }
    if object.is_callable() {
        let name = object
            .getattr("__name__")
            .and_then(|n| n.extract::<String>())
            .unwrap_or_else(|_| "function".to_string());
        return Ok(Value::Foreign(Arc::new(PyForeign {
            object: object.clone().unbind(),
            name,
        })));
    }
    Ok(Value::Str(Str::from(object.str()?.to_string())))
}

pub(crate) fn dict_from_py(dict: &Bound<'_, PyDict>) -> PyResult<Map> {
    dict_from_py_at(dict, 0)
}

fn dict_from_py_at(dict: &Bound<'_, PyDict>, depth: usize) -> PyResult<Map> {
    let mut map = Map::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        let key = match k.cast::<PyString>() {
            Ok(s) => s.to_string(),
            Err(_) => k.str()?.to_string(),
        };
        map.insert(Str::from(key), from_py_at(&v, depth)?);
    }
    Ok(map)
}

/// A Python exception: its type name, message and formatted traceback.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub(crate) struct PyFailure {
    pub name: String,
    pub message: String,
    pub traceback: String,
}

impl PyFailure {
    fn from_err(py: Python<'_>, err: &PyErr) -> Self {
        let name = err
            .get_type(py)
            .name()
            .map_or_else(|_| "Exception".to_string(), |n| n.to_string());
        let message = err
            .value(py)
            .str()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let traceback = err
            .traceback(py)
            .and_then(|tb| tb.format().ok())
            .unwrap_or_default();
        let traceback = format!("{traceback}{name}: {message}");
        Self {
            name,
            message,
            traceback,
        }
    }

    fn from_tuple(t: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (name, message, traceback): (String, String, String) = t.extract()?;
        Ok(Self {
            name,
            message,
            traceback,
        })
    }
}

/// What a Py or Call stage produced: its outputs, or the exception it raised.
/// (What it printed went to the log as it came.)
pub(crate) struct PyRun {
    pub outputs: Map,
    pub error: Option<PyFailure>,
}

/// A running Python stage, for `interrupt`.
#[derive(Clone, Copy)]
pub(crate) struct Running {
    token: u64,
}

static TOKENS: AtomicU64 = AtomicU64::new(1);

impl Running {
    pub(crate) fn new() -> Self {
        Self {
            token: TOKENS.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Stops the stage at its next Python instruction, if it still runs.
    pub(crate) fn interrupt(self) {
        with_python(|py| {
            if let Ok(module) = support(py) {
                let _ = module.call_method1("interrupt", (self.token,));
            }
        });
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Python threads waiting for their next stage.
static IDLE: std::sync::Mutex<Vec<crossbeam_channel::Sender<Job>>> =
    std::sync::Mutex::new(Vec::new());

/// How many idle Python threads are kept.
const KEEP_IDLE: usize = 8;

/// Runs `job` (a Py or Call stage's Python) on a thread of its own, an idle one
/// if there is one: a stage whose code is stuck in a call into C can then be
/// left behind when it is cancelled or times out, and the run goes on. A thread
/// left behind never takes another stage.
pub(crate) fn on_python_thread(job: Job) {
    let idle = IDLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop();
    let job = match idle {
        Some(thread) => match thread.send(job) {
            Ok(()) => return,
            Err(returned) => returned.0,
        },
        None => job,
    };
    let (tx, rx) = crossbeam_channel::bounded::<Job>(1);
    let spawned = std::thread::Builder::new()
        .name("wfr-python".into())
        // Python's recursion limit (1000 frames) needs more than the default.
        .stack_size(16 << 20)
        .spawn(move || {
            // The thread keeps its Python thread state from one stage to the
            // next (making one costs more than a trivial stage), and gives the
            // interpreter back while it waits.
            with_python(|py| {
                let mut next = Some(job);
                while let Some(job) = next.take() {
                    job();
                    {
                        let mut idle = IDLE
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        if idle.len() >= KEEP_IDLE {
                            return;
                        }
                        idle.push(tx.clone());
                    }
                    next = py.detach(|| rx.recv().ok());
                }
            });
        });
    if let Err(e) = spawned {
        tracing::error!(target: "wfr::run", error = %e, "cannot start a thread for Python code");
    }
}

/// Where task packages are looked for (put first on `sys.path`).
pub(crate) struct ImportFolders<'a> {
    pub folders: &'a [String],
}

/// What the support module returns for a stage: `(outputs, error)`.
fn stage_result(done: &Bound<'_, PyAny>) -> PyResult<PyRun> {
    let (outputs, error): (Bound<'_, PyDict>, Bound<'_, PyAny>) = done.extract()?;
    let error = if error.is_none() {
        None
    } else {
        Some(PyFailure::from_tuple(&error)?)
    };
    Ok(PyRun {
        outputs: dict_from_py(&outputs)?,
        error,
    })
}

/// Runs `f` with the support module, task packages on `sys.path`.
fn with_support<R>(
    imports: &ImportFolders<'_>,
    f: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyModule>) -> PyResult<R>,
) -> Result<R, PyFailure> {
    with_python(|py| {
        let attempt = || -> PyResult<R> {
            let module = support(py)?;
            module.call_method1("ensure_path", (imports.folders,))?;
            f(py, module)
        };
        attempt().map_err(|e| PyFailure::from_err(py, &e))
    })
}

/// Who runs Python code: the run, where its task packages are, the stage's
/// token (for `interrupt`) and its process marker.
pub(crate) struct Caller<'a> {
    pub run_id: &'a str,
    pub parent_run_id: Option<&'a str>,
    pub imports: ImportFolders<'a>,
    pub running: Running,
    pub marker: &'a str,
    /// Where the stage runs (for its log lines).
    pub at: &'a str,
}

/// Runs a Py stage's code with `vars` as globals.
pub(crate) fn run_py(
    source: &str,
    name: &str,
    vars: &Map,
    caller: &Caller<'_>,
) -> Result<PyRun, PyFailure> {
    with_support(&caller.imports, |py, module| {
        let variables = map_to_py(py, vars)?;
        let args = (
            source,
            name,
            variables,
            caller.run_id,
            caller.parent_run_id,
            caller.running.token,
            caller.marker,
            caller.at,
        );
        stage_result(&module.call_method1("run_py", args)?)
    })
}

/// Runs a Call stage: the function `uses` names, found under `roots` (or as a
/// top-level package without roots), with `args`.
pub(crate) fn call(
    uses: &str,
    args: &Map,
    roots: &[String],
    caller: &Caller<'_>,
) -> Result<PyRun, PyFailure> {
    with_support(&caller.imports, |py, module| {
        let given = map_to_py(py, args)?;
        let args = (
            uses,
            given,
            caller.run_id,
            caller.parent_run_id,
            roots,
            caller.running.token,
            caller.marker,
            caller.at,
        );
        stage_result(&module.call_method1("call", args)?)
    })
}

/// Where Python looks for task packages: see `wfc_compiler::api::python_places`;
/// the folder of the workflow's own file (`source`) counts too.
/// Worked out once per workflow file (they depend only on it, the current
/// folder and the environment, which a run does not change).
pub(crate) fn places(source: Option<&str>) -> Arc<[String]> {
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::{Mutex, OnceLock, PoisonError};
    type Known = Mutex<HashMap<Option<String>, Arc<[String]>>>;
    static KNOWN: OnceLock<Known> = OnceLock::new();
    let known = KNOWN.get_or_init(Mutex::default);
    let key = source.map(str::to_string);
    if let Some(found) = known
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return Arc::clone(found);
    }
    let found: Arc<[String]> = wfc_compiler::api::python_places(source.map(Path::new)).into();
    known
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, Arc::clone(&found));
    found
}

/// The filter modules (`wfc_compiler::api::filter_modules`), read once.
fn filter_modules() -> &'static Vec<String> {
    static MODULES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    MODULES.get_or_init(wfc_compiler::api::filter_modules)
}

/// Applies the filter `name` registered in Python.
pub(crate) fn apply_filter(
    name: &str,
    value: &Value,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<Value, PyFailure> {
    let folders = places(None);
    let modules = filter_modules();
    with_support(&ImportFolders { folders: &folders }, |py, module| {
        let positional = PyList::empty(py);
        for arg in args {
            positional.append(to_py(py, arg)?)?;
        }
        let named = PyDict::new(py);
        for (k, v) in kwargs {
            named.set_item(k, to_py(py, v)?)?;
        }
        let args = (name, to_py(py, value)?, positional, named, modules);
        from_py(&module.call_method1("apply_filter", args)?)
    })
}

/// The filter modules could not be imported (or did not say what they register).
#[derive(Debug, thiserror::Error)]
#[error("cannot load the filter modules ({}): {failure}", modules.join(", "))]
pub(crate) struct FilterLoadError {
    modules: Vec<String>,
    failure: PyFailure,
}

/// The names of the filters registered in Python (in
/// `wfc_compiler::api::filter_modules`).
pub(crate) fn filter_names() -> Result<Vec<String>, FilterLoadError> {
    let folders = places(None);
    let modules = filter_modules();
    with_support(&ImportFolders { folders: &folders }, |_, module| {
        let found = module.call_method1("filter_registry", (modules,))?;
        let mut names: Vec<String> = found.cast::<PyDict>()?.keys().extract()?;
        names.sort();
        Ok(names)
    })
    .map_err(|failure| FilterLoadError {
        modules: modules.clone(),
        failure,
    })
}

"""The Python side of wfr: runs Py stages, finds and calls registered functions.

wfr embeds CPython and imports this module once, as `_wfc_support`. Every Rust
worker thread has its own Python thread state; what a stage prints is captured
per thread, so concurrent stages never mix their output.
"""
import importlib
import sys
import threading
import time
import types
from textwrap import dedent


class _Capture:
    """Stands for sys.stdout / sys.stderr. While a stage runs on a thread, what
    that thread writes is logged as the stage's, line by line as it comes (the
    stage keeps none of it: the log holds it, and a chatty stage costs no
    memory); other writes (threads a stage started itself, the interpreter) go to
    the process's stderr, never to stdout, which belongs to `wfr run --output
    json`."""

    encoding = "utf-8"
    errors = "replace"

    # An unfinished line is logged once it is this long (in pieces: never held
    # whole), as wfr does with a process's output.
    LINE = 65536

    def __init__(self, fallback, name):
        self._fallback = fallback
        self._name = name
        self._local = threading.local()

    def write(self, text):
        local = self._local
        lines = getattr(local, "lines", None)
        if lines is None:
            return self._fallback.write(text)
        text = str(text)
        if "\n" in text:
            parts = text.split("\n")
            local.parts.append(parts[0])
            first = "".join(local.parts)
            lines.line(first.removesuffix("\r"))
            for line in parts[1:-1]:
                lines.line(line.removesuffix("\r"))
            local.parts = [parts[-1]]
            local.size = len(parts[-1])
        else:
            # Pieces are joined once, at the line's end: many small writes to
            # one line cost no more than one.
            local.parts.append(text)
            local.size += len(text)
        if local.size >= self.LINE:
            lines.line("".join(local.parts))
            local.parts = []
            local.size = 0
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if getattr(self._local, "lines", None) is None:
            self._fallback.flush()

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return True

    def begin(self, place):
        """From now on this thread's writes are the stage's; `place` is
        `(run id, where the stage runs)`."""
        self._local.lines = _wfr_lines(self._name, place[0], place[1])
        self._local.parts = []
        self._local.size = 0

    def end(self):
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            rest = "".join(self._local.parts)
            if rest:
                lines.line(rest)
            lines.end()
        self._local.lines = None
        self._local.parts = []
        self._local.size = 0


class _NoInput:
    """Stands for sys.stdin while a stage runs: a stage reads nothing from wfr's
    terminal (`input()` raises EOFError, as with a Bash stage's /dev/null)."""

    def __init__(self, fallback):
        self._fallback = fallback

    def _stream(self):
        if getattr(STDOUT._local, "lines", None) is not None:
            import io

            return io.StringIO("")
        return self._fallback

    def __getattr__(self, name):
        return getattr(self._stream(), name)

    def __iter__(self):
        return iter(self._stream())


STDOUT = _Capture(sys.__stderr__, "stdout")
STDERR = _Capture(sys.__stderr__, "stderr")
sys.stdout = STDOUT
sys.stderr = STDERR
if sys.stdin is not None:
    sys.stdin = _NoInput(sys.stdin)


class _Trace:
    """`result.trace` for stage code written for ddeutil-workflow: its lines go to
    the stage's log with the stage's output."""

    def _line(self, level, message):
        STDERR.write(f"[{level}] {message}\n")

    def debug(self, message):
        self._line("DEBUG", message)

    def info(self, message):
        self._line("INFO", message)

    def warning(self, message):
        self._line("WARNING", message)

    def error(self, message):
        self._line("ERROR", message)

    def exception(self, message):
        self._line("ERROR", message)


class Result:
    """The `result` a Py stage sees (and a called function may ask for)."""

    def __init__(self, run_id, parent_run_id):
        self.run_id = run_id
        self.parent_run_id = parent_run_id
        self.trace = _Trace()

    def __repr__(self):
        return f"Result(run_id={self.run_id!r})"


# What stage code finds without importing it, as upstream's stage module offers.
# Imported when a stage's code names them: most code never does, and importing
# them all would add tens of milliseconds to the start of every run.
LAZY_GLOBALS = {
    "asyncio": lambda: importlib.import_module("asyncio"),
    "contextlib": lambda: importlib.import_module("contextlib"),
    "copy": lambda: importlib.import_module("copy"),
    "inspect": lambda: importlib.import_module("inspect"),
    "json": lambda: importlib.import_module("json"),
    "subprocess": lambda: importlib.import_module("subprocess"),
    "sys": lambda: sys,
    "time": lambda: time,
    "traceback": lambda: importlib.import_module("traceback"),
    "uuid": lambda: importlib.import_module("uuid"),
    "datetime": lambda: importlib.import_module("datetime").datetime,
    "Path": lambda: importlib.import_module("pathlib").Path,
    "dedent": lambda: dedent,
    "Event": lambda: threading.Event,
}


def _globals(source):
    glb = {"__builtins__": __builtins__}
    for name, load in LAZY_GLOBALS.items():
        if name in source:
            glb[name] = load()
    return glb


_CODE = {}


def _compiled(source, name):
    code = _CODE.get(source)
    if code is None:
        code = compile(dedent(source), f"<stage {name}>", "exec")
        if len(_CODE) >= 1024:
            _CODE.clear()
        _CODE[source] = code
    return code


def _error(exc):
    import traceback

    # The traceback starts in the stage's code, not in this module.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == _error.__code__.co_filename:
        tb = tb.tb_next
    return (
        type(exc).__name__,
        str(exc),
        "".join(traceback.format_exception(type(exc), exc, tb)),
    )


def _keep(name, value):
    return not (
        name == "__annotations__"
        or (name.startswith("__") and name.endswith("__"))
        or isinstance(value, types.ModuleType)
        or isinstance(value, type)
        or name == "trace"
    )


class StageInterrupted(BaseException):
    """Raised inside a running stage's thread when the stage is cancelled or
    times out."""


# Token of a running stage -> the ident of its thread (read and written under the GIL).
_RUNNING = {}
# Thread ident -> the event that ends a sleep of the stage running on it early.
_WAKE = {}
_real_sleep = time.sleep


def _sleep(seconds):
    """`time.sleep` that a cancelled stage wakes from at once."""
    wake = _WAKE.get(threading.get_ident())
    if wake is None:
        return _real_sleep(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    wake.wait(seconds)
    return None


time.sleep = _sleep


# ---------------------------------------------------------------------------
# Stage processes: what a Py or Call stage starts through `subprocess` (and
# `os.system`, `os.popen`, asyncio's subprocesses, which use it) carries the
# stage's marker in `WFR_STAGE`, so that wfr finds and stops it with the stage.

import os as _os

_STAGE = threading.local()


def _stage_env(env):
    marker = getattr(_STAGE, "marker", None)
    if marker is None:
        return env
    base = _os.environ if env is None else env
    out = dict(base)
    if any(isinstance(k, bytes) for k in out):
        out[b"WFR_STAGE"] = marker.encode()
    else:
        out["WFR_STAGE"] = marker
    return out


def _forward(fd, lines):
    """Logs what a stage's process writes on the pipe `fd` as the stage's lines,
    from a thread of its own, until the pipe closes (the stage waits a little
    for it when it ends)."""

    def read():
        pending = b""
        try:
            while True:
                chunk = _os.read(fd, 65536)
                if not chunk:
                    break
                *complete, pending = (pending + chunk).split(b"\n")
                for line in complete:
                    lines.line(line.decode("utf-8", "replace").removesuffix("\r"))
                if len(pending) >= _Capture.LINE:
                    lines.line(pending.decode("utf-8", "replace"))
                    pending = b""
            if pending:
                lines.line(pending.decode("utf-8", "replace").removesuffix("\r"))
        finally:
            _os.close(fd)

    reader = threading.Thread(target=read, name="wfr-stage-output", daemon=True)
    reader.start()
    readers = getattr(_STAGE, "readers", None)
    if readers is not None:
        readers.append(reader)
    return reader


def _patch_subprocess(module):
    popen = module.Popen
    if getattr(popen, "_wfr_marked", False):
        return
    real_init = popen.__init__

    def __init__(self, args, *rest, **kwargs):
        marker = getattr(_STAGE, "marker", None)
        if marker is not None:
            _wfr_spawning(marker.rsplit(";", 1)[-1])
            # `env` is Popen's eleventh parameter, `stdin` its fourth.
            if len(rest) >= 10:
                rest = list(rest)
                rest[9] = _stage_env(rest[9])
            else:
                kwargs["env"] = _stage_env(kwargs.get("env"))
            # As a Bash stage's, a stage's processes read nothing from wfr's
            # terminal: they would wait for it.
            if len(rest) < 3 and kwargs.get("stdin") is None and "input" not in kwargs:
                kwargs["stdin"] = module.DEVNULL
            # What they write where the stage's own print() would go is the
            # stage's log, line by line, as a Bash stage's is.
            ends = []
            for index, name, capture in ((3, "stdout", STDOUT), (4, "stderr", STDERR)):
                lines = getattr(capture._local, "lines", None)
                if len(rest) <= index and kwargs.get(name) is None and lines is not None:
                    read, write = _os.pipe()
                    kwargs[name] = write
                    ends.append((read, write, lines))
            try:
                real_init(self, args, *rest, **kwargs)
            except BaseException:
                for read, write, _ in ends:
                    _os.close(read)
                    _os.close(write)
                raise
            self._wfr_readers = []
            for read, write, lines in ends:
                _os.close(write)
                self._wfr_readers.append(_forward(read, lines))
            return
        real_init(self, args, *rest, **kwargs)

    real_wait = popen.wait

    def wait(self, timeout=None):
        """Once the process ended, its last lines are logged before the stage
        goes on (a moment at most: a process it left behind may hold the pipe)."""
        code = real_wait(self, timeout)
        for reader in getattr(self, "_wfr_readers", ()):
            reader.join(1.0)
        return code

    popen.__init__ = __init__
    popen.wait = wait
    popen._wfr_marked = True


class _MarkOnImport:
    """Patches `subprocess` when it is first imported (importing it up front
    would cost every run a few milliseconds)."""

    def find_spec(self, name, path=None, target=None):
        if name != "subprocess":
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        real_exec = spec.loader.exec_module

        def exec_module(module):
            real_exec(module)
            _patch_subprocess(module)

        spec.loader.exec_module = exec_module
        return spec


if "subprocess" in sys.modules:
    _patch_subprocess(sys.modules["subprocess"])
else:
    sys.meta_path.insert(0, _MarkOnImport())

_real_system = _os.system


def _system(command):
    """`os.system` through `subprocess`, so that the shell carries the marker."""
    if getattr(_STAGE, "marker", None) is None:
        return _real_system(command)
    import subprocess

    code = subprocess.call(command, shell=True)
    # A wait status, as os.system's: the exit code in the high byte, or the signal.
    return (code & 0xFF) << 8 if code >= 0 else -code


_os.system = _system


def interrupt(token):
    """Stops the stage `token` if it still runs (at its next Python instruction:
    a sleep or a blocking call ends first)."""
    ident = _RUNNING.get(token)
    if ident is None:
        return False
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(StageInterrupted)
    )
    wake = _WAKE.get(ident)
    if wake is not None:
        wake.set()
    return True


def _tracked(token, marker, place, work):
    """Runs `work()` as the stage `token`: `interrupt(token)` can stop it, the
    processes it starts carry `marker`, and the lines it prints are logged as
    the stage's, `place` being `(run id, where it runs)`."""
    ident = threading.get_ident()
    _RUNNING[token] = ident
    _WAKE[ident] = threading.Event()
    _STAGE.marker = marker
    _STAGE.readers = []
    STDOUT.begin(place)
    STDERR.begin(place)
    try:
        return work()
    finally:
        # What the stage's processes wrote before it ended is its log's: a
        # process that outlives the stage (wfr then kills it) is waited for a
        # moment only.
        until = time.monotonic() + 1.0
        for reader in _STAGE.readers:
            reader.join(max(0.0, until - time.monotonic()))
        _STAGE.readers = None
        STDOUT.end()
        STDERR.end()
        _STAGE.marker = None
        _RUNNING.pop(token, None)
        _WAKE.pop(ident, None)


def ensure_path(folders):
    """Puts `folders` (where task packages live) first on sys.path, once each."""
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)


def run_py(source, name, variables, run_id, parent_run_id, token, marker, at):
    """Runs a Py stage: `exec(dedent(source), globals | variables, locals={})`.

    Returns `(outputs, error)`: the kept locals, and `None` or `(type name,
    message, traceback)`. What the code prints is logged as it comes, as the
    stage's at `at`. `token` names the run for `interrupt`; `marker` marks the
    processes it starts."""
    return _tracked(
        token,
        marker,
        (run_id, at),
        lambda: _run_py(source, name, variables, run_id, parent_run_id),
    )


def _run_py(source, name, variables, run_id, parent_run_id):
    glb = _globals(source)
    glb.update(variables)
    glb["result"] = Result(run_id, parent_run_id)
    local = {}
    error = None
    try:
        exec(_compiled(source, name), glb, local)
    except BaseException as exc:  # a stage may raise SystemExit too
        error = _error(exc)
    outputs = {k: v for k, v in local.items() if _keep(k, v)} if error is None else {}
    return outputs, error


# ---------------------------------------------------------------------------
# Call stages: functions marked with `@tag`, found in task packages.

import re as _re

_CALL = _re.compile(r"^(?P<path>[^/@]+)/(?P<func>[^@]+)@(?P<tag>.+)$")


def tag(name=None, alias=None):
    """Marks a function for `uses: <path>/<alias or name>@<name>` (as
    ddeutil-workflow's `tag`): `name` is the tag (default `latest`), `alias` the
    function's name in workflows (default: its own, `_` written `-`)."""
    import functools
    import inspect

    def mark(func):
        func.tag = name or "latest"
        func.name = alias or func.__name__.replace("_", "-")
        func.mark = "tag"

        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            return func(*args, **kwargs)

        @functools.wraps(func)
        async def async_wrapped(*args, **kwargs):
            return await func(*args, **kwargs)

        return async_wrapped if inspect.iscoroutinefunction(func) else wrapped

    return mark


def custom_filter(name):
    """Marks a function as the template filter `name` (as ddeutil-workflow's)."""

    def mark(func):
        func.filter = name
        func.mark = "filter"
        return func

    return mark


def _install_shims():
    """`import wfc` and, when ddeutil-workflow itself is not installed,
    `from ddeutil.workflow import tag, custom_filter, Result` give these, so task
    modules written for ddeutil-workflow import unchanged."""
    import importlib.util

    shim = types.ModuleType("wfc")
    shim.tag = tag
    shim.custom_filter = custom_filter
    shim.Result = Result
    sys.modules.setdefault("wfc", shim)
    try:
        found = importlib.util.find_spec("ddeutil.workflow") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return
    try:
        parent = importlib.import_module("ddeutil")
    except ImportError:
        parent = types.ModuleType("ddeutil")
        parent.__path__ = []
        sys.modules["ddeutil"] = parent
    workflow = types.ModuleType("ddeutil.workflow")
    workflow.tag = tag
    workflow.custom_filter = custom_filter
    workflow.Result = Result
    workflow.__path__ = []
    sys.modules["ddeutil.workflow"] = workflow
    parent.workflow = workflow
    for sub in ("reusables", "result"):
        module = types.ModuleType(f"ddeutil.workflow.{sub}")
        module.tag = tag
        module.custom_filter = custom_filter
        module.Result = Result
        sys.modules[f"ddeutil.workflow.{sub}"] = module
        setattr(workflow, sub, module)


_install_shims()


def _module_missing(error, name):
    """The import of `name` failed because `name` itself (or a parent) does not
    exist, not because something it imports is missing."""
    missing = getattr(error, "name", None)
    return missing is not None and (name == missing or name.startswith(missing + "."))


def _existing_modules(names):
    """`(name, module)` for each of `names` that exists (a module that exists but
    fails to import raises)."""
    for name in names:
        try:
            yield name, importlib.import_module(name)
        except ModuleNotFoundError as error:
            if not _module_missing(error, name):
                raise


def registry(path, roots):
    """`{function name: {tag: function}}` of the functions marked with `tag` in
    `<root>.<path>` for each root (or `<path>` itself without roots)."""
    import inspect

    found = {}
    names = [f"{root}.{path}" for root in roots] or [path]
    for module_name, module in _existing_modules(names):
        for _, func in inspect.getmembers(module, inspect.isfunction):
            if not (
                hasattr(func, "tag")
                and hasattr(func, "name")
                and str(getattr(func, "mark", "NOTSET")) == "tag"
            ):
                continue
            tags = found.setdefault(func.name, {})
            if func.tag in tags and tags[func.tag] is not func:
                raise ValueError(
                    f"The tag {func.tag!r} already exists on {module_name}, you "
                    "should change this tag name or change its func name."
                )
            tags[func.tag] = func
    return found


def find_call(uses, roots):
    """The function `uses` names: `(function, name, tag)`."""
    found = _CALL.match(uses)
    if not found:
        raise ValueError(f"Call {uses!r} does not match with the call regex format.")
    path, func, tag_name = found.group("path"), found.group("func"), found.group("tag")
    funcs = registry(path, roots)
    if func not in funcs:
        raise NotImplementedError(
            f"`REGISTERS.{path}.registries` not implement registry: {func!r}."
        )
    if tag_name not in funcs[func]:
        raise NotImplementedError(
            f"tag: {tag_name!r} not found on registry func: "
            f"`REGISTER.{path}.registries.{func}`"
        )
    return funcs[func][tag_name], func, tag_name


def _coerce(value, annotation):
    """The lax conversions a caller's type hints ask for (text to numbers,
    booleans and dates; whole numbers to floats; a tuple to a list and a list to
    a tuple); other values pass as they are."""
    import datetime as dt
    import typing

    kind = typing.get_origin(annotation) or annotation
    if kind is list and isinstance(value, tuple):
        return list(value)
    if kind is tuple and isinstance(value, list):
        return tuple(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if annotation is int:
            return int(text)
        if annotation is float:
            return float(text)
        if annotation is bool and text.lower() in ("true", "false", "1", "0", "yes", "no"):
            return text.lower() in ("true", "1", "yes")
        if annotation is dt.datetime:
            return dt.datetime.fromisoformat(text)
        if annotation is dt.date:
            return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"Validate argument from the caller function raise invalid type: "
            f"{value!r} is not a valid {annotation.__name__}."
        ) from None
    return value


def bind(func, name, tag_name, given, run_id, parent_run_id):
    """Keyword arguments for `func` from the stage's `with` (as upstream: `_x`
    parameters take `x`, `result` and `extras` are given when asked for), or an
    error naming what is missing or unknown."""
    import inspect
    import typing

    if any(k in given for k in ("result", "extras")):
        raise ValueError(
            "The argument on workflow template for the caller stage should not "
            "pass `result` and `extras`. They are special arguments."
        )
    args = {"result": Result(run_id, parent_run_id), "extras": {}}
    args.update(given)
    sig = inspect.signature(func)
    params = sig.parameters
    has_keyword = any(p.kind == p.VAR_KEYWORD for p in params.values())
    necessary = [
        k
        for k, p in params.items()
        if p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if any(k.removeprefix("_") not in args and k not in args for k in necessary):
        shown = [k for k in necessary if k not in ("result", "extras")]
        raise ValueError(
            f"Necessary params, ({', '.join(shown)}, ), does not set to args. "
            f"It already set {list(given.keys())}."
        )
    if not has_keyword:
        unknown = [k for k in given if k not in params and f"_{k}" not in params]
        if unknown:
            accepted = [
                k.removeprefix("_")
                for k, p in params.items()
                if k not in ("result", "extras")
                and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            ]
            raise TypeError(
                f"'{name}@{tag_name}' has no argument {', '.join(map(repr, unknown))}; "
                f"it takes {', '.join(accepted) or 'no arguments'}."
            )
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # hints that do not resolve: no conversions
        hints = {}
    kwargs = {}
    used = set()
    for key, param in params.items():
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        source = key if key in args else key.removeprefix("_")
        if source in args:
            kwargs[key] = _coerce(args[source], hints.get(key))
            used.add(source)
    if has_keyword:
        for key, value in args.items():
            if key not in used and key not in kwargs:
                kwargs[key] = value
    return kwargs


def _call(uses, given, run_id, parent_run_id, roots):
    import inspect

    func, name, tag_name = find_call(uses, roots)
    kwargs = bind(func, name, tag_name, given, run_id, parent_run_id)
    if inspect.iscoroutinefunction(func):
        import asyncio

        returned = asyncio.run(func(**kwargs))
    else:
        returned = func(**kwargs)
    if hasattr(returned, "model_dump"):
        returned = returned.model_dump(by_alias=True)
    elif not isinstance(returned, dict):
        raise TypeError(
            f"Return type: '{name}@{tag_name}' can not serialize, you must set "
            "return be `dict` or Pydantic model."
        )
    return {
        k: (v.model_dump(by_alias=True) if hasattr(v, "model_dump") else v)
        for k, v in returned.items()
    }


def call(uses, given, run_id, parent_run_id, roots, token, marker, at):
    """Runs a Call stage. Returns `(outputs, error)` as `run_py`."""

    def work():
        outputs, error = {}, None
        try:
            outputs = _call(uses, given, run_id, parent_run_id, roots)
        except BaseException as exc:
            error = _error(exc)
        return outputs, error

    return _tracked(token, marker, (run_id, at), work)


# ---------------------------------------------------------------------------
# Template filters registered with `@custom_filter`.

_FILTERS = {}


def filter_registry(modules):
    """`{name: function}` of the functions marked with `custom_filter` in
    `modules` (importable names; the ones that do not exist are skipped)."""
    key = tuple(modules)
    found = _FILTERS.get(key)
    if found is not None:
        return found
    import inspect

    found = {}
    for _, module in _existing_modules(modules):
        for _, func in inspect.getmembers(module, callable):
            if str(getattr(func, "mark", "NOTSET")) == "filter" and hasattr(func, "filter"):
                found.setdefault(func.filter, func)
    _FILTERS[key] = found
    return found


def apply_filter(name, value, args, kwargs, modules):
    func = filter_registry(modules).get(name)
    if func is None:
        raise NameError(
            f"no filter is named {name!r}: it is not built in, and no function of "
            f"{', '.join(modules) or 'the filter modules'} is marked with "
            f"@custom_filter({name!r})"
        )
    return func(value, *args, **kwargs)

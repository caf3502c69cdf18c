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
    that thread writes is kept for the stage; other writes (threads a stage
    started itself, the interpreter) go to the process's stderr, never to stdout,
    which belongs to `wfr run --output json`."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, fallback):
        self._fallback = fallback
        self._local = threading.local()

    def write(self, text):
        buf = getattr(self._local, "buf", None)
        if buf is None:
            return self._fallback.write(text)
        buf.append(str(text))
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if getattr(self._local, "buf", None) is None:
            self._fallback.flush()

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return True

    def begin(self):
        self._local.buf = []

    def end(self):
        buf = getattr(self._local, "buf", None) or []
        self._local.buf = None
        return "".join(buf)


STDOUT = _Capture(sys.__stderr__)
STDERR = _Capture(sys.__stderr__)
sys.stdout = STDOUT
sys.stderr = STDERR


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
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
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


def run_py(source, name, variables, run_id, parent_run_id, token):
    """Runs a Py stage: `exec(dedent(source), globals | variables, locals={})`.

    Returns `(outputs, stdout, stderr, error)`: the kept locals, what the code
    printed, and `None` or `(type name, message, traceback)`. `token` names the
    run for `interrupt`."""
    ident = threading.get_ident()
    _RUNNING[token] = ident
    _WAKE[ident] = threading.Event()
    try:
        return _run_py(source, name, variables, run_id, parent_run_id)
    finally:
        _RUNNING.pop(token, None)
        _WAKE.pop(ident, None)


def _run_py(source, name, variables, run_id, parent_run_id):
    glb = _globals(source)
    glb.update(variables)
    glb["result"] = Result(run_id, parent_run_id)
    local = {}
    STDOUT.begin()
    STDERR.begin()
    error = None
    try:
        exec(_compiled(source, name), glb, local)
    except BaseException as exc:  # a stage may raise SystemExit too
        error = _error(exc)
    finally:
        out = STDOUT.end()
        err = STDERR.end()
    outputs = {k: v for k, v in local.items() if _keep(k, v)} if error is None else {}
    return outputs, out, err, error

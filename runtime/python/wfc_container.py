"""Runs one Py or Call stage of a container job, inside the job's container.

wfr mounts this file and `wfc_support.py` (read-only) in the container and runs
`python3 wfc_container.py REQUEST RESULT`: REQUEST is a JSON file wfr wrote
(the stage's code or call, its values in wire form), RESULT the JSON file this
writes back: `{"outputs": [[name, wire value], ...], "error": null or [type
name, message, traceback]}`. What the stage prints goes to this process's
stdout and stderr, which wfr logs line by line. The wire form is
`runtime/src/value/wire.rs`'s: `{"t": tag, "v": value}`.
"""
import datetime as _dt
import decimal as _decimal
import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_DEPTH = 256


class _Lines:
    """The support module's line sink: the stage's lines go to this process's
    own stdout or stderr (the exec's), one line at a time; wfr logs them, within
    its bounds."""

    def __init__(self, stream, run, at):
        self._fd = 2 if stream == "stderr" else 1

    def line(self, text):
        data = (text + "\n").encode("utf-8", "replace")
        while data:
            data = data[os.write(self._fd, data):]

    def end(self):
        pass


def _spawning(marker):
    """Processes the stage starts inherit the exec's marker (WFR_STAGE) from
    the environment: nothing to note here."""


def _support():
    module = types.ModuleType("_wfc_support")
    module._wfr_lines = _Lines
    module._wfr_spawning = _spawning
    sys.modules["_wfc_support"] = module
    path = os.path.join(HERE, "wfc_support.py")
    with open(path, encoding="utf-8") as f:
        code = compile(f.read(), path, "exec")
    exec(code, module.__dict__)
    return module


# ---------------------------------------------------------------------------
# The wire form.


def encode(value, depth=0):
    """A Python value on the wire, as wfr's embedded interpreter would take it:
    JSON-like data as such (tuples apart from lists), dates, UTC datetimes and
    decimals; anything else (a function, a set, an object) as its str()."""
    if depth > MAX_DEPTH:
        raise ValueError(
            f"a value nests more than {MAX_DEPTH} levels deep; wfr keeps values up to that depth"
        )
    if value is None:
        return {"t": "n"}
    if isinstance(value, bool):
        return {"t": "b", "v": value}
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return {"t": "i", "v": value}
        return {"t": "I", "v": str(value)}
    if isinstance(value, float):
        return {"t": "f", "v": repr(value)}
    if isinstance(value, str):
        return {"t": "s", "v": value}
    if isinstance(value, list):
        return {"t": "l", "v": [encode(v, depth + 1) for v in value]}
    if isinstance(value, tuple):
        return {"t": "u", "v": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"t": "m", "v": encode_map(value, depth + 1)}
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None and str(value.tzinfo) == "UTC":
            text = value.replace(tzinfo=None).isoformat() + "Z"
            return {"t": "D", "v": text}
        return {"t": "s", "v": str(value)}
    if isinstance(value, _dt.date):
        return {"t": "d", "v": value.isoformat()}
    if isinstance(value, _decimal.Decimal):
        return {"t": "c", "v": str(value)}
    if callable(value):
        return {"t": "r", "v": getattr(value, "__name__", "function")}
    return {"t": "r", "v": str(value)}


def encode_map(mapping, depth=0):
    return [
        [k if isinstance(k, str) else str(k), encode(v, depth)] for k, v in mapping.items()
    ]


def decode(wire):
    tag, value = wire["t"], wire.get("v")
    if tag == "n":
        return None
    if tag in ("b", "i", "s", "r"):
        return value
    if tag == "I":
        return int(value)
    if tag == "f":
        return float(value)
    if tag == "l":
        return [decode(v) for v in value]
    if tag == "u":
        return tuple(decode(v) for v in value)
    if tag == "m":
        return decode_map(value)
    if tag == "d":
        return _dt.date.fromisoformat(value)
    if tag == "D":
        return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(
            _dt.timezone.utc
        )
    if tag == "c":
        return _decimal.Decimal(value)
    raise ValueError(f"unknown wire tag {tag!r}")


def decode_map(entries):
    return {k: decode(v) for k, v in entries}


# ---------------------------------------------------------------------------


def main(request_path, result_path):
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    support = _support()
    support.ensure_path(request.get("folders", []))
    run_id, parent, at = request["run_id"], request.get("parent_run_id"), request["at"]
    if request["kind"] == "py":
        outputs, error = support.run_py(
            request["source"],
            request["name"],
            decode_map(request["vars"]),
            run_id,
            parent,
            0,
            None,
            at,
        )
    else:
        outputs, error = support.call(
            request["uses"],
            decode_map(request["args"]),
            run_id,
            parent,
            request.get("roots", []),
            0,
            None,
            at,
        )
    try:
        encoded = encode_map(outputs)
    except BaseException as exc:  # a value that cannot cross
        encoded, error = [], support._error(exc)
    with open(result_path + ".part", "w", encoding="utf-8") as f:
        json.dump({"outputs": encoded, "error": error}, f)
    os.replace(result_path + ".part", result_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

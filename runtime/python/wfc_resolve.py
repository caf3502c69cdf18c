"""`wfc check --resolve-calls`: imports the task packages of a project and says
what functions (with their tags and parameters) and filters they register.

Run as a script after wfc_support.py's code (its registry and shims). Reads a
JSON request on stdin: `{"places": [...], "roots": [...], "paths": [...],
"filter_modules": [...]}`; writes on stdout `{"paths": {path: {"modules": [...],
"funcs": {name: {tag: {"params": [...], "kwargs": bool}}}} | {"error": text}},
"filters": [...], "filter_error": text | null}`.
"""


def _describe(func):
    import inspect

    params, kwargs = [], False
    for name, param in inspect.signature(func).parameters.items():
        if param.kind == param.VAR_KEYWORD:
            kwargs = True
        elif param.kind != param.VAR_POSITIONAL:
            params.append({"name": name, "required": param.default is param.empty})
    return {"params": params, "kwargs": kwargs}


def _resolve_path(path, roots):
    names = [f"{root}.{path}" for root in roots] or [path]
    funcs = registry(path, roots)
    return {
        "modules": [name for name, _ in _existing_modules(names)],
        "funcs": {
            name: {tag_name: _describe(func) for tag_name, func in tags.items()}
            for name, tags in funcs.items()
        },
    }


def _resolve(request):
    ensure_path(request["places"])
    out = {"paths": {}, "filters": [], "filter_error": None}
    for path in request["paths"]:
        try:
            out["paths"][path] = _resolve_path(path, request["roots"])
        except BaseException as exc:  # an import that fails, a duplicate tag
            out["paths"][path] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        out["filters"] = sorted(filter_registry(request["filter_modules"]))
    except BaseException as exc:
        out["filter_error"] = f"{type(exc).__name__}: {exc}"
    return out


def _main():
    import json

    request = json.load(sys.stdin)
    json.dump(_resolve(request), sys.__stdout__)
    sys.__stdout__.flush()


_main()

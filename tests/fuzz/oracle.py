"""A warm reference engine: ddeutil-workflow 0.0.86 in one process, one case per request.

The fuzzer starts this with the reference venv's Python and writes one JSON request per line
on its stdin: `{"conf": DIR, "workflow": NAME, "params": {...}, "cwd": DIR, "max_job_parallel": N}`. For each, it
writes one JSON line on the file descriptor named by argv[1]: `{"context": …}` (the final
context, `info` removed, values that JSON cannot hold as `str()`, as the oracle tool does) or
`{"crash": "text"}`. What the workflows print goes to stdout, which the fuzzer discards.
The engine is configured as ../shared/tools/oracle configures it.
"""

import json
import os
import sys
import traceback

os.environ.update(
    WORKFLOW_CORE_REGISTRY_FILTER="ddeutil.workflow.reusables",
    WORKFLOW_CORE_REGISTRY_CALLER="ddeutil.workflow",
    WORKFLOW_CORE_STAGE_DEFAULT_ID="false",
    WORKFLOW_LOG_TRACE_HANDLERS="[]",
    WORKFLOW_LOG_AUDIT_ENABLE_WRITE="false",
)

from ddeutil.workflow import Workflow  # noqa: E402
from ddeutil.workflow import job as upstream_job  # noqa: E402


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != "info"}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def main():
    out = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    for line in sys.stdin:
        request = json.loads(line)
        os.environ["WORKFLOW_CORE_CONF_PATH"] = request["conf"]
        os.chdir(request["cwd"])
        # Upstream caches matrix expansion (`job.make`, an lru_cache) with a key that
        # ignores the matrix's key order: in one process, a matrix `{n, py}` expanded
        # after an equal `{py, n}` gets the earlier one's key order, hence other strategy
        # ids. Each case starts as a fresh process would.
        upstream_job.make.__wrapped__.cache_clear()  # under its `freeze_args` wrapper
        try:
            result = Workflow.from_conf(request["workflow"]).execute(
                params=request["params"], max_job_parallel=request.get("max_job_parallel", 2))
            text = json.dumps({"context": strip(result.context)}, default=str)
        except BaseException:  # noqa: BLE001 - the engine itself crashed: a finding
            text = json.dumps({"crash": traceback.format_exc()[-2000:]})
        sys.stdout.flush()
        out.write(text + "\n")


if __name__ == "__main__":
    main()

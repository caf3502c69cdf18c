"""The Python distribution, as a user gets it: run by .ci/run after the Rust tests.

    python3 tests/dist/check_dist.py [--wheel-only | --hook-only]

1. Builds the wheel with maturin (`maturin build --release` at the repository's
   root, the pinned maturin of scripts/setup-tests), installs it with pip into a
   fresh venv, and runs from that venv only: `wfc --version`, `wfc check` and
   `wfr run` of the bundled example, and a workflow with a Py stage (which `wfr`
   hands to the wheel's `wfr-python`).
2. Drives the real pre-commit (from PyPI, pinned by scripts/setup-tests) on a new
   git repository whose only set-up is `.pre-commit-config.yaml` naming this
   repository's `wfc-check` hook at HEAD: pre-commit installs wfc by itself, a good
   commit goes through, a bad one is stopped with the finding.

The Rust build of both shares dist/target (or $CARGO_TARGET_DIR), so the crates it
depends on are built once. Each step says what it checks; a failure exits 1 with
what was seen.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
STATE = Path(os.environ.get("WFC_TEST_STATE", Path.home() / ".cache" / "wfc-test"))
MATURIN = STATE / "maturin" / "bin" / "maturin"
PRE_COMMIT = STATE / "pre-commit" / "bin" / "pre-commit"

GOOD = """\
hello:
  type: Workflow
  params:
    name: {type: str, default: world}
  jobs:
    greet:
      stages:
        - name: Say hello
          id: say
          echo: hello ${{ params.name }}
"""

PY_STAGE = """\
py-hello:
  type: Workflow
  params:
    name: {type: str, default: wheel}
  jobs:
    compute:
      stages:
        - name: Compute in Python
          id: compute
          vars: {name: "${{ params.name }}"}
          run: |
            import sys
            answer = 6 * 7
            greeting = f"hello {name} from Python {sys.version_info[0]}"
"""


def fail(message, out=None):
    print(f"check_dist: FAILED: {message}", file=sys.stderr)
    if out is not None:
        print(f"--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}", file=sys.stderr)
    sys.exit(1)


def run(args, expect=0, **kwargs):
    out = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if expect is not None and out.returncode != expect:
        fail(f"{' '.join(map(str, args))} exited {out.returncode}, not {expect}", out)
    return out


def target_env():
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(ROOT / "dist" / "target"))
    return env


def build_wheel(out_dir):
    if not MATURIN.exists():
        fail(f"{MATURIN} is missing: run scripts/setup-tests")
    started = time.monotonic()
    run([MATURIN, "build", "--release", "--out", out_dir], cwd=ROOT, env=target_env())
    wheels = sorted(Path(out_dir).glob("wfc_workflow-*.whl"))
    if len(wheels) != 1:
        fail(f"expected one wheel in {out_dir}, found {wheels}")
    print(f"check_dist: built {wheels[0].name} in {time.monotonic() - started:.0f} s")
    return wheels[0]


def check_wheel(work):
    wheel = build_wheel(work / "wheels")
    venv = work / "venv"
    # A fresh venv with pip, as a user makes one; no Rust on its PATH.
    run([sys.executable, "-m", "venv", venv])
    run([venv / "bin" / "pip", "install", "--no-index", "--quiet", wheel])
    bin_dir = venv / "bin"
    for name in ("wfc", "wfr", "wfr-python"):
        path = bin_dir / name
        if not path.is_file():
            fail(f"the wheel installed no `{name}` in {bin_dir}")
        size = path.stat().st_size
        print(f"check_dist: {name} installed, {size / 1e6:.1f} MB")
        file_out = run(["file", "-b", path]).stdout
        if "not stripped" in file_out:
            fail(f"`{name}` still has its symbols: {file_out}")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
    }
    version = run([bin_dir / "wfc", "--version"], env=env).stdout.strip()
    if not version.startswith("wfc "):
        fail(f"`wfc --version` says {version!r}")
    print(f"check_dist: {version}")
    conf = work / "project" / "conf"
    shutil.copytree(ROOT / "examples" / "conf", conf)
    (conf / "py-hello.yml").write_text(PY_STAGE)
    project = conf.parent
    run(["wfc", "check", "conf"], env=env, cwd=project)
    out = run(["wfr", "run", "conf/site-check.yml"], env=env, cwd=project)
    if "SUCCESS" not in out.stdout + out.stderr:
        fail("the bundled example did not succeed", out)
    out = run(
        ["wfr", "run", "py-hello", "--output", "json"], env=env, cwd=project
    )
    if '"answer": 42' not in out.stdout.replace('"answer":42', '"answer": 42'):
        fail("the Py stage's variables are not in the run's context", out)
    if "hello wheel from Python 3" not in out.stdout:
        fail("the Py stage did not run on the wheel's wfr-python", out)
    print("check_dist: wfc check, wfr run (bash) and wfr run (Py stage) work from the wheel")


def git(args, cwd):
    return run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        cwd=cwd,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
    ).stdout


def check_hook(work):
    if not PRE_COMMIT.exists():
        fail(f"{PRE_COMMIT} is missing: run scripts/setup-tests")
    head = git(["rev-parse", "HEAD"], ROOT).strip()
    if git(["status", "--porcelain", "--untracked-files=no"], ROOT).strip():
        print("check_dist: note: the repository has uncommitted changes; the hook is HEAD's")
    repo = work / "repo"
    repo.mkdir()
    git(["init", "-q", "-b", "main"], repo)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {head}\n    hooks:\n"
        "      - id: wfc-check\n        args: [conf]\n"
    )
    env = {
        **target_env(),
        "PRE_COMMIT_HOME": str(work / "pre-commit-home"),
        "GIT_CONFIG_NOSYSTEM": "1",
        # No wfc of the machine's: the hook must bring its own.
        "PATH": ":".join(
            p for p in os.environ.get("PATH", "").split(":") if not (Path(p) / "wfc").exists()
        ),
    }
    run([PRE_COMMIT, "install"], cwd=repo, env=env)
    conf = repo / "conf"
    conf.mkdir()
    (conf / "hello.yml").write_text(GOOD)
    git(["add", "-A"], repo)
    started = time.monotonic()
    commit = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m"]
    out = run([*commit, "good"], cwd=repo, env=env, expect=None)
    if out.returncode != 0:
        fail("the good commit was refused", out)
    print(
        f"check_dist: pre-commit installed the hook by itself and passed a good commit"
        f" in {time.monotonic() - started:.0f} s"
    )
    (conf / "hello.yml").write_text(GOOD.replace("echo:", "ecoh:"))
    git(["add", "-A"], repo)
    out = run([*commit, "bad"], cwd=repo, env=env, expect=None)
    said = out.stdout + out.stderr
    if out.returncode == 0:
        fail("the bad commit went through", out)
    if "WF101" not in said or "did you mean `echo`?" not in said:
        fail("the bad commit was refused without the finding", out)
    log = git(["log", "--format=%s"], repo).split()
    if log != ["good"]:
        fail(f"the history is {log}, not just the good commit")
    print("check_dist: a bad commit is stopped with its finding (WF101)")


def main():
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--wheel-only", action="store_true")
    group.add_argument("--hook-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wfc-dist-") as tmp:
        work = Path(tmp)
        if not args.hook_only:
            check_wheel(work)
        if not args.wheel_only:
            check_hook(work)
    print("check_dist: ok")


if __name__ == "__main__":
    main()

"""`wfc lsp` on a large workspace: the time to the first diagnostics, and to a
file's new diagnostics after an edit.

    python3 bench/lsp.py [--wfc target/release/wfc] [--files 1000] [--edits 20]

The workspace is `bench/gen_workflows.py`'s (FILES files of 20 stages), plus one
file with a mistake, whose diagnostics are the signal. The server runs with no
debounce (`WFC_LSP_DEBOUNCE_MS=0`), so the times are the checks'. Printed: the
time from `initialized` to the broken file's diagnostics (every file loaded and
checked), and the median time from a `didChange` of that file to its new
diagnostics (the edited file checked again, the checks across files run over
every file's summary).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BROKEN = """broken:
  type: Workflow
  jobs:
    j:
      stages:
        - name: hello
          {key}: hi
"""


def send(proc, message):
    body = json.dumps(message).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def receive(proc):
    length = 0
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the server ended")
        line = line.strip()
        if not line:
            break
        if line.startswith(b"Content-Length:"):
            length = int(line.split(b":")[1])
    return json.loads(proc.stdout.read(length))


def until_published(proc, uri):
    while True:
        message = receive(proc)
        if message.get("method") == "textDocument/publishDiagnostics" and \
                message["params"]["uri"] == uri:
            return message["params"]["diagnostics"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wfc", default="target/release/wfc")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as root:
        conf = os.path.join(root, "conf")
        subprocess.run([sys.executable, os.path.join(here, "gen_workflows.py"), conf,
                        str(args.files)], check=True, stdout=subprocess.DEVNULL)
        broken = os.path.join(conf, "broken.yml")
        with open(broken, "w") as f:
            f.write(BROKEN.format(key="ecoh"))
        uri = "file://" + broken
        env = dict(os.environ, WFC_LSP_DEBOUNCE_MS="0")
        proc = subprocess.Popen([os.path.abspath(args.wfc), "lsp", conf], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                    "params": {"processId": None, "rootUri": "file://" + conf, "capabilities": {}}})
        receive(proc)
        start = time.perf_counter()
        send(proc, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        first = until_published(proc, uri)
        first_time = time.perf_counter() - start
        assert first, "the broken file has a finding"
        send(proc, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "yaml", "version": 1,
                             "text": BROKEN.format(key="ecoh")}}})
        times = []
        for i in range(args.edits):
            key = "echo" if i % 2 == 0 else "ecoh"
            start = time.perf_counter()
            send(proc, {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": i + 2},
                "contentChanges": [{"text": BROKEN.format(key=key)}]}})
            found = until_published(proc, uri)
            times.append(time.perf_counter() - start)
            assert bool(found) == (key == "ecoh"), found
        proc.kill()
        proc.wait()
    print(f"{args.files + 1} files: first diagnostics {first_time * 1e3:.0f} ms; "
          f"after an edit, median {statistics.median(times) * 1e3:.1f} ms, "
          f"largest {max(times) * 1e3:.1f} ms ({args.edits} edits)")


if __name__ == "__main__":
    main()

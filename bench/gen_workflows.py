"""Generate a folder of realistic workflow files for benchmarks.

    python bench/gen_workflows.py OUT_DIR [FILES=1000] [STAGES=20] [--terse]

Every file holds one workflow of 4 jobs chained by `needs`, with STAGES stages in
all: a mix of echo, bash, python, call, foreach, parallel and case stages using
params, matrix values and earlier stage outputs in templates. The files are valid
for both wfc and ddeutil-workflow. With --terse every stage is one short flow
mapping (about 80 bytes a stage instead of about 250).
"""
import os
import sys

JOB_NAMES = ["extract", "transform", "load", "report"]


def stage(i, job, wf, first):
    kind = i % 7
    sid = f"s{i}"
    if kind == 0:
        return f"""        - name: Announce {i}
          id: {sid}
          echo: "start {wf} ${{{{ params.source }}}} at ${{{{ params.run-date }}}}"
"""
    if kind == 1:
        return f"""        - name: Shell step {i}
          id: {sid}
          bash: |
            set -eu
            echo "$SOURCE" | wc -c
          env:
            SOURCE: ${{{{ params.source }}}}/{job}
"""
    if kind == 2:
        return f"""        - name: Python step {i}
          id: {sid}
          vars:
            size: ${{{{ params.batch }}}}
            mode: ${{{{ params.mode }}}}
          run: |
            rows = size * 2
            full = mode == "full"
"""
    if kind == 3:
        return f"""        - name: Call step {i}
          id: {sid}
          uses: tasks/run-{job}@v1
          retry: 2
          with:
            source: ${{{{ params.source }}}}/${{{{ params.target }}}}
            rows: {f"${{{{ stages.s{i - 1}.outputs.rows }}}}" if i > first else "${{ params.batch }}"}
"""
    if kind == 4:
        return f"""        - name: Each table {i}
          id: {sid}
          foreach: ${{{{ params.tables }}}}
          concurrent: 2
          stages:
            - name: Load table
              id: load-table
              echo: loading ${{{{ item }}}} number ${{{{ loop }}}}
"""
    if kind == 5:
        return f"""        - name: Fan out {i}
          id: {sid}
          max-workers: 2
          parallel:
            left:
              - name: Left side
                id: left
                echo: on ${{{{ branch }}}}
            right:
              - name: Right side
                id: right
                echo: on ${{{{ branch | upper }}}}
"""
    return f"""        - name: Route {i}
          id: {sid}
          case: ${{{{ params.mode }}}}
          match:
            - case: full
              stages:
                - name: Full load
                  echo: full
            - else:
                - name: Incremental load
                  if: "params.batch > 10"
                  echo: incremental
"""


def terse_stage(i, job, wf, first):
    kind = i % 4
    if kind == 0:
        return f"        - {{name: Step {i}, id: s{i}, echo: 'run ${{{{ params.source }}}}'}}\n"
    if kind == 1:
        return f"        - {{name: Step {i}, id: s{i}, bash: echo {job}, env: {{A: x}}}}\n"
    if kind == 2:
        return f"        - {{name: Step {i}, id: s{i}, run: 'x = {i}', vars: {{y: 1}}}}\n"
    return f"        - {{name: Step {i}, id: s{i}, uses: tasks/{job}@v1, with: {{n: 1}}}}\n"


def workflow(n, stages, terse=False):
    wf = f"wf-{n:05d}"
    out = [f"""{wf}:
  type: Workflow
  desc: Generated workflow number {n}.
  on:
    schedule:
      - cronjob: "{n % 60} {n % 24} * * *"
        timezone: UTC
  params:
    source: {{type: str, default: s3://raw}}
    target: str
    run-date: datetime
    batch: {{type: int, default: 100}}
    mode:
      type: choice
      options: [full, incremental]
    tables: {{type: array, default: [a, b]}}
  jobs:
"""]
    per_job = [stages // 4 + (1 if j < stages % 4 else 0) for j in range(4)]
    i = 0
    for j, job in enumerate(JOB_NAMES):
        out.append(f"    {job}:\n")
        if j:
            out.append(f"      needs: [{JOB_NAMES[j - 1]}]\n")
        if j == 1:
            out.append("      strategy:\n        max-parallel: 2\n        matrix:\n          shard: [1, 2, 3]\n")
        out.append("      stages:\n")
        first = i
        for _ in range(per_job[j]):
            out.append((terse_stage if terse else stage)(i, job, wf, first))
            i += 1
    return "".join(out)


def main():
    terse = "--terse" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--terse"]
    out_dir = args[0]
    files = int(args[1]) if len(args) > 1 else 1000
    stages = int(args[2]) if len(args) > 2 else 20
    os.makedirs(out_dir, exist_ok=True)
    for n in range(files):
        with open(os.path.join(out_dir, f"wf_{n:05d}.yml"), "w") as f:
            f.write(workflow(n, stages, terse))


if __name__ == "__main__":
    main()

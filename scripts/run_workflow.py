"""Run the `run:` steps of a GitHub Actions workflow here, as the test command's check that an example
workflow still works: the commands it names are the commands that run.

Usage: python3 scripts/run_workflow.py EXAMPLE_DIR [--skip STEP_NAME ...]

The example is copied to a temporary directory (a fresh checkout) and each job's steps run in order
with `bash -eo pipefail`, as on GitHub's runners. `uses:` steps (checkout, setup-python) are skipped:
this machine already is that. `--skip` names steps done differently here, such as installing fakellm
from PyPI when the test command has installed it from this checkout. Supported: workflow, job and step
`env`, `$GITHUB_ENV`, `${{ env.NAME }}`, and `if:` as `success()`, `failure()` or `always()`; anything
else is refused, so the workflow cannot silently mean something this script does not run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(".github/workflows/test.yml")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
ENV_REFERENCE = re.compile(r"env\.([A-Za-z_][A-Za-z0-9_]*)")
CONDITIONS = {"success()", "failure()", "always()"}


class Unsupported(Exception):
    """The workflow uses something this runner does not emulate."""


def expand(value: Any, env: dict[str, str]) -> str:
    """A value with its `${{ env.NAME }}` expressions replaced."""
    def substitute(match: re.Match[str]) -> str:
        reference = ENV_REFERENCE.fullmatch(match.group(1))
        if reference is None:
            raise Unsupported(f"expression {match.group(0)!r}: only ${{{{ env.NAME }}}} is supported")
        return env.get(reference.group(1), "")

    return EXPRESSION.sub(substitute, str(value))


def read_github_env(path: Path) -> dict[str, str]:
    """The NAME=value lines a step appended to $GITHUB_ENV."""
    values = {}
    for line in path.read_text().splitlines():
        if "<<" in line:
            raise Unsupported("multi-line values in $GITHUB_ENV")
        if "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def should_run(step: dict[str, Any], failed: bool) -> bool:
    condition = str(step.get("if", "success()")).strip()
    if condition.startswith("${{") and condition.endswith("}}"):
        condition = condition[3:-2].strip()
    if condition not in CONDITIONS:
        raise Unsupported(f"if: {condition!r}: only success(), failure() and always() are supported")
    return condition == "always()" or (condition == "failure()") == failed


def run_job(name: str, job: dict[str, Any], workflow_env: dict[str, Any], workdir: Path, skip: set[str]) -> bool:
    """Run one job's steps; True when every step that ran passed."""
    github_env = workdir / ".github_env"
    github_env.write_text("")
    env = {**os.environ, **{k: str(v) for k, v in workflow_env.items()}}
    env.update({k: expand(v, env) for k, v in (job.get("env") or {}).items()})
    env["GITHUB_ENV"] = str(github_env)
    failed = False
    for index, step in enumerate(job.get("steps") or []):
        label = step.get("name") or step.get("uses") or f"step {index + 1}"
        if "uses" in step:
            print(f"== [{name}] {label}: skipped (an action; this machine is already set up)", flush=True)
            continue
        if step.get("name") in skip:
            print(f"== [{name}] {label}: skipped (--skip)", flush=True)
            continue
        if not should_run(step, failed):
            continue
        step_env = {**env, **read_github_env(github_env)}
        step_env.update({k: expand(v, step_env) for k, v in (step.get("env") or {}).items()})
        print(f"== [{name}] {label}", flush=True)
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", expand(step["run"], step_env)],
                                cwd=workdir, env=step_env)
        if result.returncode != 0:
            print(f"== [{name}] {label}: failed (exit {result.returncode})", flush=True)
            failed = True
    pid = read_github_env(github_env).get("FAKELLM_PID")
    if pid and still_running(int(pid)):  # the workflow's stop step did not run or did not work
        os.kill(int(pid), signal.SIGKILL)
        print(f"== [{name}] fakellm (PID {pid}) was still running; killed it", flush=True)
        failed = True
    return not failed


def still_running(pid: int, wait_s: float = 5.0) -> bool:
    """Whether `pid` is still running after up to `wait_s` (a zombie waiting to be reaped has stopped)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        except OSError:  # no /proc: ask the kernel
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            state = "R"
        if state == "Z":
            return False
        time.sleep(0.05)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("example", type=Path)
    parser.add_argument("--skip", action="append", default=[], metavar="STEP_NAME")
    args = parser.parse_args(argv)
    workflow = yaml.safe_load((args.example / WORKFLOW).read_text())
    skip = set(args.skip)
    names = {step.get("name") for job in workflow["jobs"].values() for step in job.get("steps") or []}
    if missing := skip - names:
        raise Unsupported(f"--skip names no step: {', '.join(sorted(missing))}")
    with tempfile.TemporaryDirectory(prefix="fakellm-workflow-") as tmp:
        workdir = Path(tmp) / args.example.name
        shutil.copytree(args.example, workdir, ignore=shutil.ignore_patterns("fakellm.log", "__pycache__"))
        passed = all([run_job(name, job, workflow.get("env") or {}, workdir, skip)
                      for name, job in workflow["jobs"].items()])
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Unsupported as e:
        print(f"run_workflow: {e}", file=sys.stderr)
        sys.exit(2)

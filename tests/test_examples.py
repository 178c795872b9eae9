"""The examples stay wired into the test command, and the GitHub Actions example's workflow says what
scripts/run_workflow.py runs: it parses, installs fakellm, starts it and runs the suite against it.

The examples themselves run in `scripts/test` (each in its own directory, as its README says); the
tests of the workflow runner here use small workflows of their own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fakellm.config import load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TEST_COMMAND = (ROOT / "scripts" / "test").read_text()
WORKFLOW_EXAMPLE = EXAMPLES / "github-actions"


def workflow() -> dict:
    return yaml.safe_load((WORKFLOW_EXAMPLE / ".github" / "workflows" / "test.yml").read_text())


def steps_by_name() -> dict[str, dict]:
    (job,) = workflow()["jobs"].values()
    return {step.get("name", step.get("uses")): step for step in job["steps"]}


def test_every_example_has_a_readme_and_runs_in_the_test_command():
    examples = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    assert len(examples) >= 5
    for name in examples:
        assert (EXAMPLES / name / "README.md").is_file(), name
        assert re.search(rf"\b{re.escape(name)}\b", TEST_COMMAND), f"scripts/test does not run examples/{name}"


@pytest.mark.parametrize("config", sorted(EXAMPLES.glob("*/fakellm.yaml")), ids=lambda p: p.parent.name)
def test_example_configs_are_valid(config):
    assert load_config(config).rules


def test_the_node_projects_use_the_package_from_this_checkout():
    for project in (ROOT / "tests" / "ts", EXAMPLES / "typescript-app"):
        manifest = json.loads((project / "package.json").read_text())
        wanted = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
        assert wanted["@fakellm/node"] == f"file:{Path('..', '..', 'clients', 'node').as_posix()}", project
        lock = json.loads((project / "package-lock.json").read_text())
        assert lock["packages"]["node_modules/@fakellm/node"] == {"resolved": "../../clients/node", "link": True}


def test_the_workflow_installs_starts_fakellm_and_runs_the_suite_against_it():
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"push", "pull_request"}
    steps = steps_by_name()
    assert list(steps)[:3] == ["actions/checkout@v4", "actions/setup-python@v5", "Install"]
    assert steps["Install"]["run"] == "python -m pip install -r requirements.txt"
    requirements = (WORKFLOW_EXAMPLE / "requirements.txt").read_text().split()
    assert any(line.startswith("fakellm") for line in requirements)

    start = steps["Start fakellm"]["run"]
    assert "fakellm check --config fakellm.yaml" in start
    assert "fakellm serve --config fakellm.yaml --port 0 > fakellm.log 2>&1 &" in start
    assert 'echo "FAKELLM_PID=$!" >> "$GITHUB_ENV"' in start
    assert "fakellm ready on" in start

    test_step = steps["Test"]
    assert test_step["run"] == "python -m pytest -q"
    assert test_step["env"]["OPENAI_BASE_URL"] == "${{ env.FAKELLM_URL }}/v1"
    assert steps["Show what fakellm saw"]["if"] == "failure()"
    assert steps["Stop fakellm"] == {"name": "Stop fakellm", "if": "always()", "run": 'kill "$FAKELLM_PID"'}


def test_the_test_command_runs_the_workflow_skipping_only_the_pypi_install():
    assert "python3 scripts/run_workflow.py examples/github-actions --skip Install" in TEST_COMMAND


# -- the workflow runner, on workflows of its own


def run_workflow(tmp_path: Path, steps: list[dict], *extra: str) -> subprocess.CompletedProcess:
    example = tmp_path / "example"
    (example / ".github" / "workflows").mkdir(parents=True)
    document = {"on": ["push"], "env": {"GREETING": "hello"}, "jobs": {"test": {"steps": steps}}}
    (example / ".github" / "workflows" / "test.yml").write_text(yaml.safe_dump(document))
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "run_workflow.py"), str(example), *extra],
                          capture_output=True, text=True, timeout=60)


def test_runner_passes_env_and_github_env_between_steps(tmp_path):
    result = run_workflow(tmp_path, [
        {"uses": "actions/checkout@v4"},
        {"name": "Install", "run": "exit 1"},
        {"name": "Set", "run": 'echo "FROM_STEP=$GREETING world" >> "$GITHUB_ENV"'},
        {"name": "Use", "env": {"COPY": "${{ env.FROM_STEP }}!"}, "run": 'test "$COPY" = "hello world!" && echo ok-$COPY'},
    ], "--skip", "Install")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok-hello world!" in result.stdout
    assert "Install: skipped (--skip)" in result.stdout


def test_runner_fails_with_the_step_and_runs_only_failure_and_always_steps(tmp_path):
    result = run_workflow(tmp_path, [
        {"name": "Breaks", "run": "false"},
        {"name": "Later", "run": "echo later-ran"},
        {"name": "On failure", "if": "failure()", "run": "echo failure-ran"},
        {"name": "Always", "if": "${{ always() }}", "run": "echo always-ran"},
    ])
    assert result.returncode == 1
    assert "Breaks: failed (exit 1)" in result.stdout
    assert "later-ran" not in result.stdout
    assert "failure-ran" in result.stdout and "always-ran" in result.stdout


@pytest.mark.parametrize(("step", "extra", "message"), [
    ({"name": "X", "run": "echo ${{ secrets.TOKEN }}"}, (), "only ${{ env.NAME }} is supported"),
    ({"name": "X", "if": "github.event_name == 'push'", "run": "true"}, (), "only success(), failure() and always()"),
    ({"name": "X", "run": "true"}, ("--skip", "Instal"), "--skip names no step: Instal"),
])
def test_runner_refuses_what_it_does_not_emulate(tmp_path, step, extra, message):
    result = run_workflow(tmp_path, [step], *extra)
    assert result.returncode == 2
    assert message in result.stderr

"""The GitHub workflows, validated offline: GitHub's workflow schema, and zizmor's security audit."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent  # the environment running the tests (.venv, .venv-wheel)


def tool(name: str) -> str:
    """A validator installed in the project's environment (never skipped when missing: it fails)."""
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            pytest.fail(f"{name} is not installed; scripts/bootstrap.sh installs the dev tools")
        return found
    return str(path)


def check_schema(*files: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its bundled GitHub workflow schema (no network)."""
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def audit(*paths: Path) -> subprocess.CompletedProcess[str]:
    """zizmor, offline."""
    return subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", *map(str, paths)], capture_output=True, text=True, check=False
    )


def test_there_are_workflows() -> None:
    """CI, the reference site, the release on a tag, and the spec follower on a schedule."""
    assert [w.name for w in WORKFLOWS] == ["ci.yml", "docs.yml", "release.yml", "spec-update.yml"]


def test_the_workflows_match_githubs_schema() -> None:
    """Every workflow validates against GitHub's workflow schema."""
    result = check_schema(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing() -> None:
    """No security finding: pinned actions, no credential persistence, least privilege, no injection."""
    result = audit(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_by_commit_and_permissions_are_explicit() -> None:
    """Each `uses:` names a full commit SHA; each workflow starts from no permissions."""
    for workflow in WORKFLOWS:
        text = workflow.read_text()
        for action in re.findall(r"uses:\s*(\S+)", text):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{workflow.name}: {action}"
        assert yaml.safe_load(text)["permissions"] == {}, workflow.name


def test_the_validators_catch_bad_workflows(tmp_path: Path) -> None:
    """The checks can fail: a malformed workflow and an unpinned, over-privileged one are flagged."""
    malformed = tmp_path / "malformed.yml"
    malformed.write_text("on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    steps: nope\n")
    assert check_schema(malformed).returncode != 0
    unpinned = tmp_path / "unpinned.yml"
    unpinned.write_text(
        "on: push\npermissions: write-all\njobs:\n  build:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
    )
    result = audit(unpinned)
    assert result.returncode != 0
    assert "unpinned" in result.stdout + result.stderr


def spec_update_step(key: str, value: str) -> dict[str, Any]:
    """The spec-update job's step whose `key` is `value`."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "spec-update.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["update"]["steps"] if s.get(key) == value]
    return dict(step)


def run_step(step: dict[str, Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A workflow step's `run` script, under bash -e as GitHub runs it."""
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run(
        [bash, "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def run_spec_step(tmp_path: Path, status: int) -> subprocess.CompletedProcess[str]:
    """The spec-update workflow's "spec" step, run by bash with update_spec.py stubbed to exit with `status`."""
    stub = tmp_path / ".venv" / "bin" / "python"
    stub.parent.mkdir(parents=True)
    stub.write_text(f"#!/bin/sh\necho '## Spec changes'\necho 'what failed' >&2\nexit {status}\n")
    stub.chmod(0o755)
    env = {"GITHUB_OUTPUT": str(tmp_path / "github-output"), "PATH": "/usr/bin:/bin"}
    return run_step(spec_update_step("id", "spec"), tmp_path, env)


@pytest.mark.parametrize(
    ("status", "outputs", "issue"),
    [
        (0, {"changed": "false", "failed": "false"}, False),
        (10, {"changed": "true", "failed": "false", "label": "spec-update"}, False),
        (20, {"changed": "true", "failed": "false", "label": "breaking-change"}, False),
        (30, {"changed": "false", "failed": "true"}, True),
        (1, {"changed": "false", "failed": "true"}, True),
    ],
)
def test_the_spec_step_routes_each_exit_status(
    tmp_path: Path, status: int, outputs: dict[str, str], *, issue: bool
) -> None:
    """A change goes on to a pull request; a failed fetch or merge goes to the issue, with what failed."""
    result = run_spec_step(tmp_path, status)
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "github-output").read_text().splitlines()
    assert dict(line.split("=", 1) for line in lines) == outputs
    failure = tmp_path / "spec-failure.md"
    assert failure.exists() == issue
    if issue:
        text = failure.read_text()
        assert "## Spec changes" in text
        assert "what failed" in text
        assert f"Exit status {status} of `scripts/update_spec.py`" in text


def test_the_spec_step_fails_on_bad_usage(tmp_path: Path) -> None:
    """Exit status 2 (the workflow calling the script wrongly) fails the run instead of filing an issue."""
    result = run_spec_step(tmp_path, 2)
    assert result.returncode == 2
    assert not (tmp_path / "spec-failure.md").exists()


def run_issue_step(tmp_path: Path, name: str, open_issue: str) -> list[str]:
    """Run a spec-update step that files or closes the failure issue, with `gh` stubbed; the gh calls it made."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "gh-calls"
    gh = bin_dir / "gh"
    # `gh issue list ... --jq` prints the open issue's number, or nothing when there is none.
    gh.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n'
        f'if [ "$1 $2" = "issue list" ]; then printf "%s" "{open_issue}"; fi\n'
    )
    gh.chmod(0o755)
    (tmp_path / "spec-failure.md").write_text("what failed\n")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "REPO": "o/r", "GH_TOKEN": "t", "GITHUB_RUN_ID": "42"}
    result = run_step(spec_update_step("name", name), tmp_path, env)
    assert result.returncode == 0, result.stderr
    return calls.read_text().splitlines()


TITLE = "The upstream spec could not be followed"
LIST = f'issue list --repo o/r --state open --search "{TITLE}" in:title --json number --jq .[0].number // empty'


@pytest.mark.parametrize(
    ("step", "open_issue", "calls"),
    [
        ("Open or update the issue saying what failed", "",
         [f"issue create --repo o/r --title {TITLE} --body-file spec-failure.md"]),
        ("Open or update the issue saying what failed", "7", ["issue edit 7 --repo o/r --body-file spec-failure.md"]),
        ("Close the failure issue once the spec is followed again", "7",
         ["issue close 7 --repo o/r --comment The upstream spec was followed again by run 42."]),
        ("Close the failure issue once the spec is followed again", "", []),
    ],
)  # fmt: skip
def test_the_failure_issue_is_opened_updated_and_closed(
    tmp_path: Path, step: str, open_issue: str, calls: list[str]
) -> None:
    """One issue at most: created on the first failure, its body replaced on the next, closed once followed again."""
    assert run_issue_step(tmp_path, step, open_issue) == [LIST, *calls]

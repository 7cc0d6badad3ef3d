"""The release: its gates (scripts/release.py), and its workflow's steps run here, the publishing stubbed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import release
import yaml
from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
ENTRY = "## 1.2.3 - 2026-12-01"
"""The heading a release gives the Unreleased entry of the CHANGELOG."""
PUBLISH_ACTION = "pypa/gh-action-pypi-publish"


def jobs() -> dict[str, Any]:
    """The release workflow's jobs."""
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]  # type: ignore[no-any-return]


def test_a_tag_starts_it_and_each_job_waits_for_the_one_before() -> None:
    """Tags v* only; build, then test, then publish, then the GitHub release: nothing publishes untested files."""
    on = yaml.safe_load(WORKFLOW.read_text())[True]  # YAML reads the key `on` as True
    assert on == {"push": {"tags": ["v*"]}}
    found = jobs()
    assert list(found) == ["build", "test", "publish", "github-release"]
    assert "needs" not in found["build"]
    assert (found["test"]["needs"], found["publish"]["needs"], found["github-release"]["needs"]) == (
        "build",
        "test",
        "publish",
    )
    assert found["test"]["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]


def test_only_the_publish_job_can_mint_a_token_and_it_needs_the_protected_environment() -> None:
    """Trusted publishing: id-token for the publish job alone, in the pypi environment, with no password."""
    found = jobs()
    minting = [name for name, job in found.items() if job.get("permissions", {}).get("id-token") == "write"]
    assert minting == ["publish"]
    publish = found["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    (step,) = [s for s in publish["steps"] if s.get("uses", "").startswith(PUBLISH_ACTION)]
    assert set(step.get("with", {})) == {"packages-dir"}, "no password or token: OIDC"
    writers = [name for name, job in found.items() if job.get("permissions", {}).get("contents") == "write"]
    assert writers == ["github-release"]


# -- the workflow's steps, run on a copy of this tree -----------------------------------------------------------

SKIPPED = ("actions/checkout", "actions/setup-python")
"""The copy is the checkout, and this interpreter's environment the set-up Python."""


class Run:
    """What a run of the workflow did: each step it took, what was tested, published and released."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.failed: str | None = None
        self.output = ""
        self.tested: list[str] = []
        self.published: list[str] = []
        self.released: list[str] = []
        self.notes = ""


def copy_of_this_tree(destination: Path) -> Path:
    """The project's files (not its environments or caches), with this tree's environments linked in."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", ".venv-wheel", ".uv", "dist", "site", "node_modules", "__pycache__", "*_cache", ".coverage*"
    )
    tree = destination / "checkout"
    shutil.copytree(ROOT, tree, ignore=ignore)
    for environment in (".venv", ".uv"):
        (tree / environment).symlink_to(ROOT / environment)
    return tree


def stub_gh(directory: Path) -> Path:
    """A `gh` that writes down its arguments and the notes file it was given, instead of creating a release."""
    directory.mkdir()
    gh = directory / "gh"
    gh.write_text(
        "#!/usr/bin/env bash\n"
        'printf "%s\\n" "$@" > "$STUB_LOG/gh-args"\n'
        'while [ $# -gt 0 ]; do [ "$1" = --notes-file ] && cp "$2" "$STUB_LOG/notes"; shift; done\n'
    )
    gh.chmod(0o755)
    return directory


def expand(value: str, tag: str) -> str:
    """The expressions the release workflow uses, as GitHub would fill them in for `tag`."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    for expression, filled in (
        ("${{ github.ref_name }}", tag),
        ("${{ github.token }}", "a-token"),
        ("${{ matrix.python }}", python),
    ):
        value = value.replace(expression, filled)
    assert "${{" not in value, f"an expression the runner does not know: {value}"
    return value


def run_workflow(tree: Path, tag: str, scratch: Path) -> Run:
    """Each job's steps in order, on `tree`, as if `tag` were pushed: `run` steps for real, actions stubbed.

    Stubs: the artifact is a folder; `pypa/gh-action-pypi-publish` writes down the files it
    would upload; `bash scripts/test.sh` (this suite itself) writes down the files it would
    test; `gh` writes down its arguments.
    """
    run = Run()
    artifact = scratch / "artifact"
    log = scratch / "log"
    log.mkdir()
    bin_dir = stub_gh(scratch / "bin")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STUB_LOG": str(log)}
    env.pop("VERSIVE_DIST", None)
    for job_name, job in jobs().items():
        for step in job["steps"]:
            name = f"{job_name}: {step.get('name') or step['uses'].split('@')[0]}"
            run.steps.append(name)
            uses = step.get("uses", "").split("@")[0]
            with_ = {key: expand(str(value), tag) for key, value in step.get("with", {}).items()}
            if uses in SKIPPED:
                continue
            if uses == "actions/upload-artifact":
                shutil.copytree(tree / with_["path"], artifact, dirs_exist_ok=True)
            elif uses == "actions/download-artifact":
                shutil.rmtree(tree / with_["path"], ignore_errors=True)
                shutil.copytree(artifact, tree / with_["path"])
            elif uses == PUBLISH_ACTION:
                run.published = sorted(path.name for path in (tree / with_["packages-dir"]).iterdir())
            elif uses:
                pytest.fail(f"a step uses {uses}, which this runner cannot stand in for")
            elif not run_step(step, tree, tag, env, run):
                run.failed = name
                return run
    if (log / "gh-args").exists():
        run.released = (log / "gh-args").read_text().splitlines()
        run.notes = (log / "notes").read_text()
    return run


def run_step(step: dict[str, Any], tree: Path, tag: str, env: dict[str, str], run: Run) -> bool:
    """One `run` step of the workflow, in `tree`; False when it fails (its output is kept in `run`)."""
    script = expand(step["run"], tag).strip()
    step_env = {**env, **{key: expand(str(value), tag) for key, value in step.get("env", {}).items()}}
    if script == "bash scripts/bootstrap.sh":
        return True  # the environment is this suite's own, linked into the copy
    if script == "bash scripts/test.sh":
        run.tested = sorted(path.name for path in (tree / step_env["VERSIVE_DIST"]).iterdir())
        return True
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, "-eo", "pipefail", "-c", script], cwd=tree, env=step_env, capture_output=True, text=True, check=False
    )
    run.output += result.stdout + result.stderr
    return result.returncode == 0


def prepared(tmp_path: Path, version: str, *, entry: str | None) -> Path:
    """A copy of this tree at `version`, its CHANGELOG's Unreleased entry renamed `entry` (or left as it is)."""
    tree = copy_of_this_tree(tmp_path)
    (tree / "versive_client" / "_version.py").write_text(f'__version__ = "{version}"\n')
    changelog = tree / "CHANGELOG.md"
    text = changelog.read_text()
    if entry is not None:
        text = text.replace("## Unreleased\n", f"{entry}\n", 1)
    changelog.write_text(text)
    return tree


def test_a_tag_of_the_version_with_its_entry_publishes_the_files_it_built_and_tested(tmp_path: Path) -> None:
    """v1.2.3 at version 1.2.3 with its entry: built once; those two files tested, published, and attached."""
    tree = prepared(tmp_path, "1.2.3", entry=ENTRY)
    run = run_workflow(tree, "v1.2.3", tmp_path)
    assert run.failed is None, run.output
    files = ["versive_client-1.2.3-py3-none-any.whl", "versive_client-1.2.3.tar.gz"]
    assert run.tested == files
    assert run.published == files
    assert run.released[:2] == ["release", "create"]
    assert run.released[2] == "v1.2.3"
    assert sorted(Path(arg).name for arg in run.released if arg.startswith("dist/")) == files
    assert "--verify-tag" in run.released
    assert run.notes.startswith("### Spec update (proposed version bump: minor)\n")
    assert "interviews.wait" in run.notes
    assert "\n## " not in run.notes
    assert "release 1.2.3: the tag, the version and the CHANGELOG agree" in run.output


@pytest.mark.parametrize(
    ("version", "tag", "entry", "reason"),
    [
        ("1.2.3", "v1.2.4", ENTRY, "the tag 'v1.2.4' is not v + the package's version ('1.2.3'"),
        ("1.2.3", "1.2.3", ENTRY, "the tag '1.2.3' is not v + the package's version"),
        ("1.2.3", "v1.2.3", None, "CHANGELOG.md has no entry for 1.2.3"),
        ("1.2.3", "v1.2.3", ENTRY.replace(" - 2026-12-01", ""), "CHANGELOG.md has no entry for 1.2.3"),
        ("1.2.3.dev0", "v1.2.3.dev0", ENTRY.replace("1.2.3", "1.2.3.dev0"), "'1.2.3.dev0' is not a release version"),
    ],
    ids=["another-version", "no-v", "no-entry", "entry-without-date", "dev-version"],
)
def test_a_release_that_does_not_agree_stops_before_anything_is_built(
    tmp_path: Path, version: str, tag: str, entry: str | None, reason: str
) -> None:
    """The first check fails the build job: nothing is built, tested, published or released."""
    tree = prepared(tmp_path, version, entry=entry)
    run = run_workflow(tree, tag, tmp_path)
    assert run.failed == "build: The tag is the version, and the CHANGELOG has its entry"
    assert reason in run.output
    assert not (tree / "dist").exists()
    assert (run.tested, run.published, run.released) == ([], [], [])


def test_the_sdist_regenerates_the_client_byte_for_byte_and_its_tests_run(tmp_path: Path) -> None:
    """The sdist holds what the client is made from: regeneration in it matches the generated code it ships."""
    subprocess.run(
        [str(ROOT / ".uv" / "bin" / "uv"), "build", "--sdist", "--quiet", "--out-dir", str(tmp_path / "dist")],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (tree,) = (tmp_path / "unpacked").iterdir()
    check = subprocess.run(
        [sys.executable, "scripts/regenerate.py", "--check"], cwd=tree, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_surface.py", "tests/test_docs.py"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]


def test_the_notes_are_the_versions_entry(tmp_path: Path) -> None:
    """Up to the next version's heading, without the heading itself."""
    (tmp_path / "CHANGELOG.md").write_text(
        f"# Changelog\n\n## Unreleased\n\n- next\n\n{ENTRY}\n\n### Added\n- Everything so far.\n\n"
        "## 1.2.2 - 2026-11-01\n\n- older\n"
    )
    assert release.notes("1.2.3", tmp_path) == "### Added\n- Everything so far.\n"
    assert release.notes("1.2.2", tmp_path) == "- older\n"
    with pytest.raises(release.ReleaseError, match=r"no entry for 9\.9\.9"):
        release.notes("9.9.9", tmp_path)


def test_check_dist_refuses_what_was_not_built_for_this_version(tmp_path: Path) -> None:
    """An empty folder, another version's files, or a third file: each refused, naming what is there."""
    (tmp_path / "versive_client").mkdir()
    (tmp_path / "versive_client" / "_version.py").write_text('__version__ = "1.2.3"\n')
    dist = tmp_path / "dist"
    dist.mkdir()
    with pytest.raises(release.ReleaseError, match="it holds nothing"):
        release.check_dist(dist, tmp_path)
    (dist / "versive_client-1.2.2.tar.gz").write_text("")
    with pytest.raises(release.ReleaseError, match=r"it holds versive_client-1\.2\.2\.tar\.gz"):
        release.check_dist(dist, tmp_path)

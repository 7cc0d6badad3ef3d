"""The release: its gates (scripts/release.py), and its workflow's steps run here, the publishing stubbed."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
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


def copy_of(source: Path, tree: Path) -> Path:
    """The project's files at `source` (no environments, no caches) in `tree`, this tree's environments linked in."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", ".venv-wheel", ".uv", "dist", "site", "node_modules", "__pycache__", "*_cache", ".coverage*"
    )
    shutil.copytree(source, tree, ignore=ignore)
    for environment in (".venv", ".uv"):
        if not (tree / environment).exists():
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


def run_workflow(source: Path, tag: str, scratch: Path) -> Run:
    """Each job's steps in order, as if `tag` were pushed on `source`: `run` steps for real, actions stubbed.

    Each job works in a folder of its own, as on its own runner: a copy of `source` if it
    checks out, else an empty one; files pass between jobs only as named artifacts. Stubs:
    `pypa/gh-action-pypi-publish` writes down the files it would upload; `bash
    scripts/test.sh` (this suite itself) writes down the files it would test; `gh` writes
    down its arguments.
    """
    run = Run()
    artifacts = scratch / "artifacts"
    log = scratch / "log"
    log.mkdir()
    bin_dir = stub_gh(scratch / "bin")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STUB_LOG": str(log)}
    for name in ("VERSIVE_DIST", "VERSIVE_TEST_WHEEL", "PYTHONSAFEPATH"):
        env.pop(name, None)
    for job_name, job in jobs().items():
        workspace = scratch / "jobs" / job_name
        if any(step.get("uses", "").startswith("actions/checkout@") for step in job["steps"]):
            copy_of(source, workspace)
        else:
            workspace.mkdir(parents=True)
        for step in job["steps"]:
            name = f"{job_name}: {step.get('name') or step['uses'].split('@')[0]}"
            run.steps.append(name)
            done = (
                run_action(step, workspace, artifacts, tag, run)
                if "uses" in step
                else run_step(step, workspace, tag, env, run)
            )
            if not done:
                run.failed = name
                return run
    if (log / "gh-args").exists():
        run.released = (log / "gh-args").read_text().splitlines()
        run.notes = (log / "notes").read_text()
    return run


def run_action(step: dict[str, Any], workspace: Path, artifacts: Path, tag: str, run: Run) -> bool:
    """A `uses` step, stood in for; False when it would fail (an artifact that is not there)."""
    uses = step.get("uses", "").split("@")[0]
    given = {key: expand(str(value), tag) for key, value in step.get("with", {}).items()}
    if uses in SKIPPED:
        return True
    if uses == "actions/upload-artifact":
        shutil.copytree(workspace / given["path"], artifacts / given["name"])
        return True
    if uses == "actions/download-artifact":
        if not (artifacts / given["name"]).is_dir():
            run.output += f"no artifact named {given['name']!r}\n"
            return False
        shutil.copytree(artifacts / given["name"], workspace / given["path"], dirs_exist_ok=True)
        return True
    if uses == PUBLISH_ACTION:
        run.published = sorted(path.name for path in (workspace / given["packages-dir"]).iterdir())
        return True
    pytest.fail(f"a step uses {uses}, which this runner cannot stand in for")


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


CHANGELOG = """# Changelog

## Unreleased

## 1.2.3 - 2026-12-01

### Added
- Everything so far.

## 1.2.2 - 2026-11-01

- Earlier things.
"""


def prepared(tmp_path: Path, version: str, changelog: str = CHANGELOG) -> Path:
    """The project's files at `version`, with `changelog`, as the release commit would hold them."""
    tree = copy_of(ROOT, tmp_path / "source")
    (tree / "versive_client" / "_version.py").write_text(f'__version__ = "{version}"\n')
    (tree / "CHANGELOG.md").write_text(changelog)
    return tree


def test_a_tag_of_the_version_with_its_entry_publishes_the_files_it_built_and_tested(tmp_path: Path) -> None:
    """v1.2.3 at version 1.2.3 with its entry: built once; those two files tested, published, and attached."""
    run = run_workflow(prepared(tmp_path, "1.2.3"), "v1.2.3", tmp_path)
    assert run.failed is None, run.output
    files = ["versive_client-1.2.3-py3-none-any.whl", "versive_client-1.2.3.tar.gz"]
    assert run.tested == files
    assert run.published == files
    assert run.released[:2] == ["release", "create"]
    assert run.released[2] == "v1.2.3"
    assert sorted(Path(arg).name for arg in run.released if arg.startswith("dist/")) == files
    assert "--verify-tag" in run.released
    assert run.notes == "### Added\n- Everything so far.\n"
    assert "release 1.2.3: the tag, the version and the CHANGELOG agree" in run.output


def test_files_pass_between_jobs_only_as_the_artifact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner keeps jobs apart: a publish job that downloaded nothing, or another name, would fail here."""
    found = jobs()
    found["publish"]["steps"][0]["with"]["name"] = "dist-typo"
    monkeypatch.setattr(sys.modules[__name__], "jobs", lambda: found)
    run = run_workflow(prepared(tmp_path, "1.2.3"), "v1.2.3", tmp_path)
    assert run.failed == "publish: actions/download-artifact"
    assert "no artifact named 'dist-typo'" in run.output
    assert run.published == []


ENTRYLESS = CHANGELOG.replace("## 1.2.3 - 2026-12-01\n\n### Added\n- Everything so far.\n\n", "")


@pytest.mark.parametrize(
    ("version", "tag", "changelog", "reason"),
    [
        ("1.2.3", "v1.2.4", CHANGELOG, "the tag 'v1.2.4' is not v + the package's version ('1.2.3'"),
        ("1.2.3", "1.2.3", CHANGELOG, "the tag '1.2.3' is not v + the package's version"),
        ("1.2.3", "v1.2.3", ENTRYLESS, "CHANGELOG.md has no entry for 1.2.3"),
        ("1.2.3", "v1.2.3", CHANGELOG.replace(" - 2026-12-01", ""), "CHANGELOG.md has no entry for 1.2.3"),
        ("1.2.3", "v1.2.3", CHANGELOG.replace("2026-12-01", "2026-13-45"), "is dated '2026-13-45', not a YYYY-MM-DD"),
        ("1.2.3", "v1.2.3", CHANGELOG.replace("## 1.2.3", "## [1.2.3"), "CHANGELOG.md has no entry for 1.2.3"),
        (
            "1.2.3",
            "v1.2.3",
            "## 1.2.3 - 2026-12-01\n## Unreleased\n\n- Everything so far.\n",
            "the CHANGELOG.md entry for 1.2.3 is empty",
        ),
        (
            "1.2.3",
            "v1.2.3",
            "## Unreleased\n\n```\n## 1.2.3 - 2026-12-01\n```\n",
            "CHANGELOG.md has no entry for 1.2.3",
        ),
        ("1.2.3.dev0", "v1.2.3.dev0", CHANGELOG, "'1.2.3.dev0' is not a release version"),
        ("1.2.3rc1", "v1.2.3rc1", CHANGELOG, "'1.2.3rc1' is not a release version"),
    ],
    ids=[
        "another-version",
        "no-v",
        "no-entry",
        "entry-without-date",
        "impossible-date",
        "unbalanced-bracket",
        "empty-entry",
        "heading-in-a-code-fence",
        "dev-version",
        "release-candidate",
    ],
)
def test_a_release_that_does_not_agree_stops_before_anything_is_built(
    tmp_path: Path, version: str, tag: str, changelog: str, reason: str
) -> None:
    """The first check fails the build job: nothing is built, tested, published or released."""
    run = run_workflow(prepared(tmp_path, version, changelog), tag, tmp_path)
    assert run.failed == "build: The tag is the version, and the CHANGELOG has its entry"
    assert reason in run.output
    assert not (tmp_path / "jobs" / "build" / "dist").exists()
    assert (run.tested, run.published, run.released) == ([], [], [])


def test_dist_sh_never_empties_a_folder_of_other_files(tmp_path: Path) -> None:
    """OUT with anything but release files in it is refused, and left as it was."""
    out = tmp_path / "docs"
    out.mkdir()
    (out / "index.md").write_text("keep me")
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run([bash, "scripts/dist.sh", str(out)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "holds: index.md" in result.stderr
    assert (out / "index.md").read_text() == "keep me"


def test_the_sdist_regenerates_the_client_byte_for_byte_and_its_tests_run(tmp_path: Path) -> None:
    """The sdist (the one this run tests, else one built now) regenerates what it ships, and its tests run."""
    tested = os.environ.get("VERSIVE_TEST_SDIST")
    if tested is None:
        subprocess.run(
            [str(ROOT / ".uv" / "bin" / "uv"), "build", "--sdist", "--quiet", "--out-dir", str(tmp_path / "dist")],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    (sdist,) = [Path(tested)] if tested else list((tmp_path / "dist").glob("*.tar.gz"))
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (tree,) = (tmp_path / "unpacked").iterdir()
    env = {**os.environ, "PYTHONPATH": str(tree / "scripts")}  # the sdist's own scripts
    check = subprocess.run(
        [sys.executable, "scripts/regenerate.py", "--check"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_surface.py",
            "tests/test_docs.py",
            "tests/test_workflows.py",
            "tests/test_readme.py",
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]


def test_the_notes_are_the_versions_entry(tmp_path: Path) -> None:
    """Up to the next version's heading, without it, nor the link definitions that end the file; [1.2.3] too."""
    (tmp_path / "CHANGELOG.md").write_text(
        CHANGELOG.replace("## 1.2.3 - ", "## [1.2.3] - ") + "\n[1.2.3]: https://example.invalid/v1.2.3\n"
    )
    assert release.notes("1.2.3", tmp_path) == "### Added\n- Everything so far.\n"
    assert release.notes("1.2.2", tmp_path) == "- Earlier things.\n"
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


def _fake_release_files(dist: Path, *, wheel_version: str = "1.2.3", typed: bool = True, extra: str = "") -> None:
    """A wheel and an sdist of version 1.2.3, as small as check-dist looks at, with the faults asked for."""
    dist.mkdir(exist_ok=True)
    with zipfile.ZipFile(dist / "versive_client-1.2.3-py3-none-any.whl", "w") as wheel:
        wheel.writestr("versive_client/__init__.py", "")
        if typed:
            wheel.writestr("versive_client/py.typed", "")
        if extra:
            wheel.writestr(extra, "")
        wheel.writestr("versive_client-1.2.3.dist-info/METADATA", f"Metadata-Version: 2.4\nVersion: {wheel_version}\n")
    with tarfile.open(dist / "versive_client-1.2.3.tar.gz", "w:gz") as sdist:
        for name, text in (("PKG-INFO", "Version: 1.2.3\n"), ("openapi.yaml", ""), ("scripts/regenerate.py", "")):
            data = text.encode()
            info = tarfile.TarInfo(f"versive_client-1.2.3/{name}")
            info.size = len(data)
            sdist.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize(
    ("faults", "problems"),
    [
        ({}, ["the sdist lacks openapi.overlay.yaml", "the sdist lacks generator-config.yml", "the sdist lacks tests"]),
        ({"wheel_version": "1.2.4"}, ["the wheel's metadata is not version 1.2.3"]),
        ({"typed": False}, ["the wheel has no versive_client/py.typed"]),
        ({"extra": "tests/test_client.py"}, ["the wheel holds more than the package: tests"]),
    ],
    ids=["sdist-lacks-inputs", "wheel-version", "no-py-typed", "stray-files"],
)
def test_check_dist_reads_inside_the_files(tmp_path: Path, faults: dict[str, Any], problems: list[str]) -> None:
    """The files' own metadata and contents are checked, not only their names."""
    (tmp_path / "versive_client").mkdir()
    (tmp_path / "versive_client" / "_version.py").write_text('__version__ = "1.2.3"\n')
    _fake_release_files(tmp_path / "dist", **faults)
    with pytest.raises(release.ReleaseError) as info:
        release.check_dist(tmp_path / "dist", tmp_path)
    for problem in problems:
        assert problem in str(info.value)

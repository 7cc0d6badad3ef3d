"""The reference site: it builds with --strict, documents every public name, and shares the README's text."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import versive_client
import versive_client.bulk
import versive_client.otel
import versive_client.testing
import versive_client.webhooks
from versive_client._generated.operations import OPERATIONS, WAITERS

MKDOCS = Path(sys.executable).with_name("mkdocs")


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the project at `root` into `site` (never -q: it hides warnings from --strict)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built from this tree."""
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def ids(page: Path) -> set[str]:
    """The anchors mkdocstrings gave the documented objects of a page."""
    return set(re.findall(r'id="(versive_client[\w.]*)"', page.read_text()))


def test_the_reference_lists_every_resource_method(site: Path) -> None:
    """Every operation's method, and every waiter, is documented on the resources page."""
    documented = ids(site / "reference" / "resources" / "index.html")
    expected = {(op.resource, op.verb) for op in OPERATIONS} | {(w.operation.resource, w.name) for w in WAITERS}
    assert len(expected) == 21
    for resource, method in expected:
        cls = "".join(part.capitalize() for part in resource.split("_")) + "Resource"
        assert f"versive_client._generated.resources.{cls}.{method}" in documented, f"{resource}.{method}"


def test_the_client_page_shows_its_resources_and_methods(site: Path) -> None:
    """The client page lists the resources and every public method, inherited ones included."""
    documented = ids(site / "reference" / "client" / "index.html")
    for name in ("interviews", "studies", "folders", "questions", "question_logic", "create_interview", "webhooks"):
        assert f"versive_client.VersiveClient.{name}" in documented
    public = {name for name in dir(versive_client.VersiveClient) if not name.startswith("_")}
    missing = {name for name in public if f"versive_client.VersiveClient.{name}" not in documented}
    assert not missing


@pytest.mark.parametrize(
    "module",
    [versive_client, versive_client.bulk, versive_client.otel, versive_client.webhooks, versive_client.testing],
    ids=lambda module: module.__name__,
)
def test_every_public_name_is_documented(site: Path, module: object) -> None:
    """Each name of each public module's __all__ has an entry somewhere in the reference."""
    documented = set().union(*(ids(page) for page in (site / "reference").rglob("index.html")))
    short = {anchor.rsplit(".", 1)[-1] for anchor in documented}
    missing = [name for name in module.__all__ if name not in short and name != "__version__"]  # type: ignore[attr-defined]
    assert not missing


def test_the_guides_share_the_readmes_text() -> None:
    """The README's manual is written once: every section but the layout is included by a page, none copied."""
    readme = (ROOT / "README.md").read_text()
    sections = re.findall(r"<!-- --8<-- \[start:([\w-]+)\] -->", readme)
    assert len(sections) == len(set(sections)) >= 18
    pages = {page: page.read_text() for page in (ROOT / "docs").rglob("*.md")}
    included = {name for text in pages.values() for name in re.findall(r'--8<-- "README\.md:([\w-]+)"', text)}
    assert set(sections) - included == {"layout"}
    for page, text in pages.items():
        prose = [
            line for line in text.splitlines() if line and not line.startswith(("#", "--8<--", "- [", ":::", "    "))
        ]
        if page.parent.name == "guides":
            assert len(prose) <= 2, f"{page.name} holds text of its own: put it in the README and include it"


def test_a_broken_link_or_reference_fails_the_build(tmp_path: Path) -> None:
    """--strict is what keeps the site honest: a link to no page, or a name that does not exist, fails it."""
    for broken, message in [
        ("See [the missing page](nowhere.md).", "nowhere.md"),
        ("::: versive_client.NoSuchThing", "versive_client.NoSuchThing"),
    ]:
        copy = tmp_path / f"tree-{len(message)}"
        shutil.copytree(ROOT / "docs", copy / "docs")
        for name in ("mkdocs.yml", "README.md"):
            shutil.copy(ROOT / name, copy / name)
        shutil.copytree(ROOT / "versive_client", copy / "versive_client", ignore=shutil.ignore_patterns("__pycache__"))
        (copy / "scripts").mkdir()
        shutil.copy(ROOT / "scripts" / "griffe_markdown.py", copy / "scripts")
        page = copy / "docs" / "guides" / "command.md"
        page.write_text(page.read_text() + f"\n{broken}\n")
        result = build(copy, tmp_path / "site")
        assert result.returncode == 1
        assert message in result.stderr


def test_the_reference_reads_as_markdown(site: Path) -> None:
    """No reStructuredText shows through: no `::` paragraph, no `.. versionadded::`, no doubled backticks."""
    for page in (site / "reference").rglob("index.html"):
        text = page.read_text()
        assert "<p>::</p>" not in text, page
        assert ".. version" not in text, page
        assert "``" not in text, page
    assert "Added in version 0.6.0." in (site / "reference" / "webhooks" / "index.html").read_text()


def test_the_extension_rewrites_the_two_forms() -> None:
    """`text::` becomes `text:`, a lone `::` goes, and each version note becomes a sentence of its own."""
    import griffe_markdown  # noqa: PLC0415 - scripts/, on pytest's path

    docstring = (
        "Use it so::\n\n    call()\n\n::\n\n    more()\n\n.. versionadded:: 0.2.0\n.. versionchanged:: 0.3.0 `x`."
    )
    assert griffe_markdown.markdown(docstring) == (
        "Use it so:\n\n    call()\n\n\n    more()\n\n*Added in version 0.2.0.*\n\n*Changed in version 0.3.0:* `x`."
    )

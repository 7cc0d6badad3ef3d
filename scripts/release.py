"""The release's gates: what must hold before anything is published, checked the same way in CI and by hand.

    python scripts/release.py check-tag v1.2.3     # the tag is the version, the CHANGELOG has its entry
    python scripts/release.py check-dist dist      # one sdist and one wheel, of that version, as built
    python scripts/release.py notes 1.2.3          # the CHANGELOG entry of a version (the release's notes)

The version has one home, ``versive_client/_version.py`` (hatchling reads it for the
built files' metadata); everything here reads it from there, never from an import.
Each check exits 1 with one line naming every problem, before anything is published.
Standard library only: the release job runs it on the runner's own Python.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import email.parser
import re
import sys
import tarfile
import zipfile
from pathlib import Path

VERSION_FILE = Path("versive_client/_version.py")
CHANGELOG = Path("CHANGELOG.md")
# A release's version: major.minor.patch, nothing else (no .dev, rc or +local).
RELEASE_VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
# "## 1.2.3 - 2026-12-01", or "## [1.2.3] - 2026-12-01" (Keep a Changelog): a version and its date.
HEADING = re.compile(r"## (?:\[(?P<bracketed>[^\]\s]+)\]|(?P<plain>\S+)) - (?P<date>\S+)")
# A link reference definition ("[1.2.3]: https://..."), as Keep a Changelog ends the file with.
LINK_DEFINITION = re.compile(r"\[[^\]]+\]:\s+\S+")


class ReleaseError(Exception):
    """What stops the release; the message says what to fix."""


def version(root: Path = Path()) -> str:
    """The package's version, as ``_version.py`` assigns it."""
    tree = ast.parse((root / VERSION_FILE).read_text())
    for node in tree.body:
        if not isinstance(node, ast.Assign) or all(getattr(t, "id", None) != "__version__" for t in node.targets):
            continue
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value
    raise ReleaseError(f"{VERSION_FILE} assigns no __version__ string")


def check_tag(tag: str, root: Path = Path()) -> str:
    """The version `tag` releases, if it may be released: the tag is ``v`` + the version, a final one with an entry."""
    current = version(root)
    problems = []
    if tag != f"v{current}":
        problems.append(f"the tag {tag!r} is not v + the package's version ({current!r} in {VERSION_FILE})")
    if not RELEASE_VERSION.fullmatch(current):
        problems.append(f"{current!r} is not a release version: MAJOR.MINOR.PATCH, without .dev, rc or +local")
    try:
        if not notes(current, root).strip():
            problems.append(f"the {CHANGELOG} entry for {current} is empty: it becomes the release's notes")
    except ReleaseError as exc:
        problems.append(str(exc))
    if problems:
        raise ReleaseError("; ".join(problems))
    return current


def check_dist(directory: Path, root: Path = Path()) -> list[Path]:
    """The sdist and the wheel in `directory`, if they are exactly this version's two files, whole and consistent."""
    current = version(root)
    expected = {f"versive_client-{current}.tar.gz", f"versive_client-{current}-py3-none-any.whl"}
    found = {path.name for path in directory.iterdir()} if directory.is_dir() else set()
    if found != expected:
        listed = ", ".join(sorted(found)) or "nothing"
        raise ReleaseError(f"{directory} must hold exactly {', '.join(sorted(expected))}; it holds {listed}")
    wheel = directory / f"versive_client-{current}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"versive_client-{current}.dist-info/METADATA").decode()
    sdist = directory / f"versive_client-{current}.tar.gz"
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
        sdist_metadata = archive.extractfile(f"versive_client-{current}/PKG-INFO")
        assert sdist_metadata is not None  # noqa: S101 - a regular file
        pkg_info = sdist_metadata.read().decode()
    problems = []
    for name, text in (("the wheel", metadata), ("the sdist", pkg_info)):
        if email.parser.Parser().parsestr(text)["Version"] != current:
            problems.append(f"{name}'s metadata is not version {current}")
    if "versive_client/py.typed" not in names:
        problems.append("the wheel has no versive_client/py.typed")
    strays = sorted({name.split("/")[0] for name in names} - {"versive_client", f"versive_client-{current}.dist-info"})
    if strays:
        problems.append(f"the wheel holds more than the package: {', '.join(strays)}")
    prefix = f"versive_client-{current}/"
    inputs = ("openapi.yaml", "openapi.overlay.yaml", "generator-config.yml", "scripts/regenerate.py")
    for needed in (*inputs, "tests", ".github/workflows", "uv.lock"):
        if not any(member == prefix + needed or member.startswith(f"{prefix}{needed}/") for member in members):
            problems.append(f"the sdist lacks {needed} (it must be able to regenerate and test)")
    if problems:
        raise ReleaseError("; ".join(problems))
    return [sdist, wheel]


def notes(release: str, root: Path = Path()) -> str:
    """The CHANGELOG entry of `release`: the text under its dated heading, up to the next ``## `` heading.

    Headings inside code fences are text; link reference definitions at the end are not notes.
    """
    entries: dict[str, tuple[str, list[str]]] = {}
    body: list[str] | None = None
    fenced = False
    for line in (root / CHANGELOG).read_text().splitlines():
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            heading = HEADING.fullmatch(line.rstrip())
            body = None
            if heading:
                body = []
                entries.setdefault(heading["bracketed"] or heading["plain"], (heading["date"], body))
            continue
        if body is not None:
            body.append(line)
    if release not in entries:
        raise ReleaseError(f"{CHANGELOG} has no entry for {release}: a heading '## {release} - YYYY-MM-DD'")
    date, lines = entries[release]
    if not _is_day(date):
        raise ReleaseError(f"the {CHANGELOG} entry for {release} is dated {date!r}, not a YYYY-MM-DD day")
    while lines and (not lines[-1].strip() or LINK_DEFINITION.fullmatch(lines[-1].strip())):
        lines.pop()
    return "\n".join(lines).strip() + "\n"


def _is_day(text: str) -> bool:
    """Whether `text` is a day written YYYY-MM-DD (a real one: not 2026-13-45)."""
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)) and bool(dt.date.fromisoformat(text))
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Run one check; 0 when it holds, 1 with the problems on stderr."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check-tag").add_argument("tag")
    commands.add_parser("check-dist").add_argument("directory", type=Path)
    commands.add_parser("notes").add_argument("version")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "check-tag":
            print(f"release {check_tag(arguments.tag)}: the tag, the version and the CHANGELOG agree")
        elif arguments.command == "check-dist":
            built = check_dist(arguments.directory)
            print(f"release files: {', '.join(path.name for path in built)}")
        else:
            sys.stdout.write(notes(arguments.version))
    except ReleaseError as exc:
        print(f"release stopped: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Follow the upstream spec: fetch its pages, merge them, and report what changed for SDK users.

    python scripts/update_spec.py [SOURCE ...] [--index INDEX ...] [--sources-file FILE]
                                  [--json] [--check] [--changelog CHANGELOG.md]

A SOURCE is a path or an http(s) URL holding an OpenAPI document (YAML or JSON) or a
documentation page with the document in a fenced code block (Versive publishes one page
per endpoint, each with a partial document in a ``yaml`` fence). A source is parsed before
it is judged: comments and any key order are fine, and a file or fenced block is the
document when it parses to a mapping with an ``openapi`` key. An INDEX is a documentation
index in the llms.txt form (a Markdown list of ``- [Title](url): description`` lines):
every page it links on its own site is fetched, and those that carry an OpenAPI document
are the API pages followed; the others are skipped. A sources file lists sources one per
line, an index as ``index URL``. The API pages followed are recorded in
``.github/spec-pages.txt`` beside the spec, so that the report can name pages new in the
index and pages gone.

The documents are merged (paths and components united; one component defined two ways is
an error naming both pages), validated, and written to openapi.yaml only if they validate
and differ from it (a single page is written verbatim). The report compares the SDK's view
of the old and new spec (operationIds normalised, the overlay applied) by the rules of
``spec_diff.RULES``, and lists overlay corrections that no longer apply.

Exit status: 0 no change; 10 non-breaking change; 20 breaking change; 30 a page or index
could not be fetched or parsed (nothing written; the report says which and why); 1 any
other error (nothing written); 2 bad usage.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import httpx
import regenerate
import spec_diff
import yaml
from attrs import asdict, evolve, field, frozen
from jsonpath_ng.ext.parser import parse as parse_jsonpath

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

EXIT_NO_CHANGE = 0
EXIT_ERROR = 1
EXIT_NON_BREAKING = 10
EXIT_BREAKING = 20
EXIT_FETCH_FAILED = 30
# A fenced code block: its fence, its info string (any), its text.
# A fenced block as CommonMark has it: up to three spaces before the fence (inside a list item, say).
FENCED_BLOCK = re.compile(r"^ {0,3}(`{3,}|~{3,})([^\n]*)\n(.*?)^ {0,3}\1[ \t]*$", re.MULTILINE | re.DOTALL)
# The info strings of blocks that say they hold YAML or JSON (or say nothing): one of these that does not parse
# but has an `openapi` key line is a broken document, not an example. A shell script writing a spec is an example.
DATA_FENCES = frozenset({"", "yaml", "yml", "json"})
# A line giving an `openapi` key: top-level YAML (quoted or not), or JSON at any indent or just after its brace.
OPENAPI_KEY = re.compile(r"""^["']?openapi["']?[ \t]*:|^\s*"openapi"[ \t]*:|\{\s*"openapi"\s*:""", re.MULTILINE)
# A list item's link destination: <in angle brackets>, or bare up to the closing parenthesis with any spaces
# kept (Versive's site keeps Question Logic's pages in `question logic/`, and an index may write the space as is),
# then an optional "title".
INDEX_LINK = re.compile(r'^\s*[-*+]\s+\[[^\]]*\]\(\s*(?:<([^>\n]+)>|([^)\n]+?))(?:\s+"[^"\n]*")?\s*\)', re.MULTILINE)
HTTP_TIMEOUT = 30.0
ANOTHER_SITE = " (another site)"  # how a skipped link to another site is noted
PAGES_RECORD = Path(".github") / "spec-pages.txt"


class UpdateError(Exception):
    """The sources cannot be merged, or the result used; nothing is written."""


class NotAnApiPage(Exception):  # noqa: N818 - a verdict on a page, not a failure
    """A page that holds no OpenAPI document: skipped when reached through an index."""


@frozen
class Source:
    """One source: where it came from, its OpenAPI text, and the parsed document."""

    name: str
    text: str
    document: dict[str, Any]


@frozen
class Failure:
    """A page or index that could not be fetched or parsed, and why."""

    url: str
    reason: str


@frozen
class Pages:
    """The pages read: the API pages followed, and what the index held besides."""

    sources: list[Source] = field(factory=list)
    failed: list[Failure] = field(factory=list)
    skipped: list[str] = field(factory=list)


# -- reading ----------------------------------------------------------------------


class Reader:
    """Reads sources and indexes over one HTTP client, collecting what fails instead of stopping at it."""

    def __init__(self, http: httpx.Client) -> None:
        """Read with `http`."""
        self.http = http
        self.pages = Pages()

    def text(self, location: str) -> str:
        """The text at a URL or path; an UpdateError says why it cannot be had."""
        if not _is_url(location):
            try:
                return Path(location).read_text(encoding="utf-8")
            except OSError as exc:
                raise UpdateError(f"cannot read: {exc.strerror}") from None
        try:
            response = self.http.get(location)
        except httpx.HTTPError as exc:
            raise UpdateError(f"cannot fetch: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:  # noqa: PLR2004 - HTTP's error range
            raise UpdateError(f"cannot fetch: HTTP {response.status_code}")
        return response.text

    def source(self, location: str) -> None:
        """Read one source given by name: an unreadable file is an error; a failed fetch is reported."""
        try:
            self.pages.sources.append(parse_source(location, self.text(location)))
        except UpdateError as exc:
            if not _is_url(location):
                raise UpdateError(f"{location}: {exc}") from None
            self.pages.failed.append(Failure(location, str(exc)))
        except NotAnApiPage as exc:
            raise UpdateError(f"{location}: {exc}") from None

    def index(self, location: str) -> None:
        """Follow an index: fetch each page it links on its own site, and keep those with an OpenAPI document."""
        try:
            text = self.text(location)
        except UpdateError as exc:
            self.pages.failed.append(Failure(location, str(exc)))
            return
        followed = {s.name for s in self.pages.sources}
        for page in index_links(location, text):
            if page in followed:
                continue
            followed.add(page)
            if not _same_site(page, location):
                self.pages.skipped.append(page + ANOTHER_SITE)
                continue
            try:
                self.pages.sources.append(parse_source(page, self.text(page)))
            except UpdateError as exc:
                self.pages.failed.append(Failure(page, str(exc)))
            except NotAnApiPage:
                self.pages.skipped.append(page)


def read_pages(sources: Sequence[str], indexes: Sequence[str]) -> Pages:
    """Read every source and follow every index."""
    headers = {"Accept": "text/markdown, text/plain;q=0.9, */*;q=0.8"}
    with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=True, headers=headers) as http:
        reader = Reader(http)
        for location in sources:
            reader.source(location)
        for index in indexes:
            reader.index(index)
    return reader.pages


def parse_source(name: str, raw: str) -> Source:
    """The OpenAPI document of a page or file; NotAnApiPage when it holds none, UpdateError when it is broken.

    The whole text is the document when it parses (YAML or JSON) to a mapping with an `openapi` key. Otherwise
    each fenced block of the page, in order, until one decides: a block that parses to such a mapping is the
    document; a YAML, JSON or unlabelled block that does not parse but has an `openapi` key line is a broken
    document. A text with no fences that does not parse but has such a line is a broken document too.
    """
    document, error = _parse(raw)
    if _is_openapi(document):
        return Source(name, raw, document)
    blocks = list(FENCED_BLOCK.finditer(raw.replace("\r\n", "\n")))  # a page served with CRLF line ends too
    if error is not None and not blocks and OPENAPI_KEY.search(raw):
        raise UpdateError(f"not YAML or JSON: {error}")
    for block in blocks:
        label, text = (block.group(2).split() or [""])[0].lower(), textwrap.dedent(block.group(3))
        document, error = _parse(text)
        if _is_openapi(document):
            return Source(name, text, document)
        if error is not None and label in DATA_FENCES and OPENAPI_KEY.search(text):
            raise UpdateError(f"not YAML or JSON: {error}")
    raise NotAnApiPage("holds no OpenAPI document (nothing in it parses to a mapping with an `openapi` key)")


def _parse(text: str) -> tuple[Any, str | None]:
    """(what `text` holds, None), or (None, why it is neither YAML nor JSON)."""
    try:
        # YAML first, as the vendored spec is read, so that a document and its copy read the same.
        return yaml.safe_load(text), None
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
    try:
        return json.loads(text), None  # JSON that YAML refuses, such as JSON indented with tabs
    except ValueError as exc:
        return None, (str(exc) if text.lstrip().startswith("{") else reason)


def _is_openapi(document: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(document, dict) and "openapi" in document


def index_links(index: str, text: str) -> list[str]:
    """The pages an llms.txt-style index links, as absolute URLs (or paths beside a local index), in order."""
    links = []
    for angled, bare in INDEX_LINK.findall(text):
        target = angled or bare
        if _is_url(index):
            link = str(httpx.URL(index).join(target))
        elif _is_url(target):
            link = target
        else:
            link = str(Path(index).parent / target)
        if link not in links:
            links.append(link)
    return links


def _is_url(location: str) -> bool:
    return re.match(r"^https?://", location) is not None


def _same_site(page: str, index: str) -> bool:
    if not _is_url(index):
        return not _is_url(page)
    return _is_url(page) and httpx.URL(page).netloc == httpx.URL(index).netloc


def read_sources_file(path: Path) -> tuple[list[str], list[str]]:
    """(sources, indexes) listed in a sources file: one per line, `index LOCATION` for an index, # comments."""
    sources, indexes = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UpdateError(f"{path}: cannot read: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "index" and len(words) == 2:  # noqa: PLR2004 - `index LOCATION`
            indexes.append(words[1])
        elif len(words) == 1 and words[0] != "index":
            sources.append(words[0])
        else:
            raise UpdateError(f"{path}:{number}: expected a location or `index LOCATION`, got {line.strip()!r}")
    return sources, indexes


def read_record(path: Path) -> list[str] | None:
    """The API pages followed last time, or None when no record was kept."""
    if not path.exists():
        return None
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def write_record(path: Path, pages: Sequence[str]) -> None:
    """Record the API pages followed (read by the next run to name pages new and gone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# The API pages openapi.yaml was merged from; written by scripts/update_spec.py.\n"
    path.write_text(header + "".join(f"{page}\n" for page in pages), encoding="utf-8")


# -- merging ----------------------------------------------------------------------


def merge(sources: Sequence[Source]) -> dict[str, Any]:
    """Unite the sources' paths and components; the same thing defined two ways is an error."""
    merged = copy.deepcopy(sources[0].document)
    origin: dict[tuple[str, ...], str] = {}
    _record(merged, sources[0].name, origin)
    for source in sources[1:]:
        if source.document.get("openapi") != merged.get("openapi"):
            raise UpdateError(
                f"{source.name} is OpenAPI {source.document.get('openapi')} "
                f"but {sources[0].name} is {merged.get('openapi')}"
            )
        for path, item in (source.document.get("paths") or {}).items():
            target = merged.setdefault("paths", {}).setdefault(path, {})
            for key, value in item.items():
                _unite(target, key, value, ("paths", path, key), source.name, origin)
        for section, entries in (source.document.get("components") or {}).items():
            target = merged.setdefault("components", {}).setdefault(section, {})
            for name, value in entries.items():
                _unite(target, name, value, ("components", section, name), source.name, origin)
    return merged


def _record(document: Mapping[str, Any], name: str, origin: dict[tuple[str, ...], str]) -> None:
    for path, item in (document.get("paths") or {}).items():
        for key in item:
            origin["paths", path, key] = name
    for section, entries in (document.get("components") or {}).items():
        for entry in entries:
            origin["components", section, entry] = name


def _unite(  # noqa: PLR0917 - one call site, read as a sentence
    target: dict[str, Any],
    key: str,
    value: Any,
    where: tuple[str, ...],
    name: str,
    origin: dict[tuple[str, ...], str],
) -> None:
    if key in target and target[key] != value:
        raise UpdateError(
            f"{'.'.join(where)} is defined differently in {origin.get(where, 'an earlier source')} and in {name}"
        )
    target[key] = copy.deepcopy(value)
    origin.setdefault(where, name)


# -- the SDK's view -------------------------------------------------------------


def sdk_view(document: dict[str, Any], overlay: Any) -> dict[str, Any]:
    """The document as the SDK is generated from it; overlay actions that no longer match are skipped."""
    normalised = regenerate.normalise_operation_ids(document)
    for action in overlay.get("actions", []):
        single = {**overlay, "actions": [action]}
        try:
            normalised = regenerate.apply_overlay(normalised, single, "overlay")
        except regenerate.RegenerationError:
            continue
    return normalised


def stale_corrections(old: dict[str, Any], new: dict[str, Any], overlay: Any, source: str) -> list[str]:
    """Overlay actions whose target vanished, or whose additions upstream now provides itself."""
    notes = []
    old_view, new_view = regenerate.normalise_operation_ids(old), regenerate.normalise_operation_ids(new)
    for index, action in enumerate(overlay.get("actions", []), start=1):
        label = f"{source} action {index} ({action.get('description', action['target']).strip()!r})"
        expression = parse_jsonpath(action["target"])
        new_matches = expression.find(new_view)
        if not new_matches:
            notes.append(f"{label}: its target {action['target']} matches nothing upstream now; retire or update it")
            continue
        update = action.get("update")
        if not isinstance(update, dict):
            continue
        old_values = [match.value for match in expression.find(old_view)]
        for key in update:
            provided_now = any(isinstance(m.value, dict) and m.value.get(key) not in (None, {}) for m in new_matches)
            provided_before = any(isinstance(v, dict) and v.get(key) not in (None, {}) for v in old_values)
            if provided_now and not provided_before:
                notes.append(f"{label}: upstream now provides {key!r} itself; review whether the correction is needed")
    return notes


# -- the report -------------------------------------------------------------------


@frozen
class Report:
    """What a run found: the changes for SDK users, the pages, and what could not be read."""

    changes: list[spec_diff.Change] = field(factory=list)
    stale: list[str] = field(factory=list)
    followed: list[str] = field(factory=list)
    new_pages: list[str] = field(factory=list)
    gone_pages: list[str] = field(factory=list)
    skipped: list[str] = field(factory=list)
    failed: list[Failure] = field(factory=list)
    conflict: str | None = None
    written: bool = False

    @property
    def status(self) -> int:
        """The exit status this report calls for."""
        if self.failed:
            return EXIT_FETCH_FAILED
        if any(c.breaking for c in self.changes):
            return EXIT_BREAKING
        return EXIT_NON_BREAKING if self.changes or self.new_pages or self.gone_pages else EXIT_NO_CHANGE

    def as_json(self) -> dict[str, Any]:
        """The report for machines: the same content as the Markdown."""
        return {
            "changed": bool(self.changes),
            "breaking": any(c.breaking for c in self.changes),
            "fetch_failed": bool(self.failed),
            "changes": [asdict(c) for c in self.changes],
            "pages": {
                "followed": self.followed,
                "new": self.new_pages,
                "gone": self.gone_pages,
                "skipped": self.skipped,
                "failed": [asdict(f) for f in self.failed],
            },
            "conflict": self.conflict,
            "stale_corrections": self.stale,
            "written": self.written,
        }


def render(report: Report) -> str:
    """The report as Markdown, readable in a terminal, as a pull request body and as an issue."""
    changes = report.changes
    breaking = [c for c in changes if c.breaking]
    if report.failed:
        head = (
            f"**The upstream spec could not be followed**: {len(report.failed)} page(s) could not be fetched or "
            "parsed, so nothing was compared or written."
        )
    elif not changes:
        head = "No change for SDK users."
    elif breaking:
        head = f"**Breaking**: {len(breaking)} of {len(changes)} change(s) break code written against the current SDK."
    else:
        head = f"{len(changes)} non-breaking change(s) for SDK users."
    lines = ["## Spec changes", "", head, ""]
    if changes:
        lines += ["| | rule | where | change | why |", "| --- | --- | --- | --- | --- |"]
        for c in changes:
            verdict = "**breaking**" if c.breaking else "ok"
            lines.append(f"| {verdict} | `{c.rule}` | {c.where}<br>`{c.path}` | {c.detail} | {c.why} |")
        lines.append("")
    pages = [
        *(f"- could not be read: {f.url}: {f.reason}" for f in report.failed),
        *([f"- pages define the same thing differently: {report.conflict}"] if report.conflict else []),
        *(f"- new in the index: {page}" for page in report.new_pages),
        *(f"- gone from the index: {page}" for page in report.gone_pages),
    ]
    elsewhere = sum(page.endswith(ANOTHER_SITE) for page in report.skipped)
    if len(report.skipped) > elsewhere:
        pages.append(f"- {len(report.skipped) - elsewhere} linked page(s) hold no OpenAPI document and were skipped")
    if elsewhere:
        pages.append(f"- {elsewhere} link(s) to another site were not followed")
    if pages:
        lines += ["### Pages", "", *pages, ""]
    if report.stale:
        lines += ["### Corrections to review", "", *[f"- {note}" for note in report.stale], ""]
    lines.append("openapi.yaml was updated." if report.written else "openapi.yaml was left as it was.")
    return "\n".join(lines) + "\n"


def changelog_entry(changes: Sequence[spec_diff.Change]) -> str:
    """A CHANGELOG section proposing the version bump the changes call for."""
    bump = "major" if any(c.breaking for c in changes) else "minor"
    items = "\n".join(
        f"- {c.rule}: {c.where}, `{c.path}` ({c.detail}){' **breaking**' if c.breaking else ''}" for c in changes
    )
    return f"### Spec update (proposed version bump: {bump})\n\n{items}\n"


def add_to_changelog(path: Path, entry: str) -> None:
    """Insert `entry` at the top of the Unreleased section."""
    text = path.read_text(encoding="utf-8")
    marker = "## Unreleased\n"
    if marker not in text:
        raise UpdateError(f"{path}: no '## Unreleased' section to add the entry to")
    path.write_text(text.replace(marker, f"{marker}\n{entry}", 1), encoding="utf-8")


def update(
    sources: Sequence[str],
    indexes: Sequence[str] = (),
    *,
    spec: Path,
    overlay_path: Path,
    write: bool,
    changelog: Path | None,
) -> Report:
    """Read, merge, validate, compare and (when `write`) write; a failed fetch writes nothing."""
    record = spec.parent / PAGES_RECORD
    pages = read_pages(sources, indexes)
    previous = read_record(record)
    found = _pages_report(pages, previous)
    if pages.failed:
        return evolve(found, failed=pages.failed, conflict=_conflict(pages.sources))
    if not pages.sources:
        raise UpdateError("the sources hold no API page")
    merged = merge(pages.sources)
    try:
        regenerate.validate_openapi(merged, " + ".join(found.followed))
    except regenerate.RegenerationError as exc:
        raise UpdateError(str(exc)) from None
    old_text = spec.read_text(encoding="utf-8") if spec.exists() else ""
    old = yaml.safe_load(old_text) if old_text else {"openapi": merged.get("openapi"), "paths": {}}
    overlay, _ = regenerate.load_yaml(overlay_path)
    changes = spec_diff.compare(sdk_view(old, overlay), sdk_view(merged, overlay))
    stale = stale_corrections(old, merged, overlay, overlay_path.name)
    new_text = (
        pages.sources[0].text
        if len(pages.sources) == 1
        else yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)
    )
    written = False
    if write:
        if merged != old:
            spec.write_text(new_text, encoding="utf-8")
            written = True
            if changelog is not None and changes:
                add_to_changelog(changelog, changelog_entry(changes))
        if found.followed != previous:
            write_record(record, found.followed)
    return evolve(found, changes=changes, stale=stale, written=written)


def _pages_report(pages: Pages, previous: list[str] | None) -> Report:
    """The pages part of the report: those followed, new and gone since the record, and skipped."""
    followed = [s.name for s in pages.sources]
    failed = {f.url for f in pages.failed}
    known = previous if previous is not None else followed
    return Report(
        followed=followed,
        new_pages=[page for page in followed if page not in known],
        gone_pages=[page for page in known if page not in followed and page not in failed],
        skipped=pages.skipped,
    )


def _conflict(sources: Sequence[Source]) -> str | None:
    """Whether the pages that could be read define something two ways (reported beside a failed fetch)."""
    try:
        if sources:
            merge(sources)
    except UpdateError as exc:
        return str(exc)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; see the module docstring for the exit statuses."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog="Exit status: 0 no change; 10 non-breaking change; 20 breaking change; "
        "30 a page or index could not be fetched or parsed; 1 error; 2 bad usage.",
    )
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="path or http(s) URL of a spec or spec page")
    parser.add_argument("--index", action="append", default=[], help="path or URL of a documentation index (llms.txt)")
    parser.add_argument("--sources-file", type=Path, help="a file listing sources, `index URL` for an index")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--check", action="store_true", help="report only; never write openapi.yaml")
    parser.add_argument("--spec", type=Path, default=regenerate.SPEC, help="the vendored spec (default: openapi.yaml)")
    parser.add_argument("--overlay", type=Path, default=regenerate.OVERLAY, help="the corrections")
    parser.add_argument("--changelog", type=Path, help="add a proposed entry to this CHANGELOG when the spec changes")
    args = parser.parse_args(argv)
    try:
        sources, indexes = list(args.sources), list(args.index)
        if args.sources_file is not None:
            listed, listed_indexes = read_sources_file(args.sources_file)
            sources, indexes = sources + listed, indexes + listed_indexes
        if not sources and not indexes:
            parser.error("give at least one SOURCE, --index or --sources-file")
        report = update(
            sources, indexes, spec=args.spec, overlay_path=args.overlay, write=not args.check, changelog=args.changelog
        )
    except (UpdateError, regenerate.RegenerationError) as exc:
        print(f"update_spec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(render(report), end="")
    return report.status


if __name__ == "__main__":
    sys.exit(main())

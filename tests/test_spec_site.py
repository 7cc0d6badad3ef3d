"""scripts/update_spec.py against a loopback copy of Versive's docs site, built from the vendored document."""

from __future__ import annotations

import contextlib
import copy
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, unquote

import pytest
import update_spec
import yaml
from conftest import OVERLAY, ROOT, SPEC

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

NO_CHANGE, ERROR, NON_BREAKING = 0, 1, 10
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOCUMENT: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
DOCUMENT_PATH = "/api/v1/openapi.json"
# A real page of the site (its Markdown variant, as served): what the built pages are checked against.
SEED = ROOT / "tests" / "site" / "create-interview-api-v1-interviews-post.md"
REAL_SITES = ("https://api.getversive.com", "https://docs.getversive.com")
FENCE = re.compile(r"^````yaml (\S+) (\S+)\n(.*?)^````$", re.MULTILINE | re.DOTALL)

GUIDES = {
    "/quickstart.md": (
        "Quickstart",
        "Create your first interview and send its link to a participant",
        (
            "Create an interview:\n\n```bash\ncurl -X POST https://api.getversive.com/api/v1/interviews \\\n"
            '  -H "Authorization: Bearer $VERSIVE_API_KEY" -d \'{"study_id": "study_123"}\'\n```\n\n'
            "The examples read their settings from a file:\n\n```yaml\napi_key: sk_placeholder\nstudy: study_123\n```\n"
        ),
    ),
    "/guides/webhooks.md": (
        "Webhooks",
        "Learn when a participant is done: the interview.completed event",
        (
            "Versive sends one event when the transcript is ready:\n\n```json\n"
            '{"event_type": "interview.completed", "interview": {"id": "3fa85f64", "status": "closed"}}\n```\n'
        ),
    ),
}


# -- building the site from the document ----------------------------------------------


def refs(node: Any) -> Iterator[str]:
    """Every `$ref` string under `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def reached_schemas(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    """The component schemas an operation reaches through `$ref`s, transitively, in the document's order."""
    schemas = document["components"]["schemas"]
    seen: set[str] = set()
    todo = list(refs(operation))
    while todo:
        name = todo.pop().removeprefix("#/components/schemas/")
        if name not in seen:
            seen.add(name)
            todo.extend(refs(schemas[name]))
    return [name for name in schemas if name in seen]


def operation_slice(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """One operation's slice of the document, as the site renders it (the seed page's shape)."""
    operation = document["paths"][path][method]
    schemas = document["components"]["schemas"]
    return copy.deepcopy(
        {
            "openapi": document["openapi"],
            "info": document["info"],
            "servers": document["servers"],
            "security": [],
            "paths": {path: {method: operation}},
            "components": {
                "schemas": {name: schemas[name] for name in reached_schemas(document, operation)},
                "securitySchemes": document["components"]["securitySchemes"],
            },
        }
    )


def page_address(operation: dict[str, Any]) -> str:
    """Where Versive's site puts an operation's page: its first tag, lowercased, as the folder, and its operationId.

    The folder keeps a space (`question logic`), and each `_` of the operationId is a `-` in the name
    (`get-interview-by-id-api-v1-interviews--id--get`), as in the site's navigation.
    """
    return f"/api-reference/{operation['tags'][0].lower()}/{operation['operationId'].replace('_', '-')}.md"


def describe(operation: dict[str, Any]) -> str:
    """The one-line description the index and the page give an operation."""
    return str(operation.get("description") or f"{operation['summary']}.").split("\n", 1)[0]


def markdown(base: str, title: str, description: str, body: str) -> str:
    """A page's Markdown variant, opening with the note about the index that the seed page opens with."""
    return (
        "> ## Documentation Index\n"
        f"> Fetch the complete documentation index at: {base}/llms.txt\n"
        "> Use this file to discover all available pages before exploring further.\n\n"
        f"# {title}\n\n{description}\n\n\n{body}"
    )


def quoted(url: str) -> str:
    """A URL as a well-formed llms.txt writes it: a space in the path as %20."""
    return quote(url, safe=":/")


class Site:
    """Versive's docs site, built from a document: llms.txt, a page per operation, two guides, the document itself."""

    def __init__(self, base: str, document: dict[str, Any], *, elsewhere: str, link: Callable[[str], str]) -> None:
        """Build every file; the index links another site (`elsewhere`) too, and writes each URL through `link`."""
        self.base = base
        self.files = {DOCUMENT_PATH: json.dumps(document, indent=2, ensure_ascii=False)}
        self.addresses: dict[str, str] = {}  # operationId -> the address of its page
        self.requests: list[str] = []
        entries = []
        for address, (title, what, body) in GUIDES.items():
            self.files[address] = markdown(base, title, what, body)
            entries.append(f"- [{title}]({link(base + address)}): {what}")
        for path, item in document["paths"].items():
            for method in (m for m in item if m in METHODS):
                operation = item[method]
                self.render(path, method, operation_slice(document, path, method))
                page = link(base + self.addresses[operation["operationId"]])
                entries.append(f"- [{operation['summary']}]({page}): {describe(operation)}")
        entries.append(f"- [Status]({elsewhere}/index.md): Is the API up?")
        self.files["/llms.txt"] = "# Versive\n\n## Docs\n\n" + "\n".join(entries) + "\n"

    def render(self, path: str, method: str, piece: dict[str, Any]) -> None:
        """(Re)write the page of the operation `piece` holds: title, description, its slice in a yaml fence."""
        operation = piece["paths"][path][method]
        address = page_address(operation)
        self.addresses[operation["operationId"]] = address
        dumped = yaml.safe_dump(piece, sort_keys=False, allow_unicode=True, width=1000)
        body = f"## OpenAPI\n\n````yaml {method.upper()} {path}\n{dumped}````\n"
        self.files[address] = markdown(self.base, operation["summary"], describe(operation), body)

    def edit(self, operation_id: str, change: Callable[[dict[str, Any]], None]) -> str:
        """Change the slice on one operation's page; the page's URL."""
        ((method, path, text),) = FENCE.findall(self.files[self.addresses[operation_id]])
        piece = yaml.safe_load(text)
        change(piece)
        self.render(path, method.lower(), piece)
        return self.url(operation_id)

    def url(self, operation_id: str) -> str:
        """The URL of an operation's page, as update_spec.py names it."""
        return quoted(self.base + self.addresses[operation_id])

    @property
    def api_pages(self) -> list[str]:
        """The URLs of the operations' pages, in the index's order."""
        return [self.url(operation_id) for operation_id in self.addresses]

    @property
    def guides(self) -> list[str]:
        """The URLs of the guides."""
        return [self.base + address for address in GUIDES]


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves a Site's files (Markdown and llms.txt as text, the document as JSON) and records each request."""

    site: ClassVar[Site]

    def do_GET(self) -> None:
        """Answer from the site's files; 404 for anything else."""
        self.site.requests.append(self.path)
        text = self.site.files.get(unquote(self.path))
        if text is None:
            self.send_error(404)
            return
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if self.path.endswith(".json") else "text/markdown")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        """Quiet."""


@contextlib.contextmanager
def serving() -> Iterator[tuple[type[Handler], str]]:
    """A fresh Handler class served on an ephemeral loopback port: the class (to give it a site) and the base URL."""
    handler = type("SiteHandler", (Handler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def other_site() -> Iterator[Site]:
    """Another site the index links (a status page): it has an API page at odds with Versive's; never to be asked."""
    with serving() as (handler, base):
        altered = copy.deepcopy(DOCUMENT)
        altered["components"]["schemas"]["ValidationError"]["title"] = "Not Versive's"
        handler.site = Site(base, altered, elsewhere=base, link=quoted)
        handler.site.files["/index.md"] = handler.site.files[next(iter(handler.site.addresses.values()))]
        yield handler.site


@contextlib.contextmanager
def versive_site(other_site: Site, link: Callable[[str], str] = quoted) -> Iterator[Site]:
    """Versive's docs site, rebuilt from the vendored document and served on loopback while the context lasts."""
    with serving() as (handler, base):
        handler.site = Site(base, DOCUMENT, elsewhere=other_site.base, link=link)
        handler.site.files[DOCUMENT_PATH] = SPEC.read_text(encoding="utf-8")  # the document, byte for byte
        yield handler.site


@pytest.fixture
def site(other_site: Site) -> Iterator[Site]:
    """Versive's docs site, built from the vendored document, on loopback."""
    with versive_site(other_site) as built:
        yield built


def on_loopback(text: str, site: Site) -> str:
    """`text` with Versive's real addresses (the API's and the docs') moved to the loopback site."""
    for real in REAL_SITES:
        text = text.replace(real, site.base)
    return text


@pytest.fixture
def project(tmp_path: Path, site: Site) -> Path:
    """A copy of the project's spec, pages record and sources file, with their addresses moved to the loopback site."""
    shutil.copyfile(SPEC, tmp_path / "openapi.yaml")
    (tmp_path / ".github").mkdir()
    for name in ("spec-pages.txt", "spec-sources.txt"):
        text = (ROOT / ".github" / name).read_text(encoding="utf-8")
        (tmp_path / ".github" / name).write_text(on_loopback(text, site), encoding="utf-8")
    return tmp_path


def run(project: Path, *arguments: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """update_spec's main() on the project copy, with --json: the exit status and the report."""
    spec = ("--spec", str(project / "openapi.yaml"), "--overlay", str(OVERLAY))
    status = update_spec.main([*arguments, "--json", *spec])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status, report


def run_as_the_workflow_does(project: Path) -> subprocess.CompletedProcess[str]:
    """update_spec.py as spec-update.yml runs it (the project's sources file, Markdown report), in a subprocess."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_spec.py"), "--sources-file", ".github/spec-sources.txt",
         "--spec", "openapi.yaml", "--overlay", str(OVERLAY)],
        capture_output=True, text=True, check=False, cwd=project,
    )  # fmt: skip


def operations(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(path, method) -> operationId of every operation."""
    return {
        (path, method): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def snapshot(project: Path) -> dict[str, bytes]:
    """The bytes of every file in the project copy."""
    return {str(p.relative_to(project)): p.read_bytes() for p in sorted(project.rglob("*")) if p.is_file()}


# -- the site --------------------------------------------------------------------------


def test_the_built_site_is_shaped_like_versives(site: Site) -> None:
    """The built Create Interview page holds the seed page's slice, at the seed's address, and the index lists it."""
    seed = SEED.read_text(encoding="utf-8")
    ((method, path, seed_slice),) = FENCE.findall(seed)
    page = site.files["/api-reference/interviews/create-interview-api-v1-interviews-post.md"]
    ((built_method, built_path, built_slice),) = FENCE.findall(page)
    assert (built_method, built_path) == (method, path) == ("POST", "/api/v1/interviews")
    assert yaml.safe_load(built_slice) == yaml.safe_load(seed_slice)
    assert page.startswith(on_loopback(seed.split("\n# ", 1)[0], site))
    assert "\n## OpenAPI\n" in page
    index = site.files["/llms.txt"]
    assert f"- [Create Interview]({site.url('create_interview_api_v1_interviews_post')}): " in index
    assert len(site.api_pages) == len(operations(DOCUMENT)) == 20
    assert f"{site.base}/api-reference/question%20logic/get-question-logic-api-v1-question-logic-get.md" in index


# -- the index alone ---------------------------------------------------------------------


def test_the_index_alone_gives_the_documents_operations_and_schemas(
    site: Site, other_site: Site, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every page followed, guides and the other site skipped: the operations and schemas of the document, no change."""
    status, report = run(project, "--index", f"{site.base}/llms.txt", capsys=capsys)

    assert report["changes"] == [], report["changes"]
    assert report["pages"]["followed"] == site.api_pages
    assert report["pages"]["skipped"] == [*site.guides, f"{other_site.base}/index.md (another site)"]
    assert report["pages"]["failed"] == []
    assert other_site.requests == [], "a link to another site is never fetched"
    # The record named the API's document; the index's pages replace it (so exit 10, not 0).
    assert (report["pages"]["new"], report["pages"]["gone"]) == (site.api_pages, [site.base + DOCUMENT_PATH])
    assert status == NON_BREAKING

    assert report["written"], "the merged pages differ from the document by the line below, so they are written"
    merged = yaml.safe_load((project / "openapi.yaml").read_text(encoding="utf-8"))
    assert operations(merged) == operations(DOCUMENT)
    assert merged["paths"] == DOCUMENT["paths"]
    assert merged["components"] == DOCUMENT["components"]
    # All that differs: each page's top-level `security: []` (no requirement, as when there is none).
    assert {key: value for key, value in merged.items() if key != "security"} == DOCUMENT
    assert merged["security"] == []


def test_the_index_alone_reports_no_change_in_markdown(site: Site, project: Path) -> None:
    """The Markdown report a person reads: no change for SDK users, the guides and the other site counted apart."""
    record = project / ".github" / "spec-pages.txt"
    record.unlink()  # no record: a first run, so no page reads as new
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_spec.py"), "--index", f"{site.base}/llms.txt",
         "--spec", "openapi.yaml", "--overlay", str(OVERLAY), "--check"],
        capture_output=True, text=True, check=False, cwd=project,
    )  # fmt: skip
    assert result.returncode == NO_CHANGE, result.stdout + result.stderr
    assert "No change for SDK users." in result.stdout
    assert "- 2 linked page(s) hold no OpenAPI document and were skipped" in result.stdout
    assert "- 1 link(s) to another site were not followed" in result.stdout


@pytest.mark.parametrize(
    "link",
    [quoted, lambda url: url, lambda url: f"<{url}>", lambda url: f'{url} "{url}"'],
    ids=["percent-encoded", "raw-space", "angle-brackets", "raw-space-and-a-title"],
)
def test_a_page_whose_address_has_a_space_is_followed(other_site: Site, link: Callable[[str], str]) -> None:
    """Question Logic's pages live in `question logic/`: however the index spells the space, all 20 are read."""
    with versive_site(other_site, link) as built:
        pages = update_spec.read_pages([], [f"{built.base}/llms.txt"])
    assert pages.failed == []
    assert [source.name for source in pages.sources] == built.api_pages
    assert operations(update_spec.merge(pages.sources)) == operations(DOCUMENT)
    assert sum("%20logic/" in page for page in built.api_pages) == 4


# -- the document first, then the index (.github/spec-sources.txt) ---------------------------


def test_the_document_and_the_index_merge_into_the_document(site: Site, project: Path) -> None:
    """The sources file: the merged spec is the document (openapi.yaml untouched); the pages are recorded, once."""
    spec = (project / "openapi.yaml").read_bytes()

    first = run_as_the_workflow_does(project)

    assert first.stderr == ""
    assert "No change for SDK users." in first.stdout
    # Written whenever the merged spec differs from it: left as it was, the merged spec is the document.
    assert "openapi.yaml was left as it was." in first.stdout
    assert (project / "openapi.yaml").read_bytes() == spec
    # The project's record names the document alone: the index's pages are new to it, once.
    assert first.stdout.count("- new in the index: ") == len(site.api_pages)
    assert first.returncode == NON_BREAKING
    record = (project / ".github" / "spec-pages.txt").read_text(encoding="utf-8").splitlines()
    assert record[1:] == [site.base + DOCUMENT_PATH, *site.api_pages]

    before = snapshot(project)
    again = run_as_the_workflow_does(project)
    assert again.returncode == NO_CHANGE, again.stdout + again.stderr
    assert "No change for SDK users." in again.stdout
    assert snapshot(project) == before, "nothing is written"


def change_a_schema(piece: dict[str, Any]) -> None:
    """The request schema's study_id as an integer, on this page only."""
    piece["components"]["schemas"]["CreateInterviewReqV1"]["properties"]["study_id"] = {"type": "integer"}


def change_the_operation(piece: dict[str, Any]) -> None:
    """The operation's 422 answer gone, on this page only."""
    piece["paths"]["/api/v1/interviews"]["post"]["responses"].pop("422")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (change_a_schema, "components.schemas.CreateInterviewReqV1"),
        (change_the_operation, "paths./api/v1/interviews.post"),
    ],
)
def test_a_page_at_odds_with_the_document_is_a_conflict_naming_both(
    site: Site, project: Path, change: Callable[[dict[str, Any]], None], where: str
) -> None:
    """One page's slice says otherwise than the document: exit 1, the document and the page named, nothing written."""
    page = site.edit("create_interview_api_v1_interviews_post", change)
    before = snapshot(project)

    result = run_as_the_workflow_does(project)

    assert result.returncode == ERROR, result.stdout + result.stderr
    assert f"{where} is defined differently in {site.base}{DOCUMENT_PATH} and in {page}" in result.stderr
    assert snapshot(project) == before

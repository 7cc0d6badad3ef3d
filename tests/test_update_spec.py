"""scripts/update_spec.py: merging pages, writing only valid specs, and classifying changes for SDK users."""

from __future__ import annotations

import copy
import functools
import http.server
import json
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from conftest import OVERLAY, ROOT, SPEC, write_yaml

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

NO_CHANGE, ERROR, NON_BREAKING, BREAKING, FETCH_FAILED = 0, 1, 10, 20, 30

# An operation the document lacks, whose response schema upstream defines (most of the document's answers are
# `schema: {}`): the changes to response fields are tried on it.
EXTRA = "/api/v1/interviews/{interview_id}/summary"
INTERVIEW_OUT = {
    "type": "object",
    "title": "InterviewOut",
    "required": ["id", "link"],
    "properties": {
        "id": {"type": "string", "title": "Id"},
        "link": {"type": "string", "title": "Link"},
        "score": {"type": "integer", "title": "Score"},
    },
}


def base_spec() -> dict[str, Any]:
    """The vendored spec plus a GET operation whose response schema upstream defines."""
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    document["paths"][EXTRA] = {
        "get": {
            "operationId": "get_summary_api_v1_interviews__interview_id__summary_get",
            "parameters": [
                {"name": "interview_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InterviewOut"}}},
                }
            },
            "security": [{"HTTPBearer": []}],
        }
    }
    document["components"]["schemas"]["InterviewOut"] = copy.deepcopy(INTERVIEW_OUT)
    return document


def extra_only() -> dict[str, Any]:
    """The base spec's extra operation alone, with its one schema: one page of the site."""
    full = base_spec()
    full["paths"] = {EXTRA: full["paths"][EXTRA]}
    full["components"]["schemas"] = {"InterviewOut": full["components"]["schemas"]["InterviewOut"]}
    return full


def page(document: dict[str, Any]) -> str:
    """A documentation page in the seed's form: Markdown with the document in a fenced yaml block."""
    return f"# Some endpoint\n\nText.\n\n````yaml POST /x\n{yaml.safe_dump(document, sort_keys=False)}````\n"


def run(tmp_path: Path, *sources: str | Path, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run update_spec.py against the spec copy in tmp_path."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_spec.py"), *map(str, sources),
         "--spec", str(tmp_path / "openapi.yaml"), "--overlay", str(OVERLAY), *extra],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture
def vendored(tmp_path: Path) -> Path:
    """A copy of the vendored spec with the extra GET operation, as the 'current' spec."""
    return write_yaml(tmp_path / "openapi.yaml", base_spec())


def changed(tmp_path: Path, mutate: Any) -> Path:
    """The base spec with `mutate` applied, written as a new source file."""
    document = base_spec()
    mutate(document)
    return write_yaml(tmp_path / "upstream.yaml", document)


def report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The --json report."""
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def kinds(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str, bool]]:
    """(rule, where, breaking) of each change in a --json report."""
    return [(c["rule"], c["where"], c["breaking"]) for c in report(result)["changes"]]


def test_the_document_is_no_change(tmp_path: Path) -> None:
    """The document openapi.yaml was written from: exit 0 and the file stays byte-identical."""
    target = tmp_path / "openapi.yaml"
    target.write_bytes(SPEC.read_bytes())
    document = tmp_path / "openapi.json"
    document.write_bytes(SPEC.read_bytes())
    result = run(tmp_path, document)
    assert result.returncode == NO_CHANGE, result.stderr
    assert "No change for SDK users." in result.stdout
    assert target.read_bytes() == SPEC.read_bytes()


def test_a_new_operation_with_a_path_parameter_is_non_breaking(tmp_path: Path) -> None:
    """Adding DELETE to the extra path: a new function, nothing breaks; the spec is written."""
    vendored_spec = write_yaml(tmp_path / "openapi.yaml", base_spec())

    def add(document: dict[str, Any]) -> None:
        item = document["paths"][EXTRA]
        item["delete"] = copy.deepcopy(item["get"])
        item["delete"]["operationId"] = "delete_summary_api_v1_interviews__interview_id__summary_delete"

    result = run(tmp_path, changed(tmp_path, add), extra=("--json",))
    assert result.returncode == NON_BREAKING, result.stderr
    assert kinds(result) == [("operation-added", f"DELETE {EXTRA}", False)]
    assert report(result)["changes"][0]["detail"] == "new function delete_summary"
    assert "delete" in yaml.safe_load(vendored_spec.read_text())["paths"][EXTRA]


@pytest.mark.usefixtures("vendored")
def test_a_new_optional_request_field_is_non_breaking(tmp_path: Path) -> None:
    """An optional request field: non-breaking."""

    def add(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["CreateInterviewReqV1"]["properties"]["email"] = {"type": "string"}

    result = run(tmp_path, changed(tmp_path, add), extra=("--json",))
    assert result.returncode == NON_BREAKING
    assert kinds(result) == [("request-property-added-optional", "POST /api/v1/interviews", False)]


@pytest.mark.usefixtures("vendored")
def test_a_new_required_request_field_is_breaking(tmp_path: Path) -> None:
    """A required request field breaks callers that do not send it."""

    def add(document: dict[str, Any]) -> None:
        schema = document["components"]["schemas"]["CreateInterviewReqV1"]
        schema["properties"]["email"] = {"type": "string"}
        schema["required"].append("email")

    result = run(tmp_path, changed(tmp_path, add), extra=("--json",))
    assert result.returncode == BREAKING
    assert kinds(result) == [("request-property-added-required", "POST /api/v1/interviews", True)]


@pytest.mark.usefixtures("vendored")
def test_a_removed_response_field_is_breaking(tmp_path: Path) -> None:
    """A response field gone: code reading it breaks."""
    result = run(
        tmp_path,
        changed(tmp_path, lambda d: d["components"]["schemas"]["InterviewOut"]["properties"].pop("score")),
        extra=("--json",),
    )
    assert result.returncode == BREAKING
    assert kinds(result) == [("property-removed", f"GET {EXTRA} 200", True)]
    assert report(result)["changes"][0]["path"] == "$.components.schemas.InterviewOut.properties.score"


@pytest.mark.usefixtures("vendored")
def test_a_changed_field_type_is_breaking(tmp_path: Path) -> None:
    """Integer -> string on a response field: breaking, with both types shown."""

    def retype(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["InterviewOut"]["properties"]["score"] = {"type": "string"}

    result = run(tmp_path, changed(tmp_path, retype), extra=("--json",))
    assert result.returncode == BREAKING
    (change,) = report(result)["changes"]
    assert (change["rule"], change["detail"], change["breaking"]) == (
        "type-changed",
        "integer -> string",
        True,
    )


@pytest.mark.usefixtures("vendored")
def test_a_field_made_required(tmp_path: Path) -> None:
    """A request field made required breaks callers; a response field made required does not."""

    def require(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["CreateInterviewReqV1"]["required"].append("title")
        document["components"]["schemas"]["InterviewOut"]["required"].append("score")

    result = run(tmp_path, changed(tmp_path, require), extra=("--json",))
    assert result.returncode == BREAKING
    assert sorted(kinds(result)) == [
        ("request-property-made-required", "POST /api/v1/interviews", True),
        ("response-property-made-required", f"GET {EXTRA} 200", False),
    ]


@pytest.mark.usefixtures("vendored")
def test_a_removed_operation_is_breaking(tmp_path: Path) -> None:
    """An operation gone: its function is gone."""
    result = run(
        tmp_path,
        changed(tmp_path, lambda d: d["paths"].pop(EXTRA)),
        extra=("--json",),
    )
    assert result.returncode == BREAKING
    assert kinds(result) == [("operation-removed", f"GET {EXTRA}", True)]


def test_a_pair_of_pages_merges_into_one_spec(tmp_path: Path) -> None:
    """Two pages merge: paths and components united, then written and reported."""
    write_yaml(tmp_path / "openapi.yaml", yaml.safe_load(SPEC.read_text()))
    first, second = tmp_path / "document.md", tmp_path / "summary.md"
    first.write_text(page(yaml.safe_load(SPEC.read_text())))
    second.write_text(page(extra_only()))

    result = run(tmp_path, first, second)

    assert result.returncode == NON_BREAKING, result.stderr
    assert f"| ok | `operation-added` | GET {EXTRA}<br>" in result.stdout
    merged = yaml.safe_load((tmp_path / "openapi.yaml").read_text())
    assert set(merged["paths"]) == {*yaml.safe_load(SPEC.read_text())["paths"], EXTRA}
    assert {"CreateInterviewReqV1", "InterviewOut"} <= set(merged["components"]["schemas"])


def test_a_conflicting_pair_of_pages_is_an_error_naming_both(tmp_path: Path, vendored: Path) -> None:
    """The same component defined two ways: exit 1, both sources named, nothing written."""
    before = vendored.read_bytes()
    one, two = base_spec(), base_spec()
    two["components"]["schemas"]["InterviewOut"]["properties"]["id"] = {"type": "integer"}
    first, second = tmp_path / "one.md", tmp_path / "two.md"
    first.write_text(page(one))
    second.write_text(page(two))

    result = run(tmp_path, first, second)

    assert result.returncode == ERROR
    assert f"components.schemas.InterviewOut is defined differently in {first} and in {second}" in result.stderr
    assert vendored.read_bytes() == before


def test_an_invalid_result_is_not_written(tmp_path: Path, vendored: Path) -> None:
    """A source that does not validate: exit 1 with the location, and openapi.yaml untouched."""
    before = vendored.read_bytes()
    source = changed(tmp_path, lambda d: d["paths"]["/api/v1/interviews"]["post"].update(requestBody="yes"))
    result = run(tmp_path, source)
    assert result.returncode == ERROR
    assert "invalid OpenAPI at $['paths']['/api/v1/interviews']['post']['requestBody']" in result.stderr
    assert vendored.read_bytes() == before


@pytest.mark.usefixtures("vendored")
def test_unreadable_sources_are_errors(tmp_path: Path) -> None:
    """A missing file, or a page without an OpenAPI document, is a one-line error."""
    missing = run(tmp_path, tmp_path / "nope.yaml")
    assert missing.returncode == ERROR
    assert "cannot read" in missing.stderr
    prose = tmp_path / "prose.md"
    prose.write_text("# Just text\n\nNo spec here.\n")
    assert "holds no OpenAPI document" in run(tmp_path, prose).stderr


def test_corrections_upstream_now_provides_are_reported(tmp_path: Path) -> None:
    """When upstream types the 200 response itself, the overlay's corrections for it are listed for review."""
    vendored_spec = tmp_path / "openapi.yaml"
    vendored_spec.write_bytes(SPEC.read_bytes())

    def provide(document: dict[str, Any]) -> None:
        media = document["paths"]["/api/v1/interviews"]["post"]["responses"]["200"]["content"]["application/json"]
        media["schema"] = {"$ref": "#/components/schemas/Interview"}
        document["components"]["schemas"]["Interview"] = {"type": "object", "properties": {"id": {"type": "string"}}}

    source = write_yaml(tmp_path / "upstream.yaml", yaml.safe_load(SPEC.read_text()))
    data = yaml.safe_load(source.read_text())
    provide(data)
    write_yaml(source, data)
    stale = report(run(tmp_path, source, extra=("--json", "--check")))["stale_corrections"]
    assert any("upstream now provides 'Interview' itself" in note for note in stale)
    assert any("upstream now provides '$ref' itself" in note for note in stale)


def test_a_vanished_correction_target_is_reported(tmp_path: Path) -> None:
    """When upstream moves the path, the corrections aimed at it are reported as matching nothing."""
    (tmp_path / "openapi.yaml").write_bytes(SPEC.read_bytes())
    data = yaml.safe_load(SPEC.read_text())
    data["paths"]["/api/v2/interviews"] = data["paths"].pop("/api/v1/interviews")
    result = run(tmp_path, write_yaml(tmp_path / "upstream.yaml", data), extra=("--json", "--check"))
    assert result.returncode == BREAKING
    assert any("matches nothing upstream now" in note for note in report(result)["stale_corrections"])
    assert (tmp_path / "openapi.yaml").read_bytes() == SPEC.read_bytes(), "--check never writes"


@pytest.mark.usefixtures("vendored")
def test_a_breaking_change_adds_a_changelog_entry(tmp_path: Path) -> None:
    """--changelog adds a section proposing the version bump."""
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## Unreleased\n\n### Added\n- x\n")
    run(tmp_path, changed(tmp_path, lambda d: d["paths"].pop(EXTRA)),
        extra=("--changelog", str(changelog)))  # fmt: skip
    text = changelog.read_text()
    assert "### Spec update (proposed version bump: major)" in text
    assert f"- operation-removed: GET {EXTRA}, `$.paths" in text


@pytest.fixture
def served_dir(tmp_path: Path) -> Iterator[str]:
    """tmp_path over HTTP on loopback."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_source_can_be_a_url(tmp_path: Path, served_dir: str) -> None:
    """An http(s) source is fetched; a 404 is a failed fetch (exit 30), named in the report, and nothing is written."""
    (tmp_path / "openapi.yaml").write_bytes(SPEC.read_bytes())
    (tmp_path / "page.md").write_text(page(yaml.safe_load(SPEC.read_text())))
    assert run(tmp_path, f"{served_dir}/page.md").returncode == NO_CHANGE
    missing = run(tmp_path, f"{served_dir}/gone.md")
    assert missing.returncode == FETCH_FAILED
    assert f"- could not be read: {served_dir}/gone.md: cannot fetch: HTTP 404" in missing.stdout
    assert (tmp_path / "openapi.yaml").read_bytes() == SPEC.read_bytes()


# -- reading a source: parsed, not sniffed -------------------------------------------


def info_first() -> dict[str, Any]:
    """The vendored document with `info` moved before `openapi`: the same document, keys in another order."""
    document = yaml.safe_load(SPEC.read_text())
    return {"info": document.pop("info"), **document}


SPEC_FILES = {
    "a leading comment": lambda: "# Versive's API, as fetched\n" + SPEC.read_text(),
    "a YAML comment, then info before openapi": lambda: (
        "# Versive's API, as fetched\n\n" + yaml.safe_dump(info_first(), sort_keys=False)
    ),
    "JSON with info first": lambda: json.dumps(info_first(), indent=2),
    "JSON indented with tabs": lambda: json.dumps(info_first(), indent="\t"),
}


@pytest.mark.parametrize("text", SPEC_FILES.values(), ids=SPEC_FILES.keys())
def test_a_spec_file_is_read_whatever_comes_first(tmp_path: Path, text: Any) -> None:
    """A comment first, `info` before `openapi`, JSON any way indented: the same document, so no change."""
    (tmp_path / "openapi.yaml").write_bytes(SPEC.read_bytes())
    source = tmp_path / "upstream.yaml"
    source.write_text(text())
    result = run(tmp_path, source)
    assert result.returncode == NO_CHANGE, result.stderr
    assert "No change for SDK users." in result.stdout


def test_a_broken_spec_file_says_why(tmp_path: Path, vendored: Path) -> None:
    """A file that opens with a comment and `info`, then breaks: the YAML error, not 'no OpenAPI document'."""
    before = vendored.read_bytes()
    source = tmp_path / "upstream.yaml"
    source.write_text("# Versive's API\ninfo: {title: x\nopenapi: 3.1.0\npaths: {}\n")
    result = run(tmp_path, source)
    assert result.returncode == ERROR
    assert f"{source}: not YAML or JSON: " in result.stderr
    assert vendored.read_bytes() == before


FENCES = {
    "yaml, opening with a comment": ("````yaml POST /api/v1/interviews", "# From the API's own document\n{yaml}"),
    "yaml, info first": ("```yml", "{info_first}"),
    "json": ("```json", "{json}"),
    "no info string": ("```", "{yaml}"),
}


@pytest.mark.parametrize(("fence", "body"), FENCES.values(), ids=FENCES.keys())
def test_a_page_is_an_api_page_when_a_fenced_block_parses_to_a_document(tmp_path: Path, fence: str, body: str) -> None:
    """Any fence, any info string, a comment or any key order inside: the block is the document, vendored as is."""
    document = yaml.safe_load(SPEC.read_text())
    block = body.format(
        yaml=yaml.safe_dump(document, sort_keys=False),
        info_first=yaml.safe_dump(info_first(), sort_keys=False),
        json=json.dumps(document, indent=2) + "\n",
    )
    source = tmp_path / "page.md"
    source.write_text(
        "# Create Interview\n\nFirst, a guide's example:\n\n```bash\ncurl -X POST https://x.test/ -d '{}'\n```\n\n"
        f"## OpenAPI\n\n{fence}\n{block}{fence[: len(fence) - len(fence.lstrip('`'))]}\n"
    )
    result = run(tmp_path, source)
    assert result.returncode == NON_BREAKING, result.stderr
    assert (tmp_path / "openapi.yaml").read_text() == block


@pytest.mark.parametrize("form", ["CRLF line ends", "a fence indented in a list item"])
def test_a_page_served_with_crlf_or_an_indented_fence_is_an_api_page(tmp_path: Path, form: str) -> None:
    """CommonMark fences up to three spaces in; pages whose lines end in CRLF: the block is still the document."""
    block = yaml.safe_dump(yaml.safe_load(SPEC.read_text()), sort_keys=False)
    if form == "CRLF line ends":
        page_text = f"# Create Interview\n\n```yaml\n{block}```\n".replace("\n", "\r\n")
    else:
        indented = "".join(f"   {line}" for line in block.splitlines(keepends=True))
        page_text = f"# Create Interview\n\n1. The document:\n\n   ```yaml\n{indented}   ```\n"
    source = tmp_path / "page.md"
    source.write_bytes(page_text.encode())
    result = run(tmp_path, source)
    assert result.returncode == NON_BREAKING, result.stderr
    assert (tmp_path / "openapi.yaml").read_text() == block


# -- following a documentation index -------------------------------------------------


def get_only_page() -> str:
    """A page documenting the extra operation and its InterviewOut, as Versive's pages do."""
    return page(extra_only())


def write_index(directory: Path, *lines: str) -> None:
    """An llms.txt in the form Versive publishes: a title, a note, sections of `- [Title](url): what` lines."""
    body = "\n".join(lines)
    (directory / "llms.txt").write_text(f"# Versive\n\n> Docs.\n\n## API Reference\n\n{body}\n")


def test_an_index_is_followed_and_what_fails_is_named(tmp_path: Path, served_dir: str) -> None:
    """A 404, a guide, another site and two pages at odds: exit 30, each named, nothing written."""
    (tmp_path / "openapi.yaml").write_bytes(SPEC.read_bytes())
    (tmp_path / "create.md").write_text(page(yaml.safe_load(SPEC.read_text())))
    (tmp_path / "get.md").write_text(get_only_page())
    (tmp_path / "guide.md").write_text("# Quickstart\n\n```yaml\nkey: value\n```\n")
    odd = base_spec()
    odd["components"]["schemas"]["InterviewOut"]["properties"]["id"] = {"type": "integer"}
    (tmp_path / "odd.md").write_text(page(odd))
    write_index(
        tmp_path,
        "- [Create Interview](/create.md): Create a new interview session",
        "- [Get Interview](get.md): Get one",
        "- [Quickstart](/guide.md): Start here",
        "- [Gone](/missing.md): Not there",
        "- [Status](https://status.example.invalid/index.md): elsewhere",
        "- [Odd](/odd.md): the same component, defined differently",
    )
    before = (tmp_path / "openapi.yaml").read_bytes()

    result = run(tmp_path, "--index", f"{served_dir}/llms.txt", extra=("--json",))

    assert result.returncode == FETCH_FAILED, result.stderr
    found = report(result)
    assert found["fetch_failed"]
    assert found["pages"]["failed"] == [{"url": f"{served_dir}/missing.md", "reason": "cannot fetch: HTTP 404"}]
    assert found["pages"]["skipped"] == [
        f"{served_dir}/guide.md",
        "https://status.example.invalid/index.md (another site)",
    ]
    assert found["conflict"] == (
        f"components.schemas.InterviewOut is defined differently in {served_dir}/get.md and in {served_dir}/odd.md"
    )
    assert found["changes"] == []
    assert (tmp_path / "openapi.yaml").read_bytes() == before
    assert not (tmp_path / ".github" / "spec-pages.txt").exists()
    text = run(tmp_path, "--index", f"{served_dir}/llms.txt").stdout
    assert "**The upstream spec could not be followed**: 1 page(s) could not be fetched or parsed" in text
    assert f"- could not be read: {served_dir}/missing.md: cannot fetch: HTTP 404" in text
    assert "- 1 linked page(s) hold no OpenAPI document and were skipped" in text
    assert "- 1 link(s) to another site were not followed" in text


MENTIONS = {
    "a string": '```yaml\n"Every document opens with its version, as in\nopenapi: 3.1.0"\n```\n',
    "a value": "```yaml\n# Where the document is\nspec: openapi.json\ngenerator: 'openapi: python'\n```\n",
    "a list": "```yaml\n- openapi: 3.1.0\n```\n",
    "a shell script": "```bash\ncat > openapi.yaml <<'EOF'\nopenapi: 3.1.0\ninfo: {title: x\nEOF\n```\n",
    "broken JSON": '```json\n{"spec": "openapi.json", ...}\n```\n',
}


def test_a_page_whose_fences_only_mention_openapi_is_skipped(tmp_path: Path, served_dir: str) -> None:
    """A fence that parses to anything but a mapping with `openapi`, or is no YAML it claims to be: skipped."""
    (tmp_path / "openapi.yaml").write_bytes(SPEC.read_bytes())
    (tmp_path / "create.md").write_text(page(yaml.safe_load(SPEC.read_text())))
    names = [name.replace(" ", "-") for name in MENTIONS]
    for name, block in zip(names, MENTIONS.values(), strict=True):
        (tmp_path / f"{name}.md").write_text(f"# Guide\n\nThe spec is `openapi.json`.\n\n{block}")
    write_index(tmp_path, "- [Create](/create.md): c", *(f"- [{name}](/{name}.md): g" for name in names))

    result = run(tmp_path, "--index", f"{served_dir}/llms.txt", extra=("--json",))

    assert result.returncode == NO_CHANGE, result.stdout + result.stderr
    found = report(result)["pages"]
    assert found["followed"] == [f"{served_dir}/create.md"]
    assert found["skipped"] == [f"{served_dir}/{name}.md" for name in names]
    assert found["failed"] == []


def test_pages_new_and_gone_are_reported_against_the_record(tmp_path: Path, served_dir: str) -> None:
    """The record names the pages followed; a new page adds its operation, a page gone removes it."""
    (tmp_path / "openapi.yaml").write_bytes(SPEC.read_bytes())
    (tmp_path / "create.md").write_text(page(yaml.safe_load(SPEC.read_text())))
    (tmp_path / "get.md").write_text(get_only_page())
    record = tmp_path / ".github" / "spec-pages.txt"
    record.parent.mkdir()
    record.write_text(f"# the pages\n{served_dir}/create.md\n")
    index = f"{served_dir}/llms.txt"

    write_index(tmp_path, "- [Create](/create.md): c", "- [Get](/get.md): g")
    grown = run(tmp_path, "--index", index, extra=("--json",))
    assert grown.returncode == NON_BREAKING, grown.stderr
    assert report(grown)["pages"]["new"] == [f"{served_dir}/get.md"]
    assert kinds(grown) == [("operation-added", f"GET {EXTRA}", False)]
    assert report(grown)["written"]
    assert EXTRA in yaml.safe_load((tmp_path / "openapi.yaml").read_text())["paths"]
    assert record.read_text().splitlines()[1:] == [f"{served_dir}/create.md", f"{served_dir}/get.md"]

    again = run(tmp_path, "--index", index)
    assert again.returncode == NO_CHANGE, again.stdout
    assert "No change for SDK users." in again.stdout

    write_index(tmp_path, "- [Create](/create.md): c")
    shrunk = run(tmp_path, "--index", index, extra=("--json", "--check"))
    assert shrunk.returncode == BREAKING
    assert report(shrunk)["pages"]["gone"] == [f"{served_dir}/get.md"]
    assert kinds(shrunk) == [
        ("model-removed", "components", True),
        ("operation-removed", f"GET {EXTRA}", True),
    ]
    assert record.read_text().splitlines()[1:] == [f"{served_dir}/create.md", f"{served_dir}/get.md"], "--check"


def test_an_index_or_page_that_cannot_be_read_is_a_failed_fetch(tmp_path: Path, served_dir: str) -> None:
    """The index itself missing, or an API page whose YAML is broken: exit 30, with the URL and the reason."""
    (tmp_path / "openapi.yaml").write_bytes(SPEC.read_bytes())
    missing = run(tmp_path, "--index", f"{served_dir}/llms.txt", extra=("--json",))
    assert missing.returncode == FETCH_FAILED
    assert report(missing)["pages"]["failed"] == [{"url": f"{served_dir}/llms.txt", "reason": "cannot fetch: HTTP 404"}]

    (tmp_path / "broken.md").write_text("# Broken\n\n```yaml\nopenapi: 3.1.0\npaths: [\n```\n")
    write_index(tmp_path, "- [Broken](/broken.md): b")
    broken = run(tmp_path, "--index", f"{served_dir}/llms.txt", extra=("--json",))
    assert broken.returncode == FETCH_FAILED
    (failure,) = report(broken)["pages"]["failed"]
    assert failure["url"] == f"{served_dir}/broken.md"
    assert failure["reason"].startswith("not YAML or JSON: ")

    refused = run(tmp_path, "--index", "http://127.0.0.1:9/llms.txt", extra=("--json",))
    assert refused.returncode == FETCH_FAILED
    assert report(refused)["pages"]["failed"][0]["reason"].startswith("cannot fetch: ConnectError")


def test_a_sources_file_names_indexes_and_pages(tmp_path: Path, served_dir: str) -> None:
    """`index URL` lines and page lines, comments and blanks; a malformed line is an error naming it."""
    (tmp_path / "openapi.yaml").write_bytes(SPEC.read_bytes())
    (tmp_path / "create.md").write_text(page(yaml.safe_load(SPEC.read_text())))
    write_index(tmp_path, "- [Create](/create.md): c")
    sources = tmp_path / "sources.txt"
    sources.write_text(f"# what to follow\n\nindex {served_dir}/llms.txt\n{served_dir}/create.md  # the same page\n")
    result = run(tmp_path, "--sources-file", sources, extra=("--json",))
    assert result.returncode == NO_CHANGE, result.stdout + result.stderr
    assert report(result)["pages"]["followed"] == [f"{served_dir}/create.md"]

    sources.write_text("index\nfollow https://x.test/a.md now\n")
    bad = run(tmp_path, "--sources-file", sources)
    assert bad.returncode == ERROR
    assert f"{sources}:1: expected a location or `index LOCATION`, got 'index'" in bad.stderr
    assert run(tmp_path).returncode == 2


def test_the_repositorys_sources_name_the_document_then_the_index() -> None:
    """What the daily job follows: the API's own document (so the merged spec is it), then Versive's llms.txt."""
    import update_spec  # noqa: PLC0415 - the script as a module

    sources, indexes = update_spec.read_sources_file(ROOT / ".github" / "spec-sources.txt")
    document = "https://api.getversive.com/api/v1/openapi.json"
    assert sources == [document]
    assert indexes == ["https://docs.getversive.com/llms.txt"]
    assert update_spec.read_record(ROOT / ".github" / "spec-pages.txt") == [document]

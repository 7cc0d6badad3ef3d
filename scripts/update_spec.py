"""Fetch the upstream spec, merge its pages, and report what changed for SDK users.

    python scripts/update_spec.py SOURCE [SOURCE ...] [--json] [--check] [--changelog CHANGELOG.md]

Each SOURCE is a path or an http(s) URL holding an OpenAPI document (YAML or JSON) or a
documentation page with the document in a fenced ``yaml`` block (Versive publishes one
page per endpoint, each with a partial document). The sources are merged (paths and
components united; one component defined two ways is an error naming both sources),
validated, and written to openapi.yaml only if they validate and differ from it. With a
single source, its text is written verbatim.

The report compares the SDK's view of the old and new spec (operationIds normalised and
the overlay applied): operations added, removed or changed, and request and response
fields added, removed, retyped, made required or optional, each marked breaking or not
for code written against the previous SDK. It also lists overlay corrections that no
longer apply (target gone) or that upstream now provides itself.

Exit status: 0 no change; 10 non-breaking change; 20 breaking change; 1 error (nothing
written); 2 bad usage.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import regenerate
import yaml
from attrs import asdict, frozen
from jsonpath_ng.ext.parser import parse as parse_jsonpath

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

EXIT_NO_CHANGE = 0
EXIT_ERROR = 1
EXIT_NON_BREAKING = 10
EXIT_BREAKING = 20
FENCED_YAML = re.compile(r"^(`{3,}|~{3,})ya?ml[^\n]*\n(.*?)^\1\s*$", re.MULTILINE | re.DOTALL)
HTTP_TIMEOUT = 30.0


class UpdateError(Exception):
    """A source cannot be read or merged; nothing is written."""


@frozen
class Source:
    """One source: where it came from, its OpenAPI text, and the parsed document."""

    name: str
    text: str
    document: dict[str, Any]


@frozen
class Change:
    """One change an SDK user can see."""

    kind: str
    where: str
    detail: str
    breaking: bool


# -- reading and merging ----------------------------------------------------------


def read_source(location: str) -> Source:
    """Read one source: a path or URL; an OpenAPI document or a page with one in a fenced yaml block."""
    if re.match(r"^https?://", location):
        try:
            response = httpx.get(location, timeout=HTTP_TIMEOUT, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise UpdateError(f"{location}: cannot fetch: {exc}") from None
        raw = response.text
    else:
        try:
            raw = Path(location).read_text(encoding="utf-8")
        except OSError as exc:
            raise UpdateError(f"{location}: cannot read: {exc.strerror}") from None
    text = _openapi_text(raw)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UpdateError(f"{location}: not YAML or JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict) or "openapi" not in document:
        raise UpdateError(f"{location}: holds no OpenAPI document (no `openapi` key)")
    return Source(location, text, document)


def _openapi_text(raw: str) -> str:
    """The OpenAPI text of a source: the fenced yaml block of a documentation page, or all of it."""
    if raw.lstrip().startswith(("{", "openapi:")):
        return raw
    for match in FENCED_YAML.finditer(raw):
        if re.search(r"^openapi:", match.group(2), re.MULTILINE):
            return match.group(2)
    return raw


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


# -- the SDK's view and the comparison ----------------------------------------------


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


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every change between two SDK views, each classified for code written against the old one."""
    changes: list[Change] = []
    old_ops, new_ops = _operations(old), _operations(new)
    for key in sorted(new_ops.keys() - old_ops.keys()):
        changes.append(Change("operation added", key, f"new function {new_ops[key]['operationId']}", breaking=False))
    for key in sorted(old_ops.keys() - new_ops.keys()):
        changes.append(Change("operation removed", key, f"{old_ops[key]['operationId']} is gone", breaking=True))
    for key in sorted(old_ops.keys() & new_ops.keys()):
        before, after = old_ops[key], new_ops[key]
        if before.get("operationId") != after.get("operationId"):
            changes.append(
                Change(
                    "operation renamed",
                    key,
                    f"{before.get('operationId')} is now {after.get('operationId')}",
                    breaking=True,
                )
            )
        changes += _parameter_changes(key, before, after, old, new)
        changes += _field_changes(key, "request", _request_schema(before, old), _request_schema(after, new), old, new)
        changes += _field_changes(
            key, "response", _response_schema(before, old), _response_schema(after, new), old, new
        )
    return changes


def _operations(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{method.upper()} {path}": op for path, method, op in regenerate.iter_operations(document)}


def _resolve(schema: Any, document: Mapping[str, Any]) -> dict[str, Any]:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:  # noqa: PLR2004 - a cycle guard
        ref = schema["$ref"]
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = node
        seen += 1
    return schema if isinstance(schema, dict) else {}


def _request_schema(operation: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    content = (operation.get("requestBody") or {}).get("content") or {}
    return _resolve((content.get("application/json") or {}).get("schema"), document)


def _response_schema(operation: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    for status, response in sorted((operation.get("responses") or {}).items()):
        if str(status).startswith("2"):
            content = (_resolve(response, document).get("content")) or {}
            return _resolve((content.get("application/json") or {}).get("schema"), document)
    return {}


def type_of(schema: Any, document: Mapping[str, Any]) -> str:
    """A short, comparable description of a schema's type: `string`, `string|null`, `Interview`, ..."""
    if not isinstance(schema, dict):
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return "|".join(sorted(type_of(option, document) for option in schema[union]))
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return "|".join(sorted(map(str, kind)))
    if kind == "array":
        return f"array<{type_of(schema.get('items'), document)}>"
    return f"{kind}:{schema['format']}" if "format" in schema else str(kind)


def _field_changes(  # noqa: PLR0917 - two matched pairs of arguments
    where: str,
    side: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> list[Change]:
    """Field changes in a request or response body; `side` decides what breaks callers."""
    changes = []
    old_fields, new_fields = before.get("properties") or {}, after.get("properties") or {}
    old_required, new_required = set(before.get("required") or []), set(after.get("required") or [])
    request = side == "request"
    for name in sorted(new_fields.keys() - old_fields.keys()):
        required = name in new_required
        detail = f"{'required' if required else 'optional'} {type_of(new_fields[name], new)}"
        changes.append(Change(f"{side} field added", f"{where} {name}", detail, breaking=request and required))
    for name in sorted(old_fields.keys() - new_fields.keys()):
        changes.append(Change(f"{side} field removed", f"{where} {name}", "no longer in the schema", breaking=True))
    for name in sorted(old_fields.keys() & new_fields.keys()):
        was, now = type_of(old_fields[name], old), type_of(new_fields[name], new)
        if was != now:
            changes.append(Change(f"{side} field retyped", f"{where} {name}", f"{was} -> {now}", breaking=True))
        if name in new_required and name not in old_required:
            changes.append(Change(f"{side} field made required", f"{where} {name}", "was optional", breaking=request))
        if name in old_required and name not in new_required:
            changes.append(
                Change(f"{side} field made optional", f"{where} {name}", "was required", breaking=not request)
            )
    return changes


def _parameter_changes(
    where: str, before: Mapping[str, Any], after: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    def params(operation: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        resolved = (_resolve(p, document) for p in operation.get("parameters") or [])
        return {f"{p.get('in')} {p.get('name')}": p for p in resolved}

    changes = []
    old_params, new_params = params(before, old), params(after, new)
    for name in sorted(new_params.keys() - old_params.keys()):
        required = bool(new_params[name].get("required"))
        detail = "required" if required else "optional"
        changes.append(Change("parameter added", f"{where} {name}", detail, breaking=required))
    for name in sorted(old_params.keys() - new_params.keys()):
        changes.append(Change("parameter removed", f"{where} {name}", "no longer accepted", breaking=True))
    for name in sorted(old_params.keys() & new_params.keys()):
        was = type_of(old_params[name].get("schema"), old)
        now = type_of(new_params[name].get("schema"), new)
        if was != now:
            changes.append(Change("parameter retyped", f"{where} {name}", f"{was} -> {now}", breaking=True))
        if new_params[name].get("required") and not old_params[name].get("required"):
            changes.append(Change("parameter made required", f"{where} {name}", "was optional", breaking=True))
    return changes


# -- the report -------------------------------------------------------------------


def render(changes: Iterable[Change], stale: Sequence[str], *, written: bool) -> str:
    """The report as Markdown, readable in a terminal and as a pull request body."""
    changes = list(changes)
    breaking = [c for c in changes if c.breaking]
    if not changes:
        head = "No change for SDK users."
    elif breaking:
        head = f"**Breaking**: {len(breaking)} of {len(changes)} change(s) break code written against the current SDK."
    else:
        head = f"{len(changes)} non-breaking change(s) for SDK users."
    lines = ["## Spec changes", "", head, ""]
    if changes:
        lines += ["| | change | where | detail |", "| --- | --- | --- | --- |"]
        lines += [f"| {'breaking' if c.breaking else 'ok'} | {c.kind} | `{c.where}` | {c.detail} |" for c in changes]
        lines.append("")
    if stale:
        lines += ["### Corrections to review", "", *[f"- {note}" for note in stale], ""]
    lines.append("openapi.yaml was updated." if written else "openapi.yaml was left as it was.")
    return "\n".join(lines) + "\n"


def changelog_entry(changes: Sequence[Change]) -> str:
    """A CHANGELOG section proposing the version bump the changes call for."""
    bump = "major" if any(c.breaking for c in changes) else "minor"
    items = "\n".join(f"- {c.kind}: `{c.where}` ({c.detail}){' **breaking**' if c.breaking else ''}" for c in changes)
    return f"### Spec update (proposed version bump: {bump})\n\n{items}\n"


def add_to_changelog(path: Path, entry: str) -> None:
    """Insert `entry` at the top of the Unreleased section."""
    text = path.read_text(encoding="utf-8")
    marker = "## Unreleased\n"
    if marker not in text:
        raise UpdateError(f"{path}: no '## Unreleased' section to add the entry to")
    path.write_text(text.replace(marker, f"{marker}\n{entry}", 1), encoding="utf-8")


def update(
    locations: Sequence[str], *, spec: Path, overlay_path: Path, write: bool, changelog: Path | None
) -> tuple[list[Change], list[str], bool]:
    """Read, merge, validate, compare and (when `write`) write; returns changes, stale notes, written."""
    sources = [read_source(location) for location in locations]
    merged = merge(sources)
    try:
        regenerate.validate_openapi(merged, " + ".join(s.name for s in sources))
    except regenerate.RegenerationError as exc:
        raise UpdateError(str(exc)) from None
    old_text = spec.read_text(encoding="utf-8") if spec.exists() else ""
    old = yaml.safe_load(old_text) if old_text else {"openapi": merged.get("openapi"), "paths": {}}
    overlay, _ = regenerate.load_yaml(overlay_path)
    changes = compare(sdk_view(old, overlay), sdk_view(merged, overlay))
    stale = stale_corrections(old, merged, overlay, overlay_path.name)
    new_text = sources[0].text if len(sources) == 1 else yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)
    written = False
    if write and merged != old:
        spec.write_text(new_text, encoding="utf-8")
        written = True
        if changelog is not None and changes:
            add_to_changelog(changelog, changelog_entry(changes))
    return changes, stale, written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; see the module docstring for the exit statuses."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog="Exit status: 0 no change; 10 non-breaking change; 20 breaking change; 1 error; 2 bad usage.",
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="path or http(s) URL of a spec or spec page")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--check", action="store_true", help="report only; never write openapi.yaml")
    parser.add_argument("--spec", type=Path, default=regenerate.SPEC, help="the vendored spec (default: openapi.yaml)")
    parser.add_argument("--overlay", type=Path, default=regenerate.OVERLAY, help="the corrections")
    parser.add_argument("--changelog", type=Path, help="add a proposed entry to this CHANGELOG when the spec changes")
    args = parser.parse_args(argv)
    try:
        changes, stale, written = update(
            args.sources, spec=args.spec, overlay_path=args.overlay, write=not args.check, changelog=args.changelog
        )
    except (UpdateError, regenerate.RegenerationError) as exc:
        print(f"update_spec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        report = {
            "changed": bool(changes),
            "breaking": any(c.breaking for c in changes),
            "changes": [asdict(c) for c in changes],
            "stale_corrections": stale,
            "written": written,
        }
        print(json.dumps(report, indent=2))
    else:
        print(render(changes, stale, written=written), end="")
    if any(c.breaking for c in changes):
        return EXIT_BREAKING
    return EXIT_NON_BREAKING if changes else EXIT_NO_CHANGE


if __name__ == "__main__":
    sys.exit(main())

"""The README says what the code does: its quickstart runs, its configuration and error tree match."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap

from conftest import ROOT

import versive_client._errors as errors
from versive_client import VersiveClient
from versive_client.testing import FakeVersive


def run_against_the_fake(program: str) -> tuple[str, FakeVersive]:
    """Run `program` with VERSIVE_API_KEY and VERSIVE_BASE_URL set for a fake on loopback: its stdout, and the fake."""
    fake = FakeVersive(api_key="readme-key")
    with fake.serve_in_thread() as base_url:
        env = {**os.environ, "VERSIVE_API_KEY": "readme-key", "VERSIVE_BASE_URL": base_url}
        result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout, fake


def test_the_quickstart_runs_against_the_fake() -> None:
    """The first Python block of the README, against the fake: a study, an interview in it, read back open."""
    readme = (ROOT / "README.md").read_text()
    quickstart = re.search(r"## Quickstart\n\n```python\n(.*?)```", readme, re.DOTALL)
    assert quickstart is not None
    stdout, fake = run_against_the_fake(quickstart.group(1))
    [study] = fake.studies
    assert study.title == "Onboarding research"
    link, status = stdout.splitlines()
    assert re.fullmatch(rf"https://getversive\.com/s/{study.id}\?vid=vid_[0-9a-f]+", link)
    assert status.startswith("open 0 ")
    assert [i.metadata.to_dict() for i in fake.interviews] == [{"participant_id": "p-42"}]  # type: ignore[union-attr]


def test_the_reference_lists_every_method_as_the_resources_have_it() -> None:
    """README's table of methods is the one the regeneration's reading of the spec gives, row for row."""
    import regenerate  # noqa: PLC0415 - scripts, importable through pytest's pythonpath
    import surface  # noqa: PLC0415

    table = surface.reference_table(regenerate.surface_of(regenerate.corrected_spec()))
    assert table in _section("Every operation"), "rewrite the table with surface.reference_table()"
    calls = re.findall(r"^\| `versive\.(\w+)\.(\w+)\(", table, re.MULTILINE)
    assert len(calls) == 21  # the twenty operations, and interviews.wait
    for resource, verb in calls:
        assert callable(getattr(getattr(VersiveClient("k"), resource), verb))


def _section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", readme, re.DOTALL | re.MULTILINE)
    assert found is not None, title
    return found.group(1)


def test_the_configuration_section_lists_every_option_with_its_default() -> None:
    """README's VersiveClient(...) block names each constructor parameter, in order, with its default."""
    block = re.search(r"```python\nVersiveClient\(\n(.*?)\)\n```", _section("Configuration"), re.DOTALL)
    assert block is not None
    documented = re.findall(r"^    (\w+)=([^,]+),", block.group(1), re.MULTILINE)
    parameters = inspect.signature(VersiveClient).parameters.values()
    assert [name for name, _ in documented] == [parameter.name for parameter in parameters]
    for (name, default), parameter in zip(documented, parameters, strict=True):
        if default != "...":
            assert ast.literal_eval(default) == parameter.default, name


def test_the_errors_section_draws_the_tree_the_code_has() -> None:
    """README's error tree and the one in versive_client._errors name the same classes in the same places."""
    readme_tree = re.search(r"```\n(VersiveError.*?)```", _section("Errors"), re.DOTALL)
    assert readme_tree is not None
    assert errors.__doc__ is not None

    def shape(tree: str) -> list[tuple[int, str]]:
        """Each class name with its column: its place in the tree."""
        return [(found.start(), found.group()) for line in tree.splitlines() if (found := re.search(r"\w+Error", line))]

    code_tree = textwrap.dedent(errors.__doc__.split("::", 1)[1].split("\n\n")[1])
    assert len(shape(code_tree)) == 14
    assert shape(readme_tree.group(1)) == shape(code_tree)


def test_the_proxies_section_names_what_the_client_reads() -> None:
    """Each environment variable the proxy resolution reads is in README's "Proxies and TLS"."""
    section = _section("Proxies and TLS")
    for variable in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "trust_env=False"):
        assert variable in section


def test_the_bulk_example_runs_against_the_fake() -> None:
    """The "Many interviews at once" example, run in an event loop against the fake, creates one interview each."""
    block = re.search(r"```python\n(.*?)```", _section("Many interviews at once"), re.DOTALL)
    assert block is not None
    program = (
        "import asyncio\nfrom versive_client import VersiveClient\n\nasync def main() -> None:\n"
        + textwrap.indent(block.group(1), "    ")
        + "\nasyncio.run(main())\n"
    )
    stdout, fake = run_against_the_fake(program)
    assert sorted(line.split()[0] for line in stdout.splitlines()) == ["p-0001", "p-0002", "p-0003"]
    assert len(fake.interviews) == 3
    assert sorted(request.idempotency_key or "" for request in fake.requests) == [
        "wave-3:p-0001",
        "wave-3:p-0002",
        "wave-3:p-0003",
    ]


def test_the_spec_section_lists_every_rule_as_the_code_has_it() -> None:
    """README's table of spec-change rules is spec_diff.RULES, row for row: id, verdict and why."""
    import spec_diff  # noqa: PLC0415 - a script, importable through pytest's pythonpath

    section = _section("When the upstream spec changes")
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows == list(spec_diff.rules_table())[2:]
    for status in ("0 no change", "10 non-breaking", "20 breaking", "30 a page or index could not be fetched"):
        assert status in section


def test_the_tracing_example_prints_a_call_span_over_its_attempt_span() -> None:
    """The "Tracing, metrics and logs" example, against the fake: the console shows the call and attempt spans."""
    block = re.search(r"```python\n(.*?)```", _section("Tracing, metrics and logs"), re.DOTALL)
    assert block is not None
    stdout, fake = run_against_the_fake(block.group(1))
    printed = json.loads("[" + stdout.replace("}\n{", "},\n{") + "]")
    assert [(span["name"], span["kind"]) for span in printed] == [
        ("POST /api/v1/interviews", "SpanKind.CLIENT"),
        ("versive.create_interview", "SpanKind.INTERNAL"),
    ]
    assert printed[0]["parent_id"] == printed[1]["context"]["span_id"]
    assert fake.requests[0].headers["traceparent"].split("-")[2] == printed[0]["context"]["span_id"][2:]
    assert "readme-key" not in stdout


def test_the_tracing_section_names_every_instrument_and_attribute_the_code_sets() -> None:
    """Each attribute and instrument name in versive_client.otel is in the README's tables, and each there is used."""
    source = (ROOT / "versive_client" / "otel.py").read_text()
    section = _section("Tracing, metrics and logs")
    in_code = set(re.findall(r'"((?:versive|http|server|url|error)\.[a-z_.]+)"', source))
    tables = "\n".join(line for line in section.splitlines() if line.startswith("| "))
    in_readme = set(re.findall(r"`((?:versive|http|server|url|error)\.[a-z_.]+)`", tables))
    assert in_code - in_readme == set(), "set in code, not in the README"
    assert in_readme - in_code == set(), "in the README, not set in code"

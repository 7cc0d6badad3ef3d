"""The built wheel: every package file is in it (generated code and py.typed included), nothing else."""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import zipfile
from typing import TYPE_CHECKING

import pytest
from conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel this run tests (scripts/test.sh's, in $VERSIVE_TEST_WHEEL), else the project built as one now."""
    if tested := os.environ.get("VERSIVE_TEST_WHEEL"):
        return zipfile.ZipFile(tested)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "--target", "wheel", "--directory", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("versive_client-*.whl")
    return zipfile.ZipFile(built)


def package_files(root: Path) -> set[str]:
    """Source files of the package as wheel paths."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (root).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_the_package_and_only_the_package(wheel: zipfile.ZipFile) -> None:
    """Every file under versive_client/ is in the wheel, and nothing from tests/ or scripts/."""
    names = {name for name in wheel.namelist() if not name.startswith("versive_client-")}
    assert names == package_files(ROOT / "versive_client")
    assert "versive_client/py.typed" in names
    assert "versive_client/_generated/models/interview.py" in names


def test_the_wheel_metadata_declares_bounded_runtime_dependencies(wheel: zipfile.ZipFile) -> None:
    """Python >= 3.11; httpx, attrs and anyio at runtime; the fake, CLI, OpenTelemetry, webhooks in extras; bounded."""
    (metadata_name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = email.parser.Parser().parsestr(wheel.read(metadata_name).decode())
    assert metadata["Requires-Python"] == ">=3.11"
    requirements = sorted(metadata.get_all("Requires-Dist") or [])
    assert requirements == [
        "aiohttp<4,>=3.10; extra == 'aiohttp'",
        "anyio<5,>=4.5",
        "attrs<27,>=23.1",
        "click<9,>=8.1; extra == 'cli'",
        "h11<1,>=0.14; extra == 'cli'",
        "h11<1,>=0.14; extra == 'testing'",
        "httpx<0.29,>=0.27",
        "jsonschema<5,>=4.18; extra == 'cli'",
        "jsonschema<5,>=4.18; extra == 'testing'",
        "opentelemetry-api<2,>=1.30; extra == 'otel'",
        "rich<16,>=13.7; extra == 'cli'",
        "svix<3,>=2.9.1; extra == 'webhooks'",
    ]
    assert sorted(metadata.get_all("Provides-Extra") or []) == ["aiohttp", "cli", "otel", "testing", "webhooks"]

"""What importing the package costs: the core never loads the fake's server parts."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_does_not_import_testing_parts() -> None:
    """`import versive_client` (and its models) loads neither versive_client.testing nor h11 nor anyio."""
    code = (
        "import sys, versive_client, versive_client.models; "
        "print(sorted(m for m in ('versive_client.testing', 'h11', 'anyio') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

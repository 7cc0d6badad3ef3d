"""What importing the package costs: the core never loads the fake, the CLI, or their dependencies."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_does_not_import_testing_or_cli_parts() -> None:
    """Beyond what `import httpx` loads, `import versive_client` loads no fake, CLI, h11, click or rich.

    (httpx itself imports click and rich, for its own command, whenever they are installed.)
    """
    code = (
        "import sys, httpx; before = set(sys.modules); "
        "import versive_client, versive_client.models; "
        "added = set(sys.modules) - before; "
        "print(sorted(m for m in added if m.split('.')[0] in {'h11', 'click', 'rich'} "
        "or m.startswith(('versive_client.testing', 'versive_client.cli'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

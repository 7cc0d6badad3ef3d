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


def _without(module: str, code: str) -> subprocess.CompletedProcess[str]:
    """`code` run where `module` cannot be imported (its extra not installed)."""
    program = f"import sys; sys.modules[{module!r}] = None\n{code}"
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)


def test_the_command_without_the_cli_extra_says_which_to_install() -> None:
    """The `versive` console script (and python -m versive_client) without click: one line, exit 1."""
    result = _without("click", "from versive_client.__main__ import run\nsys.exit(run())")
    assert result.returncode == 1
    assert result.stderr == (
        "versive: the command needs the cli extra (click is missing): pip install 'versive-client[cli]'\n"
    )
    module = subprocess.run(
        [sys.executable, "-m", "versive_client", "--version"], capture_output=True, text=True, check=True
    )
    assert module.stdout.startswith("versive, version ")


def test_the_fake_without_the_testing_extra_says_which_to_install() -> None:
    """`import versive_client.testing` without jsonschema: an ImportError naming the extra."""
    result = _without("jsonschema", "import versive_client.testing")
    assert result.returncode == 1
    assert "versive_client.testing needs the testing extra (jsonschema is missing): " in result.stderr
    assert "pip install 'versive-client[testing]'" in result.stderr


def test_the_console_script_is_the_guarded_entry_point() -> None:
    """The installed `versive` runs versive_client.__main__:run, which names a missing extra."""
    from importlib.metadata import entry_points  # noqa: PLC0415

    (script,) = entry_points(group="console_scripts", name="versive")
    assert script.value == "versive_client.__main__:run"

"""``python -m versive_client``: the `versive` command."""

import sys


def run() -> int:
    """The `versive` console script: the command, or one line naming the extra it needs."""
    try:
        from versive_client.cli import main  # noqa: PLC0415 - only when the command runs
    except ImportError as exc:  # the cli extra is not installed
        sys.stderr.write(
            f"versive: the command needs the cli extra ({exc.name} is missing): pip install 'versive-client[cli]'\n"
        )
        return 1
    return main()


if __name__ == "__main__":
    sys.exit(run())

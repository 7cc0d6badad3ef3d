"""``python -m versive_client``: the `versive` command."""

import sys

try:
    from versive_client.cli import main
except ImportError as exc:  # the cli extra is not installed
    sys.stderr.write(
        f"versive: the command needs the cli extra ({exc.name} is missing): pip install 'versive-client[cli]'\n"
    )
    sys.exit(1)

sys.exit(main())

"""``python -m versive_client.testing``: the fake Versive on loopback, until SIGINT or SIGTERM.

The first line of stdout is the base URL, printed once the socket accepts connections.
One line per request goes to stderr (``--quiet`` turns it off).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

import anyio

from ._fake import FakeVersive, RateLimit
from ._server import open_listener, serve

if TYPE_CHECKING:
    from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m versive_client.testing",
        description="Run the fake Versive API on loopback. Prints its base URL, then serves until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default: 0)")
    parser.add_argument(
        "--api-key", help="accept only this bearer token (default: accept any non-empty one)", metavar="KEY"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for probabilistic faults (default: 0)")
    parser.add_argument(
        "--rate-limit", type=float, metavar="PER_SECOND", help="answer 429 above this many requests a second"
    )
    parser.add_argument("--burst", type=int, default=10, help="requests at once under --rate-limit (default: 10)")
    parser.add_argument(
        "--no-rate-limit-headers", action="store_true", help="do not state the limit in RateLimit headers"
    )
    parser.add_argument("--webhook-url", metavar="URL", help="send interview.completed webhooks to this URL")
    parser.add_argument(
        "--webhook-secret", metavar="SECRET", help="sign webhooks with this Svix endpoint secret (whsec_...)"
    )
    parser.add_argument(
        "--webhook-retry-delays",
        metavar="SECONDS,...",
        help="retry a failed webhook after each of these delays (default: Svix's, 5 s up to 10 h)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


async def _run(fake: FakeVersive, host: str, port: int) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        listener, url = await open_listener(host, port)
        print(url, flush=True)  # noqa: T201 - the documented first line of stdout
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(serve, fake, listener)
            async for _ in signals:
                tasks.cancel_scope.cancel()
                break


def _fake(args: argparse.Namespace, limit: RateLimit | None) -> FakeVersive:
    """The fake the options describe; bad webhook options exit 2, naming the option."""
    webhooks: dict[str, Any] = {"webhook_url": args.webhook_url, "webhook_secret": args.webhook_secret}
    if args.webhook_retry_delays is not None:
        try:
            webhooks["webhook_retry_delays"] = [float(delay) for delay in args.webhook_retry_delays.split(",")]
        except ValueError:
            _parser().error("--webhook-retry-delays must be seconds separated by commas, such as 0.05,0.1")
    try:
        return FakeVersive(api_key=args.api_key, seed=args.seed, rate_limit=limit, **webhooks)
    except (ValueError, ImportError) as exc:
        # The messages name the keyword arguments; on the command line they are options.
        message = str(exc)
        for keyword in ("webhook_url", "webhook_secret", "webhook_retry_delays"):
            message = message.replace(keyword, "--" + keyword.replace("_", "-"))
        _parser().error(message)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake until SIGINT or SIGTERM; returns the exit status."""
    args = _parser().parse_args(argv)
    if not 0 <= args.port <= 65535:  # noqa: PLR2004 - the range of TCP ports
        _parser().error(f"--port must be between 0 and 65535, got {args.port}")
    if args.api_key is not None and not args.api_key.strip():
        _parser().error("--api-key must not be empty")
    limit = None
    if args.rate_limit is not None:
        try:
            limit = RateLimit(args.rate_limit, burst=args.burst, headers=not args.no_rate_limit_headers)
        except ValueError as exc:
            _parser().error(f"--rate-limit/--burst: {exc}")
    fake = _fake(args, limit)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        anyio.run(_run, fake, args.host, args.port)
    except OSError as exc:
        print(f"fake Versive: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

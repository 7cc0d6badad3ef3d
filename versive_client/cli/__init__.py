"""The `versive` command: every operation of the API, and one interview per row of a CSV. Needs the ``cli`` extra.

``versive <resource> <method>`` for every operation is built at import from the generated
operations table (`_operations`), so a spec change adds commands with no hand-written
line; ``interviews create`` (the link by default, ``--metadata KEY=VALUE``) and
``interviews create-batch`` are hand-written here and take precedence.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from versive_client import NOT_GIVEN, VersiveClient, VersiveError, WaitTimeoutError, __version__
from versive_client.cli._batch import BatchSpec, InputError, Tally, out_problem, run_batch
from versive_client.cli._operations import add_operation_commands, add_waiter_commands

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from versive_client._generated.operations import Operation, Waiter

EXIT_CODES = """\b
Exit status:
  0    success
  1    the API refused or failed a request (for create-batch: at least one row
       failed; its reason is in the results file)
  2    bad command-line usage
  3    the input file cannot be used (nothing was sent)
  4    configuration: no API key, an unreadable --api-key-file, a bad base URL
  5    a wait (interviews wait) ran out of --timeout
  130  interrupted (create-batch: rerun the same command to resume)
"""


class ConfigError(Exception):
    """The command cannot start: missing key, bad key file, bad base URL."""


class Settings:
    """Global options, resolved lazily so that `fake-server` and `demo` need no API key."""

    def __init__(self, api_key_file: Path | None, base_url: str | None, debug: bool) -> None:  # noqa: FBT001
        """Keep the options; nothing is read until a command needs it."""
        self.api_key_file = api_key_file
        self.base_url = base_url
        self.debug = debug

    def api_key(self) -> str | None:
        """The key from --api-key-file, else None (VersiveClient then reads VERSIVE_API_KEY)."""
        if self.api_key_file is None:
            return None
        try:
            key = self.api_key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--api-key-file {self.api_key_file}: cannot read: {exc.strerror}") from None
        if not key:
            raise ConfigError(f"--api-key-file {self.api_key_file} is empty")
        return key

    def client(self, **options: Any) -> VersiveClient:  # noqa: ANN401 - VersiveClient's own options
        """A VersiveClient from these settings and the environment, with `options`."""
        try:
            return VersiveClient(self.api_key(), base_url=self.base_url, **options)
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc)) from None


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the API key from this file (default: $VERSIVE_API_KEY).",
)
@click.option("--base-url", help="API base URL (default: $VERSIVE_BASE_URL, then https://api.getversive.com).")
@click.option("--debug", is_flag=True, help="Log every request attempt and show tracebacks on errors.")
@click.version_option(__version__, prog_name="versive")
@click.pass_context
def cli(ctx: click.Context, api_key_file: Path | None, base_url: str | None, debug: bool) -> None:  # noqa: FBT001
    """Versive from a terminal: every operation of the API, and an interview per participant of a CSV file.

    Every operation is a command, `versive RESOURCE METHOD`, generated from the API's
    spec like the Python client's methods (`versive interviews get ID` is
    `versive.interviews.get(id)`); the answer is printed as JSON.
    The API key comes from $VERSIVE_API_KEY or --api-key-file and is never printed.
    """
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    ctx.obj = Settings(api_key_file, base_url, debug)


@cli.group(epilog=EXIT_CODES)
def interviews() -> None:
    """Interviews: create one or a batch, and every operation.

    `create` and `create-batch` are written for a terminal; the other commands are
    generated from the API's spec, one per operation.
    """


def _parse_metadata(pairs: Sequence[str], as_json: str | None) -> dict[str, Any] | None:
    metadata: dict[str, Any] = {}
    if as_json is not None:
        try:
            parsed = json.loads(as_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--metadata-json") from None
        if not isinstance(parsed, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--metadata-json")
        metadata.update(parsed)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--metadata")
        metadata[key] = value
    return metadata or None


@interviews.command("create", epilog=EXIT_CODES)
@click.option("--study-id", required=True, help="The study to create the interview for.")
@click.option("--title", help="The interview's title.")
@click.option("--language", default="English", show_default=True, help="The interview's language.")
@click.option("--metadata", "metadata_pairs", multiple=True, metavar="KEY=VALUE", help="Metadata entry; repeatable.")
@click.option("--metadata-json", metavar="JSON", help="Metadata as a JSON object (--metadata entries win).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole interview as JSON instead of its link.")
@click.pass_obj
def create(
    settings: Settings,
    *,
    study_id: str,
    title: str | None,
    language: str,
    metadata_pairs: tuple[str, ...],
    metadata_json: str | None,
    as_json: bool,
) -> None:
    """Create one interview; print its link (or, with --json, the interview)."""
    metadata = _parse_metadata(metadata_pairs, metadata_json)

    async def go() -> int:
        async with settings.client() as versive:
            # Only what was given is sent: an option left out is not a null.
            interview = await versive.create_interview(
                study_id=study_id,
                title=NOT_GIVEN if title is None else title,
                metadata=NOT_GIVEN if metadata is None else metadata,
                language=language,
            )
        click.echo(json.dumps(interview.to_dict(), indent=2) if as_json else interview.link)
        return 0

    _run(go)


def _results_file(_ctx: click.Context, _param: click.Parameter, out: Path) -> Path:
    """--out, refused as bad usage (before anything is read or sent) unless it can be written."""
    problem = out_problem(out)
    if problem is not None:
        raise click.BadParameter(f"File {str(out)!r} cannot be written: {problem}.")
    return out


@interviews.command("create-batch", epilog=EXIT_CODES)
@click.argument("participants", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--study-id", required=True, help="The study every interview belongs to.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    callback=_results_file,
    help="Results CSV file (new, empty, or an earlier run's to resume).",
)
@click.option("--id-column", default="participant_id", show_default=True, help="Column with the participant id.")
@click.option("--title-column", help="Column with each interview's title.")
@click.option("--language", default="English", show_default=True, help="The interviews' language.")
@click.option("--concurrency", default=16, show_default=True, type=click.IntRange(1, 256), help="Requests at once.")
@click.option(
    "--rate", type=click.FloatRange(min=0.01), help="At most this many requests per second, retries included."
)
@click.pass_obj
def create_batch(
    settings: Settings,
    *,
    participants: Path,
    study_id: str,
    out: Path,
    id_column: str,
    title_column: str | None,
    language: str,
    concurrency: int,
    rate: float | None,
) -> None:
    """Create one interview per row of PARTICIPANTS (a UTF-8 CSV file with a header; - for stdin).

    Every column except --title-column goes into the interview's metadata, under its
    header name (empty cells are left out); the participant id is always there.
    The whole file is checked first (id column present, ids non-empty and unique,
    UTF-8); if anything is wrong, nothing is sent.

    Requests go as fast as --concurrency allows until the API refuses some (429) or
    states its rate limit; then at the pace it accepts. --rate caps them.

    Each result is written to --out as soon as it is known, one row per participant:
    participant_id, study_id, interview_id, link, status, created_at, error.
    --out may be new, empty, or an earlier run's; one that cannot be written (its
    folder missing or read-only, a read-only file, a directory) is bad usage (exit 2),
    refused before anything is sent.

    Run the same command again after an interruption or failures: participants
    already in --out are skipped, whatever changed in their rows (a new title does
    not create a second interview for them); failed rows are retried (an --out for
    another study is refused).

    Each row's idempotency key is a digest of everything its request sends: the
    study id, title, language and metadata (every column). Unchanged rows send the same keys
    on every run, so a request in flight at a crash is not duplicated by a server
    that honours them. A row not yet in --out that changed since (a title, a cell,
    --language) is a new request with a new key: if the earlier one reached the
    server, that participant may get a second interview. (The Versive API does not
    document idempotency; the bundled fake honours it.)
    """
    for value, option in ((study_id, "--study-id"), (language, "--language"), (id_column, "--id-column")):
        if not value.strip():
            raise click.BadParameter("must not be empty", param_hint=option)
    spec = BatchSpec(participants, out, study_id, id_column, title_column, language)
    progress = _Progress()

    async def go() -> int:
        # aiohttp's faster pool when the aiohttp extra is installed.
        backend = "aiohttp" if importlib.util.find_spec("aiohttp") else "httpx"
        async with settings.client(http_backend=backend, max_connections=concurrency, max_retries=5) as versive:
            try:
                tally = await run_batch(
                    versive, spec, concurrency=concurrency, rate=rate, tally_out=progress.start, progress=progress.step
                )
            finally:
                progress.stop()
        elapsed = time.monotonic() - tally.started
        click.echo(
            f"created {tally.created}, failed {tally.failed}, skipped {tally.skipped} already in {out} "
            f"({tally.done / max(elapsed, 1e-9):.1f}/s over {elapsed:.1f} s)"
        )
        if tally.failed:
            click.echo(
                f"{tally.failed} row(s) failed; their reasons are in {out}. Rerun the same command to retry them."
            )
            return 1
        return 0

    _run(go, interrupted=progress.interrupted)


class _Progress:
    """A progress bar with rate and ETA on a terminal; a line every few seconds otherwise."""

    def __init__(self) -> None:
        self._tally: Tally | None = None
        self._bar: Any = None
        self._task: Any = None
        self._last_line = 0.0

    def start(self, tally: Tally) -> None:
        self._tally = tally
        if sys.stderr.isatty():
            from rich.console import Console  # noqa: PLC0415 - only on a terminal
            from rich.progress import (  # noqa: PLC0415 - only on a terminal
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("creating"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("batch", total=tally.total, rate="")
        else:
            _stderr(f"creating {tally.total} interview(s); {tally.skipped} already done")

    def step(self, tally: Tally) -> None:
        if self._bar is not None:
            elapsed = max(time.monotonic() - tally.started, 1e-9)
            self._bar.update(self._task, completed=tally.done, rate=f"{tally.done / elapsed:.1f}/s")
            return
        now = time.monotonic()
        if now - self._last_line >= 5.0 or tally.done == tally.total:  # noqa: PLR2004 - seconds between lines
            self._last_line = now
            elapsed = max(now - tally.started, 1e-9)
            _stderr(f"{tally.done}/{tally.total} done, {tally.failed} failed, {tally.done / elapsed:.1f}/s")

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def interrupted(self) -> None:
        self.stop()
        if self._tally is not None:
            _stderr(
                f"interrupted after {self._tally.done} row(s); results so far are saved. "
                "Rerun the same command to resume."
            )


@cli.command(epilog=EXIT_CODES)
@click.option("--json", "as_json", is_flag=True, help="Print the whole interview as JSON.")
def demo(as_json: bool) -> None:  # noqa: FBT001
    """Start the fake Versive on loopback and create an interview through the client over HTTP."""
    from versive_client.testing import FakeVersive  # noqa: PLC0415 - only this command serves the fake

    async def go() -> int:
        fake = FakeVersive(api_key="demo-key")
        # trust_env=False: the fake is on loopback, whatever proxy the environment names.
        async with fake.serve() as base_url, VersiveClient("demo-key", base_url=base_url, trust_env=False) as versive:
            click.echo(f"fake Versive listening on {base_url}", err=True)
            interview = await versive.create_interview(
                study_id="study_demo", title="Demo interview", metadata={"participant_id": "p-0001"}
            )
        if as_json:
            click.echo(json.dumps(interview.to_dict(), indent=2))
        else:
            click.echo(f"interview {interview.id} ({interview.status}, created {interview.created_at.isoformat()})")
            click.echo(f"link: {interview.link}")
        return 0

    _run(go)


@cli.command("fake-server", epilog=EXIT_CODES)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--api-key", "fake_api_key", metavar="KEY", help="Accept only this bearer token (default: any).")
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="PER_SECOND",
    help="Answer 429 above this many requests a second.",
)
@click.option(
    "--burst", default=10, show_default=True, type=click.IntRange(1), help="Requests at once under the limit."
)
@click.option("--no-rate-limit-headers", is_flag=True, help="Do not state the limit in RateLimit headers.")
@click.option("--webhook-url", metavar="URL", help="Send interview.completed webhooks to this URL.")
@click.option("--webhook-secret", metavar="SECRET", help="Sign webhooks with this Svix endpoint secret (whsec_...).")
@click.option(
    "--webhook-retry-delays",
    metavar="SECONDS,...",
    help="Retry a failed webhook after each of these delays (default: Svix's, 5 s up to 10 h).",
)
@click.option("--quiet", is_flag=True, help="Do not log requests.")
def fake_server(
    *,
    host: str,
    port: int,
    fake_api_key: str | None,
    rate_limit: float | None,
    burst: int,
    no_rate_limit_headers: bool,
    webhook_url: str | None,
    webhook_secret: str | None,
    webhook_retry_delays: str | None,
    quiet: bool,
) -> None:
    """Run the fake Versive; the first line of output is its base URL. Stops on Ctrl-C."""
    from versive_client.testing.__main__ import main as serve_main  # noqa: PLC0415

    args = ["--host", host, "--port", str(port)]
    if fake_api_key is not None:
        args += ["--api-key", fake_api_key]
    if rate_limit is not None:
        args += ["--rate-limit", str(rate_limit), "--burst", str(burst)]
    if no_rate_limit_headers:
        args.append("--no-rate-limit-headers")
    for option, value in [
        ("--webhook-url", webhook_url),
        ("--webhook-secret", webhook_secret),
        ("--webhook-retry-delays", webhook_retry_delays),
    ]:
        if value is not None:
            args += [option, value]
    if quiet:
        args.append("--quiet")
    sys.exit(serve_main(args))


def _run(go: Callable[[], Awaitable[int]], interrupted: Callable[[], None] | None = None) -> None:
    """Run a command's coroutine function; its errors become one line and an exit status.

    Everything a command prints happens inside `go`, in the event loop, so that one
    place maps every failure.
    """
    settings: Settings | None = click.get_current_context().find_object(Settings)

    async def guarded() -> int:
        try:
            return await go()
        except (VersiveError, InputError, ConfigError, TypeError, ValueError) as exc:
            # TypeError and ValueError: the client refused an argument before sending anything.
            if settings is not None and settings.debug:
                traceback.print_exc()
            _stderr(f"error: {exc}")
            return _exit_status(exc)

    try:
        # asyncio itself rather than anyio.run: the command is asyncio-only (aiohttp), and
        # importing anyio's asyncio backend adds about 15 ms to every command's start-up.
        status = asyncio.run(guarded())
    except KeyboardInterrupt:
        if interrupted is not None:
            interrupted()
        status = 130
    if status:
        sys.exit(status)


def _exit_status(exc: Exception) -> int:
    if isinstance(exc, WaitTimeoutError):
        return 5
    if isinstance(exc, VersiveError):
        return 1
    if isinstance(exc, InputError):
        return 3
    if isinstance(exc, ConfigError):
        return 4
    return 2


def _stderr(text: str) -> None:
    click.echo(text, err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `versive` console script."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="versive", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0


def _call_operation(operation: Operation, arguments: list[object], options: dict[str, object]) -> None:
    """Call `operation`'s method through the client and print its answer as JSON (nothing for none)."""
    _call_method(operation.resource, operation.verb, arguments, options)


def _call_waiter(waiter: Waiter, arguments: list[object], options: dict[str, object]) -> None:
    """Wait with `waiter`'s method through the client and print the final answer as JSON."""
    _call_method(waiter.operation.resource, waiter.name, arguments, options)


def _call_method(resource: str, name: str, arguments: list[object], options: dict[str, object]) -> None:
    settings: Settings = click.get_current_context().obj

    async def go() -> int:
        async with settings.client() as versive:
            method = getattr(getattr(versive, resource), name)
            answer = await method(*arguments, **options)
        if answer is not None:
            click.echo(json.dumps(_as_json(answer), indent=2))
        return 0

    _run(go)


def _as_json(answer: object) -> object:
    """A model as its ``to_dict()`` (datetimes as ISO strings), a list of them as a list; JSON as it is."""
    if isinstance(answer, list):
        return [_as_json(item) for item in answer]
    to_dict = getattr(answer, "to_dict", None)
    return to_dict() if callable(to_dict) else answer


# Last: the hand-written commands above are already in place and keep their names.
add_operation_commands(cli, _call_operation, EXIT_CODES)
add_waiter_commands(cli, _call_waiter, EXIT_CODES)

"""create-batch: one interview per CSV row, checked first, paced, streamed, resumable.

The input is read twice, never held whole: once to check every row before anything is
sent, once to send. Each result is written and flushed as soon as it is known, so a run
killed at any moment leaves a results file that says exactly what was created. A rerun
keeps the successful rows, retries the rest, and derives each row's idempotency key
from the study and participant id, so a request in flight at the crash is not
duplicated by a server that honours the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import os
import time
from collections import deque
from typing import IO, TYPE_CHECKING

from attrs import define, field

from versive_client import VersiveError

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Sequence
    from pathlib import Path

    from versive_client import Attempt, VersiveClient
    from versive_client.models import Interview

RESULT_COLUMNS = ("participant_id", "interview_id", "link", "status", "created_at", "error")
MAX_PROBLEMS_SHOWN = 20


class InputError(Exception):
    """The input file cannot be used; nothing was sent. The message lists the problems with line numbers."""


@define
class BatchSpec:
    """What to create: the input, where results go, and the columns that matter."""

    source: Path
    out: Path
    study_id: str
    id_column: str = "participant_id"
    title_column: str | None = None
    language: str = "English"


@define
class Row:
    """One participant to create an interview for."""

    participant_id: str
    title: str | None
    metadata: dict[str, str]


def idempotency_key(study_id: str, participant_id: str) -> str:
    """The same key for the same study and participant, on every run."""
    digest = hashlib.sha256(f"{study_id}\0{participant_id}".encode()).hexdigest()
    return f"versive-batch-{digest[:40]}"


@contextlib.contextmanager
def _open_csv(path: Path) -> Iterator[IO[str]]:
    try:
        # utf-8-sig: spreadsheets often start UTF-8 CSV files with a byte-order mark.
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        yield handle


def check_input(spec: BatchSpec) -> set[str]:
    """Read the whole input once and refuse it, listing every problem, unless every row is usable.

    Returns the participant ids.
    """
    problems: list[str] = []
    seen: dict[str, int] = {}
    rows = 0
    with _open_csv(spec.source) as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, [])
            _check_header(spec, header)
            width = len(header)
            id_index = header.index(spec.id_column)
            for record in reader:
                if not record:  # a blank line
                    continue
                rows += 1
                line = reader.line_num
                if len(record) > width:
                    problems.append(f"line {line}: more fields than the header has columns")
                participant = record[id_index].strip() if id_index < len(record) else ""
                if not participant:
                    problems.append(f"line {line}: empty {spec.id_column}")
                elif participant in seen:
                    problems.append(
                        f"line {line}: duplicate {spec.id_column} {participant!r} (first on line {seen[participant]})"
                    )
                else:
                    seen[participant] = line
        except csv.Error as exc:
            raise InputError(f"{spec.source}: line {reader.line_num}: not valid CSV: {exc}") from None
        except UnicodeDecodeError:
            # Decoding goes block by block; find the line for the message.
            _check_utf8(spec.source)
            raise  # pragma: no cover - _check_utf8 finds what the decoder found
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        tail = f"\n  ... and {more} more" if more else ""
        raise InputError(
            f"{spec.source}: {len(problems)} problem(s); nothing was sent:\n  " + "\n  ".join(shown) + tail
        )
    if rows == 0:
        raise InputError(f"{spec.source}: no rows after the header")
    return set(seen)


def _check_utf8(path: Path) -> None:
    """Refuse a file that is not UTF-8, naming the line (the csv reader decodes in blocks)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        for line, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}: line {line}: not UTF-8 ({exc.reason} at column {exc.start + 1}); "
                    "save the file as UTF-8 CSV"
                ) from None


def _check_header(spec: BatchSpec, columns: Sequence[str]) -> None:
    if not columns:
        raise InputError(f"{spec.source}: the file is empty; expected a header row")
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        # Each column becomes a metadata key: two of the same name would lose one.
        raise InputError(f"{spec.source}: the header names {', '.join(map(repr, repeated))} more than once")
    for needed, flag in ((spec.id_column, "--id-column"), (spec.title_column, "--title-column")):
        if needed is not None and needed not in columns:
            raise InputError(f"{spec.source}: no column {needed!r} ({flag}); the header has: {', '.join(columns)}")


def read_rows(spec: BatchSpec, skip: set[str]) -> Generator[Row]:
    """The input's rows (already checked), except the participants in `skip`."""
    with _open_csv(spec.source) as handle:
        reader = csv.reader(handle)
        header = next(reader)
        id_index = header.index(spec.id_column)
        title_index = header.index(spec.title_column) if spec.title_column else None
        for record in reader:
            if not record:  # a blank line
                continue
            participant = record[id_index].strip()
            if participant in skip:
                continue
            title = None
            if title_index is not None and title_index < len(record):
                title = record[title_index].strip() or None
            # Short rows lack their last columns (zip stops there); empty cells are left out.
            metadata = {
                column: value
                for column, value in zip(header, record, strict=False)
                if value and column != spec.title_column
            }
            metadata[spec.id_column] = participant
            yield Row(participant, title, metadata)


def resume_results(out: Path) -> set[str]:
    """Keep the successful rows of an earlier run's results file, drop the rest; return who is done.

    The file is rewritten (atomically) with only those rows, so each participant ends
    with exactly one row. A row cut short by a crash counts as not done.
    """
    if not out.exists():
        return set()
    done: set[str] = set()
    with out.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != RESULT_COLUMNS:
            raise InputError(
                f"{out}: exists but is not a results file (expected the columns {', '.join(RESULT_COLUMNS)}); "
                "choose another --out or remove it"
            )
        kept = out.with_name(f".{out.name}.resume")
        with kept.open("w", encoding="utf-8", newline="") as rewritten:
            writer = csv.writer(rewritten)
            writer.writerow(RESULT_COLUMNS)
            for record in reader:
                participant = record.get("participant_id") or ""
                complete = None not in record and all(record.get(c) is not None for c in RESULT_COLUMNS)
                if complete and record["interview_id"] and not record["error"] and participant not in done:
                    writer.writerow([record[c] for c in RESULT_COLUMNS])
                    done.add(participant)
            rewritten.flush()
            os.fsync(rewritten.fileno())
    kept.replace(out)
    return done


@define
class Pace:
    """Requests per second for the whole batch: `rate` if given, halved on each 429, recovering after.

    Without `rate` the batch runs unpaced until a 429, then paces at half the rate it
    was achieving, and speeds up again by 10% for each second without a 429.
    """

    rate: float | None = None
    _limit: float | None = field(init=False)
    _next: float = field(init=False, factory=time.monotonic)
    _recent: deque[float] = field(init=False, factory=deque)
    _last_slowdown: float = field(init=False, default=0.0)
    _last_change: float = field(init=False, default=0.0)

    def __attrs_post_init__(self) -> None:
        """Start at the configured rate (or unpaced)."""
        self._limit = self.rate

    @property
    def current(self) -> float | None:
        """Requests per second allowed now; None when unpaced."""
        return self._limit

    async def wait_turn(self) -> None:
        """Wait until the pace allows one more request."""
        if self._limit is None:
            return
        now = time.monotonic()
        self._next = max(self._next, now)
        wait = self._next - now
        self._next += 1.0 / self._limit
        if wait > 0:
            await asyncio.sleep(wait)

    def succeeded(self) -> None:
        """Note a success: recover towards the configured rate."""
        now = time.monotonic()
        self._recent.append(now)
        while self._recent and self._recent[0] < now - 5.0:
            self._recent.popleft()
        if self._limit is None or now - self._last_change < 1.0:
            return  # at most one step up per second
        self._last_change = now
        recovered = self._limit * 1.1
        if self.rate is not None:
            self._limit = min(self.rate, recovered)
        elif now - self._last_slowdown > 60.0:  # noqa: PLR2004 - a minute without 429s: unpaced again
            self._limit = None
        else:
            self._limit = recovered

    def observe(self, attempt: Attempt) -> None:
        """A client's `on_attempt` hook: each attempt answered 429 slows the pace."""
        if attempt.status_code == 429:  # noqa: PLR2004 - Too Many Requests
            self.rate_limited()

    def rate_limited(self) -> None:
        """Note a 429: halve the pace."""
        now = time.monotonic()
        if now - self._last_slowdown < 1.0 and self._limit is not None:
            return  # one slowdown per second, however many requests saw the same 429 burst
        achieved = len(self._recent) / 5.0 if self._recent else 1.0
        base = self._limit if self._limit is not None else max(achieved, 1.0)
        self._limit = max(0.1, base / 2.0)
        self._last_slowdown = self._last_change = now


@define
class Tally:
    """Counts for the progress display and the summary."""

    total: int
    skipped: int
    created: int = 0
    failed: int = 0
    started: float = field(factory=time.monotonic)

    @property
    def done(self) -> int:
        """Rows finished in this run, created or failed."""
        return self.created + self.failed


async def run_batch(
    client: VersiveClient,
    spec: BatchSpec,
    *,
    concurrency: int,
    pace: Pace,
    tally_out: Callable[[Tally], None],
    progress: Callable[[Tally], None],
) -> Tally:
    """Create the interviews; `progress` is called after each row, `tally_out` once counts are known."""
    participants = check_input(spec)
    done = resume_results(spec.out)
    tally = Tally(total=len(participants - done), skipped=len(participants & done))
    tally_out(tally)
    with spec.out.open("a", encoding="utf-8", newline="") as handle:
        results = _Results(handle, tally, progress)

        rows = read_rows(spec, done)

        async def work() -> None:
            # The workers share one iterator over the input: each takes the next row when it
            # is free. (The iterator never awaits, so no two workers are ever inside it.)
            for row in rows:
                await pace.wait_turn()
                try:
                    interview = await client.create_interview(
                        spec.study_id,
                        title=row.title,
                        metadata=row.metadata,
                        language=spec.language,
                        idempotency_key=idempotency_key(spec.study_id, row.participant_id),
                    )
                except VersiveError as exc:
                    results.failed(row, " ".join(str(exc).split()))
                else:
                    pace.succeeded()
                    results.created(row, interview)

        try:
            async with asyncio.TaskGroup() as tasks:
                for _ in range(concurrency):
                    tasks.create_task(work())
        finally:
            rows.close()  # closes the input file, also when the run is cancelled
    return tally


class _Results:
    """The results file: a header when new, then one row per participant, flushed as it is written."""

    def __init__(self, handle: IO[str], tally: Tally, progress: Callable[[Tally], None]) -> None:
        self._handle = handle
        self._writer = csv.writer(handle)
        self._tally = tally
        self._progress = progress
        if handle.tell() == 0:
            self._writer.writerow(RESULT_COLUMNS)
            handle.flush()

    def created(self, row: Row, interview: Interview) -> None:
        """Record an interview created for `row`."""
        created_at = interview.created_at.isoformat()
        self._write([row.participant_id, interview.id, interview.link, interview.status, created_at, ""])
        self._tally.created += 1
        self._progress(self._tally)

    def failed(self, row: Row, error: str) -> None:
        """Record why `row` failed."""
        self._write([row.participant_id, "", "", "", "", error])
        self._tally.failed += 1
        self._progress(self._tally)

    def _write(self, values: list[str]) -> None:
        # One write and one flush per row, with no await between: a kill loses at most
        # the rows still in flight, never half of one that was reported.
        self._writer.writerow(values)
        self._handle.flush()

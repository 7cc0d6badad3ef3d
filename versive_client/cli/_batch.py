"""create-batch: one interview per CSV row, checked first, then sent through VersiveClient.create_interviews.

The input is read twice, never held whole: once to check every row before anything is
sent, once to send (input from a pipe or stdin is copied to a temporary file as it is
checked). Each result is written and flushed as soon as it is known, so a run killed at
any moment leaves a results file that says exactly what was created, and for which
study. A rerun keeps the successful rows and retries the rest. Each row's idempotency
key is a digest of its whole request (study, title, language, metadata), so a request
in flight at a crash is not duplicated by a server that honours the key, and a row
changed since is a new request, not a used key with another body.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import os
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from attrs import define, field

from versive_client.bulk import Pacer, content_key

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Sequence

    from versive_client import VersiveClient
    from versive_client.models import Interview

RESULT_COLUMNS = ("participant_id", "study_id", "interview_id", "link", "status", "created_at", "error")
STDIN = Path("-")
MAX_PROBLEMS_SHOWN = 20
BLANK_SIZE_LIMIT = 4096  # bytes: larger is not a file left empty by `touch`, `echo >` or an editor


class InputError(Exception):
    """The input file cannot be used; nothing was sent. The message lists the problems with line numbers."""


@define
class BatchSpec:
    """What to create: the input, where results go, and the columns that matter.

    `source` is the input as given (``-`` for stdin), named in messages; `readable` is the
    file read, the same unless the input had to be copied to be read twice.
    """

    source: Path
    out: Path
    study_id: str
    id_column: str = "participant_id"
    title_column: str | None = None
    language: str = "English"
    readable: Path | None = None


@define
class Row:
    """One participant to create an interview for."""

    participant_id: str
    title: str | None
    metadata: dict[str, str]

    def arguments(self, spec: BatchSpec) -> dict[str, Any]:
        """This row as an item for ``create_interviews``: create_interview's arguments (no title when it has none)."""
        arguments: dict[str, Any] = {"study_id": spec.study_id, "metadata": self.metadata, "language": spec.language}
        if self.title is not None:
            arguments["title"] = self.title
        # A digest of everything sent: the same row sends the same key on every run, and
        # a changed row a new one, never a used key with another body.
        arguments["idempotency_key"] = content_key(arguments)
        return arguments


@contextlib.contextmanager
def _open_csv(path: Path) -> Iterator[IO[str]]:
    try:
        # utf-8-sig: spreadsheets often start UTF-8 CSV files with a byte-order mark.
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        yield handle


@contextlib.contextmanager
def readable_twice(spec: BatchSpec) -> Iterator[BatchSpec]:
    """`spec` with an input that can be read twice: the file itself, or a temporary copy of a pipe or stdin."""
    if spec.source != STDIN:
        try:
            regular = stat.S_ISREG(spec.source.stat().st_mode)
        except OSError as exc:
            raise InputError(f"{spec.source}: cannot read: {exc.strerror}") from None
        if regular:
            yield spec
            return
    with tempfile.TemporaryDirectory(prefix="versive-batch-") as scratch:
        copy = Path(scratch) / "input.csv"
        with contextlib.ExitStack() as closing:
            raw = sys.stdin.buffer if spec.source == STDIN else closing.enter_context(spec.source.open("rb"))
            with copy.open("wb") as written:
                shutil.copyfileobj(raw, written)
        spec.readable = copy
        yield spec


def check_input(spec: BatchSpec) -> set[str]:
    """Read the whole input once and refuse it, listing every problem, unless every row is usable.

    Returns the participant ids.
    """
    problems: list[str] = []
    seen: dict[str, int] = {}
    rows = 0
    with _open_csv(spec.readable or spec.source) as handle:
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
            _check_utf8(spec.readable or spec.source, spec.source)
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


def _check_utf8(path: Path, name: Path) -> None:
    """Refuse a file that is not UTF-8, naming the line (the csv reader decodes in blocks)."""
    with path.open("rb") as handle:
        for line, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{name}: line {line}: not UTF-8 ({exc.reason} at column {exc.start + 1}); "
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
    with _open_csv(spec.readable or spec.source) as handle:
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


def out_problem(out: Path) -> str | None:
    """Why `out` cannot be the results file, or None: checked before anything is sent.

    The option's type checks the file itself when it exists (not a directory, readable,
    writable); this checks the rest: that it is a regular file (it is read and rewritten
    on a rerun), and that its folder exists and can be written (a new results file is
    created there; a rerun rewrites the file beside itself).
    """
    mode = _mode(out)
    if mode is not None and not stat.S_ISREG(mode):
        return "it is not a regular file"
    folder = out.parent
    mode = _mode(folder)
    if mode is None:
        return f"the folder {str(folder)!r} does not exist"
    if not stat.S_ISDIR(mode):
        return f"{str(folder)!r} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {str(folder)!r} is not writable"
    return None


def _mode(path: Path) -> int | None:
    """The file type and permissions of `path`, None when there is none to see."""
    try:
        return path.stat().st_mode
    except OSError:
        return None


def resume_results(out: Path, study_id: str) -> set[str]:
    """Keep the successful rows of an earlier run's results file, drop the rest; return who is done.

    The file is rewritten (atomically) with only those rows, so each participant ends
    with exactly one row. A row cut short by a crash counts as not done. A file written
    for another study is refused: its participants are not this study's. An empty file
    (or only whitespace) is a new results file: made beforehand, with ``touch`` or ``echo >``.
    """
    if not out.exists():
        return set()
    records = [] if _blank(out) else _read_results(out)
    other = next((record["study_id"] for record in records if record["study_id"] != study_id), None)
    if other is not None:
        raise InputError(
            f"{out}: holds results for study {other!r}, not {study_id!r}: choose another --out for this study, "
            f"or resume with --study-id {other}"
        )
    done: set[str] = set()
    kept = out.with_name(f".{out.name}.resume")
    with kept.open("w", encoding="utf-8", newline="") as rewritten:
        writer = csv.writer(rewritten)
        writer.writerow(RESULT_COLUMNS)
        for record in records:
            participant = record["participant_id"]
            if record["interview_id"] and not record["error"] and participant not in done:
                writer.writerow([record[column] for column in RESULT_COLUMNS])
                done.add(participant)
        rewritten.flush()
        os.fsync(rewritten.fileno())
    kept.replace(out)
    return done


def _blank(path: Path) -> bool:
    """Whether the file holds nothing but whitespace (and perhaps a byte-order mark)."""
    if path.stat().st_size > BLANK_SIZE_LIMIT:
        return False
    return not path.read_bytes().removeprefix(codecs.BOM_UTF8).strip()


def _read_results(out: Path) -> list[dict[str, str]]:
    """The complete rows of a results file; refused unless its header is a results file's."""
    # utf-8-sig: a results file saved again by a spreadsheet may start with a byte-order mark.
    with out.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != RESULT_COLUMNS:
            raise InputError(
                f"{out}: exists but is not a results file (expected the columns {', '.join(RESULT_COLUMNS)}); "
                "choose another --out or remove it"
            )
        return [record for record in reader if None not in record and None not in record.values()]


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
    rate: float | None,
    tally_out: Callable[[Tally], None],
    progress: Callable[[Tally], None],
) -> Tally:
    """Create the interviews; `progress` is called after each row, `tally_out` once counts are known.

    `rate` caps requests per second, retries included; under it, the pace follows the API.
    """
    with readable_twice(spec):
        participants = check_input(spec)
        try:
            done = resume_results(spec.out, spec.study_id)
            handle = spec.out.open("a", encoding="utf-8", newline="")
        except OSError as exc:
            # The command checked --out before it started; this is --out changed since.
            raise InputError(f"{spec.out}: cannot write: {exc.strerror}") from None
        with handle:
            tally = Tally(total=len(participants - done), skipped=len(participants & done))
            tally_out(tally)
            results = _Results(handle, spec.study_id, tally, progress)
            rows = read_rows(spec, done)
            items = (row.arguments(spec) for row in rows)
            try:
                async with client.create_interviews(items, concurrency=concurrency, pacer=Pacer(rate)) as outcomes:
                    async for outcome in outcomes:
                        participant = outcome.input["metadata"][spec.id_column]
                        if outcome.interview is not None:
                            results.created(participant, outcome.interview)
                        else:
                            results.failed(participant, " ".join(str(outcome.error).split()))
            finally:
                rows.close()  # closes the input file, also when the run is cancelled
    return tally


class _Results:
    """The results file: a header when new, then one row per participant, flushed as it is written."""

    def __init__(self, handle: IO[str], study_id: str, tally: Tally, progress: Callable[[Tally], None]) -> None:
        self._handle = handle
        self._writer = csv.writer(handle)
        self._study_id = study_id
        self._tally = tally
        self._progress = progress
        if handle.tell() == 0:
            self._writer.writerow(RESULT_COLUMNS)
            handle.flush()

    def created(self, participant: str, interview: Interview) -> None:
        """Record an interview created for `participant`."""
        created_at = interview.created_at.isoformat()
        self._write([participant, self._study_id, interview.id, interview.link, interview.status, created_at, ""])
        self._tally.created += 1
        self._progress(self._tally)

    def failed(self, participant: str, error: str) -> None:
        """Record why `participant`'s interview could not be created."""
        self._write([participant, self._study_id, "", "", "", "", error])
        self._tally.failed += 1
        self._progress(self._tally)

    def _write(self, values: list[str]) -> None:
        # One write and one flush per row, with no await between: a kill loses at most
        # the rows still in flight, never half of one that was reported.
        self._writer.writerow(values)
        self._handle.flush()

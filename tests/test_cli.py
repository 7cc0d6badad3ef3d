"""The `versive` command, run as a person or a script runs it, against the fake or a recording server on loopback."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import click
import httpx
import pytest

from versive_client import VersiveClient, __version__
from versive_client._generated.operations import OPERATIONS, Operation, Param
from versive_client.bulk import content_key
from versive_client.cli import main
from versive_client.cli._batch import RESULT_COLUMNS, BatchSpec, InputError, run_batch
from versive_client.cli._operations import SpecValue, add_operation_commands, operation_command
from versive_client.testing import FakeVersive, RateLimit, RecordedRequest, faults

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

KEY = "cli-secret-key"


@pytest.fixture
def fake() -> Iterator[tuple[FakeVersive, dict[str, str]]]:
    """A fake on loopback and the environment that points the command at it."""
    served = FakeVersive(api_key=KEY, seed=3)
    with served.serve_in_thread() as base_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VERSIVE_")}
        env.update(VERSIVE_API_KEY=KEY, VERSIVE_BASE_URL=base_url)
        yield served, env


def versive(
    *args: str | Path, env: dict[str, str] | None = None, wrapper: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run `python -m versive_client ARGS` (under `wrapper`, a command that runs another)."""
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "versive_client", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )


def write_participants(path: Path, count: int, *, extra: list[list[str]] | None = None) -> Path:
    """A participants CSV with `count` rows (participant_id, email, cohort, name)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_id", "email", "cohort", "name"])
        for n in range(count):
            writer.writerow([f"p-{n:05d}", f"p{n}@example.com", "A" if n % 2 else "", f"Person {n}"])
        for row in extra or []:
            writer.writerow(row)
    return path


def read_results(path: Path) -> list[dict[str, str]]:
    """The results file's rows."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def interviews_per_participant(fake: FakeVersive) -> Counter[str]:
    """How many interviews the fake holds for each participant id."""
    counts: Counter[str] = Counter()
    for interview in fake.interviews:
        metadata = interview.to_dict()["metadata"]
        counts[metadata["participant_id"]] += 1
    return counts


def assert_complete(fake: FakeVersive, results: Path, count: int) -> None:
    """Every participant has exactly one interview in the fake and exactly one successful results row."""
    per_participant = interviews_per_participant(fake)
    assert len(per_participant) == count
    assert set(per_participant.values()) == {1}, "no participant has two interviews"
    rows = read_results(results)
    assert len(rows) == count
    assert len({row["participant_id"] for row in rows}) == count
    assert all(row["interview_id"] and not row["error"] for row in rows)
    links = {interview.link for interview in fake.interviews}
    assert {row["link"] for row in rows} == links


def test_create_prints_the_link(fake: tuple[FakeVersive, dict[str, str]]) -> None:
    """`interviews create` prints the new interview's link, and nothing else on stdout."""
    served, env = fake
    result = versive("interviews", "create", "--study-id", "study_1", "--title", "Hello", env=env)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"https://getversive\.com/s/study_1\?vid=vid_[0-9a-f]+\n", result.stdout)
    assert served.interviews[0].title == "Hello"


def test_create_json_with_metadata(fake: tuple[FakeVersive, dict[str, str]]) -> None:
    """--json prints the interview; --metadata KEY=VALUE entries win over --metadata-json."""
    served, env = fake
    result = versive(
        "interviews", "create", "--study-id", "s", "--language", "German", "--json",
        "--metadata-json", '{"team": "ops", "wave": 2}', "--metadata", "wave=3", "--metadata", "p=p-1",
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    interview = json.loads(result.stdout)
    assert interview["metadata"] == {"team": "ops", "wave": "3", "p": "p-1"}
    assert served.requests[0].body["language"] == "German"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["interviews", "create"], "Missing option '--study-id'"),
        (["interviews", "create", "--study-id", "s", "--metadata", "novalue"], "'novalue' is not KEY=VALUE"),
        (["interviews", "create", "--study-id", "s", "--metadata-json", "[1]"], "must be a JSON object"),
        (["interviews", "create", "--study-id", "s", "--metadata-json", "{"], "not JSON"),
        (["interviews", "create", "--study-id", " "], "study_id must not be empty"),
        (
            ["interviews", "create-batch", "x.csv", "--study-id", "s", "--out", "o.csv", "--concurrency", "0"],
            "Invalid value for '--concurrency': 0 is not in the range 1<=x<=256",
        ),
        (["interviews", "nope"], "No such command 'nope'"),
        (["interviews", "create-batch", "x.csv", "--study-id", " ", "--out", "o.csv"], "--study-id: must not be empty"),
    ],
)
def test_bad_usage_exits_2_before_sending(
    fake: tuple[FakeVersive, dict[str, str]], args: list[str], message: str
) -> None:
    """Bad arguments: exit 2, a message naming the problem, no traceback, nothing sent."""
    served, env = fake
    result = versive(*args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert served.requests == []


def test_no_api_key_exits_4(fake: tuple[FakeVersive, dict[str, str]]) -> None:
    """Without VERSIVE_API_KEY or --api-key-file: exit 4 and one line saying how to give one."""
    _, env = fake
    del env["VERSIVE_API_KEY"]
    result = versive("interviews", "create", "--study-id", "s", env=env)
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == ["error: no API key: pass api_key=... or set VERSIVE_API_KEY"]


def test_the_key_can_come_from_a_file_and_is_never_printed(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path
) -> None:
    """--api-key-file works; neither output nor --debug logs show the key."""
    _, env = fake
    del env["VERSIVE_API_KEY"]
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    result = versive("--debug", "--api-key-file", key_file, "interviews", "create", "--study-id", "s", env=env)
    assert result.returncode == 0, result.stderr
    assert "POST /api/v1/interviews -> 200 (attempt 1)" in result.stderr
    assert KEY not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("", "is empty")],
)
def test_a_bad_key_file_exits_4(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path, content: str | None, message: str
) -> None:
    """A missing or empty key file is a configuration error."""
    _, env = fake
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content)
    result = versive("--api-key-file", key_file, "interviews", "create", "--study-id", "s", env=env)
    assert result.returncode == 4
    assert message in result.stderr


def test_an_api_error_is_one_line_unless_debug(fake: tuple[FakeVersive, dict[str, str]]) -> None:
    """A refused request: exit 1 with one line; --debug adds the traceback."""
    _, env = fake
    env["VERSIVE_API_KEY"] = "wrong"
    result = versive("interviews", "create", "--study-id", "s", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: POST /api/v1/interviews answered 401 Unauthorized: Invalid authentication credentials"
    ]
    debug = versive("--debug", "interviews", "create", "--study-id", "s", env=env)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_help_documents_the_exit_codes() -> None:
    """--help lists the exit statuses."""
    result = versive("interviews", "create-batch", "--help")
    assert result.returncode == 0
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130"):
        assert f"  {code}" in result.stdout
    assert "Every column except --title-column goes into the interview's metadata" in result.stdout


def test_the_batch_help_says_what_the_key_covers_in_plain_paragraphs() -> None:
    """create-batch --help says what the idempotency key covers and what a changed row means; no stray markup."""
    result = versive("interviews", "create-batch", "--help")
    assert "\\b" not in result.stdout  # click's no-rewrap marker, printed when the docstring was raw
    text = " ".join(result.stdout.split())
    assert "digest of everything its request sends: the study id, title, language and metadata (every column)" in text
    assert "a new title does not create a second interview for them" in text


def test_demo_prints_an_interview() -> None:
    """`versive demo` needs no key: it serves the fake and creates an interview over HTTP."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERSIVE_")}
    result = versive("demo", env=env)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^link: https://getversive\.com/s/study_demo\?vid=vid_[0-9a-f]+$", result.stdout, re.MULTILINE)
    assert "fake Versive listening on http://127.0.0.1:" in result.stderr


def test_fake_server_prints_its_url_and_stops_on_sigterm() -> None:
    """`versive fake-server --port 0`: the first line is the URL; SIGTERM stops it with status 0."""
    process = subprocess.Popen(
        [sys.executable, "-m", "versive_client", "fake-server", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+\n", process.stdout.readline())
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    process.stdout.close()
    assert process.stderr is not None
    process.stderr.close()


def test_a_batch_creates_one_interview_per_row(fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path) -> None:
    """1,000 rows: 1,000 distinct links; metadata holds the columns; a rerun creates nothing."""
    served, env = fake
    participants = write_participants(tmp_path / "participants.csv", 1000)
    out = tmp_path / "results.csv"

    result = versive("interviews", "create-batch", participants, "--study-id", "st", "--out", out,
                     "--title-column", "name", env=env)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "created 1000, failed 0, skipped 0" in result.stdout
    assert "1000/1000 done, 0 failed" in result.stderr
    assert_complete(served, out, 1000)
    first = next(i for i in served.interviews if i.to_dict()["metadata"]["participant_id"] == "p-00001")
    assert first.title == "Person 1"
    assert first.to_dict()["metadata"] == {"participant_id": "p-00001", "email": "p1@example.com", "cohort": "A"}
    body = {"study_id": "st", "title": "Person 1", "language": "English", "metadata": first.to_dict()["metadata"]}
    assert served.attempts(content_key(body)) == 1

    again = versive("interviews", "create-batch", participants, "--study-id", "st", "--out", out, env=env)
    assert again.returncode == 0
    assert "created 0, failed 0, skipped 1000" in again.stdout
    assert len(served.interviews) == 1000


def keys_by_participant(requests: Sequence[RecordedRequest]) -> dict[str, str | None]:
    """Each participant's ``Idempotency-Key``, as the fake recorded the requests."""
    return {request.body["metadata"]["participant_id"]: request.idempotency_key for request in requests}


def change_row(participants: Path, participant: str, column: str, value: str) -> None:
    """Set one cell of the participants CSV."""
    with participants.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["participant_id"] == participant:
            row[column] = value
    with participants.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_the_same_rows_send_the_same_keys_on_every_run(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path
) -> None:
    """Two runs of the same rows (each with a new --out) send the same keys: the second run's answers are replays."""
    served, env = fake
    participants = write_participants(tmp_path / "p.csv", 20)
    batch = ("interviews", "create-batch", participants, "--study-id", "st", "--title-column", "name")
    # Each run in a process of its own, with its own str hash: the key must not depend on it.
    first = versive(*batch, "--out", tmp_path / "first.csv", env={**env, "PYTHONHASHSEED": "1"})
    assert first.returncode == 0, first.stderr
    sent = len(served.requests)
    second = versive(*batch, "--out", tmp_path / "second.csv", env={**env, "PYTHONHASHSEED": "2"})
    assert second.returncode == 0, second.stderr

    first_keys = keys_by_participant(served.requests[:sent])
    assert keys_by_participant(served.requests[sent:]) == first_keys
    assert len(set(first_keys.values())) == 20
    body = {"study_id": "st", "title": "Person 1", "language": "English",
            "metadata": {"participant_id": "p-00001", "email": "p1@example.com", "cohort": "A"}}  # fmt: skip
    assert first_keys["p-00001"] == content_key(body), "a digest of the request body, computed alike anywhere"
    assert len(served.interviews) == 20
    ids = [sorted(row["interview_id"] for row in read_results(tmp_path / name)) for name in ("first.csv", "second.csv")]
    assert ids[0] == ids[1]


@pytest.mark.parametrize(
    ("column", "value", "args"),
    [
        ("name", "Someone else", []),
        ("email", "new@example.com", []),
        ("cohort", "B", []),
        (None, "", ["--language", "German"]),
    ],
    ids=["title", "metadata", "empty cell filled", "language"],
)
def test_a_changed_row_gets_a_new_key(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path, column: str | None, value: str, args: list[str]
) -> None:
    """The key covers everything sent: a changed title, cell or language is a new key; unchanged rows keep theirs."""
    served, env = fake
    participants = write_participants(tmp_path / "p.csv", 4)
    batch = ("interviews", "create-batch", participants, "--study-id", "st", "--title-column", "name")
    assert versive(*batch, "--out", tmp_path / "first.csv", env=env).returncode == 0
    sent = len(served.requests)
    if column is not None:
        change_row(participants, "p-00000", column, value)
    second = versive(*batch, "--out", tmp_path / "second.csv", *args, env=env)
    assert second.returncode == 0, second.stderr

    before, after = keys_by_participant(served.requests[:sent]), keys_by_participant(served.requests[sent:])
    changed = {participant for participant in before if before[participant] != after[participant]}
    assert changed == ({"p-00000"} if column is not None else set(before))


def test_a_failed_row_changed_before_the_rerun_is_created_not_refused(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path
) -> None:
    """A row whose answer was lost, then edited: the rerun sends it under a new key, so it is created, not refused."""
    served, env = fake
    served.faults.queue(*[faults.BadContentEncoding()] * 6)  # the first row is created; each answer is lost
    participants = write_participants(tmp_path / "p.csv", 3)
    out = tmp_path / "o.csv"
    batch = ("interviews", "create-batch", participants, "--study-id", "s", "--out", out, "--title-column", "name",
             "--concurrency", "1")  # fmt: skip
    assert versive(*batch, env=env).returncode == 1
    (failed,) = [row["participant_id"] for row in read_results(out) if row["error"]]

    change_row(participants, failed, "name", "Renamed")
    rerun = versive(*batch, env=env)

    assert rerun.returncode == 0, rerun.stderr
    assert "created 1, failed 0, skipped 2" in rerun.stdout
    (row,) = [row for row in read_results(out) if row["participant_id"] == failed]
    assert next(i for i in served.interviews if i.id == row["interview_id"]).title == "Renamed"
    # The first run's request did create one, unseen: the cost of editing a row that failed.
    assert interviews_per_participant(served)[failed] == 2


def test_a_changed_row_already_in_the_results_is_not_sent_again(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path
) -> None:
    """A rerun with the same --out skips participants already created, whatever changed in their rows."""
    served, env = fake
    participants = write_participants(tmp_path / "p.csv", 3)
    batch = ("interviews", "create-batch", participants, "--study-id", "s", "--out", tmp_path / "o.csv",
             "--title-column", "name")  # fmt: skip
    assert versive(*batch, env=env).returncode == 0
    change_row(participants, "p-00001", "name", "Renamed")
    rerun = versive(*batch, "--language", "German", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "created 0, failed 0, skipped 3" in rerun.stdout
    assert len(served.requests) == 3


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ([["p-00001", "dup@example.com", "", ""]], "line 5: duplicate participant_id 'p-00001' (first on line 3)"),
        ([["", "x@example.com", "", ""]], "line 5: empty participant_id"),
        ([["p-9", "a", "b", "c", "surplus"]], "line 5: more fields than the header has columns"),
    ],
)
def test_a_bad_row_refuses_the_whole_file(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path, extra: list[list[str]], problem: str
) -> None:
    """A duplicate or empty id, or a ragged row: exit 3 naming the line, and no request at all."""
    served, env = fake
    participants = write_participants(tmp_path / "p.csv", 3, extra=extra)
    out = tmp_path / "results.csv"
    result = versive("interviews", "create-batch", participants, "--study-id", "s", "--out", out, env=env)
    assert result.returncode == 3
    assert problem in result.stderr
    assert "nothing was sent" in result.stderr
    assert served.requests == []
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "args", "problem"),
    [
        (b"email\nx@example.com\n", [], "no column 'participant_id' (--id-column); the header has: email"),
        (b"participant_id\np1\n", ["--title-column", "title"], "no column 'title' (--title-column)"),
        (b"", [], "the file is empty"),
        (b"participant_id\n", [], "no rows after the header"),
        (b"participant_id,email,email\np1,a,b\n", [], "the header names 'email' more than once"),
        (b"participant_id\np1\np\xe9\n", [], "line 3: not UTF-8"),
    ],
)
def test_an_unusable_file_is_refused(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path, content: bytes, args: list[str], problem: str
) -> None:
    """Missing columns, no rows, or a file that is not UTF-8: exit 3 and a clear line."""
    served, env = fake
    participants = tmp_path / "p.csv"
    participants.write_bytes(content)
    result = versive("interviews", "create-batch", participants, "--study-id", "s", "--out", tmp_path / "o.csv",
                     *args, env=env)  # fmt: skip
    assert result.returncode == 3
    assert problem in result.stderr
    assert served.requests == []


def test_blank_lines_are_skipped_and_short_rows_keep_what_they_have(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path
) -> None:
    """A blank line is no participant; a row without its last cells sends the cells it has."""
    served, env = fake
    participants = tmp_path / "p.csv"
    participants.write_text("participant_id,name,email\r\np-1,Ada,ada@example.com\r\n\r\np-2\r\np-3,Bo\r\n")
    out = tmp_path / "o.csv"
    result = versive("interviews", "create-batch", participants, "--study-id", "s", "--out", out,
                     "--title-column", "name", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "created 3, failed 0, skipped 0" in result.stdout
    sent = {interview.to_dict()["metadata"]["participant_id"]: interview for interview in served.interviews}
    assert sent["p-1"].to_dict()["metadata"] == {"participant_id": "p-1", "email": "ada@example.com"}
    assert sent["p-1"].title == "Ada"
    assert sent["p-2"].to_dict()["metadata"] == {"participant_id": "p-2"}
    assert sent["p-3"].title == "Bo"


def test_a_missing_input_file_is_refused(fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path) -> None:
    """A path that does not exist: exit 3, saying it cannot be read."""
    _, env = fake
    result = versive("interviews", "create-batch", tmp_path / "nope.csv", "--study-id", "s", "--out",
                     tmp_path / "o.csv", env=env)  # fmt: skip
    assert result.returncode == 3
    assert "cannot read" in result.stderr


def test_an_unrelated_out_file_is_not_overwritten(fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path) -> None:
    """--out pointing at a file that is not a results file is refused, untouched."""
    _, env = fake
    out = tmp_path / "precious.csv"
    out.write_text("name,salary\nAda,1\n")
    participants = write_participants(tmp_path / "p.csv", 2)
    result = versive("interviews", "create-batch", participants, "--study-id", "s", "--out", out, env=env)
    assert result.returncode == 3
    assert "is not a results file" in result.stderr
    assert out.read_text() == "name,salary\nAda,1\n"


def unwritable_out(tmp_path: Path, case: str) -> tuple[Path, str]:
    """An --out that cannot be written, made for `case`, and what the refusal says about it."""
    if case == "missing folder":
        out = tmp_path / "missing" / "o.csv"
        return out, f"File {str(out)!r} cannot be written: the folder {str(out.parent)!r} does not exist."
    if case == "a folder":
        return tmp_path, f"File {str(tmp_path)!r} is a directory."
    if case == "a file for a folder":
        (tmp_path / "notes.txt").write_text("")
        out = tmp_path / "notes.txt" / "o.csv"
        return out, f"File {str(out)!r} cannot be written: {str(out.parent)!r} is not a folder."
    if case == "not a regular file":
        out = tmp_path / "fifo.csv"
        os.mkfifo(out)
        return out, f"File {str(out)!r} cannot be written: it is not a regular file."
    if case == "read-only file":
        out = tmp_path / "o.csv"
        out.write_text(",".join(RESULT_COLUMNS) + "\n")
        out.chmod(0o444)
        return out, f"File {str(out)!r} is not writable."
    folder = tmp_path / "locked"
    folder.mkdir()
    out = folder / "o.csv"
    if case == "read-only folder, results in it":
        out.write_text(",".join(RESULT_COLUMNS) + "\n")  # a rerun rewrites it beside itself
    folder.chmod(0o555)
    return out, f"File {str(out)!r} cannot be written: the folder {str(folder)!r} is not writable."


BY_FILE_MODES = ("read-only file", "read-only folder", "read-only folder, results in it")


def file_modes_bind() -> list[str]:
    """A command prefix under which file modes stop writes: none for a user; for root, setpriv dropping the override."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    drop = [str(setpriv), "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    if setpriv is None or subprocess.run([*drop, "true"], check=False, capture_output=True).returncode != 0:
        pytest.skip("root writes whatever the file modes say, and setpriv cannot take that power away here")
    return drop


@pytest.mark.parametrize(
    "case", ["missing folder", "a folder", "a file for a folder", "not a regular file", *BY_FILE_MODES]
)
def test_an_out_that_cannot_be_written_is_refused_before_sending(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path, case: str
) -> None:
    """--out that cannot be written: exit 2 (bad usage) with one error line naming it and why; nothing is sent."""
    served, env = fake
    wrapper = file_modes_bind() if case in BY_FILE_MODES else []
    participants = write_participants(tmp_path / "p.csv", 3)
    out, problem = unwritable_out(tmp_path, case)
    try:
        result = versive(
            "interviews", "create-batch", participants, "--study-id", "s", "--out", out, env=env, wrapper=wrapper
        )
    finally:
        if case in BY_FILE_MODES:  # writable again, for pytest to remove
            out.parent.chmod(0o755)
            if out.exists():
                out.chmod(0o644)
    assert result.returncode == 2, result.stderr
    assert [line for line in result.stderr.splitlines() if "rror" in line] == [
        f"Error: Invalid value for '--out': {problem}"
    ]
    assert "Traceback" not in result.stderr
    assert "creating" not in result.stderr
    assert served.requests == []


@pytest.mark.parametrize(
    "content", [b"", b"\n", b" \r\n\t\n", b"\xef\xbb\xbf"], ids=["0 bytes", "newline", "whitespace", "BOM"]
)
def test_an_empty_out_made_beforehand_is_a_new_results_file(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path, content: bytes
) -> None:
    """An --out created empty (`touch`, `echo >`, a spreadsheet's empty save) gets the header, then the rows."""
    served, env = fake
    participants = write_participants(tmp_path / "p.csv", 4)
    out = tmp_path / "o.csv"
    out.write_bytes(content)
    result = versive("interviews", "create-batch", participants, "--study-id", "s", "--out", out, env=env)
    assert result.returncode == 0, result.stderr
    assert "created 4, failed 0, skipped 0" in result.stdout
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(RESULT_COLUMNS)
    assert_complete(served, out, 4)


def test_an_out_that_fails_to_open_after_the_check_is_one_error(tmp_path: Path) -> None:
    """Should --out become unwritable after the command checked it, run_batch refuses it before sending anything."""
    fake = FakeVersive(api_key=KEY)
    participants = write_participants(tmp_path / "p.csv", 2)
    spec = BatchSpec(participants, tmp_path / "gone" / "o.csv", "s")

    async def go() -> None:
        async with VersiveClient(KEY, base_url="https://fake.versive.test", transport=fake.transport()) as client:
            await run_batch(client, spec, concurrency=1, rate=None, tally_out=print, progress=print)

    with pytest.raises(InputError) as refused:
        asyncio.run(go())
    assert str(refused.value) == f"{spec.out}: cannot write: No such file or directory"
    assert fake.requests == []


def test_ten_thousand_rows_with_faults_firing(fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path) -> None:
    """Faults of every kind fire; failed rows are recorded and a rerun heals them: one interview each."""
    served, env = fake
    served.faults.add_rule(faults.Status(503), probability=0.03)
    served.faults.add_rule(faults.Status(429, retry_after=0), probability=0.001)
    served.faults.add_rule(faults.Reset(), probability=0.02)
    served.faults.add_rule(faults.CloseMidBody(), probability=0.02)
    served.faults.add_rule(faults.HtmlBadGateway(), probability=0.01)
    served.faults.add_rule(faults.NotJson(), probability=0.002)
    served.faults.add_rule(faults.MissingField("created_at"), probability=0.002)
    participants = write_participants(tmp_path / "p.csv", 10_000)
    out = tmp_path / "results.csv"

    batch = ("interviews", "create-batch", participants, "--study-id", "big", "--out", out, "--concurrency", "64")
    first = versive(*batch, env=env)
    failed = [row for row in read_results(out) if row["error"]]
    assert first.returncode == 1, "bodies the SDK cannot read fail their rows"
    assert failed
    # Retryable faults are retried away. A row can still draw one on all 6 attempts (about
    # 0.3% of runs see one such row): it must say so, and the rerun below heals it too.
    exhausted = [row["error"] for row in failed if "answered 200" not in row["error"]]
    assert len(exhausted) <= 2, exhausted
    assert all("(after 6 attempts)" in error for error in exhausted), exhausted
    assert len(served.fired) > 500

    served.faults.clear()
    second = versive(*batch, env=env)
    assert second.returncode == 0, second.stderr
    assert f"created {len(failed)}, failed 0, skipped {10_000 - len(failed)}" in second.stdout
    assert_complete(served, out, 10_000)


def wait_for_rows(path: Path, count: int, process: subprocess.Popen[str]) -> None:
    """Block until the results file has at least `count` data rows."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the batch ended before it could be interrupted"
        if path.exists() and path.read_text().count("\n") > count:
            return
        time.sleep(0.05)
    pytest.fail("the batch made no progress")


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_an_interrupted_batch_resumes_without_duplicates(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path, stop_signal: signal.Signals
) -> None:
    """Killed midway (with requests in flight) and rerun: every participant ends with exactly one interview."""
    served, env = fake
    served.faults.add_rule(faults.Delay(0.01), probability=0.5)
    participants = write_participants(tmp_path / "p.csv", 3000)
    out = tmp_path / "results.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "versive_client", "interviews", "create-batch", str(participants),
         "--study-id", "kill", "--out", str(out), "--concurrency", "32"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_rows(out, 500, process)
    process.send_signal(stop_signal)
    _, stderr = process.communicate(timeout=60)
    if stop_signal == signal.SIGINT:
        assert process.returncode == 130
        assert "Rerun the same command to resume" in stderr
    else:
        assert process.returncode == -signal.SIGKILL
    recorded = len(read_results(out))
    assert 500 <= recorded < 3000

    rerun = versive("interviews", "create-batch", participants, "--study-id", "kill", "--out", out, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipped {recorded}" in rerun.stdout
    assert_complete(served, out, 3000)


def test_a_truncated_last_row_is_redone(fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path) -> None:
    """A results row cut short (a crash mid-write) counts as not done and is redone, not duplicated."""
    served, env = fake
    participants = write_participants(tmp_path / "p.csv", 5)
    out = tmp_path / "results.csv"
    assert versive("interviews", "create-batch", participants, "--study-id", "t", "--out", out, env=env).returncode == 0
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][:12])
    rerun = versive("interviews", "create-batch", participants, "--study-id", "t", "--out", out, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "created 1, failed 0, skipped 4" in rerun.stdout
    assert_complete(served, out, 5)


def test_python_m_without_the_cli_extra_says_what_to_install(tmp_path: Path) -> None:
    """`python -m versive_client` with click missing names the extra to install."""
    blocker = tmp_path / "click.py"
    blocker.write_text("raise ImportError('no click here', name='click')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = versive("--help", env=env)
    assert result.returncode == 1
    assert "pip install 'versive-client[cli]'" in result.stderr


def test_a_terminal_gets_a_progress_bar(fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path) -> None:
    """On a terminal, create-batch draws a progress bar with counts and a rate."""
    _, env = fake
    participants = write_participants(tmp_path / "p.csv", 50)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "versive_client", "interviews", "create-batch", str(participants),
         "--study-id", "tty", "--out", str(tmp_path / "r.csv")],
        env={**env, "COLUMNS": "100", "TERM": "xterm"}, stdout=subprocess.PIPE, stderr=terminal, text=True,
    )  # fmt: skip
    os.close(terminal)
    screen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "created 50" in stdout
    text = screen.decode(errors="replace")
    assert "creating" in text
    assert "50/50" in text
    assert "/s" in text


def test_version_and_fake_server_options() -> None:
    """--version names the command; fake-server passes its key option through."""
    assert versive("--version").stdout.strip() == f"versive, version {__version__}"
    process = subprocess.Popen(
        [sys.executable, "-m", "versive_client", "fake-server", "--port", "0", "--api-key", "fs-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    wrong = httpx.post(f"{url}/api/v1/interviews", json={"study_id": "s"}, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "POST /api/v1/interviews -> 401" in stderr
    assert "fs-key" not in stderr


def test_a_row_whose_call_fails_is_a_failed_row_not_a_traceback(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path
) -> None:
    """A body that never decodes, on every attempt of one row: that row fails with the reason, the rest are created."""
    served, env = fake
    served.faults.queue(*[faults.BadContentEncoding()] * 6)
    participants = write_participants(tmp_path / "p.csv", 20)
    out = tmp_path / "o.csv"
    result = versive("interviews", "create-batch", participants, "--study-id", "s", "--out", out,
                     "--concurrency", "1", env=env)  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "created 19, failed 1" in result.stdout
    (failed,) = [row for row in read_results(out) if row["error"]]
    assert "does not decode as its Content-Encoding (gzip) says (after 6 attempts)" in failed["error"]


@pytest.mark.parametrize("how", ["stdin", "pipe"])
def test_piped_input_is_read_once(fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path, how: str) -> None:
    """`create-batch -` reads stdin, and a named pipe (as `<(cat p.csv)` gives) works too: checked, then sent."""
    served, env = fake
    content = write_participants(tmp_path / "p.csv", 30).read_bytes()
    out = tmp_path / "o.csv"
    if how == "stdin":
        command = [sys.executable, "-m", "versive_client", "interviews", "create-batch", "-", "--study-id", "s",
                   "--out", str(out)]  # fmt: skip
        result = subprocess.run(command, input=content, capture_output=True, check=False, env=env, timeout=120)
    else:
        pipe = tmp_path / "fifo.csv"
        os.mkfifo(pipe)
        command = [sys.executable, "-m", "versive_client", "interviews", "create-batch", str(pipe), "--study-id", "s",
                   "--out", str(out)]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        with pipe.open("wb") as writer:
            writer.write(content)
        stdout, stderr = process.communicate(timeout=120)
        result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    assert result.returncode == 0, result.stderr
    assert b"created 30, failed 0" in result.stdout
    assert_complete(served, out, 30)


def test_resuming_with_another_study_is_refused(fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path) -> None:
    """The results file records the study: the same --out for another study is refused, untouched, nothing sent."""
    served, env = fake
    participants = write_participants(tmp_path / "p.csv", 5)
    out = tmp_path / "o.csv"
    assert (
        versive("interviews", "create-batch", participants, "--study-id", "first", "--out", out, env=env).returncode
        == 0
    )
    before = out.read_bytes()
    result = versive("interviews", "create-batch", participants, "--study-id", "second", "--out", out, env=env)
    assert result.returncode == 3
    assert "holds results for study 'first', not 'second'" in result.stderr
    assert out.read_bytes() == before
    assert len(served.requests) == 5
    assert {row["study_id"] for row in read_results(out)} == {"first"}


def test_a_results_file_saved_with_a_byte_order_mark_resumes(
    fake: tuple[FakeVersive, dict[str, str]], tmp_path: Path
) -> None:
    """An --out opened and saved by a spreadsheet (UTF-8 with a BOM) is still a results file."""
    served, env = fake
    participants = write_participants(tmp_path / "p.csv", 6)
    out = tmp_path / "o.csv"
    assert versive("interviews", "create-batch", participants, "--study-id", "s", "--out", out, env=env).returncode == 0
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_bytes("\ufeff".encode() + "".join(lines[:-2]).encode())  # two rows lost, and a BOM
    rerun = versive("interviews", "create-batch", participants, "--study-id", "s", "--out", out, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "created 2, failed 0, skipped 4" in rerun.stdout
    assert_complete(served, out, 6)


def test_rate_limited_and_faulty_killed_midway_then_run_again_is_exactly_once(tmp_path: Path) -> None:
    """Rate-limited (429s, no headers), 5% resets and 503s, SIGKILL midway, run again: each participant once.

    2,000 rows; exactly one interview per participant on the fake, and one row per
    participant in --out.
    """
    served = FakeVersive(api_key=KEY, seed=5, rate_limit=RateLimit(400, burst=20, headers=False))
    served.faults.add_rule(faults.Reset(), probability=0.025)
    served.faults.add_rule(faults.Status(503), probability=0.025)
    with served.serve_in_thread() as base_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VERSIVE_")}
        env.update(VERSIVE_API_KEY=KEY, VERSIVE_BASE_URL=base_url)
        participants = write_participants(tmp_path / "p.csv", 2000)
        out = tmp_path / "o.csv"
        command = [sys.executable, "-m", "versive_client", "interviews", "create-batch", str(participants),
                   "--study-id", "limits", "--out", str(out)]  # fmt: skip
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_rows(out, 600, process)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        recorded = len(read_results(out))
        assert 600 <= recorded < 2000
        rerun = versive(*command[3:], env=env)
        assert rerun.returncode == 0, rerun.stderr
        assert f"skipped {recorded}" in rerun.stdout
        assert_complete(served, out, 2000)
        assert any(request.status == 429 for request in served.requests), "the limit was met"


# -- every operation as `versive <resource> <method>` ------------------------------------
# The fake answers only POST /api/v1/interviews on this branch; these tests run the
# commands against a small loopback server that records each request and answers it.

STUDY = {"id": "st_1", "title": "Onboarding", "created_at": "2026-01-02T03:04:05Z"}
HAND_WRITTEN = {("interviews", "create")}


class Sent(NamedTuple):
    """One request as the loopback server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: object


class LoopbackAPI:
    """A real HTTP server on loopback: records every request, answers from `answers` by (method, path), else 404."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], tuple[int, object]] = {}
        self.sent: list[Sent] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                api.sent.append(Sent(self.command, url.path, parse_qs(url.query), self.headers["Authorization"], body))
                status, answer = api.answers.get((self.command, url.path), (404, {"detail": "Not Found"}))
                content = b"" if status == 204 else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackAPI]:
    """A loopback API server, with the environment pointing the command at it."""
    served = LoopbackAPI()
    thread = threading.Thread(target=served.server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    for name in [name for name in os.environ if name.startswith("VERSIVE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("VERSIVE_API_KEY", KEY)
    monkeypatch.setenv("VERSIVE_BASE_URL", served.base_url)
    yield served
    served.server.shutdown()
    served.server.server_close()
    thread.join()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command in this process: its exit status, stdout and stderr."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_every_operation_has_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    """Each operation is `versive <resource> <method>`, listed with its summary, taking its method's arguments."""
    for operation in OPERATIONS:
        group, command = operation.resource.replace("_", "-"), operation.verb.replace("_", "-")
        status, listing, _ = run(capsys, group, "--help")
        assert status == 0
        assert re.search(rf"^  {command} +\S", listing, re.MULTILINE), f"{group} --help lists {command}"
        status, out, _ = run(capsys, group, command, "--help")
        assert status == 0
        if (operation.resource, operation.verb) in HAND_WRITTEN:
            assert "--metadata KEY=VALUE" in out
            continue
        assert f"{operation.summary}." in out
        assert re.search(rf"^  {command} +{operation.summary}$", listing, re.MULTILINE)
        assert f"{operation.method} {operation.path}" in out
        paths = [param.name.upper() for param in operation.params if param.where == "path"]
        assert f"Usage: versive {group} {command} [OPTIONS]{''.join(' ' + p for p in paths)}\n" in out
        for param in operation.params:
            if param.where != "path":
                assert f"--{param.name.replace('_', '-')}" in out
        assert ("--extra-body JSON" in out) == operation.body


def test_the_top_level_help_lists_every_resource() -> None:
    """`versive --help`, run for real, lists a group per resource and says the commands come from the spec."""
    result = versive("--help")
    assert result.returncode == 0
    for resource in {operation.resource for operation in OPERATIONS}:
        assert re.search(rf"^  {resource.replace('_', '-')} +\S", result.stdout, re.MULTILINE)
    assert "generated from the API's spec" in " ".join(result.stdout.split())


def test_a_get_with_a_path_parameter_prints_the_answer_as_json(
    api: LoopbackAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """`interviews get ID` sends GET with the id in the path (escaped) and the key; prints the interview as JSON."""
    api.answers["GET", "/api/v1/interviews/iv%2F1"] = (200, {
        "id": "iv/1", "status": "completed", "created_at": "2026-01-02T03:04:05Z",
        "completed_at": "2026-01-02T04:00:00.5+02:00", "metadata": {"wave": 2}, "transcript": None,
    })  # fmt: skip
    status, out, err = run(capsys, "interviews", "get", "iv/1")
    assert (status, err) == (0, "")
    (sent,) = api.sent
    assert (sent.method, sent.path, sent.query, sent.body) == ("GET", "/api/v1/interviews/iv%2F1", {}, None)
    assert sent.authorization == f"Bearer {KEY}"
    assert out == json.dumps({
        "id": "iv/1", "status": "completed", "created_at": "2026-01-02T03:04:05+00:00",
        "metadata": {"wave": 2}, "transcript": None, "completed_at": "2026-01-02T04:00:00.500000+02:00",
    }, indent=2) + "\n"  # fmt: skip


def test_a_query_parameter_and_a_list_answer(api: LoopbackAPI, capsys: pytest.CaptureFixture[str]) -> None:
    """`questions list --study-id S` sends it in the query; the answer is printed as a JSON array."""
    questions = [{"id": "q1", "content": "Why?", "type": "open"}, {"id": "q2", "content": "How?", "type": "open"}]
    api.answers["GET", "/api/v1/questions"] = (200, questions)
    status, out, _ = run(capsys, "questions", "list", "--study-id", "st 1")
    assert status == 0
    assert api.sent[0].query == {"study_id": ["st 1"]}
    assert json.loads(out) == questions


def test_a_post_with_object_fields_null_and_extra_body(api: LoopbackAPI, capsys: pytest.CaptureFixture[str]) -> None:
    """Object fields go as JSON, `null` as null, --extra-body's fields beside them; options left out are not sent."""
    api.answers["POST", "/api/v1/studies"] = (201, {**STUDY, "type": "interview"})
    status, out, _ = run(
        capsys, "studies", "create", "--title", "Onboarding", "--config", '{"primaryColor": "#000"}',
        "--description", "null", "--welcome-message", '{"text": "Hi", "nested": [1, {"a": null}]}',
        "--extra-body", '{"beta": true}',
    )  # fmt: skip
    assert status == 0
    assert api.sent[0].body == {
        "title": "Onboarding",
        "config": {"primaryColor": "#000"},
        "description": None,
        "welcome_message": {"text": "Hi", "nested": [1, {"a": None}]},
        "beta": True,
    }
    assert json.loads(out) == {
        "id": "st_1", "title": "Onboarding", "created_at": "2026-01-02T03:04:05+00:00", "type": "interview",
    }  # fmt: skip


def test_a_post_with_an_array_field_and_path_parameter(api: LoopbackAPI, capsys: pytest.CaptureFixture[str]) -> None:
    """`studies ai-edit STUDY_ID --questions '[...]'` puts the id in the path and the array in the body."""
    api.answers["POST", "/api/v1/studies/st_1/ai-edit"] = (
        200,
        {"questions": [], "change_log": {}, "deleted_questions": []},
    )
    questions = [{"study_id": "st_1", "content": "Q"}]
    status, _, err = run(capsys, "studies", "ai-edit", "st_1", "--current-message", "shorter",
                         "--questions", json.dumps(questions), "--language", "English")  # fmt: skip
    assert (status, err) == (0, "")
    assert api.sent[0].body == {"current_message": "shorter", "questions": questions, "language": "English"}


def test_a_put_answering_204_prints_nothing(api: LoopbackAPI, capsys: pytest.CaptureFixture[str]) -> None:
    """`questions update ID` with an integer and an object: PUT sent, 204 answered, nothing printed, exit 0."""
    api.answers["PUT", "/api/v1/questions/q_1"] = (204, None)
    status, out, err = run(capsys, "questions", "update", "q_1", "--display-order", "3", "--props", '{"max": 5}')
    assert (status, out, err) == (0, "", "")
    assert api.sent[0].method == "PUT"
    assert api.sent[0].body == {"display_order": 3, "props": {"max": 5}}


@pytest.mark.parametrize(("flag", "sent"), [(["--end-interview"], True), (["--no-end-interview"], False), ([], None)])
def test_a_boolean_is_a_flag_pair(
    api: LoopbackAPI, capsys: pytest.CaptureFixture[str], flag: list[str], sent: object
) -> None:
    """--flag sends true, --no-flag false, neither leaves the field out."""
    api.answers["PUT", "/api/v1/question-logic/l_1"] = (204, None)
    status, _, _ = run(capsys, "question-logic", "update", "l_1", "--operation", "equals", *flag)
    assert status == 0
    body = api.sent[0].body
    assert isinstance(body, dict)
    assert body.get("end_interview", "left out") == ("left out" if sent is None else sent)


@pytest.mark.parametrize(("policy", "sent"), [("CAN_VIEW", "CAN_VIEW"), ("null", None)])
def test_an_enum_takes_its_values_and_null(
    api: LoopbackAPI, capsys: pytest.CaptureFixture[str], policy: str, sent: str | None
) -> None:
    """One of the spec's values is sent as given; `null`, where the spec allows it, as null."""
    api.answers["POST", "/api/v1/folders"] = (201, {"id": "f1", "name": "Q3", "created_at": "2026-01-02T03:04:05Z"})
    status, out, _ = run(capsys, "folders", "create", "--name", "Q3", "--access-policy", policy)
    assert status == 0
    assert api.sent[0].body == {"name": "Q3", "access_policy": sent}
    assert json.loads(out)["name"] == "Q3"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["folders", "create", "--name", "n", "--access-policy", "can_view"],
         "Invalid value for '--access-policy': 'can_view' is not one of 'CAN_EDIT', "),
        (["studies", "create", "--title", "t", "--config", "{"],
         "Invalid value for '--config': '{' is not a JSON object or null (not JSON: Expecting property name"),
        (["studies", "create", "--title", "t", "--config", "[1]"],
         "Invalid value for '--config': '[1]' is not a JSON object or null."),
        (["questions", "create-batch", "--questions", '{"content": "Q"}'],
         "Invalid value for '--questions': '{\"content\": \"Q\"}' is not a JSON array."),
        (["questions", "update", "q", "--display-order", "2.5"],
         "Invalid value for '--display-order': '2.5' is not an integer or null."),
        (["studies", "create", "--title", "t", "--extra-body", "[]"], "Invalid value for '--extra-body': '[]' is not"),
        (["studies", "create", "--config", "{}"], "Missing option '--title'"),
        (["studies", "get"], "Missing argument 'ID'"),
        (["studies", "get", " "], "error: id must not be empty"),
        (["studies", "list", "--extra-body", "{}"], "No such option '--extra-body'"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_before_sending(
    api: LoopbackAPI, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """A value that is not of its field's kind, or a required one missing: exit 2 naming it, nothing sent."""
    status, out, err = run(capsys, *args)
    assert status == 2
    assert message in err
    assert out == ""
    assert api.sent == []


def test_a_refused_request_exits_1_with_one_line(api: LoopbackAPI, capsys: pytest.CaptureFixture[str]) -> None:
    """A 404: exit 1 and the one-line error the other commands print, nothing on stdout."""
    api.answers["GET", "/api/v1/studies/nope"] = (404, {"detail": "Study not found"})
    status, out, err = run(capsys, "studies", "get", "nope")
    assert (status, out) == (1, "")
    assert err.splitlines() == ["error: GET /api/v1/studies/nope answered 404 Not Found: Study not found"]


def test_a_generated_command_run_for_real(api: LoopbackAPI) -> None:
    """`versive studies list` as a script runs it: the studies as a JSON array on stdout; no key, exit 4."""
    api.answers["GET", "/api/v1/studies"] = (200, [STUDY])
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERSIVE_")}
    result = versive("--base-url", api.base_url, "studies", "list", env={**env, "VERSIVE_API_KEY": KEY})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{**STUDY, "created_at": "2026-01-02T03:04:05+00:00"}]
    assert api.sent[0].authorization == f"Bearer {KEY}"
    missing = versive("--base-url", api.base_url, "studies", "list", env=env)
    assert missing.returncode == 4
    assert missing.stderr.startswith("error: no API key")


WIDGET = Operation(
    name="make_widget", method="POST", path="/api/v1/widgets/{widget_id}", resource="widgets", verb="make",
    params=(
        Param("widget_id", "widget_id", "path", ("string",), ()),
        Param("at", "at", "body", ("date-time",), ()),
        Param("day", "day", "body", ("date",), ()),
        Param("ref", "ref", "body", ("uuid",), ()),
        Param("weight", "weight", "body", ("number", "null"), ()),
        Param("anything", "anything", "body", (), ()),
        Param("size", "size", "body", ("string", "integer"), ()),
        Param("on", "on", "body", ("boolean",), ()),
    ),
    body=True, answer=None, statuses=(204,), summary="Make Widget", read_timeout=None,
)  # fmt: skip


def test_kinds_a_spec_change_may_bring_are_read_as_the_method_takes_them() -> None:
    """Date-times, dates, UUIDs, numbers, any value, text-or-integer: each given to the method as its kind."""
    calls: list[tuple[list[object], dict[str, object]]] = []
    command = operation_command(WIDGET, {"widget_id", "on"}, lambda _, args, kwargs: calls.append((args, kwargs)), "")
    ref = "0b7e5a52-3b1c-4f5e-9d2a-0c6f1e2d3a4b"
    command.main(["w1", "--at", "2026-01-02T03:04:05+00:00", "--day", "2026-01-02", "--ref", ref, "--weight", "2.5",
                  "--anything", '{"a": 1}', "--size", "12", "--on"], standalone_mode=False)  # fmt: skip
    command.main(["w2", "--anything", "plain words", "--size", "big", "--weight", "null", "--no-on"],
                 standalone_mode=False)  # fmt: skip
    assert calls == [
        (["w1"], {"at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "day": dt.date(2026, 1, 2), "ref": UUID(ref),
                  "weight": 2.5, "anything": {"a": 1}, "size": 12, "on": True}),
        (["w2"], {"anything": "plain words", "size": "big", "weight": None, "on": False}),
    ]  # fmt: skip
    assert SpecValue(["object"], nullable=False).convert({"a": 1}, None, None) == {"a": 1}, "already converted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["w1"], "Missing option '--on'"),
        (["w1", "--on", "--at", "yesterday"], "'yesterday' is not an ISO 8601 date and time."),
        (["w1", "--on", "--weight", "true"], "'true' is not a number or null."),
    ],
)
def test_a_required_flag_or_a_bad_new_kind_is_refused(args: list[str], message: str) -> None:
    """A required --flag/--no-flag left out, or a value not of its kind: a usage error, the method never called."""
    calls: list[object] = []
    command = operation_command(WIDGET, {"widget_id", "on"}, lambda *call: calls.append(call), "")
    with pytest.raises(click.UsageError) as refused:
        command.main(args, standalone_mode=False)
    assert message in refused.value.format_message()
    assert calls == []


def test_a_resource_named_like_a_command_is_refused() -> None:
    """A resource whose group name is already a plain command is an error at build time, not a silent merge."""
    cli = click.Group("versive", commands=[click.Command("studies")])
    with pytest.raises(TypeError, match="the API's resource studies is named like the command versive studies"):
        add_operation_commands(cli, lambda *_: None, "", OPERATIONS)

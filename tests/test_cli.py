"""The `versive` command, run as a person or a script runs it, against the fake on loopback."""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

import httpx
import pytest

from versive_client import __version__
from versive_client.cli._batch import idempotency_key
from versive_client.testing import FakeVersive, RateLimit, faults

if TYPE_CHECKING:
    from collections.abc import Iterator
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


def versive(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m versive_client ARGS`."""
    return subprocess.run(
        [sys.executable, "-m", "versive_client", *map(str, args)],
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
    assert served.attempts(idempotency_key("st", "p-00001")) == 1

    again = versive("interviews", "create-batch", participants, "--study-id", "st", "--out", out, env=env)
    assert again.returncode == 0
    assert "created 0, failed 0, skipped 1000" in again.stdout
    assert len(served.interviews) == 1000


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

"""versive.interviews.wait: polling until an interview is done, and ``versive interviews wait``."""

from __future__ import annotations

import itertools
import json
import math
import pickle
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from conftest import AUTH, KEY, ROOT

from versive_client import (
    APIConnectionError,
    Attempt,
    NotFoundError,
    RetryPolicy,
    VersiveClient,
    VersiveError,
    WaitTimeoutError,
)
from versive_client._generated.operations import GET_INTERVIEW_BY_ID, WAITERS
from versive_client.testing import FakeVersive, faults

if TYPE_CHECKING:
    from collections.abc import Iterator

TURNS = [("assistant", "What brought you here?"), ("user", "A friend told me.")]
FAST: dict[str, Any] = {"poll_interval": 0.01, "max_poll_interval": 0.02}


def client_of(fake: FakeVersive, **options: Any) -> VersiveClient:
    """A client answered by `fake` in-process, retries without sleeping."""
    options.setdefault("retry_policy", RetryPolicy.no_wait())
    return VersiveClient(KEY, base_url="https://fake.versive.test", transport=fake.transport(), **options)


def polls(fake: FakeVersive, interview_id: str) -> int:
    """How many times the interview was read."""
    return sum(1 for r in fake.requests if r.method == "GET" and r.path == f"/api/v1/interviews/{interview_id}")


@pytest.fixture
def fake() -> FakeVersive:
    """A fake with one open interview."""
    return FakeVersive(api_key=KEY)


async def open_interview(versive: VersiveClient) -> str:
    """A new, open interview's id."""
    return (await versive.interviews.create(study_id="study_1", title="Ann")).id


@pytest.mark.asyncio
async def test_wait_returns_the_closed_interview_with_its_transcript(fake: FakeVersive) -> None:
    """Completed while the wait polls: the wait returns it closed, transcript and turns included."""
    async with client_of(fake) as versive:
        interview_id = await open_interview(versive)

        async def complete_soon() -> None:
            await anyio.sleep(0.1)
            fake.complete_interview(interview_id, transcript=TURNS)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(complete_soon)
            done = await versive.interviews.wait(interview_id, timeout=10, **FAST)

    assert done.status == "closed"
    assert done.id == interview_id
    assert done.transcript == "assistant: What brought you here?\nuser: A friend told me."
    assert [(t.role, t.content) for t in done.parsed_conversation_json] == TURNS  # type: ignore[union-attr]
    assert polls(fake, interview_id) >= 2, "it polled until the interview was done"


@pytest.mark.asyncio
async def test_wait_over_loopback_while_another_thread_completes_it() -> None:
    """The fake serving on loopback; the test's thread completes the interview; the wait sees it."""
    fake = FakeVersive(api_key=KEY)
    async with fake.serve() as base_url, VersiveClient(KEY, base_url=base_url, trust_env=False) as versive:
        interview_id = await open_interview(versive)
        timer = threading.Timer(0.2, lambda: fake.complete_interview(interview_id, transcript=TURNS))
        timer.start()
        try:
            done = await versive.interviews.wait(interview_id, timeout=10, **FAST)
        finally:
            timer.cancel()
    assert (done.status, done.transcript) == ("closed", "assistant: What brought you here?\nuser: A friend told me.")


@pytest.mark.asyncio
@pytest.mark.parametrize("status", ["closed", "screened_out", "canceled"])
async def test_each_final_status_ends_the_wait_at_the_first_poll(fake: FakeVersive, status: str) -> None:
    """An interview already final is returned after one read, whichever final status it has."""
    async with client_of(fake) as versive:
        interview_id = await open_interview(versive)
        fake.set_interview(interview_id, status=status)
        done = await versive.interviews.wait(interview_id, timeout=10)
    assert done.status == status
    assert polls(fake, interview_id) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("until", ["in_progress", ["in_progress", "paused"], ("in_progress",), {"in_progress"}])
async def test_until_chooses_the_statuses_that_end_the_wait(fake: FakeVersive, until: Any) -> None:
    """`until` may be one status or any collection of them; the default ones no longer end the wait."""
    async with client_of(fake) as versive:
        interview_id = await open_interview(versive)
        fake.set_interview(interview_id, status="in_progress")
        done = await versive.interviews.wait(interview_id, timeout=10, until=until)
        assert done.status == "in_progress"
        fake.set_interview(interview_id, status="closed")
        with pytest.raises(WaitTimeoutError, match="still 'closed'"):
            await versive.interviews.wait(interview_id, timeout=0.1, until=until, **FAST)


@pytest.mark.asyncio
async def test_a_timeout_is_a_typed_error_naming_the_last_status(fake: FakeVersive) -> None:
    """Still open at the end: WaitTimeoutError (a VersiveError and a TimeoutError) saying the status and wanted ones."""
    async with client_of(fake) as versive:
        interview_id = await open_interview(versive)
        fake.set_interview(interview_id, status="in_progress")
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as info:
            await versive.interviews.wait(interview_id, timeout=0.3, **FAST)
        took = time.monotonic() - started

    error = info.value
    assert isinstance(error, VersiveError)
    assert isinstance(error, TimeoutError)
    cut = _ends_still_open(str(error), f"interviews.get({interview_id!r}): status still 'in_progress' after 0.3 s, ")
    assert error.status == "in_progress"
    assert error.last is not None
    assert error.last.id == interview_id
    assert took >= 0.15, "it waited (its last poll goes a little before the end)"
    assert took < 5, "and then stopped"
    # a last poll cut at the end may not have reached the fake yet
    assert error.attempts - cut <= polls(fake, interview_id) <= error.attempts
    assert error.attempts >= 3


@pytest.mark.asyncio
async def test_a_poll_never_outlasts_the_timeout(fake: FakeVersive) -> None:
    """A poll that would take longer than what remains is cut at the timeout: the wait ends on time."""
    async with client_of(fake) as versive:
        interview_id = await open_interview(versive)
        fake.faults.add_rule(faults.Delay(5), probability=1.0)
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as info:
            await versive.interviews.wait(interview_id, timeout=0.3)
        took = time.monotonic() - started
    assert took < 3, "not the five seconds the answer would take"
    assert str(info.value).endswith(
        "no answer after 0.3 s, waiting for closed, screened_out or canceled "
        "(the last poll was still waiting for its answer)"
    )
    assert info.value.__cause__ is None
    assert info.value.last is None
    assert info.value.status is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fault",
    [
        faults.Status(503),
        faults.Status(500),
        faults.Status(501),
        faults.Status(520),
        faults.Status(429),
        faults.Status(408),
        faults.Reset(),
        faults.CloseMidBody(),
    ],
    ids=["503", "500", "501", "520", "429", "408", "reset", "cut-short"],
)
async def test_a_poll_that_fails_for_a_while_is_tried_again(fake: FakeVersive, fault: faults.Fault) -> None:
    """Without the client's own retries, a transient failure does not end the wait: the next poll goes."""
    async with client_of(fake, max_retries=0) as versive:
        interview_id = await open_interview(versive)
        fake.set_interview(interview_id, status="closed")
        fake.faults.queue(fault, fault)
        done = await versive.interviews.wait(interview_id, timeout=10, **FAST)
    assert done.status == "closed"
    assert polls(fake, interview_id) == 3


@pytest.mark.asyncio
async def test_a_retry_after_is_waited_for(fake: FakeVersive) -> None:
    """A 429 asking for a second: the next poll comes no sooner, though the poll interval is 10 ms."""
    sent: list[float] = []

    def note(attempt: Attempt) -> None:
        if attempt.method == "GET":
            sent.append(time.monotonic() - attempt.elapsed)

    async with client_of(fake, max_retries=0, on_attempt=[note]) as versive:
        interview_id = await open_interview(versive)
        fake.set_interview(interview_id, status="closed")
        fake.faults.queue(faults.Status(429, retry_after=1))
        await versive.interviews.wait(interview_id, timeout=10, **FAST)
    assert len(sent) == 2
    assert sent[1] - sent[0] >= 0.95


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "error"),
    [(faults.Status(404), NotFoundError), (faults.Status(401), VersiveError), (faults.NotJson(), VersiveError)],
    ids=["404", "401", "not-json"],
)
async def test_a_poll_that_fails_for_good_ends_the_wait_at_once(
    fake: FakeVersive, fault: faults.Fault, error: type[Exception]
) -> None:
    """404, 401 or an unusable answer: raised as the call raised it, without polling on to the timeout."""
    async with client_of(fake) as versive:
        interview_id = await open_interview(versive)
        fake.faults.queue(fault)
        started = time.monotonic()
        with pytest.raises(error) as info:
            await versive.interviews.wait(interview_id, timeout=30, **FAST)
    assert not isinstance(info.value, WaitTimeoutError)
    assert time.monotonic() - started < 5
    assert polls(fake, interview_id) == 1


@pytest.mark.asyncio
async def test_the_clients_own_deadline_bounds_each_poll(fake: FakeVersive) -> None:
    """A client whose calls have a 0.2 s deadline: each slow poll gives up then, and the wait polls on."""
    async with client_of(fake, deadline=0.2) as versive:
        interview_id = await open_interview(versive)
        fake.faults.add_rule(faults.Delay(2), probability=1.0)
        with pytest.raises(WaitTimeoutError) as info:
            await versive.interviews.wait(interview_id, timeout=1.5, poll_interval=0.01, max_poll_interval=0.02)
    assert "(the last finished poll failed: GET /api/v1/interviews/" in str(info.value)
    assert "ran out of its deadline" in str(info.value)
    assert info.value.attempts >= 3, "several polls in the time one slow answer would have taken"


class _BrokenTransport(httpx.AsyncBaseTransport):
    """A transport with a bug of its own: every request fails alike."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise KeyError(request.url.path)


@pytest.mark.asyncio
async def test_a_transport_that_cannot_work_ends_the_wait_at_once() -> None:
    """An error no later poll can escape (here a transport's own bug) is raised, not polled until the timeout."""
    client = VersiveClient(KEY, base_url="https://fake.versive.test", transport=_BrokenTransport())
    started = time.monotonic()
    async with client as versive:
        with pytest.raises(APIConnectionError, match="KeyError") as info:
            await versive.interviews.wait("iv_1", timeout=30, **FAST)
    assert not isinstance(info.value, WaitTimeoutError)
    assert time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_a_retry_after_beyond_the_timeout_ends_the_wait_saying_so(fake: FakeVersive) -> None:
    """A 503 asking for 30 s when 1 s is left: the wait ends now, and says the 503, not a cut-short poll."""
    async with client_of(fake, max_retries=0) as versive:
        interview_id = await open_interview(versive)
        fake.faults.add_rule(faults.Status(503, retry_after=30), probability=1.0)
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as info:
            await versive.interviews.wait(interview_id, timeout=1, **FAST)
    assert time.monotonic() - started < 0.9
    assert "no answer after 1 s" in str(info.value)
    assert "(the last finished poll failed: GET " in str(info.value)
    assert "answered 503" in str(info.value)
    assert info.value.attempts == 1


@pytest.mark.asyncio
async def test_waits_started_together_spread_out(fake: FakeVersive) -> None:
    """Twenty waits begun at once: their second polls do not all come at the same moment (jitter)."""
    sent: list[list[float]] = [[] for _ in range(20)]

    async def wait_one(index: int, interview_id: str) -> None:
        def note(_attempt: Attempt) -> None:
            sent[index].append(time.monotonic())

        async with client_of(fake, on_attempt=[note]) as versive:
            with pytest.raises(WaitTimeoutError):
                await versive.interviews.wait(interview_id, timeout=0.35, poll_interval=0.2, max_poll_interval=0.2)

    async with client_of(fake) as versive:
        ids = [await open_interview(versive) for _ in sent]
    async with anyio.create_task_group() as tasks:
        for index, interview_id in enumerate(ids):
            tasks.start_soon(wait_one, index, interview_id)
    gaps = [times[1] - times[0] for times in sent]
    assert all(0.09 <= gap <= 0.3 for gap in gaps), gaps
    assert max(gaps) - min(gaps) > 0.03, f"the second polls came together: {gaps}"


def test_the_timeout_error_pickles_and_says_where_it_is_from() -> None:
    """It crosses process boundaries whole (a process pool, a task queue), and is versive_client's own."""
    error = WaitTimeoutError("iv_1: status still 'open'", last={"id": "iv_1"}, status="open", polls=4)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object, in-process
    assert (type(copy), str(copy), copy.last, copy.status, copy.attempts) == (
        WaitTimeoutError,
        "iv_1: status still 'open'",
        {"id": "iv_1"},
        "open",
        4,
    )
    assert f"{type(error).__module__}.{type(error).__qualname__}" == "versive_client.WaitTimeoutError"


@pytest.mark.asyncio
async def test_an_unknown_interview_is_not_found_at_once(fake: FakeVersive) -> None:
    """An id the API does not know: NotFoundError from the first poll."""
    async with client_of(fake) as versive:
        with pytest.raises(NotFoundError):
            await versive.interviews.wait("iv_missing", timeout=30)


@pytest.mark.asyncio
async def test_polls_back_off_to_the_longest_interval(fake: FakeVersive) -> None:
    """From 20 ms doubling to 160 ms, with jitter: far fewer polls in a second than at a fixed 20 ms."""
    sent: list[float] = []
    async with client_of(fake, on_attempt=[lambda _attempt: sent.append(time.monotonic())]) as versive:
        interview_id = await open_interview(versive)
        sent.clear()
        with pytest.raises(WaitTimeoutError):
            await versive.interviews.wait(interview_id, timeout=1.0, poll_interval=0.02, max_poll_interval=0.16)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert len(sent) <= 16, f"{len(sent)} polls: at a fixed 20 ms there would be about 50"
    assert max(gaps) <= 0.3, "no wait longer than the longest interval (and the poll)"
    assert sum(gaps[-3:]) / 3 > sum(gaps[:2]) / 2, "the waits grew"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"timeout": 0}, ValueError, "timeout must be a number of seconds > 0, got 0"),
        ({"timeout": -1}, ValueError, "timeout must be a number of seconds > 0"),
        ({"timeout": math.inf}, ValueError, "timeout must be a number of seconds > 0, got inf"),
        ({"timeout": math.nan}, ValueError, "timeout must be a number of seconds > 0, got nan"),
        ({"timeout": "60"}, TypeError, "timeout must be a number of seconds, got str"),
        ({"timeout": True}, TypeError, "timeout must be a number of seconds, got bool"),
        ({"timeout": 1, "until": []}, ValueError, "until must name at least one status"),
        ({"timeout": 1, "until": ""}, ValueError, "until must name at least one status, and no empty one"),
        ({"timeout": 1, "until": ["closed", ""]}, ValueError, "and no empty one"),
        ({"timeout": 1, "until": list(range(100_000))}, TypeError, "of statuses .strings., got list$"),
        ({"timeout": 10**400}, ValueError, "timeout must be a finite number of seconds"),
        ({"timeout": 1, "poll_interval": 60, "max_poll_interval": 1}, ValueError, "must be >= poll_interval"),
        ({"timeout": 1, "until": [1]}, TypeError, "until must be a status or a collection of statuses"),
        ({"timeout": 1, "until": None}, TypeError, "until must be a status or a collection of statuses"),
        ({"timeout": 1, "poll_interval": 0}, ValueError, "poll_interval must be a number of seconds > 0"),
        ({"timeout": 1, "max_poll_interval": -1}, ValueError, "max_poll_interval must be a number of seconds > 0"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    fake: FakeVersive, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Each bad argument gets an error naming it, and nothing is sent."""
    async with client_of(fake) as versive:
        with pytest.raises(error, match=message.replace("(", r"\(")):
            await versive.interviews.wait("iv_1", **options)
    assert fake.requests == []


@pytest.mark.asyncio
async def test_a_bad_id_is_refused_before_any_request(fake: FakeVersive) -> None:
    """The id is checked as interviews.get checks it."""
    async with client_of(fake) as versive:
        with pytest.raises(ValueError, match="id must not be empty"):
            await versive.interviews.wait("", timeout=1)
        with pytest.raises(TypeError, match="id must be a string"):
            await versive.interviews.wait(42, timeout=1)  # type: ignore[arg-type]
    assert fake.requests == []


def test_the_waiter_is_generated_from_the_spec() -> None:
    """The overlay's x-sdk waiter is in the operations table: interviews.wait polls Get Interview By Id."""
    assert [(w.name, w.operation, w.field, w.until) for w in WAITERS] == [
        ("wait", GET_INTERVIEW_BY_ID, "status", ("closed", "screened_out", "canceled"))
    ]


# -- the command ---------------------------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[FakeVersive, str]]:
    """A fake on loopback, and its base URL."""
    fake = FakeVersive(api_key=KEY)
    with fake.serve_in_thread() as base_url:
        yield fake, base_url


def versive(base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command against `base_url`."""
    env = {"VERSIVE_API_KEY": KEY, "VERSIVE_BASE_URL": base_url, "PATH": "", "NO_PROXY": "*"}
    return subprocess.run(
        [sys.executable, "-m", "versive_client", *args], capture_output=True, text=True, env=env, check=False
    )


def _created(base_url: str) -> str:
    """A new interview's id, created over loopback."""
    answer = httpx.post(f"{base_url}/api/v1/interviews", headers=AUTH, json={"study_id": "s"}, trust_env=False)
    return str(answer.raise_for_status().json()["id"])


def test_the_command_waits_and_prints_the_closed_interview(served: tuple[FakeVersive, str]) -> None:
    """`versive interviews wait ID --timeout 10` returns once another thread completes it, printing it as JSON."""
    fake, base_url = served
    interview_id = _created(base_url)
    timer = threading.Timer(0.5, lambda: fake.complete_interview(interview_id, transcript=TURNS))
    timer.start()
    try:
        result = versive(base_url, "interviews", "wait", interview_id, "--timeout", "10", "--poll-interval", "0.05")
    finally:
        timer.cancel()
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert (printed["id"], printed["status"]) == (interview_id, "closed")
    assert printed["transcript"].startswith("assistant: What brought you here?")


def test_the_command_exits_5_naming_the_last_status(served: tuple[FakeVersive, str]) -> None:
    """Not final within --timeout: exit status 5 and one line saying the status it still had."""
    _, base_url = served
    interview_id = _created(base_url)
    result = versive(base_url, "interviews", "wait", interview_id, "--timeout", "0.3", "--poll-interval", "0.05")
    assert result.returncode == 5
    assert result.stdout == ""
    start = f"error: interviews.get({interview_id!r}): status still 'open' after 0.3 s, "
    _ends_still_open(result.stderr.strip(), start)


def _ends_still_open(message: str, start: str) -> bool:
    """Check a timeout's message; True when it says its last poll was cut at the end.

    The last poll goes a little before the end; on a slow machine its answer may not be back
    in time, and the message says so. Both are the same outcome for these tests.
    """
    wanted = "waiting for closed, screened_out or canceled"
    cut = " (the last poll was still waiting for its answer)"
    assert message in (start + wanted, start + wanted + cut)
    return message.endswith(cut)


def test_the_command_takes_other_statuses(served: tuple[FakeVersive, str]) -> None:
    """--until, repeated, replaces the final statuses."""
    _, base_url = served
    interview_id = _created(base_url)
    result = versive(
        base_url, "interviews", "wait", interview_id, "--timeout", "5", "--until", "paused", "--until", "open"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "open"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Missing option '--timeout'"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "soon"], "--timeout"),
    ],
)
def test_the_command_refuses_a_missing_or_bad_timeout(
    served: tuple[FakeVersive, str], args: list[str], message: str
) -> None:
    """Exit 2 and click's usage error naming --timeout; nothing sent."""
    fake, base_url = served
    result = versive(base_url, "interviews", "wait", "iv_1", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert fake.requests == []


def test_the_command_is_in_the_help() -> None:
    """`versive interviews --help` lists wait; its own help says the statuses and the exit status."""
    listed = subprocess.run(
        [sys.executable, "-m", "versive_client", "interviews", "--help"], capture_output=True, text=True, check=True
    )
    assert "wait" in listed.stdout
    own = subprocess.run(
        [sys.executable, "-m", "versive_client", "interviews", "wait", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "closed, screened_out, canceled" in own.stdout
    assert "Exit status 5" in own.stdout


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_command_with_nothing_listening_times_out_saying_why() -> None:
    """Every poll refused: exit 5, and the line says the last poll's connection error."""
    result = versive(f"http://127.0.0.1:{_unused_port()}", "interviews", "wait", "iv_1", "--timeout", "3")
    assert result.returncode == 5
    assert "no answer after 3 s" in result.stderr
    assert "the last finished poll failed: GET /api/v1/interviews/iv_1 failed: " in result.stderr


# -- the README's examples -----------------------------------------------------------------------------------


def _readme_blocks() -> list[str]:
    """The Python blocks of README's "Without a webhook: waiting"."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^### Without a webhook: waiting\n(.*?)(?=^##)", readme, re.DOTALL | re.MULTILINE)
    assert section is not None
    return re.findall(r"```python\n(.*?)```", section.group(1), re.DOTALL)


async def _run_block(block: str, **names: object) -> None:
    """`block` as the body of a coroutine function, run with `names` in scope."""
    source = "async def example():\n" + textwrap.indent(block, "    ")
    namespace: dict[str, Any] = dict(names)
    exec(compile(source, "README.md", "exec"), namespace)  # noqa: S102 - README code, run as a user would
    await namespace["example"]()


@pytest.mark.asyncio
async def test_the_readme_examples_wait_and_catch_the_timeout(
    fake: FakeVersive, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first example prints the closed interview's status and transcript; the second catches a timeout."""
    waiting, catching = _readme_blocks()
    async with client_of(fake) as versive:
        interview_id = await open_interview(versive)
        fake.complete_interview(interview_id, transcript=TURNS)
        await _run_block(waiting, versive=versive, interview_id=interview_id)
        assert capsys.readouterr().out == "closed assistant: What brought you here?\nuser: A friend told me.\n"

        other = await open_interview(versive)
        fake.set_interview(other, status="in_progress")
        assert "timeout=600" in catching
        shortened = catching.replace("timeout=600", "timeout=0.2")  # the example's ten minutes, in a test
        await _run_block(shortened, versive=versive, interview_id=other, WaitTimeoutError=WaitTimeoutError)
        assert capsys.readouterr().out == "not done yet: in_progress\n"

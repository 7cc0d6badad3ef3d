"""`python -m versive_client.testing`: the fake standalone, as a person or a script runs it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import httpx
import pytest
from conftest import PATH

if TYPE_CHECKING:
    from collections.abc import Iterator


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start the fake; return the process and the URL from its first line of stdout."""
    process = subprocess.Popen(
        [sys.executable, "-m", "versive_client.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first_line = process.stdout.readline().strip()
    return process, first_line


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test, stopped at its end whatever happens."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_port_0_prints_the_url_and_serves_it(running: list[subprocess.Popen[str]]) -> None:
    """The first stdout line is the base URL with the port it got; it answers 200, 401 and 422 there."""
    process, url = start("--port", "0")
    running.append(process)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert url != "http://127.0.0.1:0"

    with httpx.Client(base_url=url) as client:
        created = client.post(PATH, headers={"Authorization": "Bearer any"}, json={"study_id": "s"})
        unauthenticated = client.post(PATH, json={"study_id": "s"})
        invalid = client.post(PATH, headers={"Authorization": "Bearer any"}, json={})
    assert created.status_code == 200
    assert created.json()["study_id"] == "s"
    assert unauthenticated.status_code == 401
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "study_id"]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_it_stops_cleanly_on_a_signal(running: list[subprocess.Popen[str]], stop_signal: signal.Signals) -> None:
    """SIGINT or SIGTERM: exit status 0, no traceback, and the port is closed."""
    process, url = start("--port", "0")
    running.append(process)
    with httpx.Client(base_url=url) as client:
        assert client.post(PATH, headers={"Authorization": "Bearer x"}, json={"study_id": "s"}).status_code == 200

    process.send_signal(stop_signal)
    _, stderr = process.communicate(timeout=10)

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "POST /api/v1/interviews -> 200" in stderr
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{url}{PATH}", json={})


def test_api_key_restricts_the_bearer(running: list[subprocess.Popen[str]]) -> None:
    """With --api-key only that bearer token is accepted, and the key is never printed."""
    process, url = start("--port", "0", "--api-key", "s3cret-key", "--quiet")
    running.append(process)
    with httpx.Client(base_url=url) as client:
        wrong = client.post(PATH, headers={"Authorization": "Bearer other"}, json={"study_id": "s"})
        right = client.post(PATH, headers={"Authorization": "Bearer s3cret-key"}, json={"study_id": "s"})
    assert (wrong.status_code, right.status_code) == (401, 200)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=10)
    assert "s3cret-key" not in stdout + stderr + url


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--api-key", ""], "--api-key must not be empty"),
        (["--port", "x"], "invalid int value: 'x'"),
    ],
)
def test_bad_arguments_are_refused(args: list[str], message: str) -> None:
    """Bad options exit 2 with a message naming the option, before listening."""
    result = subprocess.run(
        [sys.executable, "-m", "versive_client.testing", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_a_busy_port_is_a_one_line_error(running: list[subprocess.Popen[str]]) -> None:
    """A port already in use exits 1 with one line saying so."""
    process, url = start("--port", "0")
    running.append(process)
    port = url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "versive_client.testing", "--port", port],
        capture_output=True,
        text=True,
        check=False,
        timeout=20,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"fake Versive: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_a_rate_limit_from_the_command_line(running: list[subprocess.Popen[str]]) -> None:
    """--rate-limit 1 --burst 2 --no-rate-limit-headers: the third request at once is refused, the limit unstated."""
    process, url = start("--port", "0", "--quiet", "--rate-limit", "1", "--burst", "2", "--no-rate-limit-headers")
    running.append(process)
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer k"}) as client:
        answers = [client.post(PATH, json={"study_id": "s"}) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].headers["retry-after"] == "1"
    assert "x-ratelimit-limit" not in answers[0].headers


def test_a_rate_limit_that_cannot_be_is_refused() -> None:
    """--rate-limit 0 is bad usage: exit 2, naming the option."""
    result = subprocess.run(
        [sys.executable, "-m", "versive_client.testing", "--rate-limit", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "--rate-limit/--burst: per_second must be > 0, got 0.0" in result.stderr

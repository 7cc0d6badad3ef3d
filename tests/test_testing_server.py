"""The fake's loopback server at the HTTP level: framing, limits, and surviving bad clients."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import httpx
import pytest
from conftest import PATH

from versive_client.testing import FakeVersive, faults

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def served() -> Iterator[tuple[FakeVersive, str, int]]:
    """A fake on loopback, with its base URL and port."""
    fake = FakeVersive()
    with fake.serve_in_thread() as base_url:
        yield fake, base_url, int(base_url.rsplit(":", 1)[1])


def exchange(port: int, raw: bytes) -> bytes:
    """Send raw bytes, return everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_malformed_request_gets_400(served: tuple[FakeVersive, str, int]) -> None:
    """Garbage instead of HTTP: a 400 with a JSON detail, then the connection closes."""
    _, _, port = served
    answer = exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert answer.endswith(b'{"detail":"Bad Request"}')


def test_a_body_over_one_mebibyte_gets_413(served: tuple[FakeVersive, str, int]) -> None:
    """An oversized body is refused with 413 instead of being buffered."""
    _, base_url, _ = served
    response = httpx.post(f"{base_url}{PATH}", content=b"x" * (1024 * 1024 + 10), headers={"Authorization": "Bearer k"})
    assert response.status_code == 413


def test_an_error_inside_the_fake_is_a_500_and_the_server_goes_on(
    served: tuple[FakeVersive, str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while answering gives a 500 on that connection; the next request is served."""
    fake, base_url, _ = served
    real_handle = fake.handle
    calls = []

    def failing_once(*args: object) -> object:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real_handle(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(fake, "handle", failing_once)
    assert httpx.post(f"{base_url}{PATH}", json={"study_id": "s"}).status_code == 500
    ok = httpx.post(f"{base_url}{PATH}", json={"study_id": "s"}, headers={"Authorization": "Bearer k"})
    assert ok.status_code == 200


def test_connection_close_is_honoured(served: tuple[FakeVersive, str, int]) -> None:
    """A request with `Connection: close` gets its answer, then the server closes the connection."""
    _, _, port = served
    answer = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert answer.endswith(b'{"detail":"Not Found"}')


def test_a_client_leaving_mid_request_does_not_disturb_the_server(served: tuple[FakeVersive, str, int]) -> None:
    """Half a body then end of input: a 400; the fake records nothing and keeps serving."""
    fake, base_url, port = served
    answer = exchange(port, b"POST /api/v1/interviews HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert fake.requests == []
    assert httpx.get(f"{base_url}/").status_code == 404


def test_an_unusual_status_is_sent_without_a_reason_phrase(served: tuple[FakeVersive, str, int]) -> None:
    """A Status fault with a code HTTP names no phrase for still goes out."""
    fake, base_url, _ = served
    fake.faults.queue(faults.Status(599))
    response = httpx.post(f"{base_url}{PATH}", json={}, headers={"Authorization": "Bearer k"})
    assert response.status_code == 599
    assert response.json() == {"detail": "Status 599"}


def test_a_head_answer_has_no_body_and_the_connection_goes_on(served: tuple[FakeVersive, str, int]) -> None:
    """HEAD then GET on one connection: the 405 to HEAD is headers only, and the GET is answered after it."""
    _, _, port = served
    answer = exchange(
        port,
        b"HEAD /api/v1/interviews HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    head, rest = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert b"\r\nAllow: GET, POST\r\n" in head
    assert rest.startswith(b"HTTP/1.1 404 Not Found\r\n"), "no body between the two answers"
    assert rest.endswith(b'{"detail":"Not Found"}')

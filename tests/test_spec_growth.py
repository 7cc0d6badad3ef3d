"""Operations the spec gains: regeneration alone gives each a resource method that VersiveClient serves."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from conftest import KEY, SPEC, run_prism, run_regenerate, write_yaml

from versive_client import APIConnectionError, NotFoundError, RetryPolicy, VersiveClient

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from types import ModuleType

pytestmark = pytest.mark.asyncio

PACKAGE = "versive_grown_spec"
EXAMPLE = {
    "id": "rec_123",
    "interview_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "url": "https://recordings.getversive.com/rec_123.mp4",
    "created_at": "2024-01-02T03:04:05Z",
}


def grown_spec() -> dict[str, Any]:
    """openapi.yaml plus GET /api/v1/interviews/{interview_id}/recording, written as FastAPI would."""
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    document["paths"]["/api/v1/interviews/{interview_id}/recording"] = {
        "get": {
            "tags": ["Interviews"],
            "summary": "Get Interview Recording",
            "operationId": "get_interview_recording_api_v1_interviews__interview_id__recording_get",
            "parameters": [
                {"name": "interview_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "Successful Response",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Recording"}, "example": EXAMPLE}
                    },
                },
                "404": {
                    "description": "Not Found",
                    "content": {"application/json": {"example": {"detail": "Interview not found"}}},
                },
            },
            "security": [{"HTTPBearer": []}],
        }
    }
    document["components"]["schemas"]["Recording"] = {
        "type": "object",
        "required": ["id", "interview_id", "url", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "interview_id": {"type": "string"},
            "url": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    return document


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ModuleType]]:
    """The grown spec, and its resources module regenerated into a temporary tree."""
    root = tmp_path_factory.mktemp("grown")
    spec = write_yaml(root / "openapi.yaml", grown_spec())
    result = run_regenerate("--spec", spec, "--output", root / PACKAGE)
    assert result.returncode == 0, result.stderr
    assert "GET     /api/v1/interviews/{interview_id}/recording  get_interview_recording" in result.stdout
    sys.path.insert(0, str(root))
    try:
        yield spec, importlib.import_module(f"{PACKAGE}.resources")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def prism(grown: tuple[Path, ModuleType]) -> Iterator[str]:
    """Prism mocking the grown spec."""
    with run_prism(grown[0]) as base_url:
        yield base_url


async def test_the_new_operation_is_a_method_named_by_the_rule(grown: tuple[Path, ModuleType]) -> None:
    """get_interview_recording in Interviews becomes interviews.get_recording(interview_id), with a typed answer."""
    _, resources = grown
    method = resources.InterviewsResource.get_recording
    assert method.__doc__.startswith("Get Interview Recording.")
    assert "interview_id" in method.__code__.co_varnames
    assert "get_recording" in vars(resources.InterviewsResourceWithRawResponse(None))


async def test_the_new_operation_is_callable_with_auth_and_a_typed_result(
    grown: tuple[Path, ModuleType], prism: str
) -> None:
    """The regenerated method works through the client, with no hand-written line: authenticated, parsed."""
    _, resources = grown
    async with VersiveClient(KEY, base_url=prism) as versive:
        recording = await resources.InterviewsResource(versive).get_recording("abc")
    assert type(recording).__name__ == "Recording"
    assert recording.url == EXAMPLE["url"]
    assert recording.created_at.tzinfo is not None


async def test_the_new_operation_gets_typed_errors(grown: tuple[Path, ModuleType], prism: str) -> None:
    """A 404 from the new operation raises NotFoundError, not a None result."""
    _, resources = grown
    async with VersiveClient(KEY, base_url=prism, default_headers={"Prefer": "code=404"}) as versive:
        with pytest.raises(NotFoundError) as caught:
            await resources.InterviewsResource(versive).get_recording("abc")
    assert caught.value.body == {"detail": "Interview not found"}


class FailingFirst(httpx.AsyncBaseTransport):
    """Refuses the first `failures` connections, then sends for real."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            self.failures -= 1
            raise httpx.ConnectError("refused (test)", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_the_new_operation_is_retried(grown: tuple[Path, ModuleType], prism: str) -> None:
    """Connection failures on the new operation are retried like any other call."""
    _, resources = grown
    transport = FailingFirst(2)
    async with VersiveClient(KEY, base_url=prism, transport=transport, retry_policy=RetryPolicy.no_wait()) as versive:
        recording = await resources.InterviewsResource(versive).get_recording("abc")
    assert recording.id == EXAMPLE["id"]
    assert transport.failures == 0

    async with VersiveClient(
        KEY, base_url=prism, transport=FailingFirst(3), retry_policy=RetryPolicy.no_wait()
    ) as versive:
        with pytest.raises(APIConnectionError) as caught:
            await resources.InterviewsResource(versive).get_recording("abc")
    assert caught.value.attempts == 3

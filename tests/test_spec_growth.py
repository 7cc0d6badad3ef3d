"""Endpoints the spec gains: regeneration alone makes them callable through VersiveClient.generated_client."""

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
    "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "study_id": "study_123",
    "link": "https://getversive.com/s/study_123?vid=vid_123",
    "status": "completed",
    "created_at": "2024-01-02T03:04:05Z",
}


def grown_spec() -> dict[str, Any]:
    """openapi.yaml plus GET /api/v1/interviews/{interview_id}, written as FastAPI would."""
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    document["paths"]["/api/v1/interviews/{interview_id}"] = {
        "get": {
            "tags": ["Interviews"],
            "summary": "Get Interview",
            "operationId": "get_interview_api_v1_interviews__interview_id__get",
            "parameters": [
                {"name": "interview_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "Successful Response",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Interview"}, "example": EXAMPLE}
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
    # Upstream would define the schema it references; here it is the overlay's Interview, spelled out.
    document["components"]["schemas"]["Interview"] = {
        "type": "object",
        "required": ["id", "study_id", "link", "status", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "study_id": {"type": "string"},
            "link": {"type": "string"},
            "status": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    return document


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ModuleType]]:
    """The grown spec, and its get-interview module regenerated into a temporary tree."""
    root = tmp_path_factory.mktemp("grown")
    spec = write_yaml(root / "openapi.yaml", grown_spec())
    result = run_regenerate("--spec", spec, "--output", root / PACKAGE)
    assert result.returncode == 0, result.stderr
    assert "GET     /api/v1/interviews/{interview_id}  get_interview" in result.stdout
    sys.path.insert(0, str(root))
    try:
        yield spec, importlib.import_module(f"{PACKAGE}.api.interviews.get_interview")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def prism(grown: tuple[Path, ModuleType]) -> Iterator[str]:
    """Prism mocking the grown spec."""
    with run_prism(grown[0]) as base_url:
        yield base_url


async def test_the_new_endpoint_is_callable_with_auth_and_a_typed_result(
    grown: tuple[Path, ModuleType], prism: str
) -> None:
    """The regenerated get_interview works through the client: authenticated, parsed into a model."""
    _, get_interview = grown
    async with VersiveClient(KEY, base_url=prism) as versive:
        interview = await get_interview.asyncio(client=versive.generated_client, interview_id="abc")
    assert type(interview).__name__ == "Interview"
    assert interview.status == "completed"
    assert interview.created_at.tzinfo is not None


async def test_the_new_endpoint_gets_typed_errors(grown: tuple[Path, ModuleType], prism: str) -> None:
    """A 404 from the new endpoint raises NotFoundError, not a None result."""
    _, get_interview = grown
    async with VersiveClient(KEY, base_url=prism, default_headers={"Prefer": "code=404"}) as versive:
        with pytest.raises(NotFoundError) as caught:
            await get_interview.asyncio(client=versive.generated_client, interview_id="abc")
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


async def test_the_new_endpoint_is_retried(grown: tuple[Path, ModuleType], prism: str) -> None:
    """Connection failures on the new endpoint are retried like any other call."""
    _, get_interview = grown
    transport = FailingFirst(2)
    async with VersiveClient(KEY, base_url=prism, transport=transport, retry_policy=RetryPolicy.no_wait()) as versive:
        interview = await get_interview.asyncio(client=versive.generated_client, interview_id="abc")
    assert interview.id == EXAMPLE["id"]
    assert transport.failures == 0

    async with VersiveClient(
        KEY, base_url=prism, transport=FailingFirst(3), retry_policy=RetryPolicy.no_wait()
    ) as versive:
        with pytest.raises(APIConnectionError) as caught:
            await get_interview.asyncio(client=versive.generated_client, interview_id="abc")
    assert caught.value.attempts == 3

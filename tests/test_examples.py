"""Versive's documented examples: each answer parses into its typed model through the SDK and serialises back whole.

Once against an in-process transport answering each example, and once against Prism
serving Versive's document as published (the vendored openapi.yaml, with no correction):
an independent reading of the same examples, over a real socket.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from conftest import SPEC, run_prism

from versive_client import VersiveClient
from versive_client._generated.operations import OPERATIONS, Operation

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.asyncio

UPSTREAM = json.loads(SPEC.read_text(encoding="utf-8"))


def documented(operation: Operation) -> tuple[int, Any]:
    """The success status and example answer Versive documents for `operation` (None for no body)."""
    status = operation.statuses[0]
    answer = UPSTREAM["paths"][operation.path][operation.method.lower()]["responses"][str(status)]
    return status, answer.get("content", {}).get("application/json", {}).get("example")


def arguments(operation: Operation) -> tuple[list[str], dict[str, Any]]:
    """Arguments Versive's own request example (or a placeholder id) gives the method."""
    body = (
        UPSTREAM["paths"][operation.path][operation.method.lower()]
        .get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("example", {})
    )
    path = ["id_123" for param in operation.params if param.where == "path"]
    keywords = {p.name: "id_123" for p in operation.params if p.where == "query"}
    keywords |= {p.name: body[p.key] for p in operation.params if p.where == "body" and p.key in body}
    return path, keywords


def same_data(value: Any) -> Any:
    """`value` with every ISO 8601 timestamp as the instant it names: ``Z`` and ``+00:00`` are one time."""
    if isinstance(value, dict):
        return {key: same_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [same_data(item) for item in value]
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return dt.datetime.fromisoformat(value)
    return value


def serialised(result: Any) -> Any:
    """What the SDK would send back: each model's ``to_dict()``."""
    if isinstance(result, list):
        return [item.to_dict() for item in result]
    return None if result is None else result.to_dict()


async def call(client: VersiveClient, operation: Operation) -> Any:
    """Call `operation`'s method with its documented arguments."""
    path, keywords = arguments(operation)
    return await getattr(getattr(client, operation.resource), operation.verb)(*path, **keywords)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.resource}.{op.verb}")
async def test_each_documented_answer_parses_and_serialises_back_without_loss(operation: Operation) -> None:
    """The documented example becomes its model (timestamps aware) and to_dict() gives the same data back."""
    status, example = documented(operation)

    def handle(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=example) if example is not None else httpx.Response(status)

    async with VersiveClient("k", transport=httpx.MockTransport(handle), telemetry=False) as client:
        result = await call(client, operation)
    if example is None:
        assert result is None
        return
    assert type(result).__name__ != "dict", "every answer is typed"
    assert same_data(serialised(result)) == same_data(example)
    for model in result if isinstance(result, list) else [result]:
        for name in ("created_at", "started_at", "ended_at", "completed_at"):
            when = getattr(model, name, None)
            assert not isinstance(when, dt.datetime) or when.tzinfo is not None, name


@pytest.fixture(scope="module")
def prism_upstream() -> Iterator[str]:
    """Prism mocking Versive's document exactly as vendored: no overlay, no correction."""
    with run_prism(SPEC) as base_url:
        yield base_url


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.resource}.{op.verb}")
async def test_every_operation_against_prism_serving_versives_document(
    prism_upstream: str, operation: Operation
) -> None:
    """Each method, sent to Prism mocking the published document, gets its example back parsed into the model."""
    status, example = documented(operation)
    async with VersiveClient("k", base_url=prism_upstream, telemetry=False) as client:
        raw = await getattr(getattr(client.with_raw_response, operation.resource), operation.verb)(
            *arguments(operation)[0], **arguments(operation)[1]
        )
    assert raw.status_code == status
    result = raw.parse()
    if example is None:
        assert result is None
    else:
        assert same_data(serialised(result)) == same_data(example)

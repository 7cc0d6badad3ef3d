"""The generated layer, black-box: models parse the documented payloads; the endpoint speaks the spec."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
import yaml
from conftest import SPEC

from versive_client._generated import AuthenticatedClient
from versive_client._generated.api.interviews import create_interview
from versive_client._generated.types import UNSET
from versive_client.models import (
    CreateInterviewReqV1,
    CreateInterviewReqV1MetadataType0,
    HTTPError,
    HTTPValidationError,
    Interview,
    InterviewMetadata,
)

OPERATION = yaml.safe_load(SPEC.read_text())["paths"]["/api/v1/interviews"]["post"]
REQUEST_EXAMPLE: dict[str, Any] = OPERATION["requestBody"]["content"]["application/json"]["example"]
INTERVIEW_EXAMPLE: dict[str, Any] = OPERATION["responses"]["200"]["content"]["application/json"]["example"]
VALIDATION_EXAMPLE: dict[str, Any] = OPERATION["responses"]["422"]["content"]["application/json"]["example"]


def test_interview_parses_the_documented_example() -> None:
    """The spec's 200 example becomes a typed Interview."""
    interview = Interview.from_dict(INTERVIEW_EXAMPLE)
    assert interview.id == "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    assert interview.study_id == "study_123"
    assert interview.title == "New Interview"
    assert interview.link == "https://getversive.com/s/study_123?vid=vid_123"
    assert interview.status == "open"
    assert isinstance(interview.metadata, InterviewMetadata)
    assert interview.metadata.to_dict() == {}


def test_created_at_is_a_timezone_aware_datetime() -> None:
    """`created_at` ('...Z') parses to an aware datetime in UTC."""
    created_at = Interview.from_dict(INTERVIEW_EXAMPLE).created_at
    assert created_at == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert created_at.utcoffset() == dt.timedelta(0)


def test_to_dict_of_from_dict_is_the_input() -> None:
    """A round trip gives back the payload; `Z` comes back as the equivalent `+00:00`."""
    round_tripped = Interview.from_dict(INTERVIEW_EXAMPLE).to_dict()
    assert round_tripped == {**INTERVIEW_EXAMPLE, "created_at": "2024-01-01T00:00:00+00:00"}

    canonical = {**INTERVIEW_EXAMPLE, "created_at": "2024-05-06T07:08:09.123456+00:00"}
    assert Interview.from_dict(canonical).to_dict() == canonical


def test_unknown_fields_survive_in_additional_properties() -> None:
    """Fields the spec does not declare are kept, and written back out."""
    payload = {**INTERVIEW_EXAMPLE, "participant_url": "https://example.test/p", "expires_in": 3600}
    interview = Interview.from_dict(payload)
    assert interview.additional_properties == {"participant_url": "https://example.test/p", "expires_in": 3600}
    assert interview["expires_in"] == 3600
    assert interview.to_dict()["participant_url"] == "https://example.test/p"


def test_optional_fields_may_be_absent_or_null() -> None:
    """`title` may be null and `metadata` absent; required fields are enough."""
    minimal = {k: INTERVIEW_EXAMPLE[k] for k in ("id", "study_id", "link", "status", "created_at")}
    interview = Interview.from_dict({**minimal, "title": None})
    assert interview.title is None
    assert interview.metadata is UNSET


def test_metadata_keeps_arbitrary_values() -> None:
    """Metadata is an open object: nested values come back unchanged."""
    metadata = {"participant_id": "p-42", "cohort": {"wave": 2}, "tags": ["a", "b"]}
    interview = Interview.from_dict({**INTERVIEW_EXAMPLE, "metadata": metadata})
    assert interview.to_dict()["metadata"] == metadata


def test_a_missing_required_field_is_an_error() -> None:
    """A 200 body without `created_at` does not parse into an Interview."""
    incomplete = {k: v for k, v in INTERVIEW_EXAMPLE.items() if k != "created_at"}
    with pytest.raises(KeyError, match="created_at"):
        Interview.from_dict(incomplete)


class RecordingHandler:
    """An httpx.MockTransport handler that records requests and answers with a fixed response."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.response = httpx.Response(status, json=body)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response


def client_for(handler: RecordingHandler) -> AuthenticatedClient:
    """A generated client whose HTTP goes to `handler`."""
    return AuthenticatedClient(
        base_url="https://api.versive.test",
        token="test-key",
        httpx_args={"transport": httpx.MockTransport(handler)},
    )


def documented_body() -> CreateInterviewReqV1:
    """The spec's request example as the generated request model."""
    return CreateInterviewReqV1(
        study_id="study_123",
        title="New Interview",
        metadata=CreateInterviewReqV1MetadataType0.from_dict({}),
        language="English",
    )


@pytest.mark.asyncio
async def test_create_interview_sends_the_documented_request() -> None:
    """The generated function POSTs the documented JSON body, with a bearer token."""
    handler = RecordingHandler(200, INTERVIEW_EXAMPLE)
    async with client_for(handler) as client:
        await create_interview.asyncio_detailed(client=client, body=documented_body())

    (request,) = handler.requests
    assert request.method == "POST"
    assert request.url == "https://api.versive.test/api/v1/interviews"
    assert request.headers["Authorization"] == "Bearer test-key"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == REQUEST_EXAMPLE


@pytest.mark.asyncio
async def test_create_interview_parses_a_200_into_an_interview() -> None:
    """A 200 response comes back as a typed Interview."""
    async with client_for(RecordingHandler(200, INTERVIEW_EXAMPLE)) as client:
        response = await create_interview.asyncio_detailed(client=client, body=documented_body())
    assert response.status_code == 200
    assert isinstance(response.parsed, Interview)
    assert response.parsed.to_dict() == Interview.from_dict(INTERVIEW_EXAMPLE).to_dict()


@pytest.mark.asyncio
async def test_create_interview_parses_a_422_into_a_validation_error() -> None:
    """A 422 response comes back as HTTPValidationError with field locations."""
    async with client_for(RecordingHandler(422, VALIDATION_EXAMPLE)) as client:
        parsed = await create_interview.asyncio(client=client, body=documented_body())
    assert isinstance(parsed, HTTPValidationError)
    assert isinstance(parsed.detail, list)
    (error,) = parsed.detail
    assert error.loc == ["body", "title"]
    assert error.msg == "field required"
    assert error.type_ == "value_error.missing"


@pytest.mark.asyncio
async def test_create_interview_parses_a_401_into_an_http_error() -> None:
    """A 401 (documented by the overlay) comes back as HTTPError with its detail."""
    async with client_for(RecordingHandler(401, {"detail": "Not authenticated"})) as client:
        parsed = await create_interview.asyncio(client=client, body=documented_body())
    assert isinstance(parsed, HTTPError)
    assert parsed.detail == "Not authenticated"


def test_an_omitted_language_is_sent_as_the_spec_default() -> None:
    """The request model fills `language` with the spec's default and omits unset optionals."""
    assert CreateInterviewReqV1(study_id="s").to_dict() == {"study_id": "s", "language": "English"}
    assert CreateInterviewReqV1(study_id="s", title=None, metadata=None).to_dict() == {
        "study_id": "s",
        "language": "English",
        "title": None,
        "metadata": None,
    }

"""The contract suite, run against the fake Versive and against Prism mocking openapi.yaml.

Both are independent readings of one spec, so a test here that passes on both says the
fake answers as the spec does. Prism answers a bad body with the spec's 422 example and
reports where the problem is in its `sl-violations` header; the fake reports it in the
body, as the API does. `problem_locations` reads each.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from attrs import frozen
from conftest import AUTH, KEY, PATH, SPEC, run_prism

from versive_client._generated import AuthenticatedClient
from versive_client._generated.api.interviews import create_interview
from versive_client.models import CreateInterviewReqV1, HTTPValidationError, Interview
from versive_client.testing import FakeVersive

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.asyncio


@frozen
class Target:
    """Something that claims to speak the spec, with the way it reports 422 problem locations."""

    base_url: str
    problem_locations: Callable[[httpx.Response], set[tuple[str | int, ...]]]


def locations_from_body(response: httpx.Response) -> set[tuple[str | int, ...]]:
    """The API's (and the fake's) way: each `detail` entry's `loc`."""
    return {tuple(entry["loc"]) for entry in response.json()["detail"]}


def locations_from_prism(response: httpx.Response) -> set[tuple[str | int, ...]]:
    """Prism's way: its `sl-violations` header, a location per violated keyword."""
    found: set[tuple[str | int, ...]] = set()
    for violation in json.loads(response.headers["sl-violations"]):
        location = tuple(violation["location"][1:])  # drop the leading "request"
        missing = re.search(r"required property '([^']+)'", violation["message"])
        found.add((*location, missing.group(1)) if missing else location)
    return found


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    """Prism mocking openapi.yaml on loopback. Missing Prism fails the run: it is never skipped."""
    with run_prism(SPEC) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    """The fake Versive on loopback, with an API key."""
    with FakeVersive(api_key=KEY).serve_in_thread() as base_url:
        yield base_url


@pytest.fixture(params=["fake", "prism"])
def target(request: pytest.FixtureRequest) -> Target:
    """Each implementation of the spec in turn."""
    if request.param == "fake":
        return Target(request.getfixturevalue("fake_url"), locations_from_body)
    return Target(request.getfixturevalue("prism_url"), locations_from_prism)


async def test_a_valid_request_gets_a_typed_interview(target: Target) -> None:
    """The generated endpoint, with a bearer token, returns 200 parsed into an Interview."""
    async with AuthenticatedClient(base_url=target.base_url, token=KEY) as client:
        response = await create_interview.asyncio_detailed(
            client=client, body=CreateInterviewReqV1(study_id="study_123", title="New Interview")
        )
    assert response.status_code == 200
    assert isinstance(response.parsed, Interview)
    assert response.parsed.created_at.tzinfo is not None
    assert response.parsed.status == "open"


async def test_missing_auth_is_401_with_a_json_detail(target: Target) -> None:
    """Without a bearer token: 401 and a JSON body with `detail`."""
    async with httpx.AsyncClient(base_url=target.base_url) as client:
        response = await client.post(PATH, json={"study_id": "study_123"})
    assert response.status_code == 401
    assert "json" in response.headers["content-type"]
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"title": "t"}, ("body", "study_id")),
        ({"study_id": 5}, ("body", "study_id")),
        ({"study_id": "s", "title": 3}, ("body", "title")),
        ({"study_id": "s", "metadata": ["x"]}, ("body", "metadata")),
        ({"study_id": "s", "language": 1}, ("body", "language")),
    ],
    ids=["missing-study-id", "study-id-int", "title-int", "metadata-list", "language-int"],
)
async def test_an_invalid_body_is_422_naming_the_field(
    target: Target, body: dict[str, Any], location: tuple[str, ...]
) -> None:
    """A bad body: 422 in HTTPValidationError shape, with the offending field's location."""
    async with httpx.AsyncClient(base_url=target.base_url) as client:
        response = await client.post(PATH, headers=AUTH, json=body)
    assert response.status_code == 422
    parsed = HTTPValidationError.from_dict(response.json())
    assert isinstance(parsed.detail, list)
    assert parsed.detail
    assert location in target.problem_locations(response)

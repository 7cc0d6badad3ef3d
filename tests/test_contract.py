"""The contract suite, run against the fake Versive and against Prism mocking openapi.yaml.

Both are independent readings of one spec, so a test here that passes on both says the
fake answers as the spec does. Prism answers a bad request with the spec's 422 example and
reports where the problem is in its `sl-violations` header; the fake reports it in the
body, as the API does. `problem_locations` reads each. Requests are plain httpx, as
any client of the API would send them.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from attrs import frozen
from conftest import AUTH, KEY, PATH, SPEC, run_prism

from versive_client.models import Folder, HTTPValidationError, Interview, Question, Study
from versive_client.testing import FakeVersive

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.asyncio


@frozen
class Target:
    """Something that claims to speak the spec, with the way it reports 422 problem locations."""

    base_url: str
    problem_locations: Callable[[httpx.Response], set[tuple[str | int, ...]]]
    study_id: str  # a study it holds (Prism answers its example for any)


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
def fake_target() -> Iterator[Target]:
    """The fake Versive on loopback, with an API key and a study."""
    fake = FakeVersive(api_key=KEY)
    study = fake.add_study(title="My Study")
    fake.add_question(study.id, "What is your favorite color?")
    with fake.serve_in_thread() as base_url:
        yield Target(base_url, locations_from_body, study.id)


@pytest.fixture(params=["fake", "prism"])
def target(request: pytest.FixtureRequest) -> Target:
    """Each implementation of the spec in turn."""
    if request.param == "fake":
        found: Target = request.getfixturevalue("fake_target")
        return found
    return Target(request.getfixturevalue("prism_url"), locations_from_prism, "study_123")


async def test_a_valid_request_gets_a_typed_interview(target: Target) -> None:
    """A create with a bearer token returns 200 that parses into an Interview, open, with an aware created_at."""
    async with httpx.AsyncClient(base_url=target.base_url, headers=AUTH) as client:
        response = await client.post(PATH, json={"study_id": "study_123", "title": "New Interview"})
    assert response.status_code == 200
    interview = Interview.from_dict(response.json())
    assert interview.created_at.tzinfo is not None
    assert interview.status == "open"


@pytest.mark.parametrize(
    ("method", "path", "parse"),
    [
        ("GET", "/api/v1/studies", lambda body: [Study.from_dict(item) for item in body]),
        ("GET", "/api/v1/studies/{study}", Study.from_dict),
        ("GET", "/api/v1/questions?study_id={study}", lambda body: [Question.from_dict(item) for item in body]),
        ("POST", "/api/v1/folders", Folder.from_dict),
    ],
)
async def test_other_operations_answer_their_typed_models(
    target: Target, method: str, path: str, parse: Callable[[Any], object]
) -> None:
    """Reads of a study and its questions, and a folder created: the documented status, and a body the models read."""
    async with httpx.AsyncClient(base_url=target.base_url, headers=AUTH) as client:
        body = {"name": "My Folder"} if method == "POST" else None  # Prism refuses a GET with a body
        response = await client.request(method, path.format(study=target.study_id), json=body)
    assert response.status_code == (201 if method == "POST" else 200)
    assert parse(response.json())


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", PATH), ("GET", "/api/v1/questions?study_id=study_123"), ("GET", "/api/v1/folders")],
)
async def test_missing_auth_is_401_with_a_json_detail(target: Target, method: str, path: str) -> None:
    """Without a bearer token: 401 and a JSON body with `detail`."""
    async with httpx.AsyncClient(base_url=target.base_url) as client:
        response = await client.request(method, path, json={"study_id": "study_123"})
    assert response.status_code == 401
    assert "json" in response.headers["content-type"]
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "name"),
    [(PATH, "vid"), ("/api/v1/questions", "study_id"), ("/api/v1/question-logic", "question_id")],
)
async def test_a_missing_query_parameter_is_422_naming_it(target: Target, path: str, name: str) -> None:
    """A read without its required query parameter: 422 in HTTPValidationError shape, located at the parameter."""
    async with httpx.AsyncClient(base_url=target.base_url, headers=AUTH) as client:
        response = await client.get(path)
    assert response.status_code == 422
    assert isinstance(HTTPValidationError.from_dict(response.json()).detail, list)
    assert ("query", name) in target.problem_locations(response)


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


@pytest.mark.parametrize(
    ("path", "body", "locations"),
    [
        ("/api/v1/studies", {}, {("body", "title")}),
        ("/api/v1/studies/study_123/agent", {}, {("body", "message")}),
        (
            "/api/v1/question-logic",
            {"study_id": "study_123"},
            {
                ("body", "question_id"),
                ("body", "operation"),
                ("body", "comparison_value_type"),
                ("body", "action_type"),
            },
        ),
    ],
    ids=["study", "agent", "logic"],
)
async def test_other_bad_bodies_are_422_naming_every_missing_field(
    target: Target, path: str, body: dict[str, Any], locations: set[tuple[str, ...]]
) -> None:
    """Other operations' bodies, checked against their own schemas: each missing field located."""
    async with httpx.AsyncClient(base_url=target.base_url, headers=AUTH) as client:
        response = await client.post(path, json=body)
    assert response.status_code == 422
    assert isinstance(HTTPValidationError.from_dict(response.json()).detail, list)
    assert target.problem_locations(response) == locations

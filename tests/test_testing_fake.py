"""versive_client.testing.FakeVersive: the API's behaviour, in-process and on loopback alike."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
import pytest_asyncio
from conftest import AUTH, GENERATED, KEY, PATH
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from versive_client.models import Folder, Interview, StudyConfigType0
from versive_client.testing import FakeVersive, RateLimit, faults

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio


FakeHttp = tuple[FakeVersive, httpx.AsyncClient]


async def test_a_valid_request_creates_an_interview(fake_http: FakeHttp) -> None:
    """200 with the Interview shape: fresh UUID, the given fields, the documented link, open, now in UTC."""
    fake, client = fake_http
    before = dt.datetime.now(dt.UTC)
    response = await client.post(
        PATH, headers=AUTH, json={"study_id": "study_123", "title": "Onboarding", "metadata": {"p": "p-42"}}
    )
    after = dt.datetime.now(dt.UTC)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "title", "study_id", "metadata", "link", "status", "created_at"}
    assert uuid.UUID(body["id"]).version == 4
    assert (body["study_id"], body["title"], body["metadata"], body["status"]) == (
        "study_123",
        "Onboarding",
        {"p": "p-42"},
        "open",
    )
    assert re.fullmatch(r"https://getversive\.com/s/study_123\?vid=vid_[0-9a-f]{16}", body["link"])
    assert body["created_at"].endswith("Z")
    interview = Interview.from_dict(body)
    assert before <= interview.created_at <= after
    assert [i.to_dict() for i in fake.interviews] == [interview.to_dict()]


async def test_defaults_title_null_and_metadata_empty(fake_http: FakeHttp) -> None:
    """Without title and metadata the interview has `title: null` and `metadata: {}`."""
    _, client = fake_http
    body = (await client.post(PATH, headers=AUTH, json={"study_id": "s"})).json()
    assert body["title"] is None
    assert body["metadata"] == {}
    body = (await client.post(PATH, headers=AUTH, json={"study_id": "s", "metadata": None})).json()
    assert body["metadata"] == {}


async def test_every_interview_is_new(fake_http: FakeHttp) -> None:
    """Two creates give two ids and two links; the store keeps both in order."""
    fake, client = fake_http
    first = (await client.post(PATH, headers=AUTH, json={"study_id": "s"})).json()
    second = (await client.post(PATH, headers=AUTH, json={"study_id": "s"})).json()
    assert first["id"] != second["id"]
    assert first["link"] != second["link"]
    assert [i.id for i in fake.interviews] == [first["id"], second["id"]]


async def test_a_study_id_is_escaped_in_the_link(fake_http: FakeHttp) -> None:
    """A study id with spaces or slashes still gives a valid link."""
    _, client = fake_http
    body = (await client.post(PATH, headers=AUTH, json={"study_id": "a b/c"})).json()
    assert body["link"].startswith("https://getversive.com/s/a%20b%2Fc?vid=")


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": "Bearer"}, "Not authenticated"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Not authenticated"),
        ({"Authorization": "Bearer wrong-key"}, "Invalid authentication credentials"),
    ],
)
async def test_missing_or_wrong_bearer_is_401(fake_http: FakeHttp, headers: dict[str, str], detail: str) -> None:
    """No or wrong credentials: 401 with a JSON detail and a Bearer challenge; nothing created."""
    fake, client = fake_http
    response = await client.post(PATH, headers=headers, json={"study_id": "s"})
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["www-authenticate"] == "Bearer"
    assert fake.interviews == []


async def test_any_non_empty_bearer_is_accepted_without_an_api_key() -> None:
    """FakeVersive() with no api_key takes any bearer token."""
    fake = FakeVersive()
    async with httpx.AsyncClient(base_url="https://fake.versive.test", transport=fake.transport()) as client:
        response = await client.post(PATH, headers={"Authorization": "Bearer anything"}, json={"study_id": "s"})
    assert response.status_code == 200


def problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    """One HTTPValidationError entry."""
    return {"loc": loc, "msg": msg, "type": kind}


MISSING = ("field required", "value_error.missing")
NOT_STR = ("str type expected", "type_error.str")
NOT_DICT = ("value is not a valid dict", "type_error.dict")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, [problem(["body", "study_id"], *MISSING)], id="missing-study-id"),
        pytest.param({"study_id": 123}, [problem(["body", "study_id"], *NOT_STR)], id="study-id-int"),
        pytest.param(
            {"study_id": None},
            [problem(["body", "study_id"], "none is not an allowed value", "type_error.none.not_allowed")],
            id="study-id-null",
        ),
        pytest.param({"study_id": "s", "metadata": []}, [problem(["body", "metadata"], *NOT_DICT)], id="metadata-list"),
        pytest.param({"study_id": "s", "metadata": "x"}, [problem(["body", "metadata"], *NOT_DICT)], id="metadata-str"),
        pytest.param({"study_id": "s", "language": 1}, [problem(["body", "language"], *NOT_STR)], id="language-int"),
        pytest.param({"study_id": "s", "title": True}, [problem(["body", "title"], *NOT_STR)], id="title-bool"),
        pytest.param(
            {"title": 1, "metadata": 2, "language": [], "extra": "ignored"},
            [
                problem(["body", "study_id"], *MISSING),
                problem(["body", "metadata"], *NOT_DICT),
                problem(["body", "language"], *NOT_STR),
                problem(["body", "title"], *NOT_STR),
            ],
            id="one-entry-per-problem",
        ),
        pytest.param([], [problem(["body"], *NOT_DICT)], id="not-an-object"),
    ],
)
async def test_invalid_bodies_are_422_with_field_locations(
    fake_http: FakeHttp, body: Any, expected: list[dict[str, Any]]
) -> None:
    """Each problem is one HTTPValidationError entry whose `loc` points at the field."""
    fake, client = fake_http
    response = await client.post(PATH, headers=AUTH, json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": expected}
    assert fake.interviews == []


async def test_a_body_that_is_not_json_is_422(fake_http: FakeHttp) -> None:
    """Malformed JSON gives a jsondecode entry at the body position where parsing failed."""
    _, client = fake_http
    response = await client.post(PATH, headers={**AUTH, "Content-Type": "application/json"}, content=b'{"study_id": ')
    assert response.status_code == 422
    (entry,) = response.json()["detail"]
    assert entry["loc"] == ["body", 13]
    assert entry["type"] == "value_error.jsondecode"
    assert entry["msg"].startswith("Expecting value")


@pytest.mark.parametrize(
    ("content_type", "content", "expected"),
    [
        ("text/plain", b'{"study_id": "s"}', problem(["body"], *NOT_DICT)),
        ("application/x-www-form-urlencoded", b"study_id=s", problem(["body"], *NOT_DICT)),
        ("application/json", b"", problem(["body"], *MISSING)),
    ],
)
async def test_a_wrong_content_type_or_empty_body_is_422(
    fake_http: FakeHttp, content_type: str, content: bytes, expected: dict[str, Any]
) -> None:
    """A non-JSON content type or an empty body is refused at `body`."""
    _, client = fake_http
    response = await client.post(PATH, headers={**AUTH, "Content-Type": content_type}, content=content)
    assert response.status_code == 422
    assert response.json() == {"detail": [expected]}


async def test_json_media_type_variants_are_accepted(fake_http: FakeHttp) -> None:
    """`application/json; charset=utf-8` is JSON too."""
    _, client = fake_http
    response = await client.post(
        PATH, headers={**AUTH, "Content-Type": "application/json; charset=utf-8"}, content=b'{"study_id": "s"}'
    )
    assert response.status_code == 200


async def test_auth_is_checked_before_the_body(fake_http: FakeHttp) -> None:
    """An invalid body without credentials is a 401, as FastAPI's security dependency decides first."""
    _, client = fake_http
    assert (await client.post(PATH, json={})).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("DELETE", PATH, (405, "Method Not Allowed", "GET, POST")),
        ("PATCH", "/api/v1/studies/s-1", (405, "Method Not Allowed", "GET, PUT")),
        ("GET", "/api/v1/questions/batch", (405, "Method Not Allowed", "POST")),
        ("GET", "/", (404, "Not Found", None)),
        ("POST", "/api/v1/interview", (404, "Not Found", None)),
        ("POST", "/api/v2/interviews", (404, "Not Found", None)),
        ("GET", "/api/v1/studies/s-1/questions", (404, "Not Found", None)),
    ],
)
async def test_other_paths_and_methods(
    fake_http: FakeHttp, method: str, path: str, expected: tuple[int, str, str | None]
) -> None:
    """A path the spec lacks is 404; a method its path lacks is 405 naming the methods it has, as FastAPI answers."""
    _, client = fake_http
    response = await client.request(method, path)
    assert (response.status_code, response.json()["detail"], response.headers.get("allow")) == expected


async def test_a_head_request_gets_the_headers_only(fake_http: FakeHttp) -> None:
    """HEAD is no method of the spec: a 405 without a body, and the connection serves the next request."""
    _, client = fake_http
    response = await client.head(PATH)
    assert (response.status_code, response.content, response.headers["allow"]) == (405, b"", "GET, POST")
    assert (await client.post(PATH, headers=AUTH, json={"study_id": "s"})).status_code == 200


async def test_a_query_string_does_not_change_the_route(fake_http: FakeHttp) -> None:
    """The route is matched on the path alone."""
    _, client = fake_http
    response = await client.post(PATH, params={"x": "1"}, headers=AUTH, json={"study_id": "s"})
    assert response.status_code == 200


async def test_requests_are_recorded_with_authorization_redacted(
    fake_http: FakeHttp,
) -> None:
    """Method, path, headers (Authorization value redacted) and parsed body of every request."""
    fake, client = fake_http
    await client.post(PATH, headers={**AUTH, "Idempotency-Key": "k-1"}, json={"study_id": "s"})
    await client.get("/nope")

    first, second = fake.requests
    assert (first.method, first.path, first.body, first.status, first.fault) == (
        "POST",
        PATH,
        {"study_id": "s"},
        200,
        None,
    )
    assert first.headers["authorization"] == "[redacted]"
    assert first.idempotency_key == "k-1"
    assert KEY not in repr(fake.requests)
    assert KEY not in repr(fake)
    assert (second.method, second.path, second.body, second.status) == ("GET", "/nope", None, 404)


async def test_a_text_body_is_recorded_as_text(fake_http: FakeHttp) -> None:
    """A body that is not JSON is kept as text."""
    fake, client = fake_http
    await client.post(PATH, headers={**AUTH, "Content-Type": "text/plain"}, content=b"hello")
    assert fake.requests[0].body == "hello"


async def test_the_same_idempotency_key_and_body_replays_the_interview(
    fake_http: FakeHttp,
) -> None:
    """A repeated key with the same body returns the first interview, not a new one."""
    fake, client = fake_http
    headers = {**AUTH, "Idempotency-Key": "same"}
    first = await client.post(PATH, headers=headers, json={"study_id": "s", "title": "t"})
    again = await client.post(PATH, headers=headers, content=json.dumps({"title": "t", "study_id": "s"}).encode())
    assert again.status_code == 200
    assert again.json() == first.json()
    assert len(fake.interviews) == 1
    assert fake.attempts("same") == 2


async def test_the_same_idempotency_key_with_another_body_is_refused(
    fake_http: FakeHttp,
) -> None:
    """Reusing a key for a different body is a 422 that names the header."""
    fake, client = fake_http
    headers = {**AUTH, "Idempotency-Key": "same"}
    await client.post(PATH, headers=headers, json={"study_id": "s"})
    response = await client.post(PATH, headers=headers, json={"study_id": "other"})
    assert response.status_code == 422
    (entry,) = response.json()["detail"]
    assert entry["loc"] == ["header", "Idempotency-Key"]
    assert "different request body" in entry["msg"]
    assert len(fake.interviews) == 1


async def test_idempotency_keys_are_separate_per_api_key() -> None:
    """The same key under two bearer tokens creates two interviews."""
    fake = FakeVersive()
    async with httpx.AsyncClient(base_url="https://fake.versive.test", transport=fake.transport()) as client:
        for token in ("a", "b"):
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
            await client.post(PATH, headers=headers, json={"study_id": "s"})
    assert len(fake.interviews) == 2


async def test_different_keys_create_different_interviews(fake_http: FakeHttp) -> None:
    """Without a shared key, the same body creates a new interview each time."""
    fake, client = fake_http
    for key in ("a", "b"):
        await client.post(PATH, headers={**AUTH, "Idempotency-Key": key}, json={"study_id": "s"})
    assert len(fake.interviews) == 2


async def test_reset_forgets_everything(fake_http: FakeHttp) -> None:
    """reset() empties the store, the request log and the idempotency keys."""
    fake, client = fake_http
    headers = {**AUTH, "Idempotency-Key": "k"}
    await client.post(PATH, headers=headers, json={"study_id": "s"})
    fake.reset()
    assert (fake.interviews, fake.requests) == ([], [])
    await client.post(PATH, headers=headers, json={"study_id": "other"})
    assert len(fake.interviews) == 1


async def test_an_empty_api_key_is_refused() -> None:
    """FakeVersive(api_key='') is an error: it would accept nothing and explain nothing."""
    with pytest.raises(ValueError, match="api_key must be a non-empty string"):
        FakeVersive(api_key=" ")


async def test_the_loopback_server_keeps_connections_alive() -> None:
    """Several requests reuse one connection, and the server stops cleanly with it open."""
    fake = FakeVersive()
    async with fake.serve() as base_url, httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(3):
            response = await client.post(PATH, headers={"Authorization": "Bearer x"}, json={"study_id": "s"})
            assert response.status_code == 200
    assert len(fake.interviews) == 3


async def test_two_servers_get_two_ports() -> None:
    """Port 0 picks a free ephemeral port each time."""
    first, second = FakeVersive(), FakeVersive()
    async with first.serve() as url_1, second.serve() as url_2:
        assert url_1 != url_2


async def test_a_rate_limit_refuses_above_it_before_the_api(fake_http: FakeHttp) -> None:
    """RateLimit(burst=3): a fourth request at once is refused 429 with Retry-After, not created, and recorded."""
    fake, client = fake_http
    fake.rate_limit = RateLimit(0.5, burst=3)
    fake.reset()
    answers = [await client.post(PATH, headers=AUTH, json={"study_id": "s"}) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert refused.json() == {"detail": "Too Many Requests"}
    assert refused.headers["retry-after"] == "2", "a token frees in 2 s at half a request a second"
    assert len(fake.interviews) == 3
    assert fake.requests[3].status == 429
    assert fake.requests[3].fault is None


async def test_a_rate_limit_states_itself_in_headers_unless_told_not_to(
    fake_http: FakeHttp,
) -> None:
    """Every answer states the limit as the IETF draft and as X-RateLimit-*; with headers=False, none does."""
    fake, client = fake_http
    fake.rate_limit = RateLimit(200, burst=20)
    fake.reset()
    answer = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
    assert answer.headers["ratelimit-policy"] == '"default";q=200;w=1'
    assert answer.headers["ratelimit"] == '"default";r=19;t=1'
    assert (answer.headers["x-ratelimit-limit"], answer.headers["x-ratelimit-remaining"]) == ("200", "19")
    assert answer.headers["x-ratelimit-reset"] == "1"
    fake.rate_limit = RateLimit(200, burst=20, headers=False)
    quiet = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
    assert not [name for name in quiet.headers if "ratelimit" in name]


async def test_the_limit_refills_as_time_passes() -> None:
    """Tokens come back at the limit's rate: a refused client that waits is served."""
    fake = FakeVersive(api_key=KEY, rate_limit=RateLimit(50, burst=1))
    async with httpx.AsyncClient(base_url="https://fake.versive.test", transport=fake.transport()) as client:
        first = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
        second = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
        await anyio.sleep(0.05)
        third = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
    assert [first.status_code, second.status_code, third.status_code] == [200, 429, 200]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: RateLimit(0), ValueError, "per_second must be > 0, got 0"),
        (lambda: RateLimit(10, burst=0), ValueError, "burst must be >= 1, got 0"),
        (lambda: FakeVersive(rate_limit=10), TypeError, "rate_limit must be a RateLimit or None, got int"),  # type: ignore[arg-type]
    ],
)
async def test_bad_rate_limits_are_refused(make: Any, error: type[Exception], message: str) -> None:
    """A limit that cannot be is refused when it is made, naming the field."""
    with pytest.raises(error, match=message):
        make()


# -- every operation of the spec ---------------------------------------------------------------

SPEC = json.loads((GENERATED / "openapi.json").read_text(encoding="utf-8"))
# The document's `$ref`s are all local (`#/components/...`): pointed at this URI, they resolve in the registry.
SPEC_URI = "urn:test:openapi"
REGISTRY: Registry[Any] = Registry().with_resource(
    SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
OPERATIONS = sorted(
    (
        (method.upper(), template, re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))), operation)
        for template, item in SPEC["paths"].items()
        for method, operation in item.items()
    ),
    key=lambda found: found[1].count("{"),  # /questions/batch before /questions/{question_id}
)


def operation_of(method: str, path: str) -> dict[str, Any] | None:
    """The spec's operation that a request reaches, if any."""
    for documented_method, _, pattern, operation in OPERATIONS:
        if documented_method == method and pattern.fullmatch(path):
            found: dict[str, Any] = operation
            return found
    return None


async def matches_the_spec(response: httpx.Response) -> None:
    """Response hook: an operation's answer has a status the spec documents, and a body its schema accepts."""
    await response.aread()
    request = response.request
    operation = operation_of(request.method, request.url.path)
    if operation is None:  # no operation: the router's 404 or 405, which the spec cannot document
        return
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, f"{request.method} {request.url.path}: {response.status_code} is undocumented"
    if "content" not in documented:
        assert response.content == b""
        return
    schema = json.loads(
        json.dumps(documented["content"]["application/json"]["schema"]).replace('"#/', f'"{SPEC_URI}#/')
    )
    validator = Draft202012Validator(schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)
    validator.validate(response.json())


@pytest_asyncio.fixture
async def api(fake_http: FakeHttp) -> AsyncIterator[FakeHttp]:
    """`fake_http` whose client sends the API key and checks every answer against the spec's schema."""
    fake, client = fake_http
    client.headers.update(AUTH)
    client.event_hooks = {"request": [], "response": [matches_the_spec]}
    yield fake, client


async def create_study(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """POST /studies; the new study."""
    response = await client.post("/api/v1/studies", json={"title": "Onboarding", **fields})
    assert response.status_code == 201, response.text
    study: dict[str, Any] = response.json()
    return study


async def batch(client: httpx.AsyncClient, *items: dict[str, Any]) -> dict[str, list[str]]:
    """POST /questions/batch; the created and updated ids."""
    response = await client.post("/api/v1/questions/batch", json={"questions": list(items)})
    assert response.status_code == 201, response.text
    ids: dict[str, list[str]] = response.json()
    return ids


async def questions_of(client: httpx.AsyncClient, study_id: str) -> list[dict[str, Any]]:
    """GET /questions?study_id=; the study's questions."""
    response = await client.get("/api/v1/questions", params={"study_id": study_id})
    assert response.status_code == 200, response.text
    questions: list[dict[str, Any]] = response.json()
    return questions


async def create_rule(client: httpx.AsyncClient, study_id: str, question_id: str, **fields: Any) -> dict[str, Any]:
    """POST /question-logic; the new rule."""
    body = {"study_id": study_id, "question_id": question_id, "operation": "equals", "comparison_value_type": "text"}
    response = await client.post("/api/v1/question-logic", json={**body, "action_type": "skip_to", **fields})
    assert response.status_code == 201, response.text
    rule: dict[str, Any] = response.json()
    return rule


def vid_of(link: str) -> str:
    """The participant's vid in an interview's link."""
    return parse_qs(urlsplit(link).query)["vid"][0]


async def test_an_interview_reads_back_by_id_and_by_vid(api: FakeHttp) -> None:
    """GET /interviews/{id} and GET /interviews?vid= answer InterviewDetails: as created, not yet run."""
    _, client = api
    body = {"study_id": "study_123", "title": "Onboarding", "metadata": {"p": "p-42"}, "language": "English"}
    created = (await client.post(PATH, json=body)).json()
    details = (await client.get(f"{PATH}/{created['id']}")).json()
    assert details == {
        "id": created["id"],
        "status": "open",
        "created_at": created["created_at"],
        "title": "Onboarding",
        "metadata": {"p": "p-42"},
        "progress": 0,
        "conversation_json": None,
        "parsed_conversation_json": None,
        "transcript": None,
        "is_mock": False,
        "is_archived": False,
        "language": "English",
        "type": "VERSIVE",
        "notes": None,
        "started_at": None,
        "ended_at": None,
        "completed_at": None,
        "active_time": None,
        "recording_id": None,
        "link": created["link"],
        "vid": vid_of(created["link"]),
    }
    assert (await client.get(PATH, params={"vid": details["vid"]})).json() == details


async def test_cancelling_an_interview_shows_in_later_reads(api: FakeHttp) -> None:
    """PUT /interviews/{id} {"status": "canceled"} answers the message; reads and fake.interviews show the status."""
    fake, client = api
    created = (await client.post(PATH, json={"study_id": "s"})).json()
    untouched = (await client.post(PATH, json={"study_id": "s"})).json()
    response = await client.put(f"{PATH}/{created['id']}", json={"status": "canceled"})
    assert (response.status_code, response.json()) == (200, {"message": "Interview updated successfully"})
    assert (await client.get(f"{PATH}/{created['id']}")).json()["status"] == "canceled"
    assert (await client.get(PATH, params={"vid": vid_of(created["link"])})).json()["status"] == "canceled"
    assert [interview.status for interview in fake.interviews] == ["canceled", "open"]
    assert (await client.put(f"{PATH}/{untouched['id']}", json={})).status_code == 200, "nothing sent, nothing changed"
    assert (await client.get(f"{PATH}/{untouched['id']}")).json()["status"] == "open"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{PATH}/nope", None),
        ("GET", f"{PATH}?vid=vid_nope", None),
        ("PUT", f"{PATH}/nope", {"status": "canceled"}),
    ],
)
async def test_an_unknown_interview_is_404(api: FakeHttp, method: str, path: str, body: Any) -> None:
    """An id or vid the fake never gave: 404 with a detail."""
    _, client = api
    await client.post(PATH, json={"study_id": "s"})
    response = await client.request(method, path, json=body)
    assert (response.status_code, response.json()) == (404, {"detail": "Interview not found"})


async def test_set_interview_moves_an_interview_on_as_the_participant_would(api: FakeHttp) -> None:
    """fake.set_interview() sets what the API later answers; what InterviewDetails refuses raises."""
    fake, client = api
    created = (await client.post(PATH, json={"study_id": "s"})).json()
    turns = [{"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Hi"}]
    details = fake.set_interview(created["id"], status="closed", progress=100, transcript="Hello / Hi")
    fake.set_interview(created["id"], conversation_json=turns, completed_at="2030-01-01T00:10:00Z")
    assert (details.status, details.progress, details.transcript) == ("closed", 100, "Hello / Hi")
    read = (await client.get(f"{PATH}/{created['id']}")).json()
    assert (read["status"], read["progress"], read["transcript"]) == ("closed", 100, "Hello / Hi")
    assert (read["conversation_json"], read["completed_at"]) == (turns, "2030-01-01T00:10:00Z")
    with pytest.raises(ValueError, match="progress: value is not a valid integer"):
        fake.set_interview(created["id"], progress="most")
    with pytest.raises(ValueError, match="id: not a field of an interview that can be set; study_id: not a field"):
        fake.set_interview(created["id"], id="other", study_id="other")
    with pytest.raises(LookupError, match="Interview not found"):
        fake.set_interview("nope", status="closed")
    assert (await client.get(f"{PATH}/{created['id']}")).json()["progress"] == 100, "a refused change changes nothing"


async def test_folders_and_studies_read_back_as_created(api: FakeHttp) -> None:
    """POST /folders and /studies answer 201; the lists, the study by id and fake.folders/.studies show them."""
    fake, client = api
    response = await client.post("/api/v1/folders", json={"name": "Research", "access_policy": "CAN_EDIT"})
    assert response.status_code == 201
    folder = response.json()
    assert (set(folder), folder["name"]) == ({"id", "name", "created_at"}, "Research")
    assert folder["created_at"].endswith("Z")
    welcome = {"title": "Welcome", "body": "Thanks for participating."}
    study = await create_study(
        client,
        description="Preferences",
        config={"primaryColor": "#0E9489"},
        welcome_message=welcome,
        folder_id=folder["id"],
    )
    assert study == {
        "id": study["id"],
        "title": "Onboarding",
        "metadata": {},
        "type": "VERSIVE_STUDY",
        "mode": "TEXT_AND_VOICE",
        "created_at": study["created_at"],
        "description": "Preferences",
        "config": {"primaryColor": "#0E9489"},
        "welcome_message": welcome,
        "thank_you_message": None,
        "screen_out_message": None,
        "folder_id": folder["id"],
    }
    other = await create_study(client, title="Pricing", mode="VIDEO")
    assert other["mode"] == "VIDEO"
    assert (await client.get("/api/v1/studies")).json() == [study, other]
    assert (await client.get(f"/api/v1/studies/{study['id']}")).json() == study
    assert (await client.get("/api/v1/folders")).json() == [folder]
    assert [s.title for s in fake.studies] == ["Onboarding", "Pricing"]
    assert [f.name for f in fake.folders] == ["Research"]


async def test_updating_a_study_merges_its_config(api: FakeHttp) -> None:
    """PUT /studies/{id} merges `config` into the stored one and answers the study; later reads agree."""
    fake, client = api
    study = await create_study(client, config={"interviewName": "Ada", "primaryColor": "#0E9489"})
    response = await client.put(f"/api/v1/studies/{study['id']}", json={"config": {"primaryColor": "#FF0000"}})
    merged = {"interviewName": "Ada", "primaryColor": "#FF0000"}
    assert (response.status_code, response.json()["config"]) == (200, merged)
    assert (await client.get(f"/api/v1/studies/{study['id']}")).json()["config"] == merged
    assert (await client.put(f"/api/v1/studies/{study['id']}", json={"config": None})).json()["config"] == merged
    config = fake.studies[0].config
    assert isinstance(config, StudyConfigType0)
    assert config.to_dict() == merged


@pytest.mark.parametrize(
    ("method", "path", "body", "detail"),
    [
        ("GET", "/api/v1/studies/nope", None, "Study not found"),
        ("PUT", "/api/v1/studies/nope", {"config": {}}, "Study not found"),
        (
            "POST",
            "/api/v1/studies/nope/ai-edit",
            {"current_message": "m", "questions": [], "language": "English"},
            "Study not found",
        ),
        ("POST", "/api/v1/studies/nope/agent", {"message": "m"}, "Study not found"),
        ("GET", "/api/v1/questions?study_id=nope", None, "Study not found"),
        ("POST", "/api/v1/studies", {"title": "t", "folder_id": "nope"}, "Folder not found"),
        ("POST", "/api/v1/questions/batch", {"questions": [{"study_id": "nope", "content": "Q"}]}, "Study not found"),
        ("POST", "/api/v1/questions/batch", {"questions": [{"content": "Q"}]}, "Study not found"),
        ("POST", "/api/v1/questions/batch", {"questions": [{"id": "nope", "content": "Q"}]}, "Question not found"),
        ("POST", "/api/v1/questions/batch", {"questions": [{"id": 7, "content": "Q"}]}, "Question not found"),
        ("PUT", "/api/v1/questions/nope", {"content": "Q"}, "Question not found"),
        ("DELETE", "/api/v1/questions/nope", None, "Question not found"),
        ("GET", "/api/v1/question-logic?question_id=nope", None, "Question not found"),
        ("PUT", "/api/v1/question-logic/nope", {"operation": "equals"}, "Question logic not found"),
        ("DELETE", "/api/v1/question-logic/nope", None, "Question logic not found"),
    ],
)
async def test_an_unknown_id_is_404(api: FakeHttp, method: str, path: str, body: Any, detail: str) -> None:
    """Whatever names a study, folder, question or rule the fake does not hold: 404 with a detail; nothing changes."""
    fake, client = api
    await create_study(client)
    response = await client.request(method, path, json=body)
    assert (response.status_code, response.json()) == (404, {"detail": detail})
    assert (len(fake.studies), fake.questions, fake.logic) == (1, [], [])


async def test_ai_edit_suggests_a_question_and_saves_nothing(api: FakeHttp) -> None:
    """ai-edit answers the given questions plus one made of the message, a change log, no deletions; stores nothing."""
    fake, client = api
    study = await create_study(client)
    given = [{"id": "q_1", "content": "What do you do?", "type": "text"}]
    body = {"current_message": "Ask about their age", "questions": given, "language": "English"}
    response = await client.post(f"/api/v1/studies/{study['id']}/ai-edit", json=body)
    assert response.status_code == 200
    assert response.json() == {
        "questions": [*given, {"id": "q_new_2", "content": "Ask about their age", "type": "text", "is_new": True}],
        "change_log": {"summary": "Suggested a question: Ask about their age"},
        "deleted_questions": [],
    }
    assert await questions_of(client, study["id"]) == []
    assert fake.questions == []


async def test_the_agent_adds_a_question_and_saves_it(api: FakeHttp) -> None:
    """The agent adds a question made of the message after the others, and answers the study's state and the change."""
    fake, client = api
    study = await create_study(client, config={"primaryColor": "#000000"})
    (first,) = (await batch(client, {"study_id": study["id"], "content": "What do you do?"}))["created_question_ids"]
    rule = await create_rule(client, study["id"], first)
    response = await client.post(f"/api/v1/studies/{study['id']}/agent", json={"message": "What are your hobbies?"})
    assert response.status_code == 200
    answer = response.json()
    saved = await questions_of(client, study["id"])
    added = saved[1]
    assert (added["content"], added["type"], added["display_order"]) == ("What are your hobbies?", "text", 2)
    assert answer == {
        "message": "I have updated the study as requested.",
        "questions": saved,
        "logic": [rule],
        "study_settings": {"primaryColor": "#000000"},
        "changes": [
            {
                "question_id": added["id"],
                "change_type": "added",
                "description": "Added a question: What are your hobbies?",
            }
        ],
        "deleted_question_ids": [],
    }
    assert [q.content for q in fake.questions] == ["What do you do?", "What are your hobbies?"]


async def test_a_batch_creates_items_without_an_id_and_updates_those_with_one(api: FakeHttp) -> None:
    """One batch: items with an id are updated (only what they send), the others created; both lists of ids answered."""
    _, client = api
    study = await create_study(client)
    first, second = (
        await batch(
            client,
            {"study_id": study["id"], "content": "Favourite colour?", "interviewer_notes": "Ask about shade."},
            {"study_id": study["id"], "content": "Pick one", "type": "choice", "props": {"options": ["A", "B"]}},
        )
    )["created_question_ids"]
    ids = await batch(
        client,
        {"id": first, "content": "Favourite colour, and why?"},
        {"study_id": study["id"], "content": "Anything else?"},
    )
    (third,) = ids["created_question_ids"]
    assert ids["updated_question_ids"] == [first]
    assert len({first, second, third}) == 3
    assert await questions_of(client, study["id"]) == [
        {
            "id": first,
            "content": "Favourite colour, and why?",
            "type": "text",
            "interviewer_notes": "Ask about shade.",
            "display_order": 1,
            "props": {},
            "assets": [],
            "logic": [],
        },
        {
            "id": second,
            "content": "Pick one",
            "type": "choice",
            "interviewer_notes": None,
            "display_order": 2,
            "props": {"options": ["A", "B"]},
            "assets": [],
            "logic": [],
        },
        {
            "id": third,
            "content": "Anything else?",
            "type": "text",
            "interviewer_notes": None,
            "display_order": 3,
            "props": {},
            "assets": [],
            "logic": [],
        },
    ]


async def test_questions_are_listed_by_display_order_with_their_live_logic(api: FakeHttp) -> None:
    """GET /questions orders by display_order (null last), only the study's own, each with its rules not deleted."""
    _, client = api
    study, other = await create_study(client), await create_study(client, title="Other")
    late, early, unordered = (
        await batch(
            client,
            {"study_id": study["id"], "content": "late", "display_order": 5},
            {"study_id": study["id"], "content": "early", "display_order": 1},
            {"study_id": study["id"], "content": "unordered"},
        )
    )["created_question_ids"]
    await batch(client, {"study_id": other["id"], "content": "elsewhere"})
    assert (await client.put(f"/api/v1/questions/{unordered}", json={"display_order": None})).status_code == 204
    kept = await create_rule(client, study["id"], early, comparison_value="Blue", next_question_id=late)
    dropped = await create_rule(client, study["id"], early)
    assert (await client.delete(f"/api/v1/question-logic/{dropped['id']}")).status_code == 204
    listed = await questions_of(client, study["id"])
    assert [(q["content"], q["display_order"]) for q in listed] == [("early", 1), ("late", 5), ("unordered", None)]
    assert [q["logic"] for q in listed] == [[kept], [], []]


async def test_a_batch_with_a_refused_item_changes_nothing(api: FakeHttp) -> None:
    """A batch is all or nothing: one item the answer schema refuses is a 422 at its place; no item is saved."""
    fake, client = api
    study = await create_study(client)
    (existing,) = (await batch(client, {"study_id": study["id"], "content": "Q1"}))["created_question_ids"]
    response = await client.post(
        "/api/v1/questions/batch",
        json={
            "questions": [
                {"study_id": study["id"], "content": "Q2"},
                {"id": existing, "content": None},
                {"study_id": study["id"], "type": "text"},
            ]
        },
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        problem(["body", "questions", 1, "content"], "none is not an allowed value", "type_error.none.not_allowed"),
        problem(["body", "questions", 2, "content"], *MISSING),
    ]
    assert [q.content for q in fake.questions] == ["Q1"]


async def test_updating_a_question_changes_only_what_is_sent(api: FakeHttp) -> None:
    """PUT /questions/{id} answers 204 (no body, nor a length for one) and changes the fields sent; the others stay."""
    _, client = api
    study = await create_study(client)
    body = {"study_id": study["id"], "content": "Q", "interviewer_notes": "notes", "props": {"x": 1}}
    (question_id,) = (await batch(client, body))["created_question_ids"]
    response = await client.put(f"/api/v1/questions/{question_id}", json={"content": "Q?", "display_order": 7})
    assert (response.status_code, response.content, response.headers.get("content-length")) == (204, b"", None)
    (question,) = await questions_of(client, study["id"])
    assert {k: question[k] for k in ("content", "interviewer_notes", "display_order", "props")} == {
        "content": "Q?",
        "interviewer_notes": "notes",
        "display_order": 7,
        "props": {"x": 1},
    }


async def test_a_deleted_question_is_gone_for_good(api: FakeHttp) -> None:
    """DELETE is soft: 204, then reads leave it and its rules out, and touching it again (or its rules) is a 404."""
    fake, client = api
    study = await create_study(client)
    gone, kept = (
        await batch(client, {"study_id": study["id"], "content": "gone"}, {"study_id": study["id"], "content": "kept"})
    )["created_question_ids"]
    rule = await create_rule(client, study["id"], gone)
    response = await client.delete(f"/api/v1/questions/{gone}")
    assert (response.status_code, response.content) == (204, b"")
    assert [q["id"] for q in await questions_of(client, study["id"])] == [kept]
    assert ([q.id for q in fake.questions], fake.logic) == ([kept], [])
    not_found = {"detail": "Question not found"}
    assert (await client.delete(f"/api/v1/questions/{gone}")).json() == not_found
    assert (await client.put(f"/api/v1/questions/{gone}", json={"content": "back?"})).json() == not_found
    assert (await client.get("/api/v1/question-logic", params={"question_id": gone})).json() == not_found
    update = await client.post("/api/v1/questions/batch", json={"questions": [{"id": gone, "content": "back?"}]})
    assert (update.status_code, update.json()) == (404, not_found)
    assert (await client.put(f"/api/v1/question-logic/{rule['id']}", json={"operation": "x"})).status_code == 404
    assert (await client.delete(f"/api/v1/question-logic/{rule['id']}")).status_code == 404


async def test_logic_rules_are_created_listed_updated_and_deleted(api: FakeHttp) -> None:
    """POST answers the rule with spec defaults; GET lists a question's; PUT changes what it sent; DELETE hides it."""
    fake, client = api
    study = await create_study(client)
    first, second = (
        await batch(client, {"study_id": study["id"], "content": "Q1"}, {"study_id": study["id"], "content": "Q2"})
    )["created_question_ids"]
    rule = await create_rule(client, study["id"], first, comparison_value="yes", next_question_id=second)
    assert rule == {
        "id": rule["id"],
        "study_id": study["id"],
        "question_id": first,
        "operation": "equals",
        "comparison_value": "yes",
        "comparison_value_type": "text",
        "next_question_id": second,
        "redirect_url": None,
        "end_interview": False,
        "action_type": "skip_to",
        "language": "English",
    }
    other = await create_rule(client, study["id"], second, action_type="end", end_interview=True)
    assert (await client.get("/api/v1/question-logic", params={"question_id": first})).json() == [rule]
    update = {"operation": "not_equals", "comparison_value": None}
    assert (await client.put(f"/api/v1/question-logic/{rule['id']}", json=update)).status_code == 204
    (updated,) = (await client.get("/api/v1/question-logic", params={"question_id": first})).json()
    assert updated == {**rule, **update}
    assert [r.id for r in fake.logic] == [rule["id"], other["id"]]
    assert (await client.delete(f"/api/v1/question-logic/{rule['id']}")).status_code == 204
    assert (await client.get("/api/v1/question-logic", params={"question_id": first})).json() == []
    assert [r.id for r in fake.logic] == [other["id"]]


async def test_a_rule_must_name_a_question_of_its_study(api: FakeHttp) -> None:
    """A rule for a question of another study is a 404, as is one for a question the fake lacks."""
    fake, client = api
    study, other = await create_study(client), await create_study(client, title="Other")
    (elsewhere,) = (await batch(client, {"study_id": other["id"], "content": "Q"}))["created_question_ids"]
    body = {"study_id": study["id"], "question_id": elsewhere, "operation": "equals"}
    response = await client.post(
        "/api/v1/question-logic", json={**body, "comparison_value_type": "text", "action_type": "skip_to"}
    )
    assert (response.status_code, response.json()) == (404, {"detail": "Question not found"})
    assert fake.logic == []


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("PUT", "/api/v1/questions/{question}", {"content": None}, ["body", "content"]),
        ("PUT", "/api/v1/question-logic/{rule}", {"operation": "x", "end_interview": None}, ["body", "end_interview"]),
        ("PUT", f"{PATH}/{{interview}}", {"status": None}, ["body", "status"]),
        (
            "POST",
            "/api/v1/studies",
            {"title": "t", "thank_you_message": {"body": 1}},
            ["body", "thank_you_message", "body"],
        ),
    ],
)
async def test_a_write_the_answer_could_not_hold_is_422(
    api: FakeHttp, method: str, path: str, body: dict[str, Any], expected: list[str]
) -> None:
    """A request its schema allows, whose result the answer's schema refuses (a null it cannot hold): 422 there."""
    _, client = api
    study = await create_study(client)
    (question,) = (await batch(client, {"study_id": study["id"], "content": "Q"}))["created_question_ids"]
    rule = await create_rule(client, study["id"], question)
    interview = (await client.post(PATH, json={"study_id": study["id"]})).json()
    target = path.format(question=question, rule=rule["id"], interview=interview["id"])
    response = await client.request(method, target, json=body)
    assert response.status_code == 422
    (entry,) = response.json()["detail"]
    assert entry["loc"] == expected
    assert (await questions_of(client, study["id"]))[0]["content"] == "Q"


@pytest.mark.parametrize(
    ("path", "name"),
    [(PATH, "vid"), ("/api/v1/questions", "study_id"), ("/api/v1/question-logic", "question_id")],
)
async def test_a_missing_query_parameter_is_422_at_query(api: FakeHttp, path: str, name: str) -> None:
    """GET without the required query parameter: 422 with FastAPI's entry at ["query", name]."""
    _, client = api
    response = await client.get(path, params={"other": "x"})
    assert response.status_code == 422
    assert response.json() == {"detail": [problem(["query", name], *MISSING)]}


NOT_STR = ("str type expected", "type_error.str")


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        pytest.param("POST", "/api/v1/studies", {}, [problem(["body", "title"], *MISSING)], id="study-title"),
        pytest.param(
            "POST",
            "/api/v1/folders",
            {"name": 1, "access_policy": "ALL"},
            [
                problem(["body", "name"], *NOT_STR),
                problem(
                    ["body", "access_policy"],
                    "value is not a valid enumeration member; permitted: "
                    "'FULL_ACCESS', 'CAN_EDIT', 'CAN_VIEW', 'INVITE_ONLY', 'CAN_EDIT_SURVEY_ONLY'",
                    "type_error.enum",
                ),
            ],
            id="folder-name-and-policy",
        ),
        pytest.param(
            "POST",
            "/api/v1/question-logic",
            {"end_interview": "yes", "study_id": "s"},
            [
                problem(["body", "question_id"], *MISSING),
                problem(["body", "operation"], *MISSING),
                problem(["body", "comparison_value_type"], *MISSING),
                problem(["body", "end_interview"], "value could not be parsed to a boolean", "type_error.bool"),
                problem(["body", "action_type"], *MISSING),
            ],
            id="logic-in-field-order",
        ),
        pytest.param(
            "POST",
            "/api/v1/questions/batch",
            {"questions": [{}, 1]},
            [problem(["body", "questions", 1], *NOT_DICT)],
            id="batch-item",
        ),
        pytest.param(
            "POST",
            "/api/v1/questions/batch",
            {"questions": {}},
            [problem(["body", "questions"], "value is not a valid list", "type_error.list")],
            id="batch-not-a-list",
        ),
        pytest.param(
            "PUT",
            "/api/v1/questions/q-1",
            {"display_order": "first"},
            [problem(["body", "display_order"], "value is not a valid integer", "type_error.integer")],
            id="question-order",
        ),
        pytest.param("PUT", "/api/v1/question-logic/l-1", {}, [problem(["body", "operation"], *MISSING)], id="logic"),
        pytest.param("PUT", f"{PATH}/i-1", {"status": 1}, [problem(["body", "status"], *NOT_STR)], id="status"),
        pytest.param(
            "PUT", "/api/v1/studies/s-1", {"config": []}, [problem(["body", "config"], *NOT_DICT)], id="config"
        ),
        pytest.param("PUT", "/api/v1/studies/s-1", None, [problem(["body"], *MISSING)], id="no-body"),
        pytest.param(
            "POST",
            "/api/v1/studies/s-1/ai-edit",
            {"current_message": "m"},
            [problem(["body", "questions"], *MISSING), problem(["body", "language"], *MISSING)],
            id="ai-edit",
        ),
        pytest.param(
            "POST",
            "/api/v1/studies/s-1/agent",
            {"message": None},
            [problem(["body", "message"], "none is not an allowed value", "type_error.none.not_allowed")],
            id="agent",
        ),
    ],
)
async def test_a_bad_body_is_422_in_fastapi_shape(
    api: FakeHttp, method: str, path: str, body: Any, expected: list[dict[str, Any]]
) -> None:
    """Checked against the request schema before any id is looked up: one entry per problem, in field order."""
    _, client = api
    response = await client.request(method, path, content=b"" if body is None else json.dumps(body).encode())
    assert response.status_code == 422
    assert response.json() == {"detail": expected}


@pytest.mark.parametrize(("method", "template"), [(method, template) for method, template, _, _ in OPERATIONS])
async def test_every_operation_needs_the_api_key(api: FakeHttp, method: str, template: str) -> None:
    """A wrong bearer token is a 401 on every operation, before anything is checked or changed."""
    fake, client = api
    path = re.sub(r"\{[^}]+\}", "x", template)
    response = await client.request(method, path, headers={"Authorization": "Bearer wrong-key"}, json={})
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid authentication credentials"})
    assert (fake.interviews, fake.studies, fake.folders) == ([], [], [])


async def test_every_operation_answers_as_its_spec_says(api: FakeHttp) -> None:
    """One request per operation, each answered with its documented success status and a body its schema accepts."""
    fake, client = api
    folder = (await client.post("/api/v1/folders", json={"name": "F"})).json()
    await client.get("/api/v1/folders")
    study = await create_study(client, folder_id=folder["id"])
    await client.get("/api/v1/studies")
    await client.get(f"/api/v1/studies/{study['id']}")
    await client.put(f"/api/v1/studies/{study['id']}", json={"config": {"a": 1}})
    edit = {"current_message": "m", "questions": [], "language": "English"}
    await client.post(f"/api/v1/studies/{study['id']}/ai-edit", json=edit)
    await client.post(f"/api/v1/studies/{study['id']}/agent", json={"message": "m"})
    (question,) = (await batch(client, {"study_id": study["id"], "content": "Q"}))["created_question_ids"]
    await questions_of(client, study["id"])
    await client.put(f"/api/v1/questions/{question}", json={"content": "Q?"})
    rule = await create_rule(client, study["id"], question)
    await client.get("/api/v1/question-logic", params={"question_id": question})
    await client.put(f"/api/v1/question-logic/{rule['id']}", json={"operation": "x"})
    await client.delete(f"/api/v1/question-logic/{rule['id']}")
    await client.delete(f"/api/v1/questions/{question}")
    interview = (await client.post(PATH, json={"study_id": study["id"]})).json()
    await client.get(f"{PATH}/{interview['id']}")
    await client.get(PATH, params={"vid": vid_of(interview["link"])})
    await client.put(f"{PATH}/{interview['id']}", json={"status": "canceled"})

    answered = {}
    for request in fake.requests:
        operation = operation_of(request.method, request.path)
        assert operation is not None
        answered[operation["operationId"]] = request.status
        assert str(request.status) == next(status for status in operation["responses"] if status.startswith("2"))
    assert set(answered) == {operation["operationId"] for _, _, _, operation in OPERATIONS}


async def test_an_operation_the_fake_does_not_answer_yet_is_501(
    fake_http: FakeHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operation the spec gained before the fake learned it: 501 naming it, not a crash."""
    _, client = fake_http
    monkeypatch.delattr("versive_client.testing._store.Store.get_folders")
    response = await client.get("/api/v1/folders", headers=AUTH)
    assert (response.status_code, response.json()) == (
        501,
        {"detail": "the fake Versive does not answer get_folders yet"},
    )


async def test_an_idempotency_key_replays_any_post(api: FakeHttp) -> None:
    """The same key and body on POST /studies answers the first 201 again and creates one study."""
    fake, client = api
    headers = {"Idempotency-Key": "study-1"}
    first = await client.post("/api/v1/studies", headers=headers, json={"title": "t", "mode": "VIDEO"})
    again = await client.post("/api/v1/studies", headers=headers, content=b'{"mode": "VIDEO", "title": "t"}')
    assert (again.status_code, again.json()) == (201, first.json())
    assert len(fake.studies) == 1
    assert fake.attempts("study-1") == 2


async def test_an_idempotency_key_reused_elsewhere_is_refused(api: FakeHttp) -> None:
    """The same key and body on another path is a 422 naming the header: the fingerprint is method, path and body."""
    fake, client = api
    headers = {"Idempotency-Key": "k"}
    body = {"name": "x", "title": "x"}  # a folder to one operation, a study to the other
    assert (await client.post("/api/v1/folders", headers=headers, json=body)).status_code == 201
    response = await client.post("/api/v1/studies", headers=headers, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert (len(fake.folders), fake.studies) == (1, [])


async def test_only_a_successful_post_is_remembered_under_its_key(api: FakeHttp) -> None:
    """A POST refused (404) under a key leaves the key free: the corrected request succeeds under it."""
    fake, client = api
    headers = {"Idempotency-Key": "k"}
    refused = await client.post("/api/v1/studies", headers=headers, json={"title": "t", "folder_id": "nope"})
    assert refused.status_code == 404
    folder = (await client.post("/api/v1/folders", json={"name": "F"})).json()
    accepted = await client.post("/api/v1/studies", headers=headers, json={"title": "t", "folder_id": folder["id"]})
    assert accepted.status_code == 201
    assert len(fake.studies) == 1


async def test_faults_apply_to_every_operation(fake_http: FakeHttp) -> None:
    """A Status fault stands in for a read; MissingField drops the field from each item of a list, and of an object."""
    fake, client = fake_http
    client.headers.update(AUTH)
    study = fake.add_study(title="A")
    fake.add_study(title="B")
    fake.faults.queue(faults.Status(503, retry_after=1), faults.MissingField("id"), faults.MissingField("title"))
    unavailable = await client.get("/api/v1/studies")
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "1")
    listed = (await client.get("/api/v1/studies")).json()
    assert [("id" in s, s["title"]) for s in listed] == [(False, "A"), (False, "B")]
    one = (await client.get(f"/api/v1/studies/{study.id}")).json()
    assert ("title" not in one, one["id"]) == (True, study.id)
    assert fake.fired == [faults.Status(503, retry_after=1), faults.MissingField("id"), faults.MissingField("title")]


async def test_body_faults_leave_an_answer_without_a_body_alone(fake_http: FakeHttp) -> None:
    """NotJson on a 204 has no body to spoil: the 204 stands, and the delete happened; on a 201 the body is HTML."""
    fake, client = fake_http
    client.headers.update(AUTH)
    study = fake.add_study(title="A")
    question = fake.add_question(study.id, "Q")
    fake.faults.queue(faults.NotJson(), faults.NotJson())
    deleted = await client.delete(f"/api/v1/questions/{question.id}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert fake.questions == []
    created = await client.post("/api/v1/folders", json={"name": "F"})
    assert (created.status_code, created.headers["content-type"]) == (201, "text/html")
    assert len(fake.folders) == 1


async def test_the_rate_limit_covers_every_operation(fake_http: FakeHttp) -> None:
    """Reads count against the limit too: over the burst, GET /folders is a 429 with Retry-After."""
    fake, client = fake_http
    client.headers.update(AUTH)
    fake.rate_limit = RateLimit(0.5, burst=2)
    fake.reset()
    answers = [(await client.get("/api/v1/folders")).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert fake.requests[2].status == 429


async def test_seeded_state_is_what_the_api_answers(api: FakeHttp) -> None:
    """add_folder/add_study/add_question/add_logic create what the API then lists, and return its models."""
    fake, client = api
    folder = fake.add_folder("Research")
    study = fake.add_study(title="Onboarding", folder_id=folder.id, config={"primaryColor": "#0E9489"})
    colour = fake.add_question(study.id, "Favourite colour?", interviewer_notes="Ask about shade.")
    why = fake.add_question(study.id, "Why?", type="text")
    rule = fake.add_logic(
        study.id, colour.id, operation="equals", action_type="skip_to", comparison_value="Blue", next_question_id=why.id
    )
    assert (folder.name, study.title, study.folder_id, colour.display_order, why.display_order) == (
        "Research",
        "Onboarding",
        folder.id,
        1,
        2,
    )
    assert (rule.comparison_value_type, rule.next_question_id) == ("text", why.id)
    listed = await questions_of(client, study.id)
    assert [q["id"] for q in listed] == [colour.id, why.id]
    assert listed[0]["logic"] == [rule.to_dict()]
    assert [q.logic for q in fake.questions] == [[rule], []]
    assert [Folder.from_dict(f) for f in (await client.get("/api/v1/folders")).json()] == [folder]
    assert [r.path for r in fake.requests] == ["/api/v1/questions", "/api/v1/folders"], "seeding sends no request"


async def test_seeding_what_the_api_would_refuse_raises() -> None:
    """A seed the API would answer 422 raises ValueError with the problems; one naming nothing held, LookupError."""
    fake = FakeVersive()
    with pytest.raises(ValueError, match=r"body\.config: value is not a valid dict"):
        fake.add_study(title="t", config=["dark"])
    with pytest.raises(ValueError, match=r"body\.welcome_message\.title: str type expected"):
        fake.add_study(title="t", welcome_message={"title": 5})
    study = fake.add_study(title="t")
    with pytest.raises(ValueError, match=r"body\.questions\.0\.props: value is not a valid dict"):
        fake.add_question(study.id, "Q", props=[])
    with pytest.raises(LookupError, match="Study not found"):
        fake.add_question("nope", "Q")
    with pytest.raises(LookupError, match="Question not found"):
        fake.add_logic(study.id, "nope", operation="equals", action_type="skip_to")
    assert ([s.id for s in fake.studies], fake.questions, fake.logic) == ([study.id], [], [])


async def test_reset_forgets_what_it_holds(api: FakeHttp) -> None:
    """reset() empties folders, studies, questions and rules too."""
    fake, _ = api
    study = fake.add_study(title="t")
    fake.add_logic(study.id, fake.add_question(study.id, "Q").id, operation="equals", action_type="end")
    fake.add_folder("F")
    fake.reset()
    assert (fake.studies, fake.folders, fake.questions, fake.logic) == ([], [], [], [])

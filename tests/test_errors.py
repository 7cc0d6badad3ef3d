"""The error table: each status maps to its class, and every class to VersiveError."""

from __future__ import annotations

import httpx
import pytest

import versive_client
import versive_client._errors as errors
from versive_client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    VersiveError,
)
from versive_client._errors import status_error


def response(status: int, **kwargs: object) -> httpx.Response:
    """A response to a create-interview request."""
    request = httpx.Request("POST", "https://api.versive.test/api/v1/interviews")
    return httpx.Response(status, request=request, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (599, InternalServerError),
        (405, APIStatusError),
        (408, APIStatusError),
        (418, APIStatusError),
    ],
)
def test_each_status_has_its_class(status: int, error_class: type[APIStatusError]) -> None:
    """The one table: status → class, anything else → APIStatusError or InternalServerError."""
    error = status_error(response(status, json={"detail": "nope"}), retry_after=None, attempts=2)
    assert type(error) is error_class
    assert error.status_code == status
    assert error.attempts == 2
    assert str(error).startswith(f"POST /api/v1/interviews answered {status}")
    assert str(error).endswith(": nope (after 2 attempts)")


def test_messages_summarise_the_body() -> None:
    """A 422's entries, a text body, and an empty body each give a readable message."""
    detail = {"detail": [{"loc": ["body", "study_id"], "msg": "field required", "type": "value_error.missing"}]}
    assert str(status_error(response(422, json=detail), retry_after=None, attempts=1)).endswith(
        "422 Unprocessable Entity: body.study_id: field required"
    )
    assert str(status_error(response(502, text="<html>bad</html>"), retry_after=None, attempts=1)).endswith(
        "502 Bad Gateway: <html>bad</html>"
    )
    assert str(status_error(response(503), retry_after=1.0, attempts=1)).endswith("503 Service Unavailable")


def test_unprocessable_errors_tolerate_odd_bodies() -> None:
    """`errors` is empty when the 422 body has no list of entries."""
    assert status_error(response(422, json={"detail": "x"}), retry_after=None, attempts=1).errors == []  # type: ignore[attr-defined]
    assert status_error(response(422, text="x"), retry_after=None, attempts=1).errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "error_class",
    [
        APIConnectionError,
        APITimeoutError,
        APIStatusError,
        APIResponseValidationError,
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        UnprocessableEntityError,
        RateLimitError,
        InternalServerError,
    ],
)
def test_everything_is_a_versive_error(error_class: type[VersiveError]) -> None:
    """One `except VersiveError` catches every failure of a call."""
    assert issubclass(error_class, VersiveError)


def test_the_hierarchy_is_drawn_in_the_docstring() -> None:
    """The module docstring draws every error class, and the package exports each.

    An extension's own error (versive_client.webhooks' WebhookVerificationError) lives in
    its module, beside the extra it needs, and is not counted here.
    """
    assert errors.__doc__ is not None
    classes: list[type[VersiveError]] = [VersiveError, *VersiveError.__subclasses__()]
    classes += [*APIStatusError.__subclasses__(), *APIConnectionError.__subclasses__()]
    classes = [error_class for error_class in classes if error_class.__module__ == errors.__name__]
    assert len(classes) == 13
    for error_class in classes:
        assert f" {error_class.__name__} " in errors.__doc__
        assert error_class.__name__ in versive_client.__all__


def test_a_status_error_carries_its_request_and_response() -> None:
    """method, url, response, headers, request_id (either header, any case), and one attempt unless told."""
    answer = response(503, json={"detail": "busy"}, headers={"Request-Id": "r-9"})
    error = APIStatusError("POST /api/v1/interviews answered 503", response=answer, body={"detail": "busy"})
    assert error.args == ("POST /api/v1/interviews answered 503",)
    assert (error.method, error.url) == ("POST", "https://api.versive.test/api/v1/interviews")
    assert error.response is answer
    assert error.headers is answer.headers
    assert error.request_id == "r-9"
    assert error.attempts == 1
    assert (
        status_error(response(404, headers={"X-Request-ID": "x-1"}), retry_after=None, attempts=1).request_id == "x-1"
    )


def test_a_validation_error_carries_its_request_and_response() -> None:
    """The same for a 2xx the SDK cannot use, with its attempt count and the body's start."""
    answer = response(200, text="<html>maintenance</html>")
    error = errors.validation_error(answer, "with a body that is not JSON (text/html)", 3)
    assert str(error) == (
        "POST /api/v1/interviews answered 200 with a body that is not JSON (text/html): <html>maintenance</html>"
        " (after 3 attempts)"
    )
    assert (error.method, error.url, error.status_code) == ("POST", "https://api.versive.test/api/v1/interviews", 200)
    assert error.response is answer
    assert error.headers is answer.headers
    assert APIResponseValidationError("m", response=answer).attempts == 1


def test_an_empty_body_is_none_and_adds_nothing_to_the_message() -> None:
    """A status with no body: body None, the message ends at the reason."""
    error = status_error(response(503), retry_after=None, attempts=1)
    assert error.body is None
    assert str(error) == "POST /api/v1/interviews answered 503 Service Unavailable"


@pytest.mark.parametrize(
    ("detail", "message"),
    [
        (
            [{"loc": ["body", "study_id"], "msg": "field required"}, {"msg": "no place"}],
            "body.study_id: field required; no place",
        ),
        ([{"loc": ["body", "title"]}, "not an entry"], "body.title:"),
        ([{"type": "value_error"}, {"msg": "said"}], "; said"),
        ("plain", "plain"),
    ],
)
def test_a_detail_is_summarised_exactly(detail: object, message: str) -> None:
    """FastAPI's detail: entries as loc: msg (just msg without a loc), joined by "; "; a string as itself."""
    error = status_error(response(422, json={"detail": detail}), retry_after=None, attempts=1)
    assert str(error) == f"POST /api/v1/interviews answered 422 Unprocessable Entity: {message}"


@pytest.mark.parametrize(
    ("text", "shown"),
    [("a" * 200, "a" * 200), ("a" * 201, "a" * 199 + "…"), ("two\n  lines", "two lines")],
)
def test_a_snippet_is_one_line_of_at_most_200_characters(text: str, shown: str) -> None:
    """Bodies in messages: whitespace folded, cut to 200 characters with an ellipsis."""
    assert errors.snippet(text) == shown


def test_an_error_made_by_hand_counts_one_attempt() -> None:
    """A VersiveError built without attempts (in a user's test double, say) made one request."""
    error = VersiveError("POST /api/v1/interviews failed")
    assert (error.attempts, error.method, error.url) == (1, None, None)
    assert str(error) == "POST /api/v1/interviews failed"

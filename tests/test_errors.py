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
    """The module docstring draws every error class, and the package exports each."""
    assert errors.__doc__ is not None
    classes: list[type[VersiveError]] = [VersiveError, *VersiveError.__subclasses__()]
    classes += [*APIStatusError.__subclasses__(), *APIConnectionError.__subclasses__()]
    assert len(classes) == 13
    for error_class in classes:
        assert f" {error_class.__name__} " in errors.__doc__
        assert error_class.__name__ in versive_client.__all__

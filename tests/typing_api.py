"""Never executed: type-checked by mypy as code a user would write against the package."""

from __future__ import annotations

import datetime as dt
from typing import Any, assert_type

from versive_client.models import CreateInterviewReqV1, HTTPValidationError, Interview


def read_interview(payload: dict[str, Any]) -> str:
    """Typed access to a created interview."""
    interview = Interview.from_dict(payload)
    assert_type(interview, Interview)
    assert_type(interview.created_at, dt.datetime)
    assert_type(interview.id, str)
    assert_type(interview.link, str)
    return interview.created_at.isoformat()


def build_request() -> dict[str, Any]:
    """The request model takes plain values and serialises to the wire form."""
    return CreateInterviewReqV1(study_id="study_123", title=None, language="English").to_dict()


def first_problem(error: HTTPValidationError) -> str | None:
    """Validation errors carry field locations."""
    if isinstance(error.detail, list) and error.detail:
        return ".".join(str(part) for part in error.detail[0].loc)
    return None

"""Never executed: type-checked by mypy as code a user would write against the package."""

from __future__ import annotations

import datetime as dt
from typing import Any, assert_type

from versive_client import Attempt, RateLimitError, RetryPolicy, VersiveClient, VersiveError
from versive_client.bulk import InterviewResult, content_key
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


async def create_one() -> str:
    """The quickstart, type-checked: the result is an Interview, errors are typed."""
    async with VersiveClient(timeout=10, max_retries=3, deadline=60, retry_policy=RetryPolicy()) as versive:
        try:
            interview = await versive.create_interview(
                study_id="study_123", title=None, metadata={"participant_id": "p-42"}, idempotency_key="k-1"
            )
        except RateLimitError as exc:
            assert_type(exc.retry_after, float | None)
            raise
        except VersiveError as exc:
            assert_type(exc.attempts, int)
            raise
        assert_type(interview, Interview)
        faster = versive.with_options(max_retries=0)
        assert_type(faster, VersiveClient)
        return interview.link


def note_rate_limits(seen: list[float]) -> VersiveClient:
    """An attempt hook, typed: the fields a user reads of each attempt."""

    def hook(attempt: Attempt) -> None:
        assert_type(attempt.status_code, int | None)
        assert_type(attempt.error, VersiveError | None)
        assert_type(attempt.wait, float | None)
        if attempt.status_code == 429 and attempt.wait is not None:
            seen.append(attempt.wait)

    return VersiveClient(on_attempt=[hook], trust_env=False, max_connections=10, http_backend="aiohttp")


async def create_many(versive: VersiveClient, participants: list[str]) -> list[str]:
    """The bulk API, typed: items in, results out as each ends, with the pace to look at."""
    items = ({"study_id": "study_123", "metadata": {"participant_id": p}} for p in participants)
    links = []
    async with versive.create_interviews(items, concurrency=8, max_rate=50.0, idempotency_key=content_key) as results:
        async for result in results:
            assert_type(result, InterviewResult)
            assert_type(result.error, Exception | None)
            if result.interview is not None:
                links.append(result.interview.link)
        assert_type(results.pacer.rate, float | None)
    return links

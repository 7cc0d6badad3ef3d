"""Never executed: type-checked by mypy as code a user would write against the package."""

from __future__ import annotations

import datetime as dt
from typing import Any, assert_type

from versive_client import (
    NOT_GIVEN,
    Attempt,
    NotGiven,
    RateLimitError,
    RawResponse,
    RetryPolicy,
    VersiveClient,
    VersiveError,
    WaitTimeoutError,
)
from versive_client.bulk import InterviewResult, content_key
from versive_client.models import (
    AgentEditResponseV1,
    AIEditResponseV1,
    CompletedInterview,
    ConversationTurn,
    CreateBatchQuestionsResponseV1,
    CreateInterviewReqV1,
    Folder,
    HTTPValidationError,
    Interview,
    InterviewDetails,
    Question,
    QuestionLogic,
    Study,
    UpdateMessage,
)
from versive_client.webhooks import InterviewCompleted, UnknownEvent


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


async def every_method(versive: VersiveClient) -> None:
    """Every operation of the API, called as documented, with the type each answers."""
    interview = await versive.interviews.create(study_id="study_123", metadata={"wave": 3}, idempotency_key="k-2")
    assert_type(interview, Interview)
    details = await versive.interviews.get(interview.id, timeout=5, deadline=None)
    assert_type(details, InterviewDetails)
    assert_type(details.status, str)
    assert_type(details.completed_at, dt.datetime | None | NotGiven)
    if isinstance(details.conversation_json, list):
        assert_type(details.conversation_json[0], ConversationTurn)
    assert_type(await versive.interviews.get_by_vid(vid="vid_123"), InterviewDetails)
    assert_type(await versive.interviews.update(interview.id, status="canceled"), UpdateMessage)

    studies = await versive.studies.list(max_retries=0)
    assert_type(studies, list[Study])
    study = await versive.studies.create(title="Onboarding", config={"primaryColor": "#0E9489"}, type="VERSIVE_STUDY")
    assert_type(study, Study)
    assert_type(await versive.studies.get(study.id, extra_headers={"X-Team": "ops"}), Study)
    assert_type(await versive.studies.update(study.id, config={"interviewName": "Ada"}), Study)
    suggestion = await versive.studies.ai_edit(
        study.id, current_message="Ask about age", questions=[], language="English"
    )
    assert_type(suggestion, AIEditResponseV1)
    assert_type(
        await versive.studies.agent_edit(study.id, message="Add a question", max_retries=1), AgentEditResponseV1
    )

    assert_type(await versive.folders.list(), list[Folder])
    assert_type(await versive.folders.create(name="Q3", access_policy="CAN_VIEW"), Folder)

    assert_type(await versive.questions.list(study_id=study.id), list[Question])
    batch = await versive.questions.create_batch(questions=[{"study_id": study.id, "content": "Why?", "type": "text"}])
    assert_type(batch, CreateBatchQuestionsResponseV1)
    assert_type(await versive.questions.update("q_1", content="How?", display_order=2), None)
    assert_type(await versive.questions.delete("q_1"), None)

    assert_type(await versive.question_logic.list(question_id="q_1"), list[QuestionLogic])
    rule = await versive.question_logic.create(
        study_id=study.id, question_id="q_1", operation="equals", comparison_value_type="text", action_type="skip_to"
    )
    assert_type(rule, QuestionLogic)
    assert_type(await versive.question_logic.update(rule.id, operation="not_equals", end_interview=None), None)
    assert_type(await versive.question_logic.delete(rule.id, extra_query={"hard": False}), None)

    raw = await versive.with_raw_response.studies.get(study.id, deadline=NOT_GIVEN)
    assert_type(raw, RawResponse[Study])
    assert_type(raw.status_code, int)
    assert_type(raw.request_id, str | None)
    assert_type(raw.attempts, int)
    assert_type(raw.parse(), Study)
    assert_type(await versive.create_interview(study_id="study_123", language="English"), Interview)
    assert_type(versive.with_options(deadline=None), VersiveClient)


async def learn_when_done(versive: VersiveClient, interview_id: str, body: bytes, headers: dict[str, str]) -> str:
    """Waiting for an interview, or unwrapping its webhook."""
    try:
        done = await versive.interviews.wait(interview_id, timeout=600, until=("closed", "canceled"))
    except WaitTimeoutError as exc:
        assert_type(exc.status, str | None)
        assert_type(exc.attempts, int)
        return f"not yet: {exc.status}"
    assert_type(done, InterviewDetails)
    event = versive.webhooks.unwrap(body, headers)
    assert_type(event, InterviewCompleted | UnknownEvent)
    if isinstance(event, InterviewCompleted):
        assert_type(event.id, str)
        assert_type(event.interview, CompletedInterview)
    return done.status

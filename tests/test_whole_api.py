"""Every operation of the API through VersiveClient, against the fake Versive on loopback, on both backends."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from versive_client import APIResponseValidationError, NotFoundError, RetryPolicy, VersiveClient
from versive_client._generated.operations import OPERATIONS
from versive_client.testing import FakeVersive, faults

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio

KEY = "whole-api-key"


def operation_of(method: str, path: str) -> str | None:
    """The name of the operation a request was for, by its method and path template."""
    for operation in OPERATIONS:
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(operation.path))
        if operation.method == method and re.fullmatch(pattern, path):
            return operation.name
    return None


@pytest_asyncio.fixture
async def versive(backend: str) -> AsyncIterator[tuple[FakeVersive, VersiveClient]]:
    """A fake on loopback and a client on `backend` reaching it."""
    fake = FakeVersive(api_key=KEY)
    async with (
        fake.serve() as base_url,
        VersiveClient(
            KEY, base_url=base_url, http_backend=backend, retry_policy=RetryPolicy.no_wait(), telemetry=False
        ) as client,
    ):
        yield fake, client


async def test_every_operation_reads_what_the_others_wrote(versive: tuple[FakeVersive, VersiveClient]) -> None:
    """Folders, studies, questions, logic and interviews: each write is seen by the next read; all 20 are called."""
    fake, client = versive
    folder = await client.folders.create(name="Q3 research")
    assert [f.id for f in await client.folders.list()] == [folder.id]

    study = await client.studies.create(title="Onboarding", folder_id=folder.id, config={"primaryColor": "#0E9489"})
    await client.studies.update(study.id, config={"interviewName": "Ada"})
    read = await client.studies.get(study.id)
    assert read.to_dict()["config"] == {"primaryColor": "#0E9489", "interviewName": "Ada"}
    assert study.id in [s.id for s in await client.studies.list()]

    batch = await client.questions.create_batch(
        questions=[
            {"study_id": study.id, "content": "What brought you here?", "type": "text"},
            {"study_id": study.id, "content": "Which plan?", "type": "choice", "props": {"options": ["A", "B"]}},
        ]
    )
    first, second = batch.created_question_ids
    again = await client.questions.create_batch(questions=[{"id": first, "content": "What brought you to us?"}])
    assert (again.created_question_ids, again.updated_question_ids) == ([], [first])
    assert await client.questions.update(second, interviewer_notes="Ask why.") is None  # type: ignore[func-returns-value]
    questions = await client.questions.list(study_id=study.id)
    assert [(q.id, q.content) for q in questions] == [(first, "What brought you to us?"), (second, "Which plan?")]
    assert questions[1].interviewer_notes == "Ask why."

    rule = await client.question_logic.create(
        study_id=study.id,
        question_id=second,
        operation="equals",
        comparison_value="A",
        comparison_value_type="text",
        next_question_id=first,
        action_type="skip_to",
    )
    assert [r.id for r in await client.question_logic.list(question_id=second)] == [rule.id]
    await client.question_logic.update(rule.id, operation="not_equals")
    [changed] = await client.question_logic.list(question_id=second)
    assert changed.operation == "not_equals"
    with_logic = {q.id: q for q in await client.questions.list(study_id=study.id)}
    assert [r.id for r in with_logic[second].logic] == [rule.id]  # type: ignore[union-attr]
    await client.question_logic.delete(rule.id)
    assert await client.question_logic.list(question_id=second) == []
    await client.questions.delete(first)
    assert [q.id for q in await client.questions.list(study_id=study.id)] == [second]
    with pytest.raises(NotFoundError):
        await client.questions.update(first, content="gone")

    suggestion = await client.studies.ai_edit(
        study.id, current_message="Ask about age", questions=[], language="English"
    )
    assert suggestion.questions, "a suggestion"
    assert [q.id for q in await client.questions.list(study_id=study.id)] == [second], "ai_edit saves nothing"
    edited = await client.studies.agent_edit(study.id, message="Ask about hobbies")
    [added] = [change.question_id for change in edited.changes]
    assert [q.id for q in await client.questions.list(study_id=study.id)] == [second, added], "agent_edit saves"

    interview = await client.create_interview(study_id=study.id, title="P-42", metadata={"participant_id": "p-42"})
    details = await client.interviews.get(interview.id)
    assert (details.id, details.status, details.title) == (interview.id, "open", "P-42")
    vid = interview.link.rsplit("vid=", 1)[1]
    assert (await client.interviews.get_by_vid(vid=vid)).id == interview.id
    assert (await client.interviews.update(interview.id, status="canceled")).message
    assert (await client.interviews.get(interview.id)).status == "canceled"

    called = {operation_of(request.method, request.path) for request in fake.requests}
    assert called == {operation.name for operation in OPERATIONS}


async def test_unknown_ids_are_not_found_on_every_read(versive: tuple[FakeVersive, VersiveClient]) -> None:
    """Each read by id of something the API does not hold: NotFoundError with the API's detail."""
    _, client = versive
    for read in (client.interviews.get, client.studies.get):
        with pytest.raises(NotFoundError) as caught:
            await read("nothing-here")
        assert caught.value.body["detail"]  # type: ignore[index]
    with pytest.raises(NotFoundError):
        await client.interviews.get_by_vid(vid="vid_nobody")


async def test_extras_reach_the_fake(versive: tuple[FakeVersive, VersiveClient]) -> None:
    """extra_headers, extra_query and extra_body go with a request, as the API would receive them."""
    fake, client = versive
    await client.folders.create(
        name="n", extra_headers={"X-Team": "ops"}, extra_query={"dry_run": True}, extra_body={"color": "teal"}
    )
    [request] = fake.requests
    assert request.headers["x-team"] == "ops"
    assert request.query == {"dry_run": ["true"]}
    assert request.body == {"name": "n", "color": "teal"}


async def test_faults_on_any_operation_are_retried_or_typed(versive: tuple[FakeVersive, VersiveClient]) -> None:
    """A body cut short is retried on a read; a 200 without a required field or not JSON is a typed error."""
    fake, client = versive
    study = await client.studies.create(title="T")
    fake.faults.queue(faults.CloseMidBody(), faults.Status(503))
    assert (await client.studies.get(study.id)).id == study.id
    fake.faults.queue(faults.MissingField("title"))
    with pytest.raises(APIResponseValidationError, match="without the required field 'title'"):
        await client.studies.list()
    fake.faults.queue(faults.NotJson())
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        await client.folders.list()

"""What the fake Versive holds, and what each operation does with it: one method per operationId of the spec.

Requests reach a method already routed, authenticated and checked against the spec's
request schema (see `_spec`). A method answers with the JSON to send (None for a 204),
raises `NotFoundError` for an id it does not hold (or holds deleted), and `InvalidError`
for a write whose result would not be what the spec says it answers: a field sent as
null where the answer cannot be null, say, or a new question without `content`.
The store is not thread-safe; `FakeVersive` calls it under its lock.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from attrs import frozen

from . import _spec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

JSON = dict[str, Any]

LINK_BASE = "https://getversive.com/s/"
# The answer to Create Interview: the documented example's fields, in its order.
CREATED_INTERVIEW = ("id", "title", "study_id", "metadata", "link", "status", "created_at")
# The statuses an interview can still be completed from.
COMPLETABLE = ("open", "in_progress", "paused")
# What a new question is when the batch item does not say (the spec leaves batch items open).
QUESTION_DEFAULTS: JSON = {"type": "text", "interviewer_notes": None, "display_order": None, "props": {}, "assets": []}


class NotFoundError(Exception):
    """No such resource, or it was deleted: a 404 with `detail`."""

    def __init__(self, detail: str) -> None:
        """A 404 saying `detail`."""
        super().__init__(detail)
        self.detail = detail


class InvalidError(Exception):
    """The request would store what the spec's answer schema refuses: a 422 with `problems`."""

    def __init__(self, problems: list[_spec.Problem]) -> None:
        """A 422 with these FastAPI ``detail`` entries."""
        super().__init__(problems)
        self.problems = problems


class ConflictError(Exception):
    """The resource is not in a state the action applies to (the fake's control endpoint answers 409)."""


@frozen
class Call:
    """One checked request: its path parameters, query parameters and JSON body (None without one)."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    body: Any


def now() -> str:
    """The current time as the API writes it: ISO 8601 in UTC with a ``Z``."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A fresh id: a UUID, as the API's are in production."""
    return str(uuid.uuid4())


class Store:
    """Interviews, folders, studies, questions and logic rules; deleted questions and rules stay, hidden."""

    def __init__(self) -> None:
        """An empty store."""
        self.interviews: dict[str, JSON] = {}
        self.folders: dict[str, JSON] = {}
        self.studies: dict[str, JSON] = {}
        self.questions: dict[str, JSON] = {}
        self.question_study: dict[str, str] = {}
        self.logic: dict[str, JSON] = {}
        self.deleted: set[str] = set()

    def answer(self, operation_id: str, call: Call) -> object:
        """Run the operation named `operation_id` (its method here) on `call`."""
        handler = getattr(self, operation_id, None)
        if handler is None:
            raise NotImplementedError(operation_id)
        return handler(call)

    # -- interviews --------------------------------------------------------------

    def create_interview(self, call: Call) -> JSON:
        """Create an open interview for any study id (tests create them for studies the fake does not hold)."""
        body = _spec.with_defaults("CreateInterviewReqV1", call.body)
        study_id: str = body["study_id"]
        vid = f"vid_{secrets.token_hex(8)}"
        # InterviewDetails, as read back before the participant opens the link, then the study it is for.
        interview = {
            "id": new_id(),
            "status": "open",
            "created_at": now(),
            "title": body.get("title"),
            "metadata": body.get("metadata") or {},
            "progress": 0,
            "conversation_json": None,
            "parsed_conversation_json": None,
            "transcript": None,
            "is_mock": False,
            "is_archived": False,
            "language": body["language"],
            "type": "VERSIVE",
            "notes": None,
            "started_at": None,
            "ended_at": None,
            "completed_at": None,
            "active_time": None,
            "recording_id": None,
            "link": f"{LINK_BASE}{quote(study_id, safe='')}?vid={vid}",
            "vid": vid,
            "study_id": study_id,
        }
        self.interviews[interview["id"]] = interview
        return created_interview(interview)

    def get_interview_by_id(self, call: Call) -> JSON:
        """The interview as read back."""
        return interview_details(self._interview(call.path["id"]))

    def get_interview_by_vid(self, call: Call) -> JSON:
        """The interview whose link carries this vid."""
        for interview in self.interviews.values():
            if interview["vid"] == call.query["vid"]:
                return interview_details(interview)
        raise NotFoundError("Interview not found")

    def update_interview(self, call: Call) -> JSON:
        """Change the status (``{"status": "canceled"}`` cancels it)."""
        interview = self._interview(call.path["id"])
        self._update(interview, call.body, "UpdateInterviewReqV1", "InterviewDetails", ["body"])
        return {"message": "Interview updated successfully"}

    def set_interview(self, interview_id: str, fields: Mapping[str, object]) -> JSON:
        """Set any of an interview's InterviewDetails fields but its id (what the participant and Versive do)."""
        interview = self._interview(interview_id)
        settable = set(_spec.properties("InterviewDetails")) - {"id"}
        unknown = sorted(set(fields) - settable)
        if unknown:
            message = "not a field of an interview that can be set"
            raise InvalidError([_spec.problem([name], message, "value_error") for name in unknown])
        self._check({**interview, **fields}, "InterviewDetails", [])
        interview.update(fields)
        return interview_details(interview)

    def complete_interview(self, interview_id: str, turns: Sequence[tuple[str, str]], *, screened_out: bool) -> JSON:
        """Run an open, in_progress or paused interview to its end: ``closed`` with these turns, or ``screened_out``.

        It goes in_progress, then processing, then closed at once: the store is read under
        the fake's lock, so nobody sees the steps between. Returns the stored interview.
        """
        interview = self._interview(interview_id)
        if interview["status"] not in COMPLETABLE:
            message = (
                f"the interview is {interview['status']}: only an open, in_progress or paused one can be completed"
            )
            raise ConflictError(message)
        ended_at = now()
        started_at = interview["started_at"] or interview["created_at"]
        conversation = [{"role": role, "content": content} for role, content in turns]
        interview.update(
            status="screened_out" if screened_out else "closed",
            started_at=started_at,
            ended_at=ended_at,
            completed_at=None if screened_out else ended_at,
            progress=interview["progress"] if screened_out else 100,
            active_time=(dt.datetime.fromisoformat(ended_at) - dt.datetime.fromisoformat(started_at)).total_seconds(),
            conversation_json=conversation,
            parsed_conversation_json=[dict(turn) for turn in conversation],
            transcript="\n".join(f"{role}: {content}" for role, content in turns),
        )
        return interview

    # -- studies -----------------------------------------------------------------

    def get_studies(self, _call: Call) -> list[JSON]:
        """Every study, oldest first."""
        return list(self.studies.values())

    def create_study(self, call: Call) -> JSON:
        """Create a study, in a folder the fake holds when it names one."""
        body = _spec.with_defaults("CreateStudyReqV1", call.body)
        folder_id = body.get("folder_id")
        if folder_id is not None:
            self._get(self.folders, folder_id, "Folder not found")
        study = {
            "id": new_id(),
            "title": body["title"],
            "metadata": body.get("metadata") or {},
            "type": body["type"],
            "mode": body["mode"],
            "created_at": now(),
            "description": body.get("description"),
            "config": body.get("config") or {},
            "welcome_message": body.get("welcome_message"),
            "thank_you_message": body.get("thank_you_message"),
            "screen_out_message": body.get("screen_out_message"),
            "folder_id": folder_id,
        }
        self._check(study, "Study", ["body"])
        self.studies[study["id"]] = study
        return study

    def get_study_by_id(self, call: Call) -> JSON:
        """One study."""
        return self._get(self.studies, call.path["id"], "Study not found")

    def update_study(self, call: Call) -> JSON:
        """Merge `config` into the stored one: a PUT changes only what it sends (FACTS.md)."""
        study = self._get(self.studies, call.path["id"], "Study not found")
        study["config"] = {**study["config"], **(call.body.get("config") or {})}
        return study

    def ai_edit_study(self, call: Call) -> JSON:
        """Suggest the given questions plus one made of the message; saves nothing, as the API's ai-edit."""
        self._get(self.studies, call.path["study_id"], "Study not found")
        message, given = call.body["current_message"], call.body["questions"]
        suggested = {"id": f"q_new_{len(given) + 1}", "content": message, "type": "text", "is_new": True}
        return {
            "questions": [*given, suggested],
            "change_log": {"summary": f"Suggested a question: {message}"},
            "deleted_questions": [],
        }

    def agent_edit_study(self, call: Call) -> JSON:
        """Add a question made of the message, and save it, as the API's agent edits and saves."""
        study = self._get(self.studies, call.path["study_id"], "Study not found")
        message = call.body["message"]
        question = self._new_question({"content": message}, ["body"])
        self._add_question(study["id"], question)
        return {
            "message": "I have updated the study as requested.",
            "questions": self._questions_of(study["id"]),
            "logic": [rule for rule in self._live(self.logic) if rule["study_id"] == study["id"]],
            "study_settings": study["config"],
            "changes": [
                {"question_id": question["id"], "change_type": "added", "description": f"Added a question: {message}"}
            ],
            "deleted_question_ids": [],
        }

    # -- folders -----------------------------------------------------------------

    def get_folders(self, _call: Call) -> list[JSON]:
        """Every folder, oldest first."""
        return list(self.folders.values())

    def create_folder(self, call: Call) -> JSON:
        """Create a folder."""
        folder = {"id": new_id(), "name": call.body["name"], "created_at": now()}
        self.folders[folder["id"]] = folder
        return folder

    # -- questions ---------------------------------------------------------------

    def get_questions(self, call: Call) -> list[JSON]:
        """A study's questions by display order, each with its rules."""
        study = self._get(self.studies, call.query["study_id"], "Study not found")
        return self._questions_of(study["id"])

    def create_questions_batch(self, call: Call) -> JSON:
        """Create the items without an id and update those with one; all of them, or none when one is refused."""
        planned: list[tuple[JSON, str | None]] = []  # a new question and its study, or the changes to one and None
        problems: list[_spec.Problem] = []
        for index, item in enumerate(call.body["questions"]):
            loc: list[str | int] = ["body", "questions", index]
            if item.get("id") is None:
                study = self._get(self.studies, item.get("study_id"), "Study not found")
                try:
                    planned.append((self._new_question(item, loc), study["id"]))
                except InvalidError as exc:
                    problems += exc.problems
            else:
                question = self._get(self.questions, item["id"], "Question not found")
                changes = _writable(item, "UpdateQuestionReqV1")
                problems += _spec.problems(_spec.component("Question"), {**question, **changes}, loc)
                planned.append(({"id": question["id"], **changes}, None))
        if problems:
            raise InvalidError(problems)
        created, updated = [], []
        for change, study_id in planned:
            if study_id is None:
                self.questions[change["id"]].update(change)
                updated.append(change["id"])
            else:
                self._add_question(study_id, change)
                created.append(change["id"])
        return {"created_question_ids": created, "updated_question_ids": updated}

    def update_question(self, call: Call) -> None:
        """Change what the request sends."""
        question = self._get(self.questions, call.path["question_id"], "Question not found")
        self._update(question, call.body, "UpdateQuestionReqV1", "Question", ["body"])

    def delete_question(self, call: Call) -> None:
        """Soft delete: later reads no longer show it, nor its rules."""
        question = self._get(self.questions, call.path["question_id"], "Question not found")
        self.deleted.add(question["id"])
        self.deleted.update(rule["id"] for rule in self.logic.values() if rule["question_id"] == question["id"])

    # -- question logic ----------------------------------------------------------

    def get_question_logic(self, call: Call) -> list[JSON]:
        """A question's rules, oldest first."""
        question = self._get(self.questions, call.query["question_id"], "Question not found")
        return self._rules_of(question["id"])

    def create_question_logic(self, call: Call) -> JSON:
        """Create a rule of a question of the study it names."""
        body = _spec.with_defaults("CreateQuestionLogicReqV1", call.body)
        study = self._get(self.studies, body["study_id"], "Study not found")
        question = self._get(self.questions, body["question_id"], "Question not found")
        if self.question_study[question["id"]] != study["id"]:
            raise NotFoundError("Question not found")
        rule = {
            "id": new_id(),
            "study_id": study["id"],
            "question_id": question["id"],
            "operation": body["operation"],
            "comparison_value": body.get("comparison_value"),
            "comparison_value_type": body["comparison_value_type"],
            "next_question_id": body.get("next_question_id"),
            "redirect_url": body.get("redirect_url"),
            "end_interview": body["end_interview"],
            "action_type": body["action_type"],
            "language": body["language"],
        }
        self.logic[rule["id"]] = rule
        return rule

    def update_question_logic(self, call: Call) -> None:
        """Change what the request sends."""
        rule = self._get(self.logic, call.path["logic_id"], "Question logic not found")
        self._update(rule, call.body, "UpdateQuestionLogicReqV1", "QuestionLogic", ["body"])

    def delete_question_logic(self, call: Call) -> None:
        """Soft delete: later reads no longer show it."""
        rule = self._get(self.logic, call.path["logic_id"], "Question logic not found")
        self.deleted.add(rule["id"])

    # -- views, for answers and for the fake's inspection ------------------------

    def question_view(self, question_id: str) -> JSON:
        """A question as the API shows it: with its live rules."""
        return {**self.questions[question_id], "logic": self._rules_of(question_id)}

    def live_questions(self) -> list[JSON]:
        """Every question not deleted, oldest first, as the API shows them."""
        return [self.question_view(question["id"]) for question in self._live(self.questions)]

    def live_logic(self) -> list[JSON]:
        """Every rule not deleted, oldest first."""
        return self._live(self.logic)

    # -- helpers -----------------------------------------------------------------

    def _get(self, table: Mapping[str, JSON], key: object, detail: str) -> JSON:
        # An id that is not a string (the spec leaves batch items open) names nothing the fake holds.
        if isinstance(key, str) and key in table and key not in self.deleted:
            return table[key]
        raise NotFoundError(detail)

    def _interview(self, interview_id: str) -> JSON:
        return self._get(self.interviews, interview_id, "Interview not found")

    def _live(self, table: Mapping[str, JSON]) -> list[JSON]:
        return [row for key, row in table.items() if key not in self.deleted]

    def _new_question(self, item: Mapping[str, Any], loc: Sequence[str | int]) -> JSON:
        """A new question of the item's Question fields (the defaults for those it lacks), in the spec's order."""
        given = {**QUESTION_DEFAULTS, **item}
        fields = [name for name in _spec.properties("Question") if name in given and name not in {"id", "logic"}]
        question = {"id": new_id(), **{name: given[name] for name in fields}}
        self._check(question, "Question", loc)
        return question

    def _add_question(self, study_id: str, question: JSON) -> None:
        if question["display_order"] is None:  # placed after the study's others
            orders = [q["display_order"] or 0 for q in self._mine(study_id)]
            question["display_order"] = max(orders, default=0) + 1
        self.questions[question["id"]] = question
        self.question_study[question["id"]] = study_id

    def _mine(self, study_id: str) -> list[JSON]:
        return [q for q in self._live(self.questions) if self.question_study[q["id"]] == study_id]

    def _questions_of(self, study_id: str) -> list[JSON]:
        # By display order; a question whose order was set to null goes last; ties in the order they were made.
        ordered = sorted(self._mine(study_id), key=lambda q: (q["display_order"] is None, q["display_order"] or 0))
        return [self.question_view(q["id"]) for q in ordered]

    def _rules_of(self, question_id: str) -> list[JSON]:
        return [rule for rule in self._live(self.logic) if rule["question_id"] == question_id]

    def _update(self, row: JSON, body: Mapping[str, Any], request: str, answer: str, loc: Sequence[str | int]) -> None:
        """A partial update: the fields the request schema declares that the body sends (FACTS.md: PUT is partial)."""
        changes = _writable(body, request)
        self._check({**row, **changes}, answer, loc)
        row.update(changes)

    @staticmethod
    def _check(row: Mapping[str, Any], answer: str, loc: Sequence[str | int]) -> None:
        problems = _spec.problems(_spec.component(answer), row, loc)
        if problems:
            raise InvalidError(problems)


def _writable(body: Mapping[str, Any], request: str) -> JSON:
    return {name: body[name] for name in _spec.properties(request) if name in body}


def created_interview(interview: Mapping[str, Any]) -> JSON:
    """An interview in the shape Create Interview answers."""
    return {name: interview[name] for name in CREATED_INTERVIEW}


def interview_details(interview: Mapping[str, Any]) -> JSON:
    """An interview in the shape it is read back (InterviewDetails)."""
    return {name: value for name, value in interview.items() if name != "study_id"}

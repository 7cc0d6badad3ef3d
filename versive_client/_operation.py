"""One call of any operation: its arguments checked and built into a request, and its answer read, in one place.

Every resource method hands this module its operation's description (generated in
``_generated/operations.py``), its arguments and its per-call options; the request goes
through the attempt loop like any other, and `Response.parse` reads the answer: the
model, a list of models, or None, or `APIResponseValidationError` for a 2xx it cannot use.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from types import NoneType
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote, urlencode
from uuid import UUID

from versive_client._errors import request_id
from versive_client._transport import CALL_HEADERS, Headers, Request, require, unusable

if TYPE_CHECKING:
    from collections.abc import Callable

    from versive_client._generated.operations import Operation, Param
    from versive_client._transport import Answer

T = TypeVar("T")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# What each JSON kind of the spec accepts from a caller, and how an error names it.
# (bool is an int to Python, but never a number to the API: checked apart.)
KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "string": ((str,), "a string"),
    "integer": ((int,), "an int"),
    "number": ((int, float), "a number"),
    "boolean": ((bool,), "True or False"),
    "object": ((Mapping,), "a mapping"),
    "array": ((Sequence,), "a list"),
    "null": ((NoneType,), "None"),
    "date-time": ((dt.datetime,), "a datetime"),
    "date": ((dt.date,), "a date"),
    "uuid": ((UUID,), "a UUID"),
}


def build_request(
    operation: Operation, arguments: Mapping[str, object], options: Mapping[str, Any], base_url: str, headers: Headers
) -> Request:
    """The request `operation` sends with `arguments`: each checked against the spec first, so a bad one sends nothing.

    `options` may add ``extra_headers``, ``extra_query`` and ``extra_body`` (for what the spec
    has not caught up with); `headers` are the client's (the API key among them).
    """
    path, query, body = operation.path, {}, {}
    call_headers = Headers(headers)
    for param in operation.params:
        if param.name not in arguments:  # not given: not sent
            continue
        value = arguments[param.name]
        check(param, value)
        if param.where == "path":
            path = path.replace(f"{{{param.key}}}", quote(str(value), safe=""))
        elif param.where == "query":
            if value is not None:  # a nullable parameter given None is left out, as the generated functions do
                query[param.key] = value
        elif param.where == "header":
            call_headers[param.key.lower()] = str(value)
        else:
            body[param.key] = value
    query.update({k: v for k, v in _mapping("extra_query", options.get("extra_query")).items() if v is not None})
    body.update(_mapping("extra_body", options.get("extra_body")))
    call_headers.update(check_headers("extra_headers", options.get("extra_headers")))
    url = base_url + path
    if query:
        url += "?" + urlencode({key: _query_value(value) for key, value in query.items()}, doseq=True)
    content = b""
    if operation.body:
        call_headers.setdefault("content-type", "application/json")
        content = encode_json(body)
    return Request(operation.method, url, call_headers, content)


def check(param: Param, value: object) -> None:
    """Raise TypeError or ValueError naming `param` when `value` is not what the spec lets it be."""
    if param.kinds and not any(_is_kind(value, kind) for kind in param.kinds):
        expected = " or ".join(KINDS[kind][1] for kind in param.kinds if kind in KINDS)
        raise TypeError(f"{param.name} must be {expected}, got {type(value).__name__}")
    if param.values and value not in param.values:
        raise ValueError(f"{param.name} must be one of {', '.join(map(repr, param.values))}, got {value!r}")
    # The API's ids are never empty: an empty path segment would even reach another operation.
    if isinstance(value, str) and not value.strip() and (param.where == "path" or param.key.endswith("_id")):
        raise ValueError(f"{param.name} must not be empty")
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):  # JSON's object keys are strings; json.dumps would quietly turn 1 into "1"
                raise TypeError(f"{param.name} keys must be strings, got {type(key).__name__} {key!r}")


def _is_kind(value: object, kind: str) -> bool:
    types, _ = KINDS.get(kind, ((object,), ""))
    if kind == "object" and _is_model(value):
        return True
    if isinstance(value, bool):
        return kind == "boolean"
    if isinstance(value, str | bytes) and kind == "array":
        return False
    return isinstance(value, types) and not (kind == "date" and isinstance(value, dt.datetime))


def _is_model(value: object) -> bool:
    """A generated model, passed where the spec has an object: sent as its ``to_dict()``."""
    return callable(getattr(value, "to_dict", None)) and hasattr(type(value), "__attrs_attrs__")


def _mapping(name: str, value: object) -> Mapping[str, object]:
    if value is None:
        return {}
    mapping = require(name, value, Mapping, "a mapping or None")
    for key in mapping:
        require(f"{name} keys", key, str, "strings")
    return mapping


def _query_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return [_query_value(item) for item in value] if isinstance(value, list | tuple) else value


def check_headers(name: str, headers: object) -> dict[str, str]:
    """`headers` (a mapping of strings, or None) with lower-case names; anything no HTTP library would send is refused.

    ``Idempotency-Key`` and ``X-Versive-Retry-Count`` are set by each call: refused here.
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"{name} must be a mapping of strings, got {type(headers).__name__}")
    for header, value in headers.items():
        require(f"{name} names", header, str, "strings")
        require(f"{name}[{header!r}]", value, str, "a string")
        if not HEADER_NAME.fullmatch(header):
            raise ValueError(f"{name} has {header!r}, which is not a header name")
        if header.lower() in CALL_HEADERS:
            raise ValueError(
                f"{name} must not set {header}: each call sends its own "
                "(pass idempotency_key=... to a create to choose the key)"
            )
        problem = unsendable(value, allow_space=True)
        if problem:  # the value is not shown: it may be a secret
            raise ValueError(f"{name}[{header!r}] {problem}")
    return {header.lower(): value for header, value in headers.items()}


def encode_json(payload: Mapping[str, object]) -> bytes:
    """`payload` as compact UTF-8 JSON; an error names the entry that cannot be sent."""
    try:
        return json.dumps(
            payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_jsonable
        ).encode()
    except (TypeError, ValueError) as exc:
        # Encoding the whole body at once is the fast path; on failure, find the entry at fault.
        where = _culprit(payload, "")
        if where:
            raise ValueError(f"{where} cannot be sent as JSON: {exc}") from None
        raise ValueError(f"the request cannot be sent as JSON: {exc}") from None


def _jsonable(value: object) -> object:
    """What JSON cannot hold as it is: a generated model, a date or time, a UUID, a sequence."""
    if _is_model(value):
        return value.to_dict()  # type: ignore[attr-defined]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _culprit(value: object, where: str) -> str | None:
    """The place (``metadata['when']``) of the first value in `value` that JSON cannot hold, or None."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _culprit(item, f"{where}[{key!r}]" if where else str(key))
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        return next((found for i, item in enumerate(value) if (found := _culprit(item, f"{where}[{i}]"))), None)
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False, default=_jsonable).encode()
    except (TypeError, ValueError):
        return where or None
    return None


def unsendable(value: str, *, allow_space: bool) -> str | None:
    """What in `value` cannot go into an HTTP header (as the first such character's kind and place), or None."""
    for place, char in enumerate(value, start=1):
        if not ("!" <= char <= "~" or (allow_space and char in " \t")):
            kind = "a space" if char == " " else "a non-ASCII character" if char > "~" else "a control character"
            return f"has {kind} at position {place}, which cannot be sent in an HTTP header (a pasted typo?)"
    return None


class Response(Generic[T]):
    """An answer as it came, from ``versive.with_raw_response.<resource>.<method>(...)``; `parse` reads it.

    .. versionadded:: 0.4.0
    """

    __slots__ = ("_answer", "_operation", "_read", "_request")

    def __init__(self, answer: Answer, request: Request, operation: Operation, read: Callable[[Any], T]) -> None:
        """Keep what `parse` needs."""
        self._answer = answer
        self._request = request
        self._operation = operation
        self._read = read

    def __repr__(self) -> str:
        """Status and operation only."""
        return f"<Response [{self.status_code}] {self._operation.name}>"

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        return self._answer.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        """The response's headers (names in any case)."""
        return self._answer.headers

    @property
    def request_id(self) -> str | None:
        """The response's ``x-request-id`` (or ``request-id``), if it had one."""
        return request_id(self._answer.headers)

    @property
    def attempts(self) -> int:
        """How many requests the call made: 1 plus the retries."""
        return self._answer.attempt

    @property
    def content(self) -> bytes:
        """The body, decoded by its Content-Encoding."""
        return self._answer.content

    def parse(self) -> T:
        """The answer as the method returns it: the model, a list of models, or None.

        Raises:
            APIResponseValidationError: the 2xx is not what the spec documents for the operation.
        """
        answer, request, operation = self._answer, self._request, self._operation
        if answer.status_code not in operation.statuses:
            raise unusable(answer, request, "which the spec does not document for this operation")
        if operation.answer is None:
            return self._read(None)
        if not answer.content:
            raise unusable(answer, request, "without a body")
        try:
            data = answer.json()
        except ValueError as exc:  # truncated, or not JSON at all
            raise unusable(answer, request, f"with a body that is not JSON ({exc})") from None
        if operation.answer == "array" and not isinstance(data, list):
            raise unusable(answer, request, f"with a JSON {type(data).__name__} where the spec has an array")
        if operation.answer == "object" and not isinstance(data, dict):
            raise unusable(answer, request, f"with a JSON {type(data).__name__} where the spec has an object")
        try:
            return self._read(data)
        except KeyError as exc:
            raise unusable(answer, request, f"without the required field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:  # a value the generated model cannot read
            raise unusable(answer, request, f"with a body that does not match the spec ({exc})") from None

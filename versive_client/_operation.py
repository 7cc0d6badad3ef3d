"""One call of any operation: its arguments checked and built into a request, and its answer read, in one place.

Every resource method hands ``VersiveClient.call`` its operation's description (generated in
``_generated/operations.py``), its arguments and its per-call options. `build_request`
checks each argument against the spec and builds the request, which goes through the
attempt loop like any other; `read_answer` reads what came back: the model, a list of
models, or None, or `APIResponseValidationError` for a 2xx the SDK cannot use.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from types import NoneType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast
from urllib.parse import quote, urlencode
from uuid import UUID

from attrs import field, frozen

from versive_client._errors import request_id
from versive_client._generated.operations import Param
from versive_client._transport import CALL_HEADERS, Request, require, unsendable, unusable

T = TypeVar("T")
if TYPE_CHECKING:
    from collections.abc import Callable

    from versive_client._generated.operations import Operation
    from versive_client._transport import Answer

    Values = Mapping[str, Any]
    """A call's arguments or options, by name: only those the caller gave."""
    Read = Callable[[Any], T]
    """How a method reads its answer's JSON into what it returns."""
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _is_model(value: object) -> bool:
    """A generated model, passed where the spec has an object: sent as its ``to_dict()``."""
    return hasattr(type(value), "__attrs_attrs__") and callable(getattr(value, "to_dict", None))


# Each JSON kind of the spec: what a caller may pass for it, and how an error names it.
# (A bool is an int to Python but never a number to the API; a str is a sequence but not a list.)
KINDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an int"),
    "number": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
    "boolean": (lambda v: isinstance(v, bool), "True or False"),
    "object": (lambda v: isinstance(v, Mapping) or _is_model(v), "a mapping"),
    "array": (lambda v: isinstance(v, Sequence) and not isinstance(v, str | bytes), "a list"),
    "null": (lambda v: v is None, "None"),
    "date-time": (lambda v: isinstance(v, dt.datetime), "a datetime"),
    "date": (lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime), "a date"),
    "uuid": (lambda v: isinstance(v, UUID), "a UUID"),
}


# The kind of a value of a plain JSON type, at the cost of one lookup: the common case, before the table's tests.
_PLAIN = {str: "string", int: "integer", float: "number", bool: "boolean", NoneType: "null", dict: "object"}
# The extra_* options, checked as the arguments are: a mapping with string keys, or None for none.
EXTRAS = {name: Param(name, name, "option", ("object", "null"), ()) for name in ("extra_query", "extra_body")}


def build_request(
    operation: Operation, arguments: Values, options: Values, base_url: str, headers: Mapping[str, str]
) -> Request:
    """The request `operation` sends with `arguments`, each checked against the spec first: a bad one sends nothing.

    `arguments` hold only what the caller gave. `options` may add ``extra_headers``,
    ``extra_query`` and ``extra_body`` (for what the spec has not caught up with);
    `headers` are the client's (never the API key: the backend adds it as it sends).
    """
    path, call_headers = operation.path, dict(headers)
    query: dict[str, object] = {}
    body: dict[str, object] = {}
    for param in (param for param in operation.params if param.name in arguments):
        value = check(param, arguments[param.name])
        if param.where == "path":
            path = path.replace(f"{{{param.key}}}", quote(str(value), safe=""))
        elif param.where == "header":
            call_headers[param.key.lower()] = str(value)
        else:
            (query if param.where == "query" else body)[param.key] = value
    query.update(cast("Values", check(EXTRAS["extra_query"], options.get("extra_query")) or {}))
    body.update(cast("Values", check(EXTRAS["extra_body"], options.get("extra_body")) or {}))
    call_headers.update(check_headers("extra_headers", options.get("extra_headers")))
    # None for a query parameter is left out, as the generated functions do; True is "true".
    query = {key: str(v).lower() if isinstance(v, bool) else v for key, v in query.items() if v is not None}
    url = base_url + path + ("?" + urlencode(query, doseq=True) if query else "")
    if not operation.body:
        return Request(operation.method, url, call_headers, b"")
    call_headers.setdefault("content-type", "application/json")
    return Request(operation.method, url, call_headers, encode_json(body))


def check(param: Param, value: object) -> object:
    """`value`, unless the spec does not let `param` be it: then TypeError or ValueError naming `param`."""
    if param.kinds and _PLAIN.get(type(value)) not in param.kinds and not any(KINDS[k][0](value) for k in param.kinds):
        expected = " or ".join(KINDS[kind][1] for kind in param.kinds)
        raise TypeError(f"{param.name} must be {expected}, got {type(value).__name__}")
    if param.values and value not in param.values:
        raise ValueError(f"{param.name} must be one of {', '.join(map(repr, param.values))}, got {value!r}")
    # What a method requires is never blank: an empty path segment would even reach another operation.
    if isinstance(value, str) and param.required and not value.strip():
        raise ValueError(f"{param.name} must not be empty")
    for key in value if isinstance(value, Mapping) else ():
        if not isinstance(key, str):  # JSON's keys are strings; json.dumps would quietly turn 1 into "1"
            raise TypeError(f"{param.name} keys must be strings, got {type(key).__name__} {key!r}")
    return value


def check_headers(name: str, headers: object) -> dict[str, str]:
    """`headers` (a mapping of strings, or None) with lower-case names; anything no HTTP library would send is refused.

    ``Idempotency-Key`` and ``X-Versive-Retry-Count`` are set by each call, ``Authorization`` by
    the client from its API key (held apart, where no traceback shows it): refused here.
    """
    headers = require(name, {} if headers is None else headers, Mapping, "a mapping of strings")
    for header, value in headers.items():
        require(f"{name} names", header, str, "strings")
        require(f"{name}[{header!r}]", value, str, "a string")
        if not HEADER_NAME.fullmatch(header):
            raise ValueError(f"{name} has {header!r}, which is not a header name")
        if header.lower() in CALL_HEADERS:  # idempotency_key=... chooses the key of one create
            raise ValueError(f"{name} must not set {header}: each call sends its own (idempotency_key=... sets it)")
        if header.lower() == "authorization":
            raise ValueError(f"{name} must not set {header}: the client sends the API key given as api_key=...")
        if problem := unsendable(value, allow_space=True):  # the value is not shown: it may be a secret
            raise ValueError(f"{name}[{header!r}] {problem}")
    return {header.lower(): value for header, value in headers.items()}


def encode_json(payload: object) -> bytes:
    """`payload` as compact UTF-8 JSON; an error names the entry that cannot be sent."""
    try:
        return json.dumps(
            payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_jsonable
        ).encode()
    except (TypeError, ValueError) as exc:
        # Encoding the whole body at once is the fast path; on failure, find the entry at fault.
        raise ValueError(f"{_culprit(payload, '') or 'the request'} cannot be sent as JSON: {exc}") from None


def _jsonable(value: object) -> object:
    """What JSON cannot hold as it is: a generated model, a date or time, a UUID, a sequence."""
    if _is_model(value):
        return value.to_dict()  # type: ignore[attr-defined]
    if isinstance(value, dt.date | dt.time | UUID):
        return value.isoformat() if isinstance(value, dt.date | dt.time) else str(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _culprit(value: object, where: str, within: tuple[int, ...] = ()) -> str | None:
    """The place (``metadata['when']``) of the first value in `value` that JSON cannot hold, or None."""
    if isinstance(value, Mapping | list | tuple):
        if id(value) in within:  # a container that holds itself
            return where or None
        items, within = value.items() if isinstance(value, Mapping) else enumerate(value), (*within, id(value))
        found = (_culprit(item, f"{where}[{key!r}]" if where else str(key), within) for key, item in items)
        return next((place for place in found if place), None)
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False, default=_jsonable).encode()
    except (TypeError, ValueError):
        return where or None
    return None


@frozen
class Response(Generic[T]):
    """An answer as it came, from ``versive.with_raw_response.<resource>.<method>(...)``; `parse` reads it.

    `headers` look names up in any case; `attempts` counts the requests the call made;
    `content` is the body, decoded by its Content-Encoding.

    .. versionadded:: 0.4.0
    """

    status_code: int
    headers: Mapping[str, str] = field(repr=False)
    attempts: int
    content: bytes = field(repr=False)
    _read: Callable[[], T] = field(repr=False, alias="read")

    @property
    def request_id(self) -> str | None:
        """The response's ``x-request-id`` (or ``request-id``), if it had one."""
        return request_id(self.headers)

    def parse(self) -> T:
        """The answer as the method returns it: the model, a list of models, or None.

        Raises:
            APIResponseValidationError: the 2xx is not what the spec documents for the operation.
        """
        return self._read()


def read_answer(answer: Answer, request: Request, operation: Operation, read: Read[T]) -> T:
    """What `answer` means for `operation`, through `read`; APIResponseValidationError when it is not that.

    Any 2xx is read as the documented answer: the API has done what was asked, so a status
    the spec does not list (a 200 for a 201) is no reason to refuse the answer.
    """
    if operation.answer is None:
        return read(None)
    if not answer.content:
        raise unusable(answer, request, "without a body")
    try:
        data = json.loads(answer.content)
    except ValueError as exc:  # truncated, or not JSON at all
        raise unusable(answer, request, f"with a body that is not JSON ({exc})") from None
    expected = {"array": list, "object": dict}.get(operation.answer, object)
    if not isinstance(data, expected):
        raise unusable(answer, request, f"with a JSON {type(data).__name__} where the spec has an {operation.answer}")
    try:
        return read(data)
    except KeyError as exc:
        raise unusable(answer, request, f"without the required field {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:  # a value the generated model cannot read
        raise unusable(answer, request, f"with a body that does not match the spec ({exc})") from None

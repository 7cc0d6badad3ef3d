"""The SDK's exceptions: one hierarchy, and the one table that maps an HTTP status to its class.

::

    VersiveError                      anything the SDK raises about a call
    ├── APIConnectionError            no usable response: refused, reset, cut short, undecodable, DNS
    │   └── APITimeoutError           an attempt, the wait for a connection, or the call's deadline timed out
    ├── APIStatusError                the API answered a non-2xx status
    │   ├── BadRequestError           400
    │   ├── AuthenticationError       401  missing or wrong API key
    │   ├── PermissionDeniedError     403
    │   ├── NotFoundError             404
    │   ├── ConflictError             409
    │   ├── UnprocessableEntityError  422  `.errors`: the API's detail entries (loc, msg, type)
    │   ├── RateLimitError            429
    │   └── InternalServerError       5xx
    ├── APIResponseValidationError    a 2xx whose body is not JSON or lacks a required field
    └── WaitTimeoutError              a wait (versive.interviews.wait) ran out of time; a TimeoutError too

Every error carries `attempts` (how many requests the call made), and the `method` and
`url` of the request (never its headers, so never the API key). Status and validation
errors carry the `response` too. A connection error's cause (the HTTP library's
exception) is chained without its stack frames: those frames hold the request headers,
and error trackers record frames with their local variables.
Bad arguments are refused before any request with `TypeError` or `ValueError`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx


SNIPPET_CHARS = 200


class VersiveError(Exception):
    """Base of every error the SDK raises about a call."""

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None, attempts: int = 1) -> None:
        """`message` is the whole text; `attempts` counts the requests made."""
        super().__init__(message)
        self.message = message
        self.method, self.url = method, url
        self.attempts = attempts

    def __str__(self) -> str:
        """The message, with the attempt count when the call was retried."""
        return self.message if self.attempts <= 1 else f"{self.message} (after {self.attempts} attempts)"


class APIConnectionError(VersiveError):
    """The API could not be reached, or the connection failed before a whole response arrived."""


class APITimeoutError(APIConnectionError):
    """An attempt timed out (connect, read, write or pool), or the call ran out of its deadline."""


class APIStatusError(VersiveError):
    """The API answered with a status that is not 2xx.

    `response` is the final response (an ``httpx.Response``, whatever the backend);
    `status_code`, `headers` and `body` (the parsed JSON, or the text) are its;
    `request_id` is the server's ``x-request-id`` if it sent one; `retry_after` the seconds
    it asked the client to wait, if it did.
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: object,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        """Build from the final response of the call."""
        super().__init__(message, method=response.request.method, url=str(response.request.url), attempts=attempts)
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.body = body
        self.request_id = request_id(response.headers)
        self.retry_after = retry_after


def request_id(headers: Mapping[str, str]) -> str | None:
    """The id a server gave its response: ``x-request-id``, else ``request-id``; None without either."""
    return headers.get("x-request-id") or headers.get("request-id")


class BadRequestError(APIStatusError):
    """400 Bad Request."""


class AuthenticationError(APIStatusError):
    """401 Unauthorized: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403 Forbidden: the API key may not do this."""


class NotFoundError(APIStatusError):
    """404 Not Found."""


class ConflictError(APIStatusError):
    """409 Conflict: reported, never retried (on a create it may mean the work was done)."""


class UnprocessableEntityError(APIStatusError):
    """422: the API refused the request's content. `errors` holds its detail entries."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The API's validation entries, each with ``loc``, ``msg`` and ``type``."""
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        return [entry for entry in detail if isinstance(entry, dict)] if isinstance(detail, list) else []


class RateLimitError(APIStatusError):
    """429 Too Many Requests; `retry_after` says how long the API asked to wait."""


class InternalServerError(APIStatusError):
    """A 5xx: the API (or a proxy in front of it) failed."""


class APIResponseValidationError(VersiveError):
    """A 2xx response the SDK cannot use: not JSON, or without a field the spec requires."""

    def __init__(self, message: str, *, response: httpx.Response, attempts: int = 1) -> None:
        """Build from the unusable response, kept as `response`."""
        super().__init__(message, method=response.request.method, url=str(response.request.url), attempts=attempts)
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(response: httpx.Response, *, retry_after: float | None, attempts: int) -> APIStatusError:
    """The typed error for a non-2xx response whose body has been read."""
    status = response.status_code
    error_class = _STATUS_ERRORS.get(status, InternalServerError if status >= 500 else APIStatusError)  # noqa: PLR2004
    body = parse_body(response)
    request = response.request
    message = f"{request.method} {request.url.path} answered {status} {response.reason_phrase}".rstrip()
    if detail := _detail_text(body, response):
        message += f": {detail}"
    return error_class(message, response=response, body=body, retry_after=retry_after, attempts=attempts)


def validation_error(response: httpx.Response, problem: str, attempts: int) -> APIResponseValidationError:
    """The error for a 2xx response the SDK cannot use: `problem` says why; the body's start is shown."""
    where = f"{response.request.method} {response.request.url.path} answered {response.status_code}"
    message = f"{where} {problem}: {snippet(response.text)}"
    return APIResponseValidationError(message, response=response, attempts=attempts)


def parse_body(response: httpx.Response) -> object:
    """The body as JSON when it is JSON, else as text."""
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return response.text


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """`text` on one line, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _detail_text(body: object, response: httpx.Response) -> str:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return snippet(detail)
    if isinstance(detail, list):
        entries = [entry for entry in detail if isinstance(entry, dict)]
        located = [(".".join(str(part) for part in entry.get("loc", [])), entry.get("msg", "")) for entry in entries]
        return snippet("; ".join(f"{location}: {msg}" if location else str(msg) for location, msg in located))
    return snippet(response.text)

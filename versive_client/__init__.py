"""versive-client: the async Python SDK for the Versive API (AI-moderated user interviews).

::

    from versive_client import VersiveClient

    async with VersiveClient() as versive:          # API key from VERSIVE_API_KEY
        interview = await versive.create_interview(study_id="study_123", title="Onboarding")
        details = await versive.interviews.get(interview.id)

Every operation of the API is a method of its resource (``versive.studies.list()``).
Models generated from the API's spec live in `versive_client.models`; a fake of the API
for tests in `versive_client.testing`. `NOT_GIVEN` marks an option left to the client's
default (so ``deadline=None`` can clear one); `RawResponse` is what
``versive.with_raw_response.<resource>.<method>(...)`` answers with.
"""

from versive_client._client import VersiveClient
from versive_client._errors import (
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
from versive_client._generated.resources import RawResponse
from versive_client._generated.types import UNSET as NOT_GIVEN
from versive_client._generated.types import Unset as NotGiven
from versive_client._retry import RetryBudget, RetryPolicy
from versive_client._transport import Attempt, Call, CallObserver
from versive_client._version import __version__
from versive_client.webhooks import WaitTimeoutError

__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "Call",
    "CallObserver",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "RateLimitError",
    "RawResponse",
    "RetryBudget",
    "RetryPolicy",
    "UnprocessableEntityError",
    "VersiveClient",
    "VersiveError",
    "WaitTimeoutError",
    "__version__",
]

"""versive-client: the async Python SDK for the Versive API (AI-moderated user interviews).

::

    from versive_client import VersiveClient

    async with VersiveClient() as versive:          # API key from VERSIVE_API_KEY
        interview = await versive.create_interview(study_id="study_123", title="Onboarding")

Models generated from the API's spec live in `versive_client.models`; a fake of the API
for tests in `versive_client.testing`.
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
from versive_client._retry import RetryBudget, RetryPolicy
from versive_client._transport import Attempt, Call, CallObserver
from versive_client._version import __version__

__all__ = [
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
    "PermissionDeniedError",
    "RateLimitError",
    "RetryBudget",
    "RetryPolicy",
    "UnprocessableEntityError",
    "VersiveClient",
    "VersiveError",
    "__version__",
]

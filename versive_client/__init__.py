"""versive-client: the async Python SDK for the Versive API (AI-moderated user interviews).

::

    from versive_client import VersiveClient

    async with VersiveClient() as versive:          # API key from VERSIVE_API_KEY
        interview = await versive.create_interview(study_id="study_123", title="Onboarding")

Models generated from the API's spec live in `versive_client.models`; a fake of the API
for tests in `versive_client.testing`.
"""

__version__ = "0.1.0"

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

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
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

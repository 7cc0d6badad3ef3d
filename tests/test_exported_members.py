"""The public surface is exactly what __all__ says, so nothing becomes public by accident."""

from __future__ import annotations

import versive_client
import versive_client.bulk
import versive_client.models
from versive_client._generated import models as generated_models


def test_top_level_exports() -> None:
    """The package exports exactly its documented names: the client, its policy, errors, hooks' and options' types."""
    assert set(versive_client.__all__) == {
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
    }
    assert all(hasattr(versive_client, name) for name in versive_client.__all__)


def test_models_re_exports_every_generated_model() -> None:
    """versive_client.models is the public home of every generated model, new ones included."""
    assert set(versive_client.models.__all__) == set(generated_models.__all__)
    assert "Interview" in versive_client.models.__all__
    for name in versive_client.models.__all__:
        assert getattr(versive_client.models, name) is getattr(generated_models, name)


def test_bulk_exports() -> None:
    """versive_client.bulk exports the batch, its options and results, the pacer and the key helper."""
    assert set(versive_client.bulk.__all__) == {
        "BulkOptions",
        "BulkRun",
        "InterviewResult",
        "Items",
        "Pacer",
        "content_key",
    }
    assert all(hasattr(versive_client.bulk, name) for name in versive_client.bulk.__all__)


def test_otel_exports() -> None:
    """versive_client.otel exports its Telemetry only."""
    import versive_client.otel  # noqa: PLC0415 - the extra, imported where it is tested

    assert versive_client.otel.__all__ == ["Telemetry"]

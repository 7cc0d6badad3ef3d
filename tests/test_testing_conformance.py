"""Schema-driven conformance: schemathesis finds no answer of the loopback fake that contradicts the corrected spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import regenerate
import schemathesis
from conftest import AUTH, KEY
from hypothesis import HealthCheck, settings

from versive_client.testing import FakeVersive

if TYPE_CHECKING:
    from collections.abc import Iterator

# The spec as the SDK sees it: FastAPI operationIds normalised, the overlay's typed answers applied.
CORRECTED = regenerate.corrected_spec()
schema = schemathesis.openapi.from_dict(CORRECTED)


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    """A fake on loopback, shared by the generated cases."""
    with FakeVersive(api_key=KEY).serve_in_thread() as base_url:
        yield base_url


def test_every_operation_of_the_spec_is_generated() -> None:
    """The cases below cover all of the corrected spec's operations, not a part of it."""
    documented = [
        (f"{method.upper()} {path}", op["operationId"])
        for path, item in CORRECTED["paths"].items()
        for method, op in item.items()
    ]
    assert len(documented) == 20
    assert sum(1 for _ in schema.get_all_operations()) == len(documented)
    for label, operation_id in documented:
        assert schema.find_operation_by_id(operation_id).label == label


# Per operation: the spec's examples, schemathesis's coverage of each keyword (valid and invalid values,
# missing parameters, other methods), then 60 generated requests; ids the fake does not hold answer 404.
@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_fake_conforms_to_the_spec(case: schemathesis.Case[Any], fake_url: str) -> None:
    """Valid and invalid generated requests: every response matches the spec (status, content type, schema)."""
    case.call_and_validate(base_url=fake_url, headers=AUTH)

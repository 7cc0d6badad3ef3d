"""A fake Versive API for tests: yours and ours. Needs the ``testing`` extra.

    pip install "versive-client[testing]"

::

    from versive_client.testing import FakeVersive, faults

    fake = FakeVersive(api_key="test-key")
    fake.faults.queue(faults.Status(503, retry_after=1))   # the next request gets a 503
    async with fake.serve() as base_url:                   # a real server on 127.0.0.1
        ...                                                # or: transport=fake.transport()
    assert len(fake.interviews) == 1

It answers ``POST /api/v1/interviews`` as the spec says (200 with an interview, 401
without a valid bearer token, 422 with FastAPI's ``detail`` entries for a bad body,
404/405 elsewhere), keeps what it created, records every request with the
``Authorization`` value redacted, and honours an ``Idempotency-Key`` header (the fake's
own behaviour: the real API documents no such header). Faults are listed in
:mod:`versive_client.testing.faults`. ``FakeVersive(rate_limit=RateLimit(200, burst=20))``
puts a server-side rate limit in front of it (429 with ``Retry-After`` above it).

From a terminal: ``python -m versive_client.testing --port 0 [--api-key KEY]``.

.. versionadded:: 0.1.0
"""

from . import faults
from ._fake import FakeVersive, RateLimit, RecordedRequest
from ._transport import FakeVersiveTransport

__all__ = ["FakeVersive", "FakeVersiveTransport", "RateLimit", "RecordedRequest", "faults"]

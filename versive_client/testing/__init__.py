"""A fake Versive API for tests: yours and ours. Needs the ``testing`` extra.

    pip install "versive-client[testing]"

::

    from versive_client.testing import FakeVersive, faults

    fake = FakeVersive(api_key="test-key")
    study = fake.add_study(title="Onboarding")             # seed what the test needs
    fake.faults.queue(faults.Status(503, retry_after=1))   # the next request gets a 503
    async with fake.serve() as base_url:                   # a real server on 127.0.0.1
        ...                                                # or: transport=fake.transport()
    assert len(fake.interviews) == 1

It answers all twenty operations of the spec the client is generated from
(``versive_client/_generated/openapi.json``), and keeps what they create:

- interviews: created for any study id, held or not; read back by id or by the ``vid``
  in their link as InterviewDetails (``open``, progress 0, nothing run yet); ``PUT``
  changes the status (``{"status": "canceled"}``). ``fake.set_interview(id, status="closed",
  transcript=...)`` plays the participant's part.
- folders and studies: listed oldest first; ``PUT /studies/{id}`` merges ``config`` into
  the stored one. ``ai-edit`` suggests the given questions plus one made of the message
  and saves nothing; ``agent`` adds a question made of the message and saves it.
- questions: ``POST /questions/batch`` creates the items without an ``id`` and updates
  those with one (all or none); ``GET /questions?study_id=`` lists a study's by display
  order, each with its logic rules; ``PUT`` changes what it sends.
- logic rules, of a question of the study they name: created, listed by question,
  updated, deleted.

Deletes are soft: later reads no longer show the question or rule (nor a deleted
question's rules), and updating or deleting it again is a 404. Every ``PUT`` is partial.

Errors are FastAPI's: 401 without a valid bearer token; 404 with ``{"detail": "Study not
found"}`` (and the like) for an id it does not hold; 422 with ``detail`` entries
(``{"loc": ["body", "title"], "msg": "field required", "type": "value_error.missing"}``,
``loc`` starting with ``body`` or ``query``) for a request its schema in the spec
refuses, or a write whose result the answer's schema would refuse (a null where the
answer cannot hold one); 405 naming the methods a path has; 404 for a path the spec
lacks. Every answer matches its schema in the spec.

Read what it holds with ``fake.interviews``, ``fake.folders``, ``fake.studies``,
``fake.questions`` and ``fake.logic`` (the generated models; deleted ones left out), and
seed it with ``fake.add_folder``, ``add_study``, ``add_question`` and ``add_logic``: the
same checks as the API's, without a request. It records every request with the
``Authorization`` value redacted, and honours an ``Idempotency-Key`` header on every
POST (the fake's own behaviour: the real API documents no such header). Faults are
listed in :mod:`versive_client.testing.faults`; ``FakeVersive(rate_limit=RateLimit(200,
burst=20))`` puts a server-side rate limit in front of it (429 with ``Retry-After``
above it). Both apply to every operation.

From a terminal: ``python -m versive_client.testing --port 0 [--api-key KEY]``.

.. versionadded:: 0.1.0
.. versionchanged:: 0.4.0 every operation of the spec, statefully.
"""

from . import faults
from ._fake import FakeVersive, RateLimit, RecordedRequest
from ._transport import FakeVersiveTransport

__all__ = ["FakeVersive", "FakeVersiveTransport", "RateLimit", "RecordedRequest", "faults"]

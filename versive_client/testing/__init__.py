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

Completing interviews, and the webhook (needs the ``webhooks`` extra as well)::

    fake = FakeVersive(webhook_url="http://127.0.0.1:8001/hooks", webhook_secret="whsec_...",
                       webhook_retry_delays=(0.05, 0.1, 0.2))
    fake.complete_interview(interview_id, transcript=[("assistant", "Why us?"), ("user", "Price.")])
    deliveries = fake.wait_for_deliveries(timeout=5)   # every attempt: event_id, attempt, status or error

The interview reads back ``closed`` with the transcript (one ``role: content`` line a
turn) and its turns; the URL gets the ``interview.completed`` event, signed with the
secret as Svix signs (``svix-id``, ``svix-timestamp``, ``svix-signature``), retried on a
non-2xx answer or a connection failure with the same ``svix-id``.
``complete_interview(id, screened_out=True)`` ends it ``screened_out`` and sends nothing.

Tests in other languages reach the same through the loopback server's control endpoint,
which is the fake's own and not part of the Versive API (no auth, faults, rate limit or
record)::

    POST /_fake/interviews/{id}/complete
    {"transcript": [{"role": "assistant", "content": "Why us?"}, ...], "screened_out": false}

Both fields are optional (a short canned conversation, and false). It answers 200 with
the interview as read back, 404 for an interview the fake does not hold, 409 for one
already closed, screened out or canceled, 422 for another body.

From a terminal: ``python -m versive_client.testing --port 0 [--api-key KEY]``, with
``--webhook-url URL --webhook-secret whsec_... [--webhook-retry-delays 0.05,0.1]`` to
send webhooks (or ``versive fake-server`` with the same options).

.. versionadded:: 0.1.0
.. versionchanged:: 0.4.0 every operation of the spec, statefully.
.. versionchanged:: 0.6.0 ``complete_interview``, webhooks and the control endpoint.
"""

try:
    from . import faults
    from ._fake import FakeVersive, RateLimit, RecordedRequest
    from ._transport import FakeVersiveTransport
    from ._webhooks import WebhookDelivery
except ImportError as exc:  # the testing extra is not installed
    raise ImportError(
        f"versive_client.testing needs the testing extra ({exc.name} is missing): "
        "pip install 'versive-client[testing]'",
        name=exc.name,
    ) from exc

__all__ = ["FakeVersive", "FakeVersiveTransport", "RateLimit", "RecordedRequest", "WebhookDelivery", "faults"]

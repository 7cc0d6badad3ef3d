"""VersiveClient(webhook_secret=...) and versive.webhooks.unwrap: the client's secret, held as the API key is."""

from __future__ import annotations

import copy
import json
import pickle
from typing import TYPE_CHECKING

import pytest
from test_leaks import RENDERERS, render
from test_webhooks import BODY, MSG_ID, OTHER_SECRET, SECRET, sign, without_svix

from versive_client import VersiveClient
from versive_client.webhooks import InterviewCompleted, Webhooks, WebhookVerificationError, unwrap

if TYPE_CHECKING:
    from collections.abc import Callable

KEY = "test-key"
ENV = "VERSIVE_WEBHOOK_SECRET"
# What would give the secret away: the whole, and its base64 part (the key itself).
HIDDEN = (SECRET, SECRET.removeprefix("whsec_"), SECRET.removeprefix("whsec_")[:24])
MARKER = "receiver-visible-marker-9"


def client(**options: object) -> VersiveClient:
    """A client that never sends anything here."""
    return VersiveClient(KEY, base_url="http://127.0.0.1:9", telemetry=False, **options)  # type: ignore[arg-type]


def assert_hidden(text: str) -> None:
    """Fail if `text` shows the webhook secret."""
    for value in HIDDEN:
        assert value not in text


@pytest.mark.parametrize("where", ["argument", "environment"])
def test_the_clients_secret_verifies_and_parses(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`webhook_secret=` or $VERSIVE_WEBHOOK_SECRET: versive.webhooks.unwrap(body, headers) verifies with it."""
    if where == "environment":
        monkeypatch.setenv(ENV, SECRET)
        versive = client()
    else:
        monkeypatch.setenv(ENV, OTHER_SECRET)  # the argument wins
        versive = client(webhook_secret=SECRET)
    event = versive.webhooks.unwrap(BODY.encode(), sign(BODY))
    assert isinstance(event, InterviewCompleted)
    assert event.id == MSG_ID
    with pytest.raises(WebhookVerificationError, match="bad signature"):
        versive.webhooks.unwrap(BODY, sign(BODY, secret=OTHER_SECRET))


def test_a_derived_client_keeps_the_secret() -> None:
    """with_options shares the webhook secret as it shares the pool."""
    derived = client(webhook_secret=SECRET).with_options(max_retries=0)
    assert isinstance(derived.webhooks.unwrap(BODY, sign(BODY)), InterviewCompleted)


def test_without_a_secret_unwrap_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """No argument, no variable: the client is made, and unwrap says where the secret comes from."""
    monkeypatch.delenv(ENV, raising=False)
    versive = client()
    with pytest.raises(ValueError, match=r"no webhook secret: pass VersiveClient\(webhook_secret=...\) or set"):
        versive.webhooks.unwrap(BODY, sign(BODY))


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        ("sk_live_abcdef123456", ValueError, "webhook_secret is not a Svix endpoint secret"),
        ("whsec_not*base64!", ValueError, "webhook_secret is not a Svix endpoint secret"),
        ("whsec_", ValueError, "webhook_secret is not a Svix endpoint secret"),
        (SECRET + "\u2019", ValueError, "webhook_secret is not a Svix endpoint secret"),
        ("\u200b" + SECRET, ValueError, "webhook_secret is not a Svix endpoint secret"),
        (b"whsec_abc", TypeError, "webhook_secret must be a string, got bytes"),
        (42, TypeError, "webhook_secret must be a string, got int"),
    ],
)
def test_a_bad_secret_is_refused_by_the_constructor(given: object, error: type[Exception], message: str) -> None:
    """A secret that cannot be a Svix secret fails the client at once, naming the argument, not repeating it."""
    with pytest.raises(error, match=message) as info:
        client(webhook_secret=given)
    if isinstance(given, str) and len(given) > len("whsec_"):
        assert given not in str(info.value)


@pytest.mark.parametrize("value", ["sk_live_abcdef123456", "changeme", SECRET + "\u2019"])
def test_a_bad_secret_from_the_environment_is_refused_when_used(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable another program set does not stop a client that never unwraps; unwrap names it, not its value."""
    monkeypatch.setenv(ENV, value)
    versive = client()
    with pytest.raises(ValueError, match=f"{ENV} is not a Svix endpoint secret") as info:
        versive.webhooks.unwrap(BODY, sign(BODY))
    assert value not in str(info.value)


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_an_empty_variable_is_no_secret(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """As with VERSIVE_BASE_URL, an empty variable is unset: the client is made, unwrap says there is no secret."""
    monkeypatch.setenv(ENV, value)
    with pytest.raises(ValueError, match="no webhook secret"):
        client().webhooks.unwrap(BODY, sign(BODY))


def test_the_command_ignores_a_webhook_secret_it_does_not_use() -> None:
    """`versive demo` (a client, one interview) with a broken VERSIVE_WEBHOOK_SECRET and no svix: it still runs."""
    result = without_svix("from versive_client.cli import main\nsys.exit(main(['demo']))", **{ENV: "changeme"})
    assert result.returncode == 0, result.stderr


def test_a_secret_from_the_environment_needs_svix_only_when_used() -> None:
    """A valid secret in the environment, no svix: the client is made; unwrap says which extra to install."""
    headers = {"svix-id": "a", "svix-timestamp": "1", "svix-signature": "v1,x"}
    code = "from versive_client import VersiveClient\nv = VersiveClient('k')\nprint('made')\n"
    code += f"v.webhooks.unwrap('{{}}', {headers!r})"
    result = without_svix(code, **{ENV: SECRET})
    assert result.stdout == "made\n"
    assert "pip install 'versive-client[webhooks]'" in result.stderr


def test_surrounding_whitespace_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret read from a file with its newline still verifies."""
    monkeypatch.setenv(ENV, f"  {SECRET}\n")
    assert isinstance(client().webhooks.unwrap(BODY, sign(BODY)), InterviewCompleted)


def test_the_secret_is_in_no_repr_and_cannot_be_pickled_or_copied() -> None:
    """The client's and the holder's reprs hide it; pickling or copying the holder is refused, naming why."""
    versive = client(webhook_secret=SECRET)
    for text in (repr(versive), repr(versive.webhooks), str(versive.webhooks), repr(vars(versive))):
        assert_hidden(text)
    assert repr(versive.webhooks) == "<Webhooks secret=[secure]>"
    assert repr(client().webhooks) == "<Webhooks (no secret)>"
    for attempt in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="cannot be pickled or copied"):
            attempt(versive.webhooks)


def _refused_delivery(unwrapping: Callable[[str, dict[str, str]], object]) -> BaseException:
    """The error a tampered delivery raises, caught where a receiver would, its frame holding a harmless marker."""
    marker = MARKER
    headers = sign(BODY)
    try:
        unwrapping(BODY.replace("closed", "open"), headers)
    except WebhookVerificationError as exc:
        assert marker
        return exc
    pytest.fail("the tampered delivery was accepted")


def _refused_secret(suffix: str = "*") -> BaseException:
    """The error the constructor raises for a secret that is not a Svix secret (and holds it in no frame)."""
    marker = MARKER
    try:
        VersiveClient(KEY, base_url="http://127.0.0.1:9", telemetry=False, webhook_secret=SECRET + suffix)
    except ValueError as exc:
        assert marker
        return exc
    pytest.fail("the constructor accepted it")


def _refused_module_secret(suffix: str) -> BaseException:
    """The error module-level unwrap raises for such a secret."""
    marker = MARKER
    try:
        unwrap(BODY, sign(BODY), secret=SECRET + suffix)
    except WebhookVerificationError as exc:
        assert marker
        return exc
    pytest.fail("unwrap accepted it")


CASES: dict[str, Callable[[], BaseException]] = {
    "client-unwrap": lambda: _refused_delivery(client(webhook_secret=SECRET).webhooks.unwrap),
    "module-unwrap": lambda: _refused_delivery(lambda body, headers: unwrap(body, headers, secret=SECRET)),
    "bad-secret": _refused_secret,
    "non-ascii-secret": lambda: _refused_secret("\u2019"),
    "module-non-ascii-secret": lambda: _refused_module_secret("\u2019"),
}


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_no_error_tracker_sees_the_secret(case: str, renderer: str) -> None:
    """Sentry (locals), rich and structlog with locals, logging, TracebackException: no frame shows the secret."""
    assert_hidden(render(renderer, CASES[case](), MARKER))


def test_a_frame_holding_the_secret_would_be_seen() -> None:
    """The check can fail: a frame with the secret in a local is caught by every renderer that shows locals."""

    def refuse(endpoint_key: str, marker: str) -> None:  # named so that Sentry's own scrubbing lets it through
        raise WebhookVerificationError(f"refused ({len(endpoint_key)}, {marker})")

    def careless() -> BaseException:
        try:
            refuse(SECRET, MARKER)
        except WebhookVerificationError as exc:
            return exc
        pytest.fail("it did not fail")

    for renderer in ("sentry", "rich", "structlog", "traceback"):
        assert SECRET in render(renderer, careless(), MARKER)


def test_a_secret_needs_svix_at_once() -> None:
    """Without the webhooks extra, a client given a secret fails to start, saying which extra to install."""
    result = without_svix(f"from versive_client import VersiveClient\nVersiveClient('k', webhook_secret={SECRET!r})")
    assert result.returncode == 1
    assert "pip install 'versive-client[webhooks]'" in result.stderr
    # And without a secret, a client needs no svix at all.
    plain = without_svix("from versive_client import VersiveClient\nVersiveClient('k')")
    assert plain.returncode == 0, plain.stderr


def test_webhooks_holder_alone() -> None:
    """Webhooks(secret) outside a client: check() refuses a bad one; unwrap verifies with a good one."""
    assert isinstance(Webhooks(SECRET).check().unwrap(BODY, sign(BODY)), InterviewCompleted)
    with pytest.raises(ValueError, match="webhook_secret is not a Svix endpoint secret"):
        Webhooks("nope").check()
    with pytest.raises(TypeError, match="body must be bytes or str"):
        Webhooks(SECRET).unwrap(json.loads(BODY), sign(BODY))

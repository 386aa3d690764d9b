"""Registration and reset answers do not reveal whether an address has an account: the same
body, headers and work, and their e-mail goes out after the response."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core import mail, signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import RequestFactory, override_settings

from tests.conftest import PASSWORD, Account
from tests.identity.test_signin_gate import COUNTING, CountingHasher

pytestmark = pytest.mark.django_db

VARYING_HEADERS = {"X-Request-ID"}  # a new id per request, whatever the answer


@contextmanager
def _wsgi_server() -> Iterator[WSGIHandler]:
    """The application as a WSGI server calls it, so a test can look at the moment between the
    response being produced and the server closing it (the test client closes at once). The
    database connection stays the test's own, as Django's test client also arranges: no test
    client request may run inside (it reconnects the signal)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _post(handler: WSGIHandler, path: str, body: dict[str, Any]) -> Any:
    environ = RequestFactory().post(path, body, content_type="application/json").environ
    return handler(environ, lambda status, headers: None)


def _register(handler: WSGIHandler, email: str) -> Any:
    return _post(handler, "/v1/auth/register", {"email": email, "password": PASSWORD, "display_name": "Ann"})


def test_taken_and_free_addresses_get_the_same_answer(account: Account) -> None:
    with _wsgi_server() as wsgi:
        taken = _register(wsgi, account.email)
        free = _register(wsgi, "n" + account.email[1:])  # as long: the same Content-Length
        for response in (taken, free):
            response.close()
    assert taken.status_code == free.status_code == 201
    taken_body, free_body = json.loads(taken.content), json.loads(free.content)
    assert taken_body.keys() == free_body.keys()
    for body in (taken_body, free_body):
        assert body["date_joined"] == body["updated_at"]  # one timestamp, to the microsecond
        assert body["version"] == 1
        assert body["kosync_enabled"] is False
    assert {k: v for k, v in taken_body.items() if k not in ("id", "email", "date_joined", "updated_at")} == {
        k: v for k, v in free_body.items() if k not in ("id", "email", "date_joined", "updated_at")
    }
    taken_headers = {k: v for k, v in taken.items() if k not in VARYING_HEADERS}
    free_headers = {k: v for k, v in free.items() if k not in VARYING_HEADERS}
    assert taken_headers == free_headers


def test_each_answer_mails_once_and_only_after_the_response(account: Account) -> None:
    answers = ((account.email, "Someone tried to register"), ("new-one@example.org", "Welcome"))
    with _wsgi_server() as wsgi:
        for email, subject in answers:
            mail.outbox.clear()
            response = _register(wsgi, email)
            assert response.status_code == 201
            assert mail.outbox == []  # nothing sent while the client waits for its answer
            response.close()  # the WSGI server has sent the response
            assert [message.to for message in mail.outbox] == [[email]]
            assert mail.outbox[0].subject.startswith(subject)


def test_both_answers_cost_one_password_hash(api: Any, account: Account) -> None:
    with override_settings(PASSWORD_HASHERS=COUNTING):
        for email in (account.email, "another-new@example.org"):
            CountingHasher.calls = 0
            assert api.post("/v1/auth/register", {"email": email, "password": PASSWORD}).status_code == 201
            assert CountingHasher.calls == 1, email


def test_reset_mail_goes_out_after_the_response(account: Account) -> None:
    mail.outbox.clear()
    with _wsgi_server() as wsgi:
        for email, mailed in ((account.email, 1), ("nobody@example.org", 0)):
            response = _post(wsgi, "/v1/auth/password/reset", {"email": email})
            assert response.status_code == 202
            assert mail.outbox == []
            response.close()
            assert len(mail.outbox) == mailed
            mail.outbox.clear()

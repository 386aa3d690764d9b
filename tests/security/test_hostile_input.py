"""Hostile input in every string and number of every operation: never a 5xx, always a clean
error, never a half-written change.

How a request is made. For every operation of the OpenAPI schema (parametrized from the schema:
a new operation is swept without touching this module) schemathesis draws a positive case,
which is grounded in a real account (World: the ids of its own objects in the path, valid
credentials, and a body the API accepts as it is, BODIES, checked by
test_every_base_is_accepted_as_it_is). Then exactly one *location* gets a *hostile value*:

- locations: every node of the body (leaves and the objects and lists above them) and every
  property its schema declares inside the objects it has; every query parameter, with cursors
  crafted from a real `next` link carrying the hostile value; every path parameter; every
  declared header (If-Match, KOReader's x-auth-user / x-auth-key); the multipart upload's fields
  and file name. For the sync push, the op's envelope and its `fields`, which are the PATCH
  body of the op's type (the schema component the sync registry names), down to the viewer
  state's `locator.locations.progression`. Headers every route reads through one middleware or
  authentication class (X-Request-ID, Authorization, Accept, Origin, Content-Type, If-Match as
  an entity tag, User-Agent, the admin's session cookie) get every hostile value on
  representative routes (test_hostile_request_headers).
- hostile values, from six families (FAMILIES), each location getting one of every family:
  NUL; lone surrogates (a high or a low one alone, a low one before a high one); odd text
  (10,000 characters of ASCII, of multi-byte characters, of emoji, of whitespace; whitespace
  only; digits `str.isdigit` accepts and `int` refuses; 5,000 digits); numbers beyond every
  column (10**30, 2**63, -(2**63)-1, 2**64, 1e308); numbers JSON cannot carry, sent as RAW body
  text since Python's json will not write them (a 5,000-digit integer, `1e400`, NaN,
  Infinity); wrong shapes (floats where integers go, booleans where numbers go, null, a list
  or an object nested 100 deep). Where only text goes (query, path, header, form) a value
  is sent as its text, percent-encoded as UTF-8 in a URL (a lone surrogate as its CESU
  bytes); a header as the bytes a client can put on the wire (latin-1 where it can spell the
  text, else UTF-8), never with a control character: gunicorn refuses those before the
  application runs (RFC 9110 5.5). Long values are sent in URLs and headers too, although
  gunicorn's default limits (4094-byte request line, 8190-byte header) would stop them first.
- whole RAW bodies for every operation with a JSON body, signed in and anonymous: `[` * 100000,
  `{"a":` * 50000, invalid UTF-8, a NUL in a key, CESU surrogates, top-level overflowing
  numbers and tokens, truncated and empty bodies (test_hostile_raw_body).
- the Django admin, as a hostile staff user and as an attacker: every changelist's `?q=`, the
  user admin's paging, ordering, filter and object id, the login form. Its pages are HTML, so
  there only invariant 1 applies.

Invariants, on every answer:
1. never a 5xx (a 503 too: a hostile value is not an outage);
2. an error (4xx) is `application/problem+json` with `type, title, status, detail, code` and
   names nothing of the inside (INTERNALS); KOReader's routes under /v1/sync/kosync/ answer
   their protocol's `application/json` `{"code": <int>, "message": <str>}` instead, except
   for what KOReader's server has no answer for (KOSYNC_PROBLEM_STATUSES);
3. nothing half-written: a refused request (4xx) leaves every row of every table of the
   project's apps as it was: tasks, lists, completions, notes, revisions, files, uploads,
   viewer states with their devices and history, KOReader progress, users, sessions, and the
   sync feed with its per-user counter (the feed's last seq) and the stored push results. An
   md5 per table over all its rows is compared before and after, recomputed only when the
   write-ahead log moved;
4. the sync push never fails as a batch (DESIGN: "never a failed batch"): a push whose one op
   is hostile, between good ops, answers 200 unless the body itself is unreadable (BODY_LEVEL),
   the good ops are applied, the hostile op is `rejected` (or applied when the value is
   acceptable, like a 10,000-character note body), and a rejected op changed nothing of its
   target. A rejection with code `op_failed` is a server error caught and answered: a failure.

Each sweep runs to its end and fails with the list of everything that broke (operation,
location, value, status, the exception and the line of apps/ that raised it), so one run gives
the whole picture. Requests go through Django's test client (raw bytes, any header), each in its
own savepoint, so a statement that failed outside the request's atomic blocks is rolled back
as autocommit would have ended it and cannot poison the next request; such a statement behind
a 4xx is reported (in autocommit what it follows would stay written).

Hypothesis is derandomized and keeps no database: every run sends the same values. With
PASSES = 1 each sweep is hypothesis' simplest example, in which every family's members are
rotated by the location's index (Family.at): side by side, locations meet different classes,
and an operation's locations meet them all; a higher PASSES adds examples drawn at random from
the members and from generated variants (minutes instead of about one).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import logging
import re
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import psycopg
import pytest
import schemathesis
from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.identity.models import User
from apps.library.kosync import protocol
from apps.sync import registry
from exampleapp.wsgi import application
from tests.conftest import PASSWORD, Account, bearer
from tests.library import factories
from tests.library.conftest import upload

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/v1/schema?format=json", application)
OPERATIONS = [result.ok() for result in schema.get_all_operations()]
RAW_SCHEMA: dict[str, Any] = schema.raw_schema
KOSYNC_PREFIX = "/v1/sync/kosync/"
VND = "application/vnd.koreader.v1+json"
KOSYNC_PASSWORD = "reading on the tram"
KOSYNC_KEY = protocol.user_key(KOSYNC_PASSWORD)
DOCUMENT = "0123456789abcdef0123456789abcdef"
# KOReader's routes answer these with the API's problem+json: no route matched (the reference
# server answers a bare HTML 404 there, specs/kosync errors.json) and throttling, which the
# reference server does not have.
KOSYNC_PROBLEM_STATUSES = frozenset({404, 429})
# Words an error body must not show (docs/security.md: errors show nothing of the inside).
INTERNALS = ("Traceback", "site-packages", "set_int_max_str_digits", "psycopg", "django.db", 'File "')
# Requests whose success leaves the account or its objects unusable for the next request (a
# deleted object, revoked tokens, another password): the world is rebuilt after a 2xx.
ACCOUNT_CHANGES = frozenset(
    {
        "POST /v1/auth/logout",
        "POST /v1/auth/password/change",
        "POST /v1/auth/password/reset/confirm",
        "POST /v1/auth/token/refresh",
        "PATCH /v1/users/me",
        "PATCH /v1/users/{user_id}",
        "POST /v1/files/uploads/{upload_id}/complete",
    }
)
# Hypothesis examples per sweep; each sends one value of every family to every location (see
# the module's docstring).
PASSES = 1
HYPOTHESIS = hypothesis_settings(
    max_examples=PASSES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],  # no shrinking: the sweep records every failure itself
    suppress_health_check=list(HealthCheck),
)


def label_of(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


# --- hostile values ------------------------------------------------------------------------------


class Raw(str):
    """JSON text sent verbatim: what Python's json module refuses to write (NaN and Infinity
    tokens, `1e400`, integers of 5,000 digits) but any client can send."""


def _nested(kind: str, depth: int = 100) -> Any:
    value: Any = [] if kind == "list" else {}
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, (list, dict)) and value:
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
        depth += 1
    return depth


def describe(value: Any) -> str:
    """A short, exact description of a hostile value for failure messages."""
    if isinstance(value, Raw):
        return f"raw {value[:12]!s}{'…' if len(value) > 12 else ''} ({len(value)} chars of JSON)"
    if isinstance(value, str) and len(value) > 24:
        if len(set(value)) == 1:
            return f"{value[0]!r} * {len(value)}"
        return f"{value[:8]!r}… ({len(value)} chars)"
    if isinstance(value, (list, dict)) and _depth(value) > 3:
        return f"{type(value).__name__} nested {_depth(value)} deep"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**12:
        exponent = len(str(abs(value))) - 1
        return f"{value} (~{'-' if value < 0 else ''}1e{exponent})"
    return repr(value)


def as_text(value: Any) -> str:
    """A hostile value where only text goes (a query, a path segment, a header, a form field)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)


@dataclass(frozen=True)
class Family:
    """A family of hostile values: one member per class, and a strategy for more of them."""

    name: str
    members: tuple[Any, ...]
    more: st.SearchStrategy[Any] | None = None

    def at(self, index: int) -> st.SearchStrategy[Any]:
        """The family for the index-th location. Hypothesis' simplest draw is the first member,
        so the members are rotated by the index: side by side, locations meet every class."""
        start = index % len(self.members)
        members = st.sampled_from(self.members[start:] + self.members[:start])
        return members if self.more is None else st.one_of(members, self.more)


NUL = Family(
    "NUL",
    ("a\x00b", "\x00", "ab\x00", "\x00ab"),
    st.builds(lambda before, after: before + "\x00" + after, st.text(max_size=5), st.text(max_size=5)),
)
SURROGATE = Family(
    "lone surrogate",
    ("\ud800", "x\udfff", "\udc00\ud800", "a\udbffz", "\ud800\ud800"),
    st.builds(
        lambda before, char, after: before + char + after,
        st.text(max_size=5),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.text(max_size=5),
    ),
)
ODD_TEXT = Family(
    "odd text",
    (
        "a" * 10_000,
        "é" * 10_000,
        " " * 10_000,
        "😀" * 10_000,
        "²",  # str.isdigit() is true, int() refuses it
        " ",
        "字" * 10_000,
        "9" * 5_000,  # more digits than int() converts
        "\u00a0\u2003\u200b\ufeff",
        "١٢٣",  # Arabic-Indic digits: int() takes them
        "\u3000" * 10_000,
        "",
        "\t\n\r ",
        "1_000",
        "NaN",
    ),
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs"]).map(lambda char: char * 10_000),
        st.text(alphabet=st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u1680\u2028\u3000"), min_size=1, max_size=8),
    ),
)
BIG_NUMBER = Family(
    "number beyond a column",
    (10**30, 2**63, -(2**63) - 1, 1e308, -(10**30), -1e308, 2**64, 2**31, 5e-324),
    st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1)),
)
RAW_NUMBER = Family(
    "number JSON cannot carry",
    (
        Raw("9" * 5_000),
        Raw("1e400"),
        Raw("NaN"),
        Raw("Infinity"),
        Raw("-" + "9" * 5_000),
        Raw("-Infinity"),
        Raw("-1e400"),
    ),
)
SHAPES = Family(
    "wrong shape",
    (1.5, _nested("list"), True, _nested("dict"), 0.5, False, None, 1.0, {}, [], -0.0, [None]),
)
FAMILIES = [NUL, SURROGATE, ODD_TEXT, BIG_NUMBER, RAW_NUMBER, SHAPES]
# Where only text goes (headers, the admin's query and form fields): numbers as their text.
NUMBER_TEXT = Family(
    "number as text", tuple(as_text(member) for member in BIG_NUMBER.members + RAW_NUMBER.members)
)
STRING_FAMILIES = [NUL, SURROGATE, ODD_TEXT, NUMBER_TEXT]


def encode_json(value: Any) -> bytes:
    """JSON bytes as a client would send them: Raw values verbatim, lone surrogates as `\\udXXX`
    escapes (a JavaScript client's JSON.stringify writes them so), everything else UTF-8."""
    raws: list[str] = []

    def swap(item: Any) -> Any:
        if isinstance(item, Raw):
            raws.append(str(item))
            return f"\x01raw{len(raws) - 1}\x01"
        if isinstance(item, dict):
            return {key: swap(child) for key, child in item.items()}
        if isinstance(item, list):
            return [swap(child) for child in item]
        return item

    text = json.dumps(swap(value), ensure_ascii=False, allow_nan=False)
    for index, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x01raw{index}\x01"), raw)
    return text.encode("utf-8", "backslashreplace")


def url_quote(text: str) -> str:
    """Percent-encoded UTF-8; a lone surrogate becomes its (invalid) CESU bytes, as it would
    from a client that does not check."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


# gunicorn refuses a header value with these before the application runs (RFC 9110 §5.5).
_UNDELIVERABLE_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def as_header(value: Any) -> str | None:
    """A header value as WSGI hands it over (its bytes decoded as latin-1), or None when no
    HTTP server would deliver it. Text that latin-1 can spell goes as those bytes (a client
    may send any byte), anything else as UTF-8 (lone surrogates as their CESU bytes)."""
    text = as_text(value)
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("latin-1")
    return None if _UNDELIVERABLE_HEADER.search(text) else text


# --- what the requests may not change ------------------------------------------------------------


def _project_tables() -> list[str]:
    models = django_apps.get_models(include_auto_created=True)
    return sorted({m._meta.db_table for m in models if m._meta.app_config.name.startswith("apps.")})


def snapshot() -> dict[str, str]:
    """md5 of every row of every table of the project's apps, per table (one query)."""
    tables = _project_tables()
    quote_name = connection.ops.quote_name
    # Table names come from the app registry, not from a request.
    digest = "(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t)"
    columns = ", ".join(digest.format(quote_name(name)) for name in tables)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + columns)
        row = cursor.fetchone()
    return dict(zip(tables, row, strict=True))


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


# --- the account the requests act on ---------------------------------------------------------------


def _upload_body(name: str, sha256: str) -> dict[str, Any]:
    """A direct (multipart S3) upload of a 6 MiB PDF."""
    return {"name": name, "size": 6 * 2**20, "sha256": sha256, "content_type": "application/pdf"}


class World:
    """A signed-in staff account with one object of every kind, made on first use and remade
    after a request that consumed it (ACCOUNT_CHANGES, a DELETE)."""

    def __init__(self) -> None:
        self._objects: dict[str, Any] = {}
        self._clock = itertools.count(1)
        self._serial = itertools.count(1)

    def reset(self) -> None:
        self._objects.clear()

    def _get(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._objects:
            self._objects[name] = make()
        return self._objects[name]

    def fresh_email(self) -> str:
        return f"hostile{next(self._serial)}-{uuid.uuid4().hex[:8]}@example.org"

    def modified(self) -> str:
        """A later device clock on every call: a viewer-state write is never refused as older."""
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(self._clock))
        return moment.isoformat().replace("+00:00", "Z")

    # The account: staff, since the staff routes are in scope.
    @property
    def account(self) -> Account:
        return self._get("account", self._make_account)

    def _make_account(self) -> Account:
        email = self.fresh_email()
        client = APIClient()
        registered = client.post("/v1/auth/register", {"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.content
        User.objects.filter(id=registered.json()["id"]).update(is_staff=True, is_superuser=True)
        cache.clear()  # session state caches the staff flag
        tokens = client.post("/v1/auth/token", {"email": email, "password": PASSWORD}).json()
        account = Account(
            id=registered.json()["id"],
            email=email,
            password=PASSWORD,
            access=tokens["access"],
            refresh=tokens["refresh"],
            client=bearer(tokens["access"]),
        )
        return account

    def kosync(self) -> tuple[str, str]:
        """KOReader's credentials of the account (its sync turned on, once)."""

        def enable() -> tuple[str, str]:
            body = {"kosync_password": KOSYNC_PASSWORD, "current_password": PASSWORD}
            answer = self.api.patch("/v1/users/me", body, format="json")
            assert answer.status_code == 200, answer.content
            return self.account.email, KOSYNC_KEY

        user, key = self._get("kosync", enable)
        return user, key

    @property
    def api(self) -> APIClient:
        return self.account.client

    def _created(self, path: str, body: dict[str, Any]) -> str:
        answer = self.api.post(path, body, format="json")
        assert answer.status_code == 201, (path, answer.content)
        return str(answer.json()["id"])

    def _upload_started(self, body: dict[str, Any]) -> str:
        answer = self.api.post("/v1/files/uploads", body, format="json")
        assert answer.status_code == 201, answer.content
        return str(answer.json()["upload"]["id"])

    @property
    def task_list(self) -> str:
        return self._get("list", lambda: self._created("/v1/todos/lists", {"name": "Errands"}))

    @property
    def task(self) -> str:
        return self._get(
            "task",
            lambda: self._created(
                "/v1/todos",
                {
                    "list": self.task_list,
                    "title": "Water plants",
                    "due": "2025-03-01",
                    "recurrence": {"freq": "daily"},
                },
            ),
        )

    @property
    def note(self) -> str:
        def make() -> str:
            note_id = self._created("/v1/notes", {"title": "Groceries", "body": "milk"})
            self.api.patch(f"/v1/notes/{note_id}", {"body": "milk, eggs"}, format="json")  # revision 1
            return note_id

        return self._get("note", make)

    def version(self, kind: str, obj_id: str) -> int:
        """The current version of one of the account's objects (a sync type's model)."""
        model = registry.get(kind).model
        return int(model._default_manager.values_list("version", flat=True).get(pk=obj_id))

    def file(self, kind: str = "pdf") -> str:
        def make() -> str:
            data, name = {
                "pdf": (factories.pdf_bytes, "book.pdf"),
                "epub": (lambda: factories.epub_bytes(chapters=4), "book.epub"),
                "image": (factories.image_bytes, "cover.png"),
            }[kind]
            answer = upload(self.api, data(), name)
            assert answer.status_code == 201, answer.content
            return str(answer.json()["id"])

        return str(self._get(f"file:{kind}", make))

    @property
    def upload(self) -> str:
        return self._get(
            "upload",
            lambda: self._upload_started(_upload_body("big.pdf", "ab" * 32)),
        )

    @property
    def session(self) -> str:
        def make() -> str:
            answer = self.api.get("/v1/users/me/sessions")
            assert answer.status_code == 200, answer.content
            return str(answer.json()["results"][0]["id"])

        return self._get("session", make)

    @property
    def reset_link(self) -> tuple[str, str]:
        user = User.objects.get(id=self.account.id)
        return urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)

    def seed_pages(self) -> None:
        """At least two of everything, so every list has a `next` cursor to tamper with."""

        def make() -> bool:
            self._created("/v1/todos/lists", {"name": "Second"})
            self._created("/v1/todos", {"list": self.task_list, "title": "Second"})
            self._created("/v1/notes", {"title": "Second"})
            self.api.patch(f"/v1/notes/{self.note}", {"body": "milk, eggs, bread"}, format="json")
            self.file("pdf")
            self.file("image")
            self._upload_started(_upload_body("b.pdf", "cd" * 32))
            APIClient().post("/v1/auth/token", {"email": self.account.email, "password": PASSWORD})
            for _ in range(2):  # a daily task completed twice: two completions
                self.api.patch(f"/v1/todos/{self.task}", {"done": True}, format="json")
            User.objects.create_user(email=self.fresh_email(), password=PASSWORD)
            return True

        self._get("seeded", make)

    def path_value(self, path: str, name: str) -> str | None:
        """A real value for a path parameter; None for one this world does not know."""
        known: dict[str, Callable[[], str]] = {
            "file_id": lambda: self.file("pdf"),
            "upload_id": lambda: self.upload,
            "note_id": lambda: self.note,
            "number": lambda: "1",
            "list_id": lambda: self.task_list,
            "task_id": lambda: self.task,
            "user_id": lambda: self.account.id,
            "session_id": lambda: self.session,
            "document": lambda: DOCUMENT,
        }
        make = known.get(name)
        return make() if make else None

    def headers(self, operation: Any) -> dict[str, str]:
        """Valid credentials for the operation (If-Match is optional: writes without it proceed)."""
        if operation.path.startswith(KOSYNC_PREFIX):
            user, key = self.kosync()
            return {"Accept": VND, "x-auth-user": user, "x-auth-key": key}
        return {"Authorization": f"Bearer {self.account.access}"}


# --- valid bodies, one or more per operation -----------------------------------------------------


@dataclass
class Base:
    """A request that the API accepts as it is; the sweep changes exactly one location of it."""

    body: Any = None
    path: dict[str, str] = field(default_factory=dict)
    # For the push: where the hostile op sits, its type and its id (see check_push).
    target: tuple[int, str, str] | None = None
    # The good ops around it: (index, type, id, whether the op makes an object).
    good: list[tuple[int, str, str, bool]] = field(default_factory=list)
    body_schema: dict[str, Any] | None = None
    multipart: bool = False


def _task_fields(world: World) -> dict[str, Any]:
    return {
        "list": world.task_list,
        "title": "Call Ann",
        "notes": "about the trip",
        "due": "2025-03-01T09:00:00+01:00",
        "priority": 2,
        "tags": ["phone"],
        "recurrence": {"freq": "weekly", "interval": 2},
    }


def _locator() -> dict[str, Any]:
    return {
        "href": "OEBPS/text/ch2.xhtml",
        "type": "application/xhtml+xml",
        "title": "Chapter 2",
        "locations": {"progression": 0.25, "position": 20, "totalProgression": 0.3, "fragments": ["p12"]},
        "text": {"before": "It was", "highlight": "a dark", "after": "and stormy night"},
    }


def _position(world: World, kind: str) -> dict[str, Any]:
    """A viewer-state body for a file of this kind, every key of its position filled."""
    body: dict[str, Any] = {"device": {"id": "kobo-1", "name": "Kobo"}, "modified": world.modified()}
    if kind == "pdf":
        body["intent"] = "advance"
        body["pdf"] = {"page": 2, "zoom": 1.5, "scroll_x": 0.0, "scroll_y": 120.5, "rotation": 90}
    elif kind == "epub":
        body["intent"] = "jump"
        body["locator"] = _locator()
    else:
        body["image"] = {"zoom": 2.0, "pan_x": 10.0, "pan_y": -4.5, "rotation": 180}
    return body


Variant = Callable[[World], Base]


def _viewer_state(kind: str) -> Variant:
    return lambda w: Base(body=_position(w, kind), path={"file_id": w.file(kind)})


# Push: the hostile op sits between two good ops. Before it, in pushes that create, a plain
# create of the same type (two fresh creates of a type take the batched-create path); else, as
# after it, a delete of a task list that does not exist: cheap, `applied`, and a write (its
# result is stored) that fails if the hostile op left the batch's transaction broken.
PUSH_TARGET = 1
GOOD_FIELDS: dict[str, Callable[[World], dict[str, Any]]] = {
    "note": lambda w: {"title": "Good", "body": "applied"},
    "task": lambda w: {"list": w.task_list, "title": "Good"},
    "tasklist": lambda w: {"name": "Good"},
}
# (type, id, fields, base_version) of the op that gets the hostile value: a create and a
# change of notes and of tasks (the batched-create path; the per-field merge every type shares)
# and a viewer state, keyed by its file's id. Task lists and files are pushed through the same
# merge, their fields checked by the serializers their PATCH sweeps already cover.
PUSH_TARGETS: dict[str, Callable[[World], tuple[str, str, dict[str, Any], int]]] = {
    "note created": lambda w: (
        "note",
        str(uuid.uuid4()),
        {"title": "Trip", "body": "pack", "tags": ["travel"], "pinned": True, "archived": False},
        0,
    ),
    "note changed": lambda w: (
        "note",
        w.note,
        {"title": "Groceries 2", "body": "bread"},
        w.version("note", w.note),
    ),
    "task created": lambda w: ("task", str(uuid.uuid4()), _task_fields(w), 0),
    "task changed": lambda w: (
        "task",
        w.task,
        {"title": "Water plants daily", "priority": 1, "due": "2025-04-01"},
        w.version("task", w.task),
    ),
    # The position of every kind is checked by the function PUT viewer-state uses, swept above
    # for all three kinds; through the push, the richest one (an EPUB's Readium Locator).
    "viewer_state epub": lambda w: ("viewer_state", w.file("epub"), _position(w, "epub"), 0),
}


def _op(kind: str, obj_id: str, fields: dict[str, Any], base_version: int = 0) -> dict[str, Any]:
    return {
        "op_id": f"op-{uuid.uuid4().hex}",
        "type": kind,
        "action": "upsert",
        "id": obj_id,
        "base_version": base_version,
        "fields": fields,
    }


def _push(target: str) -> Variant:
    def make(world: World) -> Base:
        kind, obj_id, fields, base_version = PUSH_TARGETS[target](world)
        creates = target.endswith("created")
        before = _op(kind, str(uuid.uuid4()), GOOD_FIELDS[kind](world)) if creates else _nothing_deleted()
        after = _nothing_deleted()
        ops = [before, _op(kind, obj_id, fields, base_version), after]
        return Base(
            body={"ops": ops},
            target=(PUSH_TARGET, kind, obj_id),
            good=[(0, before["type"], before["id"], creates), (2, after["type"], after["id"], False)],
            body_schema=_push_op_schema(kind),
        )

    return make


def _nothing_deleted() -> dict[str, Any]:
    return {**_op("tasklist", str(uuid.uuid4()), {}), "action": "delete"}


def _push_op_schema(kind: str) -> dict[str, Any]:
    """The push body's schema with the target op as its type's variant of the op union (whose
    `fields` are that type's own PATCH body)."""
    mapping = resolve({"$ref": "#/components/schemas/PushOpInputRequest"})["discriminator"]["mapping"]
    op = copy.deepcopy(resolve({"$ref": mapping[kind]})) if kind in mapping else {}
    items: list[Any] = [{}] * PUSH_TARGET + [op]
    return {"type": "object", "properties": {"ops": {"type": "array", "prefixItems": items}}}


def _one(make: Variant) -> dict[str, Variant]:
    return {"": make}


# Valid requests per operation (by variant name): the body, and path ids where one matters.
BODIES: dict[str, dict[str, Variant]] = {
    "POST /v1/auth/logout": _one(lambda w: Base({"refresh": w.account.refresh})),
    "POST /v1/auth/token/refresh": _one(lambda w: Base({"refresh": w.account.refresh})),
    "POST /v1/auth/password/change": _one(
        lambda w: Base({"current_password": PASSWORD, "new_password": "another horse battery staple"})
    ),
    "POST /v1/auth/password/reset": _one(lambda w: Base({"email": w.account.email})),
    "POST /v1/auth/password/reset/confirm": _one(
        lambda w: Base(
            {"uid": w.reset_link[0], "token": w.reset_link[1], "new_password": "yet another horse staple"}
        )
    ),
    "POST /v1/auth/register": _one(
        lambda w: Base({"email": w.fresh_email(), "password": PASSWORD, "display_name": "Ann Reader"})
    ),
    "POST /v1/auth/token": _one(
        lambda w: Base({"email": w.account.email, "password": PASSWORD, "device_name": "Phone"})
    ),
    "POST /v1/files": _one(
        lambda w: Base(
            {"name": "Cover.png", "id": str(uuid.uuid4()), "filename": "cover.png"}, multipart=True
        )
    ),
    "PUT /v1/files/{file_id}": _one(lambda w: Base({"name": "Book.pdf", "tags": ["reading", "later"]})),
    "PATCH /v1/files/{file_id}": _one(lambda w: Base({"name": "Book.pdf", "tags": ["reading"]})),
    "PUT /v1/files/{file_id}/viewer-state": {kind: _viewer_state(kind) for kind in ("pdf", "epub", "image")},
    "POST /v1/files/uploads": _one(
        lambda w: Base({"id": str(uuid.uuid4()), **_upload_body("big.pdf", "ef" * 32)})
    ),
    "POST /v1/notes": _one(
        lambda w: Base(
            {
                "title": "Groceries",
                "body": "milk",
                "tags": ["home"],
                "pinned": True,
                "archived": False,
                "files": [w.file("pdf")],
            }
        )
    ),
    "PUT /v1/notes/{note_id}": _one(
        lambda w: Base(
            {"title": "Groceries", "body": "bread", "tags": ["home"], "pinned": False, "files": []}
        )
    ),
    "PATCH /v1/notes/{note_id}": _one(
        lambda w: Base({"title": "Groceries", "body": "bread", "tags": ["home"]})
    ),
    "POST /v1/sync/push": {target: _push(target) for target in PUSH_TARGETS},
    "POST /v1/todos": {
        "top-level": lambda w: Base(_task_fields(w)),
        "sub-task": lambda w: Base({"list": w.task_list, "parent": w.task, "title": "Sub-task"}),
        "placed": lambda w: Base({"list": w.task_list, "title": "Next", "after": w.task}),
    },
    "PUT /v1/todos/{task_id}": _one(lambda w: Base({**_task_fields(w), "position": "m"})),
    "PATCH /v1/todos/{task_id}": _one(
        lambda w: Base({"title": "Water plants", "done": False, "priority": 1})
    ),
    "POST /v1/todos/bulk": {
        "move": lambda w: Base({"action": "move", "ids": [w.task], "list": w.task_list}),
        "reopen": lambda w: Base({"action": "reopen", "ids": [w.task]}),
    },
    "POST /v1/todos/lists": _one(lambda w: Base({"name": "Home", "color": "#ff8800", "position": "k"})),
    "PUT /v1/todos/lists/{list_id}": _one(
        lambda w: Base({"name": "Errands", "color": "", "archived": False})
    ),
    "PATCH /v1/todos/lists/{list_id}": _one(lambda w: Base({"name": "Errands", "color": "#00ff00"})),
    "PATCH /v1/users/{user_id}": _one(
        lambda w: Base({"display_name": "Ann", "is_active": True, "is_staff": True})
    ),
    "PATCH /v1/users/me": _one(
        lambda w: Base(
            {"display_name": "Ann", "kosync_password": KOSYNC_PASSWORD, "current_password": PASSWORD}
        )
    ),
    "POST /v1/auth/reauthenticate": _one(lambda w: Base({"password": PASSWORD})),
    # KOReader's bodies (parsed by the views themselves; the schema documents them).
    "PUT /v1/sync/kosync/syncs/progress": _one(
        lambda w: Base(
            {
                "document": DOCUMENT,
                "progress": "/body/DocFragment[20]/body/p[22]/text().0",
                "percentage": 0.4217,
                "device": "Kobo Libra 2",
                "device_id": "A" * 32,
            }
        )
    ),
    "POST /v1/sync/kosync/users/create": _one(
        lambda w: Base({"username": w.fresh_email(), "password": protocol.user_key("x")})
    ),
}
NO_BODY: dict[str, Variant] = _one(lambda w: Base())


# --- the schema ------------------------------------------------------------------------------------


def resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = RAW_SCHEMA
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def definition(operation: Any) -> dict[str, Any]:
    return dict(RAW_SCHEMA["paths"][operation.path][operation.method.lower()])


def declared(operation: Any, where: str) -> list[str]:
    return [p["name"] for p in definition(operation).get("parameters", []) if p["in"] == where]


def json_body_schema(operation: Any) -> dict[str, Any] | None:
    content = definition(operation).get("requestBody", {}).get("content", {})
    for media_type, entry in content.items():
        if media_type.startswith("application/json"):
            return dict(entry.get("schema", {}))
    return None


def takes_json(operation: Any) -> bool:
    return json_body_schema(operation) is not None or label_of(operation) in BODIES


Path = tuple[str | int, ...]


def schema_paths(node: Any, prefix: Path = (), depth: int = 0) -> Iterator[Path]:
    """Every property path a body schema declares (array items as index 0)."""
    node = resolve(node)
    if not isinstance(node, dict) or depth > 5:
        return
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in node.get(key, []):
            yield from schema_paths(branch, prefix, depth)
    for name, child in node.get("properties", {}).items():
        yield (*prefix, name)
        yield from schema_paths(child, (*prefix, name), depth + 1)
    for index, child in enumerate(node.get("prefixItems", [])):
        if child:
            yield (*prefix, index)
            yield from schema_paths(child, (*prefix, index), depth + 1)
    if "items" in node and isinstance(node["items"], dict):
        yield (*prefix, 0)
        yield from schema_paths(node["items"], (*prefix, 0), depth + 1)


def value_paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every node of a JSON value below the root (leaves and the containers above them)."""
    children: Any = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        yield (*prefix, key)
        yield from value_paths(child, (*prefix, key))


def set_path(body: Any, path: Path, value: Any) -> Any:
    """A copy of `body` with `value` at `path`, making the objects and lists on the way."""
    body = copy.deepcopy(body) if body is not None else {}
    node = body
    for step, following in itertools.pairwise(path):
        if isinstance(node, list):
            assert isinstance(step, int)
            while len(node) <= step:
                node.append({})
            child = node[step]
        else:
            child = node.get(step)
        if not isinstance(child, (dict, list)) or (isinstance(child, list) != isinstance(following, int)):
            child = [] if isinstance(following, int) else {}
            node[step] = child  # type: ignore[index]
        node = child
    last = path[-1]
    if isinstance(node, list):
        assert isinstance(last, int)
        while len(node) <= last:
            node.append(None)
    node[last] = value  # type: ignore[index]
    return body


# --- sending and judging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    where: str  # body, query, path, header, form, cursor
    name: str | int | Path

    def __str__(self) -> str:
        if self.where == "body" and isinstance(self.name, tuple):
            return "body." + ".".join(map(str, self.name))
        return f"{self.where} {self.name}"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"

    @property
    def url(self) -> str:
        query = "&".join(f"{url_quote(k)}={url_quote(v)}" for k, v in self.query.items())
        return f"{self.path}?{query}" if query else self.path


class Probe(logging.Handler):
    """What a test sees besides the answer: the warnings and errors logged while a request ran
    (a 500's traceback, a 503's reason), and the digest of the tables, recomputed only when
    the write-ahead log moved (a request that wrote nothing moves it not)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self._digest: tuple[str, dict[str, str]] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @staticmethod
    def wal() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
            return str(cursor.fetchone()[0])

    def tables(self) -> tuple[str, dict[str, str]]:
        """(WAL position, digest per table) now."""
        position = self.wal()
        if self._digest is None or self._digest[0] != position:
            self._digest = (position, snapshot())
        return self._digest


@pytest.fixture
def probe() -> Iterator[Probe]:
    handler = Probe()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture(autouse=True)
def _reachable_code(settings: Any) -> None:
    """Every request must reach the code it targets: the sign-in lockout (which KOReader's
    header auth shares) has its own tests, and KOReader registration is an operator's option."""
    settings.LOGIN_FAILURES_PER_ACCOUNT = 10**9
    settings.LOGIN_FAILURES_PER_IP = 10**9
    settings.KOSYNC_REGISTRATION_ENABLED = True


def _where_it_broke(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/apps/" in f.filename and "site-packages" not in f.filename]
    last = frames[-1] if frames else None
    parts = []
    if ours:
        frame = ours[-1]
        parts.append(f"apps/{frame.filename.split('/apps/', 1)[1]}:{frame.lineno} in {frame.name}")
    if last is not None and (not ours or last is not ours[-1]):
        parts.append(f"raised at {last.filename.rsplit('site-packages/', 1)[-1]}:{last.lineno}")
    first_line = next(iter(str(exc).splitlines()), "")[:160]
    return f"{type(exc).__module__}.{type(exc).__name__}: {first_line} [{'; '.join(parts)}]"


def _exception_summary(response: Any, records: list[logging.LogRecord]) -> str:
    exc_info = getattr(response, "exc_info", None)
    if exc_info and exc_info[1] is not None:
        return _where_it_broke(exc_info[1])
    for record in records:
        if record.exc_info and record.exc_info[1] is not None:
            return _where_it_broke(record.exc_info[1])
    return "; ".join(record.getMessage()[:200] for record in records)


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any
    text: str  # the start of the body, for messages
    full_text: str
    exception: str
    changed: list[str]


def _transaction_failed() -> bool:
    status = connection.connection.info.transaction_status if connection.connection else None
    return connection.needs_rollback or status == psycopg.pq.TransactionStatus.INERROR


def send(client: Client, request: Request, probe: Probe) -> Answer:
    """One request in its own savepoint: a statement that failed outside the request's own
    atomic blocks is rolled back with it, as autocommit would have ended it, so the next
    request starts clean (the test's transaction stands in for the database)."""
    wal_before, before = probe.tables()
    probe.records.clear()
    savepoint = transaction.savepoint()
    response = client.generic(
        request.method,
        request.url,
        data=request.body if request.body is not None else b"",
        content_type=request.content_type,
        headers=request.headers,
    )
    failed_sql = _transaction_failed()
    if failed_sql:
        transaction.savepoint_rollback(savepoint)
        connection.needs_rollback = False
    else:
        transaction.savepoint_commit(savepoint)
    content = b"" if getattr(response, "streaming", False) else response.content
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    status = response.status_code
    changed = []
    if 400 <= status < 500 and probe.wal() != wal_before:
        changed = changed_tables(before, probe.tables()[1])
    if failed_sql and status < 500:
        # Caught and answered, but a statement failed outside the request's atomic blocks: in
        # autocommit the statements before it stay written.
        changed.append("(a failed SQL statement outside any atomic block)")
    return Answer(
        status=status,
        content_type=response.get("Content-Type", ""),
        body=body,
        text=content[:300].decode("utf-8", "replace"),
        full_text=content.decode("utf-8", "replace"),
        exception=_exception_summary(response, probe.records) if status >= 500 else "",
        changed=changed,
    )


def problems(path: str, answer: Answer) -> list[str]:
    """What is wrong with an answer to a hostile request (invariants 1-3 of the docstring)."""
    if answer.status >= 500:
        return [f"{answer.status}: {answer.exception or answer.text}"]
    found = []
    if answer.status >= 400:
        kosync = path.startswith(KOSYNC_PREFIX)
        body = answer.body if isinstance(answer.body, dict) else {}
        if kosync and answer.status not in KOSYNC_PROBLEM_STATUSES:
            shape_ok = (
                answer.content_type.split(";")[0] == "application/json"
                and set(body) == {"code", "message"}
                and isinstance(body.get("code"), int)
                and isinstance(body.get("message"), str)
            )
            if not shape_ok:
                found.append(
                    f"{answer.status} is not KOReader's error shape: {answer.content_type} {answer.text}"
                )
        else:
            shape_ok = (
                answer.content_type.startswith("application/problem+json")
                and {"type", "title", "status", "detail", "code"} <= body.keys()
                and body.get("status") == answer.status
            )
            if not shape_ok:
                found.append(f"{answer.status} is not problem+json: {answer.content_type} {answer.text}")
        leaked = [word for word in INTERNALS if word in answer.full_text]
        if leaked:
            found.append(f"{answer.status} names internals ({', '.join(leaked)}): {answer.text}")
        if answer.changed:
            found.append(f"refused with {answer.status} but changed {answer.changed}")
    return found


def encode_multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    """multipart/form-data by hand: Django's encoder cannot write a lone surrogate; a client's
    bytes are whatever it sends (surrogates become their CESU bytes)."""
    boundary = "hostile-" + uuid.uuid4().hex
    chunks = []
    for name, value in fields.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8", "surrogatepass")
            + b"\r\n"
        )
    chunks.append(
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename.replace('"', "%22").encode("utf-8", "surrogatepass")
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + data
        + b"\r\n"
    )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


_IMAGES = itertools.count(1)


def _fresh_image() -> bytes:
    """A PNG no upload had yet (an upload of known bytes answers with the file it already is)."""
    number = next(_IMAGES)
    return factories.image_bytes(size=(8 + number % 64, 8 + number // 64))


# --- crafted cursors -------------------------------------------------------------------------------


def real_cursor(world: World, path: str, headers: dict[str, str]) -> dict[str, Any] | None:
    """The decoded cursor of a real `next` link of this list (two of everything exist)."""
    world.seed_pages()
    answer = Client().get(path, {"limit": 1}, headers=headers)
    if answer.status_code != 200:
        return None
    next_link = answer.json().get("next")
    if not next_link:
        return None
    token = parse_qs(urlsplit(next_link).query)["cursor"][0]
    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return decoded if isinstance(decoded, dict) else None


def craft_cursor(real: dict[str, Any], value: Any, slot: int) -> str:
    """A real cursor with one value replaced: a position (`p`), the ordering (`o`) or all."""
    positions = list(real.get("p", []))
    if slot < len(positions):
        tampered: Any = {**real, "p": [value if i == slot else v for i, v in enumerate(positions)]}
    elif slot == len(positions):
        tampered = {**real, "o": value}
    else:
        tampered = value
    return base64.urlsafe_b64encode(encode_json(tampered)).decode().rstrip("=")


# --- the sweep ---------------------------------------------------------------------------------------


def grounded(operation: Any, world: World, case: Any, base: Base) -> Request:
    """The schemathesis case made real: this world's ids and credentials, and the base body."""
    path = operation.path
    for name in declared(operation, "path"):
        value = base.path.get(name) or world.path_value(operation.path, name)
        if value is None:
            value = str((case.path_parameters or {}).get(name, "x"))
        path = path.replace("{" + name + "}", url_quote(value))
    query = {str(k): as_text(v) for k, v in (case.query or {}).items() if k != "cursor"}
    request = Request(operation.method.upper(), path, query=query, headers=world.headers(operation))
    body = base.body if base.body is not None else case.body if takes_json(operation) else None
    if body is not None and not isinstance(body, (dict, list)) and not base.multipart:
        body = None  # schemathesis' NOT_SET
    if base.multipart:
        request.body, request.content_type = _multipart_of(base.body)
    elif body is not None:
        request.body = encode_json(body)
    return request


def _multipart_of(fields: dict[str, Any]) -> tuple[bytes, str]:
    form = {k: as_text(v) for k, v in fields.items() if k != "filename"}
    return encode_multipart(form, as_text(fields["filename"]), _fresh_image())


def locations(operation: Any, base: Base, cursor: dict[str, Any] | None) -> list[Location]:
    found = [Location("path", name) for name in declared(operation, "path")]
    found += [Location("query", name) for name in declared(operation, "query")]
    if cursor is not None:
        found += [Location("cursor", slot) for slot in range(len(cursor.get("p", [])) + 2)]
    found += [Location("header", name) for name in declared(operation, "header")]
    if base.multipart:
        return found + [Location("form", name) for name in base.body]
    if base.body is not None:
        body_schema = base.body_schema or json_body_schema(operation) or {}
        present = list(value_paths(base.body))  # a list: the order of the sweep is the same every run
        # What the body has, and what the schema declares inside the objects the body has
        # (not a whole `locator` in a PDF's position: that is one wrong-shape location).
        inside = set(present)
        declared_inside = [p for p in schema_paths(body_schema) if len(p) == 1 or p[:-1] in inside]
        paths = dict.fromkeys([*present, *declared_inside])
        if base.target is not None:  # the push: only the hostile op, and the envelope
            index = base.target[0]
            paths = {p: None for p in paths if p[:1] != ("ops",) or len(p) == 1 or p[1] == index}
        found += [Location("body", p) for p in paths]
    return found


def mutated(
    request: Request, base: Base, location: Location, value: Any, cursor: dict[str, Any] | None, world: World
) -> Request | None:
    """The request with the hostile value at the location; None if no client could send it."""
    changed = copy.copy(request)
    changed.query = dict(request.query)
    changed.headers = dict(request.headers)
    if location.where == "path":
        assert isinstance(location.name, str)
        real = base.path.get(location.name) or world.path_value(request.path, location.name) or ""
        segments = request.path.split("/")
        target = url_quote(real)
        changed.path = "/".join(url_quote(as_text(value)) if s == target else s for s in segments)
        if changed.path == request.path:  # the world did not know it: replace by position
            changed.path = request.path.rstrip("/") + "/" + url_quote(as_text(value))
    elif location.where == "query":
        changed.query[str(location.name)] = as_text(value)
    elif location.where == "cursor":
        assert cursor is not None
        assert isinstance(location.name, int)
        changed.query["cursor"] = craft_cursor(cursor, value, location.name)
    elif location.where == "header":
        header = as_header(value)
        if header is None:
            return None
        changed.headers[str(location.name)] = header
    elif location.where == "form":
        changed.body, changed.content_type = _multipart_of({**base.body, location.name: value})
    else:
        assert isinstance(location.name, tuple)
        changed.body = encode_json(set_path(base.body, location.name, value))
    return changed


# Refusals of a whole push body that are not about one op: the body is not JSON the server
# can read (NaN, 1e400, 5,000 digits), is nested deeper than any op needs, or is too large.
BODY_LEVEL = frozenset(
    {"invalid_json", "parse_error", "json_too_deep", "request_too_large", "push_too_large"}
)


def check_push(base: Base, location: Location, answer: Answer, before: Any) -> list[str]:
    """Invariant 4: one hostile op gets a 200, the good ops around it are applied, and a
    rejected op left its target alone."""
    if base.target is None:
        return []
    in_op = isinstance(location.name, tuple) and location.name[:2] == ("ops", base.target[0])
    if answer.status != 200:
        code = answer.body.get("code") if isinstance(answer.body, dict) else None
        if in_op and answer.status < 500 and code not in BODY_LEVEL:
            return [f"one malformed op failed the whole batch: {answer.status} {answer.text}"]
        return []
    results = answer.body.get("results") if isinstance(answer.body, dict) else None
    if not isinstance(results, list) or len(results) != len(base.body["ops"]):
        return [f"200 without one result per op: {answer.text}"]
    found = []
    for index, kind, obj_id, makes in base.good:
        if results[index].get("status") != "applied":
            found.append(f"good op {index} ({kind}) not applied: {results[index]}")
        elif makes and not registry.get(kind).model._default_manager.filter(pk=obj_id).exists():
            found.append(f"good op {index} ({kind}) answered applied but is not stored")
    index, kind, obj_id = base.target
    result = results[index]
    if result.get("status") == "rejected":
        if result.get("code") == "op_failed":
            # The server caught its own exception and answered for it: a bug, not a refusal.
            found.append(f"hostile op answered op_failed (a server error): {result}")
        if target_state(kind, obj_id) != before:
            found.append(f"hostile op rejected but its {kind} {obj_id} changed")
    return found


def target_state(kind: str, obj_id: str) -> list[dict[str, Any]]:
    """The row of the object an op names (a viewer state is named by its file's id)."""
    model = registry.get(kind).model
    key = "file_id" if kind == "viewer_state" else "pk"
    return list(model._default_manager.filter(**{key: obj_id}).values())


def _failure(label: str, location: object, value: Any, detail: str) -> str:
    return f"{label} | {location} = {describe(value)} | {detail}"


SWEEPS = [
    pytest.param(operation, name, id=f"{label_of(operation)} {name}".strip())
    for operation in OPERATIONS
    for name in BODIES.get(label_of(operation), NO_BODY)
]


@pytest.mark.parametrize(("operation", "variant"), SWEEPS)
def test_hostile_value_in_every_location(operation: Any, variant: str, probe: Probe) -> None:
    """Every location of one base request of the operation gets one value of every family
    (invariants 1-4 of the module's docstring)."""
    label = label_of(operation)
    world = World()
    client = Client(raise_request_exception=False)
    failures: list[str] = []
    shown: set[tuple[str, str]] = set()
    make_base = BODIES.get(label, NO_BODY)[variant]
    cases = operation.as_strategy()
    cursors: dict[str, dict[str, Any] | None] = {}

    @HYPOTHESIS
    @given(data=st.data())
    def sweep(data: st.DataObject) -> None:
        case = data.draw(cases, label="schemathesis case")
        todo: list[Location] | None = None
        for index in itertools.count():
            for family in FAMILIES:
                base = make_base(world)  # fresh: new ids, current versions, a later clock
                request = grounded(operation, world, case, base)
                if "cursor" in declared(operation, "query") and request.path not in cursors:
                    cursors[request.path] = real_cursor(world, request.path, request.headers)
                cursor = cursors.get(request.path)
                if todo is None:
                    todo = locations(operation, base, cursor)
                if index >= len(todo):
                    return
                location = todo[index]
                value = data.draw(family.at(index), label=f"{location} ({family.name})")
                hostile = mutated(request, base, location, value, cursor, world)
                if hostile is None:
                    continue
                target = target_state(*base.target[1:]) if base.target else None
                answer = send(client, hostile, probe)
                for problem in problems(hostile.path, answer) + check_push(base, location, answer, target):
                    key = (str(location), problem[:60])
                    if key not in shown:  # the same breakage at the same place once
                        shown.add(key)
                        failures.append(_failure(label, location, value, problem))
                if 200 <= answer.status < 300 and (hostile.method == "DELETE" or label in ACCOUNT_CHANGES):
                    world.reset()
                    cursors.clear()

    sweep()
    assert not failures, f"{len(failures)} hostile requests broke {label}:\n" + "\n".join(failures)


# --- whole raw bodies ------------------------------------------------------------------------------

RAW_BODIES: dict[str, bytes] = {
    "[ * 100000": b"[" * 100_000,
    '{"a": * 50000': b'{"a":' * 50_000,
    "5000 deep, closed": b"[" * 5_000 + b"]" * 5_000,
    "invalid UTF-8": b'{"title": "\xff\xfe"}',
    "NUL escaped in a key": b'{"ti\\u0000tle": "x", "name": "x"}',
    "NUL byte in a key": b'{"ti\x00tle": "x"}',
    "surrogates as CESU bytes": b'{"title": "\xed\xa0\x80", "name": "\xed\xb0\x80"}',
    "lone surrogate escape in a key": b'{"\\ud800": 1}',
    "1e400": b"1e400",
    "5000 digits": b"9" * 5_000,
    "NaN": b"NaN",
    "overflows inside": b'{"title": 1e400, "size": ' + b"9" * 5_000 + b', "x": -Infinity}',
    "truncated": b'{"title": "x',
    "empty": b"",
}
JSON_OPERATIONS = [op for op in OPERATIONS if takes_json(op)]


@pytest.mark.parametrize("operation", JSON_OPERATIONS, ids=label_of)
def test_hostile_raw_body(operation: Any, probe: Probe) -> None:
    """Whole bodies no JSON serializer writes, signed in and anonymous (a parser that runs
    before authentication is reached by anyone)."""
    label = label_of(operation)
    world = World()
    client = Client(raise_request_exception=False)
    failures = []
    case = _first_case(operation)
    for signed_in, (name, raw) in itertools.product((True, False), RAW_BODIES.items()):
        base = next(iter(BODIES.get(label, NO_BODY).values()))(world)
        request = grounded(operation, world, case, base)
        if not signed_in:
            kept = ("accept", "if-match")  # no credentials
            request.headers = {k: v for k, v in request.headers.items() if k.lower() in kept}
        request.body, request.content_type = raw, "application/json"
        answer = send(client, request, probe)
        where = f"raw body ({'signed in' if signed_in else 'anonymous'})"
        failures += [_failure(label, where, Raw(name), p) for p in problems(request.path, answer)]
        if 200 <= answer.status < 300 and (request.method == "DELETE" or label in ACCOUNT_CHANGES):
            world.reset()
    assert not failures, "\n".join(failures)


def _first_case(operation: Any) -> Any:
    cases: list[Any] = []

    @hypothesis_settings(HYPOTHESIS, max_examples=1)
    @given(case=operation.as_strategy())
    def first(case: Any) -> None:
        cases.append(case)

    first()
    return cases[0]


# --- headers every request carries -----------------------------------------------------------------

HEADER_ROUTES: list[tuple[str, str, list[str]]] = [
    ("GET", "/v1/users/me", ["X-Request-ID", "Authorization", "Accept", "Origin"]),
    ("POST", "/v1/notes", ["Content-Type"]),
    ("PATCH", "/v1/notes/{note}", ["If-Match", "If-Match (entity tag)", "If-Match (weak tag)"]),
    ("POST", "/v1/auth/token", ["User-Agent"]),
    ("GET", "/v1/sync/kosync/users/auth", ["Accept", "x-auth-user", "x-auth-key"]),
    ("GET", "/v1/sync/asyncapi", ["Accept"]),
    ("GET", "/admin/", ["Cookie (session)"]),
]
# How a header carries the hostile text, where a bare value would be refused before it is read.
HEADER_FORMS = {
    "Authorization": "Bearer {}",
    "If-Match (entity tag)": '"{}"',
    "If-Match (weak tag)": 'W/"{}"',
    "Cookie (session)": "sessionid={}; csrftoken={}",
}


@pytest.mark.parametrize(("method", "route", "headers"), HEADER_ROUTES, ids=[r[1] for r in HEADER_ROUTES])
def test_hostile_request_headers(method: str, route: str, headers: list[str], probe: Probe) -> None:
    """Headers every route reads through one middleware or authentication class (request id,
    bearer token, content negotiation, If-Match, the user agent a session records,
    KOReader's credentials), on representative routes."""
    world = World()
    client = Client(raise_request_exception=False)
    failures: list[str] = []

    @HYPOTHESIS
    @given(data=st.data())
    def sweep(data: st.DataObject) -> None:
        # Every member of every family: a header is one value read in one place.
        slots = [
            (name, family, i)
            for name in headers
            for family in STRING_FAMILIES
            for i in range(len(family.members))
        ]
        for name, family, index in slots:
            value = data.draw(family.at(index), label=f"{name} ({family.name})")
            header = as_header(HEADER_FORMS.get(name, "{}").replace("{}", as_text(value)))
            if header is None:
                continue
            body: Any = None
            if method != "GET":
                body = (
                    {"email": world.account.email, "password": PASSWORD}
                    if "token" in route
                    else {"title": "x"}
                )
            kosync_user, kosync_key = world.kosync() if route.startswith(KOSYNC_PREFIX) else ("", "")
            request = Request(
                method,
                route.replace("{note}", world.note),
                headers={
                    "Authorization": f"Bearer {world.account.access}",
                    "Accept": VND if route.startswith(KOSYNC_PREFIX) else "application/json",
                    "x-auth-user": kosync_user,
                    "x-auth-key": kosync_key,
                },
                body=encode_json(body) if body is not None else None,
            )
            if name == "Content-Type":
                request.content_type = header
            else:
                request.headers[name.split(" (")[0]] = header
            answer = send(client, request, probe)
            failures.extend(
                _failure(f"{method} {route}", f"header {name}", value, p)
                for p in problems(request.path, answer)
            )

    sweep()
    assert not failures, "\n".join(failures)


# --- the Django admin --------------------------------------------------------------------------------
# Its pages are HTML, so only invariant 1 applies: a hostile staff user or an attacker never
# gets a 500.


def _admin_changelists() -> list[str]:
    return sorted(
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model, model_admin in admin.site._registry.items()
        if model_admin.search_fields
    )


def _staff_client(world: World) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(id=world.account.id))
    return client


def _admin_sweep(
    client: Client, probe: Probe, where: list[str], request_for: Callable[[str, str], Request]
) -> list[str]:
    failures: list[str] = []

    @HYPOTHESIS
    @given(data=st.data())
    def sweep(data: st.DataObject) -> None:
        slots = itertools.product(where, STRING_FAMILIES, range(2))  # admin pages are slow
        for index, (name, family, _) in enumerate(slots):
            value = data.draw(family.at(index), label=f"{name} ({family.name})")
            request = request_for(name, as_text(value))
            answer = send(client, request, probe)
            if answer.status >= 500:
                failures.append(
                    _failure(f"{request.method} {request.path}", name, value, problems("", answer)[0])
                )

    sweep()
    return failures


@pytest.mark.parametrize("changelist", _admin_changelists())
def test_admin_changelist_search(changelist: str, probe: Probe) -> None:
    client = _staff_client(World())
    failures = _admin_sweep(
        client, probe, ["q"], lambda name, text: Request("GET", changelist, query={name: text})
    )
    assert not failures, "\n".join(failures)


def test_admin_user_paging_ordering_filter_and_object_id(probe: Probe) -> None:
    client = _staff_client(World())
    changelist = "/admin/identity/user/"

    def request_for(name: str, text: str) -> Request:
        if name == "object id":
            return Request("GET", f"{changelist}{url_quote(text)}/change/")
        return Request("GET", changelist, query={name: text})

    failures = _admin_sweep(client, probe, ["p", "o", "is_staff__exact", "object id"], request_for)
    assert not failures, "\n".join(failures)


def test_admin_login_form(probe: Probe) -> None:
    world = World()
    client = Client(enforce_csrf_checks=False, raise_request_exception=False)

    def request_for(name: str, text: str) -> Request:
        form = {"username": world.account.email, "password": PASSWORD, name: text}
        body = "&".join(f"{k}={url_quote(v)}" for k, v in form.items()).encode()
        return Request("POST", "/admin/login/", body=body, content_type="application/x-www-form-urlencoded")

    failures = _admin_sweep(client, probe, ["username", "password"], request_for)
    assert not failures, "\n".join(failures)


# --- the bases themselves --------------------------------------------------------------------------


def test_every_base_is_accepted_as_it_is(probe: Probe) -> None:
    """The sweep reaches deep code only if its unmutated requests are accepted: each base of
    BODIES answers 2xx (and a push applies every op of it)."""
    world = World()
    client = Client(raise_request_exception=False)
    refused = []
    for label, variants in BODIES.items():
        operation = next((op for op in OPERATIONS if label_of(op) == label), None)
        assert operation is not None, f"BODIES names {label}, which the schema does not have"
        case = _first_case(operation)
        for name, make_base in variants.items():
            base = make_base(world)
            answer = send(client, grounded(operation, world, case, base), probe)
            results = answer.body.get("results", []) if base.target and isinstance(answer.body, dict) else []
            if not 200 <= answer.status < 300 or any(r.get("status") != "applied" for r in results):
                refused.append(f"{label} {name}: {answer.status} {answer.text}")
            if operation.method.upper() == "DELETE" or label in ACCOUNT_CHANGES:
                world.reset()
    assert not refused, "\n".join(refused)


def test_every_json_operation_has_a_base() -> None:
    """A new operation with a JSON body gets a valid base in BODIES, or its sweep would mostly
    meet validation errors about the rest of its body."""
    missing = [
        label_of(op) for op in OPERATIONS if json_body_schema(op) is not None and label_of(op) not in BODIES
    ]
    assert not missing, f"add a valid body to BODIES for: {missing}"

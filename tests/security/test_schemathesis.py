"""schemathesis against /v1/schema: every operation, authenticated, with every check it has
(server errors, status codes, content types, headers, response schema conformance, negative data
rejection, positive data acceptance, ignored auth, undeclared methods, use after free, resource
availability).

Runs in-process through the WSGI application (the test database, the real Redis and S3),
derandomized so a run is reproducible. A check is switched off for an operation only in KNOWN
below, each with its reason (see docs/security.md); everything else must pass.

Stateful testing needs OpenAPI links; drf-spectacular emits none and schemathesis' link
inference found no usable transitions here, so the stateful phase is replaced by the explicit
matrix in test_access_matrix.py (use-after-free and another user's objects on every route).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import CHECKS

from exampleapp.wsgi import application
from tests.conftest import Account

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/v1/schema?format=json", application)
# The schema's description says strings carry no NUL (nor unpaired surrogates, which the default
# utf-8 codec never generates): PostgreSQL cannot store them, and a body with one anywhere is
# 400 `invalid_text` (tests/security/test_hostile_input.py covers that class).
schema.config.generation.update(allow_x00=False)

# (METHOD path, check name) -> why this check does not apply to this operation.
LENIENT_LIMIT = (
    "a malformed ?limit= falls back to the default page size (docs/api.md: limits are clamped, not refused)"
)
BUSINESS_400 = (
    "schema-valid but refused by a business rule the schema cannot express (references to objects "
    "that do not exist, password strength, semantic checks): 400 with field errors is the contract"
)
EMPTY_FILTER = "django-filter treats an empty filter value (?updated_since=) as no filter, like a form"
PER_OP = (
    "a malformed op is answered with its own `rejected` result inside a 200 (DESIGN: each op gets "
    "its own result, never a failed batch); the schema documents the op shape the server applies"
)
KOSYNC = (
    "KOReader's progress-sync protocol (specs/kosync): its own error shape and status codes "
    "(412 for a wrong Accept header before anything else), kept as KOReader's server has them"
)
LENGTH_REQUIRED = "an upload without a body is refused with 411 Length Required before it is read"
KNOWN: dict[tuple[str, str], str] = {
    **{
        (op, "positive_data_acceptance"): BUSINESS_400
        for op in (
            "POST /v1/auth/password/change",
            "POST /v1/auth/reauthenticate",
            "PATCH /v1/users/me",
            "POST /v1/auth/password/reset/confirm",
            "POST /v1/auth/register",
            "PUT /v1/files/{file_id}",
            "PUT /v1/files/{file_id}/viewer-state",
            "POST /v1/files/uploads",
            "PUT /v1/notes/{note_id}",
            "PATCH /v1/notes/{note_id}",
            "POST /v1/todos",
            "POST /v1/todos/bulk",
            "POST /v1/todos/lists",
            "GET /v1/sync/changes",
            "POST /v1/notes",
            "POST /v1/sync/push",
            "PATCH /v1/files/{file_id}",
            # ?due_before= / ?due_after=: a real calendar day, years 1000-9000 (a pattern cannot
            # say "no February 30th"; the schema says which forms, the 400 says what is wrong)
            "GET /v1/todos",
        )
    },
    ("POST /v1/files", "positive_data_acceptance"): (
        "the schema can only say `binary`: bytes that are not a PDF, EPUB or image are 415 by design"
    ),
    ("POST /v1/users/me/import", "positive_data_acceptance"): (
        "the schema can only say `binary`: bytes that are not an account archive are 422 "
        "`invalid_archive` by design"
    ),
    ("GET /v1/files", "negative_data_rejection"): EMPTY_FILTER,
    ("GET /v1/todos", "negative_data_rejection"): EMPTY_FILTER,
    ("GET /v1/todos/lists", "negative_data_rejection"): LENIENT_LIMIT,
    ("POST /v1/files", "negative_data_rejection"): LENGTH_REQUIRED,
    ("GET /v1/files/uploads", "negative_data_rejection"): LENIENT_LIMIT,
    ("GET /v1/users/me/sessions", "negative_data_rejection"): LENIENT_LIMIT,
    ("GET /v1/users/me/export", "negative_data_rejection"): LENIENT_LIMIT,
    ("GET /v1/users/me/import", "negative_data_rejection"): LENIENT_LIMIT,
    ("POST /v1/users/me/import", "negative_data_rejection"): LENGTH_REQUIRED,
    ("GET /v1/notes", "negative_data_rejection"): EMPTY_FILTER,
    ("POST /v1/sync/push", "negative_data_rejection"): PER_OP,
    ("GET /v1/sync/events", "not_a_server_error"): (
        "the live stream runs only under the events process's ASGI server; this in-process WSGI "
        "client gets the documented 503 `events_unavailable` (the stream itself: "
        "tests/sync/test_events_stack.py)"
    ),
    **{
        (op, check): KOSYNC
        for op in (
            "GET /v1/sync/kosync/healthcheck",
            "PUT /v1/sync/kosync/syncs/progress",
            "GET /v1/sync/kosync/syncs/progress/{document}",
            "GET /v1/sync/kosync/users/auth",
            "POST /v1/sync/kosync/users/create",
        )
        for check in (
            "status_code_conformance",
            "unsupported_method",
            "content_type_conformance",
            "positive_data_acceptance",
            # a missing or wrong Accept (a required header here) is KOReader's 412, not a 400
            "negative_data_rejection",
            "missing_required_header",
        )
    },
}


def _checks_for(label: str) -> list[Any]:
    """Every check schemathesis has, less the ones KNOWN switches off for this operation."""
    off = {name for (operation, name) in KNOWN if operation == label}
    return [check for check in CHECKS.get_all() if check.__name__ not in off]


@schema.parametrize()
@hypothesis_settings(
    max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)
def test_api_conforms_to_its_schema(case: Any, account: Account, in_process_requests: None) -> None:
    label = f"{case.operation.method.upper()} {case.operation.path}"
    case.call_and_validate(headers={"Authorization": f"Bearer {account.access}"}, checks=_checks_for(label))

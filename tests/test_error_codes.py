"""One list of error codes (apps/common/errors.ErrorCode), and code, schema and docs in step:
every code is in docs/api.md's table and in the schema's Problem.code, the table names no code
that does not exist, and every ApplicationError subclass declares one of them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from apps.common import errors
from apps.common.errors import ApplicationError, ErrorCode
from apps.common.schema import PROBLEM_EXTRAS

ROOT = Path(__file__).resolve().parent.parent


def _documented() -> set[str]:
    text = (ROOT / "docs" / "api.md").read_text()
    table = text[text.index("| status | code | when |") :].split("\n\n", 1)[0]
    return set(re.findall(r"^\| [^|]+ \| `([a-z_]+)` \|", table, re.M))


def test_docs_list_exactly_the_codes() -> None:
    assert _documented() == {code.value for code in ErrorCode}


def test_the_schema_types_every_code_and_member(api: Any) -> None:
    """Issue 14: `code` is one named enum of every code, and the members an error may carry
    beside RFC 9457's are typed properties of the problem schema."""
    schemas = api.get("/v1/schema", {"format": "json"}).json()["components"]["schemas"]
    assert schemas["ErrorCodeEnum"]["enum"] == [code.value for code in ErrorCode]
    assert schemas["Problem"]["properties"]["code"]["allOf"] == [
        {"$ref": "#/components/schemas/ErrorCodeEnum"}
    ]
    extras = set(_extra_keys())
    assert extras, "the scan found no `extra=` in apps/"
    assert extras <= set(schemas["Problem"]["properties"]), extras - set(schemas["Problem"]["properties"])
    # ... and none is documented that is never sent
    assert set(PROBLEM_EXTRAS) == extras, set(PROBLEM_EXTRAS) - extras


def _extra_keys() -> list[str]:
    """Every key of an `extra={...}` an error is raised with in apps/."""
    keys = []
    for path in (ROOT / "apps").rglob("*.py"):
        for block in re.findall(r"extra=\{([^}]*)\}", path.read_text()):
            keys += re.findall(r'"([a-z_]+)":', block)
    return keys


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


@pytest.mark.django_db
def test_every_error_class_declares_a_known_code() -> None:
    import django.apps

    assert django.apps.apps.ready  # every app's modules (and their error classes) are loaded
    for cls in [ApplicationError, *_subclasses(ApplicationError)]:
        assert isinstance(cls.code, ErrorCode), cls


def test_no_code_is_written_as_a_bare_string() -> None:
    """`code="..."` strings in apps/ bypass the list (forms' and serializers' own validation codes,
    `code="invalid"`, are theirs, not ours)."""
    offenders = []
    for path in (ROOT / "apps").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r'\bcode\s*=\s*"(?!invalid")[a-z_]+"', line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders
    assert errors.problem_body(status=400, code=ErrorCode.BAD_REQUEST, detail="x")["code"] == "bad_request"

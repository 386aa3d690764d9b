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

ROOT = Path(__file__).resolve().parent.parent


def _documented() -> set[str]:
    text = (ROOT / "docs" / "api.md").read_text()
    table = text[text.index("| status | code | when |") :].split("\n\n", 1)[0]
    return set(re.findall(r"^\| [^|]+ \| `([a-z_]+)` \|", table, re.M))


def test_docs_list_exactly_the_codes() -> None:
    assert _documented() == {code.value for code in ErrorCode}


def test_the_schema_names_every_code(api: Any) -> None:
    schema = api.get("/v1/schema", {"format": "json"}).json()
    description = schema["components"]["schemas"]["Problem"]["properties"]["code"]["description"]
    missing = [code.value for code in ErrorCode if f"`{code.value}`" not in description]
    assert not missing


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

"""Every request example in the schema works as it is (issue 14: Swagger UI's example of
`POST /v1/todos` was refused). The examples are sent in the order a person trying them out in
Swagger UI would: an account, a sign-in, then creates that refer to each other's ids."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from scripts.services.samples import pdf_bytes

pytestmark = pytest.mark.django_db(transaction=True)  # the examples' client-chosen ids persist

# (method, path) in the order they are tried; an operation with examples not listed here fails
# the test, so a new example is never left untried.
ORDER = [
    ("post", "/v1/auth/register"),
    ("post", "/v1/auth/token"),
    ("post", "/v1/todos/lists"),
    ("post", "/v1/todos"),
    ("post", "/v1/notes"),
    ("post", "/v1/sync/push"),
    ("put", "/v1/files/{file_id}/viewer-state"),
]


def _examples(schema: dict[str, Any]) -> dict[tuple[str, str], list[Any]]:
    found: dict[tuple[str, str], list[Any]] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                values = [example["value"] for example in media.get("examples", {}).values()]
                if "example" in media:
                    values.append(media["example"])
                if values:
                    found.setdefault((method, path), []).extend(values)
    return found


def test_every_request_example_is_accepted() -> None:
    client = APIClient()
    examples = _examples(client.get("/v1/schema", {"format": "json"}).json())
    assert set(examples) == set(ORDER), set(examples) ^ set(ORDER)
    path_ids: dict[str, str] = {}
    for method, path in ORDER:
        if "{file_id}" in path and "file_id" not in path_ids:
            upload = client.post("/v1/files", {"file": _pdf()}, format="multipart")
            assert upload.status_code == 201, upload.content
            path_ids["file_id"] = upload.json()["id"]
        for body in examples[(method, path)]:
            answer = getattr(client, method)(path.format(**path_ids), body, format="json")
            assert 200 <= answer.status_code < 300, (method, path, answer.status_code, answer.content)
            if path == "/v1/auth/token":
                client.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['access']}")
            if path == "/v1/sync/push":
                assert {result["status"] for result in answer.json()["results"]} == {"applied"}


def _pdf() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("example.pdf", pdf_bytes(pages=3), content_type="application/pdf")

"""Library objects after a point-in-time restore of the database (docs/operations.md, "Library
objects"): `restore_file_objects` brings back, from a versioned bucket, the object of every file
the database holds as live whose object was deleted since. Against the test stack's SeaweedFS,
in a bucket of each test's own with versioning on.

The restore itself is the PITR drill's (tests/drills); here the restored row is made by hand:
the file is deleted through the API (row tombstoned, object deleted after commit), then its
tombstone is lifted as a restore to a time before the delete would."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.library import storage
from apps.library.models import File
from tests.conftest import Account

from . import factories
from .conftest import http, object_size

pytestmark = pytest.mark.django_db


def _bucket(settings: Any, *, versioned: bool) -> Iterator[str]:
    name = f"restore-{uuid.uuid4().hex[:12]}"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "bucket_name": name},
        },
    }
    client = storage.s3().client
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    # Leave the shared S3 server as found: every version and marker, then the bucket.
    listing = client.list_object_versions(Bucket=name)
    for entry in [*listing.get("Versions", ()), *listing.get("DeleteMarkers", ())]:
        client.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"])
    for entry in client.list_objects_v2(Bucket=name).get("Contents", ()):
        client.delete_object(Bucket=name, Key=entry["Key"])
    client.delete_bucket(Bucket=name)


@pytest.fixture
def versioned_bucket(settings: Any) -> Iterator[str]:
    yield from _bucket(settings, versioned=True)


@pytest.fixture
def plain_bucket(settings: Any) -> Iterator[str]:
    yield from _bucket(settings, versioned=False)


def _deleted_then_restored_row(
    account: Account, uploaded: Callable[..., dict[str, Any]], capture: Any, data: bytes
) -> dict[str, Any]:
    file = uploaded(data)
    with capture(execute=True):
        assert account.client.delete(f"/v1/files/{file['id']}").status_code == 204
    assert object_size(file["id"]) is None
    # What the database restored to a time before the delete holds: the row, live.
    File.objects.filter(id=file["id"]).update(deleted_at=None)
    return file


def _restore(**options: Any) -> str:
    out = StringIO()
    call_command("restore_file_objects", stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def test_a_deleted_files_object_comes_back_byte_for_byte(
    versioned_bucket: str,
    account: Account,
    other_account: Account,
    uploaded: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    data = factories.pdf_bytes(title="restored")
    file = _deleted_then_restored_row(account, uploaded, django_capture_on_commit_callbacks, data)
    kept = uploaded(factories.pdf_bytes(title="kept"))
    theirs = _deleted_then_restored_row(
        other_account,
        lambda data: uploaded(data, client=other_account.client),
        django_capture_on_commit_callbacks,
        factories.pdf_bytes(title="theirs"),
    )

    report = _restore(user=uuid.UUID(account.id))

    assert "files checked: 2, objects restored: 1, missing (no version left): 0" in report
    response = account.client.get(f"/v1/files/{file['id']}/content")
    assert response.status_code == 302
    status, _, body = http("GET", response["Location"])
    assert (status, body) == (200, data)
    # The object that was never deleted is untouched: one version, no marker.
    versions = storage.s3().client.list_object_versions(
        Bucket=versioned_bucket, Prefix=File.objects.get(id=kept["id"]).storage_key
    )
    assert len(versions.get("Versions", [])) == 1
    assert not versions.get("DeleteMarkers")
    # --user is that user only; without it, everyone: the other user's object comes back, and
    # what is there is not touched again.
    assert object_size(theirs["id"]) is None
    assert "files checked: 3, objects restored: 1, missing (no version left): 0" in _restore()
    assert object_size(theirs["id"]) == theirs["size"]
    assert "objects restored: 0, missing (no version left): 0" in _restore()


def test_without_versions_the_missing_objects_are_named_and_the_command_fails(
    plain_bucket: str,
    account: Account,
    uploaded: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    file = _deleted_then_restored_row(
        account, uploaded, django_capture_on_commit_callbacks, factories.pdf_bytes(title="gone")
    )
    errors = StringIO()
    with pytest.raises(CommandError, match="1 objects could not be restored"):
        call_command("restore_file_objects", stdout=StringIO(), stderr=errors)
    assert File.objects.get(id=file["id"]).storage_key in errors.getvalue()


def test_local_storage_has_no_versions(local_storage: Any) -> None:
    with pytest.raises(CommandError, match="only in S3"):
        _restore()

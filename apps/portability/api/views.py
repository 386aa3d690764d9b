"""Export and import endpoints under /v1/users/me: thin views over services, selectors and the
upload handler. Every lookup is scoped to the caller (another user's export or import is 404);
object storage being down is 503 `storage_unavailable`, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import Conflict
from apps.common.schema import PROBLEM_RESPONSES
from apps.common.views import owner_id
from apps.library import downloads, storage
from apps.library.errors import StorageUnavailable

from .. import importer, selectors, services, uploads, worker
from ..models import Job
from . import serializers as s

_problem = PROBLEM_RESPONSES[400]
_LOCATION = OpenApiParameter(
    "Location", str, OpenApiParameter.HEADER, response=[202], description="The path of the new job."
)


class StorageOutageMixin:
    """Storage outages become 503 storage_unavailable (with Retry-After) instead of a 500."""

    def handle_exception(self, exc: Exception) -> Response:
        if storage.is_outage(exc):
            exc = StorageUnavailable("File storage is unavailable for a moment; retry.")
        return super().handle_exception(exc)  # type: ignore[misc]


def _export_data(request: Request, jobs: list[Job], *, many: bool) -> Any:
    urls = {job.id: _download_url(request, job) for job in jobs if job.status == Job.Status.DONE}
    serializer = s.ExportOutput(jobs if many else jobs[0], many=many, context={"download_urls": urls})
    return serializer.data


def _download_url(request: Request, job: Job) -> str:
    if storage.is_s3():
        return selectors.presigned_download(job)
    return request.build_absolute_uri(reverse("users-me-export-content", kwargs={"export_id": job.id}))


class ExportListCreateView(StorageOutageMixin, generics.ListAPIView):
    serializer_class = s.ExportOutput
    cursor_ordering = ("-created_at", "-id")

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        return selectors.job_list(owner_id=owner_id(self.request), kind=Job.Kind.EXPORT)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        jobs = list(args[0]) if args else []
        urls = {job.id: _download_url(self.request, job) for job in jobs if job.status == Job.Status.DONE}
        kwargs.setdefault("context", {})["download_urls"] = urls
        return super().get_serializer(*args, **kwargs)

    @extend_schema(summary="Your account exports, newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={202: s.ExportOutput, **PROBLEM_RESPONSES},
        parameters=[_LOCATION],
        summary="Export everything this account holds (one archive; poll the export for its link)",
        description="Queues an export: task lists, tasks, notes with their revisions, library "
        "files (the bytes and their metadata), viewer states and KOReader records, as one zip "
        "readable without this product (JSON Lines, the original files, Markdown copies of the "
        "notes; docs/export.md). GET the export until `status` is `done`, then download "
        "`download_url`. One export or import at a time per account (409 `job_in_progress`), "
        "EXPORTS_PER_DAY a day (429).",
    )
    def post(self, request: Request) -> Response:
        job = services.export_start(owner_id=owner_id(request))
        worker.queued()
        return Response(
            _export_data(request, [job], many=False),
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("users-me-export-detail", kwargs={"export_id": job.id})},
        )


class ExportDetailView(StorageOutageMixin, APIView):
    @extend_schema(
        responses={200: s.ExportOutput, **PROBLEM_RESPONSES},
        summary="One export: its status and, once done, its download link",
    )
    def get(self, request: Request, export_id: uuid.UUID) -> Response:
        job = selectors.job_get(owner_id=owner_id(request), kind=Job.Kind.EXPORT, job_id=export_id)
        return Response(_export_data(request, [job], many=False))


class ExportContentView(StorageOutageMixin, APIView):
    @extend_schema(
        summary="Download a finished export (always as an attachment)",
        description="On S3: 302 to a short-lived presigned URL (the same as `download_url`). On local "
        "storage: the zip (`Content-Type: application/zip`; declared here as octet-stream, which "
        "generated clients read as bytes), with single-range `Range` support. 409 `conflict` until "
        "the export is done or once it expired.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The archive."
            ),
            (206, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="A byte range."
            ),
            302: OpenApiResponse(description="Redirect to a presigned download URL (Location)."),
            416: OpenApiResponse(description="Range not satisfiable."),
            **PROBLEM_RESPONSES,
        },
    )
    def get(self, request: Request, export_id: uuid.UUID) -> HttpResponseBase:
        job = selectors.job_get(owner_id=owner_id(request), kind=Job.Kind.EXPORT, job_id=export_id)
        if job.status != Job.Status.DONE or job.archive_size is None:
            raise Conflict(f"This export is {job.status}: there is nothing to download.")
        response: HttpResponseBase
        if storage.is_s3():
            response = HttpResponseRedirect(selectors.presigned_download(job))
            response["Cache-Control"] = "private, no-store"
        else:
            response = downloads.local_file_response(
                request,
                key=job.archive_key,
                size=job.archive_size,
                content_type="application/zip",
                filename=selectors.download_name(job),
                etag=f'"{job.id}"',
            )
            response["Cache-Control"] = "private"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ImportListCreateView(StorageOutageMixin, generics.ListAPIView):
    serializer_class = s.ImportOutput
    cursor_ordering = ("-created_at", "-id")
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        return selectors.job_list(owner_id=owner_id(self.request), kind=Job.Kind.IMPORT)

    @extend_schema(summary="Your imports, newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": s.ImportInput},
        responses={202: s.ImportOutput, 411: _problem, 413: _problem, 422: _problem, **PROBLEM_RESPONSES},
        parameters=[_LOCATION],
        summary="Restore an export into this account (which must hold nothing yet)",
        description="Field `archive`: a zip made by POST /v1/users/me/export. It is streamed to "
        "storage and its structure and manifest are checked at once (422 `invalid_archive` with a "
        "`reason`: a zip bomb, a path outside the archive, another format version, ...); the "
        "records and files are then checked and written in the background, all or nothing: GET the "
        "import until `status` is `done` or `failed` (then `error` is the problem). Every object "
        "gets a new id. 409 `import_target_not_empty` when the account already holds data; a "
        "declared Content-Length over IMPORT_MAX_BYTES is refused (413) before the body is read.",
    )
    def post(self, request: Request) -> Response:
        owner = owner_id(request)
        services.job_check_can_start(owner_id=owner, kind=Job.Kind.IMPORT)
        services.import_check_target(owner_id=owner)
        job_id = uuid.uuid4()
        key = services.archive_key(kind=Job.Kind.IMPORT, owner_id=owner, job_id=job_id)
        uploads.prepare_upload(request, key=key)
        try:
            data = s.ImportInput(data=request.data)
            data.is_valid(raise_exception=True)
            archive = data.validated_data["archive"]
            importer.check_upload(key, size=archive.size)
            job = services.job_create(owner_id=owner, kind=Job.Kind.IMPORT, job_id=job_id, size=archive.size)
        except BaseException:
            storage.delete_quietly([key])
            raise
        worker.queued()
        return Response(
            s.ImportOutput(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("users-me-import-detail", kwargs={"import_id": job.id})},
        )


class ImportDetailView(APIView):
    @extend_schema(
        responses={200: s.ImportOutput, **PROBLEM_RESPONSES},
        summary="One import: its status, what it restored, or why it failed",
    )
    def get(self, request: Request, import_id: uuid.UUID) -> Response:
        job = selectors.job_get(owner_id=owner_id(request), kind=Job.Kind.IMPORT, job_id=import_id)
        return Response(s.ImportOutput(job).data)

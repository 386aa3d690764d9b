"""Library endpoints: thin views over services.py and selectors.py.

Every lookup is scoped to the caller, so another user's file, upload or viewer state is 404 on
every route and verb. Object storage being down is a 503 problem with Retry-After on every
route that needs it (StorageOutageMixin): never a 500.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpResponse, HttpResponseNotModified, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common import quota
from apps.common.schema import PROBLEM_RESPONSES
from apps.common.versioning import ETagMixin, expected_version
from apps.common.views import AnyAccept, VersionedDetailView, created_response, owner_id

from .. import covers, downloads, selectors, services, storage, streaming, uploads
from ..errors import StorageUnavailable
from ..filtersets import DEFAULT_ORDERING, ORDERINGS, FileFilter
from ..models import File, Upload
from ..naming import download_name
from ..viewer import selectors as viewer_selectors
from ..viewer import services as viewer_services
from . import serializers as s

_problem = PROBLEM_RESPONSES[400]
UPLOAD_ERRORS = {**PROBLEM_RESPONSES, 411: _problem, 413: _problem, 415: _problem, 503: _problem}
DIRECT_ERRORS = {
    **PROBLEM_RESPONSES,
    **{status: _problem for status in (413, 415, 422, 501, 503)},
}


class StorageOutageMixin:
    """Storage outages become 503 storage_unavailable (with Retry-After) instead of a 500."""

    def handle_exception(self, exc: Exception) -> Response:
        if storage.is_outage(exc):
            exc = StorageUnavailable("File storage is unavailable for a moment; nothing was stored. Retry.")
        return super().handle_exception(exc)  # type: ignore[misc]


def _file_data(file: File) -> dict[str, Any]:
    return dict(s.FileOutput(file).data)


def _created(owner_id: uuid.UUID, result: services.FileResult) -> Response:
    file = selectors.file_get(owner_id=owner_id, file_id=result.file.id)
    return created_response(_file_data(file), created=result.created, route="files-detail", file_id=file.id)


class FileListCreateView(StorageOutageMixin, ETagMixin, generics.ListAPIView):
    serializer_class = s.FileOutput
    filterset_class = FileFilter
    parser_classes = [MultiPartParser]

    @property
    def cursor_ordering(self) -> tuple[str, ...]:
        return ORDERINGS.get(self.request.query_params.get("ordering") or "", ORDERINGS[DEFAULT_ORDERING])

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return File.objects.none()
        return selectors.file_list(owner_id=owner_id(self.request))

    @extend_schema(summary="List files (filters; ?ordering=-last_opened for continue reading)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a file (multipart, streamed)",
        description="Field `file`. The type is decided from the bytes. 201 for a new file; 200 with "
        "your existing file when you already have these bytes (or repeat a client-chosen id). "
        "A declared Content-Length over the size cap or your remaining quota is refused (413) "
        "before the body is read.",
        request={"multipart/form-data": s.FileUploadInput},
        responses={
            201: s.FileOutput,
            200: OpenApiResponse(s.FileOutput, description="You already have this file."),
            **UPLOAD_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        owner = owner_id(request)
        streaming.prepare_upload(request, used_bytes=quota.used(user_id=owner))
        data = s.FileUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        result = services.file_upload(
            owner_id=owner,
            content=upload,
            sha256=getattr(upload, "sha256", ""),
            name=data.validated_data.get("name") or upload.name,
            file_id=data.validated_data.get("id"),
        )
        return _created(owner, result)


class FileDetailView(StorageOutageMixin, VersionedDetailView):
    input_serializer = s.FileUpdateInput
    output_serializer = s.FileOutput
    lookup_url_kwarg = "file_id"
    noun = "file"
    summaries = {
        "PUT": "Replace a file's editable metadata (name, tags)",
        "PATCH": "Rename or retag a file",
        "DELETE": "Delete a file (its bytes are removed; a tombstone remains for sync)",
    }

    selector = selectors.file_get
    deleter = services.file_delete

    def update(
        self, *, owner: uuid.UUID, obj_id: uuid.UUID, fields: dict[str, Any], expected_version: int | None
    ) -> Any:
        # Read again after the write: the answer carries what file_get annotates (last opened).
        services.file_update(owner_id=owner, file_id=obj_id, fields=fields, expected_version=expected_version)
        return self.retrieve(owner=owner, obj_id=obj_id)


class FileContentView(StorageOutageMixin, APIView):
    @extend_schema(
        summary="Download a file's bytes (always as an attachment)",
        description="On S3: 302 to a short-lived presigned URL that answers with "
        "Content-Disposition: attachment, the file's type and Cache-Control: private (no shared "
        "cache may keep it). On local storage: the bytes, with "
        "single-range `Range` support (206/416). Both carry `X-Content-Type-Options: nosniff`.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The bytes."),
            (206, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="A byte range."
            ),
            302: OpenApiResponse(description="Redirect to a presigned download URL (Location)."),
            416: OpenApiResponse(description="Range not satisfiable."),
            **PROBLEM_RESPONSES,
        },
    )
    def get(self, request: Request, file_id: uuid.UUID) -> HttpResponseBase:
        file = selectors.file_get(owner_id=owner_id(request), file_id=file_id)
        filename = download_name(file.name, file.content_type)
        response: HttpResponseBase
        if storage.is_s3():
            url = storage.download_url(file.storage_key, filename=filename, content_type=file.content_type)
            response = HttpResponseRedirect(url)
            response["Cache-Control"] = "private, no-store"
        else:
            response = downloads.local_file_response(
                request,
                key=file.storage_key,
                size=file.size,
                content_type=file.content_type,
                filename=filename,
                etag=f'"{file.sha256}"',
            )
            response["Cache-Control"] = "private"
        response["X-Content-Type-Options"] = "nosniff"
        return response


def _cover_headers(response: HttpResponseBase, etag: str) -> HttpResponseBase:
    response["ETag"] = etag
    response["Cache-Control"] = covers.CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    return response


_COVER_HEADERS = [
    OpenApiParameter(
        "ETag",
        str,
        OpenApiParameter.HEADER,
        response=[200, 304],
        required=True,
        description="The cover's tag (it never changes for a file): send it back as If-None-Match.",
    ),
    OpenApiParameter(
        "Cache-Control",
        str,
        OpenApiParameter.HEADER,
        response=[200, 304],
        required=True,
        description=f"`{covers.CACHE_CONTROL}`: the browser may keep it, no shared cache may.",
    ),
]


class FileCoverView(StorageOutageMixin, APIView):
    # Clients ask for images (`Accept: image/*`); DRF's negotiation knows only JSON renderers
    # and would answer 406 before the view runs. Errors are still problem+json.
    content_negotiation_class = AnyAccept

    @extend_schema(
        summary="A file's cover: a small WebP (at most 320x480) to show in a library grid",
        description="An image file's own picture (a GIF's first frame), an EPUB's cover image, or "
        "a PDF's first page, fitted inside 320x480 with its aspect kept. Drawn on the first "
        "request and stored; the same bytes for as long as the file exists. 404 `no_cover` when "
        "the file has none (an EPUB without a cover image, a PDF that does not render, an image "
        "too large to shrink): show a placeholder. Send the ETag back as If-None-Match for a 304.",
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                str,
                OpenApiParameter.HEADER,
                description="The ETag of the cover you have: 304 when it is this file's cover.",
            ),
            *_COVER_HEADERS,
        ],
        responses={
            (200, covers.CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="The cover."),
            304: OpenApiResponse(description="Your copy (If-None-Match) is this file's cover."),
            **PROBLEM_RESPONSES,
        },
    )
    def get(self, request: Request, file_id: uuid.UUID) -> HttpResponseBase:
        file = selectors.file_get(owner_id=owner_id(request), file_id=file_id)
        etag = covers.cover_etag(file)
        # Weak comparison, as RFC 9110 asks of If-None-Match; `*` is not taken as a match (a file
        # may have no cover, and a 304 must not claim one).
        presented = {tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))}
        if etag in presented:
            return _cover_headers(HttpResponseNotModified(), etag)
        data = covers.cover_get(file=file)
        return _cover_headers(HttpResponse(data, content_type=covers.CONTENT_TYPE), etag)


class ViewerStateView(ETagMixin, APIView):
    conditional_methods = frozenset({"PUT"})

    @extend_schema(
        responses={200: s.ViewerStateOutput, **PROBLEM_RESPONSES},
        summary="Where the user is in the file: current position, each device's, recent history",
    )
    def get(self, request: Request, file_id: uuid.UUID) -> Response:
        document = viewer_selectors.viewer_state_get(owner_id=owner_id(request), file_id=file_id)
        return Response(s.ViewerStateOutput(document).data)

    @extend_schema(
        request=s.ViewerStateInput,
        responses={200: s.ViewerStatePutOutput, **PROBLEM_RESPONSES},
        summary="Report a position (409 when older than the stored one; regression guard)",
        examples=[
            OpenApiExample(
                "Page 3 of a PDF, read on a tablet",
                request_only=True,
                value={
                    "device": {"id": "tablet-7f3a", "name": "Tablet"},
                    "modified": "2026-12-03T08:15:00Z",
                    "intent": "advance",
                    "pdf": {"page": 3, "zoom": 1.25},
                },
            )
        ],
        description="A write whose `modified` is older than the stored one is refused with 409 "
        "`stale_viewer_state` (the problem's `current` holds the stored state). Moving backwards "
        "without `intent: jump` is kept as this device's position only: `applied: false, "
        'reason: "regression"`.',
    )
    def put(self, request: Request, file_id: uuid.UUID) -> Response:
        data = s.ViewerStateInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = viewer_services.viewer_state_put_body(
            owner_id=owner_id(request),
            file_id=file_id,
            body=data.validated_data,
            expected_version=expected_version(request),
        )
        body = {**result.document, "applied": result.applied, "reason": result.reason}
        return Response(s.ViewerStatePutOutput(body).data)


def _upload_data(progress: selectors.UploadProgress) -> dict[str, Any]:
    upload = progress.upload
    file = None
    if upload.status == Upload.Status.COMPLETED and upload.file_id is not None:
        live = selectors.file_list(owner_id=upload.owner_id).filter(id=upload.file_id).first()
        file = _file_data(live) if live is not None else None
    return {
        **s.UploadOutput(upload).data,
        "parts": [{"number": p.number, "size": p.size, "etag": p.etag} for p in progress.parts],
        "missing_parts": progress.missing,
        "part_urls": progress.part_urls,
        "urls_expire_at": progress.urls_expire_at,
        "file": file,
    }


class UploadListCreateView(StorageOutageMixin, generics.ListAPIView):
    serializer_class = s.UploadOutput
    cursor_ordering = ("-created_at", "-id")

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Upload.objects.none()
        return selectors.upload_list(owner_id=owner_id(self.request))

    @extend_schema(summary="Direct uploads in progress (GET one for its parts and part URLs)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.UploadInitiateInput,
        responses={
            201: OpenApiResponse(s.UploadInitiateOutput, description="status=created: PUT the parts."),
            200: OpenApiResponse(s.UploadInitiateOutput, description="status=exists: you have it."),
            **DIRECT_ERRORS,
        },
        summary="Start a direct upload to S3 (or learn you already have the file)",
        description="The server picks the part size; `upload.part_urls` are presigned PUT URLs "
        "(valid at most 15 minutes; GET the upload for fresh ones). Answers 501 when the "
        "server stores files locally.",
    )
    def post(self, request: Request) -> Response:
        owner = owner_id(request)
        data = s.UploadInitiateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        started = uploads.upload_initiate(
            owner_id=owner,
            name=values["name"],
            size=values["size"],
            sha256=values["sha256"],
            content_type=values["content_type"],
            file_id=values.get("id"),
        )
        if started.file is not None:
            file = selectors.file_get(owner_id=owner, file_id=started.file.id)
            return created_response(
                {"status": "exists", "file": _file_data(file), "upload": None},
                created=False,
                route="files-detail",
                file_id=file.id,
            )
        assert started.upload is not None
        progress = selectors.upload_progress(upload=started.upload, list_uploaded=False)
        return created_response(
            {"status": "created", "file": None, "upload": _upload_data(progress)},
            created=True,
            route="files-upload-detail",
            upload_id=started.upload.id,
        )


class UploadDetailView(StorageOutageMixin, APIView):
    @extend_schema(
        responses={200: s.UploadOutput, **DIRECT_ERRORS},
        summary="A direct upload: parts S3 has, fresh URLs for the missing ones (resume)",
    )
    def get(self, request: Request, upload_id: uuid.UUID) -> Response:
        upload = selectors.upload_get(owner_id=owner_id(request), upload_id=upload_id)
        return Response(_upload_data(selectors.upload_progress(upload=upload)))

    @extend_schema(responses={204: None, **DIRECT_ERRORS}, summary="Abort a direct upload")
    def delete(self, request: Request, upload_id: uuid.UUID) -> Response:
        uploads.upload_abort(owner_id=owner_id(request), upload_id=upload_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadCompleteView(StorageOutageMixin, ETagMixin, APIView):
    @extend_schema(
        request=None,
        responses={
            201: s.FileOutput,
            200: OpenApiResponse(s.FileOutput, description="Already completed, or you had these bytes."),
            **DIRECT_ERRORS,
        },
        summary="Finish a direct upload: verify size, type and SHA-256, create the file",
        description="409 `upload_incomplete` lists `missing_parts` / `wrong_size_parts`: upload "
        "them and complete again. 422 `size_mismatch` / `checksum_mismatch` and 415 end the "
        "upload (its object is deleted).",
    )
    def post(self, request: Request, upload_id: uuid.UUID) -> Response:
        owner = owner_id(request)
        return _created(owner, uploads.upload_complete(owner_id=owner, upload_id=upload_id))

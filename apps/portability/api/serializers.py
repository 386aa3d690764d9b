"""Output serializers of exports and imports (their requests carry no JSON: an export needs no
body, an import is the archive itself)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common.schema import Problem

from ..models import Job

ProblemSerializer = type(Problem)


class _JobOutput(serializers.ModelSerializer):
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Records in the archive by kind (files, viewer_states, kosync_progress, notes, "
        "note_revisions, task_lists, tasks, task_completions), once done.",
    )
    size = serializers.IntegerField(
        source="archive_size", read_only=True, allow_null=True, help_text="Bytes of the archive."
    )
    error = ProblemSerializer(
        read_only=True,
        allow_null=True,
        help_text="When failed: the problem, as an API error would answer it (`code`, `detail`, "
        "`errors` naming entry and line, `reason`).",
    )


class ExportOutput(_JobOutput):
    download_url = serializers.SerializerMethodField(
        help_text="When done: where to download the archive. On S3 a presigned URL that works "
        "without a token for S3_URL_EXPIRE_SECONDS (ask again for a fresh one); on local storage "
        "this API's …/content route (send the bearer token)."
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "expires_at",
            "size",
            "counts",
            "download_url",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_download_url(self, job: Job) -> str | None:
        urls: dict[Any, str] = self.context.get("download_urls", {})
        return urls.get(job.id)


class ImportOutput(_JobOutput):
    class Meta:
        model = Job
        fields = ["id", "status", "created_at", "started_at", "finished_at", "size", "counts", "error"]
        read_only_fields = fields


class ImportInput(serializers.Serializer):
    archive = serializers.FileField(
        help_text="An account archive made by POST /v1/users/me/export (a zip, format version 1)."
    )

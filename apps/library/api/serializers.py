"""Input serializers only validate; output serializers only shape responses (and the schema)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common.fields import StrictBooleanField, StrictCharField, StrictUUIDField
from apps.common.tags import TagsField

from ..models import File, FileKind, Intent, Upload
from ..naming import is_blank
from ..viewer.validation import IMAGE_SCHEMA, PDF_SCHEMA, locator_openapi

NAME_INPUT_MAX = 1000  # longer names are cut to 255 by sanitising; absurd ones are refused


# --- files -----------------------------------------------------------------------------------


@extend_schema_field({"type": "object", "additionalProperties": True})
class MetadataField(serializers.JSONField):
    pass


class FileOutput(serializers.ModelSerializer):
    metadata = MetadataField(
        read_only=True,
        help_text="PDF: page_count, title, author, pdf_version, encrypted. EPUB: title, authors, "
        "language, identifier, epub_version, cover, toc [{title, href, children}] (at most 48 KiB "
        "of titles and links; `toc_truncated: true` when cut short), spine. Image: width, height, "
        "format, animated. On failure: {error}.",
    )
    tags = serializers.ListField(child=StrictCharField(), read_only=True)
    last_opened = serializers.DateTimeField(
        read_only=True, allow_null=True, default=None, help_text="Last viewer-state write, if any."
    )
    progress = serializers.FloatField(
        read_only=True, allow_null=True, default=None, help_text="0..1 through the file (viewer state)."
    )

    class Meta:
        model = File
        fields = [
            "id",
            "name",
            "kind",
            "content_type",
            "size",
            "sha256",
            "koreader_hash",
            "metadata",
            "status",
            "tags",
            "last_opened",
            "progress",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FileUploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="The file (PDF, EPUB, PNG, JPEG, WebP or GIF).")
    id = StrictUUIDField(required=False, help_text="Client-chosen id for the new file.")
    name = StrictCharField(
        required=False, max_length=NAME_INPUT_MAX, help_text="Display name; defaults to the part's filename."
    )


class FileUpdateInput(serializers.Serializer):
    """PATCH changes the fields given; PUT needs a name and replaces the tags (none when absent)."""

    name = StrictCharField(max_length=NAME_INPUT_MAX)
    tags = TagsField(default=list)

    def validate_name(self, value: str) -> str:
        if is_blank(value):
            raise serializers.ValidationError("The name has no printable characters.")
        return value


# --- direct uploads --------------------------------------------------------------------------


class UploadInitiateInput(serializers.Serializer):
    id = StrictUUIDField(required=False, help_text="Client-chosen id for the file to be.")
    name = StrictCharField(max_length=NAME_INPUT_MAX)
    size = serializers.IntegerField(min_value=1)
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", help_text="Hex SHA-256 of the whole file.")
    content_type = StrictCharField(
        max_length=100, required=False, help_text="Declared type; the bytes decide in the end."
    )
    type = StrictCharField(max_length=100, required=False, help_text="Alias of content_type.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        declared = attrs.pop("content_type", None)
        alias = attrs.pop("type", None)
        declared = declared or alias
        if not declared:
            raise serializers.ValidationError({"content_type": ["This field is required."]})
        attrs["content_type"] = declared.strip().lower()
        return attrs


class PartOutput(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField()
    etag = StrictCharField()


class PartUrlOutput(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField(help_text="Bytes this part must have.")
    url = serializers.URLField(help_text="Presigned S3 URL: PUT the part's bytes here.")


class UploadOutput(serializers.ModelSerializer):
    file_id = StrictUUIDField(source="new_file_id", read_only=True, help_text="The id the file will get.")
    content_type = StrictCharField(source="declared_type", read_only=True)
    parts = PartOutput(
        many=True, read_only=True, allow_null=True, default=None, help_text="Parts S3 has (null in lists)."
    )
    missing_parts = serializers.ListField(
        child=serializers.IntegerField(), read_only=True, allow_null=True, default=None
    )
    part_urls = PartUrlOutput(
        many=True,
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Fresh presigned URLs for the missing parts (null in lists).",
    )
    urls_expire_at = serializers.DateTimeField(read_only=True, allow_null=True, default=None)
    file = FileOutput(read_only=True, allow_null=True, default=None, help_text="The file, once completed.")

    class Meta:
        model = Upload
        fields = [
            "id",
            "file_id",
            "name",
            "size",
            "sha256",
            "content_type",
            "status",
            "part_size",
            "part_count",
            "created_at",
            "parts",
            "missing_parts",
            "part_urls",
            "urls_expire_at",
            "file",
        ]
        read_only_fields = fields


class UploadInitiateOutput(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["exists", "created"],
        help_text="exists: you already have these bytes (see file); created: upload the parts.",
    )
    file = FileOutput(allow_null=True)
    upload = UploadOutput(allow_null=True)


# --- viewer state ----------------------------------------------------------------------------


@extend_schema_field(locator_openapi())
class LocatorField(serializers.JSONField):
    """A Readium Locator (EPUB), validated against the Readium JSON Schema by the service."""


@extend_schema_field(PDF_SCHEMA)
class PdfPositionField(serializers.JSONField):
    pass


@extend_schema_field(IMAGE_SCHEMA)
class ImagePositionField(serializers.JSONField):
    pass


class DeviceSerializer(serializers.Serializer):
    id = StrictCharField(max_length=200)
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


POSITION_FIELDS = ("locator", "pdf", "image")


class ViewerStateInput(serializers.Serializer):
    device = DeviceSerializer()
    modified = serializers.DateTimeField(help_text="When the device reached this position (its clock).")
    intent = serializers.ChoiceField(
        choices=Intent.choices,
        default=Intent.ADVANCE,
        help_text="jump: a deliberate move (may go backwards); advance: reading on.",
    )
    locator = LocatorField(
        required=False,
        help_text="EPUB files: a Readium Locator. Also required: locations.progression, and an href "
        "that is a resource of the book (its spine or table of contents).",
    )
    pdf = PdfPositionField(required=False, help_text="PDF files.")
    image = ImagePositionField(required=False, help_text="Image files.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [key for key in POSITION_FIELDS if key in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send exactly one of locator (EPUB), pdf or image."]}
            )
        attrs["position_key"] = given[0]
        attrs["position"] = attrs.pop(given[0])
        return attrs


class PositionOutput(serializers.Serializer):
    device = DeviceSerializer()
    modified = serializers.DateTimeField()
    intent = serializers.ChoiceField(choices=Intent.choices)
    progress = serializers.FloatField(allow_null=True, help_text="0..1 through the file (server-computed).")
    locator = LocatorField(required=False)
    pdf = PdfPositionField(required=False)
    image = ImagePositionField(required=False)


class DevicePositionOutput(PositionOutput):
    recorded_at = serializers.DateTimeField(help_text="Server time of the write.")


class HistoryEntryOutput(DevicePositionOutput):
    version = serializers.IntegerField()
    applied = StrictBooleanField(help_text="Whether this write became the current position.")
    reason = StrictCharField(allow_null=True, help_text='"regression" when applied is false.')


class ViewerStateOutput(serializers.Serializer):
    file = StrictUUIDField()
    kind = serializers.ChoiceField(choices=FileKind.choices)
    current = PositionOutput(allow_null=True)
    devices = DevicePositionOutput(many=True, help_text="Latest position of each device, newest first.")
    history = HistoryEntryOutput(many=True, help_text="The last writes, newest first.")
    version = serializers.IntegerField(help_text="0 until the first write.")
    updated_at = serializers.DateTimeField(allow_null=True)


class ViewerStatePutOutput(ViewerStateOutput):
    applied = StrictBooleanField(help_text="false: kept as this device's position only.")
    reason = StrictCharField(allow_null=True, help_text='"regression" when applied is false.')


class ViewerStateSyncOutput(serializers.Serializer):
    """A viewer state in the sync feed: the current position only (devices and history are on
    GET /v1/files/{id}/viewer-state), so a page of the feed stays one query per type."""

    file = StrictUUIDField()
    kind = serializers.ChoiceField(choices=FileKind.choices)
    current = PositionOutput(allow_null=True)
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)

"""The account archive, format version 1 (docs/export.md): a zip a person can open without this
product, and this server can read back.

Writing (`ArchiveWriter`) goes to a stream that cannot seek (an S3 multipart upload): zipfile
then puts each entry's CRC and sizes in a data descriptor after its bytes, and keeps only the
central directory in memory. Records are JSON Lines, compressed; file bytes are stored as they
are (PDFs, EPUBs and images are compressed already).

Reading (`ArchiveReader`) trusts nothing in the archive:
- before zipfile parses the central directory, the end record and the directory itself are
  walked here: at most IMPORT_MAX_ENTRIES entries and DIRECTORY_MAX_BYTES of directory
  (zipfile reads the whole directory into memory and makes an object per entry);
- every name is a plain relative path (no absolute paths, drive letters, `..`, backslashes,
  NUL or other control characters), once; no symlinks, no encryption, stored or deflated only;
- the declared sizes add up to at most IMPORT_MAX_UNCOMPRESSED_BYTES, and no large entry (nor
  the whole) expands more than IMPORT_MAX_COMPRESSION_RATIO times. zipfile stops reading an
  entry at its declared size and checks its CRC, so a size that lies fails the read;
- each record is one line of at most RECORD_MAX_BYTES, parsed by the API's own JSON rules
  (apps/common/parsers.py: no NaN, no numbers beyond a double, at most JSON_MAX_DEPTH deep, no
  NUL or unpaired surrogate in any string).
Every refusal is an `InvalidArchive` (422 `invalid_archive`) whose `reason` names the rule and
whose `errors` name where (`notes/notes.jsonl:12.title`).
"""

from __future__ import annotations

import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from django.conf import settings

from apps.common import records
from apps.common.errors import ApplicationError, ErrorCode
from apps.common.parsers import loads
from apps.library import objects, storage

from .errors import InvalidArchive

FORMAT = "exampleapp-account-export"
VERSION = 1
MEDIA_TYPE = "application/zip"

MANIFEST = "manifest.json"
README = "README.md"
FILES = "files/files.jsonl"
VIEWER_STATES = "files/viewer_states.jsonl"
KOSYNC = "kosync/progress.jsonl"
NOTES = "notes/notes.jsonl"
REVISIONS = "notes/revisions.jsonl"
LISTS = "tasks/lists.jsonl"
TASKS = "tasks/tasks.jsonl"
COMPLETIONS = "tasks/completions.jsonl"
# Every record entry, in the order an import reads them (a record refers only to earlier ones).
RECORD_ENTRIES = (FILES, VIEWER_STATES, KOSYNC, NOTES, REVISIONS, LISTS, TASKS, COMPLETIONS)
FILE_FOLDER = "files/"
MARKDOWN_FOLDER = "notes/markdown/"

MANIFEST_MAX_BYTES = 1024 * 1024
DIRECTORY_MAX_BYTES = 64 * 1024 * 1024
# Small entries compress absurdly well (a page of spaces); the ratio matters for large ones.
RATIO_MIN_BYTES = 1024 * 1024


def record_max_bytes() -> int:
    """The longest line a record may be: a note or revision body at its limit, escaped."""
    return max(4 * 1024 * 1024, 8 * settings.NOTE_BODY_MAX_BYTES)


# --- names ---------------------------------------------------------------------------------------

# Characters that name nothing on some system a person may unzip on (Windows above all).
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def safe_component(text: str, *, fallback: str, limit: int = 120) -> str:
    """`text` as one path component any system can create: unsafe characters replaced, no
    leading or trailing dots and spaces, at most `limit` characters."""
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", text)).strip(" .")[:limit].strip(" .")
    return cleaned or fallback


def file_entry(file_id: Any, name: str) -> str:
    return f"{FILE_FOLDER}{file_id}/{safe_component(name, fallback='file', limit=200)}"


def markdown_entry(note_id: Any, title: str) -> str:
    return f"{MARKDOWN_FOLDER}{safe_component(title, fallback='Untitled', limit=80)} ({str(note_id)[:8]}).md"


# --- writing -------------------------------------------------------------------------------------


def _stamp(moment: datetime) -> tuple[int, int, int, int, int, int]:
    # Zip times have no zone and start in 1980; these are UTC.
    year, month, day, hour, minute, second = moment.timetuple()[:6]
    return (max(year, 1980), month, day, hour, minute, second)


class ArchiveWriter:
    """Entries of an account archive, written one after another into `archive`."""

    def __init__(self, archive: zipfile.ZipFile, *, now: datetime) -> None:
        self.archive = archive
        self.now = now
        self.counts: dict[str, int] = {}

    def records(self, name: str, items: Iterator[Any]) -> int:
        """A JSON Lines entry, one record per line; returns how many."""
        info = zipfile.ZipInfo(name, _stamp(self.now))
        info.compress_type = zipfile.ZIP_DEFLATED
        count = 0
        # Its size is unknown until written: zip64 sizes, in case it passes 4 GiB.
        with self.archive.open(info, "w", force_zip64=True) as out:
            for item in items:
                out.write(records.dumps(item) + b"\n")
                count += 1
        self.counts[name] = count
        return count

    def text(self, name: str, text: str, *, modified: datetime | None = None) -> None:
        info = zipfile.ZipInfo(name, _stamp(modified or self.now))
        info.compress_type = zipfile.ZIP_DEFLATED
        self.archive.writestr(info, text.encode("utf-8"))

    def binary(self, name: str, chunks: Iterator[bytes], *, size: int, modified: datetime) -> None:
        """An entry stored as it is (`size` decides whether it needs zip64 sizes)."""
        info = zipfile.ZipInfo(name, _stamp(modified))
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = size
        with self.archive.open(info, "w") as out:
            for chunk in chunks:
                out.write(chunk)


# --- reading -------------------------------------------------------------------------------------

_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_DIRECTORY_ENTRY = struct.Struct("<4s6H3L5H2L")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _refuse(reason: str, detail: str, where: str | None = None, message: str | None = None) -> InvalidArchive:
    return InvalidArchive(detail, reason=reason, errors={where: [message or detail]} if where else None)


def _read_at(stream: IO[bytes], offset: int, length: int) -> bytes:
    stream.seek(offset)
    return stream.read(length)


def _directory(stream: IO[bytes], size: int) -> tuple[int, int]:
    """(offset, size) of the central directory, from the end record (zip64's if there is one)."""
    tail_length = min(size, _EOCD.size + 0xFFFF)
    tail = _read_at(stream, size - tail_length, tail_length)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise _refuse("not_a_zip", "The archive is not a zip file.")
    _, _, _, _, total, directory_size, directory_offset, _ = _EOCD.unpack_from(tail, at)
    if total != 0xFFFF and 0xFFFFFFFF not in (directory_size, directory_offset):
        return directory_offset, directory_size
    locator_at = size - tail_length + at - _ZIP64_LOCATOR.size
    if locator_at < 0:
        raise _refuse("not_a_zip", "The archive's zip64 end record is missing.")
    signature, _, record_at, _ = _ZIP64_LOCATOR.unpack(_read_at(stream, locator_at, _ZIP64_LOCATOR.size))
    record = _read_at(stream, record_at, _ZIP64_EOCD.size) if record_at < size else b""
    if signature != b"PK\x06\x07" or len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
        raise _refuse("not_a_zip", "The archive's zip64 end record is damaged.")
    *_, directory_size, directory_offset = _ZIP64_EOCD.unpack(record)
    return directory_offset, directory_size


def check_directory(stream: IO[bytes], size: int) -> None:
    """Walk the central directory before zipfile does (see the module docstring): how many
    entries, how much directory."""
    offset, length = _directory(stream, size)
    if offset + length > size:
        raise _refuse("not_a_zip", "The archive's central directory lies outside it.")
    if length > DIRECTORY_MAX_BYTES:
        raise _refuse("too_many_entries", "The archive's central directory is too large.")
    limit = settings.IMPORT_MAX_ENTRIES
    stream.seek(offset)
    directory = stream.read(length)
    position = count = 0
    while position < len(directory):
        if len(directory) - position < _DIRECTORY_ENTRY.size or directory[position : position + 4] != (
            b"PK\x01\x02"
        ):
            raise _refuse("not_a_zip", "The archive's central directory is damaged.")
        fields = _DIRECTORY_ENTRY.unpack_from(directory, position)
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        position += _DIRECTORY_ENTRY.size + name_length + extra_length + comment_length
        count += 1
        if count > limit:
            raise _refuse("too_many_entries", f"The archive has more than {limit} entries.")


def _check_name(name: str) -> None:
    if not name or any(unicodedata.category(ch) == "Cc" for ch in name):
        raise _refuse("bad_name", "An entry name is empty or has control characters.", repr(name)[:300])
    if "\\" in name:
        raise _refuse("bad_name", "An entry name has a backslash.", name)
    if name.startswith("/") or _DRIVE.match(name):
        raise _refuse("absolute_path", "An entry name is an absolute path.", name)
    if ".." in name.split("/"):
        raise _refuse("path_traversal", "An entry name points outside the archive.", name)


def check_entries(infos: list[zipfile.ZipInfo]) -> None:
    seen: set[str] = set()
    total = compressed = 0
    ratio = settings.IMPORT_MAX_COMPRESSION_RATIO
    for info in infos:
        name = info.filename
        _check_name(name)
        # zipfile drops what follows a NUL in a name; the directory's raw name still has it.
        if "\x00" in info.orig_filename:
            raise _refuse("bad_name", "An entry name has a NUL character.", repr(name)[:300])
        if name in seen:
            raise _refuse("duplicate_entry", "An entry appears twice.", name)
        seen.add(name)
        if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse("symlink", "An entry is a symbolic link.", name)
        if info.flag_bits & 0x1:
            raise _refuse("encrypted", "An entry is encrypted.", name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _refuse("unsupported_compression", "An entry is neither stored nor deflated.", name)
        if info.file_size > RATIO_MIN_BYTES and info.file_size > ratio * max(info.compress_size, 1):
            raise _refuse("zip_bomb", f"An entry expands more than {ratio} times.", name)
        total += info.file_size
        compressed += info.compress_size
    if total > settings.IMPORT_MAX_UNCOMPRESSED_BYTES:
        raise InvalidArchive(
            f"The archive expands to more than {settings.IMPORT_MAX_UNCOMPRESSED_BYTES} bytes.",
            reason="too_large",
            extra={"max_bytes": settings.IMPORT_MAX_UNCOMPRESSED_BYTES},
        )
    if total > RATIO_MIN_BYTES and total > ratio * max(compressed, 1):
        raise _refuse("zip_bomb", f"The archive expands more than {ratio} times.")


# What a JSON refusal of apps/common/parsers.py means in an archive.
_JSON_REASONS = {
    ErrorCode.PARSE_ERROR: "malformed_json",
    ErrorCode.JSON_TOO_DEEP: "json_too_deep",
    ErrorCode.INVALID_TEXT: "invalid_text",
}


def parse(raw: bytes, where: str) -> Any:
    """One JSON document of the archive, by the API's rules; InvalidArchive naming `where`."""
    try:
        return loads(raw)
    except ApplicationError as exc:
        reason = _JSON_REASONS.get(exc.code, "malformed_json")
        fields = exc.errors or {}
        errors = {f"{where}.{field}": messages for field, messages in fields.items()} or {where: [exc.detail]}
        raise InvalidArchive(f"{where}: {exc.detail}", reason=reason, errors=errors) from None


class ArchiveReader:
    """An account archive open for reading, checked as the module docstring says: the
    structure and the manifest when it is opened, records and bytes as they are read."""

    def __init__(self, stream: IO[bytes], *, size: int) -> None:
        if size > settings.IMPORT_MAX_BYTES:
            raise InvalidArchive(
                f"Archives may be at most {settings.IMPORT_MAX_BYTES} bytes.",
                reason="too_large",
                extra={"max_bytes": settings.IMPORT_MAX_BYTES},
            )
        check_directory(stream, size)
        try:
            self.zip = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            if storage.is_outage(exc):
                raise
            raise _refuse("not_a_zip", f"The archive is not a readable zip file ({exc}).") from None
        check_entries(self.zip.infolist())
        self.names = set(self.zip.namelist())
        self.manifest = self._manifest()

    def _info(self, name: str) -> zipfile.ZipInfo:
        if name not in self.names:
            raise _refuse("missing_entry", f"The archive has no {name}.", name)
        return self.zip.getinfo(name)

    def _manifest(self) -> dict[str, Any]:
        if MANIFEST not in self.names:
            raise _refuse("not_an_export", f"The archive has no {MANIFEST}: it is not an account export.")
        info = self._info(MANIFEST)
        if info.file_size > MANIFEST_MAX_BYTES:
            raise _refuse("not_an_export", f"{MANIFEST} is too large.", MANIFEST)
        manifest = parse(self._read(info, MANIFEST_MAX_BYTES), MANIFEST)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _refuse("not_an_export", f"{MANIFEST} does not describe an account export.", MANIFEST)
        version = manifest.get("version")
        if version != VERSION or type(version) is not int:
            raise InvalidArchive(
                f"This server reads archives of format version {VERSION}; this one says {version!r}.",
                reason="unsupported_version",
                errors={f"{MANIFEST}.version": [f"Must be {VERSION}."]},
            )
        counts = manifest.get("entries")
        if not isinstance(counts, dict) or any(
            type(counts.get(name)) is not int or counts[name] < 0 for name in RECORD_ENTRIES
        ):
            raise _refuse(
                "not_an_export",
                f"{MANIFEST} does not count the records of each entry.",
                f"{MANIFEST}.entries",
            )
        for name in RECORD_ENTRIES:
            self._info(name)
        return manifest

    def _read(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        with _CorruptAsInvalid(info.filename), self.zip.open(info) as stream:
            return stream.read(limit)

    def records(self, name: str) -> Iterator[tuple[str, Any]]:
        """(where, record) for each line of the JSON Lines entry `name`; where is `name:line`.
        The count must be the manifest's."""
        limit = record_max_bytes()
        count = 0
        with _CorruptAsInvalid(name), self.zip.open(self._info(name)) as stream:
            for number, line in enumerate(iter(lambda: stream.readline(limit + 1), b""), 1):
                where = f"{name}:{number}"
                if len(line) > limit:
                    raise _refuse("record_too_large", f"A record is longer than {limit} bytes.", where)
                if not line.strip():
                    continue
                count += 1
                yield where, parse(line, where)
        if count != self.manifest["entries"][name]:
            raise _refuse(
                "count_mismatch",
                f"{name} has {count} records; the manifest says {self.manifest['entries'][name]}.",
                name,
            )

    def open_file(self, path: Any) -> _Guarded:
        """The stored bytes of a library file: `path` must be an entry under files/."""
        if not isinstance(path, str) or not path.startswith(FILE_FOLDER) or path not in self.names:
            raise _refuse("missing_entry", "A file's `path` names no file entry of the archive.")
        return _Guarded(self.zip.open(self._info(path)), path)


class _CorruptAsInvalid:
    """Read errors of a damaged entry (CRC, truncated data, bad deflate stream) become
    InvalidArchive `corrupt`, naming the entry."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, traceback: Any) -> None:
        damaged = (zipfile.BadZipFile, zlib.error, EOFError, objects.ReadBudgetExceeded)
        if isinstance(exc, damaged) or (isinstance(exc, OSError) and not storage.is_outage(exc)):
            raise _refuse("corrupt", f"{self.name} is damaged ({exc}).", self.name) from None


class _Guarded:
    """A file entry being read, its read errors turned into InvalidArchive `corrupt`."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.stream, self.name = stream, name

    def read(self, size: int = -1) -> bytes:
        with _CorruptAsInvalid(self.name):
            return self.stream.read(size)

    def __enter__(self) -> _Guarded:
        return self

    def __exit__(self, *args: Any) -> None:
        self.stream.close()

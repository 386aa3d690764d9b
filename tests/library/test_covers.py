"""GET /v1/files/{id}/cover against the real S3 server (and local storage): a cover for every
kind within its bounds, drawn once and served from storage after, 304 on If-None-Match, gone
with its file, never another file's, 404 for other users, `no_cover` for files without one, and
hostile inputs that end in `no_cover` within their bounds instead of a 500 or a long render."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from PIL import Image
from pypdf import PdfReader, PdfWriter

from apps.library import cover_render, objects, storage
from apps.library.models import File
from apps.library.uploads import uploads_cleanup
from tests.conftest import Account, assert_problem

from . import factories

pytestmark = pytest.mark.django_db

BOX = cover_render.COVER_BOX


def cover_url(file: dict[str, Any]) -> str:
    return f"/v1/files/{file['id']}/cover"


def cover_key(file: dict[str, Any]) -> str:
    return storage.cover_key(File.objects.get(id=file["id"]).storage_key)


def stored_cover(file: dict[str, Any]) -> bytes | None:
    return objects.read_small(cover_key(file), max_bytes=objects_max())


def objects_max() -> int:
    return 2 * 1024 * 1024


def get_cover(account: Account, file: dict[str, Any], **headers: str) -> Any:
    return account.client.get(
        cover_url(file), **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    )


def decoded(response: Any) -> Image.Image:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/webp"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "WEBP"
    return image


def image_file(fmt: str, size: tuple[int, int], color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    image = Image.new("RGB", size, color)
    image.putpixel((0, 0), (1, 2, 3))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


# (what, bytes, file name, the cover's expected size)
KINDS = [
    ("pdf letter", lambda: factories.pdf_page_bytes(media_box=(0, 0, 612, 792)), "a.pdf", (320, 414)),
    ("pdf square", lambda: factories.pdf_bytes(), "b.pdf", (320, 320)),
    ("epub", lambda: factories.epub_bytes(cover_data=image_file("PNG", (600, 900))), "c.epub", (320, 480)),
    ("png wide", lambda: image_file("PNG", (2000, 1000)), "d.png", (320, 160)),
    ("jpeg tall", lambda: image_file("JPEG", (1000, 3000)), "e.jpg", (160, 480)),
    ("webp", lambda: image_file("WEBP", (640, 960)), "f.webp", (320, 480)),
    ("gif", lambda: image_file("GIF", (300, 200)), "g.gif", (300, 200)),  # never enlarged
]


@pytest.mark.parametrize(("what", "make", "name", "size"), KINDS, ids=[k[0] for k in KINDS])
def test_each_kind_has_a_cover_within_bounds(
    account: Account, uploaded: Any, what: str, make: Any, name: str, size: tuple[int, int]
) -> None:
    file = uploaded(make(), name)
    response = get_cover(account, file)
    image = decoded(response)
    assert image.size == size
    assert image.width <= BOX[0]
    assert image.height <= BOX[1]
    assert response["ETag"] == f'"cover-{file["sha256"]}"'
    assert response["Cache-Control"] == "private, max-age=604800"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert stored_cover(file) == response.content  # stored next to the file's object


def test_the_cover_shows_the_file(account: Account, uploaded: Any) -> None:
    blue = uploaded(image_file("PNG", (400, 400), (0, 0, 255)), "blue.png")
    red = uploaded(image_file("PNG", (400, 400), (255, 0, 0)), "red.png")
    assert decoded(get_cover(account, blue)).convert("RGB").getpixel((200, 200))[2] > 200
    assert decoded(get_cover(account, red)).convert("RGB").getpixel((200, 200))[0] > 200
    # A PDF's first page is drawn: its squares fill the bottom 36 points of a 100-point page.
    dark = uploaded(factories.pdf_page_bytes(media_box=(0, 0, 100, 100), ops=20000), "dark.pdf")
    blank = uploaded(factories.pdf_page_bytes(media_box=(0, 0, 100, 100), ops=0), "blank.pdf")
    drawn = decoded(get_cover(account, dark)).convert("L")
    assert drawn.getpixel((160, 310)) < 60  # near the bottom: black
    assert drawn.getpixel((160, 10)) > 240  # near the top: the white page
    assert decoded(get_cover(account, blank)).convert("L").getpixel((160, 310)) > 240


def test_covers_in_local_storage(account: Account, uploaded: Any, local_storage: Any) -> None:
    for data, name in (
        (factories.pdf_bytes(), "a.pdf"),
        (factories.epub_bytes(), "b.epub"),
        (image_file("PNG", (900, 600)), "c.png"),
    ):
        file = uploaded(data, name)
        image = decoded(get_cover(account, file))
        assert image.width <= BOX[0]
        assert image.height <= BOX[1]
        key = cover_key(file)
        assert (local_storage / key).read_bytes() == get_cover(account, file).content
    assert not storage.is_s3()


def test_second_request_is_served_from_storage(
    account: Account, uploaded: Any, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    file = uploaded(factories.pdf_bytes(), "a.pdf")
    first = get_cover(account, file)
    assert first.status_code == 200
    # Put other bytes at the cover key: the next answer must be those bytes, not a new drawing.
    marker = image_file("WEBP", (10, 10))
    objects.store_small(cover_key(file), marker, content_type="image/webp")

    def no_drawing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the cover was drawn again")

    monkeypatch.setattr(cover_render, "pdf_cover", no_drawing)
    get_cover(account, file)  # warm the session cache: the count below is the route's own
    with django_assert_num_queries(1):  # the file's row; nothing else
        again = get_cover(account, file)
    assert again.status_code == 200
    assert again.content == marker
    assert again["ETag"] == first["ETag"]


def test_if_none_match_is_304_without_touching_storage(
    account: Account, uploaded: Any, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    file = uploaded(image_file("PNG", (50, 50)), "a.png")
    etag = get_cover(account, file)["ETag"]

    def no_storage(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("storage was read")

    monkeypatch.setattr(objects, "read_small", no_storage)
    for presented in (etag, f"W/{etag}", f'"something-else", {etag}'):
        with django_assert_num_queries(1):  # the file's row
            response = get_cover(account, file, **{"If-None-Match": presented})
        assert response.status_code == 304, presented
        assert response["ETag"] == etag
        assert response["Cache-Control"] == "private, max-age=604800"
        assert response.content == b""
    monkeypatch.undo()
    assert get_cover(account, file, **{"If-None-Match": '"cover-other"'}).status_code == 200
    assert get_cover(account, file, **{"If-None-Match": "*"}).status_code == 200


def test_an_image_accept_header_is_answered(account: Account, uploaded: Any) -> None:
    file = uploaded(image_file("PNG", (50, 50)), "a.png")
    assert get_cover(account, file, Accept="image/webp,image/*").status_code == 200
    assert_problem(
        account.client.get("/v1/files/00000000-0000-4000-8000-000000000000/cover"), 404, "not_found"
    )


def test_deleting_the_file_deletes_its_cover(
    account: Account, uploaded: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = image_file("PNG", (60, 60), (0, 255, 0))
    file = uploaded(data, "a.png")
    assert get_cover(account, file).status_code == 200
    key = cover_key(file)
    assert objects.read_small(key, max_bytes=objects_max()) is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert account.client.delete(f"/v1/files/{file['id']}").status_code == 204
    assert objects.read_small(key, max_bytes=objects_max()) is None
    assert_problem(get_cover(account, file), 404, "not_found")
    # The same bytes again: a new file with a new object and a cover of its own, drawn anew.
    again = uploaded(data, "a.png")
    assert again["id"] != file["id"]
    assert cover_key(again) != key
    assert stored_cover(again) is None
    assert decoded(get_cover(account, again)).size == (60, 60)


def test_cleanup_keeps_a_live_files_cover_and_sweeps_an_orphaned_one(account: Account, uploaded: Any) -> None:
    live = uploaded(image_file("PNG", (60, 60)), "live.png")
    assert get_cover(account, live).status_code == 200
    orphan = storage.cover_key(storage.new_key(account.id))  # a cover whose file is gone
    objects.store_small(orphan, b"left behind", content_type="image/webp")
    report = uploads_cleanup(older_than=timedelta(seconds=-5), user_id=account.id)
    assert report.orphans_deleted == 1
    assert objects.read_small(orphan, max_bytes=objects_max()) is None
    assert stored_cover(live) is not None
    assert objects.stored_size(File.objects.get(id=live["id"]).storage_key) == live["size"]


def test_a_storage_outage_is_a_503_and_no_verdict(account: Account, uploaded: Any, settings: Any) -> None:
    file = uploaded(factories.pdf_bytes(), "a.pdf")
    default = settings.STORAGES["default"]
    dead = {**default["OPTIONS"], "endpoint_url": "http://127.0.0.1:9"}  # nothing listens there
    with override_settings(STORAGES={**settings.STORAGES, "default": {**default, "OPTIONS": dead}}):
        response = get_cover(account, file)
    assert_problem(response, 503, "storage_unavailable")
    assert response["Retry-After"]
    assert stored_cover(file) is None  # nothing was decided: the next request draws it
    assert decoded(get_cover(account, file)).size == (320, 320)


def test_another_users_file_is_404(account: Account, other_account: Account, uploaded: Any, api: Any) -> None:
    file = uploaded(image_file("PNG", (50, 50)), "a.png")
    etag = get_cover(account, file)["ETag"]
    assert_problem(get_cover(other_account, file), 404, "not_found")
    assert_problem(get_cover(other_account, file, **{"If-None-Match": etag}), 404, "not_found")
    assert_problem(api.get(cover_url(file)), 401)


# --- files without a cover -------------------------------------------------------------------


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(factories.pdf_bytes())))
    writer.encrypt(user_password="secret", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    whole = image_file("JPEG", (400, 400))
    return whole[: len(whole) // 2]  # no end marker: the decoder runs out of data


NO_COVER = [
    ("epub without a cover", lambda: factories.epub_bytes(cover=False), "a.epub"),
    ("pdf with a password", encrypted_pdf, "b.pdf"),
    ("jpeg cut short", truncated_jpeg, "c.jpg"),
    (
        "epub cover that is no image",
        lambda: factories.epub_bytes(cover_data=b"not an image at all"),
        "d.epub",
    ),
    (
        "epub cover bomb (pixels)",
        lambda: factories.epub_bytes(cover_data=factories.png_claiming(100_000, 100_000)),
        "e.epub",
    ),
]


@pytest.mark.parametrize(("what", "make", "name"), NO_COVER, ids=[k[0] for k in NO_COVER])
def test_no_cover_is_a_stable_404_decided_once(
    account: Account, uploaded: Any, monkeypatch: pytest.MonkeyPatch, what: str, make: Any, name: str
) -> None:
    file = uploaded(make(), name)
    body = assert_problem(get_cover(account, file), 404, "no_cover")
    assert "placeholder" in body["detail"]
    assert stored_cover(file) == b""  # the verdict is kept next to the file

    def no_drawing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the cover was tried again")

    for name_ in ("pdf_cover", "epub_cover", "image_cover"):
        monkeypatch.setattr(cover_render, name_, no_drawing)
    assert_problem(get_cover(account, file), 404, "no_cover")


# --- hostile inputs: bounded, and no cover ---------------------------------------------------


def test_huge_and_thin_pdf_pages_render_at_cover_size(account: Account, uploaded: Any) -> None:
    # 200 x 200 inches: drawn straight at the cover's size, not at the page's.
    huge = uploaded(factories.pdf_page_bytes(media_box=(0, 0, 14400, 14400), ops=50), "huge.pdf")
    assert decoded(get_cover(account, huge)).size == (320, 320)
    thin = uploaded(factories.pdf_page_bytes(media_box=(0, 0, 1, 14400), ops=5), "thin.pdf")
    assert decoded(get_cover(account, thin)).size == (1, 480)


def test_a_pdf_page_too_heavy_to_parse_gets_no_cover(
    account: Account, uploaded: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(cover_render, "PAGE_CONTENT_MAX_BYTES", 64 * 1024)
    file = uploaded(factories.pdf_page_bytes(ops=10_000), "heavy.pdf")  # ~150 KB of content
    with caplog.at_level("INFO", logger="apps.library.covers"):
        assert_problem(get_cover(account, file), 404, "no_cover")
    assert "the first page's content is" in caplog.text


def test_a_slow_render_is_stopped_by_the_cpu_deadline(
    account: Account, uploaded: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    file = uploaded(factories.pdf_page_bytes(ops=300_000), "slow.pdf")  # ~0.5 CPU-s to draw
    settings.COVER_CPU_SECONDS = 0.05
    with caplog.at_level("INFO", logger="apps.library.covers"):
        assert_problem(get_cover(account, file), 404, "no_cover")
    assert "drawing took more than 0.05 CPU-seconds" in caplog.text
    assert stored_cover(file) == b""


def test_an_image_with_too_many_pixels_is_not_decoded(
    account: Account, uploaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bound is checked on the header, before any pixel is decoded (the real bound, 50 MP,
    # would take a 50 MP test image).
    monkeypatch.setattr(cover_render, "SOURCE_MAX_PIXELS", 100 * 100)
    big = uploaded(image_file("PNG", (101, 100)), "big.png")
    assert_problem(get_cover(account, big), 404, "no_cover")
    # A JPEG is counted after its reduced-scale draft: 2000 x 2000 drafts to 1000 x 1000.
    monkeypatch.setattr(cover_render, "SOURCE_MAX_PIXELS", 1000 * 1000)
    jpeg = uploaded(image_file("JPEG", (2000, 2000)), "big.jpg")
    assert decoded(get_cover(account, jpeg)).size == (320, 320)


def test_an_epub_cover_that_expands_absurdly_is_not_read(
    account: Account, uploaded: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    zeros = b"\x00" * (3 * 1024 * 1024)  # deflates about 1000:1
    settings.EPUB_MAX_COMPRESSION_RATIO = 100_000  # so that the upload checks let it in
    book = uploaded(factories.epub_bytes(cover_data=zeros), "bomb.epub")
    settings.EPUB_MAX_COMPRESSION_RATIO = 100
    assert_problem(get_cover(account, book), 404, "no_cover")
    # Over the cover's own size cap, whatever the ratio allows.
    settings.EPUB_MAX_COMPRESSION_RATIO = 100_000
    monkeypatch.setattr(cover_render, "EPUB_COVER_MAX_BYTES", 1024 * 1024)
    other = uploaded(factories.epub_bytes(cover_data=zeros + b"\x01"), "big.epub")
    assert_problem(get_cover(account, other), 404, "no_cover")


def test_the_epub_zip_bound_is_applied_to_the_entry_read() -> None:
    """epub.read_entry: the read stops at the cap (the central directory is believed only as far
    as the bounds it passes)."""
    from apps.library import epub
    from apps.library.errors import UnsupportedFileType

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cover.png", b"x" * 5000)
    with zipfile.ZipFile(buffer) as archive:
        assert len(epub.read_entry(archive, "cover.png", max_bytes=5000)) == 5000
        with pytest.raises(UnsupportedFileType):
            epub.read_entry(archive, "cover.png", max_bytes=4999)
        with pytest.raises(UnsupportedFileType):
            epub.read_entry(archive, "missing.png", max_bytes=4999)


def test_the_route_is_in_the_schema(api: Any) -> None:
    schema = api.get("/v1/schema?format=json").json()
    operation = schema["paths"]["/v1/files/{file_id}/cover"]["get"]
    ok = operation["responses"]["200"]
    assert ok["content"]["image/webp"]["schema"] == {"type": "string", "format": "binary"}
    assert {"ETag", "Cache-Control"} <= ok["headers"].keys()
    assert "304" in operation["responses"]
    assert "application/problem+json" in operation["responses"]["404"]["content"]
    assert any(p["name"] == "If-None-Match" for p in operation["parameters"])

"""Drawing a cover from a file's bytes: a small image (at most COVER_BOX, the source's aspect
kept) from an image file, an EPUB's cover image, or a PDF's first page, encoded as WebP.

Every source is untrusted, so every step is bounded (the caller also runs it under a CPU
deadline, apps/library/deadline.py):
- images: only the four accepted formats are parsed; Pillow's decompression-bomb warning is an
  error, and a JPEG is decoded at a reduced scale (`draft`) before its pixels are counted
  against SOURCE_MAX_PIXELS, so a huge source is refused before it is decoded;
- EPUB covers: the entry is read through epub.read_entry (size and expansion ratio capped, the
  read stops at the cap whatever the zip declares);
- PDF pages: PDFium renders straight into a bitmap of the cover's size, whatever the page's
  size (a 200-inch page costs what a letter page costs), and progressively: it hands control
  back to Python between batches of page objects, where the CPU deadline can stop it.
Anything that does not give an image raises `Unrenderable`.
"""

from __future__ import annotations

import ctypes
import io
import logging
import math
import threading
import warnings
import zipfile
from typing import IO, Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps
from pypdf import PdfReader

from . import epub

logger = logging.getLogger(__name__)

# The largest cover: a book cover's 2:3 in a grid cell, sharp on a 2x screen at 160 CSS px.
COVER_BOX = (320, 480)
COVER_CONTENT_TYPE = "image/webp"
WEBP_QUALITY = 80
# Pixels a source image may have once decoded (after a JPEG's reduced-scale draft): 50 MP is a
# large scan, about 200 MB as RGBA while it is shrunk. Larger sources get no cover.
SOURCE_MAX_PIXELS = 50_000_000
# An EPUB's cover image larger than this (uncompressed) is not read.
EPUB_COVER_MAX_BYTES = 20 * 1024 * 1024
# The decoded content of a PDF's first page: PDFium parses it in one uninterruptible step,
# about 60 ns a byte here (8 MiB: half a CPU-second). Real pages are kilobytes to a few MiB.
PAGE_CONTENT_MAX_BYTES = 8 * 1024 * 1024
IMAGE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}

# PDFium is not thread-safe (pypdfium2's documentation): one render at a time per process.
_pdfium_lock = threading.Lock()


class Unrenderable(Exception):
    """The source gives no cover (the reason is the message, for the log)."""


def image_cover(stream: IO[bytes], *, formats: list[str]) -> Image.Image:
    """The cover of an image file (a GIF's or WebP's first frame), or of an image's bytes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream, formats=formats) as image:
                # A JPEG decodes at 1/2, 1/4 or 1/8 scale, still at least twice the cover's size.
                image.draft("RGB", (COVER_BOX[0] * 2, COVER_BOX[1] * 2))
                width, height = image.size
                if width < 1 or height < 1 or width * height > SOURCE_MAX_PIXELS:
                    raise Unrenderable(f"an image of {width}x{height} pixels")
                image.seek(0)
                return _fit(_upright(image))
    except Unrenderable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Unrenderable(f"decompression bomb: {exc}") from None
    except Exception as exc:  # UnidentifiedImageError, OSError, SyntaxError... on hostile input
        raise Unrenderable(f"image: {type(exc).__name__}: {exc}") from None


def _upright(image: Image.Image) -> Image.Image:
    """Turned as its EXIF orientation says; as it is when that tag cannot be read (a damaged
    EXIF block costs the orientation, not the cover)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception as exc:
        logger.info("EXIF orientation unreadable: %s: %s", type(exc).__name__, exc)
        return image


def epub_cover(stream: IO[bytes], *, cover_path: str | None) -> Image.Image:
    """The cover image an EPUB's metadata names (its archive path), read with the archive's
    bounds (epub.read_entry)."""
    if not cover_path:
        raise Unrenderable("the book names no cover image")
    try:
        with zipfile.ZipFile(stream) as archive:
            data = epub.read_entry(archive, cover_path, max_bytes=EPUB_COVER_MAX_BYTES)
    except Exception as exc:  # UnsupportedFileType (a bound), BadZipFile, OSError
        raise Unrenderable(f"epub cover entry: {exc}") from None
    return image_cover(io.BytesIO(data), formats=list(IMAGE_FORMATS.values()))


def pdf_cover(stream: IO[bytes], *, path: str | None = None) -> Image.Image:
    """The first page of the PDF open in `stream` (seekable), rendered to fit COVER_BOX. With
    `path` (local storage) PDFium reads the file itself instead of through Python callbacks."""
    _check_first_page(stream)
    with _pdfium_lock:
        source: str | IO[bytes] = path if path is not None else stream
        stream.seek(0)
        try:
            document = pdfium.PdfDocument(source)
        except Exception as exc:  # PdfiumError: damaged, or needs a password
            raise Unrenderable(f"pdf: {exc}") from None
        try:
            if len(document) < 1:
                raise Unrenderable("the PDF has no pages")
            page = document[0]
            try:
                return _render_page(page)
            finally:
                page.close()
        except Unrenderable:
            raise
        except Exception as exc:
            raise Unrenderable(f"pdf page: {type(exc).__name__}: {exc}") from None
        finally:
            document.close()


def _check_first_page(stream: IO[bytes]) -> None:
    """Refuse a first page whose content streams decode to more than PAGE_CONTENT_MAX_BYTES.
    PDFium parses a page's content in one step when it loads the page, in C, where no signal
    can stop it: its length is what bounds that step. pypdf decodes it here, in steps the
    deadline can stop, and within its own limit on a stream's decoded size."""
    try:
        stream.seek(0)
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        contents = reader.pages[0].get_contents()
        size = len(contents.get_data()) if contents is not None else 0
    except Exception as exc:  # hostile or damaged: PDFium would not do better
        raise Unrenderable(f"pdf first page: {type(exc).__name__}: {exc}") from None
    if size > PAGE_CONTENT_MAX_BYTES:
        raise Unrenderable(f"the first page's content is {size} bytes")


def _render_page(page: Any) -> Image.Image:
    width, height = page.get_size()  # in points, the page's rotation applied
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        raise Unrenderable(f"a page of {width}x{height} points")
    scale = min(COVER_BOX[0] / width, COVER_BOX[1] / height)
    pixels_x = min(COVER_BOX[0], max(1, round(width * scale)))
    pixels_y = min(COVER_BOX[1], max(1, round(height * scale)))
    bitmap = pdfium.PdfBitmap.new_native(pixels_x, pixels_y, pdfium_c.FPDFBitmap_BGR, rev_byteorder=False)
    bitmap.fill_rect((255, 255, 255, 255), 0, 0, pixels_x, pixels_y)
    # Progressive rendering: PDFium asks NeedToPauseNow between batches of page objects; the
    # answer is always yes, so each call draws one batch and returns here, where Python code
    # runs and the CPU deadline's signal can end the render. (A signal taken inside the
    # callback itself is lost, which is why the deadline repeats: see deadline.py.)
    pause = pdfium_c.IFSDK_PAUSE(version=1)
    callback_type = dict(pdfium_c.IFSDK_PAUSE._fields_)["NeedToPauseNow"]
    keep_alive = callback_type(lambda _pause: 1)
    pause.NeedToPauseNow = keep_alive
    status = pdfium_c.FPDF_RenderPageBitmap_Start(
        bitmap, page, 0, 0, pixels_x, pixels_y, 0, pdfium_c.FPDF_ANNOT, ctypes.byref(pause)
    )
    try:
        while status == pdfium_c.FPDF_RENDER_TOBECONTINUED:
            status = pdfium_c.FPDF_RenderPage_Continue(page, ctypes.byref(pause))
    finally:
        pdfium_c.FPDF_RenderPage_Close(page)
    if status != pdfium_c.FPDF_RENDER_DONE:
        raise Unrenderable(f"PDFium ended the render with status {status}")
    return _fit(bitmap.to_pil())


def _fit(image: Image.Image) -> Image.Image:
    """RGB (RGBA when the source has transparency), shrunk to fit COVER_BOX (never enlarged)."""
    transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    fitted = image.convert("RGBA" if transparent else "RGB")
    fitted.thumbnail(COVER_BOX, Image.Resampling.LANCZOS)
    return fitted


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=WEBP_QUALITY, method=4)
    return buffer.getvalue()

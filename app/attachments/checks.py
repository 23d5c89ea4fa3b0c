"""What an uploaded file is: read from its content, never from its name or declared type.

Images (PNG, JPEG, WebP, GIF) are verified with Pillow: the format comes from the magic bytes, the
dimensions from the header (checked against the pixel limit before any decoding), then `verify()`
and a full `load()` of the first frame catch damage and truncation. Anything else must be a small
UTF-8 text file. A name or declared type that claims an image over content that is not one is
refused, saying so. Must not import Flask or the store.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from app.attachments.errors import AttachmentRefused

# The formats accepted, by their magic bytes (checked before Pillow sees the data).
IMAGE_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
_IMAGE_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".webp",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
        ".svg",
        ".ico",
    }
)
# Text media types kept from the name (the content decides that it is text at all).
_TEXT_TYPES = {".md": "text/markdown", ".markdown": "text/markdown", ".csv": "text/csv"}
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class CheckLimits:
    """The size limits an upload is checked against (from the settings)."""

    max_bytes: int  # CHAT_ATTACHMENT_MAX_BYTES
    text_max_bytes: int  # CHAT_TEXT_ATTACHMENT_MAX_BYTES
    max_pixels: int  # CHAT_IMAGE_MAX_PIXELS


@dataclass(frozen=True)
class Checked:
    """What the content turned out to be."""

    kind: str  # "image" | "text"
    media_type: str
    width: int | None = None
    height: int | None = None


def _printable(name: str) -> str:
    """`name` without control (Cc: C0, DEL, C1) or format (Cf: bidi overrides, zero-width)
    characters, which could make a name on the page read other than it is."""
    return "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf"))


def clean_name(filename: str | None, *, fallback: str = "file") -> str:
    """Return the file name without path parts, control or format characters, at most 200
    characters."""
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _printable(name).strip().lstrip(".").strip()
    if not name:
        return fallback
    if len(name) > MAX_NAME_CHARS:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = stem[: MAX_NAME_CHARS - len(suffix) - 1] + "." + suffix
        else:
            name = name[:MAX_NAME_CHARS]
    return name


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def sniff_image(data: bytes) -> str | None:
    """Return the Pillow format name the magic bytes say (PNG, JPEG, WEBP, GIF), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def claims_image(name: str, declared_type: str | None) -> bool:
    """Return whether the name or the declared type says the file is an image."""
    declared = (declared_type or "").split(";")[0].strip().lower()
    return declared.startswith("image/") or _suffix(name) in _IMAGE_SUFFIXES


def check_image(data: bytes, fmt: str, limits: CheckLimits) -> Checked:
    """Verify an image of format `fmt`; refuse one too large in pixels, damaged or truncated."""
    label = fmt if fmt != "WEBP" else "WebP"
    try:
        # Image.open reads the header only. Pillow's own bomb guard (Image.MAX_IMAGE_PIXELS,
        # ~89 M) stays as it is: ours is lower by default and checked here first.
        with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
            width, height = probe.size
            if width <= 0 or height <= 0:
                raise AttachmentRefused("bad_attachment", f"the {label} image has no size")
            # From the header, before any pixel is decoded (a small file can claim a huge image).
            if width * height > limits.max_pixels:
                raise AttachmentRefused(
                    "bad_attachment",
                    f"the image is {width}x{height} pixels; at most "
                    f"{limits.max_pixels:,} pixels are accepted",
                )
            probe.verify()
            # verify() leaves the image unusable; a second open decodes the first frame fully, which
            # is what finds a file cut short (Pillow refuses truncated data by default).
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                image.load()
    except AttachmentRefused:
        raise
    except Image.DecompressionBombError:
        raise AttachmentRefused(
            "bad_attachment", f"the image has too many pixels (at most {limits.max_pixels:,})"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        truncated = "truncated" in str(exc).lower() or isinstance(exc, EOFError)
        what = "is truncated" if truncated else "is damaged or not a valid image"
        raise AttachmentRefused("bad_attachment", f"the {label} file {what}") from None
    return Checked("image", IMAGE_TYPES[fmt], width, height)


def check_text(data: bytes, name: str, limits: CheckLimits) -> Checked:
    """Accept a UTF-8 text file without NUL bytes of at most the text limit; refuse others."""
    if b"\x00" in data:
        raise AttachmentRefused(
            "bad_attachment", "the file is binary; only images and UTF-8 text files are accepted"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise AttachmentRefused(
            "bad_attachment",
            "the file is neither an image (PNG, JPEG, WebP, GIF) nor UTF-8 text",
        ) from None
    if len(data) > limits.text_max_bytes:
        raise AttachmentRefused(
            "bad_attachment",
            f"the text file is {len(data):,} bytes; text files may be at most "
            f"{limits.text_max_bytes:,} bytes",
        )
    return Checked("text", _TEXT_TYPES.get(_suffix(name), "text/plain"))


def check(name: str, declared_type: str | None, data: bytes, limits: CheckLimits) -> Checked:
    """Return what the upload is, or raise `AttachmentRefused` saying what was wrong."""
    if len(data) > limits.max_bytes:
        raise AttachmentRefused(
            "body_too_large", f"the file is larger than {limits.max_bytes:,} bytes"
        )
    if not data:
        raise AttachmentRefused("bad_attachment", "the file is empty")
    fmt = sniff_image(data)
    if fmt is not None:
        return check_image(data, fmt, limits)
    if claims_image(name, declared_type):
        raise AttachmentRefused(
            "bad_attachment",
            "the file is named or sent as an image, but its content is not a PNG, JPEG, WebP "
            "or GIF image",
        )
    return check_text(data, name, limits)

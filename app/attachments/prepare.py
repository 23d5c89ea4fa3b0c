"""What a model is sent for an attachment: the image copy a provider accepts, a text file's block.

An image goes as a copy of at most `MAX_EDGE` px on the long edge and `MAX_SEND_BYTES`, in its own
format where the protocol takes it (GIF goes to Gemini as PNG, first frame); a JPEG or WebP still
too large steps its quality down, and a PNG or GIF still too large becomes a JPEG. The original goes
byte for byte only when it is already such a copy (`sendable`): one frame, no EXIF, a plain mode,
and not much larger than its pixels need (no large metadata chunk); any other is rendered (first
frame, upright, metadata stripped). A copy that had to be made is cached in the store as a
variant. Rendering decodes at a reduced scale where the format allows (JPEG), shrinks before any
mode conversion, and runs at most `MAX_RENDERS` at a time per process (a large image's decode is
the memory peak). A text file goes in as a fenced block with its name as the info string. Must not
import Flask.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Mapping
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

import conversation_manager as cm
from app.attachments.checks import IMAGE_TYPES, sniff_image

MAX_EDGE = 1568  # px on the long edge (Anthropic's recommended maximum; the others take it)
MAX_SEND_BYTES = 5 * 1000 * 1000  # the smallest per-image limit among the providers (5 MB)
# The formats a protocol does not take, and what they become.
CONVERT: dict[tuple[str, str], str] = {("gemini", "GIF"): "PNG"}
_QUALITIES = (90, 82, 72, 60, 45)
# The modes an original may be sent in (anything else, e.g. CMYK or 16-bit, is rendered).
_PLAIN_MODES = {
    "PNG": ("RGB", "RGBA", "L", "P"),
    "GIF": ("P", "L"),
    "JPEG": ("RGB", "L"),
    "WEBP": ("RGB", "RGBA"),
}
_CHANNELS = {"L": 1, "P": 1, "RGB": 3, "RGBA": 4}
# An original sent as is may be at most this much larger than its raw pixels, or this small.
MAX_OVERHEAD = 1.5
SMALL_ORIGINAL_BYTES = 16 * 1024
MAX_METADATA_BYTES = 4 * 1024  # text chunks, ICC profile, XMP... of an original sent as is
# Renders at a time per process: each may hold a decoded original (up to CHAT_IMAGE_MAX_PIXELS).
MAX_RENDERS = 2
RENDER_SLOTS = threading.BoundedSemaphore(MAX_RENDERS)
REDUCING_GAP = 2.0  # an integer reduction first, down to about twice the size sent, then Lanczos
_ORIENTATION = 0x0112  # the EXIF tag
_FORMAT_OF = {media_type: fmt for fmt, media_type in IMAGE_TYPES.items()}


def target_format(protocol: str, media_type: str) -> str:
    """Return the Pillow format an image of `media_type` is sent in to `protocol`."""
    fmt = _FORMAT_OF.get(media_type)
    if fmt is None:
        raise ValueError(f"not an image type: {media_type}")
    return CONVERT.get((protocol, fmt), fmt)


def _variant_name(fmt: str) -> str:
    return f"send{MAX_EDGE}-{fmt.lower()}"


def image_for(
    store: cm.AttachmentStore, user: str, attachment: cm.Attachment, protocol: str
) -> tuple[str, bytes]:
    """Return (media_type, data) of the image copy sent to a provider of `protocol`."""
    fmt = target_format(protocol, attachment.media_type)
    data = store.read(user, attachment.id)
    if fmt == _FORMAT_OF[attachment.media_type] and sendable(data):
        return attachment.media_type, data
    variant = _variant_name(fmt)
    cached = store.read_variant(user, attachment.id, variant)
    cached_fmt = sniff_image(cached) if cached else None
    if cached is not None and cached_fmt is not None:
        return IMAGE_TYPES[cached_fmt], cached
    out_fmt, out = render(data, fmt)
    store.put_variant(user, attachment.id, variant, out)
    return IMAGE_TYPES[out_fmt], out


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    elif fmt == "WEBP":
        image.save(buf, "WEBP", quality=quality, method=4)
    elif fmt == "GIF":
        image.convert("RGB").save(buf, "GIF")
    else:
        image.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """Put an image with transparency on white (for JPEG, which has no alpha)."""
    if not _has_alpha(image):
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = Image.new("RGB", rgba.size, (255, 255, 255))
    white.paste(rgba, mask=rgba.getchannel("A"))
    return white


def _metadata_bytes(info: Mapping[Any, object]) -> int:
    """The bytes of an image's metadata as Pillow read it (text chunks, ICC, XMP, comments)."""
    total = 0
    for value in info.values():
        if isinstance(value, (bytes, str)):
            total += len(value)
    return total


def sendable(data: bytes) -> bool:
    """Whether an original may go byte for byte: at most MAX_EDGE px and MAX_SEND_BYTES, one
    frame, no EXIF (orientation, GPS...), a plain mode, little metadata, and not much larger than
    its pixels need (a small image with megabytes of chunks is not sent as those megabytes)."""
    if len(data) > MAX_SEND_BYTES:
        return False
    try:
        with Image.open(io.BytesIO(data)) as image:  # the header only: nothing is decoded
            fmt, mode, (width, height) = image.format, image.mode, image.size
            frames = getattr(image, "n_frames", 1)
            has_exif = bool(image.getexif()) or "exif" in image.info
            metadata = _metadata_bytes(image.info)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return False
    if fmt not in _PLAIN_MODES or mode not in _PLAIN_MODES[fmt]:
        return False
    if max(width, height) > MAX_EDGE or frames != 1 or has_exif or metadata > MAX_METADATA_BYTES:
        return False
    raw = width * height * _CHANNELS[mode]
    return len(data) <= max(SMALL_ORIGINAL_BYTES, MAX_OVERHEAD * raw)


def _shrinkable(image: Image.Image) -> Image.Image:
    """The image in a mode that resizes well; only unusual modes are converted at full size."""
    if image.mode.startswith("I"):
        # 16-bit greyscale: scale to 8 bits (a plain convert would clip it to white).
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.mode in ("P", "PA", "1") or (
        "transparency" in image.info and image.mode in ("L", "RGB")
    ):
        # A palette resizes only by nearest neighbour, and a transparent colour key is lost.
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    return image


def _reduced(image: Image.Image) -> Image.Image:
    """A cheap integer reduction of a large decoded image toward `REDUCING_GAP` x MAX_EDGE px.

    An image with alpha is reduced band by band, premultiplied (as Pillow resizes one), so no
    full-size premultiplied copy is ever made; the result stays premultiplied (`RGBa`, `La`).
    Returns `image` itself when it is small enough already.
    """
    factor = int(max(image.size) / MAX_EDGE / REDUCING_GAP)
    if factor < 2:
        return image
    if image.mode not in ("LA", "RGBA"):
        return image.reduce(factor)
    premultiplied = {"LA": "La", "RGBA": "RGBa"}[image.mode]
    width, height = image.size
    out = Image.new(premultiplied, (-(-width // factor), -(-height // factor)))
    band = factor * max(1, 256 // factor)  # rows per band: a multiple of the factor
    for top in range(0, height, band):
        strip = image.crop((0, top, width, min(height, top + band)))
        out.paste(strip.convert(premultiplied).reduce(factor), (0, top // factor))
    return out


def _decoded(data: bytes) -> Image.Image:
    """The first frame at most MAX_EDGE px, upright, RGB or RGBA, without its metadata.

    A JPEG decodes at a reduced scale (`draft`); the shrink runs on the decoded source before
    any mode conversion (an integer reduction first), so only the source itself is ever held at
    full size, never a copy of it.
    """
    with Image.open(io.BytesIO(data)) as source:
        source.seek(0)
        if source.format == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 scale where that still leaves twice the size sent.
            source.draft("RGB", (2 * MAX_EDGE, 2 * MAX_EDGE))
        orientation = source.getexif().get(_ORIENTATION)  # applied after the shrink
        image = _reduced(_shrinkable(source))
        image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
        # Small now; a copy of the source's own (closing the file frees what it decoded).
        frame = image.copy() if image is source else image
    if orientation and orientation != 1:
        exif = Image.Exif()
        exif[_ORIENTATION] = orientation
        frame.info["exif"] = exif.tobytes()
        frame = ImageOps.exif_transpose(frame) or frame
    frame = frame.convert("RGBA" if _has_alpha(frame) else "RGB")
    frame.info.clear()  # nothing of the original's metadata goes on
    return frame


def render(data: bytes, fmt: str) -> tuple[str, bytes]:
    """Decode the first frame, upright, at most MAX_EDGE px and MAX_SEND_BYTES; return (format, data).

    The image was checked on upload (`checks.check_image`), so its size is within the pixel limit.
    At most MAX_RENDERS run at once in a process.
    """
    with RENDER_SLOTS:
        frame = _decoded(data)
    return _fit(frame, fmt)


def _fit(frame: Image.Image, fmt: str) -> tuple[str, bytes]:
    """Encode `frame` at most MAX_EDGE px and MAX_SEND_BYTES (smaller and lossier as needed)."""
    edge = MAX_EDGE
    image = frame
    while True:
        if max(image.size) > edge:
            image = frame.copy()
            image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        if fmt in ("JPEG", "WEBP"):
            for quality in _QUALITIES:
                out = _encode(image, fmt, quality)
                if len(out) <= MAX_SEND_BYTES:
                    return fmt, out
        else:
            out = _encode(image, fmt, 0)
            if len(out) <= MAX_SEND_BYTES:
                return fmt, out
            for quality in _QUALITIES:  # a lossless copy too large: a JPEG of it
                out = _encode(_flatten(image), "JPEG", quality)
                if len(out) <= MAX_SEND_BYTES:
                    return "JPEG", out
        edge = edge * 3 // 4  # only noise-like images get here


def text_block(store: cm.AttachmentStore, user: str, attachment: cm.Attachment) -> str:
    """Return the text file as a fenced block: its name as the info string, or on the line above
    (a name with spaces or backticks); the closing fence on a line of its own.

    The fence is longer than any run of backticks in the text, so the text cannot close it.
    """
    text = store.read(user, attachment.id).decode("utf-8", errors="replace")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"  # the closing fence on its own line
    name = attachment.name
    if name and not any(c.isspace() or c == "`" for c in name):
        return f"{fence}{name}\n{body}{fence}"
    return f"{name}\n{fence}\n{body}{fence}"

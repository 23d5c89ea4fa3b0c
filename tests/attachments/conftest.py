"""Fixtures for the attachment tests: image and text files made in memory, and an upload helper."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image

from tests.conftest import login


def image_bytes(
    fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB", **save: Any
) -> bytes:
    """A small real image in `fmt` (PNG, JPEG, WEBP, GIF)."""
    image = Image.new(mode, size, (200, 30, 60) if mode == "RGB" else None)
    # Some structure, so a cut file cannot decode as a flat colour.
    for x in range(0, size[0], 3):
        image.putpixel((x, x % size[1]), (10, 200, 10) if mode == "RGB" else 1)
    buf = io.BytesIO()
    image.save(buf, fmt, **save)
    return buf.getvalue()


def noisy_png(size: tuple[int, int]) -> bytes:
    """A PNG of random-looking pixels (large when encoded)."""
    import os

    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` (a pixel bomb: the data is one byte)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def page_token(client: Any) -> str:
    page = client.get("/")
    return page.data.decode().split('name="csrf-token" content="')[1].split('"')[0]


def upload(client: Any, data: bytes, name: str, content_type: str | None = None) -> Any:
    """POST /attachments with the page's CSRF header; return the response."""
    file: tuple[Any, ...] = (io.BytesIO(data), name)
    if content_type is not None:
        file = (io.BytesIO(data), name, content_type)
    return client.post(
        "/attachments",
        data={"file": file},
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": page_token(client)},
    )


@pytest.fixture
def bob(app: Any) -> Any:
    """A second logged-in user."""
    return login(app.test_client(), app, "bobby")

"""The attachment errors the web layer maps to HTTP (400 `bad_attachment`, 413 `body_too_large`).

Must not import Flask.
"""

from __future__ import annotations

from typing import Literal

RefusalCode = Literal["bad_attachment", "body_too_large", "quota"]


class AttachmentRefused(Exception):
    """An upload or a reference that cannot be used; `reason` says what was wrong, for a person.

    `code` is `bad_attachment` (HTTP 400), `body_too_large` or `quota` (both HTTP 413, API code
    `body_too_large`).
    """

    def __init__(self, code: RefusalCode, reason: str) -> None:
        super().__init__(reason)
        self.code: RefusalCode = code
        self.reason = reason
        self.detail = reason  # the name the web layer's error table reads

    @property
    def status(self) -> int:
        """The HTTP status this refusal answers with."""
        return 400 if self.code == "bad_attachment" else 413

    @property
    def api_code(self) -> str:
        """The API's error code (a quota is reported as `body_too_large`)."""
        return "bad_attachment" if self.code == "bad_attachment" else "body_too_large"


class BadAttachmentRequest(AttachmentRefused):
    """A turn names an attachment id this user has not uploaded (400 `bad_attachment`)."""

    def __init__(self, reason: str = "no such attachment") -> None:
        super().__init__("bad_attachment", reason)

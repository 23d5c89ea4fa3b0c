"""Attachments: the content checks, the upload/resolve/sweep service and the copies sent upstream.

The files themselves are `conversation_manager.AttachmentStore`'s (the JSON backend in
`conversation_manager/json/attachments.py`). Must not import Flask.
"""

from app.attachments.checks import Checked, CheckLimits, check, clean_name
from app.attachments.errors import AttachmentRefused, BadAttachmentRequest
from app.attachments.prepare import MAX_EDGE, MAX_SEND_BYTES, image_for, text_block
from app.attachments.service import AttachmentService, AttachmentSettings

__all__ = [
    "MAX_EDGE",
    "MAX_SEND_BYTES",
    "AttachmentRefused",
    "AttachmentService",
    "AttachmentSettings",
    "BadAttachmentRequest",
    "CheckLimits",
    "Checked",
    "check",
    "clean_name",
    "image_for",
    "text_block",
]

"""The one table of error words (app.messages): every code of the API has words and a retryable
flag, the HTTP errors use them, and the page's offline copy (static/js/words.js) agrees."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app import accounts, limits, shares
from app.messages import MESSAGES, message_for, retryable
from app.web.errors import ERRORS, lookup
from conversation_manager import StorageBusy, StorageFull

WORDS_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "words.js"
# API.md's HTTP error table, plus `internal` (any unknown failure) and `method_not_allowed`.
HTTP_CODES = {
    "bad_request", "bad_host", "empty_message", "invalid_id", "weak_password", "unknown_model",
    "bad_option", "bad_template", "bad_attachment", "unsupported_input", "context_too_long",
    "unauthenticated", "invalid_credentials", "cross_site", "csrf_failed", "signup_closed",
    "not_found", "no_turn", "turn_in_progress", "history_unavailable", "name_taken",
    "message_too_long", "body_too_large", "unsupported_media_type", "rate_limited",
    "budget_exceeded", "no_provider", "storage_busy", "storage_full", "internal",
    "method_not_allowed",
}  # fmt: skip
# API.md's SSE error codes, with their retryable flag where the contract gives one.
SSE_CODES = {
    "content_blocked": False,
    "rate_limited": True,
    "upstream_unavailable": True,
    "interrupted": True,
    "upstream_error": True,
    "upstream_auth": False,
    "quota_exceeded": False,
    "context_too_long": False,
    "unknown_model": False,
    "bad_request": False,
    "storage_full": False,
    "internal": True,
}

# API.md "Storage": the normalised reasons of an `incomplete` reply, its `error.code`.
INCOMPLETE_CODES = {
    "max_output_tokens", "content_filter", "refusal", "context_window", "reply_too_long", "other",
}  # fmt: skip


def page_copy() -> tuple[dict[str, str], set[str]]:
    """Read ERROR_WORDS and RETRYABLE out of words.js (both are plain JSON-like literals)."""
    source = WORDS_JS.read_text()
    body = re.search(r"export const ERROR_WORDS = \{\n(.*?)\n\};", source, re.S)
    assert body, "ERROR_WORDS not found in words.js"
    words = {}
    for line in body.group(1).splitlines():
        match = re.fullmatch(r'\s*([a-z_]+): (".*"),', line)
        assert match, f"unexpected line in ERROR_WORDS: {line!r}"
        words[match.group(1)] = json.loads(match.group(2))
    retry = re.search(r"export const RETRYABLE = new Set\((\[.*?\])\);", source)
    assert retry, "RETRYABLE not found in words.js"
    return words, set(json.loads(retry.group(1)))


def test_every_code_of_the_api_has_words_that_say_what_to_do():
    assert HTTP_CODES | set(SSE_CODES) | INCOMPLETE_CODES <= set(MESSAGES)
    for code, message in MESSAGES.items():
        assert message.text.endswith("."), code
        # Two sentences at least: what happened, and what the person can do about it.
        assert message.text.count(". ") >= 1, (code, message.text)
        assert message_for(code) == message.text


def test_sse_codes_have_the_contracts_retryable_flag():
    for code, flag in SSE_CODES.items():
        assert retryable(code) is flag, code


def test_an_unknown_code_reads_as_internal():
    assert message_for("no_such_code") == message_for("internal")
    assert retryable("no_such_code") is retryable("internal")


def test_the_pages_copy_has_every_code_with_the_same_retryable_flag():
    words, retry = page_copy()
    missing = sorted(set(MESSAGES) - set(words))
    assert missing == [], f"words.js lacks {missing}"
    for code, message in MESSAGES.items():
        assert (code in retry) is message.retryable, code
        assert words[code] == message.text, code
    assert retry - set(MESSAGES) <= {"network"}  # the page's own offline code


def test_http_errors_carry_the_tables_words(app, client):
    anonymous = app.test_client()
    cases = [
        (anonymous.get("/get-all-conversations"), 401, "unauthenticated"),
        (client.get("/chat", query_string={"conversation_id": "c_none"}), 404, "not_found"),
        (client.get("/logout"), 405, "method_not_allowed"),
        (client.post("/chat", data="x", content_type="text/plain"), 415, "unsupported_media_type"),
        (client.post("/chat", json={"message": "   "}), 400, "empty_message"),
        (anonymous.post("/login", json={"username": "nobody", "password": "x" * 12}), 401,
         "invalid_credentials"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert response.status_code == status, (code, response.data)
        error = response.get_json()["error"]
        assert error["code"] == code
        assert error["message"] == message_for(code)


def test_the_error_table_has_one_row_per_exception_class():
    kinds = [kind for kind, _, _ in ERRORS]
    assert len(set(kinds)) == len(kinds)
    for module in (accounts, limits, shares):  # their StorageBusy is the store's, answered once
        assert lookup(module.StorageBusy()) == (503, "storage_busy")
    assert lookup(StorageFull()) == (507, "storage_full")
    assert lookup(StorageBusy()) == (503, "storage_busy")

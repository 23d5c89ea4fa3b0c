"""`PATCH /account` changes only what was sent; the chat page renders the template sharing box and
the model-title flag only where the server has them on; sharing refused where it is off is 400
`bad_request` in its own words."""

from __future__ import annotations

from typing import Any

from tests.conftest import login


def test_a_patch_without_the_field_keeps_the_default(client: Any) -> None:
    saved = client.patch("/account", json={"default_instructions": "Answer like a pirate."})
    assert saved.status_code == 200
    response = client.patch("/account", json={})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and "nothing to change" in error["message"]
    account = client.get("/account").get_json()
    assert account["default_instructions"] == "Answer like a pirate."
    # Sent as null, it clears (API: the server's default).
    cleared = client.patch("/account", json={"default_instructions": None})
    assert cleared.status_code == 200 and cleared.get_json()["default_instructions"] is None


def test_too_long_default_instructions_take_the_standard_error(make_app: Any) -> None:
    app = make_app(CHAT_MAX_MESSAGE_CHARS=20)
    client = login(app.test_client(), app)
    response = client.patch("/account", json={"default_instructions": "x" * 21})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    # The table's words with the detail, as every other bad_request.
    assert error["message"].startswith("The request could not be accepted.")
    assert "default_instructions: at most 20 characters" in error["message"]
    assert client.get("/account").get_json()["default_instructions"] is None


def test_sharing_off_is_a_bad_request_in_its_own_words(client: Any) -> None:
    body = {"name": "n", "instructions": "i", "shared": True}
    response = client.post("/templates", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert error["message"].startswith("Sharing templates is off on this server")
    assert "template has a mistake" not in error["message"]


def test_the_sharing_box_only_where_sharing_is_on(make_app: Any, client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'id="template-shared"' not in page
    assert 'data-auto-titles="false"' in page
    app = make_app(CHAT_SHARED_TEMPLATES=True, CHAT_AUTO_TITLES=True)
    page = login(app.test_client(), app).get("/").get_data(as_text=True)
    assert 'id="template-shared"' in page
    assert 'data-auto-titles="true"' in page

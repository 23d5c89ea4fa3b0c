"""`GET, POST /templates` and `GET, PATCH, DELETE /templates/ID` (API "Templates"): the checks at
save answer 400 `bad_template` with what and where; another user's template is 404; a shared one
never names its owner; sharing only where CHAT_SHARED_TEMPLATES=1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import login

TEMPLATE: dict[str, Any] = {
    "name": "Translator",
    "description": "Translate into a language",
    "instructions": "Translate everything into {{ language | default('French') }}.",
    "variables": [{"name": "language", "description": "the target language"}],
    "messages": [
        {"role": "user", "text": "Translate: {{ text }}"},
    ],
}
TEMPLATE["variables"].append({"name": "text"})


def create(client: Any, **changes: Any) -> dict[str, Any]:
    response = client.post("/templates", json={**TEMPLATE, **changes})
    assert response.status_code == 201, response.data
    data: dict[str, Any] = response.get_json()
    return data


def other(app: Any, user: str = "bob") -> Any:
    return login(app.test_client(), app, user)


def test_create_list_get_patch_delete(client: Any) -> None:
    made = create(client)
    assert made["id"].startswith("t_")
    assert made["owner"] == "me" and made["shared"] is False
    assert made["name"] == "Translator" and made["variables"][0]["name"] == "language"
    assert made["messages"] == TEMPLATE["messages"]
    assert made["provider"] is None and made["model"] is None and made["options"] == {}
    listed = client.get("/templates").get_json()["templates"]
    assert [t["id"] for t in listed] == [made["id"]]
    assert client.get(f"/templates/{made['id']}").get_json() == made
    changed = client.patch(f"/templates/{made['id']}", json={"name": "Renamed"}).get_json()
    assert changed["name"] == "Renamed" and changed["instructions"] == TEMPLATE["instructions"]
    assert client.delete(f"/templates/{made['id']}").status_code == 204
    assert client.get(f"/templates/{made['id']}").status_code == 404
    assert client.get("/templates").get_json() == {"templates": []}


def test_name_and_instructions_are_required(client: Any) -> None:
    assert (
        client.post("/templates", json={"name": "x"}).get_json()["error"]["code"] == "bad_request"
    )
    assert client.post("/templates", json={"instructions": "x"}).status_code == 400
    minimal = client.post("/templates", json={"name": "n", "instructions": "i"})
    assert minimal.status_code == 201
    data = minimal.get_json()
    assert (data["description"], data["variables"], data["messages"]) == ("", [], [])


@pytest.mark.parametrize(
    ("instructions", "words"),
    [
        ("{{ language.upper() }}", "attribute access"),
        ("{{ config.__class__ }}", "attribute access"),
        ("{{ cycler() }}", "calls"),
        ("{% for x in range(9) %}x{% endfor %}", "blocks"),
        ("{{ language * 2 }}", "arithmetic"),
        ("{{ 'x' * 50000000 }}", "string literal"),
        ("{{ language | replace('a', 'b') }}", "unknown filter 'replace'"),
        ("{{ nobody }}", "'nobody', which is not declared"),
    ],
)
def test_save_refuses_outside_the_grammar(client: Any, instructions: str, words: str) -> None:
    response = client.post("/templates", json={**TEMPLATE, "instructions": instructions})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_template"
    assert words in error["message"] and "instructions" in error["message"]
    assert client.get("/templates").get_json() == {"templates": []}  # nothing saved


def test_patch_is_checked_as_a_whole(client: Any) -> None:
    made = create(client)
    # Dropping a declaration the text still uses is refused; the stored template stays.
    response = client.patch(f"/templates/{made['id']}", json={"variables": [{"name": "text"}]})
    assert response.status_code == 400
    assert "'language'" in response.get_json()["error"]["message"]
    assert client.get(f"/templates/{made['id']}").get_json() == made


def test_another_users_template_is_not_found(app: Any, client: Any) -> None:
    mine = create(client)
    bob = other(app)
    assert bob.get("/templates").get_json() == {"templates": []}
    for call in (
        lambda: bob.get(f"/templates/{mine['id']}"),
        lambda: bob.patch(f"/templates/{mine['id']}", json={"name": "stolen"}),
        lambda: bob.delete(f"/templates/{mine['id']}"),
        lambda: bob.post(
            "/chat", json={"message": "hi", "template_id": mine["id"], "variables": {"text": "x"}}
        ),
    ):
        response = call()
        assert response.status_code == 404, response.data
        assert response.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/templates/{mine['id']}").get_json()["name"] == "Translator"
    assert client.get("/templates/..%2Fetc").status_code in (400, 404)
    assert client.get("/templates/bad.id").get_json()["error"]["code"] == "invalid_id"


def test_sharing_is_off_by_default(client: Any) -> None:
    response = client.post("/templates", json={**TEMPLATE, "shared": True})
    assert response.status_code == 400
    assert "CHAT_SHARED_TEMPLATES" in response.get_json()["error"]["message"]
    made = create(client)
    assert client.patch(f"/templates/{made['id']}", json={"shared": True}).status_code == 400


def test_shared_templates_never_name_their_owner(make_app: Any, data_dir: Path) -> None:
    app = make_app(CHAT_SHARED_TEMPLATES=True)
    alice = login(app.test_client(), app, "alice")
    shared = create(alice, shared=True)
    private = create(alice, name="Private")
    bob = other(app)
    listed = bob.get("/templates").get_json()["templates"]
    assert [t["id"] for t in listed] == [shared["id"]]
    seen = listed[0]
    assert seen["owner"] == "shared" and seen["shared"] is True
    assert "alice" not in json.dumps(listed)
    assert "alice" not in json.dumps(bob.get(f"/templates/{shared['id']}").get_json())
    assert bob.get(f"/templates/{private['id']}").status_code == 404
    # Only the owner changes or deletes it.
    assert bob.patch(f"/templates/{shared['id']}", json={"name": "x"}).status_code == 404
    assert bob.delete(f"/templates/{shared['id']}").status_code == 404
    # The owner sees it as their own; making it private takes it away from bob.
    mine = {t["id"]: t for t in alice.get("/templates").get_json()["templates"]}
    assert mine[shared["id"]]["owner"] == "me"
    unshared = alice.patch(f"/templates/{shared['id']}", json={"shared": False}).get_json()
    assert unshared["shared"] is False
    assert bob.get(f"/templates/{shared['id']}").status_code == 404
    assert bob.get("/templates").get_json() == {"templates": []}
    # Where they live: private under the user's dot file, shared under .app.
    assert shared["id"] in (data_dir / "alice" / ".templates.json").read_text()
    assert alice.patch(f"/templates/{shared['id']}", json={"shared": True}).status_code == 200
    assert shared["id"] in (data_dir / ".app" / "templates" / "shared.json").read_text()
    assert shared["id"] not in (data_dir / "alice" / ".templates.json").read_text()
    assert alice.delete(f"/templates/{shared['id']}").status_code == 204
    assert bob.get("/templates").get_json() == {"templates": []}


def test_logged_out_is_401(app: Any) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/templates").status_code == 401
    assert anonymous.post("/templates", json=TEMPLATE).status_code == 401

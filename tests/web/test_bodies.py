"""Body parsing (app/web/bodies.py): every malformed body is 400 `bad_request`, on every route that
parses one, and only body parsing makes a 400: a pydantic error from inside is a logged 500."""

from __future__ import annotations

import logging

import pydantic
import pytest

from tests.conftest import PASSWORD, chat, login

LONE_SURROGATE = '"\\ud800"'  # valid JSON, but no UTF-8 string: Python decodes it to "\ud800"
DEEP = "[" * 100_000 + "]" * 100_000


def routes(cid: str, mid: str) -> list[tuple[str, str, str]]:
    """(method, path, JSON template with one `VALUE` slot) for every route that parses JSON."""
    return [
        ("POST", "/chat", '{"message": VALUE}'),
        ("POST", "/chat", f'{{"message": "hi", "conversation_id": "{cid}", "x": VALUE}}'),
        ("POST", "/login", '{"username": "alice", "password": VALUE}'),
        ("POST", "/login", '{"username": VALUE, "password": "x"}'),
        ("POST", "/signup", '{"username": "newuser", "password": VALUE}'),
        ("PATCH", f"/conversations/{cid}", '{"chat_name": VALUE}'),
        ("PUT", f"/conversations/{cid}/current", '{"message_id": VALUE}'),
        ("POST", "/account/password", f'{{"current_password": "{PASSWORD}", "new_password": VALUE}}'),
    ]  # fmt: skip


@pytest.fixture
def signup_open(make_app):
    app = make_app(CHAT_SIGNUP_ENABLED=True)
    client = login(app.test_client(), app)
    first = chat(client, message="hello")[0].data
    return app, client, first["conversation_id"], first["assistant_message_id"]


@pytest.mark.parametrize("value", [LONE_SURROGATE, '{"k": ' + LONE_SURROGATE + "}"])
def test_a_lone_surrogate_is_400_on_every_route(signup_open, data_dir, value):
    app, client, cid, mid = signup_open
    before = (data_dir / "alice" / f"{cid}.json").read_bytes()
    for method, path, template in routes(cid, mid):
        body = template.replace("VALUE", value)
        response = client.open(path, method=method, data=body, content_type="application/json")
        assert response.status_code == 400, (method, path, body, response.data)
        assert response.get_json()["error"]["code"] == "bad_request", (method, path)
    assert (data_dir / "alice" / f"{cid}.json").read_bytes() == before
    assert app.extensions["accounts"].list_users() == ["alice"]
    assert client.get("/account").status_code == 200  # the password did not change either
    assert login(app.test_client(), app).get("/account").status_code == 200


def test_a_lone_surrogate_as_a_key_is_400(client):
    response = client.post(
        "/chat",
        data='{"message": "hi", ' + LONE_SURROGATE + ": 1}",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("deep", [DEEP, "{" + '"a": {' * 100_000 + "}" * 100_001])
def test_json_nested_100000_deep_is_400_on_every_route(signup_open, deep):
    _app, client, cid, mid = signup_open
    for method, path, template in routes(cid, mid):
        response = client.open(path, method=method, data=deep, content_type="application/json")
        assert response.status_code == 400, (method, path, response.data[:200])
        assert response.get_json()["error"]["code"] == "bad_request"
        nested = template.replace("VALUE", deep)
        response = client.open(path, method=method, data=nested, content_type="application/json")
        assert response.status_code == 400, (method, path, response.data[:200])


def test_json_deeper_than_the_limit_is_refused_and_shallow_json_passes(client):
    shallow = client.post("/chat", json={"message": "hi", "extra": {"a": [{"b": [1]}]}})
    assert shallow.status_code == 200
    shallow.close()
    value: object = "x"
    for _ in range(200):  # under the interpreter's recursion limit, over the app's
        value = [value]
    response = client.post("/chat", json={"message": "hi", "extra": value})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    "body",
    ["", "not json", "[]", '"a string"', "null", "1", '{"message": 5}', '{"message": ["hi"]}'],
)
def test_other_malformed_bodies_are_400(client, body):
    response = client.post("/chat", data=body, content_type="application/json")
    assert response.status_code == 400, body
    assert response.get_json()["error"]["code"] == "bad_request"


def test_a_malformed_login_body_is_400_and_a_wrong_one_401(app):
    anonymous = app.test_client()
    app.extensions["accounts"].create_user("alice", PASSWORD)
    malformed = anonymous.post("/login", json={"username": ["alice"], "password": PASSWORD})
    assert malformed.status_code == 400
    wrong = anonymous.post("/login", json={"username": "alice", "password": "not the password"})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "invalid_credentials"


def test_a_validation_error_inside_the_store_is_a_logged_500(client, app, monkeypatch, caplog):
    store = app.extensions["store"]

    def broken(*args, **kwargs):
        class Record(pydantic.BaseModel):
            count: int

        return Record.model_validate({"count": "many"})  # a record on disk that does not parse

    monkeypatch.setattr(store, "list", broken)
    caplog.set_level(logging.ERROR)
    response = client.get("/get-all-conversations")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal"
    assert "unhandled error" in caplog.text and "ValidationError" in caplog.text

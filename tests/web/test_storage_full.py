"""A full disk is 507 `storage_full` on every route that writes accounts, sessions or shares
(issue 10, item 7), and a refused sign-up leaves no account behind."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import PASSWORD, chat, login


@contextmanager
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every write and fsync fails with ENOSPC, as on a full disk."""

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "write", full)
        m.setattr(os, "fsync", full)
        yield


def assert_507(response) -> None:
    assert response.status_code == 507, response.data
    assert response.get_json()["error"]["code"] == "storage_full"


def test_login_and_a_failed_login_on_a_full_disk_are_507(app, monkeypatch):
    app.extensions["accounts"].create_user("alice", PASSWORD)
    anonymous = app.test_client()
    with full_disk(monkeypatch):
        assert_507(anonymous.post("/login", json={"username": "alice", "password": PASSWORD}))
        assert_507(anonymous.post("/login", json={"username": "alice", "password": "wrong" * 3}))
    assert anonymous.get("/account").status_code == 401  # no session was made
    assert login(anonymous, app).get("/account").status_code == 200


def test_signup_on_a_full_disk_is_507_and_makes_no_account(app, data_dir, monkeypatch):
    anonymous = app.test_client()
    with full_disk(monkeypatch):
        assert_507(anonymous.post("/signup", json={"username": "alice", "password": PASSWORD}))
    assert app.extensions["accounts"].list_users() == []
    assert anonymous.get("/account").status_code == 401
    ok = anonymous.post("/signup", json={"username": "alice", "password": PASSWORD})
    assert ok.status_code == 201  # the first account can still be made once there is space


def test_share_and_password_change_on_a_full_disk_are_507(app, client, monkeypatch):
    cid = chat(client, message="hello")[0].data["conversation_id"]
    with full_disk(monkeypatch):
        assert_507(client.post(f"/conversations/{cid}/share", json={}))
        assert_507(
            client.post(
                "/account/password",
                json={"current_password": PASSWORD, "new_password": "another long password"},
            )
        )
    assert client.get(f"/conversations/{cid}/shares").get_json() == {"shares": []}
    # The old password still works.
    assert login(app.test_client(), app).get("/account").status_code == 200

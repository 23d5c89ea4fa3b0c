"""Isolation between users (S12) and path traversal (S11) through every route that takes an id."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import tree_state

SAFE = {"HEAD", "OPTIONS"}
TRAVERSAL = [
    "../x",
    "..",
    ".",
    "/etc/passwd",
    "a/b",
    "a\\..\\b",
    "%2e%2e",
    "..%2f..%2fetc",
    "\x00",
    "a\x00b",
    "x" * 300,
    "CON",
    "c_x.",
    "c_x ",
    "ｃ＿ｘ",
    ".index",
    ".turns",
    ".app",
    "../bob/c_x",
    "../../root",
]


def body_for(two_users) -> dict:
    """A valid-looking body for any route, pointing at Alice's messages."""
    return {
        "message": "hijack",
        "chat_name": "hijacked",
        "message_id": two_users.assistant_mid,
        "current_password": "x",
    }


def rules_with(app, argument: str):
    for rule in app.url_map.iter_rules():
        if argument in rule.arguments:
            yield rule


def assert_alice_untouched(two_users, data_dir, before) -> None:
    assert tree_state(data_dir / "alice") == before
    listing = two_users.b.get("/get-all-conversations").get_json()["conversations"]
    assert [c["id"] for c in listing] == [two_users.b_cid]


def test_bob_gets_404_on_every_route_with_alices_ids(two_users, data_dir):
    app, b = two_users.app, two_users.b
    share = two_users.a.post(f"/conversations/{two_users.cid}/share", json={}).get_json()
    before = tree_state(data_dir / "alice")
    adapter = app.url_map.bind("localhost")
    tried = []
    for rule in rules_with(app, "cid"):
        path = adapter.build(rule.endpoint, {"cid": two_users.cid})
        for method in sorted((rule.methods or set()) - SAFE):
            response = b.open(path, method=method, json=body_for(two_users))
            assert response.status_code == 404, (method, path, response.status_code)
            assert response.get_json()["error"]["code"] in ("not_found", "no_turn")
            tried.append((method, rule.endpoint))
    assert {e for _, e in tried} >= {
        "chat.rename",
        "chat.set_current",
        "chat.delete",
        "chat.stop",
        "chat.events",
        "shares.create_share",
        "shares.list_shares",
    }
    # Ids in query strings and bodies.
    checks = [
        b.get("/chat", query_string={"conversation_id": two_users.cid}),
        b.post("/chat", json={"message": "hi", "conversation_id": two_users.cid}),
        b.post(
            "/chat",
            json={
                "message": "hi",
                "conversation_id": two_users.cid,
                "parent_message_id": two_users.assistant_mid,
            },
        ),
        b.post(
            "/chat",
            json={
                "conversation_id": two_users.cid,
                "parent_message_id": two_users.user_mid,
                "regenerate": True,
            },
        ),
        # Alice's message ids inside Bob's own conversation.
        b.put(
            f"/conversations/{two_users.b_cid}/current",
            json={"message_id": two_users.assistant_mid},
        ),
        b.post(
            "/chat",
            json={
                "message": "hi",
                "conversation_id": two_users.b_cid,
                "parent_message_id": two_users.assistant_mid,
            },
        ),
        b.delete(f"/shares/{share['share_id']}"),
        b.delete(f"/shares/{share['token']}"),
    ]
    for response in checks:
        assert response.status_code == 404, response.data
    assert_alice_untouched(two_users, data_dir, before)
    # Alice's share still works: Bob's revocation attempt did nothing.
    assert two_users.app.test_client().get(share["url"]).status_code == 200


id_chars = st.characters(codec="utf-8", exclude_categories=("Cs",))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cid=st.one_of(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_-", min_size=1, max_size=70),
        st.text(id_chars, min_size=0, max_size=40),
        st.sampled_from(TRAVERSAL),
    )
)
def test_any_id_gives_bob_only_400_or_404(two_users, data_dir, cid):
    b = two_users.b
    before = tree_state(data_dir / "alice")
    for candidate in (cid, two_users.cid):
        quoted = quote(candidate, safe="")
        if not quoted:
            continue
        for response in (
            b.get("/chat", query_string={"conversation_id": candidate}),
            b.patch(f"/conversations/{quoted}", json={"chat_name": "x"}),
            b.get(f"/conversations/{quoted}/events"),
            b.put(f"/conversations/{quoted}/current", json={"message_id": two_users.user_mid}),
            b.post(f"/conversations/{quoted}/share", json={}),
            b.delete(f"/conversations/{quoted}"),
        ):
            # 405: an id with "/" in it can route elsewhere (a routing refusal, never access).
            assert response.status_code in (400, 404, 405), (candidate, response.status_code)
    assert_alice_untouched(two_users, data_dir, before)


def test_traversal_corpus_in_urls_and_bodies_creates_nothing_outside(two_users, data_dir):
    a = two_users.a
    parent = data_dir.parent
    outside_before = {p for p in parent.rglob("*") if data_dir not in (p, *p.parents)}
    for bad in TRAVERSAL:
        quoted = quote(bad, safe="")
        responses = [
            a.get("/chat", query_string={"conversation_id": bad}),
            a.patch(f"/conversations/{quoted}", json={"chat_name": "x"}),
            a.delete(f"/conversations/{quoted}"),
            a.post(f"/conversations/{quoted}/stop", json={}),
            a.get(f"/conversations/{quoted}/events"),
            a.post(f"/conversations/{quoted}/share", json={}),
            a.get(f"/conversations/{quoted}/shares"),
            a.delete(f"/shares/{quoted}"),
            a.get(f"/share/{quoted}"),
            a.post("/chat", json={"message": "hi", "conversation_id": bad}),
            a.post(
                "/chat",
                json={"message": "hi", "conversation_id": two_users.cid, "parent_message_id": bad},
            ),
            a.put(f"/conversations/{two_users.cid}/current", json={"message_id": bad}),
        ]
        for response in responses:
            assert response.status_code in (400, 404, 405), (bad, response.status_code)
        signup = two_users.app.test_client().post(
            "/signup", json={"username": bad, "password": "long enough password"}
        )
        assert signup.status_code in (400, 403)
    outside_after = {p for p in parent.rglob("*") if data_dir not in (p, *p.parents)}
    assert outside_after == outside_before
    for path in data_dir.rglob("*"):
        assert path.resolve().is_relative_to(data_dir.resolve())
    users = sorted(p.name for p in data_dir.iterdir() if not p.name.startswith("."))
    assert users == ["alice", "bob"]

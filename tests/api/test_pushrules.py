"""The push rules API over the client-server API ("Push Rules: API"), incl. MSC4506's knock rule
and a knock raising a moderator's unread count end to end."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

ServerHandle = Any
V3 = "/_matrix/client/v3"
RULES = f"{V3}/pushrules/global"


def ids(ruleset: dict[str, Any], kind: str) -> list[str]:
    return [r["rule_id"] for r in ruleset[kind]]


async def test_get_defaults(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    status, body = await server.request("GET", f"{V3}/pushrules/", token)
    assert status == 200
    override = ids(body["global"], "override")
    assert override[:4] == [
        ".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me",
        ".org.matrix.msc4506.rule.knock",
    ]  # fmt: skip
    status, body = await server.request("GET", f"{RULES}/", token)
    assert status == 200 and ids(body, "underride")[-1] == ".m.rule.encrypted"
    status, body = await server.request("GET", f"{RULES}/override/.m.rule.invite_for_me", token)
    assert status == 200 and body["conditions"][2]["pattern"] == alice
    status, body = await server.request("GET", f"{V3}/pushrules/", None)
    assert status == 401


async def test_put_order_update_delete(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    rule = {"pattern": "cake*", "actions": ["notify"]}
    for rule_id in ("a", "b"):
        status, body = await server.request("PUT", f"{RULES}/content/{rule_id}", token, json=rule)
        assert (status, body) == (200, {})
    _, body = await server.request("GET", f"{RULES}/", token)
    # A new rule without before/after is the most important user rule.
    assert ids(body, "content") == ["b", "a"]
    await server.request("PUT", f"{RULES}/content/c", token, json=rule, params={"after": "a"})
    await server.request("PUT", f"{RULES}/content/d", token, json=rule, params={"before": "b"})
    await server.request(
        "PUT", f"{RULES}/content/e", token, json=rule, params={"before": "a", "after": "d"}
    )
    _, body = await server.request("GET", f"{RULES}/", token)
    assert ids(body, "content") == ["d", "b", "e", "a", "c"]
    # Updating keeps the place and replaces the rule.
    await server.request("PUT", f"{RULES}/content/b", token, json={"pattern": "pie", "actions": []})
    status, body = await server.request("GET", f"{RULES}/content/b", token)
    assert status == 200
    assert body == {
        "rule_id": "b", "pattern": "pie", "actions": [], "default": False, "enabled": True
    }  # fmt: skip
    _, body = await server.request("GET", f"{RULES}/", token)
    assert ids(body, "content") == ["d", "b", "e", "a", "c"]
    status, _ = await server.request("DELETE", f"{RULES}/content/b", token)
    assert status == 200
    status, body = await server.request("GET", f"{RULES}/content/b", token)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await server.request("DELETE", f"{RULES}/content/b", token)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_enabled_and_actions(server: ServerHandle) -> None:
    alice, token, _ = await server.register("alice")
    path = f"{RULES}/override/.m.rule.master"
    status, body = await server.request("GET", f"{path}/enabled", token)
    assert (status, body) == (200, {"enabled": False})
    status, _ = await server.request("PUT", f"{path}/enabled", token, json={"enabled": True})
    assert status == 200
    status, body = await server.request("GET", f"{path}/enabled", token)
    assert body == {"enabled": True}
    path = f"{RULES}/underride/.m.rule.message"
    actions = ["notify", {"set_tweak": "sound", "value": "bing"}]
    status, _ = await server.request("PUT", f"{path}/actions", token, json={"actions": actions})
    assert status == 200
    status, body = await server.request("GET", f"{path}/actions", token)
    assert (status, body) == (200, {"actions": actions})
    # The change shows in the m.push_rules account data.
    _, data = await server.request(
        "GET", f"{V3}/user/{quote(alice)}/account_data/m.push_rules", token
    )
    assert data["global"]["override"][0]["enabled"] is True
    for sub, body in (("enabled", {"enabled": "yes"}), ("actions", {"actions": "notify"})):
        status, resp = await server.request("PUT", f"{path}/{sub}", token, json=body)
        assert (status, resp["errcode"]) == (400, "M_BAD_JSON")
    status, resp = await server.request("PUT", f"{path}/enabled", token, json={})
    assert (status, resp["errcode"]) == (400, "M_MISSING_PARAM")
    status, resp = await server.request("GET", f"{RULES}/override/nope/enabled", token)
    assert (status, resp["errcode"]) == (404, "M_NOT_FOUND")
    status, resp = await server.request(
        "PUT", f"{RULES}/override/nope/actions", token, json={"actions": []}
    )
    assert (status, resp["errcode"]) == (404, "M_NOT_FOUND")


async def test_put_errors(server: ServerHandle) -> None:
    _, token, _ = await server.register("alice")
    ok = {"actions": ["notify"], "conditions": []}
    cases = [
        ("override/.mine", ok, None, 400, "M_UNKNOWN"),
        ("override/a\\b", ok, None, 400, "M_UNKNOWN"),
        ("bogus/x", ok, None, 400, "M_INVALID_PARAM"),
        ("override/x", {"conditions": []}, None, 400, "M_MISSING_PARAM"),
        ("override/x", {"actions": ["explode"]}, None, 400, "M_UNKNOWN"),
        ("override/x", {"actions": [], "conditions": "no"}, None, 400, "M_BAD_JSON"),
        ("content/x", {"actions": []}, None, 400, "M_MISSING_PARAM"),
        ("room/notaroom", {"actions": []}, None, 400, "M_UNKNOWN"),
        ("sender/notauser", {"actions": []}, None, 400, "M_UNKNOWN"),
        ("override/x", ok, {"before": "missing"}, 400, "M_UNKNOWN"),
        ("override/x", ok, {"after": ".m.rule.master"}, 400, "M_UNKNOWN"),
    ]
    for path, body, params, status_code, errcode in cases:
        status, resp = await server.request(
            "PUT", f"{RULES}/{path}", token, json=body, params=params
        )
        assert (status, resp.get("errcode")) == (status_code, errcode), (path, resp)
    status, resp = await server.request("DELETE", f"{RULES}/override/.m.rule.master", token)
    assert (status, resp["errcode"]) == (404, "M_NOT_FOUND")


async def test_knock_raises_moderator_count_only(server: ServerHandle) -> None:
    # MSC4506 end to end: a knock notifies members whose level reaches the invite level.
    alice, a_tok, _ = await server.register("alice")
    bob, b_tok, _ = await server.register("bob")
    carol, c_tok, _ = await server.register("carol")
    dave, d_tok, _ = await server.register("dave")
    status, body = await server.request(
        "POST", f"{V3}/createRoom", a_tok,
        json={"room_version": "10", "preset": "public_chat",
              "power_level_content_override": {"invite": 50, "users": {alice: 100, bob: 50}}},
    )  # fmt: skip
    assert status == 200, body
    room = body["room_id"]
    for token in (b_tok, c_tok):
        status, body = await server.request("POST", f"{V3}/join/{quote(room)}", token, json={})
        assert status == 200, body
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room}/state/m.room.join_rules", a_tok, json={"join_rule": "knock"}
    )
    assert status == 200, body
    status, body = await server.request(
        "PUT", f"{V3}/rooms/{room}/state/m.room.member/{quote(dave)}", d_tok,
        json={"membership": "knock"},
    )  # fmt: skip
    assert status == 200, body
    assert await server.hs.push.unread_counts(bob, room) == (1, 0)
    assert await server.hs.push.unread_counts(carol, room) == (0, 0)
    # Bob turns the knock rule off: the next knock leaves him alone.
    status, _ = await server.request(
        "PUT", f"{RULES}/override/.org.matrix.msc4506.rule.knock/enabled", b_tok,
        json={"enabled": False},
    )  # fmt: skip
    assert status == 200
    eve, e_tok, _ = await server.register("eve")
    status, _ = await server.request(
        "PUT", f"{V3}/rooms/{room}/state/m.room.member/{quote(eve)}", e_tok,
        json={"membership": "knock"},
    )  # fmt: skip
    assert status == 200
    assert await server.hs.push.unread_counts(bob, room) == (1, 0)
    assert await server.hs.push.unread_counts(alice, room) == (2, 0)

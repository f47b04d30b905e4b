"""The push rules API (client-server API, "Push Notifications" → "Push Rules: API"):
``GET /pushrules/``, ``GET /pushrules/global/``,
``GET/PUT/DELETE /pushrules/global/{kind}/{ruleId}`` with ``before``/``after``,
and ``GET/PUT .../enabled`` and ``.../actions``. Not room-versioned.

A rule problem answers 400 ``M_UNKNOWN`` (the spec's example), an unknown rule 404
``M_NOT_FOUND``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.core.push import RULE_KINDS
from transom.services.errors import BadJson, InvalidParam, MissingParam, UnknownError

if TYPE_CHECKING:
    from transom.app import HomeServer

JsonDict = dict[str, Any]
_STRING_ACTIONS = frozenset({"notify", "dont_notify", "coalesce"})


def _kind(req: ApiRequest) -> str:
    kind = req.path("kind")
    if kind not in RULE_KINDS:
        raise InvalidParam(f"Unknown push rule kind {kind!r}")
    return kind


def _validate_actions(actions: Any) -> list[Any]:
    if actions is None:
        raise MissingParam("Missing 'actions'")
    if not isinstance(actions, list):
        raise BadJson("'actions' must be a list")
    for action in actions:
        if isinstance(action, str) and action in _STRING_ACTIONS:
            continue
        if isinstance(action, dict) and isinstance(action.get("set_tweak"), str):
            continue
        raise UnknownError(f"Unrecognised action {action!r}")
    return actions


def _new_rule(kind: str, rule_id: str, body: JsonDict) -> JsonDict:
    """The rule a PUT describes, checked against its kind."""
    # "If the string starts with a dot (".") the request MUST be rejected as this is reserved
    # for server-default rules. Slashes ("/") and backslashes ("\") are also not allowed."
    if rule_id.startswith("."):
        raise UnknownError("rule_id may not start with '.': reserved for server-default rules")
    if "/" in rule_id or "\\" in rule_id:
        raise UnknownError("rule_id may not contain slashes or backslashes")
    rule: JsonDict = {"rule_id": rule_id, "actions": _validate_actions(body.get("actions"))}
    if kind == "room" and not rule_id.startswith("!"):
        # "The rule_id of a room rule is always the ID of the room that it affects."
        raise UnknownError("The rule_id of a room rule must be a room ID")
    if kind == "sender" and not rule_id.startswith("@"):
        # "The rule_id of Sender rules is always the Matrix user ID of the user".
        raise UnknownError("The rule_id of a sender rule must be a user ID")
    if kind == "content":
        pattern = body.get("pattern")
        if pattern is None:
            raise MissingParam("Missing 'pattern'")
        if not isinstance(pattern, str):
            raise BadJson("'pattern' must be a string")
        rule["pattern"] = pattern
    if kind in ("override", "underride"):
        conditions = body.get("conditions", [])
        if not isinstance(conditions, list) or not all(
            isinstance(c, dict) and isinstance(c.get("kind"), str) for c in conditions
        ):
            raise BadJson("'conditions' must be a list of conditions, each with a 'kind'")
        rule["conditions"] = conditions
    return rule


def _anchor(req: ApiRequest, name: str) -> str | None:
    value = req.query(name)
    if value is not None and value.startswith("."):
        # "It is not possible to add a rule relative to a predefined server rule."
        raise UnknownError(f"{name}: cannot add a rule relative to a server-default rule")
    return value


async def get_all(req: ApiRequest) -> JsonDict:
    return await req.hs.push.get_ruleset(req.requester.user_id)


async def get_global(req: ApiRequest) -> JsonDict:
    ruleset = await req.hs.push.get_ruleset(req.requester.user_id)
    return dict(ruleset["global"])


async def get_rule(req: ApiRequest) -> JsonDict:
    return await req.hs.push.get_rule(req.requester.user_id, _kind(req), req.path("ruleId"))


async def put_rule(req: ApiRequest) -> JsonDict:
    kind, rule_id = _kind(req), req.path("ruleId")
    rule = _new_rule(kind, rule_id, (await req.body()).data)
    before, after = _anchor(req, "before"), _anchor(req, "after")
    await req.hs.push.put_rule(req.requester.user_id, kind, rule, before=before, after=after)
    return {}


async def delete_rule(req: ApiRequest) -> JsonDict:
    await req.hs.push.delete_rule(req.requester.user_id, _kind(req), req.path("ruleId"))
    return {}


async def get_enabled(req: ApiRequest) -> JsonDict:
    rule = await req.hs.push.get_rule(req.requester.user_id, _kind(req), req.path("ruleId"))
    return {"enabled": bool(rule.get("enabled", True))}


async def put_enabled(req: ApiRequest) -> JsonDict:
    kind, rule_id = _kind(req), req.path("ruleId")
    enabled = (await req.body()).raw("enabled")
    if enabled is None:
        raise MissingParam("Missing 'enabled'")
    if not isinstance(enabled, bool):
        raise BadJson("'enabled' must be a boolean")
    await req.hs.push.set_enabled(req.requester.user_id, kind, rule_id, enabled)
    return {}


async def get_actions(req: ApiRequest) -> JsonDict:
    rule = await req.hs.push.get_rule(req.requester.user_id, _kind(req), req.path("ruleId"))
    return {"actions": rule.get("actions", [])}


async def put_actions(req: ApiRequest) -> JsonDict:
    kind, rule_id = _kind(req), req.path("ruleId")
    actions = _validate_actions((await req.body()).raw("actions"))
    await req.hs.push.set_actions(req.requester.user_id, kind, rule_id, actions)
    return {}


def routes(hs: HomeServer) -> list[Route]:
    rule = "/pushrules/global/{kind}/{ruleId}"
    return [
        Route("GET", client_paths("/pushrules/") + client_paths("/pushrules"), get_all, auth=True),
        Route(
            "GET",
            client_paths("/pushrules/global/") + client_paths("/pushrules/global"),
            get_global,
            auth=True,
        ),
        Route("GET", client_paths(rule), get_rule, auth=True),
        Route("PUT", client_paths(rule), put_rule, auth=True),
        Route("DELETE", client_paths(rule), delete_rule, auth=True),
        Route("GET", client_paths(rule + "/enabled"), get_enabled, auth=True),
        Route("PUT", client_paths(rule + "/enabled"), put_enabled, auth=True),
        Route("GET", client_paths(rule + "/actions"), get_actions, auth=True),
        Route("PUT", client_paths(rule + "/actions"), put_actions, auth=True),
    ]

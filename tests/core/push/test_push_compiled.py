"""The compiled evaluation (``compile_ruleset`` + ``EventEvaluator``) gives exactly the results of
the straightforward reference (``first_match`` / ``evaluate``), for generated events, rulesets,
recipients and room facts; and it computes recipient-independent conditions once per event."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transom.core.push import (
    LEGACY_MENTION_RULE_IDS,
    RECIPIENT_PERMISSION,
    RULE_KINDS,
    EventEvaluator,
    PushContext,
    compile_ruleset,
    condition_matches,
    default_rules,
    evaluate,
    first_match,
    merge_rules,
    notification_counts_from_actions,
)

USERS = ["@alice:example.org", "@bob:example.org", "@carol:example.org", "@dave:other.org"]
ROOMS = ["!room:example.org", "!other:example.org"]
NAMES = [None, "", "Alice", "alice", "Bob Smith", "@room", "a.b", "Ça va", "*"]
LEVELS: list[int | float] = [0, 1, 50, 100, math.inf]

# Values of every JSON shape, including those the exact-match conditions treat specially: booleans
# vs integers vs strings ("without casting"), out-of-range integers, floats, compound values.
SIMPLE = st.sampled_from([None, True, False, 0, 1, 2, "1", "", "x", "m.replace", 2**53 - 1])
ODD = st.sampled_from([2**53, -(2**53), 1.0, math.nan, [1], ["x"], {"a": 1}, {}])
VALUES = st.one_of(SIMPLE, ODD, st.sampled_from(USERS))
# Values equal for Python's ``==`` (and dict keys) but not for these conditions.
LOOKALIKES = st.sampled_from([True, 1, "1", 1.0, False, 0, None])

KEYS = st.sampled_from(
    [
        "type",
        "sender",
        "room_id",
        "state_key",
        "content",
        "content.body",
        "content.msgtype",
        "content.membership",
        "content.n",
        "content.n",
        "content.list",
        "content.list",
        "content.missing",
        "content.m\\.mentions.room",
        "content.m\\.mentions.user_ids",
        "content.m\\.relates_to.rel_type",
        "content.m.mentions",
        "content.body.x",
        "content\\.body",
    ]
)
PATTERNS = st.one_of(
    st.sampled_from(
        [
            "*",
            "",
            "?",
            "m.room.*",
            "m.room.message",
            "m.room.member",
            "M.ROOM.MESSAGE",
            "m.notice",
            "invite",
            "alice",
            "*alice*",
            "Alice Liddell",
            "@room",
            "x?y",
            "*.invite",
            "@alice:example.org",
            "ça*",
            "a.b",
        ]
    ),
    st.text(alphabet="ab*?. @", max_size=5),
)

WORDS = st.sampled_from(
    ["hello", "alice", "Alice", "ALICE!", "bob", "Bob Smith", "@room", "a.b", "ça", "x_y", "xay"]
)
BODIES = st.one_of(st.lists(WORDS, max_size=5).map(" ".join), st.just(""), VALUES)


@st.composite
def some_keys(draw: st.DrawFn, choices: list[tuple[str, st.SearchStrategy[Any], int]]) -> Any:
    """A JSON object holding each key of ``choices`` with its chance in tenths; now and then a
    value of another type instead."""
    if draw(st.integers(0, 9)) == 0:
        return draw(VALUES)
    return {
        key: draw(values) for key, values, chance in choices if draw(st.integers(0, 9)) < chance
    }


MENTIONS = some_keys(
    [
        (
            "user_ids",
            st.one_of(
                st.lists(st.sampled_from(USERS), min_size=1, max_size=3),
                st.lists(st.one_of(st.sampled_from(USERS), VALUES), max_size=3),
                VALUES,
            ),
            8,
        ),
        ("room", st.one_of(st.booleans(), VALUES), 4),
    ]
)
CONTENT = some_keys(
    [
        ("msgtype", st.sampled_from(["m.text", "m.text", "m.notice", "m.emote", 1]), 7),
        ("body", BODIES, 8),
        ("membership", st.sampled_from(["join", "invite", "knock", "leave", True]), 5),
        ("m.mentions", MENTIONS, 5),
        (
            "m.relates_to",
            st.one_of(
                st.fixed_dictionaries(
                    {"rel_type": st.sampled_from(["m.replace", "m.thread", "m.annotation", 5])}
                ),
                VALUES,
            ),
            2,
        ),
        ("n", st.one_of(LOOKALIKES, VALUES), 5),
        ("list", st.lists(st.one_of(LOOKALIKES, VALUES), max_size=4), 4),
    ]
)

EVENTS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "m.room.message",
                "m.room.member",
                "m.room.encrypted",
                "m.call.invite",
                "m.reaction",
                "m.room.tombstone",
                "m.room.server_acl",
                "m.room.power_levels",
                "M.Room.Message",
            ]
        ),
        "sender": st.sampled_from(USERS),
        "room_id": st.sampled_from(ROOMS),
        "content": CONTENT,
    },
    optional={"state_key": st.sampled_from(["", "", *USERS])},
)

CONDITIONS = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("event_match"), "key": KEYS, "pattern": PATTERNS},
    ),
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["event_property_is", "event_property_contains"]), "key": KEYS},
        optional={"value": st.one_of(LOOKALIKES, VALUES)},
    ),
    st.just({"kind": "contains_display_name"}),
    st.fixed_dictionaries(
        {"kind": st.just("room_member_count")},
        optional={
            "is": st.sampled_from(
                ["2", "==2", "<3", ">1", "<=2", ">=10", "0", "02", "x", "", "=2", "1" * 5000, 2]
            )
        },
    ),
    st.fixed_dictionaries(
        {"kind": st.just("sender_notification_permission")},
        optional={"key": st.sampled_from(["room", "other", 5])},
    ),
    st.fixed_dictionaries(
        {"kind": st.just(RECIPIENT_PERMISSION)},
        optional={"key": st.sampled_from(["invite", "kick", "ban", "redact", "other", 5])},
    ),
    # Malformed: missing or mistyped parameters, unknown kinds, no kind, not an object.
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["event_match", "unknown", 5])},
        optional={"key": st.sampled_from(["type", 5]), "pattern": st.sampled_from(["*", None])},
    ),
    st.sampled_from([{}, None, "event_match", ["kind"]]),
)

ACTIONS = st.lists(
    st.sampled_from(
        [
            "notify",
            "dont_notify",
            "coalesce",
            {"set_tweak": "highlight"},
            {"set_tweak": "highlight", "value": False},
            {"set_tweak": "highlight", "value": 1},
            {"set_tweak": "sound", "value": "default"},
            {"value": True},
            5,
        ]
    ),
    max_size=3,
)


@st.composite
def user_rule(draw: st.DrawFn, kind: str, conditions: list[Any]) -> dict[str, Any]:
    """One of the user's own rules of ``kind``, its conditions drawn from a shared pool."""
    rule: dict[str, Any] = {"actions": draw(st.one_of(ACTIONS, VALUES))}
    if kind == "room":
        rule["rule_id"] = draw(st.sampled_from(ROOMS))
    elif kind == "sender":
        rule["rule_id"] = draw(st.sampled_from(USERS))
    else:
        rule["rule_id"] = draw(st.sampled_from(["r1", "r2", "r3", ".dotted"]))
    if kind == "content":
        rule["pattern"] = draw(st.one_of(PATTERNS, st.just(5)))
    if kind in ("override", "underride"):
        rule["conditions"] = draw(
            st.one_of(st.lists(st.sampled_from(conditions), max_size=3), st.just("notalist"))
        )
    if draw(st.booleans()):
        rule["enabled"] = draw(st.sampled_from([True, False, 0, 1, "", None]))
    return rule


DEFAULT_IDS = [
    ".m.rule.master",
    ".m.rule.suppress_notices",
    ".m.rule.invite_for_me",
    ".m.rule.member_event",
    ".m.rule.is_user_mention",
    ".m.rule.contains_display_name",
    ".m.rule.is_room_mention",
    ".m.rule.roomnotif",
    ".m.rule.reaction",
    ".m.rule.room_one_to_one",
    ".m.rule.message",
    ".m.rule.encrypted",
    ".m.rule.contains_user_name",
    "r1",
]


@st.composite
def ruleset(draw: st.DrawFn, user_id: str, conditions: list[Any]) -> dict[str, Any]:
    """A merged ruleset for ``user_id``, sometimes with malformed rules added after merging."""
    own = {
        kind: draw(st.lists(user_rule(kind, conditions), max_size=2))
        for kind in RULE_KINDS
        if draw(st.integers(0, 3)) < (2 if kind in ("override", "underride") else 1)
    }
    kinds = st.sampled_from(RULE_KINDS)
    keys = st.tuples(kinds, st.sampled_from(DEFAULT_IDS))
    enabled = draw(st.dictionaries(keys, st.booleans(), max_size=3))
    actions = draw(st.dictionaries(keys, ACTIONS, max_size=3))
    merged = merge_rules(
        default_rules(user_id, legacy_mention_rules=draw(st.booleans())),
        own,
        enabled=enabled,
        actions=actions,
    )
    for kind in draw(st.lists(kinds, max_size=2)):
        odd = draw(
            st.sampled_from(
                [
                    None,
                    5,
                    {"actions": ["notify"]},
                    {"rule_id": 5, "actions": ["notify"], "pattern": "*", "conditions": []},
                    {"rule_id": ".m.rule.roomnotif", "default": True, "actions": ["notify"]},
                ]
            )
        )
        merged["global"][kind].insert(draw(st.integers(0, 3)), odd)
    return merged


@st.composite
def scenario(
    draw: st.DrawFn,
) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, str | None, Any, dict[str, Any]]]]:
    """An event, the room-wide facts and recipients ``(user, name, level, ruleset)``."""
    event = draw(EVENTS)
    room = {
        "room_member_count": draw(st.sampled_from([0, 1, 2, 2, 3, 10])),
        "sender_power_level": draw(st.sampled_from(LEVELS)),
        "notification_levels": draw(
            st.dictionaries(st.sampled_from(["room", "other"]), st.sampled_from([0, 50, 101, True]))
        ),
        "action_levels": draw(
            st.dictionaries(
                st.sampled_from(["invite", "kick", "ban", "redact", "other"]),
                st.sampled_from([0, 50, 100, True]),
            )
        ),
    }
    # One pool of conditions for everyone, so that recipients' rules share conditions.
    pool = draw(st.lists(CONDITIONS, min_size=1, max_size=6))
    recipients = [
        (
            user,
            draw(st.sampled_from(NAMES)),
            draw(st.sampled_from(LEVELS)),
            draw(ruleset(user, pool)),
        )
        for user in draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=6))
    ]
    return event, room, recipients


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_compiled_evaluation_equals_reference(
    case: tuple[dict[str, Any], dict[str, Any], list[tuple[str, str | None, Any, dict[str, Any]]]],
) -> None:
    event, room, recipients = case
    evaluator = EventEvaluator(event, **room)
    for user_id, name, level, rules in recipients:
        ctx = PushContext(
            user_id=user_id, user_display_name=name, recipient_power_level=level, **room
        )
        compiled = compile_ruleset(rules)
        expected = first_match(rules, event, ctx)
        found = evaluator.match(compiled, user_id, display_name=name, power_level=level)
        if expected is None:
            assert found is None
            assert (
                evaluator.evaluate(compiled, user_id, display_name=name, power_level=level) is None
            )
            continue
        assert found is not None
        assert (found.kind, found.rule) == expected
        assert found.rule is expected[1]
        actions = evaluate(rules, event, ctx)
        assert actions is not None
        assert (
            evaluator.evaluate(compiled, user_id, display_name=name, power_level=level) == actions
        )
        assert (found.notify, found.highlight) == notification_counts_from_actions(actions)


@settings(max_examples=300, deadline=None)
@given(EVENTS, CONDITIONS, st.integers(0, 12), st.sampled_from(NAMES), st.sampled_from(LEVELS))
def test_each_condition_equals_reference(
    event: dict[str, Any], cond: Any, count: int, name: str | None, level: Any
) -> None:
    """A one-condition override rule matches exactly when ``condition_matches`` holds."""
    rules = {"global": {"override": [{"rule_id": "r", "conditions": [cond], "actions": []}]}}
    ctx = PushContext(
        user_id="@someone:example.org",
        user_display_name=name,
        room_member_count=count,
        recipient_power_level=level,
    )
    found = EventEvaluator.for_context(event, ctx).match(
        compile_ruleset(rules), ctx.user_id, display_name=name, power_level=level
    )
    assert (found is not None) == condition_matches(cond, event, ctx)


# Conditions that differ subtly from one another: same key with values alike for ``==``, other
# bounds, the recipient's own name and level.
NARROW_VALUES = st.sampled_from([True, 1, False, 0, "1"])
NARROW_PROPERTIES = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("event_property_is"),
            "key": st.just("content.n"),
            "value": NARROW_VALUES,
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("event_property_contains"),
            "key": st.just("content.list"),
            "value": NARROW_VALUES,
        }
    ),
)
NARROW_CONDITIONS = st.one_of(
    NARROW_PROPERTIES,
    NARROW_PROPERTIES,
    NARROW_PROPERTIES,
    st.fixed_dictionaries(
        {"kind": st.just("room_member_count"), "is": st.sampled_from(["2", "<3", ">2", ">=2"])}
    ),
    st.fixed_dictionaries(
        {"kind": st.just(RECIPIENT_PERMISSION), "key": st.sampled_from(["invite", "kick"])}
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("sender_notification_permission"),
            "key": st.sampled_from(["room", "other"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("event_match"),
            "key": st.sampled_from(["content.body", "content.n"]),
            "pattern": st.sampled_from(["alice", "*", "bob*", "1"]),
        }
    ),
    st.just({"kind": "contains_display_name"}),
)
NARROW_EVENTS = st.fixed_dictionaries(
    {
        "type": st.just("m.room.message"),
        "sender": st.just(USERS[3]),
        "content": st.fixed_dictionaries(
            {
                "n": NARROW_VALUES,
                "list": st.lists(NARROW_VALUES, max_size=2),
                "body": st.lists(WORDS, max_size=4).map(" ".join),
            }
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    NARROW_EVENTS,
    st.sampled_from([1, 2, 3]),
    st.sampled_from(LEVELS),
    st.dictionaries(st.sampled_from(["invite", "kick", "room"]), st.sampled_from([0, 50, 100])),
    st.lists(
        st.tuples(
            st.sampled_from(USERS[:3]),
            st.sampled_from(NAMES),
            st.sampled_from(LEVELS),
            st.lists(NARROW_CONDITIONS, min_size=1, max_size=2),
        ),
        min_size=2,
        max_size=8,
    ),
)
def test_recipients_sharing_an_evaluator_get_their_own_results(
    event: dict[str, Any],
    count: int,
    sender_level: Any,
    levels: dict[str, int],
    recipients: list[tuple[str, str | None, Any, list[Any]]],
) -> None:
    """One evaluator for many recipients whose single rule holds conditions that look alike."""
    evaluator = EventEvaluator(
        event,
        room_member_count=count,
        sender_power_level=sender_level,
        notification_levels=levels,
        action_levels=levels,
    )
    for user_id, name, level, conditions in recipients:
        rules = {"override": [{"rule_id": "r", "conditions": conditions, "actions": ["notify"]}]}
        ctx = PushContext(
            user_id=user_id,
            user_display_name=name,
            room_member_count=count,
            sender_power_level=sender_level,
            recipient_power_level=level,
            notification_levels=levels,
            action_levels=levels,
        )
        found = evaluator.match(
            compile_ruleset(rules), user_id, display_name=name, power_level=level
        )
        assert (found is not None) == (first_match(rules, event, ctx) is not None)


class CountingEvent(Mapping[str, Any]):
    """An event that counts reads of its top-level properties."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.reads = 0

    def __getitem__(self, key: str) -> Any:
        self.reads += 1
        return self.data[key]

    def __contains__(self, key: object) -> bool:
        self.reads += 1
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _message(**content: Any) -> CountingEvent:
    body = {"msgtype": "m.text", "body": "hello alice", **content}
    return CountingEvent(
        {"type": "m.room.message", "sender": USERS[3], "room_id": ROOMS[0], "content": body}
    )


def test_recipient_independent_work_is_done_once_per_event() -> None:
    users = [f"@user{i}:example.org" for i in range(10)]
    compiled = {u: compile_ruleset(default_rules(u, legacy_mention_rules=True)) for u in users}
    event = _message(**{"m.mentions": {"user_ids": [users[4]]}})
    evaluator = EventEvaluator(event, room_member_count=11)
    first = evaluator.match(compiled[users[0]], users[0], display_name="Alice")
    assert first is not None and first.rule["rule_id"] == ".m.rule.message"
    reads = event.reads
    assert reads > 0
    found = {
        u: evaluator.match(compiled[u], u, display_name="Alice" if u == users[1] else None)
        for u in users[1:]
    }
    # Every property was read for the first recipient; the others reuse it all, even the
    # recipient-specific user mention and display name conditions.
    assert event.reads == reads
    ids = {u: r.rule["rule_id"] if r is not None else None for u, r in found.items()}
    assert ids[users[4]] == ".m.rule.is_user_mention"
    assert ids[users[1]] == ".m.rule.message"  # m.mentions present: no legacy body rules
    assert {ids[u] for u in users[2:] if u != users[4]} == {".m.rule.message"}


def test_display_name_stays_per_recipient() -> None:
    """Without m.mentions the legacy display name rule applies, per recipient's own name."""
    users = [f"@user{i}:example.org" for i in range(3)]
    event = _message(body="hello Alice")
    evaluator = EventEvaluator(event, room_member_count=3)
    names = {users[0]: "Alice", users[1]: "Bob", users[2]: None}
    found = {
        u: evaluator.match(
            compile_ruleset(default_rules(u, legacy_mention_rules=True)), u, display_name=n
        )
        for u, n in names.items()
    }
    assert {u: r.rule["rule_id"] for u, r in found.items() if r is not None} == {
        users[0]: ".m.rule.contains_display_name",
        users[1]: ".m.rule.message",
        users[2]: ".m.rule.message",
    }
    assert ".m.rule.contains_display_name" in LEGACY_MENTION_RULE_IDS


def test_sender_is_never_notified() -> None:
    rules = {"global": {"override": [{"rule_id": "r", "conditions": [], "actions": ["notify"]}]}}
    evaluator = EventEvaluator({"type": "x", "sender": USERS[0], "content": {}})
    assert evaluator.match(compile_ruleset(rules), USERS[0]) is None
    found = evaluator.match(compile_ruleset(rules), USERS[1])
    assert found is not None and found.notify and not found.highlight


def test_rules_that_cannot_match_are_dropped_when_compiling() -> None:
    rules = {
        "override": [
            {"rule_id": "off", "enabled": False, "conditions": [], "actions": ["notify"]},
            {"rule_id": "bad", "conditions": [{"kind": "unknown"}], "actions": ["notify"]},
            {"rule_id": "nokey", "conditions": [{"kind": "event_match"}], "actions": []},
            {
                "rule_id": "float",
                "conditions": [{"kind": "event_property_is", "key": "n", "value": 1.0}],
                "actions": [],
            },
            {"rule_id": "ok", "conditions": [], "actions": ["dont_notify"]},
        ]
    }
    compiled = compile_ruleset(rules)
    assert [r.rule["rule_id"] for r in compiled.rules] == ["ok"]
    # Historical actions are stripped in advance.
    assert compiled.rules[0].actions == ()


def test_room_member_count_with_a_huge_bound() -> None:
    """A bound of thousands of digits compares as a number, not as an error (Python's ``int``
    refuses strings over 4300 digits)."""
    event = {"type": "m.room.message", "sender": USERS[1], "content": {}}
    ctx = PushContext(user_id=USERS[0], room_member_count=5)
    huge = "1" * 5000
    for spec, expected in (
        (huge, False),
        ("<" + huge, True),
        (">" + huge, False),
        ("0" * 40 + "5", True),
    ):
        cond = {"kind": "room_member_count", "is": spec}
        assert condition_matches(cond, event, ctx) is expected
        rules = {"override": [{"rule_id": "r", "conditions": [cond], "actions": []}]}
        found = EventEvaluator.for_context(event, ctx).match(compile_ruleset(rules), USERS[0])
        assert (found is not None) is expected


def _member(membership: str, state_key: str) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "sender": USERS[3],
        "room_id": ROOMS[0],
        "state_key": state_key,
        "content": {"membership": membership},
    }


FIXED_EVENTS = [
    _member("invite", USERS[0]),
    _member("invite", USERS[1]),
    _member("knock", USERS[3]),
    _member("join", USERS[2]),
    {"type": "m.room.tombstone", "sender": USERS[3], "state_key": "", "content": {}},
    {"type": "m.room.server_acl", "sender": USERS[3], "state_key": "", "content": {}},
    {"type": "m.room.message", "sender": USERS[3], "content": {"body": "hi @room"}},
    {
        "type": "m.room.message",
        "sender": USERS[3],
        "content": {"body": "hi", "m.mentions": {"room": True, "user_ids": [USERS[1]]}},
    },
    {
        "type": "m.room.message",
        "sender": USERS[3],
        "content": {"body": "* fix", "m.relates_to": {"rel_type": "m.replace"}},
    },
    {"type": "m.room.message", "sender": USERS[3], "content": {"msgtype": "m.notice"}},
    {"type": "m.room.message", "sender": USERS[3], "content": {"body": "alice? Bob Smith! carol"}},
    {"type": "m.room.encrypted", "sender": USERS[3], "content": {}},
    {"type": "m.call.invite", "sender": USERS[3], "content": {}},
    {"type": "m.reaction", "sender": USERS[3], "content": {}},
]


def test_default_rules_on_every_kind_of_event_equal_reference() -> None:
    """Every default rule decides some event here, for several recipients and room facts."""
    decided: set[str] = set()
    for event in FIXED_EVENTS:
        for count, sender_level, levels in ((2, 0, {}), (5, 100, {"invite": 50, "room": 100})):
            evaluator = EventEvaluator(
                event,
                room_member_count=count,
                sender_power_level=sender_level,
                notification_levels={"room": levels.get("room", 50)},
                action_levels={"invite": levels.get("invite", 0)},
            )
            for legacy in (False, True):
                for user_id, name in zip(USERS, ("Alice", "Bob Smith", None, "Dave"), strict=True):
                    rules = default_rules(user_id, legacy_mention_rules=legacy)
                    ctx = PushContext(
                        user_id=user_id,
                        user_display_name=name,
                        room_member_count=count,
                        sender_power_level=sender_level,
                        recipient_power_level=50,
                        notification_levels=evaluator.notification_levels,
                        action_levels=evaluator.action_levels,
                    )
                    expected = first_match(rules, event, ctx)
                    found = evaluator.match(
                        compile_ruleset(rules), user_id, display_name=name, power_level=50
                    )
                    assert (None if found is None else (found.kind, found.rule)) == expected
                    if expected is not None:
                        decided.add(expected[1]["rule_id"])
    assert decided >= {
        ".m.rule.invite_for_me",
        ".org.matrix.msc4506.rule.knock",
        ".m.rule.member_event",
        ".m.rule.is_user_mention",
        ".m.rule.is_room_mention",
        ".m.rule.roomnotif",
        ".m.rule.contains_display_name",
        ".m.rule.contains_user_name",
        ".m.rule.tombstone",
        ".m.rule.room.server_acl",
        ".m.rule.suppress_edits",
        ".m.rule.suppress_notices",
        ".m.rule.reaction",
        ".m.rule.call",
        ".m.rule.encrypted_room_one_to_one",
        ".m.rule.room_one_to_one",
        ".m.rule.message",
        ".m.rule.encrypted",
    }


def test_memo_keeps_apart_conditions_that_differ_only_subtly() -> None:
    """Value types (True is not 1), ``is`` bounds and the recipient's own level, name and ID each
    give their own result within one event, whatever the order of the recipients."""
    event = {
        "type": "m.room.message",
        "sender": USERS[3],
        "content": {"n": True, "list": [1], "body": "hi Bob"},
    }
    conditions: list[tuple[dict[str, Any], str | None, int]] = [
        ({"kind": "event_property_is", "key": "content.n", "value": 1}, None, 0),
        ({"kind": "event_property_is", "key": "content.n", "value": True}, None, 0),
        ({"kind": "event_property_is", "key": "content.n", "value": "1"}, None, 0),
        ({"kind": "event_property_contains", "key": "content.list", "value": True}, None, 0),
        ({"kind": "event_property_contains", "key": "content.list", "value": 1}, None, 0),
        ({"kind": "room_member_count", "is": "3"}, None, 0),
        ({"kind": "room_member_count", "is": ">3"}, None, 0),
        ({"kind": "room_member_count", "is": "<4"}, None, 0),
        ({"kind": RECIPIENT_PERMISSION, "key": "invite"}, None, 100),
        ({"kind": RECIPIENT_PERMISSION, "key": "invite"}, None, 0),
        ({"kind": "contains_display_name"}, "Bob", 0),
        ({"kind": "contains_display_name"}, "Alice", 0),
    ]
    expected = [False, True, False, False, True, True, False, True, True, False, True, False]
    for order in (conditions, conditions[::-1]):
        evaluator = EventEvaluator(event, room_member_count=3, action_levels={"invite": 50})
        results = {}
        for cond, name, level in order:
            rules = {"override": [{"rule_id": "r", "conditions": [cond], "actions": ["notify"]}]}
            found = evaluator.match(
                compile_ruleset(rules), USERS[0], display_name=name, power_level=level
            )
            results[id(cond), level, name] = found is not None
        assert [results[id(c), lv, n] for c, n, lv in conditions] == expected

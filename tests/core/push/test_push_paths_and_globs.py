"""Dot-separated property paths and glob-style matching (spec: appendices)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transom.core.push.globbing import contains_literal_words, glob_matches
from transom.core.push.paths import MISSING, lookup, split_path


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("content.body", ("content", "body")),
        ("type", ("type",)),
        ("content.m\\.relates_to.rel_type", ("content", "m.relates_to", "rel_type")),
        # "a content property named m\foo would be expressed as content.m\\foo"
        ("content.m\\\\foo", ("content", "m\\foo")),
        # "Other escape sequences are left as-is, e.g. a \x would be treated as a literal
        # backslash followed by 'x'."
        ("content.a\\xb", ("content", "a\\xb")),
        ("trailing\\", ("trailing\\",)),
        ("a..b", ("a", "", "b")),
        ("m\\.mentions\\\\.room", ("m.mentions\\", "room")),
    ],
)
def test_split_path(path: str, parts: tuple[str, ...]) -> None:
    assert split_path(path) == parts


def test_lookup_follows_escaped_paths() -> None:
    event = {
        "content": {"m.relates_to": {"rel_type": "m.replace"}, "m": {"relates_to": "nested"}},
        "state_key": None,
    }
    assert lookup(event, "content.m\\.relates_to.rel_type") == "m.replace"
    assert lookup(event, "content.m.relates_to") == "nested"
    assert lookup(event, "state_key") is None
    assert lookup(event, "missing") is MISSING
    assert lookup(event, "content.m\\.relates_to.rel_type.deeper") is MISSING
    assert lookup({"content": ["body"]}, "content.0") is MISSING


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        # Spec example for event_match on content.topic with pattern lunc?*
        ("lunc?*", "Lunch plans", True),
        ("lunc?*", "LUNCH", True),
        ("lunc?*", " lunch", False),
        ("lunc?*", "lunc", False),
        ("m.notice", "m.notice", True),
        ("m.notice", "m.noticeX", False),
        ("m.notice", "mxnotice", False),  # '.' is literal, not a regex wildcard
        ("[ab]", "[AB]", True),
        ("[ab]", "a", False),
        ("*", "", True),
        ("", "", True),
        ("", "x", False),
        ("a*b", "a\nb", True),  # '*' spans newlines
    ],
)
def test_whole_value_glob(pattern: str, value: str, matches: bool) -> None:
    assert glob_matches(pattern, value) is matches


@pytest.mark.parametrize(
    ("pattern", "body", "matches"),
    [
        # Spec example for content.body with pattern ex*ple.
        ("ex*ple", "An example event.", True),
        ("ex*ple", "exple", True),
        ("ex*ple", "An exciting triple-whammy", True),
        ("ex*ple", "examples", False),
        ("ex*ple", "Anexample", False),
        ("cake", "I like CAKE!", True),
        ("cake", "cakes", False),
        ("cake", "cake_shop", False),  # '_' is a word character
        ("cake", "café cake", True),
        ("@room", "hello @room", True),
        ("@room", "hello x@room", False),
        ("@room", "@roomy", False),
        ("caf?", "a café", True),  # 'é' is not a word character, but is a character
    ],
)
def test_body_word_boundary_glob(pattern: str, body: str, matches: bool) -> None:
    assert glob_matches(pattern, body, word_boundary=True) is matches


def test_literal_words() -> None:
    assert contains_literal_words("Alice", "hi alice!")
    assert not contains_literal_words("Alice", "Alicette")
    assert contains_literal_words("a.b*", "see a.b* here")
    assert not contains_literal_words("a.b*", "see axbc here")


def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace(".", "\\.")


@settings(max_examples=200)
@given(st.lists(st.text(alphabet="ab.\\x", max_size=6), min_size=1, max_size=4))
def test_escaped_names_round_trip(names: list[str]) -> None:
    path = ".".join(_escape(n) for n in names)
    assert split_path(path) == tuple(names)


@settings(max_examples=200)
@given(st.text(max_size=12), st.text(max_size=12))
def test_a_literal_glob_matches_itself_and_a_star_extends_it(pattern: str, value: str) -> None:
    literal = pattern.replace("*", "").replace("?", "")
    assert glob_matches(literal, literal)
    assert glob_matches(literal + "*", literal + value)
    assert glob_matches(literal + "?", literal + value) is (len(value) == 1)

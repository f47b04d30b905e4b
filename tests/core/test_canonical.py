"""Canonical JSON (appendices "Canonical JSON"; fragment v6-canonical-json for strictness)."""

from __future__ import annotations

import json
from pathlib import Path

import canonicaljson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transom.core.canonical import check_strict_json, encode_canonical_json, parse_json
from transom.core.errors import InvalidCanonicalJson
from transom.core.room_versions import KNOWN_ROOM_VERSIONS, V5, V6

VECTORS = json.loads((Path(__file__).parent / "vectors" / "canonical_json.json").read_text())


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["canonical"][:30])
def test_appendix_examples(case: dict[str, str]) -> None:
    value = parse_json(case["input"])
    assert encode_canonical_json(value) == case["canonical"].encode("utf-8")
    # Every example is also valid strict (v6+) canonical JSON.
    assert encode_canonical_json(value, V6) == case["canonical"].encode("utf-8")


def test_vectors_cover_the_appendix() -> None:
    assert len(VECTORS["cases"]) == 10


safe_ints = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
json_scalars = st.none() | st.booleans() | safe_ints | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_matches_the_canonicaljson_library(value: object) -> None:
    expected = canonicaljson.encode_canonical_json(value)
    assert encode_canonical_json(value) == expected
    assert encode_canonical_json(value, V6) == expected
    # Canonical output parses back to the same value.
    assert parse_json(expected) == value


@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["a", "b"]))
def test_strict_mode_rejects_nested_floats(number: float, key: str) -> None:
    value = {"content": {key: [1, {"x": number}]}}
    with pytest.raises(InvalidCanonicalJson, match="float"):
        encode_canonical_json(value, V6)
    # v1–v5 tolerate floats (appendices warning on room versions 1 to 5).
    assert encode_canonical_json(value, V5) == canonicaljson.encode_canonical_json(value)


@given(st.integers(min_value=2**53) | st.integers(max_value=-(2**53)))
def test_strict_mode_rejects_unsafe_integers(number: int) -> None:
    with pytest.raises(InvalidCanonicalJson, match="out of the canonical JSON range"):
        encode_canonical_json({"a": [{"b": number}]}, V6)


def test_range_boundaries() -> None:
    check_strict_json([2**53 - 1, -(2**53) + 1])
    for bad in (2**53, -(2**53)):
        with pytest.raises(InvalidCanonicalJson):
            check_strict_json({"depth": bad})


def test_strict_from_v6_only() -> None:
    strict = {v.identifier for v in KNOWN_ROOM_VERSIONS.values() if v.strict_canonical_json}
    assert strict == {"6", "7", "8", "9", "10", "11", "12"}


def test_booleans_are_not_integers_and_other_types_fail() -> None:
    check_strict_json({"a": True, "b": None, "c": ("x",)})
    with pytest.raises(InvalidCanonicalJson, match="type set"):
        check_strict_json({"a": {1}})
    with pytest.raises(InvalidCanonicalJson):
        encode_canonical_json({"a": object()})


def test_parse_json_rejects_non_json_constants_and_garbage() -> None:
    with pytest.raises(InvalidCanonicalJson):
        parse_json('{"a": NaN}')
    with pytest.raises(InvalidCanonicalJson):
        parse_json("{")
    # A fraction that is not an integer stays a float, which strict mode rejects.
    value = parse_json('{"a": 1.5}')
    with pytest.raises(InvalidCanonicalJson):
        check_strict_json(value)

"""X-Matrix request authentication (server-server API "Request Authentication")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nacl.signing import SigningKey as NaclSigningKey
from signedjson.key import decode_signing_key_base64, get_verify_key
from signedjson.sign import sign_json as reference_sign_json

from transom.core.errors import SignatureError
from transom.core.xmatrix import (
    XMatrixAuth,
    build_authorization_header,
    parse_authorization_header,
    verify_request,
)

KEY = json.loads((Path(__file__).parent / "vectors" / "signing_key.json").read_text())
SIGNING_KEY = decode_signing_key_base64("ed25519", "1", KEY["seed"])
VERIFY_KEY = get_verify_key(SIGNING_KEY)
URI = "/_matrix/federation/v1/send_knock/!r:dest.example/$e?x=1"
BODY = {"type": "m.room.member", "content": {"membership": "knock"}}


def _header(content: object | None = BODY, destination: str = "dest.example") -> str:
    return build_authorization_header(
        origin="origin.example",
        destination=destination,
        key_id="ed25519:1",
        signing_key=SIGNING_KEY,
        method="PUT",
        uri=URI,
        content=content,
    )


def test_header_matches_the_spec_algorithm() -> None:
    # The spec's authorization_headers(): sign_json over method, uri, origin, destination,
    # content, then format origin/destination/key/sig quoted with one space after X-Matrix.
    signed = reference_sign_json(
        {
            "method": "PUT",
            "uri": URI,
            "origin": "origin.example",
            "destination": "dest.example",
            "content": BODY,
        },
        "origin.example",
        SIGNING_KEY,
    )
    sig = signed["signatures"]["origin.example"]["ed25519:1"]
    assert _header() == (
        f'X-Matrix origin="origin.example",destination="dest.example",key="ed25519:1",sig="{sig}"'
    )


@pytest.mark.parametrize("content", [BODY, None, {}])
def test_round_trip(content: object | None) -> None:
    auth = parse_authorization_header(_header(content))
    assert auth.origin == "origin.example" and auth.destination == "dest.example"
    assert auth.key_id == "ed25519:1"
    verify_request(
        auth, method="PUT", uri=URI, content=content, destination="dest.example",
        verify_key=VERIFY_KEY,
    )  # fmt: skip


def test_tampering_is_detected() -> None:
    auth = parse_authorization_header(_header())
    kwargs = {"method": "PUT", "uri": URI, "content": BODY, "destination": "dest.example"}
    for change in (
        {"method": "POST"},
        {"uri": URI + "&y=2"},
        {"content": {**BODY, "x": 1}},
        {"content": None},
    ):
        with pytest.raises(SignatureError):
            verify_request(auth, **{**kwargs, **change}, verify_key=VERIFY_KEY)  # type: ignore[arg-type]
    other = NaclSigningKey(b"\x05" * 32).verify_key
    with pytest.raises(SignatureError):
        verify_request(auth, **kwargs, verify_key=other)  # type: ignore[arg-type]


def test_destination_mismatch_is_refused() -> None:
    auth = parse_authorization_header(_header(destination="someone.else"))
    with pytest.raises(SignatureError, match="not to this server"):
        verify_request(
            auth, method="PUT", uri=URI, content=BODY, destination="dest.example",
            verify_key=VERIFY_KEY,
        )  # fmt: skip


def test_header_without_destination_is_checked_against_our_name() -> None:
    header = _header()
    sig = parse_authorization_header(header).signature
    legacy = f'X-Matrix origin=origin.example,key="ed25519:1",sig="{sig}"'
    auth = parse_authorization_header(legacy)
    assert auth.destination is None
    verify_request(
        auth, method="PUT", uri=URI, content=BODY, destination="dest.example",
        verify_key=VERIFY_KEY,
    )  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        'X-Matrix origin="o.example",destination="d.example",key="ed25519:1",sig="c2ln"',
        "x-matrix   ORIGIN=o.example , Destination=d.example,\tkey=ed25519:1 ,sig=c2ln",
        'X-Matrix sig="c2ln",key=ed25519:1,unknown="ignored, really",origin=o.example,'
        "destination=d.example",
        'X-Matrix origin="o\\.example",destination=d.example,key="ed25519:1",sig="c2ln"',
    ],
)
def test_parse_tolerates_spec_variants(value: str) -> None:
    assert parse_authorization_header(value) == XMatrixAuth(
        origin="o.example", destination="d.example", key_id="ed25519:1", signature="c2ln"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Bearer abc", "X-Matrix scheme"),
        ("X-Matrix", "X-Matrix scheme"),
        ("X-Matrix origin=o,key=k", "lacks sig"),
        ("X-Matrix key=k,sig=s", "lacks origin"),
        ('X-Matrix origin="unterminated,key=k,sig=s', "malformed"),
        ("X-Matrix origin=a b,key=k,sig=s", "malformed"),
        ("X-Matrix origin=o,origin=p,key=k,sig=s", "twice"),
        ("X-Matrix origin=o,key=k,sig=s,", "stray comma"),
        ("X-Matrix =o,key=k,sig=s", "malformed"),
        ("X-Matrix origin=bad_host,key=k,sig=s", "origin 'bad_host' is not a valid server name"),
        ('X-Matrix origin=o,destination="d:0",key=k,sig=s', "destination 'd:0' is not a valid"),
    ],
)
def test_parse_rejects_malformed(value: str, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        parse_authorization_header(value)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(SignatureError, match="must be a string"):
        parse_authorization_header(None)  # type: ignore[arg-type]

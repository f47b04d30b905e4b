"""The key ring against a scripted key server: response checks, caching, refetching, old keys,
and key validity for events (server-server API "Retrieving server keys", "Validating hashes and
signatures on received events": from v5 the key must be valid at ``origin_server_ts``)."""

from __future__ import annotations

from typing import Any

import pytest
from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from signedjson.types import SigningKey

from transom.core.errors import SignatureError
from transom.core.hashing import add_content_hash
from transom.core.room_versions import V4, V5, V10
from transom.core.signing import sign_event, sign_json
from transom.services.clock import ManualClock
from transom.services.federation.client import FederationUnreachable
from transom.services.federation.keyring import (
    MAX_VALIDITY_MS,
    KeyFetchError,
    KeyRing,
    parse_key_response,
)
from transom.storage import Store
from transom.storage.server_keys import ServerKeyStore

REMOTE = "remote.example"
NOW = 1_700_000_000_000


class ScriptedKeyServer:
    """Stands in for the federation client: answers key requests with ``self.response``."""

    def __init__(self) -> None:
        self.response: Any = None
        self.calls = 0

    async def get_json(self, destination: str, path: str, **kw: Any) -> Any:
        self.calls += 1
        assert path == "/_matrix/key/v2/server"
        if self.response is None:
            raise FederationUnreachable(destination, "down")
        return self.response


def key_response(
    keys: list[SigningKey],
    valid_until: int,
    old: dict[str, tuple[SigningKey, int]] | None = None,
    signers: list[SigningKey] | None = None,
    server_name: str = REMOTE,
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "server_name": server_name,
        "valid_until_ts": valid_until,
        "verify_keys": {
            f"ed25519:{k.version}": {"key": encode_verify_key_base64(get_verify_key(k))}
            for k in keys
        },
        "old_verify_keys": {
            key_id: {"key": encode_verify_key_base64(get_verify_key(k)), "expired_ts": ts}
            for key_id, (k, ts) in (old or {}).items()
        },
    }
    for key in keys if signers is None else signers:
        response = sign_json(response, REMOTE, key)
    return response


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW / 1000)


@pytest.fixture
def keyserver() -> ScriptedKeyServer:
    return ScriptedKeyServer()


@pytest.fixture
def keyring(store: Store, clock: ManualClock, keyserver: ScriptedKeyServer) -> KeyRing:
    own = generate_signing_key("own")
    return KeyRing("local.example", own, clock, ServerKeyStore(store.db), keyserver)  # type: ignore[arg-type]


def signed_event(key: SigningKey, room_version: Any, ts: int) -> dict[str, Any]:
    pdu: dict[str, Any] = {
        "room_id": "!room:remote.example",
        "type": "m.room.message",
        "sender": "@alice:remote.example",
        "content": {"body": "hi"},
        "depth": 5,
        "origin_server_ts": ts,
        "prev_events": ["$prev"],
        "auth_events": ["$create"],
    }
    return sign_event(add_content_hash(pdu), room_version, REMOTE, key)


def test_parse_rejects_bad_responses() -> None:
    k1, k2 = generate_signing_key("a"), generate_signing_key("b")
    good = key_response([k1, k2], NOW + 1000)
    current, rows = parse_key_response(REMOTE, good, NOW)
    assert set(current) == {"ed25519:a", "ed25519:b"}
    assert {r.valid_until_ts for r in rows} == {NOW + 1000}
    bad_cases = [
        key_response([k1], NOW, server_name="other.example"),  # not the server asked
        key_response([k1, k2], NOW, signers=[k1]),  # not signed by every listed key
        key_response([k1], NOW, signers=[k2]),  # signed by a key it does not list
        {**good, "verify_keys": {}},
        {**good, "valid_until_ts": "soon"},
        {**good, "verify_keys": {**good["verify_keys"], "ed25519:a": {"key": "!!"}}},
    ]
    for bad in bad_cases:
        with pytest.raises(KeyFetchError):
            parse_key_response(REMOTE, bad, NOW)


def test_validity_capped_at_seven_days() -> None:
    key = generate_signing_key("a")
    _, rows = parse_key_response(REMOTE, key_response([key], NOW + 10 * MAX_VALIDITY_MS), NOW)
    assert rows[0].valid_until_ts == NOW + MAX_VALIDITY_MS


async def test_cache_refetch_and_old_keys(keyring: KeyRing, keyserver: ScriptedKeyServer) -> None:
    old, new = generate_signing_key("old"), generate_signing_key("new")
    keyserver.response = key_response([new], NOW + 1000, old={"ed25519:old": (old, NOW - 500)})
    keys = await keyring.get_server_verify_keys(REMOTE, ["ed25519:new", "ed25519:old"])
    assert set(keys) == {"ed25519:new", "ed25519:old"}
    assert keyserver.calls == 1
    # Cached: no new request while the key is valid long enough.
    await keyring.get_server_verify_keys(REMOTE, ["ed25519:new"], min_valid_until_ts=NOW + 1000)
    assert keyserver.calls == 1
    # The old key expired before NOW: asking again won't help, it is simply not returned.
    keys = await keyring.get_server_verify_keys(REMOTE, ["ed25519:old"], min_valid_until_ts=NOW)
    assert keys == {}
    assert keyserver.calls == 1
    # Needed beyond its validity: refetch; the server now vouches for longer.
    keyserver.response = key_response([new], NOW + 5000)
    keys = await keyring.get_server_verify_keys(
        REMOTE, ["ed25519:new"], min_valid_until_ts=NOW + 2000
    )
    assert set(keys) == {"ed25519:new"}
    assert keyserver.calls == 2
    # Server unreachable and the key not valid long enough: nothing usable.
    keyserver.response = None
    keys = await keyring.get_server_verify_keys(
        REMOTE, ["ed25519:new"], min_valid_until_ts=NOW + 9000
    )
    assert keys == {}
    assert keyserver.calls == 3


async def test_bad_response_is_not_cached(keyring: KeyRing, keyserver: ScriptedKeyServer) -> None:
    key, other = generate_signing_key("a"), generate_signing_key("b")
    keyserver.response = key_response([key], NOW + 1000, signers=[other])
    assert await keyring.get_server_verify_keys(REMOTE, ["ed25519:a"]) == {}
    assert await keyring.store.get_keys(REMOTE) == {}


@pytest.mark.parametrize("room_version", [V4, V5, V10])
async def test_event_key_validity(
    keyring: KeyRing, keyserver: ScriptedKeyServer, room_version: Any
) -> None:
    key = generate_signing_key("k")
    keyserver.response = key_response([key], NOW + 1000)
    # Signed within the key's validity: fine in every version.
    await keyring.verify_event(signed_event(key, room_version, NOW + 500), room_version)
    late = signed_event(key, room_version, NOW + 2000)
    keyserver.response = None  # the server can't vouch for longer
    if room_version.enforce_key_validity:
        with pytest.raises(SignatureError):
            await keyring.verify_event(late, room_version)
    else:
        await keyring.verify_event(late, room_version)  # v1-v4: any known key counts


async def test_event_signature_checks(keyring: KeyRing, keyserver: ScriptedKeyServer) -> None:
    key, stranger = generate_signing_key("k"), generate_signing_key("s")
    keyserver.response = key_response([key], NOW + 1000)
    pdu = signed_event(key, V10, NOW)
    tampered = {**pdu, "sender": "@mallory:remote.example", "depth": 6}
    with pytest.raises(SignatureError):
        await keyring.verify_event(tampered, V10)
    with pytest.raises(SignatureError):
        await keyring.verify_event(signed_event(stranger, V10, NOW), V10)
    unsigned = {k: v for k, v in pdu.items() if k != "signatures"}
    with pytest.raises(SignatureError):
        await keyring.verify_event(unsigned, V10)
    # A redacted copy verifies as well as the full event.
    await keyring.verify_event({**pdu, "content": {}}, V10)


async def test_verify_json_from(keyring: KeyRing, keyserver: ScriptedKeyServer) -> None:
    key = generate_signing_key("k")
    keyserver.response = key_response([key], NOW + 1000)
    obj = sign_json({"a": 1}, REMOTE, key)
    await keyring.verify_json_from(REMOTE, obj, at_ts=NOW)
    with pytest.raises(SignatureError):
        await keyring.verify_json_from(REMOTE, {**obj, "a": 2})
    with pytest.raises(SignatureError):
        await keyring.verify_json_from(REMOTE, obj, at_ts=NOW + 5000)

"""The key ring: remote servers' signing keys, fetched, verified, cached (server-server API
"Retrieving server keys", "Publishing Keys") and used to check signed JSON and events
("Validating hashes and signatures on received events").

Keys are fetched directly from the server's ``GET /_matrix/key/v2/server``; a response counts
only if its ``server_name`` is the one asked for and it is signed by every key it lists in
``verify_keys``. Each key is stored with the time until which it may be used: the response's
``valid_until_ts``, capped at 7 days ahead ("Servers MUST use the lesser of this field and 7
days into the future"), or the ``expired_ts`` of an ``old_verify_keys`` entry. Our own key is
answered locally. Fetches of one server are serialised so concurrent callers share one fetch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from nacl.signing import VerifyKey
from signedjson.key import get_verify_key
from signedjson.types import SigningKey
from unpaddedbase64 import decode_base64, encode_base64

from transom.core.errors import SignatureError
from transom.core.events import Event, JsonDict
from transom.core.hashing import compute_event_id
from transom.core.room_versions import RoomVersion
from transom.core.signing import (
    SUPPORTED_ALGORITHMS,
    required_signers,
    sign_json,
    verify_event_signatures,
    verify_json,
)
from transom.services.clock import Clock
from transom.services.federation.client import (
    FederationClient,
    FederationError,
    FederationUnreachable,
)
from transom.storage.server_keys import ServerKeyStore, StoredKey

logger = logging.getLogger(__name__)

KEY_SERVER_PATH = "/_matrix/key/v2/server"
MAX_VALIDITY_MS = 7 * 24 * 3600 * 1000  # "the lesser of this field and 7 days into the future"
OWN_KEY_VALIDITY_MS = 24 * 3600 * 1000  # what our own key server advertises


class KeyFetchError(Exception):
    """A key response could not be fetched or was not acceptable."""


def _decode_key(key_id: str, value: Any) -> VerifyKey:
    if not isinstance(value, str):
        raise KeyFetchError(f"key {key_id} is not a string")
    try:
        return VerifyKey(decode_base64(value))
    except Exception as e:
        raise KeyFetchError(f"key {key_id} cannot be decoded: {e}") from None


def parse_key_response(
    server_name: str, response: Any, now: int
) -> tuple[dict[str, VerifyKey], list[StoredKey]]:
    """Check a ``/_matrix/key/v2/server`` response and read its keys.

    Returns the current keys and the rows to store (current and old keys). Raises
    ``KeyFetchError`` if the response is not for ``server_name``, is malformed, or is not
    signed by every key in ``verify_keys``.
    """
    if not isinstance(response, dict) or response.get("server_name") != server_name:
        raise KeyFetchError(f"response is not a key response for {server_name}")
    valid_until = response.get("valid_until_ts")
    verify_keys = response.get("verify_keys")
    old_keys = response.get("old_verify_keys", {})
    if not isinstance(valid_until, int) or isinstance(valid_until, bool):
        raise KeyFetchError("valid_until_ts missing or not an integer")
    if not isinstance(verify_keys, dict) or not verify_keys:
        raise KeyFetchError("verify_keys missing or empty")
    if not isinstance(old_keys, dict):
        raise KeyFetchError("old_verify_keys is not an object")
    signatures = response.get("signatures")
    if not isinstance(signatures, dict) or not isinstance(signatures.get(server_name), dict):
        raise KeyFetchError(f"response not signed by {server_name}")
    current = {}
    for key_id, entry in verify_keys.items():
        if key_id.split(":", 1)[0] not in SUPPORTED_ALGORITHMS:
            continue  # appendices "Checking for a Signature": unknown algorithms are skipped
        current[key_id] = _decode_key(key_id, entry.get("key") if isinstance(entry, dict) else 0)
    # "Publishing Keys": the response is signed by the keys it publishes; all must verify.
    if not current:
        raise KeyFetchError("no ed25519 key in verify_keys")
    unsigned = [key_id for key_id in current if key_id not in signatures[server_name]]
    if unsigned:
        raise KeyFetchError(f"response not signed by {', '.join(sorted(unsigned))}")
    try:
        verify_json(response, server_name, current)
    except SignatureError as e:
        raise KeyFetchError(str(e)) from None
    usable_until = min(valid_until, now + MAX_VALIDITY_MS)
    rows = [
        StoredKey(server_name, key_id, encode_base64(bytes(key)), usable_until, None, now)
        for key_id, key in current.items()
    ]
    for key_id, entry in old_keys.items():
        if not isinstance(entry, dict) or key_id in current:
            continue
        if key_id.split(":", 1)[0] not in SUPPORTED_ALGORITHMS:
            continue
        expired = entry.get("expired_ts")
        if not isinstance(expired, int) or isinstance(expired, bool):
            continue
        key = _decode_key(key_id, entry.get("key"))
        rows.append(
            StoredKey(server_name, key_id, encode_base64(bytes(key)), expired, expired, now)
        )
    return current, rows


class KeyRing:
    def __init__(
        self,
        server_name: str,
        signing_key: SigningKey,
        clock: Clock,
        store: ServerKeyStore,
        client: FederationClient,
    ) -> None:
        self.server_name = server_name
        self.signing_key = signing_key
        self.clock = clock
        self.store = store
        self.client = client
        self._locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ our own keys

    def own_key_response(self) -> JsonDict:
        """This server's ``/_matrix/key/v2/server`` response, self-signed."""
        key_id = f"{self.signing_key.alg}:{self.signing_key.version}"
        response: JsonDict = {
            "server_name": self.server_name,
            "valid_until_ts": self.clock.time_msec() + OWN_KEY_VALIDITY_MS,
            "verify_keys": {
                key_id: {"key": encode_base64(bytes(get_verify_key(self.signing_key)))}
            },
            "old_verify_keys": {},
        }
        return sign_json(response, self.server_name, self.signing_key)

    def _own_keys(self) -> dict[str, VerifyKey]:
        key_id = f"{self.signing_key.alg}:{self.signing_key.version}"
        return {key_id: VerifyKey(bytes(get_verify_key(self.signing_key)))}

    # ------------------------------------------------------------------ remote keys

    async def get_server_verify_keys(
        self, server_name: str, key_ids: Iterable[str], *, min_valid_until_ts: int = 0
    ) -> dict[str, VerifyKey]:
        """The keys among ``key_ids`` of ``server_name`` usable until ``min_valid_until_ts``.

        Cached keys are used when known and valid long enough; otherwise the server is asked
        (once per call). Keys still missing or expired after that are left out of the result.
        """
        wanted = set(key_ids)
        if server_name == self.server_name:
            return {k: v for k, v in self._own_keys().items() if k in wanted}
        stored = await self.store.get_keys(server_name, wanted)
        if not self._enough(stored, wanted, min_valid_until_ts):
            async with self._locks.setdefault(server_name, asyncio.Lock()):
                # Another caller may have fetched while we waited for the lock.
                stored = await self.store.get_keys(server_name, wanted)
                if not self._enough(stored, wanted, min_valid_until_ts):
                    await self._fetch_and_store(server_name)
                    stored = await self.store.get_keys(server_name, wanted)
        return {
            key_id: VerifyKey(decode_base64(key.verify_key))
            for key_id, key in stored.items()
            if key.valid_until_ts >= min_valid_until_ts
        }

    @staticmethod
    def _enough(stored: dict[str, StoredKey], wanted: set[str], min_valid: int) -> bool:
        for key_id in wanted:
            key = stored.get(key_id)
            # An expired old key will not get better by asking again.
            if key is None or (key.expired_ts is None and key.valid_until_ts < min_valid):
                return False
        return True

    async def _fetch_and_store(self, server_name: str) -> JsonDict | None:
        """Fetch, verify and store ``server_name``'s key response; None if that failed."""
        try:
            response = await self.client.get_json(server_name, KEY_SERVER_PATH, timeout=15)
            now = self.clock.time_msec()
            _, rows = parse_key_response(server_name, response, now)
        except (FederationError, FederationUnreachable, KeyFetchError) as e:
            logger.info("Fetching the keys of %s failed: %s", server_name, e)
            return None
        await self.store.store_response(server_name, response, rows, now)
        result: JsonDict = response
        return result

    async def get_key_response(
        self, server_name: str, min_valid_until_ts: int, key_ids: Iterable[str] = ()
    ) -> JsonDict | None:
        """A self-signed key response of ``server_name`` for the notary endpoints: the cached
        one if valid until ``min_valid_until_ts`` and listing every key in ``key_ids``, else a
        fresh one, else (the server being unreachable) whatever is cached."""
        if server_name == self.server_name:
            return self.own_key_response()
        cached = await self.store.get_response(server_name)
        if cached is not None and cached[1] >= min_valid_until_ts:
            listed = {*cached[0].get("verify_keys", {}), *cached[0].get("old_verify_keys", {})}
            if set(key_ids) <= listed:
                return cached[0]
        async with self._locks.setdefault(server_name, asyncio.Lock()):
            fresh = await self._fetch_and_store(server_name)
        if fresh is not None:
            return fresh
        return cached[0] if cached is not None else None

    # ------------------------------------------------------------------ verification

    async def verify_json_from(self, server_name: str, obj: JsonDict, *, at_ts: int = 0) -> None:
        """Check that ``server_name`` signed ``obj`` with keys valid at ``at_ts``; raise
        ``SignatureError`` if not."""
        verify_json(obj, server_name, await self._keys_for(server_name, obj, at_ts))

    async def verify_event(self, pdu: JsonDict, room_version: RoomVersion) -> None:
        """Check the signatures on a received event; raise ``SignatureError`` if they fail.

        "Validating hashes and signatures on received events": every server in
        ``required_signers`` must have signed the redacted event. From v5
        (``enforce_key_validity``) a key counts only if it was valid at the event's
        ``origin_server_ts``; in v1-v4 any known key counts.
        """
        event = Event(pdu, room_version, compute_event_id(pdu, room_version))
        at_ts = event.origin_server_ts if room_version.enforce_key_validity else 0
        keys = {}
        for server_name in required_signers(event):
            keys[server_name] = await self._keys_for(server_name, pdu, at_ts)
        verify_event_signatures(pdu, room_version, keys)

    async def _keys_for(self, server_name: str, obj: JsonDict, at_ts: int) -> dict[str, VerifyKey]:
        signatures = obj.get("signatures")
        by_server = signatures.get(server_name) if isinstance(signatures, dict) else None
        if not isinstance(by_server, dict) or not by_server:
            raise SignatureError(f"no signature from {server_name}")
        return await self.get_server_verify_keys(
            server_name, list(by_server), min_valid_until_ts=at_ts
        )

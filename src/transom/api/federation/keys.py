"""``GET /_matrix/key/v2/server`` (server-server API, "Publishing Keys"): this server's signing
key, self-signed, with ``valid_until_ts`` one day ahead."""

from __future__ import annotations

from typing import Any

from signedjson.key import encode_verify_key_base64, get_verify_key
from signedjson.sign import sign_json

from transom.api.routing import ApiRequest, Route

KEY_VALIDITY_MS = 24 * 60 * 60 * 1000


async def get_server_keys(req: ApiRequest) -> dict[str, Any]:
    hs = req.hs
    key = hs.config.signing_key
    key_id = f"{key.alg}:{key.version}"
    response = {
        "server_name": hs.config.server_name,
        "valid_until_ts": hs.clock.time_msec() + KEY_VALIDITY_MS,
        "verify_keys": {key_id: {"key": encode_verify_key_base64(get_verify_key(key))}},
        "old_verify_keys": {},
    }
    signed: dict[str, Any] = sign_json(response, hs.config.server_name, key)
    return signed


def routes(hs: object) -> list[Route]:
    return [Route("GET", ("/_matrix/key/v2/server",), get_server_keys)]

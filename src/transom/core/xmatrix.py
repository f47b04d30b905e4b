"""X-Matrix request authentication (server-server API "Authentication" → "Request
Authentication").

A request's method, target URI, origin, destination and JSON body are signed as a JSON object
(appendices "Signing JSON") and the signature travels in an ``Authorization: X-Matrix ...``
header. Header syntax follows RFC 9110 section 11.4 as the spec describes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nacl.signing import VerifyKey
from signedjson.types import SigningKey
from unpaddedbase64 import encode_base64

from transom.core.canonical import encode_canonical_json
from transom.core.errors import SignatureError
from transom.core.events import JsonDict
from transom.core.identifiers import is_valid_server_name
from transom.core.signing import verify_json

SCHEME = "X-Matrix"


@dataclass(frozen=True, slots=True)
class XMatrixAuth:
    """The parameters of an X-Matrix header; ``destination`` is None when absent."""

    origin: str
    destination: str | None
    key_id: str
    signature: str


def _request_json(
    method: str, uri: str, origin: str, destination: str, content: object | None
) -> JsonDict:
    # "Request Authentication" step 1: the signed object; `content` only when there is a body.
    request: JsonDict = {
        "method": method,
        "uri": uri,
        "origin": origin,
        "destination": destination,
    }
    if content is not None:
        request["content"] = content
    return request


def build_authorization_header(
    *,
    origin: str,
    destination: str,
    key_id: str,
    signing_key: SigningKey,
    method: str,
    uri: str,
    content: object | None,
) -> str:
    """The ``Authorization`` header value for a request from ``origin`` to ``destination``.

    ``uri`` is the full path from ``/_matrix/`` with the query string. Following the spec's
    advice for older servers: one space after the scheme, lower-case names, quoted values, no
    whitespace around commas.
    """
    message = encode_canonical_json(_request_json(method, uri, origin, destination, content))
    signature = encode_base64(signing_key.sign(message).signature)
    params = {"origin": origin, "destination": destination, "key": key_id, "sig": signature}
    return f"{SCHEME} " + ",".join(f"{name}={_quote(value)}" for name, value in params.items())


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# RFC 9110 auth-param: token BWS "=" BWS ( token / quoted-string ). Unquoted values are read up
# to the next comma or whitespace so that colons are accepted ("recipient should allow colons
# to be included in values without requiring the value to be enclosed in quotes").
_PARAM = re.compile(
    r"""[ \t]*(?P<name>[!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*
        (?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^,\s"]+))[ \t]*(?:,|$)""",
    re.VERBOSE,
)
_UNESCAPE = re.compile(r"\\(.)")


def parse_authorization_header(value: str) -> XMatrixAuth:
    """Parse an ``Authorization: X-Matrix ...`` value; raise ``SignatureError`` if malformed.

    The scheme and parameter names are case-insensitive, the order of parameters is free,
    values may be quoted (with backslash escapes) or not, unknown parameters are ignored.
    ``origin``, ``key`` and ``sig`` are required; ``destination`` is optional for older senders.
    """
    if not isinstance(value, str):
        raise SignatureError("Authorization header must be a string")
    scheme, sep, rest = value.strip().partition(" ")
    if scheme.lower() != SCHEME.lower() or not sep:
        raise SignatureError("Authorization header is not of the X-Matrix scheme")
    rest = rest.strip()
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if match is None or match.end() == pos:
            raise SignatureError(f"malformed X-Matrix parameter at {rest[pos:]!r}")
        name = match["name"].lower()
        if name in params:
            raise SignatureError(f"X-Matrix parameter {name!r} given twice")
        quoted = match["quoted"]
        params[name] = _UNESCAPE.sub(r"\1", quoted) if quoted is not None else match["token"]
        pos = match.end()
    if rest.endswith(","):
        raise SignatureError("X-Matrix parameters end with a stray comma")
    missing = [name for name in ("origin", "key", "sig") if not params.get(name)]
    if missing:
        raise SignatureError(f"X-Matrix header lacks {', '.join(missing)}")
    # "Request Authentication": origin and destination are server names (appendices "Server
    # Name"); refusing anything else here keeps junk out of key lookups and logs.
    for name in ("origin", "destination"):
        if name in params and not is_valid_server_name(params[name]):
            raise SignatureError(f"X-Matrix {name} {params[name]!r} is not a valid server name")
    return XMatrixAuth(
        origin=params["origin"],
        destination=params.get("destination"),
        key_id=params["key"],
        signature=params["sig"],
    )


def verify_request(
    auth: XMatrixAuth,
    *,
    method: str,
    uri: str,
    content: object | None,
    destination: str,
    verify_key: VerifyKey,
) -> None:
    """Check an X-Matrix signature against ``verify_key`` (the origin's key ``auth.key_id``).

    ``destination`` is this server's name. "Request Authentication": a ``destination``
    parameter naming another server must be refused (401); the signed JSON always names the
    receiving server.
    """
    if auth.destination is not None and auth.destination != destination:
        raise SignatureError(
            f"request is addressed to {auth.destination!r}, not to this server {destination!r}"
        )
    signed = _request_json(method, uri, auth.origin, destination, content)
    signed["signatures"] = {auth.origin: {auth.key_id: auth.signature}}
    verify_json(signed, auth.origin, {auth.key_id: verify_key})

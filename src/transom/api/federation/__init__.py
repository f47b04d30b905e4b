"""The server-server API. Adding an endpoint module is one line in ``MODULES``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from transom.api.federation import (
    hierarchy,
    keys,
    knocking,
    membership,
    public_rooms,
    query,
    reads,
    send,
    version,
)
from transom.api.routing import Route

if TYPE_CHECKING:
    from transom.app import HomeServer

MODULES = [version, send, reads, membership, query, public_rooms, hierarchy, knocking]
KEY_MODULES = [keys]


def federation_routes(hs: HomeServer) -> list[Route]:
    return [route for module in MODULES for route in module.routes(hs)]


def key_routes(hs: HomeServer) -> list[Route]:
    return [route for module in KEY_MODULES for route in module.routes(hs)]

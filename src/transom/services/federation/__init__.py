"""Federation services (server-server API): the signed outbound client with server discovery
(``client``, ``discovery``) and the key ring of remote servers' signing keys (``keyring``)."""

from transom.services.federation.client import (
    FederationClient,
    FederationError,
    FederationUnreachable,
)
from transom.services.federation.discovery import ResolvedServer, ServerDiscovery
from transom.services.federation.keyring import KeyRing

__all__ = [
    "FederationClient",
    "FederationError",
    "FederationUnreachable",
    "KeyRing",
    "ResolvedServer",
    "ServerDiscovery",
]

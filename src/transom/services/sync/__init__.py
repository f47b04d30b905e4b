"""``GET /sync`` and its notifier (client-server API "Syncing")."""

from transom.services.sync.service import SyncService

__all__ = ["SyncService"]

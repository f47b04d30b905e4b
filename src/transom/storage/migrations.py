"""Numbered schema migrations, applied in order and recorded in `schema_version`.

Spec: not covered by the Matrix spec; the project's own storage contract.

Files live in `transom/storage/migrations/` and are named `NNNN_name.sql` (one SQL text for both
engines). Where a dialect difference is unavoidable, write twins instead:
`NNNN_name.sqlite.sql` and `NNNN_name.postgres.sql`. Adding a file is all a new feature needs.
Each migration runs in its own transaction together with its `schema_version` row, so a failed
migration leaves nothing behind, and running `migrate` again applies only what is missing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from transom.storage.database import Database

_FILE_NAME = re.compile(r"^(?P<name>\d{4}_[a-z0-9_]+?)(?:\.(?P<engine>sqlite|postgres))?\.sql$")

_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    name TEXT PRIMARY KEY,
    applied_ts BIGINT NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    name: str  # e.g. "0001_accounts"
    sql: str


def load_migrations(engine: str) -> list[Migration]:
    """The migrations for `engine` ("sqlite" or "postgres"), in order."""
    generic: dict[str, str] = {}
    specific: dict[str, str] = {}
    folder = resources.files("transom.storage").joinpath("migrations")
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        file_engine = match.group("engine")
        if file_engine is None:
            generic[match.group("name")] = entry.read_text(encoding="utf-8")
        elif file_engine == engine:
            specific[match.group("name")] = entry.read_text(encoding="utf-8")
    chosen = {**generic, **specific}
    return [Migration(name, chosen[name]) for name in sorted(chosen)]


async def applied_migrations(db: Database) -> set[str]:
    await db.execute(_CREATE_VERSION_TABLE)
    rows = await db.fetch("SELECT name FROM schema_version")
    return {row["name"] for row in rows}


async def migrate(db: Database, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply every migration not yet recorded; return the names applied, in order.
    ``migrations``: these instead of the engine's own (tests of a failing migration)."""
    done = await applied_migrations(db)
    applied: list[str] = []
    for migration in load_migrations(db.engine) if migrations is None else migrations:
        if migration.name in done:
            continue
        async with db.transaction() as conn:
            if db.engine == "postgres":
                # Serialise concurrent migrators (several processes starting at once).
                await conn.execute("SELECT pg_advisory_xact_lock(7365723)")
            already = await conn.fetchval(
                "SELECT 1 FROM schema_version WHERE name = $1", migration.name
            )
            if already:
                continue
            await conn.executescript(migration.sql)
            await conn.execute(
                "INSERT INTO schema_version (name, applied_ts) VALUES ($1, $2)",
                migration.name,
                int(time.time() * 1000),
            )
        applied.append(migration.name)
    return applied

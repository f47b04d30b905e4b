"""transom.core.push stays pure (architecture: no asyncio, database, HTTP or clock in core)."""

from __future__ import annotations

import ast
from pathlib import Path

import transom.core.push as push

FORBIDDEN = {"asyncio", "aiohttp", "aiosqlite", "asyncpg", "time", "datetime", "random", "socket"}


def test_no_io_imports() -> None:
    for path in Path(push.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, (path.name, name)
                assert not name.startswith(("transom.storage", "transom.services", "transom.api"))

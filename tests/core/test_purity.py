"""``transom.core`` is pure (architecture guide, "Habits worth keeping" 2).

No asyncio, no database drivers, no HTTP or sockets, no clock, no randomness anywhere under
``src/transom/core``: every module is parsed with ``ast`` and its imports and calls are checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "src" / "transom" / "core"

FORBIDDEN_MODULES = (
    "asyncio",
    "sqlite3",
    "aiosqlite",
    "asyncpg",
    "psycopg",
    "psycopg2",
    "aiohttp",
    "http",
    "urllib.request",
    "socket",
    "requests",
    "time",
    "random",
    "secrets",
)
# (object, attribute) calls that read the clock or the system's randomness.
FORBIDDEN_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("os", "urandom")}


def _forbidden_module(name: str) -> bool:
    return any(
        name == bad or name.startswith(bad + ".") or (bad == "psycopg" and name.startswith(bad))
        for bad in FORBIDDEN_MODULES
    )


def violations(source: str, filename: str = "<module>") -> list[str]:
    """Every forbidden import or call in ``source``, as ``line: what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}" for a in node.names if _forbidden_module(a.name)
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _forbidden_module(node.module):
                found.append(f"{node.lineno}: from {node.module} import ...")
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if _forbidden_module(full) or (node.module, alias.name) in FORBIDDEN_CALLS:
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = (
                owner.id
                if isinstance(owner, ast.Name)
                else owner.attr
                if isinstance(owner, ast.Attribute)
                else None
            )
            if (owner_name, node.func.attr) in FORBIDDEN_CALLS:
                found.append(f"{node.lineno}: {owner_name}.{node.func.attr}()")
    return found


CORE_MODULES = sorted(CORE.rglob("*.py"))


def test_core_modules_are_found() -> None:
    names = {path.name for path in CORE_MODULES}
    assert {"canonical.py", "events.py", "room_versions.py"} <= names


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_is_pure(path: Path) -> None:
    assert violations(path.read_text("utf-8"), str(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio",
        "import time",
        "import random as r",
        "import secrets",
        "import socket",
        "import sqlite3",
        "import aiosqlite",
        "import asyncpg.pool",
        "import psycopg",
        "import psycopg2.extras",
        "import http.client",
        "import urllib.request",
        "from urllib import request",
        "from aiohttp import web",
        "import requests",
        "from time import monotonic",
        "from os import urandom",
        "import datetime\ndatetime.datetime.now()",
        "from datetime import datetime\ndatetime.utcnow()",
        "import os\nos.urandom(32)",
    ],
)
def test_checker_catches(source: str) -> None:
    assert violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import json",
        "import hashlib",
        "from datetime import datetime\ndatetime.fromtimestamp(0)",
        "import urllib.parse",
        "import timeit_free_name as timely",
        "from . import time",
    ],
)
def test_checker_allows(source: str) -> None:
    assert violations(source) == []

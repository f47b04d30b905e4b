"""``transom.core`` stays pure (architecture guide: no asyncio, no database, no HTTP, no clock,
no randomness). Scanned with ``ast`` so nothing needs to be imported."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "src" / "transom" / "core"

FORBIDDEN_MODULES = {
    "asyncio", "sqlite3", "aiosqlite", "asyncpg", "aiohttp", "http", "urllib.request",
    "socket", "requests", "time", "random", "secrets",
}  # fmt: skip
FORBIDDEN_PREFIXES = ("psycopg",)
FORBIDDEN_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("os", "urandom")}


def _forbidden_module(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_MODULES) or (
        name.startswith(FORBIDDEN_PREFIXES)
    )


def violations(source: str, filename: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _forbidden_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _forbidden_module(node.module):
                found.append(f"from {node.module} import ...")
            found += [
                f"from {node.module} import {a.name}"
                for a in node.names
                if _forbidden_module(f"{node.module}.{a.name}")
                or (node.module, a.name) in FORBIDDEN_CALLS
            ]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name | ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
            if (owner, node.attr) in FORBIDDEN_CALLS:
                found.append(f"{owner}.{node.attr}")
    return [f"{filename}:{v}" for v in found]


def test_core_is_pure() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert files, f"no modules found under {CORE}"
    problems = [v for path in files for v in violations(path.read_text(), str(path))]
    assert problems == []


def test_the_scanner_catches_each_kind() -> None:
    bad = """
import asyncio
import psycopg2.extras
import urllib.request
from http import client
from urllib import request
from random import choice
import os, datetime
x = datetime.datetime.now()
y = datetime.utcnow()
z = os.urandom(4)
"""
    found = violations(bad, "bad.py")
    for expected in (
        "import asyncio",
        "import psycopg2.extras",
        "import urllib.request",
        "from http import ...",
        "from urllib import request",
        "from random import ...",
        "datetime.now",
        "datetime.utcnow",
        "os.urandom",
    ):
        assert f"bad.py:{expected}" in found
    assert (
        violations("import json\nimport hashlib\nfrom urllib.parse import quote\n", "ok.py") == []
    )

"""The Matrix protocol as pure, synchronous, deterministic code.

Invariant: nothing under ``transom.core`` performs I/O, reads the clock, draws randomness or
imports asyncio, a database driver or an HTTP library. Time, keys and every event a rule needs are
parameters. ``tests/core/test_purity.py`` enforces this.
"""

"""Benchmark phases, in the order a run executes them.

Each phase exercises one Client-Server API area (module docstrings name the spec sections).
To add one: subclass ``bench.phases.base.Phase`` and list it here.
"""

from __future__ import annotations

from bench.phases.accounts import Login, Register
from bench.phases.base import Context, Phase, Settings, User
from bench.phases.knock import FederatedKnock, Knock
from bench.phases.rooms import CreateRoom, SendMessages
from bench.phases.sync import InitialSync

ALL_PHASES: list[Phase] = [
    Register(),
    Login(),
    CreateRoom(),
    SendMessages(),
    InitialSync(),
    Knock(),
    FederatedKnock(),
]
PHASES_BY_NAME = {phase.name: phase for phase in ALL_PHASES}

__all__ = ["ALL_PHASES", "PHASES_BY_NAME", "Context", "Phase", "Settings", "User"]

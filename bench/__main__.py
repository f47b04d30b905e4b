"""``python -m bench``: load a homeserver (or Transom and Synapse side by side) and print JSON.

Examples (from the repository root)::

    python -m bench --target synapse --users 200 --bcrypt-rounds 10
    python -m bench --side-by-side --phases register,login
    python -m bench --target http://127.0.0.1:8008 --pid 12345

Per phase the output holds request count, errors, throughput (req/s), latency p50/p95/p99 in
ms, server CPU seconds (user + system of the server process tree) and peak RSS (sampled every
50 ms); per server, idle RSS before any load. Side by side adds Transom/Synapse ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import secrets
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.load import JsonDict, MatrixClient, drive, summarise
from bench.phases import ALL_PHASES, PHASES_BY_NAME, Context, Phase, Settings
from bench.procstat import RssSampler, cpu_seconds, rss_bytes
from bench.servers import RunningServer, start_server

MIB = 1024 * 1024
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--target", help="transom, synapse, or a homeserver base URL (loopback)")
    where.add_argument("--side-by-side", action="store_true", help="Transom and Synapse in turn")
    parser.add_argument("--pid", type=int, help="server PID for CPU/RSS when --target is a URL")
    names = ",".join(p.name for p in ALL_PHASES)
    parser.add_argument("--phases", default=None, help=f"comma-separated subset of {names}")
    parser.add_argument("--federation-peer", action="store_true",
                        help="start a peer homeserver for the federated_knock phase")  # fmt: skip
    parser.add_argument("--peer", choices=("synapse", "transom"), default="synapse",
                        help="which homeserver the federation peer is")  # fmt: skip
    parser.add_argument("--bcrypt-rounds", type=int, default=12, help="same on every server")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="engine of every server started (postgres: 127.0.0.1)")  # fmt: skip
    parser.add_argument("--log-level", default="INFO", help="server log level, same on each")
    parser.add_argument("--idle-wait", type=float, default=3.0, help="seconds before idle RSS")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    defaults = Settings()
    for field, value in asdict(defaults).items():
        if isinstance(value, int):
            flag = "--" + field.replace("_", "-")
            parser.add_argument(flag, type=int, default=value, help=f"default {value}")
    return parser.parse_args(argv)


def choose_phases(args: argparse.Namespace) -> list[Phase]:
    if args.phases is None:
        return [p for p in ALL_PHASES if args.federation_peer or not p.needs_peer]
    chosen = []
    for name in args.phases.split(","):
        if name.strip() not in PHASES_BY_NAME:
            sys.exit(f"unknown phase {name!r}; known: {', '.join(PHASES_BY_NAME)}")
        chosen.append(PHASES_BY_NAME[name.strip()])
    return chosen


async def run_phase(ctx: Context, phase: Phase, pid: int | None) -> JsonDict:
    """Prepare (unmeasured), then drive the phase while sampling the server's CPU and RSS."""
    record: JsonDict = {"name": phase.name, "description": phase.description}
    try:
        await phase.prepare(ctx)
    except Exception as exc:
        record["skipped"] = f"prepare failed: {type(exc).__name__}: {exc}"[:500]
        return record
    count = phase.count(ctx)
    sampler = RssSampler(pid) if pid else None
    cpu_before = cpu_seconds(pid) if pid else 0.0
    if sampler:
        sampler.start()
    result = await drive(lambda i: phase.operation(ctx, i), count, ctx.settings.concurrency)
    record.update(summarise(result))
    if pid and sampler:
        peak = await sampler.stop()
        cpu = cpu_seconds(pid) - cpu_before
        record["server_cpu_s"] = round(cpu, 2)
        record["server_cpu_ms_per_request"] = round(1000 * cpu / count, 3) if count else None
        record["server_peak_rss_mib"] = round(peak / MIB, 1)
    record["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    return record


async def run_target(
    label: str,
    client_url: str,
    pid: int | None,
    args: argparse.Namespace,
    phases: list[Phase],
    peer: RunningServer | None,
) -> JsonDict:
    report: JsonDict = {"server": label, "client_url": client_url, "pid": pid}
    # Other work on the machine skews throughput and latency (not CPU per request): record it.
    report["loadavg_1m_before"] = round(os.getloadavg()[0], 2)
    if pid:
        await asyncio.sleep(args.idle_wait)
        report["idle_rss_mib"] = round(rss_bytes(pid) / MIB, 1)
    settings = Settings(**{k: getattr(args, k) for k in asdict(Settings()) if k != "password"})
    client = MatrixClient(client_url, settings.concurrency)
    peer_client = MatrixClient(peer.client_url, settings.concurrency) if peer else None
    ctx = Context(
        client=client,
        settings=settings,
        prefix="b" + secrets.token_hex(3),
        peer=peer_client,
        peer_server_name=peer.server_name if peer else None,
    )
    try:
        report["phases"] = [await run_phase(ctx, phase, pid) for phase in phases]
    finally:
        await client.close()
        if peer_client:
            await peer_client.close()
    if pid:
        report["final_rss_mib"] = round(rss_bytes(pid) / MIB, 1)
    report["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    return report


async def run_managed(name: str, args: argparse.Namespace, phases: list[Phase]) -> JsonDict:
    """Start ``name`` (and a federation peer if asked), run the phases, stop both."""
    peer = None
    server = await start_server(name, args.bcrypt_rounds, args.log_level, args.database)
    try:
        if args.federation_peer or any(p.needs_peer for p in phases):
            peer = await start_server(args.peer, args.bcrypt_rounds, args.log_level, args.database)
        return await run_target(name, server.client_url, server.pid, args, phases, peer)
    finally:
        if peer is not None:
            await peer.stop()
        await server.stop()


def _ratio(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and b:
        return round(a / b, 3)
    return None


def ratios(transom: JsonDict, synapse: JsonDict) -> JsonDict:
    """Transom divided by Synapse. Below 1 is better for RSS, latency and CPU; above 1 for rps."""
    out: JsonDict = {"idle_rss": _ratio(transom.get("idle_rss_mib"), synapse.get("idle_rss_mib"))}
    theirs = {p["name"]: p for p in synapse.get("phases", [])}
    for ours in transom.get("phases", []):
        other = theirs.get(ours["name"])
        if other is None or not ours.get("ok") or not other.get("ok"):
            out[ours["name"]] = "not comparable: skipped or failed on one side"
            continue
        if ours.get("errors") or other.get("errors"):
            out[ours["name"]] = "not comparable: errors on one side"
            continue
        out[ours["name"]] = {
            "throughput": _ratio(ours.get("throughput_rps"), other.get("throughput_rps")),
            "p50": _ratio(ours["latency_ms"]["p50"], other["latency_ms"]["p50"]),
            "p99": _ratio(ours["latency_ms"]["p99"], other["latency_ms"]["p99"]),
            "cpu_per_request": _ratio(
                ours.get("server_cpu_ms_per_request"), other.get("server_cpu_ms_per_request")
            ),
            "peak_rss": _ratio(ours.get("server_peak_rss_mib"), other.get("server_peak_rss_mib")),
        }
    return out


async def main_async(args: argparse.Namespace) -> JsonDict:
    phases = choose_phases(args)
    output: JsonDict = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {
            "bcrypt_rounds": args.bcrypt_rounds,
            "database": args.database,
            "log_level": args.log_level,
            **{k: getattr(args, k) for k in asdict(Settings()) if k != "password"},
        },
        "servers": {},
    }
    if args.side_by_side:
        # One after the other, never at once: they would compete for the same cores.
        for name in ("synapse", "transom"):
            try:
                output["servers"][name] = await run_managed(name, args, phases)
            except Exception as exc:
                output["servers"][name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        output["ratios_transom_over_synapse"] = ratios(
            output["servers"]["transom"], output["servers"]["synapse"]
        )
    elif args.target in ("transom", "synapse"):
        output["servers"][args.target] = await run_managed(args.target, args, phases)
    else:
        host = urlparse(args.target).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("only loopback targets are allowed")
        peer = None
        if args.federation_peer or any(p.needs_peer for p in phases):
            peer = await start_server(args.peer, args.bcrypt_rounds, args.log_level, args.database)
        try:
            output["servers"]["target"] = await run_target(
                args.target, args.target, args.pid, args, phases, peer
            )
        finally:
            if peer is not None:
                await peer.stop()
    return output


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    output = asyncio.run(main_async(args))
    text = json.dumps(output, indent=2)
    print(text)
    path = args.output
    if path is None:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = output["date"].replace(":", "").replace("+0000", "Z")
        path = RESULTS_DIR / f"{stamp}.json"
    with contextlib.suppress(OSError):
        path.write_text(text + "\n")
        print(f"written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

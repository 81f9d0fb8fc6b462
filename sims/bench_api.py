"""Benchmark: latency of the anonymous pre-check, POST /api/v1/precheck, under load.

What is measured, in one run on this machine
--------------------------------------------
1. A real API server: ``gridint serve`` (uvicorn, one process; then ``--workers N``) started as a subprocess on
   127.0.0.1 with a fresh SQLite database; 20 concurrent clients (threads, one keep-alive
   HTTP connection each) POST pre-checks of rooftop PV (5-60 kW, the four customer
   categories' allowed modes) at the distribution transformers of the three Xiangtan
   feeders; every latency is measured at the client, from sending to the parsed answer.
   Target (issue 6): p95 <= 100 ms at 20 concurrent clients.
2. Peers in the same run: the same pre-checks called in-process one at a time
   (:func:`gridint.store.workflow.precheck`, same database, same bodies in the same order,
   so the rules engine's caches are in the same state): the ratio of the HTTP latencies
   to the in-process ones is the API's overhead plus the queueing of 20 clients on the
   server's cores; one client over HTTP against the in-process calls isolates the
   HTTP + server cost; and the same 20-client load on the same app with the rules engine
   replaced by one that answers at once (what the API and the store cost alone).

The rules engine is whatever ``gridint.interconnection.evaluate`` is in this commit (the
section says which answers it gave); a first pre-check at every transformer is sent before
the measurement so feeder loading and compilation are not counted (reported apart).

Run ``python -m sims.bench_api`` (about a minute) or ``--quick``; ``--out`` writes/replaces
the section ``## API pre-check latency (sims/bench_api.py)`` of ``sims/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## API pre-check latency (sims/bench_api.py)"
ROOT = Path(__file__).resolve().parents[1]
FEEDERS = ("xt-yuetang-urban", "xt-county-rural", "xt-jingkai-industrial")
CATEGORY_MODES = (("residential_natural_person", "surplus_export"),
                  ("residential_natural_person", "full_export"),
                  ("residential_non_natural_person", "full_export"),
                  ("general_ci", "surplus_export"),
                  ("large_ci", "full_self_consumption"))
KW = (5.0, 8.0, 12.0, 20.0, 30.0, 45.0, 60.0)


def bodies(n: int) -> list[dict]:
    """``n`` pre-check bodies spread over the Xiangtan feeders' transformers."""
    from gridint.grid.catalog import load_feeder

    places = []
    for name in FEEDERS:
        net = load_feeder(name).net
        places += [(name, str(t)) for t in net.trafo["name"]]
    out = []
    for i in range(n):
        feeder, bus = places[i % len(places)]
        category, mode = CATEGORY_MODES[i % len(CATEGORY_MODES)]
        out.append({"feeder": feeder, "bus": bus, "category": category, "mode": mode,
                    "ac_kw": KW[(i * 3) % len(KW)]})
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_ZERO_COST_SERVER = """
import sys, uvicorn
from api import create_app
from gridint.interconnection.model import Decision, Reason
def engine(req, *, ahead=()):  # answers at once: what is left is the API and the store
    return Decision("approved", None, req.ac_kw, (Reason("zero_cost_engine"),))
uvicorn.run(create_app(evaluator=engine), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning")
"""


def start_server(db_url: str, workers: int = 1, zero_cost: bool = False
                 ) -> tuple[subprocess.Popen, str, float]:
    """``gridint serve`` in a subprocess (or the same app with a rules engine that answers
    at once, ``zero_cost``); returns (process, base URL, start-up time [s])."""
    import httpx

    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRIDINT_DATABASE_URL": db_url,
           "GRIDINT_SCHEDULER_ENABLED": "false"}
    t0 = time.perf_counter()
    cmd = ([sys.executable, "-c", _ZERO_COST_SERVER, str(port)] if zero_cost else
           [sys.executable, "-m", "gridint.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)])
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise RuntimeError("gridint serve exited: " + proc.stderr.read().decode()[-2000:])
        try:
            if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                return proc, base, time.perf_counter() - t0
        except httpx.TransportError:
            time.sleep(0.1)
        if time.perf_counter() - t0 > 300:
            proc.kill()
            raise RuntimeError("gridint serve did not answer within 300 s")


def http_load(base: str, work: list[dict], clients: int) -> tuple[list[float], float, Counter]:
    """Send ``work`` from ``clients`` threads; latencies [s], wall time [s], status/decision counts."""
    import httpx

    lat: list[float] = []
    seen: Counter = Counter()
    lock = threading.Lock()
    chunks = [work[i::clients] for i in range(clients)]
    conns = [httpx.Client(base_url=base, timeout=60) for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def run(k: int) -> None:
        mine, tally = [], Counter()
        barrier.wait()
        for body in chunks[k]:
            t0 = time.perf_counter()
            r = conns[k].post("/api/v1/precheck", json=body)
            answer = r.json()
            mine.append(time.perf_counter() - t0)
            tally[(r.status_code, answer.get("decision") if r.status_code == 200 else None)] += 1
        with lock:
            lat.extend(mine)
            seen.update(tally)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for c in conns:
        c.close()
    return lat, wall, seen


def in_process(db_url: str, work: list[dict]) -> list[float]:
    """The same pre-checks called in-process, one after the other; latencies [s]."""
    from gridint.store import init_db, make_sessionmaker, workflow

    engine = init_db(db_url)
    sessions = make_sessionmaker(engine)
    lat = []
    for body in work:
        t0 = time.perf_counter()
        with sessions() as s:
            workflow.precheck(s, body)
        lat.append(time.perf_counter() - t0)
    engine.dispose()
    return lat


def pct(values: list[float], q: float) -> float:
    """Percentile ``q`` in [0, 100] (linear interpolation) [ms]."""
    v = sorted(values)
    if not v:
        return float("nan")
    pos = (len(v) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(v) - 1)
    return 1000.0 * (v[lo] + (v[hi] - v[lo]) * (pos - lo))


def render(info: dict, rows: list[tuple], seen: Counter, warm_s: float, start_s: float,
           target_ms: float, p95_ms: tuple[float, float, float], cmd: str) -> str:
    decisions = ", ".join(f"{d or 'error ' + str(s)} {n}" for (s, d), n in sorted(seen.items(), key=str))
    lines = [
        SECTION, "",
        f"Run {info['date']} with `{cmd}` (whole run {info['run_s']:.0f} s). Machine: {info['cpu']}, "
        f"{info['cores']} cores, {info['ram_gb']:.1f} GB RAM; gridint {info['commit']}; Python "
        f"{info['python']}, fastapi {info['fastapi']}, uvicorn {info['uvicorn']}, SQLAlchemy "
        f"{info['sqlalchemy']}. Load average at start / end: {info['load_start']} / {info['load_end']}"
        " (the machine is shared with other work: the ratios between rows of one run are what "
        "compare).", "",
        f"Server: `gridint serve` (uvicorn; 1 process, then {info['workers']} worker processes) on "
        f"127.0.0.1, SQLite database, started in "
        f"{start_s:.1f} s; clients in another process (threads, keep-alive connections). "
        f"Bodies: PV of 5-60 kW at the {info['n_places']} distribution transformers of "
        f"{', '.join(FEEDERS)}, five category/mode pairs. A first pre-check at each "
        f"transformer (feeder loading, compilation) took {warm_s:.1f} s in all and is not counted. "
        f"Answers in the timed runs: {decisions}{info['engine_note']}.", "",
        "| path | requests | p50 [ms] | p95 [ms] | p99 [ms] | max [ms] | throughput [req/s] | p50 / its in-process peer's p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, p50, p95, p99, mx, rps, peer in rows:
        ratio = f"{p50 / peer:.2f}x" if peer == peer else "-"
        lines.append(f"| {name} | {n:,} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {mx:.1f} | "
                     f"{rps:,.1f} | {ratio} |")
    verdict = ["PASS" if p <= target_ms else "FAIL" for p in p95_ms]
    lines += ["", f"Target: p95 <= {target_ms:.0f} ms at 20 concurrent clients: one process "
              f"**{p95_ms[0]:.1f} ms, {verdict[0]}**; {info['workers']} worker processes "
              f"**{p95_ms[1]:.1f} ms, {verdict[1]}**; the API and the store alone (engine "
              f"answering at once) {p95_ms[2]:.1f} ms, {verdict[2]}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    ap.add_argument("--requests", type=int, default=None,
                    help="requests per client (default 50; --quick 10)")
    ap.add_argument("--quick", action="store_true", help="smoke run")
    ap.add_argument("--out", nargs="?", const=str(RESULTS_MD), default=None,
                    help=f"write/replace the section in this markdown file (default {RESULTS_MD})")
    args = ap.parse_args(argv)
    per_client = args.requests or (10 if args.quick else 50)
    import logging
    import platform
    import warnings

    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    import fastapi
    import sqlalchemy
    import uvicorn

    from sims._results import machine_and_commit, write_section

    t_run = time.perf_counter()
    cpu, ram_gb, commit = machine_and_commit("gridint/store")
    info = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "cpu": cpu,
            "cores": os.cpu_count(), "ram_gb": ram_gb, "commit": commit,
            "python": platform.python_version(), "fastapi": fastapi.__version__,
            "uvicorn": uvicorn.__version__, "sqlalchemy": sqlalchemy.__version__,
            "load_start": ", ".join(f"{x:.1f}" for x in os.getloadavg())}
    n = per_client * args.clients
    work = bodies(n)
    info["n_places"] = len({(b["feeder"], b["bus"]) for b in work})
    unique = list({(b["feeder"], b["bus"]): b for b in work}.values())  # one per place
    workers = max(2, min(4, os.cpu_count() or 2))
    with tempfile.TemporaryDirectory(prefix="gridint-bench-api-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        proc, base, start_s = start_server(db_url)
        try:
            print(f"server up in {start_s:.1f} s; warm-up ({len(unique)} bodies) ...", flush=True)
            t0 = time.perf_counter()
            http_load(base, unique, 1)
            warm_s = time.perf_counter() - t0
            print(f"{args.clients} clients x {per_client} requests ...", flush=True)
            lat20, wall20, seen = http_load(base, work, args.clients)
            print("1 client ...", flush=True)
            one = work[: max(100, n // 4)]
            lat1, wall1, _ = http_load(base, one, 1)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        proc, base, _ = start_server(db_url, workers)
        try:
            print(f"{workers} workers: warm-up, then {args.clients} clients ...", flush=True)
            http_load(base, unique * 3, 2 * workers)  # every worker loads the feeders
            latw, wallw, _ = http_load(base, work, args.clients)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        proc, base, _ = start_server(db_url, zero_cost=True)
        try:
            print(f"zero-cost engine: warm-up, then {args.clients} clients ...", flush=True)
            http_load(base, unique, 1)
            latz, wallz, _ = http_load(base, work, args.clients)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        print("in-process ...", flush=True)
        in_process(db_url, unique)  # the same warm-up as the server's
        lat0w = in_process(db_url, work)  # the 20-client sequence, one at a time
        lat0 = in_process(db_url, one)  # the 1-client sequence, seen before (as by the server)
    info["load_end"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    info["run_s"] = time.perf_counter() - t_run
    decisions = {d for (_, d) in seen}
    info["engine_note"] = (" (the rules engine of this commit is still the stub that refers every "
                           "request: these times are the API's and the store's, not the AC "
                           "engine's)") if decisions == {"referred"} else ""

    def row(name, lat, wall):
        return (name, len(lat), pct(lat, 50), pct(lat, 95), pct(lat, 99), 1000 * max(lat),
                len(lat) / wall)

    peer_w, peer_1 = pct(lat0w, 50), pct(lat0, 50)
    rows = [row(f"HTTP, {args.clients} concurrent clients, `gridint serve` (1 process)", lat20, wall20)
            + (peer_w,),
            row(f"HTTP, {args.clients} concurrent clients, `gridint serve --workers {workers}`",
                latw, wallw) + (peer_w,),
            row("in-process `workflow.precheck`, the same requests one at a time (peer)", lat0w,
                sum(lat0w)) + (peer_w,),
            row("HTTP, 1 client, 1 process (requests seen before)", lat1, wall1) + (peer_1,),
            row("in-process `workflow.precheck`, the same (peer)", lat0, sum(lat0)) + (peer_1,),
            row(f"HTTP, {args.clients} concurrent clients, 1 process, rules engine replaced by one "
                "that answers at once (the API and the store alone)", latz, wallz) + (float("nan"),)]
    info["workers"] = workers
    cmd = "python -m sims.bench_api" + (" --quick" if args.quick else "") + (" --out" if args.out else "")
    text = render(info, rows, seen, warm_s, start_s, 100.0,
                  (pct(lat20, 95), pct(latw, 95), pct(latz, 95)), cmd)
    print(text)
    if args.out:
        write_section(SECTION, text, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

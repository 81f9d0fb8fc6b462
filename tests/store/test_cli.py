"""The store's CLI commands: user add, precheck, decision replay, serve."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import gridint.interconnection as interconnection
from gridint.cli import main
from gridint.store import init_db, make_sessionmaker, repo, workflow
from tests.store.fakes import CapacityEvaluator

ROOT = Path(__file__).resolve().parents[2]



def test_user_add(db, capsys):
    assert main(["user", "add", "ann", "--role", "engineer", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "ann" and out["role"] == "engineer" and len(out["token"]) > 30
    with make_sessionmaker(init_db(db))() as s:
        assert repo.user_by_token(s, out["token"]).name == "ann"
        assert out["token"] not in json.dumps([u.token_sha256 for u in repo.list_users(s)])
    assert main(["user", "add", "ann", "--role", "engineer"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gridint: error:") and "exists" in err and err.count("\n") == 1


def test_precheck(db, capsys, monkeypatch):
    monkeypatch.setattr(interconnection, "evaluate", CapacityEvaluator(50.0))
    assert main(["precheck", "xt-county-rural", "--bus", "T01", "--kw", "60", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"feeder", "bus", "requested_kw", "decision", "voltage_level", "max_kw_now", "reasons",
            "counter_offers"} <= set(out)
    assert (out["decision"], out["requested_kw"], out["max_kw_now"]) == ("queued", 60.0, 50.0)
    assert set(out["reasons"][0]) == {"rule", "limit", "value", "element", "time"}
    assert out["counter_offers"] == [{"kind": "max_kw", "value": 50.0, "unit": "kW"}]
    assert main(["precheck", "xt-county-rural", "--bus", "T01", "--kw", "20"]) == 0
    assert "decision          approved" in capsys.readouterr().out
    assert main(["precheck", "xt-county-rural", "--bus", "NOPE", "--kw", "20"]) == 2
    assert "bus" in capsys.readouterr().err
    assert main(["precheck", "xt-county-rural", "--bus", "T01", "--kw", "-3"]) == 2
    assert "ac_kw" in capsys.readouterr().err


def test_decision_replay(db, capsys, monkeypatch):
    ev = CapacityEvaluator(50.0)
    monkeypatch.setattr(interconnection, "evaluate", ev)
    sessions = make_sessionmaker(init_db(db))
    with sessions() as s:
        user, _ = repo.create_user(s, "ivy", "installer")
        s.commit()
        out = workflow.submit(s, user, {"feeder": "xt-county-rural", "bus": "T01", "ac_kw": 30,
                                        "category": "general_ci", "mode": "surplus_export"}).body
    assert main(["decision", "replay", str(out["decision_id"])]) == 0
    assert "reproduced" in capsys.readouterr().out
    ev.limit_kw = 10.0
    assert main(["decision", "replay", str(out["decision_id"]), "--json"]) == 1
    got = json.loads(capsys.readouterr().out)
    assert got["reproduced"] is False and got["replayed"]["decision"] == "queued"
    assert main(["decision", "replay", "999"]) == 2


def test_library_never_imports_api():
    """gridint imports api/ nowhere but inside the ``serve`` command's function."""
    import ast

    found = []
    for path in sorted((ROOT / "gridint").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            if any(n == "api" or n.startswith("api.") for n in names):
                inside = [f for f in funcs if f.lineno <= node.lineno <= f.end_lineno]
                where = min(inside, key=lambda f: f.end_lineno - f.lineno).name if inside else "<module>"
                found.append((path.relative_to(ROOT).as_posix(), where))
    assert set(found) == {("gridint/cli.py", "_cmd_serve")}, found


def test_serve(db, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRIDINT_DATABASE_URL": db,
           "GRIDINT_SCHEDULER_ENABLED": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "gridint.cli", "serve", "--port", str(port)],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["database"] == "sqlite"
    finally:
        proc.terminate()
        proc.wait(timeout=30)

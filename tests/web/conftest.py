"""Browser tests: a real uvicorn server on 127.0.0.1 (fresh SQLite database, scheduler off,
the real rules engine) driven by Playwright on Debian's Chromium (/usr/bin/chromium,
installed by scripts/install-test-services.sh; browsers are never downloaded)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
USERS = {"alice": "installer", "bob": "installer", "eve": "engineer", "oscar": "operator"}
FEEDER = "xt-jingkai-industrial"  # 15 buses: the fastest catalog feeder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``(base_url, tokens)`` of a uvicorn server started for this module."""
    from gridint.store import init_db, make_sessionmaker, repo, write_transaction

    db = tmp_path_factory.mktemp("web") / "web.db"
    url = f"sqlite:///{db}"
    engine = init_db(url)
    tokens = {}
    with make_sessionmaker(engine)() as s, write_transaction(s):
        for name, role in USERS.items():
            tokens[name] = repo.create_user(s, name, role)[1]
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "GRIDINT_DATABASE_URL": url, "GRIDINT_SCHEDULER_ENABLED": "false",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log = open(db.parent / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/api/v1/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"uvicorn did not start: {(db.parent / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield base, tokens
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} missing: run scripts/install-test-services.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-background-networking",
                                     "--disable-component-update", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def sign_in(server, browser):
    """``sign_in(user, width=1280, height=800, next=None)`` -> a Playwright page signed in as
    ``user`` through the sign-in form (its own browser context), on the role's home page or
    on ``next`` (a path: skips the home page's own requests)."""
    base, tokens = server
    contexts = []

    def make(user: str, width: int = 1280, height: int = 800, next: str | None = None):
        ctx = browser.new_context(base_url=base, viewport={"width": width, "height": height})
        ctx.set_default_timeout(60_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto("/login" + (f"?next={urllib.parse.quote(next)}" if next else ""))
        page.fill("#token", tokens[user])
        page.click("#login-button")
        page.wait_for_url(lambda u: "/login" not in u)
        return page

    yield make
    for c in contexts:
        c.close()


def shot(page, name: str, selector: str | None = None) -> Path:
    """Save a full-page screenshot (or of the element ``selector``) under tests/artifacts/web/
    (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if selector:
        page.locator(selector).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    return path

"""The web pages: sign-in, engineer, installer, operator, monitoring (Jinja2 templates + a
little JS).

Pages are served under ``/``; the data comes from the same ``/api/v1`` endpoints with the
same bearer tokens. The sign-in page checks a token against ``/api/v1/users/me`` and keeps
it in ``localStorage`` (sent as ``Authorization: Bearer`` by the pages' JS) and in a
``SameSite=Strict`` cookie that only the page routes read, to decide which page a user may
see (403 for another role's page). plotly.min.js is served from the installed ``plotly``
package: nothing is fetched from a CDN.

The DER monitoring panel (issue 10) is one template (``_monitoring.html`` +
``monitoring.js``) included in the operator page and in the monitoring page (engineers,
operators, admins): it reads ``/api/v1/telemetry/status`` and ``/api/v1/telemetry/latest``
and refreshes every minute while the page is open.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.deps import SessionDep
from gridint.interconnection.model import CATEGORIES, MODES
from gridint.store import repo

HERE = Path(__file__).resolve().parent.parent
COOKIE = "gridint_token"
#: landing page of each role
HOME = {"installer": "/installer", "engineer": "/engineer", "operator": "/operator",
        "admin": "/engineer"}
#: roles allowed on each page
PAGES = {"installer": ("installer", "admin"), "engineer": ("engineer", "admin"),
         "operator": ("operator", "admin"), "monitoring": ("engineer", "operator", "admin")}
#: demo feeder of the pages (15 buses, fastest)
DEMO_FEEDER = "xt-jingkai-industrial"
#: the monitoring panel reloads its data this often while the page is open [s]
MONITORING_REFRESH_S = 60

templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


class _NeedSignIn(Exception):
    pass


@lru_cache(maxsize=1)
def plotly_js() -> Path:
    """``plotly.min.js`` of the installed plotly package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():  # pragma: no cover - broken install
        raise FileNotFoundError(f"plotly.min.js not found in the plotly package ({path})")
    return path


def page_user(session: SessionDep, gridint_token: Annotated[str | None, Cookie()] = None):
    """The signed-in user from the cookie; sign-in page if none or revoked."""
    if not gridint_token:
        raise _NeedSignIn()
    user = repo.user_by_token(session, gridint_token)
    session.commit()
    if user is None:
        raise _NeedSignIn()
    return user


def _page(request: Request, name: str, user, **ctx) -> HTMLResponse:
    settings = request.app.state.settings
    return templates.TemplateResponse(request, name, {
        "user": user, "home": HOME.get(getattr(user, "role", ""), "/login"),
        "timezone": settings.timezone, **ctx})


def _allowed(page: str):
    def check(user=Depends(page_user)):
        if user.role not in PAGES[page]:
            raise HTTPException(403, f"the {page} page is not for role {user.role}")
        return user
    return check


def _tomorrow(request: Request) -> str:
    import pandas as pd

    tz = request.app.state.settings.timezone
    return (pd.Timestamp.now(tz=tz).normalize() + pd.Timedelta(days=1)).date().isoformat()


def _feeders() -> list[dict]:
    from gridint.grid.catalog import read_catalog

    return [{"name": e.name, "description": e.description, "voltage_kv": e.voltage_kv}
            for e in read_catalog().values()]


def _monitoring(request: Request, feeder: str, silent_intervals: str | None) -> dict:
    """Template context of the monitoring panel (``_monitoring.html``); a ``silent_intervals``
    from the address that is not a whole number 1..10,000 falls back to the default."""
    s = request.app.state.settings
    text = (silent_intervals or "").strip()
    n = int(text) if text.isdecimal() and len(text) <= 5 else 0
    n = n if 1 <= n <= 10_000 else s.telemetry_silent_intervals
    return {"feeder": feeder, "silent_intervals": n,
            "interval_min": s.telemetry_interval_min, "refresh_s": MONITORING_REFRESH_S,
            "vm_min_pu": s.vm_min_pu, "vm_max_pu": s.vm_max_pu}


@router.get("/", response_class=HTMLResponse)
def index(session: SessionDep, gridint_token: Annotated[str | None, Cookie()] = None):
    user = repo.user_by_token(session, gridint_token) if gridint_token else None
    session.commit()
    return RedirectResponse(HOME[user.role] if user else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login(request: Request):
    return _page(request, "login.html", None)


@router.get("/installer", response_class=HTMLResponse)
def installer(request: Request, user=Depends(_allowed("installer"))):
    return _page(request, "installer.html", user, feeders=_feeders(), demo_feeder=DEMO_FEEDER,
                 categories=CATEGORIES, modes=MODES)


@router.get("/engineer", response_class=HTMLResponse)
def engineer(request: Request, user=Depends(_allowed("engineer"))):
    return _page(request, "engineer.html", user, feeders=_feeders(), demo_feeder=DEMO_FEEDER)


@router.get("/engineer/feeders/{name}", response_class=HTMLResponse)
def engineer_feeder(name: str, request: Request, user=Depends(_allowed("engineer"))):
    from api.routers._views import catalog_entry

    entry = catalog_entry(name)
    return _page(request, "feeder.html", user, feeder=entry)


@router.get("/operator", response_class=HTMLResponse)
def operator(request: Request, user=Depends(_allowed("operator")), feeder: str | None = None,
             date: dt.date | None = None, silent_intervals: str | None = None):
    return _page(request, "operator.html", user, feeders=_feeders(),
                 date=(date.isoformat() if date else _tomorrow(request)),
                 **_monitoring(request, feeder or DEMO_FEEDER, silent_intervals))


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring(request: Request, user=Depends(_allowed("monitoring")), feeder: str | None = None,
               silent_intervals: str | None = None):
    return _page(request, "monitoring.html", user, feeders=_feeders(),
                 **_monitoring(request, feeder or DEMO_FEEDER, silent_intervals))


@router.get("/static/plotly.min.js")
def plotly_min_js():
    return FileResponse(plotly_js(), media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


def install(app: FastAPI) -> None:
    """Add the pages, their static files and the sign-in redirect / 403 page to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(_NeedSignIn)
    async def _sign_in(request: Request, _exc: _NeedSignIn):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    from starlette.exceptions import HTTPException as StarletteHTTPException
    from fastapi.exception_handlers import http_exception_handler

    @app.exception_handler(StarletteHTTPException)
    async def _html_errors(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        return templates.TemplateResponse(request, "error.html", {
            "user": None, "home": "/", "status": exc.status_code, "detail": exc.detail},
            status_code=exc.status_code)

"""App factory, lifespan, error mapping and the request-body size limit."""
from __future__ import annotations

import contextlib
import inspect
import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import gridint
from gridint.config import Settings, get_settings
from gridint.errors import (
    CatalogError,
    GridintError,
    RecordNotFound,
    StateConflict,
)
from gridint.interconnection.model import RequestInvalid
from gridint.store import init_db, make_sessionmaker
from gridint.store.workflow import Evaluator, default_evaluator

logger = logging.getLogger(__name__)

__all__ = ["create_app"]


class _BodyLimit:
    """ASGI middleware: 413 for a body above ``max_bytes`` (declared or streamed)."""

    def __init__(self, app, max_bytes: int, per_path: dict[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        max_bytes = self.per_path.get(scope.get("path", ""), self.max_bytes)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit() or int(value) > max_bytes:
                    return await _send_json(send, 413, {"detail": [{
                        "field": "body", "reason": f"request body larger than {max_bytes} bytes"}]})
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise HTTPException(413, f"request body larger than {max_bytes} bytes")
            return message

        return await self.app(scope, limited, send)


async def _send_json(send, status_code: int, body: dict) -> None:
    import json

    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status_code,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def _field_of(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        detail = [{"field": _field_of(tuple(e.get("loc", ()))), "reason": e.get("msg", "invalid"),
                   "loc": [str(p) for p in e.get("loc", ())]} for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(RequestInvalid)
    async def _invalid(_request: Request, exc: RequestInvalid):
        return JSONResponse({"detail": [{"field": exc.field, "reason": exc.reason}]}, status_code=422)

    @app.exception_handler(RecordNotFound)
    @app.exception_handler(CatalogError)
    async def _not_found(_request: Request, exc: GridintError):
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StateConflict)
    async def _conflict(_request: Request, exc: StateConflict):
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(GridintError)
    async def _gridint(_request: Request, exc: GridintError):
        return JSONResponse({"detail": str(exc)}, status_code=400)


def _start_scheduler(settings: Settings, engine, sessions) -> Any:
    import importlib
    import importlib.util

    if importlib.util.find_spec("gridint.scheduler") is None:
        logger.info("gridint.scheduler not available: no scheduled jobs")
        return None
    scheduler = importlib.import_module("gridint.scheduler")
    start = getattr(scheduler, "start", None)
    if start is None:
        return None
    offered = {"settings": settings, "engine": engine, "sessions": sessions,
               "session_factory": sessions, "database_url": settings.database_url}
    params = inspect.signature(start).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in offered.items() if takes_all or k in params}
    return start(**kwargs)


def _stop_scheduler(handle: Any) -> None:
    from gridint import scheduler

    for obj, name in ((handle, "shutdown"), (scheduler, "stop"), (scheduler, "shutdown")):
        fn = getattr(obj, name, None) if obj is not None else None
        if callable(fn):
            with contextlib.suppress(Exception):
                fn() if obj is scheduler else fn(wait=False)
            return


def create_app(settings: Settings | None = None, *, evaluator: Evaluator | None = None) -> FastAPI:
    """The gridint API.

    Parameters
    ----------
    settings : Settings, optional
        Default ``get_settings()``; ``database_url`` is migrated to the newest schema at
        start-up, the scheduler runs if ``scheduler_enabled`` and ``gridint.scheduler`` exists.
    evaluator : callable, optional
        Rules engine ``evaluator(req, ahead=[...]) -> Decision`` (default
        :func:`gridint.interconnection.evaluate`).

    Returns
    -------
    fastapi.FastAPI
    """
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = init_db(settings.database_url)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        handle = None
        if settings.scheduler_enabled:
            handle = _start_scheduler(settings, engine, app.state.sessions)
        try:
            yield
        finally:
            if handle is not None:
                _stop_scheduler(handle)
            engine.dispose()

    app = FastAPI(title="gridint", version=gridint.__version__, lifespan=lifespan,
                  description="Connect rooftop PV and storage to distribution grids: instant "
                              "pre-check, connection requests under 'must connect when eligible', "
                              "feeders and hosting capacity.")
    app.state.settings = settings
    app.state.evaluator = evaluator or default_evaluator
    _errors(app)
    app.add_middleware(_BodyLimit, max_bytes=settings.api_max_body_bytes,
                       per_path={"/api/v1/telemetry": settings.telemetry_max_body_bytes})

    from api.routers import feeders, health, precheck, requests, users
    from api.routers import dispatch, feeder_views, forecast, pages
    from api.routers import scheduler as scheduler_router
    from api.routers import telemetry as telemetry_router  # issue 10

    for module in (health, users, precheck, requests, feeders, feeder_views, dispatch, forecast,
                   scheduler_router, telemetry_router):
        app.include_router(module.router, prefix="/api/v1")
    pages.install(app)  # web pages under / (issue 9)
    return app

"""gridint REST API (FastAPI, under /api/v1): ``create_app(settings=None)``.

The library never imports this package; it only calls into ``gridint``.
"""
from api.app import create_app

__all__ = ["create_app"]

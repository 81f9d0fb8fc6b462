"""Demo sign-ins for ``gridint serve --demo`` (``make run``): one user per role on the
local default database only.

Tokens are stored as SHA-256 only, so each run gives the demo users fresh tokens (the
old ones stop working) and prints them. Refused for any database other than the default
local SQLite file and for a server that listens beyond the loopback interface: demo
tokens are printed on the terminal and must never open a shared or production database.
"""
from __future__ import annotations

import secrets

from gridint.errors import GridintError

__all__ = ["DEMO_USERS", "DEMO_FEEDER", "LOOPBACK", "demo_users", "demo_telemetry"]

#: demo user name -> role
DEMO_USERS = {"demo-installer": "installer", "demo-engineer": "engineer",
              "demo-operator": "operator"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: feeder whose DERs send demo telemetry (the operator page's default)
DEMO_FEEDER = "xt-jingkai-industrial"


def demo_users(database_url: str, host: str = "127.0.0.1") -> dict[str, tuple[str, str]]:
    """Create (or re-token) the demo users; ``{name: (role, token)}``.

    Raises
    ------
    GridintError
        If ``database_url`` is not the default ``sqlite:///gridint.db`` or ``host`` is
        not a loopback address.
    """
    from gridint.config import Settings
    from gridint.store import init_db, make_sessionmaker, repo, write_transaction

    default = Settings.model_fields["database_url"].default
    if database_url != default:
        raise GridintError(f"--demo only on the local default database {default} "
                           f"(GRIDINT_DATABASE_URL is {database_url.split('://', 1)[0]}://...)")
    if host not in LOOPBACK:
        raise GridintError(f"--demo only with a loopback --host ({', '.join(LOOPBACK)}), got {host!r}")
    out = {}
    engine = init_db(database_url)
    try:
        with make_sessionmaker(engine)() as s, write_transaction(s):
            for name, role in DEMO_USERS.items():
                user = repo.user_by_name(s, name)
                if user is None:
                    user, token = repo.create_user(s, name, role)
                    repo.audit(s, None, "user_add", "user", user.id,
                               {"name": name, "role": role, "by": "serve --demo"})
                else:
                    if user.role != role:
                        raise GridintError(f"user {name!r} exists with role {user.role}, not the demo "
                                           f"role {role}; remove it or use another database")
                    token = "gi_" + secrets.token_urlsafe(32)
                    user.token_sha256 = repo.hash_token(token)
                    user.active = True
                    repo.audit(s, None, "user_token", "user", user.id,
                               {"name": name, "by": "serve --demo"})
                out[name] = (role, token)
    finally:
        engine.dispose()
    return out


def demo_telemetry(database_url: str, now=None, hours: int = 24) -> dict[str, int]:
    """Register the demo feeder's DERs (owner ``demo-installer``) and store their synthetic
    telemetry of the ``hours`` before ``now`` (:mod:`gridint.telemetry.synthetic`: one
    device silent for the last two hours, stuck meters, high voltage at the feeder end).

    Re-running adds the quarter-hours since the last run (stored points are skipped).
    Same database rule as :func:`demo_users` (call that first).

    Returns
    -------
    dict
        ``{devices, registered, accepted, duplicates, rejected}``.
    """
    import pandas as pd
    from sqlalchemy import select

    from gridint.config import Settings, get_settings
    from gridint.grid.catalog import load_feeder
    from gridint.store import init_db, make_sessionmaker, repo
    from gridint.store.models import DerDevice
    from gridint.telemetry import ingest, register_device
    from gridint.telemetry.synthetic import API_FIELDS, device_bodies, simulate

    default = Settings.model_fields["database_url"].default
    if database_url != default:
        raise GridintError(f"demo telemetry only on the local default database {default}")
    tz = get_settings().timezone
    now = (pd.Timestamp.now(tz=tz) if now is None else pd.Timestamp(now).tz_convert(tz)).floor("15min")
    index = pd.date_range(now - pd.Timedelta(hours=hours), now, freq="15min", inclusive="left")
    feeder = load_feeder(DEMO_FEEDER)
    bodies = device_bodies(feeder)
    points = simulate(feeder, bodies, index, seed=int(now.timestamp()) // 900,
                      silent_from=now - pd.Timedelta(hours=2))
    engine = init_db(database_url)
    out = {"devices": len(bodies), "registered": 0}
    try:
        with make_sessionmaker(engine)() as s:
            owner = repo.user_by_name(s, "demo-installer")
            operator = repo.user_by_name(s, "demo-operator")
            if owner is None or operator is None:
                raise GridintError("demo users missing: run demo_users() first")
            have = set(s.scalars(select(DerDevice.name).where(DerDevice.feeder == DEMO_FEEDER)))
            for b in bodies:
                if b["name"] not in have:
                    register_device(s, owner, **{k: b[k] for k in API_FIELDS if k in b and k != "owner"})
                    out["registered"] += 1
            res = ingest(s, operator, points)
    finally:
        engine.dispose()
    out.update(accepted=res.accepted, duplicates=res.duplicates, rejected=len(res.rejected))
    return out

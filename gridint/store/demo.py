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

__all__ = ["DEMO_USERS", "LOOPBACK", "demo_users"]

#: demo user name -> role
DEMO_USERS = {"demo-installer": "installer", "demo-engineer": "engineer",
              "demo-operator": "operator"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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

"""Annotated dependencies: database session, caller, role check, rules engine, idempotency."""
from __future__ import annotations

from typing import Annotated, Callable, Iterator

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from gridint.store import repo
from gridint.store.models import User
from gridint.store.workflow import Evaluator, Idempotency

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer TOKEN "
                                                   "(`gridint user add NAME --role R`)")


def get_session(request: Request) -> Iterator[Session]:
    """One session per request (closed, and rolled back if left open, at the end)."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_evaluator(request: Request) -> Evaluator:
    """The rules engine of this app (``create_app(evaluator=...)``; default the library's)."""
    return request.app.state.evaluator


EvaluatorDep = Annotated[Evaluator, Depends(get_evaluator)]


def current_user(session: SessionDep,
                 cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> User:
    """The caller, from ``Authorization: Bearer TOKEN``; 401 without a valid token."""
    if cred is None or not cred.credentials:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    user = repo.user_by_token(session, cred.credentials)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token",
                            headers={"WWW-Authenticate": "Bearer"})
    session.commit()  # end the read; writes open their own serialised transaction
    return user


UserDep = Annotated[User, Depends(current_user)]


def require_role(*roles: str) -> Callable[[User], User]:
    """Dependency: the caller must have one of ``roles`` (403 otherwise)."""

    def check(user: UserDep) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {user.role} may not do this; needs {' or '.join(roles)}")
        return user

    return check


def idempotency(request: Request, user: UserDep,
                idempotency_key: Annotated[str | None, Header()] = None
                ) -> Callable[[object], Idempotency | None]:
    """Factory for the :class:`Idempotency` of this POST (None without the header)."""
    limit = request.app.state.settings.api_idempotency_key_max_len
    if idempotency_key is not None:
        key = idempotency_key.strip()
        if not key or len(key) > limit or not key.isprintable():
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                f"Idempotency-Key: 1..{limit} printable characters")

    def make(body: object) -> Idempotency | None:
        if idempotency_key is None:
            return None
        return Idempotency(user.id, idempotency_key.strip(),
                           f"{request.method} {request.url.path}", body)

    return make


IdempotencyDep = Annotated[Callable[[object], Idempotency | None], Depends(idempotency)]

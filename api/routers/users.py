"""Users and tokens: an admin adds users; anyone authenticated reads who they are."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import SessionDep, UserDep, require_role
from api.schemas import UserCreate, UserCreated, UserPublic
from gridint.store import repo
from gridint.store.db import write_transaction
from gridint.store.models import User

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
def me(user: UserDep) -> User:
    return user


@router.post("", response_model=UserCreated, status_code=201)
def add_user(body: UserCreate, session: SessionDep,
             admin: Annotated[User, Depends(require_role("admin"))]) -> dict:
    """Add a user (admin only); the answer holds the token, shown once."""
    with write_transaction(session):
        user, token = repo.create_user(session, body.name, body.role)
        repo.audit(session, admin, "user_add", "user", user.id, {"name": user.name, "role": user.role})
    return {"name": user.name, "role": user.role, "token": token}

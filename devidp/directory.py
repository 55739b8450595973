"""The provider's users and roles, shaped like Auth0's, for sign-in and the Management API.

:class:`UserDirectory` is a mixin of :class:`~devidp.store.DevIdpStore`; it only needs the
store's session factory. Roles are records with ids (``rol_...``) as in Auth0, and role changes do
not touch a user's ``updated_at``, as in Auth0, so an incremental sync cannot rely on it for roles.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from .models import Role, User, UserRole, now_ms

#: Cheap on purpose: the demo passwords are printed on the login page anyway.
_PASSWORD_METHOD = "pbkdf2:sha256:20000"  # noqa: S105 - a hashing method, not a password
#: The tier roles every tenant of the portal has, with their descriptions.
DEFAULT_ROLES = {
    "admin": "Opens every product and the admin console",
    "devel": "Opens devel, ea and stable products",
    "ea": "Opens early-access and stable products",
}
_IMPORT_BATCH = 5000
_UPDATABLE = frozenset({"email", "name", "picture", "blocked", "app_metadata"})


@dataclass(frozen=True)
class DevIdpUser:
    subject: str
    email: str
    name: str
    roles: tuple[str, ...]
    picture: str = ""
    blocked: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    app_metadata: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class DevIdpRole:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class Criterion:
    """One term of a user search: an exact match (``equals``) or a millisecond range."""

    field: str
    equals: str | bool | None = None
    low: int | None = None
    high: int | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True


def default_role_id(name: str) -> str:
    """Stable across databases, so tests and a restarted provider agree on the ids."""
    return "rol_" + (name + hashlib.sha256(name.encode()).hexdigest())[:16]


def _new_role_id(name: str) -> str:
    return default_role_id(name) if name in DEFAULT_ROLES else "rol_" + secrets.token_hex(8)


def gravatar(email: str) -> str:
    """Auth0's default picture for a database user."""
    digest = hashlib.md5(email.encode(), usedforsecurity=False).hexdigest()
    return f"https://s.gravatar.com/avatar/{digest}?s=480&r=pg&d=identicon"


def to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


_COLUMNS = {
    "user_id": User.subject,
    "email": User.email,
    "name": User.name,
    "blocked": User.blocked,
    "created_at": User.created_ms,
    "updated_at": User.updated_ms,
}
SEARCHABLE_FIELDS = frozenset(_COLUMNS)


def _condition(criterion: Criterion) -> list[ColumnElement[bool]]:
    column = _COLUMNS[criterion.field]
    if criterion.equals is not None:
        return [column == criterion.equals]
    conditions = []
    if criterion.low is not None:
        low = criterion.low
        conditions.append(column >= low if criterion.low_inclusive else column > low)
    if criterion.high is not None:
        high = criterion.high
        conditions.append(column <= high if criterion.high_inclusive else column < high)
    return conditions


def _to_user(row: Any, roles: Iterable[str]) -> DevIdpUser:
    """From a User or a row of its columns (the faster way to stream many)."""
    return DevIdpUser(
        subject=row.subject,
        email=row.email,
        name=row.name,
        roles=tuple(roles),
        picture=row.picture,
        blocked=bool(row.blocked),
        created_at=to_datetime(row.created_ms),
        updated_at=to_datetime(row.updated_ms),
        app_metadata=json.loads(row.app_metadata_json or "{}"),
    )


class UserDirectory:
    """Users, roles and role assignments; mixed into the store, which provides ``_session``."""

    _session: sessionmaker[Session]

    # -- roles -----------------------------------------------------------------------------------

    def ensure_default_roles(self) -> None:
        for name in DEFAULT_ROLES:
            self._role_ids([name], create=True)

    def create_role(self, name: str, description: str = "") -> str:
        """The id of the role called ``name``, creating it when missing."""
        return self._role_ids([name], create=True, description=description)[name]

    def roles(self) -> list[DevIdpRole]:
        with self._session() as db:
            rows = db.scalars(select(Role).order_by(Role.name)).all()
        return [DevIdpRole(r.id, r.name, r.description) for r in rows]

    def get_role(self, role_id: str) -> DevIdpRole | None:
        with self._session() as db:
            row = db.get(Role, role_id)
        return DevIdpRole(row.id, row.name, row.description) if row else None

    def _role_ids(
        self, names: Iterable[str], *, create: bool = False, description: str = ""
    ) -> dict[str, str]:
        wanted = set(names)
        with self._session() as db:
            found = dict(db.execute(select(Role.name, Role.id).where(Role.name.in_(wanted))).all())
        for name in wanted - found.keys() if create else ():
            role_id = _new_role_id(name)
            try:
                with self._session.begin() as db:
                    db.add(
                        Role(
                            id=role_id,
                            name=name,
                            description=description or DEFAULT_ROLES.get(name, ""),
                        )
                    )
            except IntegrityError:
                with self._session() as db:
                    role_id = db.scalar(select(Role.id).where(Role.name == name)) or role_id
            found[name] = role_id
        return found

    def set_roles(self, subject: str, roles: Sequence[str]) -> None:
        """Give the user exactly these roles, by name (unknown names become new roles)."""
        role_ids = self._role_ids(roles, create=True)
        with self._session.begin() as db:
            if db.get(User, subject) is None:
                raise KeyError(subject)
            db.execute(delete(UserRole).where(UserRole.subject == subject))
            db.add_all(UserRole(role_id=i, subject=subject) for i in role_ids.values())

    def add_roles(self, subject: str, role_ids: Iterable[str]) -> None:
        """Assign roles by id; already assigned ones stay (Auth0 answers the same either way)."""
        with self._session.begin() as db:
            have = set(db.scalars(select(UserRole.role_id).where(UserRole.subject == subject)))
            db.add_all(UserRole(role_id=i, subject=subject) for i in set(role_ids) - have)

    def remove_roles(self, subject: str, role_ids: Iterable[str]) -> None:
        with self._session.begin() as db:
            db.execute(
                delete(UserRole).where(
                    UserRole.subject == subject, UserRole.role_id.in_(set(role_ids))
                )
            )

    def user_roles(self, subject: str) -> list[DevIdpRole]:
        with self._session() as db:
            rows = db.scalars(
                select(Role)
                .join(UserRole, UserRole.role_id == Role.id)
                .where(UserRole.subject == subject)
                .order_by(Role.name)
            ).all()
        return [DevIdpRole(r.id, r.name, r.description) for r in rows]

    def role_members(
        self, role_id: str, *, after: str | None = None, offset: int = 0, limit: int = 50
    ) -> list[DevIdpUser]:
        """Members in subject order: ``after`` a subject (checkpoint paging) or from ``offset``."""
        query = select(UserRole.subject).where(UserRole.role_id == role_id)
        if after is not None:
            query = query.where(UserRole.subject > after)
        query = query.order_by(UserRole.subject).offset(offset).limit(limit)
        with self._session() as db:
            rows = db.scalars(
                select(User).where(User.subject.in_(query.scalar_subquery())).order_by(User.subject)
            ).all()
        return [_to_user(row, ()) for row in rows]

    def count_role_members(self, role_id: str) -> int:
        with self._session() as db:
            count = db.scalar(select(func.count()).where(UserRole.role_id == role_id))
        return count or 0

    # -- users -----------------------------------------------------------------------------------

    def add_user(self, email: str, password: str, roles: Sequence[str], name: str) -> str:
        """Create a user who can sign in; returns its subject, shaped like Auth0's."""
        subject = "auth0|" + secrets.token_hex(12)
        if not self._insert_user(subject, email, password, roles, name):
            raise ValueError(f"a user with email {email!r} already exists")
        return subject

    def _insert_user(
        self, subject: str, email: str, password: str, roles: Sequence[str], name: str
    ) -> bool:
        email = email.strip().lower()
        row = User(
            subject=subject,
            email=email,
            name=name,
            picture=gravatar(email),
            password_hash=generate_password_hash(password, method=_PASSWORD_METHOD),
        )
        try:
            with self._session.begin() as db:
                db.add(row)
        except IntegrityError:
            return False
        self.set_roles(subject, roles)
        return True

    def import_users(self, rows: Iterable[dict[str, Any]]) -> int:
        """Bulk-create users without passwords (fast: no hashing), in one transaction.

        Each row needs ``email``; ``user_id``, ``name``, ``picture``, ``blocked``,
        ``app_metadata``, ``roles`` (names), ``created_at`` and ``updated_at`` (datetimes) are
        optional. Raises ValueError when an email or user_id already exists.
        """
        role_ids = {role.name: role.id for role in self.roles()}
        count = 0
        try:
            with self._session.begin() as db:
                batch: list[dict[str, Any]] = []
                for row in rows:
                    batch.append(self._import_row(db, row, role_ids))
                    if len(batch) == _IMPORT_BATCH:
                        count += self._insert_batch(db, batch)
                        batch = []
                count += self._insert_batch(db, batch)
        except IntegrityError as error:
            raise ValueError(f"import refused, nothing imported: {error.orig}") from None
        return count

    @staticmethod
    def _import_row(db: Session, row: dict[str, Any], role_ids: dict[str, str]) -> dict[str, Any]:
        """The row as column values; roles it names that don't exist yet are created in ``db``."""
        email = str(row["email"]).strip().lower()
        created = to_ms(row["created_at"]) if row.get("created_at") else now_ms()
        names = list(row.get("roles") or ())
        for name in set(names) - role_ids.keys():
            role_ids[name] = _new_role_id(name)
            db.execute(
                insert(Role).values(
                    id=role_ids[name], name=name, description=DEFAULT_ROLES.get(name, "")
                )
            )
        return {
            "subject": row.get("user_id") or "auth0|" + secrets.token_hex(12),
            "email": email,
            "name": row.get("name") or email,
            "picture": row.get("picture") or gravatar(email),
            "password_hash": "",
            "blocked": bool(row.get("blocked", False)),
            "app_metadata_json": json.dumps(row.get("app_metadata") or {}),
            "created_ms": created,
            "updated_ms": to_ms(row["updated_at"]) if row.get("updated_at") else created,
            "role_ids": [role_ids[name] for name in names],
        }

    @staticmethod
    def _insert_batch(db: Session, batch: list[dict[str, Any]]) -> int:
        if not batch:
            return 0
        links = [{"role_id": r, "subject": u["subject"]} for u in batch for r in u["role_ids"]]
        connection = db.connection()
        connection.execute(
            insert(User.__table__), [{k: v for k, v in u.items() if k != "role_ids"} for u in batch]
        )
        if links:
            connection.execute(insert(UserRole.__table__), links)
        return len(batch)

    def get_user(self, subject: str) -> DevIdpUser | None:
        with self._session() as db:
            row = db.get(User, subject)
            if row is None:
                return None
            roles = db.scalars(
                select(Role.name)
                .join(UserRole, UserRole.role_id == Role.id)
                .where(UserRole.subject == subject)
                .order_by(Role.name)
            ).all()
        return _to_user(row, roles)

    def update_user(self, subject: str, **fields: Any) -> DevIdpUser:
        """Change ``email``, ``name``, ``picture``, ``blocked`` or ``app_metadata`` (replaced
        whole); bumps ``updated_at``. KeyError for an unknown subject."""
        unknown = fields.keys() - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {k: v for k, v in fields.items() if k != "app_metadata"}
        if "email" in values:
            values["email"] = str(values["email"]).strip().lower()
        if "app_metadata" in fields:
            values["app_metadata_json"] = json.dumps(fields["app_metadata"] or {})
        with self._session.begin() as db:
            changed = db.execute(
                update(User).where(User.subject == subject).values(updated_ms=now_ms(), **values)
            ).rowcount
        user = self.get_user(subject) if changed else None
        if user is None:
            raise KeyError(subject)
        return user

    def delete_user(self, subject: str) -> None:
        """Remove the user and their role assignments; KeyError when there is no such user."""
        with self._session.begin() as db:
            db.execute(delete(UserRole).where(UserRole.subject == subject))
            if not db.execute(delete(User).where(User.subject == subject)).rowcount:
                raise KeyError(subject)

    def count_users(self, criteria: Sequence[Criterion] = ()) -> int:
        query = select(func.count()).select_from(User)
        for criterion in criteria:
            query = query.where(*_condition(criterion))
        with self._session() as db:
            return db.scalar(query) or 0

    def list_users(
        self,
        criteria: Sequence[Criterion] = (),
        *,
        sort: str = "created_at",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> list[DevIdpUser]:
        """One page of matching users (without roles), in a stable order."""
        column = _COLUMNS[sort]
        order = [column.desc(), User.subject.desc()] if descending else [column, User.subject]
        query = select(User)
        for criterion in criteria:
            query = query.where(*_condition(criterion))
        with self._session() as db:
            rows = db.scalars(query.order_by(*order).offset(offset).limit(limit)).all()
        return [_to_user(row, ()) for row in rows]

    def iter_users(self, batch_size: int = 2000) -> Iterator[DevIdpUser]:
        """Every user (without roles) in subject order, read in batches: memory stays flat."""
        columns = select(*User.__table__.columns).order_by(User.subject)
        with self._session() as db:
            for row in db.execute(columns.execution_options(yield_per=batch_size)):
                yield _to_user(row, ())

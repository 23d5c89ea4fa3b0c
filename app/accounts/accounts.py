"""Accounts: create (the first one only once), verify a login under throttling, change or reset a
password. Hashes are argon2id; a name or password is checked before anything is stored.

The records are `conversation_manager.store.AccountRecords` (the JSON files by default). Imports
no Flask.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from conversation_manager.errors import ConversationError
from conversation_manager.json.accounts import JsonAccountRecords, JsonLoginAttempts
from conversation_manager.store import AccountRecord, AccountRecords, LoginAttemptRecords

from .errors import InvalidCredentials, InvalidUsername, NameTaken, SignupClosed
from .identifiers import validate_new_username, validate_username
from .passwords import check_password, default_hasher
from .sessions import DEFAULT_LOCK_TIMEOUT, SessionStore
from .throttle import (
    DEFAULT_FAILURE_WINDOW,
    DEFAULT_MAX_FAILURES_PER_ACCOUNT,
    DEFAULT_MAX_FAILURES_PER_ADDRESS,
    LoginThrottle,
)

__all__ = ["AccountStore"]

log = logging.getLogger(__name__)


class AccountStore:
    """User accounts with throttled verification; a password change ends the other sessions."""

    def __init__(
        self,
        records: AccountRecords | str | os.PathLike[str],
        *,
        attempts: LoginAttemptRecords | None = None,
        sessions: SessionStore | None = None,
        hasher: PasswordHasher | None = None,
        max_failures_per_account: int = DEFAULT_MAX_FAILURES_PER_ACCOUNT,
        max_failures_per_address: int = DEFAULT_MAX_FAILURES_PER_ADDRESS,
        failure_window_seconds: float = DEFAULT_FAILURE_WINDOW,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        if isinstance(records, str | os.PathLike):
            data_dir = records
            records = JsonAccountRecords(data_dir, lock_timeout=lock_timeout)
            if attempts is None:
                attempts = JsonLoginAttempts(data_dir, lock_timeout=lock_timeout)
            if sessions is None:
                sessions = SessionStore(data_dir, lock_timeout=lock_timeout)
        if attempts is None or sessions is None:
            raise TypeError("AccountStore over records needs `attempts` and `sessions`")
        self.records: AccountRecords = records
        self.sessions = sessions
        self.hasher = hasher if hasher is not None else default_hasher()
        self.throttle = LoginThrottle(
            attempts,
            max_per_account=max_failures_per_account,
            max_per_address=max_failures_per_address,
            window_seconds=failure_window_seconds,
        )
        # Unknown names are verified against this, so they cost what a wrong password costs.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # -- creation

    def _new_record(self, name: str, password: str) -> AccountRecord:
        validate_new_username(name)
        check_password(password)
        now = time.time()
        return AccountRecord(name, self.hasher.hash(password), now, now)

    def _publish(self, record: AccountRecord, only_if_none: bool) -> None:
        outcome = self.records.create(record, only_if_none=only_if_none)
        if outcome == "taken":
            raise NameTaken("name taken")
        if outcome == "closed":
            raise SignupClosed("sign-up is closed")
        log.info("account %s created", record.name)

    def create_user(self, name: str, password: str, *, only_if_none: bool = False) -> None:
        """Create an account; raise `InvalidUsername`, `WeakPassword`, `NameTaken`, or with
        `only_if_none` `SignupClosed` when any account exists (checked and created in one step)."""
        self._publish(self._new_record(name, password), only_if_none)

    def sign_up(self, name: str, password: str, *, only_if_none: bool = False) -> str:
        """Create an account and its first session; return the session id.

        The account is published last, so a failure at any step (a full disk included) leaves
        no account behind for a sign-up that was answered with an error.
        """
        record = self._new_record(name, password)
        if only_if_none and self.records.any():
            raise SignupClosed("sign-up is closed")
        if self.records.get(name) is not None:
            raise NameTaken("name taken")
        session_id = self.sessions.create(name)
        try:
            self._publish(record, only_if_none)
        except BaseException:
            with contextlib.suppress(ConversationError):
                self.sessions.revoke(session_id)
            raise
        return session_id

    # -- listing

    def has_users(self) -> bool:
        """Tell whether at least one account exists."""
        return self.records.any()

    def list_users(self) -> list[str]:
        """Return every account name, sorted."""
        return self.records.names()

    def exists(self, name: str) -> bool:
        """Tell whether an account `name` exists (False for names outside the pattern)."""
        try:
            return self.records.get(validate_username(name)) is not None
        except InvalidUsername:
            return False

    # -- login

    def verify(self, name: str, password: str, *, ip: str | None) -> bool:
        """Check a login; return True or False, or raise `Throttled(retry_after)` before checking.

        Unknown names, names outside the pattern and wrong passwords all return False in about
        the same time. Every attempt counts as a failure until it succeeds, so parallel guesses
        cannot exceed the limits; a success clears the account's failures.
        """
        valid_name: str | None
        try:
            valid_name = validate_username(name)
        except InvalidUsername:
            valid_name = None
        reservation = self.throttle.reserve(valid_name, ip)

        record = self.records.get(valid_name) if valid_name is not None else None
        stored = record.password_hash if record is not None else None
        try:
            self.hasher.verify(stored if stored is not None else self._dummy_hash, password)
            ok = stored is not None
        except (VerificationError, InvalidHashError, TypeError, ValueError):
            # A wrong password, a malformed stored hash, a non-string password or one that
            # cannot be encoded (a lone surrogate): all the same failure.
            ok = False
        if not ok or valid_name is None or stored is None:
            log.info("failed login for %s", valid_name or "<invalid name>")
            return False

        reservation.succeeded(account_key=self.throttle.account_key(valid_name))
        if self.hasher.check_needs_rehash(stored):
            self._rehash(valid_name, stored, password)
        return True

    def _rehash(self, name: str, old_hash: str, password: str) -> None:
        new_hash = self.hasher.hash(password)

        def change(record: AccountRecord) -> AccountRecord | None:
            if record.password_hash != old_hash:
                return None  # changed meanwhile: leave the newer hash alone
            return dataclasses.replace(record, password_hash=new_hash)

        try:
            self.records.update(name, change)
        except ConversationError:
            # The login stands; the upgrade is tried again at the next one.
            log.warning("password hash of %s not upgraded", name, exc_info=True)
            return
        log.info("password hash of %s upgraded", name)

    # -- preferences

    def default_instructions(self, name: str) -> str | None:
        """Return the user's default instructions for new conversations (None: the server's)."""
        record = self.records.get(name)
        return record.default_instructions if record is not None else None

    def set_default_instructions(self, name: str, text: str | None) -> None:
        """Set (None or blank: clear) the user's default instructions; `InvalidCredentials` for
        an unknown account."""
        value = text if text is not None and text.strip() else None
        stored = self.records.update(
            name, lambda r: dataclasses.replace(r, default_instructions=value)
        )
        if stored is None:
            raise InvalidCredentials("invalid credentials")

    # -- password changes

    def _set_password(self, name: str, new: str) -> None:
        new_hash = self.hasher.hash(new)
        now = time.time()
        stored = self.records.update(
            name,
            lambda r: dataclasses.replace(r, password_hash=new_hash, password_changed=now),
        )
        if stored is None:
            raise InvalidCredentials("invalid credentials")

    def change_password(
        self,
        name: str,
        old: str,
        new: str,
        *,
        keep_session_id: str | None,
        ip: str | None = None,
    ) -> None:
        """Change a password after checking the old one, and end every other session of the user.

        Raises `WeakPassword`, `InvalidCredentials` (wrong old password or unknown user) or
        `Throttled` (the old password goes through `verify`, with its limits).
        """
        check_password(new)
        if not self.verify(name, old, ip=ip):
            raise InvalidCredentials("invalid credentials")
        self._set_password(name, new)
        self.sessions.revoke_all(name, except_session_id=keep_session_id)
        log.info("password of %s changed; other sessions ended", name)

    def reset_password(self, name: str, new: str) -> None:
        """Set a password without the old one (admin CLI) and end all sessions of the user."""
        validate_username(name)
        check_password(new)
        self._set_password(name, new)
        self.sessions.revoke_all(name)
        log.info("password of %s reset; all sessions ended", name)

    def sweep(self) -> int:
        """Remove login-throttle windows with no failure inside the window; return how many went."""
        return self.throttle.sweep()

"""`Credentials`: what a source authenticates with upstream, whatever its kind. Stored sealed with
ENCRYPTION_KEY (package_broker.crypto), opened only for a sync (`SyncContext.credentials`), never logged."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a source authenticates with: a token (most providers), or a username and password (Bitbucket
    app passwords, plain git over HTTPS). Never logged, stored sealed (package_broker.crypto)."""

    token: str | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, str] | None) -> Credentials:
        values = values or {}
        return cls(values.get("token") or None, values.get("username") or None, values.get("password") or None)

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"Credentials(token={'***' if self.token else None}, username={self.username!r})"

    def values(self) -> dict[str, str]:
        """What is sealed for storage: only the fields that are set."""
        return {k: v for k, v in (("token", self.token), ("username", self.username), ("password", self.password)) if v}

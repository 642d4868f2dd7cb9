"""Managing sources, for the CLI (`package-broker source ...`) and the admin API (`/api/sources`) alike:
adding one of any kind with its credentials, the webhook path and a new webhook secret, what each serves.

Credentials arrive in clear and leave this module sealed (ENCRYPTION_KEY); a webhook secret is returned
once, to be shown once, and stored sealed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import InvalidInput
from .credentials import Credentials
from .store import Source

if TYPE_CHECKING:
    from ..broker import Broker

#: The kinds that can be added (uploads are not added: they arrive with a publish).
ADDABLE = ("git", "composer", "github", "gitlab", "bitbucket", "gitea")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


@dataclass(frozen=True, slots=True)
class NewSource:
    source: Source
    #: A provider source's webhook secret in clear (shown once); None for other kinds.
    webhook_secret: str | None = None


def webhook_path(source: Source) -> str | None:
    """The path a provider source's push webhook calls (None for other kinds)."""
    from .kinds import KINDS
    from .providers.register import webhook_path as path_of

    kind = KINDS.get(source.kind)
    return path_of(kind.provider, source.id) if kind is not None and kind.provider is not None else None


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """Move `user:password@` out of an http(s) URL (credentials are stored sealed, the URL in clear)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and (parts.username or parts.password):
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc)), (parts.username or "", parts.password or "")
    return url, None


def url_source(
    kind: str,
    url: str,
    credentials: Credentials,
    *,
    packages: list[str] | None = None,
    subdirectory: str | None = None,
) -> tuple[str, dict[str, str] | None, dict[str, Any] | None]:
    """The URL, credential values (to seal) and options of a new git or Composer repository source.

    `user:password@` in an https URL becomes credentials; a password without a user name is a Composer
    repository's token; a token wins over both. A git source's local repository must be an absolute path
    (the CLI resolves relative ones first).

    Raises:
        InvalidInput: a relative path, options that do not fit the kind, a bad sub-directory.
    """
    if kind not in ("git", "composer"):
        raise InvalidInput(f"{kind} sources are added by repository path, not URL")
    if kind == "git" and "://" not in url and not _SCP_LIKE.match(url) and not url.startswith("/"):
        raise InvalidInput(f"{url} is not a URL (https://, ssh://, git@host:path) or an absolute path")
    if packages and kind != "composer":
        raise InvalidInput("packages (the packages to mirror) are for composer sources")
    if subdirectory and kind == "composer":
        raise InvalidInput("a sub-directory names one package's directory in a git repository")
    url, inline = split_credentials(url)
    pair = inline
    if credentials.password:
        pair = (credentials.username or (inline[0] if inline else ""), credentials.password)
    values: dict[str, str] | None = None
    if pair:
        values = {"username": pair[0], "password": pair[1]}
        if kind == "composer" and not pair[0]:
            values = {"token": pair[1]}
    if credentials.token:
        values = {"token": credentials.token}
    options: dict[str, Any] | None = {"packages": [p.lower() for p in packages]} if packages else None
    if subdirectory:
        from ..artifacts.subtree import check_subdirectory

        options = {"subdirectory": check_subdirectory(subdirectory)}
        url += "#" + options["subdirectory"]  # one source per package of a monorepo
    return url, values, options


async def add_source(
    broker: Broker,
    kind: str,
    target: str,
    credentials: Credentials,
    *,
    packages: list[str] | None = None,
    api_url: str | None = None,
    subdirectory: str | None = None,
) -> NewSource:
    """Register one source of any addable kind: `target` is a URL (git, composer) or the repository's path
    at its provider (OWNER/REPO). Provider sources get a webhook secret, returned in clear once.

    Raises:
        InvalidInput: a kind, URL, path or option that does not fit. Conflict: already registered.
    """
    from .kinds import PROVIDERS

    if kind not in ADDABLE:
        raise InvalidInput(f"unknown source kind {kind!r}; use one of: {', '.join(ADDABLE)}")
    if kind in ("git", "composer"):
        if api_url:
            raise InvalidInput(f"an API URL is for provider sources, not {kind}")
        url, values, options = url_source(kind, target, credentials, packages=packages, subdirectory=subdirectory)
        sealed = await broker.seal_credentials(values) if values else None
        return NewSource(await broker.sources.add(kind, url, sealed, options))
    if packages:
        raise InvalidInput("packages (the packages to mirror) are for composer sources")
    if credentials.password and not credentials.username:
        raise InvalidInput("a password needs a username (a Bitbucket app password goes with its user name)")
    from .providers.register import add_repository

    added = await add_repository(
        broker, PROVIDERS[kind], target, credentials, api_url=api_url, subdirectory=subdirectory
    )
    return NewSource(added.source, added.webhook_secret)


async def renew_webhook(broker: Broker, source_id: str) -> tuple[Source, str]:
    """Give a provider source a new webhook secret (the old one stops working at once); return it in clear.

    Raises:
        NotFound: no such source. InvalidInput: not a provider source.
    """
    from .providers.register import new_webhook_secret

    found = await broker.sources.get(source_id)
    if webhook_path(found) is None:
        raise InvalidInput(f"{source_id} is a {found.kind} source; webhooks are for github/gitlab/bitbucket/gitea")
    return found, await new_webhook_secret(broker, found.id)


async def served(broker: Broker, source_id: str | None = None) -> dict[str, list[tuple[str, int]]]:
    """The packages each source serves (or the one given), with their number of versions, by name."""
    where, params = ("WHERE p.source_id = ? ", (source_id,)) if source_id else ("", ())
    rows = await broker.ports.db.fetch_all(
        "SELECT p.source_id, p.name, COUNT(v.version_normalized) AS n FROM packages p "
        f"LEFT JOIN versions v ON v.package = p.name {where}GROUP BY p.source_id, p.name ORDER BY p.name",
        params,
    )
    found: dict[str, list[tuple[str, int]]] = {}
    for row in rows:
        found.setdefault(row["source_id"], []).append((row["name"], int(row["n"])))
    return found

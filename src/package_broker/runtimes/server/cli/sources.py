"""`package-broker source ...`: register the git repositories and Composer repositories to serve."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ....sources.admin import ADDABLE as CORE_ADDABLE
from ....sources.admin import split_credentials
from .common import cli_actor, fail, iso, now, print_json, render_sql, run, when, worker_key

if TYPE_CHECKING:
    from ....broker import Broker
    from ....sources.store import Source


@click.group()
def source() -> None:
    """Register package sources: git repositories and Composer repositories to mirror."""


def webhook_path(s: Source) -> str | None:
    """The path a provider source's push webhook calls (None for other kinds)."""
    from ....sources.admin import webhook_path as path_of

    return path_of(s)


def source_json(s: Source) -> dict[str, Any]:
    """A source for --json output: never its credentials (nor its webhook secret), times as ISO 8601."""
    return {
        "webhook_path": webhook_path(s),
        "id": s.id,
        "kind": s.kind,
        "url": s.url,
        "has_credentials": s.credentials is not None,
        "options": s.option("packages") and {"packages": s.option("packages")},
        "status": s.status,
        "status_message": s.status_message,
        "last_synced_at": iso(s.last_synced_at),
        "sync_cursor": s.sync_cursor,
        "enabled": s.enabled,
        "sync_interval": s.sync_interval,
        "created_at": iso(s.created_at),
    }


#: The kinds `source add` takes (uploads are not added: they arrive with `publish`).
ADDABLE = [*CORE_ADDABLE, "packagist"]


def _secret_from(variable: str | None, option: str) -> str | None:
    if not variable:
        return None
    secret = os.environ.get(variable)
    if not secret:
        fail(f"{option} {variable}: that variable is empty or not set")
    return secret


@source.command("add")
@click.argument("kind", type=click.Choice(ADDABLE))
@click.argument("target", required=False)
@click.option(
    "--package",
    "packages",
    multiple=True,
    help="composer: mirror only these packages (repeatable); default: all it lists.",
)
@click.option(
    "--username", help="Upstream user (or put user:password@ in an https URL); bitbucket: with an app password."
)
@click.option("--password-env", metavar="VAR", help="Read the upstream password (or app password) from this variable.")
@click.option("--token-env", metavar="VAR", help="Read the upstream access token from this variable.")
@click.option("--api-url", metavar="URL", help="github/gitlab/bitbucket/gitea: the API of a self-hosted installation.")
@click.option(
    "--all",
    "whole",
    is_flag=True,
    help="github/gitlab/bitbucket/gitea: TARGET is an organisation, group "
    "or workspace; add each of its repositories that has a composer.json.",
)
@click.option(
    "--subdirectory",
    metavar="DIR",
    help="git/github/gitlab/bitbucket/gitea: the package is in this directory of the repository (a monorepo).",
)
@click.option("--no-sync", is_flag=True, help="Only register it; the next scheduled sync reads it.")
@click.option("--json", "as_json", is_flag=True, help="Print the source (and its first sync's report) as JSON.")
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="For the Worker: print the SQL that registers it (credentials sealed with $ENCRYPTION_KEY).",
)
def source_add(
    kind: str,
    target: str | None,
    packages: tuple[str, ...],
    username: str | None,
    password_env: str | None,
    token_env: str | None,
    api_url: str | None,
    whole: bool,
    subdirectory: str | None,
    no_sync: bool,
    as_json: bool,
    as_sql: bool,
) -> None:
    """Add a source.

    \b
    git URL                  a git repository: a local path, file://, https:// or an SSH URL
    composer URL             another Composer 2 repository to mirror (Satis, Private Packagist, another broker)
    github OWNER/REPO        a GitHub repository (GitHub Enterprise: --api-url https://HOST/api/v3)
    gitlab GROUP/PROJECT     a GitLab project (self-hosted: --api-url https://HOST/api/v4)
    bitbucket WORKSPACE/REPO a Bitbucket Cloud repository
    gitea OWNER/REPO         a Gitea or Forgejo repository (--api-url https://HOST/api/v1)
    packagist [URL]          a lazy mirror of packagist.org (or URL): names are fetched when first asked for
                             (--token-env: a GitHub token for dists on api.github.com, 60/hour without)

    Provider sources read the provider's API with a token (--token-env VAR), sync on both runtimes, and
    get a webhook URL and secret, shown once, so a push is served within seconds. Credentials are stored
    encrypted with ENCRYPTION_KEY and never printed.
    """
    if kind == "packagist":  # the lazy mirror: runtimes/server/cli/mirror.py
        if packages or username or password_env or api_url or whole or subdirectory:
            fail("source add packagist takes only a URL and --token-env (a GitHub token for dist downloads)")
        from .mirror import add_packagist

        add_packagist(target, _secret_from(token_env, "--token-env"), no_sync, as_json, as_sql)
        return
    if target is None:
        fail(f"source add {kind} needs a TARGET (a URL, or the repository's path at its provider)")
    if subdirectory and (kind == "composer" or whole):
        fail("--subdirectory names one package's directory in one repository (git or a provider's)")
    if kind in ("git", "composer"):
        if whole or api_url or token_env and kind == "git":
            fail(f"--all, --api-url{' and --token-env' if kind == 'git' else ''} are for provider sources, not {kind}")
        _add_url_source(
            kind, target, packages, username, password_env, token_env, subdirectory, no_sync, as_json, as_sql
        )
        return
    if packages:
        fail("--package is for composer sources")
    if as_sql:
        if whole:
            fail("--all reads the provider's API; with --sql, add each repository by its path")
        _provider_sql(kind, target, username, password_env, token_env, api_url, subdirectory)
        return
    _add_provider_source(
        kind, target, username, password_env, token_env, api_url, whole, subdirectory, no_sync, as_json
    )


def _audit_added(source_id: str, kind: str, url: str) -> Any:
    """The audit entry of a source added with --sql (the Worker's D1 records it like any other)."""
    from ....audit import statement

    return statement(now(), cli_actor(), "source.added", source_id, details={"kind": kind, "url": url})


def _provider_sql(
    kind: str,
    path: str,
    username: str | None,
    password_env: str | None,
    token_env: str | None,
    api_url: str | None,
    subdirectory: str | None,
) -> None:
    """For the Worker: the SQL that registers a provider source, its credentials and a new webhook secret
    sealed with $ENCRYPTION_KEY (the Worker's key); the secret is printed once, on stderr."""
    import asyncio
    import secrets

    from ....crypto.credentials import seal_json
    from ....errors import InvalidInput
    from ....sources.kinds import PROVIDERS
    from ....sources.providers.register import provider_source
    from ....sources.providers.register import webhook_path as webhook_path_of
    from ....sources.store import prepare_source
    from ..cipher import CryptographyCipher

    provider = PROVIDERS[kind]
    values = {
        k: v
        for k, v in (
            ("token", _secret_from(token_env, "--token-env")),
            ("username", username),
            ("password", _secret_from(password_env, "--password-env")),
        )
        if v
    }
    secret = secrets.token_urlsafe(32)
    key, cipher = worker_key(), CryptographyCipher()
    try:
        url, options = provider_source(provider, path, api_url, subdirectory)
        sealed = asyncio.run(seal_json(cipher, key, values)) if values else None
        hook = asyncio.run(seal_json(cipher, key, {"secret": secret}))
        source_id, insert = prepare_source(now(), kind, url, sealed, options, webhook_secret=hook)
    except InvalidInput as exc:
        fail(str(exc))
    click.echo(render_sql(*insert))
    click.echo(render_sql(*_audit_added(source_id, kind, url)))
    click.echo(
        f"Source {source_id}; store it with: npx wrangler d1 execute package-broker-db --remote --file <this output>\n"
        f"Webhook ({provider.webhook_help or 'the repository settings'}), shown only now:\n"
        f"  URL:    https://<your worker's address>{webhook_path_of(provider, source_id)}\n"
        f"  Secret: {secret}",
        err=True,
    )


def _add_url_source(
    kind: str,
    url: str,
    packages: tuple[str, ...],
    username: str | None,
    password_env: str | None,
    token_env: str | None,
    subdirectory: str | None,
    no_sync: bool,
    as_json: bool,
    as_sql: bool,
) -> None:
    if kind == "git" and "://" not in url and not re.match(r"^[\w.-]+@[\w.-]+:", url):
        path = Path(url).expanduser()
        if not path.exists():
            fail(f"{url} is neither a URL nor an existing directory")
        url = str(path.resolve())
    from ....errors import InvalidInput as Invalid
    from ....sources.admin import url_source
    from ....sources.credentials import Credentials

    given = Credentials(
        token=_secret_from(token_env, "--token-env"),
        username=username,
        password=_secret_from(password_env, "--password-env"),
    )
    try:
        url, values, options = url_source(
            kind, url, given, packages=[p.lower() for p in packages] or None, subdirectory=subdirectory
        )
    except Invalid as exc:
        fail(str(exc))
    if as_sql:
        import asyncio

        from ....crypto.credentials import seal_json
        from ....errors import InvalidInput
        from ....sources.store import prepare_source
        from ..cipher import CryptographyCipher

        sealed_sql = asyncio.run(seal_json(CryptographyCipher(), worker_key(), values)) if values else None
        try:
            source_id, insert = prepare_source(now(), kind, url, sealed_sql, options)
        except InvalidInput as exc:
            fail(str(exc))
        click.echo(render_sql(*insert))
        click.echo(render_sql(*_audit_added(source_id, kind, url)))
        click.echo(
            f"Source {source_id}; store it with: npx wrangler d1 execute package-broker-db --remote --file "
            "<this output>",
            err=True,
        )
        return

    async def work(broker: Broker) -> Any:
        from ....sources.job import sync_source

        sealed = await broker.seal_credentials(values) if values else None
        added = await broker.sources.add(kind, url, sealed, options)
        report = None if no_sync else await sync_source(broker, added)
        return added, report

    added, report = run(work)
    _print_added([(added, report, None)], None, as_json, "(credentials stored encrypted)" if values else "")


def _add_provider_source(
    kind: str,
    target: str,
    username: str | None,
    password_env: str | None,
    token_env: str | None,
    api_url: str | None,
    whole: bool,
    subdirectory: str | None,
    no_sync: bool,
    as_json: bool,
) -> None:
    from ....sources.credentials import Credentials
    from ....sources.kinds import PROVIDERS

    provider = PROVIDERS[kind]
    credentials = Credentials(
        token=_secret_from(token_env, "--token-env"),
        username=username,
        password=_secret_from(password_env, "--password-env"),
    )
    if credentials.password and not credentials.username:
        fail("--password-env needs --username (a Bitbucket app password goes with its user name)")

    async def work(broker: Broker) -> Any:
        from ....catalog.store import PUBLIC_URL
        from ....sources.job import sync_source
        from ....sources.providers.register import add_organisation, add_repository

        if whole:
            added, existing = await add_organisation(broker, provider, target, credentials, api_url=api_url)
        else:
            one = await add_repository(
                broker, provider, target, credentials, api_url=api_url, subdirectory=subdirectory
            )
            added, existing = [one], []
        results = []
        for one in added:
            report = None if no_sync else await sync_source(broker, one.source)
            results.append((one.source, report, one.webhook_secret))
        base = broker.settings.base_url or await broker.catalog.state_text(PUBLIC_URL)
        return results, existing, base

    results, existing, base = run(work)
    for path in existing:
        click.echo(f"Already a source: {path} (left as it is)", err=True)
    if whole and not results and not existing:
        fail(f"no repository of {target} on {provider.title} has a composer.json on its default branch")
    _print_added(results, base, as_json, "(token stored encrypted)" if credentials.token else "")


def _print_added(
    results: list[tuple[Source, Any, str | None]], base: str | None, as_json: bool, stored: str, added: bool = True
) -> None:
    """Print what `source add` did; for provider sources, the webhook URL and secret (shown only now)."""
    from dataclasses import asdict

    from ....sources.kinds import KINDS

    def hook(s: Source, secret: str | None) -> dict[str, str] | None:
        path = webhook_path(s)
        if path is None or secret is None:
            return None
        return {"url": f"{base}{path}" if base else path, "secret": secret}

    if as_json:
        out = [
            {**source_json(s), "sync": asdict(r) if r else None, "webhook": hook(s, secret)} for s, r, secret in results
        ]
        print_json(out[0] if len(out) == 1 else out)
    else:
        for s, report, secret in results:
            if added:
                click.echo(f"Added {s.id}: {s.kind} {s.url}" + (f" {stored}" if stored else ""))
            if report is not None:
                click.echo(f"Sync: {report.status}: {report.message}")
            if (webhook := hook(s, secret)) is not None:
                provider = KINDS[s.kind].provider
                assert provider is not None
                where = webhook["url"] if base else f"https://<this broker's address>{webhook['url']}"
                click.echo(f"Webhook ({provider.webhook_help or 'the repository settings'}), shown only now:")
                click.echo(f"  URL:    {where}")
                click.echo(f"  Secret: {webhook['secret']}")
                click.echo("  Content type: application/json; events: push (and tag push)")
    if any(r is not None and r.status == "error" for _, r, _ in results):
        raise SystemExit(1)


@source.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (times in ISO 8601).")
def source_list(as_json: bool) -> None:
    """List sources with their sync status."""

    async def work(broker: Broker) -> tuple[list[Source], dict[str, list[tuple[str, int]]]]:
        from ....sources.admin import served

        return await broker.sources.all(), await served(broker)

    found, served = run(work)
    if as_json:
        print_json([{**source_json(s), "packages": {n: c for n, c in served.get(s.id, [])}} for s in found])
        return
    for s in found:
        what = "uploads" if s.kind == "artifact" else s.url
        state = s.status if s.enabled else "disabled"
        click.echo(f"{s.id:<16} {s.kind:<9} {state:<8} synced {when(s.last_synced_at):<20} {what}")
        if s.status_message and s.kind != "artifact":
            click.echo(f"{'':<16} {s.status_message}")
        packages = served.get(s.id, [])
        if packages:
            shown = ", ".join(f"{name} ({count})" for name, count in packages[:8])
            more = f" and {len(packages) - 8} more (package list)" if len(packages) > 8 else ""
            click.echo(f"{'':<16} serves {shown}{more}")


@source.command("show")
@click.argument("source_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (times in ISO 8601).")
def source_show(source_id: str, as_json: bool) -> None:
    """One source: its status, what it serves, and every ref it read or skipped, with the reason."""

    async def work(broker: Broker) -> tuple[Source, list[dict[str, Any]], list[str]]:
        found = await broker.sources.get(source_id)
        refs = sorted((await broker.sources.refs(source_id)).values(), key=lambda r: str(r["ref"]))
        rows = await broker.ports.db.fetch_all(
            "SELECT name FROM packages WHERE source_id = ? ORDER BY name", (source_id,)
        )
        return found, refs, [row["name"] for row in rows]

    found, refs, names = run(work)
    if as_json:
        print_json({**source_json(found), "packages": names, "refs": refs})
        return
    state = "enabled" if found.enabled else "disabled (not synced by the scheduler)"
    click.echo(f"{found.id}: {found.kind} {found.url}  [{state}]")
    click.echo(f"status: {found.status}, last complete sync {when(found.last_synced_at)}")
    if found.status_message:
        click.echo(f"  {found.status_message}")
    interval = f"every {found.sync_interval} s" if found.sync_interval else "every SYNC_INTERVAL"
    click.echo(f"scheduled: {interval}" + ("; credentials stored encrypted" if found.credentials else ""))
    click.echo(f"serves: {', '.join(names) if names else 'nothing yet'}")
    if (path := webhook_path(found)) is not None:
        click.echo(f"webhook: POST {path} (a new secret: package-broker source webhook {found.id})")
    skipped = [r for r in refs if r["status"] != "ok"]
    click.echo(f"\n{len(refs)} refs read, {len(skipped)} skipped" + (":" if skipped else ""))
    for ref in skipped:
        click.echo(f"  {ref['ref']}: {ref['reason']}")


@source.command("webhook")
@click.argument("source_id")
@click.option("--json", "as_json", is_flag=True, help="Print the URL and the secret as JSON.")
def source_webhook(source_id: str, as_json: bool) -> None:
    """Give a provider source a new webhook secret (the old one stops working at once) and show it once,
    with the URL to paste into the provider's webhook settings."""

    async def work(broker: Broker) -> tuple[Source, str, str | None]:
        from ....catalog.store import PUBLIC_URL
        from ....sources.admin import renew_webhook

        found, secret = await renew_webhook(broker, source_id)
        return found, secret, broker.settings.base_url or await broker.catalog.state_text(PUBLIC_URL)

    found, secret, base = run(work)
    _print_added([(found, None, secret)], base, as_json, "", added=False)


@source.command("edit")
@click.argument("source_id")
@click.option("--url", help="A new URL (the next sync reads everything again).")
@click.option("--username", help="A new upstream user (with --password-env).")
@click.option("--password-env", metavar="VAR", help="Read the new password or token from this variable.")
@click.option("--token-env", metavar="VAR", help="Read a new access token from this variable (provider sources).")
@click.option("--no-credentials", is_flag=True, help="Forget the stored credentials.")
@click.option("--interval", type=int, help="Seconds between scheduled syncs of this source (at least 60).")
def source_edit(
    source_id: str,
    url: str | None,
    username: str | None,
    password_env: str | None,
    token_env: str | None,
    no_credentials: bool,
    interval: int | None,
) -> None:
    """Change a source's URL, credentials or sync interval."""
    credentials: dict[str, str] | None = None
    if url is not None:
        url, inline = split_credentials(url)
        if inline:
            credentials = {"username": inline[0], "password": inline[1]}
    if password_env:
        secret = os.environ.get(password_env)
        if not secret:
            fail(f"--password-env {password_env}: that variable is empty or not set")
        credentials = {"username": username, "password": secret} if username else {"token": secret}
    if token := _secret_from(token_env, "--token-env"):
        credentials = {"token": token}
    if credentials is not None and no_credentials:
        fail("--no-credentials and new credentials contradict each other")

    async def work(broker: Broker) -> Source:
        sealed = await broker.seal_credentials(credentials) if credentials else None
        return await broker.sources.update(
            source_id, url=url, credentials=sealed, forget_credentials=no_credentials, sync_interval=interval
        )

    edited = run(work)
    click.echo(f"Updated {edited.id}: {edited.kind} {edited.url}")


@source.command("disable")
@click.argument("source_id")
def source_disable(source_id: str) -> None:
    """Stop scheduled syncs of a source; what it serves stays served."""
    run(lambda broker: broker.sources.update(source_id, enabled=False))
    click.echo(f"{source_id} is disabled: the scheduler skips it (`package-broker sync {source_id}` still works).")


@source.command("enable")
@click.argument("source_id")
def source_enable(source_id: str) -> None:
    """Schedule syncs of a disabled source again."""
    run(lambda broker: broker.sources.update(source_id, enabled=True))
    click.echo(f"{source_id} is enabled.")


@source.command("remove")
@click.argument("source_id")
@click.option("--purge", is_flag=True, help="Delete its archives too: composer.lock files naming them stop installing.")
def source_remove(source_id: str, purge: bool) -> None:
    """Stop syncing and serving a source. Its archives stay downloadable unless --purge."""
    from ....catalog.admin import remove_source

    names = run(lambda broker: remove_source(broker, source_id, purge=purge))
    gone = ", ".join(names) if names else "nothing"
    kept = "its archives are deleted" if purge else "their archives stay downloadable for existing composer.lock files"
    click.echo(f"Removed {source_id}; no longer served: {gone}; {kept}.")

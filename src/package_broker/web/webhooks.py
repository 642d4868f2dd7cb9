"""`POST /webhooks/<provider>/<source-id>`: a provider tells us about a push; we sync that one source.

The call is trusted only if it carries the source's secret the way its provider signs (GitHub and Gitea
HMAC-SHA256 of the body, GitLab's token header, Bitbucket's HMAC); the secret is generated per source,
stored sealed and shown once. A delivery id already acted on is refused, so a captured call cannot be
replayed to make us sync again and again. Every refusal is the same 401, whatever the reason (unknown
source, wrong kind, no webhook, bad signature, replay), so the route tells an attacker nothing; the log
keeps the reason.

The sync runs after the answer (the provider gives up on slow webhooks: GitHub after 10 s), within the
invocation's budget on Workers.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import TYPE_CHECKING

from ..access.auth import AuthError
from ..audit import acting_in
from ..errors import BackendError, BrokerError
from ..sources.job import sync_all
from ..sources.kinds import KINDS
from ..sources.providers.provider import WebhookRefused
from .http import Response, json_response

if TYPE_CHECKING:
    from .app import Context

log = logging.getLogger("package_broker.webhooks")

PATTERN = re.compile(r"^/webhooks/([a-z]+)/(src_[0-9a-f]{10})$")
#: Largest webhook body read (GitHub caps its payloads at 25 MB; a push of a few commits is a few KiB).
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
#: How long a delivery id is remembered (providers redeliver by hand within days, not months).
DELIVERY_DAYS = 30


def _refused() -> AuthError:
    """The one refusal, whatever the reason (the reason goes to the log only)."""
    return AuthError("webhook", "this webhook call is not signed with this source's secret")


async def webhook(ctx: Context, kind_name: str, source_id: str) -> Response:
    broker = ctx.broker
    with await ctx.request.receive(MAX_WEBHOOK_BYTES) as blob:
        body = blob.file.read()
    kind = KINDS.get(kind_name)
    source = await broker.sources.find(source_id)
    secret = None
    if kind is not None and kind.provider is not None and source is not None and source.kind == kind_name:
        try:
            secret = await broker.sources.webhook_secret(source, broker.open_credentials)
        except BackendError:
            raise  # the database failed: a 503, and the provider retries
        except BrokerError as exc:  # sealed under a key we no longer hold: refused like any bad call
            log.error("webhook for %s refused: its secret cannot be read (%s)", source_id, exc)
            raise _refused() from None
    if kind is None or kind.provider is None or source is None or secret is None:
        log.warning("webhook refused: no %s source %s with a webhook", kind_name, source_id)
        raise _refused()
    try:
        call = kind.provider.verify_webhook(ctx.request.headers, body, secret)
    except WebhookRefused as exc:
        log.warning("webhook for %s refused: %s", source_id, exc)
        raise _refused() from None
    # The signature covers the body, not the delivery id: a captured push replayed under a new id is
    # caught by its body's digest (two real pushes never have the same body: they name their commits).
    seen = [call.delivery] if call.delivery else []
    if call.event == "push":
        seen.append("sha256:" + hashlib.sha256(body).hexdigest())
    for delivery in seen:
        if not await broker.sources.first_delivery(source_id, delivery, keep_days=DELIVERY_DAYS):
            log.warning("webhook for %s refused: delivery %s was already received", source_id, delivery)
            raise _refused()
    if call.event != "push":
        return json_response(200, {"source": source_id, "event": call.event, "sync": "not needed"})
    if not source.enabled:
        return json_response(200, {"source": source_id, "event": call.event, "sync": "source disabled"})
    # On Workers the invocation's budget applies (sync_all uses the running one); on the server, none.
    # Whenever and however the runtime runs deferred work, the sync is recorded as this webhook's.
    ctx.request.defer(acting_in(f"webhook:{kind_name}", ctx.request.client, sync_all(broker, [source_id])))
    return json_response(202, {"source": source_id, "event": call.event, "sync": "started"})

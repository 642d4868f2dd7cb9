-- Provider sources (GitHub, GitLab, Bitbucket, Gitea) and push webhooks.

-- What a repository remembers between syncs (ETags, the last listing, a rate limit's end), as JSON; only
-- written when it changes, so an unchanged upstream costs no write.
ALTER TABLE sources ADD COLUMN upstream_state TEXT;
-- The secret that signs this source's webhook calls, sealed with ENCRYPTION_KEY; NULL: no webhook.
ALTER TABLE sources ADD COLUMN webhook_secret TEXT;

-- Webhook deliveries already acted on (the provider's delivery id), so a replayed call is refused.
CREATE TABLE webhook_deliveries (
    source_id TEXT NOT NULL,
    delivery TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, delivery)
);

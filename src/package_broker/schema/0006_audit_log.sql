-- The audit log: one row per administrative action (a token created or revoked, a source added, edited or
-- removed, a sync started by hand or by a webhook, a package published, deleted or restored, a key rotated).
-- It never holds a secret: package_broker.audit refuses values that look like one. Rows older than
-- AUDIT_RETENTION_DAYS are deleted by the scheduled sync (at most once a day).
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    -- Unix seconds.
    at BIGINT NOT NULL,
    -- Who: a token id (tok_...), cli:<login name>, webhook:<provider>, later user:<name>.
    actor TEXT NOT NULL,
    -- What, as noun.verb: token.created, source.removed, package.published, ...
    action TEXT NOT NULL,
    -- What it was done to: a token id, a source id, a package name (and version); NULL for "every source".
    target TEXT,
    -- The client's address for HTTP calls; NULL for the command line.
    address TEXT,
    -- JSON object with what else is worth knowing (a permission, a URL without credentials); no secrets.
    details TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- PACKAGE.broker schema, portable across D1/SQLite and PostgreSQL.
-- Applied by `npx wrangler d1 migrations apply package-broker-db` on Cloudflare and by
-- `package-broker migrate` (or `serve`) on the server; both record it in the `d1_migrations` ledger.
-- Times are Unix seconds (BIGINT). Ids are text. Flags are INTEGER 0/1. JSON is TEXT.

-- Where versions come from: a git repository, the upload area, later GitHub/GitLab/Composer repositories.
CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    -- AES-256-GCM ciphertext of the upstream credentials; it names the key that made it.
    credentials TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    status_message TEXT,
    -- Lease held by a running sync, so cron and a manual sync never run the same source at once.
    sync_started_at BIGINT,
    last_synced_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sources_kind_url ON sources (kind, url);

-- One row per package name. Exactly one source owns a name.
CREATE TABLE packages (
    name TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources (id),
    -- Last-Modified of p2/<name>.json (tags) and p2/<name>~dev.json (branches).
    tags_modified_at BIGINT NOT NULL,
    dev_modified_at BIGINT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX packages_source ON packages (source_id);

-- One row per served version: the full Composer version object, dist URL relative to the broker.
CREATE TABLE versions (
    package TEXT NOT NULL REFERENCES packages (name),
    version_normalized TEXT NOT NULL,
    version TEXT NOT NULL,
    is_dev INTEGER NOT NULL,
    reference TEXT NOT NULL,
    data TEXT NOT NULL,
    released_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (package, version_normalized)
);

-- Every dist archive ever published. Rows and objects stay when a version disappears, so lock files
-- written against it keep installing.
CREATE TABLE dists (
    package TEXT NOT NULL,
    reference TEXT NOT NULL,
    object_key TEXT NOT NULL,
    shasum TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (package, reference)
);

-- What the last sync saw for each ref of a source, and why a ref was skipped.
CREATE TABLE source_refs (
    source_id TEXT NOT NULL REFERENCES sources (id),
    ref TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    package TEXT,
    version_normalized TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, ref)
);

-- Composer tokens. Only a SHA-256 of the token is stored.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    token_prefix TEXT NOT NULL,
    permission TEXT NOT NULL DEFAULT 'readonly',
    -- JSON list such as ["acme/", "acme/lib-*"]; NULL means every package.
    allowed_package_prefixes TEXT,
    rate_limit BIGINT,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX tokens_hash ON tokens (token_hash);

-- Small named values shared by every process, e.g. when the set of package names last changed.
CREATE TABLE broker_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Installs reported by Composer through notify-batch, counted per version and day.
CREATE TABLE downloads (
    package TEXT NOT NULL,
    version_normalized TEXT NOT NULL,
    day TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (package, version_normalized, day)
);

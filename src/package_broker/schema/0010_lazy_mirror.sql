-- The lazy packagist mirror (sources/lazy_mirror.py, catalog/mirror.py) and security advisories
-- (advisories/).

-- One row per upstream metadata file a lazy mirror fetched because a client asked for it: `file` is the
-- package name, with `~dev` for the branches file. Kept apart from `packages`/`versions`, which hold what
-- private sources (git, providers, uploads, Composer repositories) serve: a name in `packages` is never
-- served from here, whatever versions this table holds ("private wins").
CREATE TABLE mirror_files (
    source_id TEXT NOT NULL,
    file TEXT NOT NULL,
    package TEXT NOT NULL,
    -- 'ok' (versions served), 'missing' (the upstream answered 404: asked again after a while)
    status TEXT NOT NULL,
    -- The version objects as a minified composer/2.0 list, dist URLs relative to the broker.
    versions TEXT,
    -- Dist reference -> [upstream URL, upstream shasum] of every version listed, for the first download.
    dists TEXT,
    -- The upstream's Last-Modified, sent back as If-Modified-Since.
    last_modified TEXT,
    -- Our Last-Modified: when what we serve from this file last changed.
    modified_at BIGINT NOT NULL,
    -- When the upstream was last asked about this file.
    checked_at BIGINT NOT NULL,
    -- When a client last asked for it (files nobody asks for are refreshed less often).
    requested_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, file)
);
CREATE INDEX mirror_files_package ON mirror_files (package);

-- Vendors the operator marked private: no name under them is ever fetched from a mirror.
CREATE TABLE private_vendors (
    vendor TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Security advisories Composer reads through packages.json's security-advisories api-url: those the
-- operator records for private packages (origin 'operator') and those copied from a mirror's upstream
-- (origin = the source id). `data` is the advisory as Composer's API answers it.
CREATE TABLE advisories (
    origin TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    package TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (origin, advisory_id, package)
);
CREATE INDEX advisories_package ON advisories (package);

-- When a mirror last asked its upstream for a package's advisories (the answer is cached this long).
CREATE TABLE advisory_checks (
    source_id TEXT NOT NULL,
    package TEXT NOT NULL,
    checked_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, package)
);

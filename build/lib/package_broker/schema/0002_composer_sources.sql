-- Composer repository sources (mirroring another Composer 2 repository, on both runtimes).

-- Per-kind options as JSON, e.g. {"packages": ["acme/lib"]} for the packages a Composer source mirrors.
ALTER TABLE sources ADD COLUMN options TEXT;

-- The upstream URL a mirrored archive was downloaded from, so each upstream archive is fetched once.
ALTER TABLE dists ADD COLUMN upstream_url TEXT;
CREATE INDEX dists_upstream ON dists (package, upstream_url);

-- The Last-Modified an upstream metadata file had at the last sync, sent back as If-Modified-Since.
ALTER TABLE source_refs ADD COLUMN last_modified TEXT;

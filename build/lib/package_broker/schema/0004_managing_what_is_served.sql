-- Managing what is served: sources can be paused and synced on their own schedule, and a version can be
-- hidden (a mirrored or git version the operator does not want served; the next sync must not bring it back).

-- 0: the scheduler skips the source (what it serves stays served).
ALTER TABLE sources ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
-- Seconds between scheduled syncs of this source; NULL: SYNC_INTERVAL.
ALTER TABLE sources ADD COLUMN sync_interval BIGINT;

-- Versions left out of the metadata whatever their source says. Their archives stay downloadable, so a
-- composer.lock that names one still installs.
CREATE TABLE hidden_versions (
    package TEXT NOT NULL,
    version_normalized TEXT NOT NULL,
    hidden_at BIGINT NOT NULL,
    PRIMARY KEY (package, version_normalized)
);

-- Resumable syncs: a sync that runs out of its budget (a Worker invocation's subrequests, a time limit)
-- records where it stopped, and the next run continues from there.

-- The last package name a source's unfinished sync pass completed; NULL when no pass is under way.
ALTER TABLE sources ADD COLUMN sync_cursor TEXT;

-- Resumable syncs: a sync that runs out of its budget (a Worker invocation's subrequests, a time limit)
-- records where it stopped, and the next run continues from there.

-- The last package name a source's unfinished sync pass completed; NULL when no pass is under way.
ALTER TABLE sources ADD COLUMN sync_cursor TEXT;

-- Who holds a source's sync lease (a random id per sync run). The lease is short and renewed while the
-- sync runs, so one whose process died is taken over within a minute and a half.
ALTER TABLE sources ADD COLUMN sync_lease TEXT;

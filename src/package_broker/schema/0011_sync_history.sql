-- Each source's newest sync outcomes (scheduled, manual, webhook), newest first, as a JSON list of
-- {"started_at", "finished_at", "status", "message"}: written by the same UPDATE that records the outcome and
-- releases the lease (sources/store.py finish), so keeping a history costs no extra database call.
ALTER TABLE sources ADD COLUMN sync_history TEXT;

-- ATS webhook events beyond candidate.completed (issue 21.7): which ones an organisation takes, and
-- when an interview's closing (its deadline passing) was queued, so it is queued once.
ALTER TABLE organisations ADD COLUMN IF NOT EXISTS webhook_events text[] NOT NULL DEFAULT '{candidate.completed}';
ALTER TABLE interviews ADD COLUMN IF NOT EXISTS closed_event_at timestamptz;
CREATE INDEX IF NOT EXISTS interviews_closing ON interviews(deadline) WHERE closed_event_at IS NULL AND deadline IS NOT NULL;

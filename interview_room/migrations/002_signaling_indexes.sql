-- lookups by session for the history list (average score) and the detail view (translations);
-- the ledger's per-session index comes with 003_billing.sql
CREATE INDEX IF NOT EXISTS scores_session ON scores(session_id);
CREATE INDEX IF NOT EXISTS translations_session ON translations(session_id, id);

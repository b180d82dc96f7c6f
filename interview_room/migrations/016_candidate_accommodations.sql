-- Candidate accommodations (issue 21.6): extra think and answer time for one candidate, in percent of
-- the question's times (50 = time and a half). The server's answer time limit honours it.
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS extra_time_pct int NOT NULL DEFAULT 0
    CHECK (extra_time_pct BETWEEN 0 AND 200);

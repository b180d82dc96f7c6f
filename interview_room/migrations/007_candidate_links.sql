-- recruiters (issue 8): links the recruiter can copy again, deadline reminders, cached answer scores

-- The public link's token is derived from SECRET_KEY, the candidate id and this nonce (see
-- signaling/recruiting/links.py), so the server can show the link again without storing it;
-- a new nonce is a new link and the old one stops working. NULL: invited before this column existed
-- (the link cannot be shown again; issue a new one).
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS link_nonce text;
-- when the last reminder e-mail went out (automatic before the deadline, or sent by the recruiter)
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS reminded_at timestamptz;
CREATE INDEX IF NOT EXISTS candidates_pending_expiry ON candidates(expires_at)
    WHERE status <> 'completed' AND revoked_at IS NULL AND reminded_at IS NULL AND email <> '';

-- One AI score per reviewed answer, reused until the answer's captions change (a late caption, a
-- different provider): review pages, comparisons and exports read it instead of re-scoring.
CREATE TABLE IF NOT EXISTS answer_scores (
    session_id uuid PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    captions_key text NOT NULL,                 -- count and newest id of the final captions scored
    provider text NOT NULL,                     -- 'offline' | 'openai'
    score jsonb,                                -- NULL: nothing was said
    created_at timestamptz NOT NULL DEFAULT now()
);

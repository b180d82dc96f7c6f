-- team review (issue 21): roles owner / recruiter / reviewer, removed members, answer ratings, share links

-- 'member' (every non-owner before this) becomes 'recruiter'; a reviewer reads and rates only
ALTER TABLE org_members DROP CONSTRAINT IF EXISTS org_members_role_check;
UPDATE org_members SET role = 'recruiter' WHERE role = 'member';
ALTER TABLE org_members ADD CONSTRAINT org_members_role_check CHECK (role IN ('owner', 'recruiter', 'reviewer'));
-- the role an invitation grants when accepted
ALTER TABLE org_invites ADD COLUMN IF NOT EXISTS role text NOT NULL DEFAULT 'recruiter'
    CHECK (role IN ('recruiter', 'reviewer'));

-- who was removed from which organisation: their next request answers 403 instead of "no organisation"
CREATE TABLE IF NOT EXISTS org_removals (
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    removed_by uuid REFERENCES users(id) ON DELETE SET NULL,
    removed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);

-- one rating per reviewer per answer (question of a candidate): 1..5 per rubric criterion, and a comment
CREATE TABLE IF NOT EXISTS answer_ratings (
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    candidate_id uuid NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
    question_idx int NOT NULL CHECK (question_idx >= 0),
    reviewer_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scores jsonb NOT NULL,                      -- {"criterion": 1..5}
    comment text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (candidate_id, question_idx, reviewer_id)
);
CREATE INDEX IF NOT EXISTS answer_ratings_org ON answer_ratings(org_id, candidate_id);

-- read-only review links for a hiring manager without an account; the token is never stored
CREATE TABLE IF NOT EXISTS review_share_links (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    candidate_id uuid NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,            -- keyed hash of the link's token
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS review_share_links_candidate ON review_share_links(org_id, candidate_id, created_at DESC);

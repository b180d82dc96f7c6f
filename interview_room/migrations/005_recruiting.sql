-- recorded interviews for recruiters (issue 8): organisations, interviews, candidates, answers, ATS webhooks
--
-- Each candidate answer attempt is an ordinary row in ``sessions`` (mode 'recorded_answer') owned by the
-- organisation's owner: the recording, captions and credit metering reuse the live pipeline unchanged,
-- and the owner's credits pay for the candidates' answer time.

CREATE TABLE organisations (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    owner_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    webhook_url text NOT NULL DEFAULT '',       -- ATS endpoint told when a candidate completes ('' = none)
    webhook_secret text NOT NULL,               -- HMAC-SHA256 key of the X-Signature header
    created_at timestamptz NOT NULL DEFAULT now()
);

-- a user belongs to at most one organisation (the recruiter's tenant)
CREATE TABLE org_members (
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    user_id uuid NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'member')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE org_invites (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    email text NOT NULL,
    token_hash text NOT NULL UNIQUE,            -- keyed hash of the link's token; the token itself is never stored
    invited_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz
);
CREATE INDEX org_invites_org ON org_invites(org_id, created_at DESC);

CREATE TABLE interviews (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    title text NOT NULL,
    job_description text NOT NULL DEFAULT '',
    -- [{text, think_seconds, answer_seconds, retakes, key_points: [...]}], in the order asked
    questions jsonb NOT NULL DEFAULT '[]',
    deadline timestamptz,
    company_name text NOT NULL DEFAULT '',
    intro_text text NOT NULL DEFAULT '',
    is_template boolean NOT NULL DEFAULT false, -- shown in the template library to clone from
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interviews_org ON interviews(org_id, created_at DESC);

CREATE TABLE candidates (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    interview_id uuid NOT NULL REFERENCES interviews(id) ON DELETE CASCADE,
    email text NOT NULL DEFAULT '',             -- '' for a link-only invite
    name text NOT NULL DEFAULT '',
    token_hash text NOT NULL UNIQUE,            -- keyed hash of the public link's token
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    status text NOT NULL DEFAULT 'invited' CHECK (status IN ('invited', 'started', 'completed')),
    consent_at timestamptz,
    started_at timestamptz,
    completed_at timestamptz,
    decision text CHECK (decision IN ('pass', 'fail')),
    decision_note text NOT NULL DEFAULT '',
    decided_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX candidates_interview ON candidates(interview_id, created_at);
CREATE UNIQUE INDEX candidates_interview_email ON candidates(interview_id, email) WHERE email <> '';

-- one row per recording attempt; the latest 'done' attempt of a question is the answer reviewed
CREATE TABLE candidate_answers (
    candidate_id uuid NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
    question_idx int NOT NULL,                  -- 0-based position in interviews.questions
    attempt int NOT NULL,                       -- 1-based
    session_id uuid REFERENCES sessions(id) ON DELETE SET NULL,
    status text NOT NULL DEFAULT 'recording' CHECK (status IN ('recording', 'done', 'abandoned')),
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (candidate_id, question_idx, attempt)
);
CREATE UNIQUE INDEX candidate_answers_session ON candidate_answers(session_id) WHERE session_id IS NOT NULL;

-- every attempt to tell the ATS, successful or not
CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    candidate_id uuid REFERENCES candidates(id) ON DELETE SET NULL,
    event text NOT NULL,
    delivery_id uuid NOT NULL,                  -- the same across the retries of one event (X-Delivery-Id)
    url text NOT NULL,
    attempt int NOT NULL,
    status_code int,
    error text NOT NULL DEFAULT '',
    ok boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_org ON webhook_deliveries(org_id, id DESC);

-- mock interviews: the interviewer's plan and state, and the report built when the session ends

-- One row per mock session: where the interviewer is. ``step`` is a compare-and-set counter, so
-- two llm workers (or a redelivered job) can never advance the same interview twice.
CREATE TABLE mock_sessions (
    session_id uuid PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mock_type text NOT NULL,
    difficulty text NOT NULL,
    provider text NOT NULL,                     -- openai | offline: who wrote the questions
    total int NOT NULL,
    current int NOT NULL DEFAULT 0,             -- 1-based index of the question being asked, 0 before the first
    phase text NOT NULL DEFAULT 'planned',      -- planned | asking | answering | done
    follow_up boolean NOT NULL DEFAULT false,   -- the current turn is the follow-up of question ``current``
    step int NOT NULL DEFAULT 0,
    turn_started_at timestamptz,
    last_caption_at timestamptz,
    boundary_t double precision,                -- candidate speech before this session time belongs to the previous turn
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    done_reason text
);

CREATE TABLE mock_questions (
    session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    idx int NOT NULL,                           -- 1-based
    question_id text NOT NULL,                  -- the row in ``questions`` (and ``scores``) for this question
    text text NOT NULL,
    category text NOT NULL DEFAULT '',
    key_points jsonb NOT NULL DEFAULT '[]',
    follow_ups jsonb NOT NULL DEFAULT '[]',
    time_allocation_s int NOT NULL,
    source text NOT NULL,                       -- bank | openai
    bank_id text,
    status text NOT NULL DEFAULT 'pending',     -- pending | asked | answered | skipped | unanswered
    asked_at timestamptz,
    finished_at timestamptz,
    repeats int NOT NULL DEFAULT 0,
    follow_up_text text,
    caption_ids text[] NOT NULL DEFAULT '{}',   -- the candidate's answer (follow-up answer included), in order
    PRIMARY KEY (session_id, idx)
);

CREATE TABLE reports (
    session_id uuid PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mock_type text NOT NULL,
    overall_score int NOT NULL,
    report jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- the progress chart: a user's earlier reports of one interview type
CREATE INDEX reports_user_type ON reports(user_id, mock_type, created_at);

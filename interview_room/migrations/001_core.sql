-- users, auth, sessions and everything the pipeline writes about a session
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL DEFAULT '',
    password_hash text,
    plan text NOT NULL DEFAULT 'free',
    default_listen_language text NOT NULL DEFAULT 'en',
    default_answer_language text NOT NULL DEFAULT 'en',
    default_instructions text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_tokens (
    id text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX auth_tokens_user ON auth_tokens(user_id);

CREATE TABLE login_codes (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    code_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    attempts int NOT NULL DEFAULT 0
);
CREATE INDEX login_codes_email ON login_codes(email, created_at DESC);

CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title text NOT NULL DEFAULT '',
    mode text NOT NULL DEFAULT 'assistant',
    listen_language text NOT NULL DEFAULT 'en',
    answer_language text NOT NULL DEFAULT 'en',
    hints text NOT NULL DEFAULT '',
    instructions text NOT NULL DEFAULT '',
    resume_text text NOT NULL DEFAULT '',
    hangover text NOT NULL DEFAULT 'balanced',
    mock jsonb,
    status text NOT NULL DEFAULT 'created',   -- created | live | ended
    media_node text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    ended_at timestamptz,
    media_seconds double precision NOT NULL DEFAULT 0,
    recording_path text
);
CREATE INDEX sessions_user_created ON sessions(user_id, created_at DESC, id DESC);

CREATE TABLE captions (
    id text PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    role text NOT NULL,
    seq int NOT NULL,
    t0 double precision NOT NULL,
    t1 double precision NOT NULL,
    text text NOT NULL,
    lang text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX captions_session_t0 ON captions(session_id, t0);

CREATE TABLE questions (
    id text PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    caption_ids text[] NOT NULL DEFAULT '{}',
    text text NOT NULL,
    lang text NOT NULL,
    source text NOT NULL DEFAULT 'detected',  -- detected | typed
    t0 double precision,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX questions_session ON questions(session_id, created_at);

CREATE TABLE answers (
    question_id text PRIMARY KEY REFERENCES questions(id) ON DELETE CASCADE,
    session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    text text NOT NULL,
    lang text NOT NULL,
    provider text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE translations (
    id bigserial PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    ref text NOT NULL,
    lang text NOT NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ref, lang)
);

CREATE TABLE scores (
    question_id text PRIMARY KEY REFERENCES questions(id) ON DELETE CASCADE,
    session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    score int NOT NULL,
    rubric jsonb NOT NULL,
    feedback text NOT NULL,
    delivery jsonb NOT NULL DEFAULT '{}',
    candidate_text text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- append-only credit ledger: balance = sum(seconds)
CREATE TABLE credit_ledger (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seconds double precision NOT NULL,
    kind text NOT NULL,            -- grant | purchase | debit | refund
    session_id uuid,
    payment_id text,
    note text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_ledger_user ON credit_ledger(user_id, created_at);

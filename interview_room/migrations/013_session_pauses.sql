-- Spans of a session during which the candidate paused listening (no captions, no billing, no
-- recording): the recording's markers. t0/t1 are seconds on the session clock; t1 is NULL while the
-- pause lasts (or when the node died during it).
CREATE TABLE IF NOT EXISTS session_pauses (
    id BIGSERIAL PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t0 DOUBLE PRECISION NOT NULL,
    t1 DOUBLE PRECISION,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS session_pauses_session ON session_pauses (session_id, t0);

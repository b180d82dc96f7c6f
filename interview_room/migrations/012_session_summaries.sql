-- After the interview (issue 19): what was asked, how the answers went, follow-ups to prepare and a
-- thank-you e-mail draft, written by the llm worker when the session ends (offline: from the records).
CREATE TABLE IF NOT EXISTS session_summaries (
    session_id uuid PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    provider text NOT NULL,                     -- who wrote the words: 'offline' | 'openai' | ...
    summary jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- candidates as people (issue 21): the CV a candidate uploads on their page, its text (parsed in the
-- résumé sandbox) and the llm worker's reading of it against the interview's job description

CREATE TABLE IF NOT EXISTS candidate_cvs (
    candidate_id uuid PRIMARY KEY REFERENCES candidates(id) ON DELETE CASCADE,
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    filename text NOT NULL DEFAULT '',
    text text NOT NULL,
    reading_key text NOT NULL,                  -- hash of the CV text and the job description read
    reading jsonb,                              -- skills, experience, education, summary, match; NULL until read
    provider text NOT NULL DEFAULT '',
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz
);
CREATE INDEX IF NOT EXISTS candidate_cvs_org ON candidate_cvs (org_id);

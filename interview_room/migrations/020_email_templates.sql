-- e-mail to candidates (issue 21): templates per organisation, and every e-mail sent to a candidate
-- (delivered or not) so the recruiter sees failures

CREATE TABLE IF NOT EXISTS email_templates (
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('invite', 'reminder', 'thank_you', 'decision_pass', 'decision_fail')),
    subject text NOT NULL,
    body text NOT NULL,                         -- plain text with {{variable}} placeholders
    updated_by uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, kind)
);

CREATE TABLE IF NOT EXISTS email_deliveries (
    id bigserial PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    candidate_id uuid REFERENCES candidates(id) ON DELETE SET NULL,
    kind text NOT NULL,
    to_addr text NOT NULL,
    ok boolean NOT NULL,
    error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS email_deliveries_org ON email_deliveries(org_id, id DESC);

-- durable ATS webhooks (issue 8): every event still to tell the ATS is a row here until it is delivered or
-- given up, so a signaling restart never drops a retry. Written in the transaction that completes the candidate;
-- sent by the dispatcher of any signaling replica (rows claimed with FOR UPDATE SKIP LOCKED).
-- Each attempt is also a row in webhook_deliveries (the log the recruiter sees).

CREATE TABLE webhook_outbox (
    delivery_id uuid PRIMARY KEY,               -- X-Delivery-Id, the same across every attempt
    org_id uuid NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    candidate_id uuid REFERENCES candidates(id) ON DELETE SET NULL,
    event text NOT NULL,
    url text NOT NULL,                          -- the URL of the latest attempt; each attempt uses the org's current URL
    body text NOT NULL,                         -- the exact JSON sent on every attempt (signed anew each time)
    attempts int NOT NULL DEFAULT 0,            -- attempts so far (claimed), numbering continues across manual retries
    round_start int NOT NULL DEFAULT 0,         -- attempts before the latest manual retry: the backoff counts from here
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),  -- while an attempt runs: the end of its lease
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_org ON webhook_outbox(org_id, created_at DESC);

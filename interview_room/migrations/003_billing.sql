-- packages, payments and webhook idempotency; the credit ledger itself is in 001_core.sql

-- What a user can buy. Prices and contents live here (not in code) so they change without a deploy.
CREATE TABLE packages (
    id text PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    seconds integer NOT NULL CHECK (seconds >= 0),      -- credits per purchase (per period for monthly)
    price_cents integer NOT NULL CHECK (price_cents >= 0),
    currency text NOT NULL DEFAULT 'usd',
    kind text NOT NULL CHECK (kind IN ('one_time', 'monthly')),
    purchasable boolean NOT NULL DEFAULT true,          -- false: granted, never sold (the sign-up credits)
    active boolean NOT NULL DEFAULT true,               -- false: no longer listed, old purchases keep it
    sort_order integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO packages (id, name, description, seconds, price_cents, currency, kind, purchasable, sort_order) VALUES
    ('free', 'Free', '2 hours on sign-up', 7200, 0, 'usd', 'one_time', false, 0),
    ('starter', 'Starter', '5 hours of interviews', 18000, 1900, 'usd', 'one_time', true, 10),
    ('professional', 'Professional', '15 hours of interviews', 54000, 4900, 'usd', 'one_time', true, 20),
    ('enterprise', 'Enterprise', '50 hours of interviews', 180000, 14900, 'usd', 'one_time', true, 30),
    ('pro_monthly', 'Pro Monthly', '20 hours every month', 72000, 3900, 'usd', 'monthly', true, 40);

-- One row per charge a user makes (a checkout, an offline invoice, each renewal of a subscription).
-- id is text (a uuid) because credit_ledger.payment_id is text.
CREATE TABLE payments (
    id text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    package_id text NOT NULL REFERENCES packages(id),
    gateway text NOT NULL,                       -- stripe | manual | ...
    gateway_ref text,                            -- checkout session id / invoice number / renewal invoice id
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'refunded', 'failed')),
    amount_cents integer NOT NULL CHECK (amount_cents >= 0),
    currency text NOT NULL,
    seconds integer NOT NULL CHECK (seconds >= 0),   -- the package's credits at the time of purchase
    kind text NOT NULL DEFAULT 'one_time',
    parent_id text REFERENCES payments(id),      -- a subscription renewal points at the first payment
    subscription_ref text,                       -- gateway subscription id (monthly plans)
    invoice_ref text,                            -- gateway invoice id that paid this row
    payment_intent_ref text,                     -- gateway charge/payment-intent id (to match refunds)
    refunded_cents integer NOT NULL DEFAULT 0,
    note text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    paid_at timestamptz,
    refunded_at timestamptz
);
CREATE INDEX payments_user_created ON payments(user_id, created_at DESC);
CREATE UNIQUE INDEX payments_gateway_ref ON payments(gateway, gateway_ref) WHERE gateway_ref IS NOT NULL;
CREATE UNIQUE INDEX payments_invoice_ref ON payments(gateway, invoice_ref) WHERE invoice_ref IS NOT NULL;
CREATE INDEX payments_subscription_ref ON payments(gateway, subscription_ref) WHERE subscription_ref IS NOT NULL;
CREATE INDEX payments_payment_intent_ref ON payments(gateway, payment_intent_ref) WHERE payment_intent_ref IS NOT NULL;

-- Each gateway event is applied once: the row is inserted in the same transaction as its effect.
CREATE TABLE webhook_events (
    gateway text NOT NULL,
    id text NOT NULL,
    type text NOT NULL,
    payment_id text,
    outcome text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, id)
);

-- A refund that arrived before the payment it refunds was confirmed (events out of order): applied
-- the moment that payment is confirmed, so it never creates credits from nothing.
CREATE TABLE early_refunds (
    gateway text NOT NULL,
    ref text NOT NULL,                           -- payment intent / charge / invoice id the refund names
    amount_refunded_cents integer NOT NULL,
    amount_cents integer NOT NULL,
    event_id text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, ref)
);

-- purchase rows name their payment; one purchase row per payment at most
ALTER TABLE credit_ledger
    ADD CONSTRAINT credit_ledger_payment_fk FOREIGN KEY (payment_id) REFERENCES payments(id) ON DELETE SET NULL;
CREATE UNIQUE INDEX credit_ledger_one_purchase ON credit_ledger(payment_id) WHERE kind = 'purchase';
CREATE INDEX credit_ledger_session ON credit_ledger(session_id) WHERE session_id IS NOT NULL;

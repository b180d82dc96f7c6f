-- Issue #20: subscriptions the user controls through the gateway's customer portal. One row per gateway
-- subscription, kept in step with the gateway's subscription events (applied once each through
-- webhook_events); ``event_created`` is the provider's timestamp of the state stored, so an older event
-- delivered late does not overwrite a newer state.
CREATE TABLE subscriptions (
    gateway text NOT NULL,
    subscription_ref text NOT NULL,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    package_id text REFERENCES packages(id),
    customer_ref text,
    status text NOT NULL DEFAULT 'active',   -- the provider's word: active, trialing, past_due, unpaid, canceled, ...
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    current_period_end timestamptz,
    last_payment_failed_at timestamptz,
    event_created bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, subscription_ref)
);
CREATE INDEX subscriptions_user ON subscriptions(user_id, updated_at DESC);

-- Issue #20: mock interviews priced per interview by difficulty, per currency. Seeded with the prices the
-- product documents quote (INR); other currencies are rows an administrator adds. Nothing charges these yet:
-- the catalogue is read by GET /api/mock/prices.
CREATE TABLE mock_prices (
    difficulty text NOT NULL CHECK (difficulty IN ('easy', 'medium', 'hard', 'expert')),
    currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    price_cents integer NOT NULL CHECK (price_cents >= 0),  -- minor units (paise for INR)
    PRIMARY KEY (difficulty, currency)
);
INSERT INTO mock_prices (difficulty, currency, price_cents) VALUES
    ('easy', 'inr', 9900), ('medium', 'inr', 14900), ('hard', 'inr', 19900), ('expert', 'inr', 29900);

-- Issue #20: the one-time packages cost less (Starter 5 h $9.99, Professional 15 h $24.99, Enterprise 50 h
-- $79.99; one credit is 60 minutes of session time, metered per second). The free grant and the monthly plan
-- stay. A row is changed only while it still holds exactly what 003_billing.sql seeded: a package an
-- administrator edited (price, hours, name, currency, kind, sale status) keeps the administrator's values.
UPDATE packages AS p SET price_cents = v.new_price, description = v.new_description
FROM (VALUES
    ('starter', 'Starter', '5 hours of interviews', 18000, 1900, 10, 999, '5 hours of interviews'),
    ('professional', 'Professional', '15 hours of interviews', 54000, 4900, 20, 2499, '15 hours of interviews'),
    ('enterprise', 'Enterprise', '50 hours of interviews', 180000, 14900, 30, 7999, '50 hours of interviews')
) AS v(id, old_name, old_description, old_seconds, old_price, old_sort, new_price, new_description)
WHERE p.id = v.id
  AND p.name = v.old_name
  AND p.description = v.old_description
  AND p.seconds = v.old_seconds
  AND p.price_cents = v.old_price
  AND p.currency = 'usd'
  AND p.kind = 'one_time'
  AND p.purchasable
  AND p.active
  AND p.sort_order = v.old_sort;

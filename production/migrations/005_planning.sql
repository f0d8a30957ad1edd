-- Planning and the clock: the SLA sweep's flag on orders, and retention's mark.

-- An order the SLA sweep found unable to meet its deadline on current capacity. The flag stays
-- until the order leaves: its cards are planned first and its batches go first.
ALTER TABLE orders ADD COLUMN at_risk boolean NOT NULL DEFAULT false;
ALTER TABLE orders ADD COLUMN at_risk_at timestamptz;
-- When retention erased the order's personal data (photos, names, birth date, orderer).
ALTER TABLE orders ADD COLUMN personal_data_erased_at timestamptz;
CREATE INDEX orders_retention ON orders (state) WHERE personal_data_erased_at IS NULL;

-- Retention blanks the birth date of a dispatched card; the record of what was issued stays.
ALTER TABLE cards ALTER COLUMN birth_date DROP NOT NULL;

-- The planner's pool: queued cards in no batch.
CREATE INDEX cards_unbatched ON cards (card_type) WHERE state = 'queued' AND batch_id IS NULL;

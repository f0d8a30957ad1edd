-- Print batches: queued cards grouped by card type (the blank stock differs) and deadline.
-- Operators start, pause, resume and close them; a station takes cards only from started batches.
-- Later migrations of the line (planning extras, stations) build on these columns.
CREATE TABLE print_batches (
    batch_id             bigserial PRIMARY KEY,
    card_type            text NOT NULL,
    state                text NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'started', 'paused', 'closed')),
    earliest_dispatch_by date,
    at_risk              boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    created_by           text NOT NULL
);
CREATE INDEX print_batches_state ON print_batches (state, card_type);

-- A queued card belongs to at most one batch; batch_position is its place in the batch's order.
ALTER TABLE cards ADD COLUMN batch_id bigint REFERENCES print_batches (batch_id);
ALTER TABLE cards ADD COLUMN batch_position int;
CREATE INDEX cards_batch_queue ON cards (batch_id, batch_position) WHERE state = 'queued';

-- The audit log also records batches and stations.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_entity_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_entity_check CHECK (entity IN ('order', 'card', 'batch', 'station'));

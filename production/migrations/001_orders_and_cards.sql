-- Orders, cards, their photos, the audit log, and what intake could not accept.

-- Card serials: 9 digits, never reused (no CYCLE). The 10th digit is a Luhn check digit.
CREATE SEQUENCE card_number_seq START 100000001 MINVALUE 100000001 MAXVALUE 999999999 NO CYCLE;

CREATE TABLE orders (
    order_id         text PRIMARY KEY,
    payload_sha256   bytea NOT NULL,      -- of the first message: a replay matches, a conflict does not
    message_uuid     text NOT NULL,
    state            text NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    approved_at      timestamptz,
    card_type        text,
    org_number       text,
    company_name     text,
    orderer_name     text,
    orderer_email    text,
    delivery_address jsonb,
    accessories      jsonb NOT NULL DEFAULT '[]',
    dispatch_by      date,
    problems         jsonb,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_state_dispatch_by ON orders (state, dispatch_by);

CREATE TABLE cards (
    card_number   text PRIMARY KEY,
    order_id      text NOT NULL REFERENCES orders (order_id),
    position      int NOT NULL,
    holder_key    text NOT NULL,          -- HMAC of the national id; the id itself is never stored
    given_name    text NOT NULL,
    family_name   text NOT NULL,
    birth_date    date NOT NULL,
    gender        text NOT NULL,
    org_number    text NOT NULL,
    card_type     text NOT NULL,
    replaces_card text,
    state         text NOT NULL,
    expiry        date,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, position)
);
-- One active card per employment relationship (holder and employer).
CREATE UNIQUE INDEX cards_one_active_per_employment ON cards (holder_key, org_number) WHERE state <> 'blocked';
CREATE INDEX cards_state ON cards (state);

-- Photos apart from cards: retention deletes them after dispatch, the card record stays.
CREATE TABLE card_photos (
    card_number text PRIMARY KEY REFERENCES cards (card_number),
    jpeg        bytea NOT NULL,
    width       int NOT NULL,
    height      int NOT NULL
);

-- Append-only history of every state change.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor      text NOT NULL,
    entity     text NOT NULL CHECK (entity IN ('order', 'card')),
    entity_id  text NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    reason     text
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- A message that reused an order id with other content. The first order stands.
CREATE TABLE intake_conflicts (
    order_id       text NOT NULL REFERENCES orders (order_id),
    payload_sha256 bytea NOT NULL,
    message_uuid   text NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, payload_sha256)
);

-- A message too broken to name its order. Its payload is not kept (it may hold national ids).
CREATE TABLE unreadable_messages (
    payload_sha256 bytea PRIMARY KEY,
    message_uuid   text NOT NULL,
    size_bytes     int NOT NULL,
    problems       jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);

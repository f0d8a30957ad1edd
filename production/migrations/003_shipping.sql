-- Shipping: one batch per post pickup, one envelope per card, one parcel per order's accessories,
-- and what each dispatch did for its order's deadline. The shipping package owns these tables;
-- card and order states still change only through production's transitions (with audit).

-- A batch is everything handed to the post at one pickup; its id names the pickup (B20261123-1500).
CREATE TABLE shipping_batches (
    batch_id      text PRIMARY KEY,
    pickup_at     timestamptz NOT NULL,
    cut_off_at    timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'dispatched')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    planned_at    timestamptz NOT NULL DEFAULT now(),   -- the last `ship plan` for this pickup
    dispatched_at timestamptz,
    dispatched_by text
);

-- An envelope holds one card. Its id carries the card number and a label sequence: a voided
-- envelope (its card spoiled at packing) keeps its row, so the remade card's envelope gets the
-- next sequence and the old label can never pass for it. batch_id is NULL while a planned
-- envelope waits for a later pickup (its order held back after it was first planned).
CREATE TABLE envelopes (
    envelope_id    text PRIMARY KEY,
    card_number    text NOT NULL REFERENCES cards (card_number),
    order_id       text NOT NULL REFERENCES orders (order_id),
    batch_id       text REFERENCES shipping_batches (batch_id),
    label_seq      int NOT NULL CHECK (label_seq BETWEEN 1 AND 99),
    card_index     int NOT NULL,          -- "card i of n" on the label
    card_of        int NOT NULL,
    late           boolean NOT NULL,      -- the planned pickup falls after the order's deadline
    state          text NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'packed', 'dispatched', 'void')),
    labels_printed int NOT NULL DEFAULT 0, -- how often its label was printed: above 1 is a reprint
    last_printed_at timestamptz,
    packed_at      timestamptz,
    packed_by      text,
    packed_scan    text,                  -- what was scanned off the card (QR URL or chip UID): the proof
    dispatched_at  timestamptz,
    void_reason    text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (card_number, label_seq)
);
-- At most one live envelope per card.
CREATE UNIQUE INDEX envelopes_one_live_per_card ON envelopes (card_number) WHERE state IN ('planned', 'packed');
CREATE INDEX envelopes_batch ON envelopes (batch_id);
CREATE INDEX envelopes_order ON envelopes (order_id);

-- A parcel holds all of an order's accessories (card holders), never a card.
CREATE TABLE parcels (
    parcel_id      text PRIMARY KEY,
    order_id       text NOT NULL REFERENCES orders (order_id),
    batch_id       text REFERENCES shipping_batches (batch_id),
    label_seq      int NOT NULL CHECK (label_seq BETWEEN 1 AND 99),
    contents       jsonb NOT NULL,        -- [{"sku": …, "quantity": …}]
    late           boolean NOT NULL,
    state          text NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'dispatched', 'void')),
    labels_printed int NOT NULL DEFAULT 0,
    last_printed_at timestamptz,
    dispatched_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, label_seq)
);
CREATE UNIQUE INDEX parcels_one_live_per_order ON parcels (order_id) WHERE state = 'planned';
CREATE INDEX parcels_batch ON parcels (batch_id);

-- One row per order per batch that carried some of it: a split order has two. met_deadline is
-- whether that dispatch's date (Oslo) was not after the order's dispatch_by.
CREATE TABLE order_dispatch (
    order_id      text NOT NULL REFERENCES orders (order_id),
    batch_id      text NOT NULL REFERENCES shipping_batches (batch_id),
    dispatched_at timestamptz NOT NULL,
    dispatched_by text NOT NULL,
    dispatch_by   date NOT NULL,
    met_deadline  boolean NOT NULL,
    complete      boolean NOT NULL,       -- every card of the order has now left
    PRIMARY KEY (order_id, batch_id)
);

-- Stations, what they do to each card (attempts), the chips they encode, and blank stock.

-- A station is a printer plus a chip encoder. Its row is written from configuration when its worker
-- starts; state and fault are the operator's view. A parked station takes no cards until cleared.
CREATE TABLE stations (
    name        text PRIMARY KEY,
    printer_uri text NOT NULL,
    reader      text NOT NULL,
    card_types  text[] NOT NULL,
    state       text NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'working', 'parked')),
    fault       text,
    parked_card text REFERENCES cards (card_number),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The station a card is on while it is in production (in_production, encoded, printed); NULL
-- otherwise. hold is set when a card spoiled too often to be remade: an operator must look.
ALTER TABLE cards ADD COLUMN station text REFERENCES stations (name);
ALTER TABLE cards ADD COLUMN hold text;
CREATE INDEX cards_station ON cards (station) WHERE station IS NOT NULL;

-- One row per time a station took a card. step is the last step recorded before the next began,
-- so a crash leaves the physical position of the card in the row.
CREATE TABLE card_attempts (
    attempt_id   bigserial PRIMARY KEY,
    card_number  text NOT NULL REFERENCES cards (card_number),
    attempt      int NOT NULL,
    station      text NOT NULL REFERENCES stations (name),
    step         text NOT NULL CHECK (step IN ('claimed', 'fed', 'encoded', 'print_submitting', 'print_submitted', 'printed', 'ejected')),
    chip_uid     bytea,
    print_job_id int,
    printer_uri  text,
    outcome      text CHECK (outcome IN ('produced', 'spoiled')),
    reason       text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    UNIQUE (card_number, attempt)
);
-- A card is on at most one station at a time.
CREATE UNIQUE INDEX card_attempts_one_open ON card_attempts (card_number) WHERE outcome IS NULL;

-- Every chip encoded for a card. A card number is valid on at most one good chip.
CREATE TABLE card_chips (
    chip_id     bigserial PRIMARY KEY,
    uid         bytea NOT NULL,
    card_number text NOT NULL REFERENCES cards (card_number),
    attempt_id  bigint NOT NULL REFERENCES card_attempts (attempt_id),
    state       text NOT NULL CHECK (state IN ('good', 'void')),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    voided_at   timestamptz,
    reason      text
);
CREATE UNIQUE INDEX card_chips_one_good_per_card ON card_chips (card_number) WHERE state = 'good';
CREATE UNIQUE INDEX card_chips_one_good_per_uid ON card_chips (uid) WHERE state = 'good';
CREATE INDEX card_chips_card ON card_chips (card_number);

-- Blank stock movements per station and card type: loaded (+), produced and spoiled (blanks used,
-- one each), counted (an operator's count of what remains, checked against the book). The book:
-- remaining = loaded - produced - spoiled.
CREATE TABLE blank_stock (
    id          bigserial PRIMARY KEY,
    station     text NOT NULL, -- no reference: blanks may be loaded before a station first runs
    card_type   text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('loaded', 'produced', 'spoiled', 'counted')),
    quantity    int NOT NULL CHECK (quantity >= 0),
    card_number text,
    at          timestamptz NOT NULL DEFAULT now(),
    by          text NOT NULL
);
CREATE INDEX blank_stock_station ON blank_stock (station, card_type, kind);

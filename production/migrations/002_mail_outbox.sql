-- The temporary-card mail: one job per accepted order, plus one per resend an operator asks for.
-- A job is claimed with a lease (state 'sending', next_attempt_at = end of the lease) before the
-- SMTP conversation and marked 'sent' after it; a job still 'sending' after its lease belonged to
-- a worker that died, and is sent again with the same Message-ID.
CREATE TABLE mail_outbox (
    id              bigserial PRIMARY KEY,
    order_id        text NOT NULL REFERENCES orders (order_id),
    kind            text NOT NULL CHECK (kind IN ('accepted', 'resend')),
    message_id      text NOT NULL UNIQUE,   -- the Message-ID header, the same on every attempt
    recipient       text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    requested_by    text NOT NULL,
    reason          text,
    cards           text[],                 -- the card numbers the sent mail carried
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Exactly one mail per accepted order: a redelivered OrderAccepted event finds it and does nothing.
CREATE UNIQUE INDEX mail_outbox_one_per_order ON mail_outbox (order_id) WHERE kind = 'accepted';
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state IN ('pending', 'sending');
CREATE INDEX mail_outbox_order ON mail_outbox (order_id);

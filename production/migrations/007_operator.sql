-- What operators do to cards and stations beyond clearing a fault.

-- A card held after spoiling too often is released by an operator (after looking at the printer,
-- the blanks or the data): it is queued again with a fresh set of attempts, counted from
-- released_at.
ALTER TABLE cards ADD COLUMN released_at timestamptz;

-- A station taken out of service (removed from every instance's configuration) is retired so
-- that lists no longer show it; its history stays (attempts and stock refer to it). A worker
-- starting under the same name brings it back.
ALTER TABLE stations ADD COLUMN retired_at timestamptz;

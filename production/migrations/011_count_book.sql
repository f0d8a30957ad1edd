-- A count records what the book said the hopper held at that moment: the blanks booked, less
-- those a station has fed and not yet booked (its card is at the coupler or in the printer, and
-- is booked produced or spoiled when it leaves). Older counts have NULL and are checked against
-- the bookings before them, as before.
ALTER TABLE blank_stock ADD COLUMN book int;

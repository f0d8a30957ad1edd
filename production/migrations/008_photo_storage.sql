-- A stored photo is JPEG: compressing it again gains nothing, so TOAST keeps it out of line
-- without trying (the default tried pglz on every photo, a third of inserting a card).
ALTER TABLE card_photos ALTER COLUMN jpeg SET STORAGE EXTERNAL;

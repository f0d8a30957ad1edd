-- A spoiled card whose eject to the reject tray failed stays at the coupler, its blank already
-- booked spoiled. The station notes it here, and its worker ejects it (without booking it again)
-- before it resolves or claims anything: recovery would otherwise take it for a blank fed and not
-- recorded, and book it a second time.
ALTER TABLE stations ADD COLUMN coupler_card text;

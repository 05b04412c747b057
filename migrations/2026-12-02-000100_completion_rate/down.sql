ALTER TABLE runners DROP COLUMN abandoned_trips;

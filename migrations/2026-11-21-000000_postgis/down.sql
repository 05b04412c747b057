-- The extension is shared infrastructure; it is left in place on purpose.
SELECT 1;

-- Trips a runner accepted and then gave up (declined after accepting, or
-- cancelled as the assigned runner). completion_rate is completed trips over
-- finished ones (completed + abandoned), 1.0 before any; kept in the
-- transaction of the trip's change.
ALTER TABLE runners ADD COLUMN abandoned_trips INTEGER NOT NULL DEFAULT 0 CHECK (abandoned_trips >= 0);

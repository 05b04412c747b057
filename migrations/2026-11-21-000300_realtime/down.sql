DROP TABLE tracking_shares;
DROP TABLE trip_waypoints;
DROP TABLE trip_tracks;
DROP INDEX outbox_aggregate_seq_key;
CREATE INDEX outbox_aggregate_idx ON outbox (aggregate_id, id);
ALTER TABLE outbox DROP COLUMN seq;

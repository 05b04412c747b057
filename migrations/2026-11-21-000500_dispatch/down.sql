DROP INDEX bookings_dispatch_queue_idx;
DROP TABLE booking_dispatch;

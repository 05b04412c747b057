DROP TABLE stripe_events;
DROP TABLE payment_dead_letters;
DROP TABLE payment_jobs;
DROP TABLE payments;

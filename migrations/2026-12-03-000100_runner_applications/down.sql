DROP TABLE IF EXISTS runner_application_counters;
DROP TABLE IF EXISTS runner_applications;

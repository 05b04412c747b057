-- PostGIS needs a superuser to install. scripts/deps.sh installs it in the
-- app database and in template1 as postgres; here we only make sure, and
-- carry on with a notice when this role may not create it.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS postgis;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'postgis extension not created: this role lacks the privilege; install it as a superuser';
END
$$;

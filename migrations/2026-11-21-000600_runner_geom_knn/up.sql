-- KNN over online runners on a 2-D geometry index: a geography GiST index
-- that grows by constant position updates answers "nearest 200" in
-- ~10-20 ms at 10k runners; this one in ~1 ms. Within a city the planar
-- order of lon/lat equals the true order closely enough, and the true
-- distance is computed for the few rows returned.
CREATE INDEX runners_location_geom_gist ON runners USING GIST ((location::geometry)) WHERE session_status = 'active';

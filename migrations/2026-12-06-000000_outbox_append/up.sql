-- One round trip per outbox event. The aggregate's next `seq` used to take
-- two statements from the server: an advisory lock on the aggregate, then
-- the insert reading max(seq). A VOLATILE plpgsql function takes a new
-- snapshot for each statement in it, so the insert after the lock sees what
-- the previous holder committed, exactly as the two statements did.
CREATE FUNCTION outbox_append(
    p_event_id UUID,
    p_aggregate_type TEXT,
    p_aggregate_id UUID,
    p_event_type TEXT,
    p_payload JSONB
) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    next_seq BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_aggregate_id::text, 7));
    INSERT INTO outbox (event_id, aggregate_type, aggregate_id, event_type, payload, seq)
    SELECT p_event_id, p_aggregate_type, p_aggregate_id, p_event_type, p_payload, coalesce(max(seq), 0) + 1
    FROM outbox WHERE aggregate_id = p_aggregate_id
    RETURNING seq INTO next_seq;
    RETURN next_seq;
END
$$;

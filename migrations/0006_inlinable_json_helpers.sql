-- The formatting helpers of 0003 were declared IMMUTABLE but call STABLE built-ins (to_char,
-- convert_to), so Postgres never inlined them: each call ran as a nested statement per row.
-- Declared STABLE, as what they call is, they are inlined into the compiled reads.
ALTER FUNCTION velro.iso(timestamptz) STABLE;
ALTER FUNCTION velro.global_id(text, uuid) STABLE;

-- Cursors are now generated inline from each list's declared keyset (db/read_model.py).
DROP FUNCTION velro.cursor(timestamptz, uuid);

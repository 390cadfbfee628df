-- Formatting helpers for reads that Postgres answers as JSON in one statement (the compiled
-- read path). They format exactly as the API does in Python: ISO timestamps as
-- datetime.isoformat() prints them, Relay global ids, keyset cursors.

CREATE SCHEMA IF NOT EXISTS velro;
GRANT USAGE ON SCHEMA velro TO authenticated;

CREATE FUNCTION velro.iso(ts timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_part('microseconds', ts)::bigint % 1000000 = 0 THEN ''
                ELSE to_char(ts AT TIME ZONE 'UTC', '.US') END
        || '+00:00'
$$;

CREATE FUNCTION velro.global_id(type_name text, id uuid) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(encode(convert_to(type_name || ':' || id::text, 'UTF8'), 'base64'), E'\n', '')
$$;

CREATE FUNCTION velro.cursor(ts timestamptz, id uuid) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT rtrim(translate(replace(encode(convert_to(
        't:' || velro.iso(ts) || '|' || id::text, 'UTF8'), 'base64'), E'\n', ''), '+/', '-_'), '=')
$$;

REVOKE EXECUTE ON FUNCTION velro.iso(timestamptz), velro.global_id(text, uuid),
    velro.cursor(timestamptz, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION velro.iso(timestamptz), velro.global_id(text, uuid),
    velro.cursor(timestamptz, uuid) TO authenticated;

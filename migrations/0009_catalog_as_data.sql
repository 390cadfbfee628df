-- The database owns the catalog: `entry` holds each model as the catalog file spells it (the
-- columns beside it are kept from it for SQL). Rows mirrored before this migration have none
-- and get theirs from the packaged file at the next start (services/catalog_store.py).
ALTER TABLE models ADD COLUMN entry jsonb;

-- Every committed change of the catalog is announced once per statement; replicas reload.
CREATE FUNCTION notify_catalog_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('velro_events', json_build_object('kind', 'catalog')::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER models_notify AFTER INSERT OR UPDATE ON models
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
REVOKE EXECUTE ON FUNCTION notify_catalog_change() FROM PUBLIC;

-- What the provider flagged as unsafe (fal's has_nsfw_concepts).
ALTER TABLE generation_outputs ADD COLUMN nsfw boolean NOT NULL DEFAULT false;

-- Catalog order (the file's), kept so an export reads like the file it came from.
ALTER TABLE models ADD COLUMN position integer;

-- The support record: the provider's timings of the request (fal's `timings`), kept with the
-- final logs.
ALTER TABLE generations ADD COLUMN provider_timings jsonb;

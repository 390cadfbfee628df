-- Uploads: pictures users bring (reference images, avatars), sent straight to storage with a
-- signed upload URL and checked by the server before use. A generation made from one keeps it
-- (ON DELETE RESTRICT); an avatar that goes away leaves the profile without one.

CREATE TABLE uploads (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    purpose text NOT NULL CHECK (purpose IN ('REFERENCE_IMAGE', 'AVATAR')),
    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'READY', 'REJECTED')),
    filename text NOT NULL CHECK (char_length(filename) BETWEEN 1 AND 255),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    byte_size bigint NOT NULL CHECK (byte_size > 0),
    width integer CHECK (width > 0),
    height integer CHECK (height > 0),
    bucket text NOT NULL,
    path text NOT NULL UNIQUE,
    upload_expires_at timestamptz NOT NULL,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'READY') = (width IS NOT NULL AND height IS NOT NULL)),
    CHECK ((status = 'PENDING') = (completed_at IS NULL))
);
CREATE INDEX uploads_by_user ON uploads (user_id, created_at DESC, id DESC);
CREATE INDEX uploads_pending ON uploads (created_at) WHERE status = 'PENDING';
CREATE TRIGGER uploads_updated_at BEFORE UPDATE ON uploads
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE generations
    ADD COLUMN input_upload_id uuid REFERENCES uploads (id) ON DELETE RESTRICT;
CREATE INDEX generations_by_input_upload ON generations (input_upload_id)
    WHERE input_upload_id IS NOT NULL;

-- The avatar is an upload, signed on every read; the never-filled URL column goes.
ALTER TABLE profiles DROP COLUMN avatar_url;
ALTER TABLE profiles
    ADD COLUMN avatar_upload_id uuid REFERENCES uploads (id) ON DELETE SET NULL;

ALTER TABLE uploads ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON uploads FROM anon, authenticated;
GRANT SELECT ON uploads TO authenticated;
CREATE POLICY uploads_own ON uploads FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));

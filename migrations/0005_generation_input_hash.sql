-- The sha256 of a generation's start input (model, prompt, negative prompt, parameters,
-- project, image), so that an idempotency key reused with a different input is refused
-- instead of silently answering the first generation. Older rows have none and are not checked.

ALTER TABLE generations
    ADD COLUMN input_hash text CHECK (input_hash ~ '^[0-9a-f]{64}$');

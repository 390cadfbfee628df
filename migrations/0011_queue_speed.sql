-- How fast a model's queue moves: a moving average of the seconds one place in the queue takes,
-- sampled whenever a queued generation's reported position drops (the time since its row last
-- changed, over the places it moved). An estimate for a generation at position p can then say
-- (p + 1) places of this, beside the model's average wait. Kept on the model's timing row, so
-- it is learnt once the model has a completed generation (its row exists).
ALTER TABLE model_timings ADD COLUMN position_seconds double precision
    CHECK (position_seconds >= 0);

CREATE FUNCTION observe_queue_speed() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    sample double precision := extract(epoch FROM now() - OLD.updated_at)
                               / (OLD.queue_position - NEW.queue_position);
BEGIN
    UPDATE model_timings SET position_seconds = CASE WHEN position_seconds IS NULL
        THEN greatest(sample, 0) ELSE 0.8 * position_seconds + 0.2 * greatest(sample, 0) END
    WHERE model_id = NEW.model_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER generations_observe_queue_speed AFTER UPDATE OF queue_position ON generations
    FOR EACH ROW
    WHEN (NEW.status = 'QUEUED' AND OLD.queue_position > NEW.queue_position)
    EXECUTE FUNCTION observe_queue_speed();
REVOKE EXECUTE ON FUNCTION observe_queue_speed() FROM PUBLIC;

-- Announce deleted generations too, so a subscriber to one learns it is gone (its next read
-- finds nothing and the subscription ends) instead of keeping a stale object.

DROP TRIGGER generations_notify ON generations;
CREATE TRIGGER generations_notify AFTER INSERT OR UPDATE OR DELETE ON generations
    FOR EACH ROW EXECUTE FUNCTION notify_generation_change();

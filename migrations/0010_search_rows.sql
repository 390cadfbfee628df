-- Prompt search returns the matching rows, not their ids: the compiled read takes them once per
-- statement (a materialized CTE) and counts and pages from them, where joining ids back to
-- `generations` by primary key cost one index probe per match, twice (totalCount and page):
-- a word in 3 % of 100,000 generations went from about 30 ms to 7 ms (docs/benchmarks.md).
-- Same owner wall as the function it replaces (migration 0008 says why it is SECURITY DEFINER).
CREATE FUNCTION velro.generations_matching(owner uuid, words text) RETURNS SETOF generations
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp ROWS 100 AS $$
    SELECT * FROM generations
    WHERE user_id = owner AND owner = coalesce(auth.uid(), owner)
      AND to_tsvector('simple', prompt) @@ plainto_tsquery('simple', words)
$$;
REVOKE EXECUTE ON FUNCTION velro.generations_matching(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION velro.generations_matching(uuid, text) TO authenticated;

DROP FUNCTION velro.prompt_matches(uuid, text);

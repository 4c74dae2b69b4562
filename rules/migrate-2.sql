-- rules/migrate-2.sql - the rules database, version 1 to version 2.
--
-- Shared rate limits (--redis): one bucket for every gateway of a fleet,
-- kept in Redis, instead of one per gateway.  sluice runs this inside the
-- write transaction that also sets user_version = 2 (see rules_migrations[]
-- in src/rules.c); by hand, wrap it in BEGIN/COMMIT and set user_version
-- yourself.  Never edited once released: databases in the field were made
-- by it.

ALTER TABLE rate_limits ADD COLUMN
  shared      INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1));  -- 1: one bucket for all gateways, in --redis
ALTER TABLE rate_limits ADD COLUMN
  lease       INTEGER CHECK (lease > 0);           -- shared: tokens a worker takes at once (NULL: 1, exact)

-- The overview names a shared limit and its lease.
DROP VIEW rules_overview;
CREATE VIEW rules_overview AS
SELECT r.id, r.priority, r.enabled, r.host, r.port, r.method, r.path, r.action,
  (SELECT group_concat(i.descr, ', ')
     FROM (SELECT CASE WHEN kind IN ('header', 'query')
                    THEN kind || ':' || coalesce(name, '?') || '<-' || secret
                    ELSE kind || ':' || secret
                  END AS descr
             FROM injections
            WHERE rule_id = r.id
            ORDER BY rowid) AS i) AS injections,
  (SELECT l.requests || '/' || l.per_seconds || 's burst '
          || coalesce(l.burst, l.requests) || ' per ' || l.scope
          || CASE WHEN l.on_limit = 'delay'
               THEN ' delay up to ' || coalesce(l.max_delay_ms, 1000) || 'ms'
               ELSE ''
             END
          || CASE WHEN l.shared = 1
               THEN ' shared' || CASE WHEN coalesce(l.lease, 1) > 1
                                   THEN ' lease ' || l.lease ELSE '' END
               ELSE ''
             END
     FROM rate_limits AS l
    WHERE l.rule_id = r.id) AS rate_limit,
  (SELECT 'ttl ' || c.ttl_seconds || 's max '
          || coalesce(c.max_bytes, 1048576) || 'B'
          || CASE WHEN c.heuristic = 0 THEN ' no-heuristic' ELSE '' END
     FROM cache_policies AS c
    WHERE c.rule_id = r.id) AS cache_policy
FROM rules AS r
ORDER BY r.priority, r.id;

-- rules/schema.sql - the rules database, version 1.
--
-- sluice embeds this text as the first step of its migrations (see
-- rules_migrations[] in src/rules.c): it turns an empty database into
-- version 1, inside the one write transaction that sluice opens for all
-- pending steps.  A SAVEPOINT rather than BEGIN lets it nest there and still
-- be one transaction when run by hand (sqlite3 rules.db < rules/schema.sql),
-- and setting user_version here makes a database made that way version 1
-- too, so later migrations apply to it.  Later versions are steps of their
-- own; this file is never edited once released.
--
-- People manage the tables with the sqlite3 tool while sluice runs.  The
-- CHECK constraints are the first line of defence (a change they reject
-- never reaches sluice); sluice validates every row again when it loads and
-- skips, with a log line, what it cannot use.  No triggers: what a row means
-- is visible in the row.
--
-- Foreign keys are only enforced on connections that say
-- PRAGMA foreign_keys = ON; the sqlite3 tool does not by default, so sluice
-- also skips a rule whose injection names a secret that is not there.

SAVEPOINT schema_1;

CREATE TABLE secrets (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL          -- the secret, or 'env:VAR', or 'file:/path'
);

CREATE TABLE rules (
  id       INTEGER PRIMARY KEY,
  priority INTEGER NOT NULL DEFAULT 100,   -- lower first; ties by id
  enabled  INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  host     TEXT NOT NULL,                  -- 'api.example.com', '*.example.com' or '*'
  port     INTEGER CHECK (port BETWEEN 1 AND 65535),   -- NULL: any
  method   TEXT,                           -- NULL: any; else one method, e.g. 'GET'
  path     TEXT,                           -- NULL: any; else a glob, '*' matches any run, e.g. '/v1/*'
  action   TEXT NOT NULL DEFAULT 'allow'
           CHECK (action IN ('allow', 'deny', 'passthrough')),
  note     TEXT,
  CONSTRAINT passthrough_whole_connection
    CHECK (action != 'passthrough' OR (method IS NULL AND path IS NULL)),
  -- A wildcard is the whole host or one leading label: '*' or '*.name'.
  CONSTRAINT host_pattern CHECK (host != ''
         AND instr(host, ' ') = 0
         AND instr(host, '/') = 0
         AND (instr(host, '*') = 0
              OR host = '*'
              OR (host GLOB '[*].?*' AND instr(substr(host, 3), '*') = 0))),
  CONSTRAINT method_token CHECK (method IS NULL
         OR (method GLOB '[A-Z]*' AND method NOT GLOB '*[^A-Z]*')),
  CONSTRAINT path_glob CHECK (path IS NULL OR path = '*' OR substr(path, 1, 1) = '/')
);

CREATE TABLE injections (
  rule_id INTEGER NOT NULL REFERENCES rules(id) ON DELETE CASCADE,
  kind    TEXT NOT NULL CHECK (kind IN ('bearer', 'basic', 'header', 'query')),
  name    TEXT,                -- header name for 'header', parameter for 'query'
  secret  TEXT NOT NULL REFERENCES secrets(name)
);

CREATE TABLE rate_limits (
  rule_id     INTEGER PRIMARY KEY REFERENCES rules(id) ON DELETE CASCADE,
  requests    INTEGER NOT NULL CHECK (requests > 0),
  per_seconds INTEGER NOT NULL CHECK (per_seconds > 0),
  burst       INTEGER CHECK (burst > 0),          -- NULL: same as requests
  scope       TEXT NOT NULL DEFAULT 'rule' CHECK (scope IN ('rule', 'client')),
  on_limit    TEXT NOT NULL DEFAULT 'reject' CHECK (on_limit IN ('reject', 'delay')),
  max_delay_ms INTEGER CHECK (max_delay_ms > 0)   -- with 'delay': the longest hold (NULL: 1000), then 429
);

CREATE TABLE cache_policies (
  rule_id     INTEGER PRIMARY KEY REFERENCES rules(id) ON DELETE CASCADE,
  ttl_seconds INTEGER NOT NULL CHECK (ttl_seconds > 0),
  max_bytes   INTEGER CHECK (max_bytes > 0),     -- NULL: 1 MiB
  heuristic   INTEGER NOT NULL DEFAULT 1 CHECK (heuristic IN (0, 1))
              -- 1: a response without explicit freshness is fresh for ttl_seconds;
              -- 0: only what the upstream marks fresh (capped at ttl_seconds) or can revalidate
);

-- One row per rule, in matching order, for people reading the database.
-- Injections show secret names only, never values.
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
     FROM rate_limits AS l
    WHERE l.rule_id = r.id) AS rate_limit,
  (SELECT 'ttl ' || c.ttl_seconds || 's max '
          || coalesce(c.max_bytes, 1048576) || 'B'
          || CASE WHEN c.heuristic = 0 THEN ' no-heuristic' ELSE '' END
     FROM cache_policies AS c
    WHERE c.rule_id = r.id) AS cache_policy
FROM rules AS r
ORDER BY r.priority, r.id;

PRAGMA user_version = 1;

RELEASE schema_1;

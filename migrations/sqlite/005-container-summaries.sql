-- 005: listings (ps, pod ps, the HTTP and Docker routes) read narrow summary rows kept beside each container's documents, so listing and filtering never parse a config or state; triggers keep them in step with every write, and container_summary_source is the one definition of a summary. A label filter scans the summary rows' labels text, not an index of its own: each label indexed would cost every durable add a page per label. Pod and namespace indexes become partial, so a plain add writes neither.
CREATE VIEW container_summary_source AS
SELECT
  CASE WHEN json_type(c, '$.createdAt') = 'text' THEN c ->> '$.createdAt' ELSE '' END AS created,
  id,
  name,
  namespace,
  pod_id,
  CASE WHEN json_type(c, '$.image') = 'text' THEN c ->> '$.image' END AS image,
  CASE WHEN json_type(c, '$.command') = 'array' THEN c -> '$.command' END AS command_json,
  CASE WHEN json_type(s, '$.status') = 'text' THEN s ->> '$.status' END AS status,
  CASE WHEN json_type(s, '$.exitCode') = 'integer' THEN s ->> '$.exitCode' END AS exit_code,
  CASE WHEN json_type(s, '$.startedAt') = 'text' THEN s ->> '$.startedAt' END AS started_at,
  CASE WHEN json_type(s, '$.finishedAt') = 'text' THEN s ->> '$.finishedAt' END AS finished_at,
  CASE WHEN json_type(c, '$.labels') = 'object' THEN c -> '$.labels' ELSE '{}' END AS labels_json,
  CASE WHEN json_type(c, '$.namedVolumes') = 'array' THEN c -> '$.namedVolumes' ELSE '[]' END AS mounts_json,
  CASE WHEN json_type(c, '$.networks') = 'object'
    THEN (SELECT json_group_array(key ORDER BY key) FROM json_each(c, '$.networks')) ELSE '[]' END AS networks_json
FROM (
  SELECT id, name, namespace, pod_id,
    CASE WHEN json_valid(config_json) THEN config_json ELSE '{}' END AS c,
    CASE WHEN json_valid(state_json) THEN state_json ELSE '{}' END AS s
  FROM containers
);

CREATE TABLE container_summaries (
  created TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  namespace TEXT NOT NULL,
  pod_id TEXT,
  image TEXT,
  command_json TEXT,
  status TEXT,
  exit_code INTEGER,
  started_at TEXT,
  finished_at TEXT,
  labels_json TEXT NOT NULL,
  mounts_json TEXT NOT NULL,
  networks_json TEXT NOT NULL,
  -- Keyed by creation time: a new container appends at the end instead of a random spot.
  PRIMARY KEY (created, id)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER container_summaries_insert AFTER INSERT ON containers BEGIN
  INSERT INTO container_summaries SELECT * FROM container_summary_source WHERE id = NEW.id;
END;
-- The row moves only when the creation time (its key) changes; otherwise it is updated in
-- place, so a state save dirties no page at another key.
CREATE TRIGGER container_summaries_update AFTER UPDATE ON containers BEGIN
  DELETE FROM container_summaries WHERE id = OLD.id AND created =
    CASE WHEN json_valid(OLD.config_json) AND json_type(OLD.config_json, '$.createdAt') = 'text'
      THEN OLD.config_json ->> '$.createdAt' ELSE '' END
  AND created IS NOT
    CASE WHEN json_valid(NEW.config_json) AND json_type(NEW.config_json, '$.createdAt') = 'text'
      THEN NEW.config_json ->> '$.createdAt' ELSE '' END;
  INSERT INTO container_summaries SELECT * FROM container_summary_source WHERE id = NEW.id
  ON CONFLICT (created, id) DO UPDATE SET
    name = excluded.name, namespace = excluded.namespace, pod_id = excluded.pod_id,
    image = excluded.image, command_json = excluded.command_json, status = excluded.status,
    exit_code = excluded.exit_code, started_at = excluded.started_at, finished_at = excluded.finished_at,
    labels_json = excluded.labels_json, mounts_json = excluded.mounts_json, networks_json = excluded.networks_json;
END;
CREATE TRIGGER container_summaries_delete AFTER DELETE ON containers BEGIN
  DELETE FROM container_summaries WHERE id = OLD.id AND created =
    CASE WHEN json_valid(OLD.config_json) AND json_type(OLD.config_json, '$.createdAt') = 'text'
      THEN OLD.config_json ->> '$.createdAt' ELSE '' END;
END;

INSERT INTO container_summaries SELECT * FROM container_summary_source;

DROP INDEX containers_namespace;
CREATE INDEX containers_managed ON containers (namespace, workspace) WHERE workspace IS NOT NULL;
DROP INDEX containers_pod;
CREATE INDEX containers_pod ON containers (pod_id) WHERE pod_id IS NOT NULL;
DROP INDEX pods_namespace;
CREATE INDEX pods_managed ON pods (namespace, workspace) WHERE workspace IS NOT NULL;
DROP INDEX volumes_namespace;
CREATE INDEX volumes_managed ON volumes (namespace, workspace) WHERE workspace IS NOT NULL;

-- 005: listings (ps, pod ps, the HTTP and Docker routes) read narrow summary rows kept beside each container's documents, so listing and filtering never parse a config or state; a trigger keeps them in step with every write, and container_summary_source is the one definition of a summary. Labels carry a GIN index, so a label filter (containment or key existence) reads only the rows it returns. Pod and namespace indexes become partial, so a plain add writes neither.
CREATE VIEW container_summary_source AS
SELECT
  CASE WHEN jsonb_typeof(c -> 'createdAt') = 'string' THEN c ->> 'createdAt' ELSE '' END AS created,
  id,
  name,
  namespace,
  pod_id,
  CASE WHEN jsonb_typeof(c -> 'image') = 'string' THEN c ->> 'image' END AS image,
  CASE WHEN jsonb_typeof(c -> 'command') = 'array' THEN c -> 'command' END AS command_json,
  CASE WHEN jsonb_typeof(s -> 'status') = 'string' THEN s ->> 'status' END AS status,
  CASE WHEN jsonb_typeof(s -> 'exitCode') = 'number' AND (s ->> 'exitCode') ~ '^-?[0-9]{1,9}$'
    THEN (s ->> 'exitCode')::integer END AS exit_code,
  CASE WHEN jsonb_typeof(s -> 'startedAt') = 'string' THEN s ->> 'startedAt' END AS started_at,
  CASE WHEN jsonb_typeof(s -> 'finishedAt') = 'string' THEN s ->> 'finishedAt' END AS finished_at,
  CASE WHEN jsonb_typeof(c -> 'labels') = 'object' THEN c -> 'labels' ELSE '{}'::jsonb END AS labels_json,
  CASE WHEN jsonb_typeof(c -> 'namedVolumes') = 'array' THEN c -> 'namedVolumes' ELSE '[]'::jsonb END AS mounts_json,
  CASE WHEN jsonb_typeof(c -> 'networks') = 'object'
    THEN coalesce((SELECT jsonb_agg(k ORDER BY k COLLATE "C") FROM jsonb_object_keys(c -> 'networks') AS k), '[]'::jsonb)
    ELSE '[]'::jsonb END AS networks_json
FROM (
  SELECT id, name, namespace, pod_id, config_json::jsonb AS c, state_json::jsonb AS s FROM containers
) AS documents;

CREATE TABLE container_summaries (
  created TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  namespace TEXT NOT NULL,
  pod_id TEXT COLLATE "C",
  image TEXT,
  command_json JSONB,
  status TEXT,
  exit_code INTEGER,
  started_at TEXT,
  finished_at TEXT,
  labels_json JSONB NOT NULL,
  mounts_json JSONB NOT NULL,
  networks_json JSONB NOT NULL,
  PRIMARY KEY (created, id)
);
CREATE INDEX container_summaries_labels ON container_summaries USING gin (labels_json);

-- search_path fixed at creation: the tables are this store's, whatever session writes.
CREATE FUNCTION berth_container_summary() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM container_summaries WHERE id = OLD.id AND created =
      CASE WHEN jsonb_typeof(OLD.config_json::jsonb -> 'createdAt') = 'string'
        THEN OLD.config_json::jsonb ->> 'createdAt' ELSE '' END;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO container_summaries SELECT * FROM container_summary_source WHERE id = NEW.id;
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER containers_summary AFTER INSERT OR UPDATE OR DELETE ON containers
  FOR EACH ROW EXECUTE FUNCTION berth_container_summary();

INSERT INTO container_summaries SELECT * FROM container_summary_source;

DROP INDEX containers_namespace;
CREATE INDEX containers_managed ON containers (namespace, workspace) WHERE workspace IS NOT NULL;
DROP INDEX containers_pod;
CREATE INDEX containers_pod ON containers (pod_id) WHERE pod_id IS NOT NULL;
DROP INDEX pods_namespace;
CREATE INDEX pods_managed ON pods (namespace, workspace) WHERE workspace IS NOT NULL;
DROP INDEX volumes_namespace;
CREATE INDEX volumes_managed ON volumes (namespace, workspace) WHERE workspace IS NOT NULL;

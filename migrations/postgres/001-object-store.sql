-- 001: the object store (containers, pods, volumes, exec sessions, exit codes), store metadata and the event journal.
CREATE TABLE berth_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
-- Every write transaction locks this row first: one writer at a time, as in SQLite.
INSERT INTO berth_meta (key, value) VALUES ('write_lock', '');

-- Container and pod ids and names share one registry: both are unique across the two kinds.
-- COLLATE "C": ids and names compare byte-wise, as in SQLite, so prefix ranges work.
CREATE TABLE object_ids (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('container', 'pod'))
);

CREATE TABLE pods (
  rowid BIGSERIAL NOT NULL,
  id TEXT COLLATE "C" PRIMARY KEY REFERENCES object_ids (id),
  name TEXT COLLATE "C" NOT NULL UNIQUE,
  namespace TEXT NOT NULL,
  workspace TEXT,
  config_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX pods_namespace ON pods (namespace, workspace);

CREATE TABLE containers (
  rowid BIGSERIAL NOT NULL,
  id TEXT COLLATE "C" PRIMARY KEY REFERENCES object_ids (id),
  name TEXT COLLATE "C" NOT NULL UNIQUE,
  namespace TEXT NOT NULL,
  pod_id TEXT COLLATE "C" REFERENCES pods (id),
  workspace TEXT,
  config_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX containers_namespace ON containers (namespace, workspace);
CREATE INDEX containers_pod ON containers (pod_id);
CREATE INDEX containers_rowid ON containers (rowid);

CREATE TABLE container_dependencies (
  container_id TEXT COLLATE "C" NOT NULL REFERENCES containers (id) ON DELETE CASCADE,
  dependency_id TEXT COLLATE "C" NOT NULL REFERENCES containers (id),
  PRIMARY KEY (container_id, dependency_id)
);
CREATE INDEX container_dependencies_dependency ON container_dependencies (dependency_id);

CREATE TABLE volumes (
  rowid BIGSERIAL NOT NULL,
  name TEXT COLLATE "C" PRIMARY KEY,
  namespace TEXT NOT NULL,
  workspace TEXT,
  config_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX volumes_namespace ON volumes (namespace, workspace);

CREATE TABLE container_volumes (
  container_id TEXT COLLATE "C" NOT NULL REFERENCES containers (id) ON DELETE CASCADE,
  volume_name TEXT COLLATE "C" NOT NULL REFERENCES volumes (name),
  PRIMARY KEY (container_id, volume_name)
);
CREATE INDEX container_volumes_volume ON container_volumes (volume_name);

CREATE TABLE exec_sessions (
  id TEXT COLLATE "C" PRIMARY KEY,
  container_id TEXT COLLATE "C" NOT NULL REFERENCES containers (id)
);
CREATE INDEX exec_sessions_container ON exec_sessions (container_id);

-- Exit codes outlive their containers, so no foreign key.
CREATE TABLE exit_codes (
  container_id TEXT COLLATE "C" PRIMARY KEY,
  code INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX exit_codes_created ON exit_codes (created_at);

-- seq is the commit order: writers hold the store's write lock (see the executor) while
-- they take a seq and until they commit, so seqs become visible in increasing order.
CREATE TABLE events (
  seq BIGSERIAL PRIMARY KEY,
  ts BIGINT NOT NULL,
  namespace TEXT NOT NULL,
  type TEXT NOT NULL,
  subject_kind TEXT NOT NULL,
  subject_id TEXT,
  subject_name TEXT,
  actor TEXT NOT NULL,
  data_json TEXT NOT NULL
);
CREATE INDEX events_ts ON events (ts);

-- Followers LISTEN on berth_events_<schema> and wake on every committed batch of events.
CREATE FUNCTION berth_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('berth_events_' || current_schema(), '');
  RETURN NULL;
END;
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION berth_notify_events();

-- 001: the object store (containers, pods, volumes, exec sessions, exit codes), store metadata and the event journal.
CREATE TABLE berth_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- Container and pod ids and names share one registry: both are unique across the two kinds.
CREATE TABLE object_ids (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('container', 'pod'))
) STRICT;

CREATE TABLE pods (
  id TEXT PRIMARY KEY REFERENCES object_ids (id),
  name TEXT NOT NULL UNIQUE,
  namespace TEXT NOT NULL,
  workspace TEXT,
  config_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pods_namespace ON pods (namespace, workspace);

CREATE TABLE containers (
  id TEXT PRIMARY KEY REFERENCES object_ids (id),
  name TEXT NOT NULL UNIQUE,
  namespace TEXT NOT NULL,
  pod_id TEXT REFERENCES pods (id),
  workspace TEXT,
  config_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX containers_namespace ON containers (namespace, workspace);
CREATE INDEX containers_pod ON containers (pod_id);

CREATE TABLE container_dependencies (
  container_id TEXT NOT NULL REFERENCES containers (id) ON DELETE CASCADE,
  dependency_id TEXT NOT NULL REFERENCES containers (id),
  PRIMARY KEY (container_id, dependency_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX container_dependencies_dependency ON container_dependencies (dependency_id);

CREATE TABLE volumes (
  name TEXT PRIMARY KEY,
  namespace TEXT NOT NULL,
  workspace TEXT,
  config_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX volumes_namespace ON volumes (namespace, workspace);

CREATE TABLE container_volumes (
  container_id TEXT NOT NULL REFERENCES containers (id) ON DELETE CASCADE,
  volume_name TEXT NOT NULL REFERENCES volumes (name),
  PRIMARY KEY (container_id, volume_name)
) STRICT, WITHOUT ROWID;
CREATE INDEX container_volumes_volume ON container_volumes (volume_name);

CREATE TABLE exec_sessions (
  id TEXT PRIMARY KEY,
  container_id TEXT NOT NULL REFERENCES containers (id)
) STRICT;
CREATE INDEX exec_sessions_container ON exec_sessions (container_id);

-- Exit codes outlive their containers, so no foreign key.
CREATE TABLE exit_codes (
  container_id TEXT PRIMARY KEY,
  code INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX exit_codes_created ON exit_codes (created_at);

-- seq is the commit order: AUTOINCREMENT never reuses a number, so readers can resume after it.
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  namespace TEXT NOT NULL,
  type TEXT NOT NULL,
  subject_kind TEXT NOT NULL,
  subject_id TEXT,
  subject_name TEXT,
  actor TEXT NOT NULL,
  data_json TEXT NOT NULL
) STRICT;
CREATE INDEX events_ts ON events (ts);

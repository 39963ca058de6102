-- 004: ids and names stay unique across containers and pods through a check inside the (serialised) write transaction, not a registry table: every add wrote two random-key B-trees more than it needed. Pods and containers are rebuilt without the registry's foreign keys, every row keeping its rowid (listing order).
CREATE TABLE pods_004 (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  namespace TEXT NOT NULL,
  workspace TEXT,
  config_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
INSERT INTO pods_004 (rowid, id, name, namespace, workspace, config_json, state_json, created_at, updated_at)
  SELECT rowid, id, name, namespace, workspace, config_json, state_json, created_at, updated_at FROM pods;
DROP TABLE pods;
ALTER TABLE pods_004 RENAME TO pods;
CREATE INDEX pods_namespace ON pods (namespace, workspace);

CREATE TABLE containers_004 (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  namespace TEXT NOT NULL,
  pod_id TEXT REFERENCES pods (id),
  workspace TEXT,
  config_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
INSERT INTO containers_004 (rowid, id, name, namespace, pod_id, workspace, config_json, state_json, created_at, updated_at)
  SELECT rowid, id, name, namespace, pod_id, workspace, config_json, state_json, created_at, updated_at FROM containers;
DROP TABLE containers;
ALTER TABLE containers_004 RENAME TO containers;
CREATE INDEX containers_namespace ON containers (namespace, workspace);
CREATE INDEX containers_pod ON containers (pod_id);

DROP TABLE object_ids;

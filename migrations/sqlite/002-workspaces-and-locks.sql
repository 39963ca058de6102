-- 002: named stack states (workspaces) with their version history, and the lock table.
CREATE TABLE workspaces (
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  lineage TEXT NOT NULL,
  serial INTEGER NOT NULL,
  state_json TEXT,
  checksum TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, name)
) STRICT;

CREATE TABLE state_versions (
  namespace TEXT NOT NULL,
  workspace TEXT NOT NULL,
  serial INTEGER NOT NULL,
  lineage TEXT NOT NULL,
  checksum TEXT,
  state_json TEXT,
  created_at INTEGER NOT NULL,
  who TEXT NOT NULL,
  operation TEXT NOT NULL,
  PRIMARY KEY (namespace, workspace, serial)
) STRICT;

-- One row per held lock; fencing_token grows on every acquisition store-wide.
CREATE TABLE locks (
  key TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  operation TEXT NOT NULL,
  who TEXT NOT NULL,
  info TEXT NOT NULL,
  version TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  fencing_token INTEGER NOT NULL,
  ttl_ms INTEGER,
  expires_at INTEGER
) STRICT;

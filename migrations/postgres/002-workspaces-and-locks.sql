-- 002: named stack states (workspaces) with their version history, and the lock table.
CREATE TABLE workspaces (
  namespace TEXT NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  lineage TEXT NOT NULL,
  serial INTEGER NOT NULL,
  state_json TEXT,
  checksum TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (namespace, name)
);

CREATE TABLE state_versions (
  namespace TEXT NOT NULL,
  workspace TEXT COLLATE "C" NOT NULL,
  serial INTEGER NOT NULL,
  lineage TEXT NOT NULL,
  checksum TEXT,
  state_json TEXT,
  created_at BIGINT NOT NULL,
  who TEXT NOT NULL,
  operation TEXT NOT NULL,
  PRIMARY KEY (namespace, workspace, serial)
);

-- One row per held lock; fencing_token grows on every acquisition store-wide.
CREATE TABLE locks (
  key TEXT COLLATE "C" PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  operation TEXT NOT NULL,
  who TEXT NOT NULL,
  info TEXT NOT NULL,
  version TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  fencing_token BIGINT NOT NULL,
  ttl_ms BIGINT,
  expires_at BIGINT
);

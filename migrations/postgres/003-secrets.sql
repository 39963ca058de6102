-- 003: per-workspace data keys for secret values in state documents and manifests.
-- A data key is stored only wrapped (AES-256-GCM) by the secrets key the operator holds;
-- key_check is that key's fingerprint, so a wrong key is named, not guessed at.
-- A deleted workspace's keys are retired, not dropped: objects it created may still
-- carry values encrypted with them.
CREATE TABLE secret_keys (
  id TEXT COLLATE "C" PRIMARY KEY,
  namespace TEXT NOT NULL,
  workspace TEXT COLLATE "C" NOT NULL,
  wrapped TEXT NOT NULL,
  key_check TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  retired_at BIGINT
);

CREATE INDEX secret_keys_by_workspace ON secret_keys (namespace, workspace);

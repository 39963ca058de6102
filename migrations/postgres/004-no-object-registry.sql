-- 004: ids and names stay unique across containers and pods through a check inside the (serialised) write transaction, not a registry table: every add wrote two B-trees more than it needed.
ALTER TABLE containers DROP CONSTRAINT containers_id_fkey;
ALTER TABLE pods DROP CONSTRAINT pods_id_fkey;
DROP TABLE object_ids;

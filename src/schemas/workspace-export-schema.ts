import { Type, type Static } from '@sinclair/typebox';
import type { StateExport } from '../engine/types.js';

/*
 * The workspace export envelope (DESIGN.md §4, Pulumi's stack export): what
 * `exportState` and `berth state export` write and `importState` reads back. Defined
 * once, here: import checks an envelope with it before anything else, and the build
 * ships it as JSON Schema (dist/schemas/workspace-export-v1.schema.json). What a schema
 * cannot say — the checksum matches the state, the state is not null — import checks
 * after it.
 */

/** The highest serial an import may bring: room is left for the writes after it. */
export const MAX_IMPORTED_SERIAL = 2_147_483_647 - 1_000_000;

/** A workspace export, version 1. */
export const WorkspaceExportSchema = Type.Object(
  {
    kind: Type.Literal('berth.workspace'),
    version: Type.Literal(1),
    namespace: Type.String(),
    workspace: Type.String(),
    lineage: Type.String({ minLength: 1 }),
    serial: Type.Integer({ minimum: 0, maximum: MAX_IMPORTED_SERIAL }),
    checksum: Type.Union([Type.String(), Type.Null()], {
      description: "sha256 (hex) of the state's canonical JSON; null only for a never-written state",
    }),
    state: Type.Unknown({ description: 'the state document; its secrets encrypted unless exported with them shown' }),
    secretsKeys: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: "the data keys of the state's secrets, by id, wrapped by the store's secrets key",
      }),
    ),
  },
  {
    $id: 'urn:berth:schema:workspace-export-v1',
    title: 'berth workspace export (version 1)',
    description:
      'A workspace state as `berth state export` writes it and `berth state import` reads it: versioned, checksummed, with the wrapped data keys of its secrets.',
  },
);

// The schema and the documented type describe the same envelope, each way round.
const _conforms: (e: Static<typeof WorkspaceExportSchema>) => StateExport = (e) => e;
const _describes: (e: StateExport) => Static<typeof WorkspaceExportSchema> = (e) => e;
void _conforms;
void _describes;

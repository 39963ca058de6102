import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { PlanSchema } from './plan-schema.js';
import { WorkspaceExportSchema } from './workspace-export-schema.js';

/*
 * The schemas the package ships as JSON Schema files, for tools that read or write
 * berth's files without berth (`berth/schemas/plan-v1.schema.json`). The build writes
 * them from the very schemas berth checks with, so the two cannot drift apart.
 */

/** The JSON Schema dialect of the shipped files. */
const DIALECT = 'http://json-schema.org/draft-07/schema#';

/** The shipped schemas, by file name under dist/schemas/. */
export const SHIPPED_SCHEMAS: Readonly<Record<string, TSchema>> = {
  'plan-v1.schema.json': PlanSchema,
  'workspace-export-v1.schema.json': WorkspaceExportSchema,
};

/** A schema as the text of a JSON Schema file. */
export function jsonSchemaText(schema: TSchema): string {
  // TypeBox keeps its own bookkeeping under symbol keys, which JSON leaves out.
  return `${JSON.stringify({ $schema: DIALECT, ...schema }, null, 2)}\n`;
}

/** Writes every shipped schema into `dir` (the build's dist/schemas); returns the files. */
export function writeJsonSchemas(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(SHIPPED_SCHEMAS).map(([file, schema]) => {
    const path = join(dir, file);
    writeFileSync(path, jsonSchemaText(schema));
    return path;
  });
}

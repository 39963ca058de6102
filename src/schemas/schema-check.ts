import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';

/*
 * Checks a value against one of berth's schemas with TypeBox's compiled checks (each
 * schema compiled once per process), and names the first thing wrong with it by its
 * JSON Pointer path, so the caller's error says where the document is broken.
 */

/** What is wrong with a value, first problem only. */
export interface SchemaProblem {
  /** JSON Pointer to the failing value ('' for the document itself). */
  path: string;
  /** What was expected there, lowercase (`expected string`). */
  message: string;
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function compile(schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check;
}

/** The first problem of `value` against `schema`, or undefined when it conforms. */
export function schemaProblem(schema: TSchema, value: unknown): SchemaProblem | undefined {
  const check = compile(schema);
  if (check.Check(value)) return undefined;
  const first = check.Errors(value).First();
  // A compiled check and its error walk agree; a value that fails with no error is not one.
  if (!first) return { path: '', message: 'does not match the schema' };
  return explain(first);
}

/** "at /changes/0/kind: expected …", the way an error message names a problem. */
export function describeProblem(problem: SchemaProblem): string {
  return `${problem.path === '' ? 'at the top level' : `at ${problem.path}`}: ${problem.message}`;
}

/**
 * A union's own error says only "expected union value". Each alternative was tried; the
 * one that got furthest into the value (the longest failing path) is what the writer
 * most likely meant, and its problem is reported. Alternatives that all fail at the same
 * place on a constant are listed together: `expected one of "volume", "pod", "container"`.
 */
function explain(error: ValueError): SchemaProblem {
  if (error.type !== ValueErrorType.Union || error.errors.length === 0) {
    return { path: error.path, message: lowerFirst(error.message) };
  }
  const firsts = error.errors.map((it) => it.First()).filter((e): e is ValueError => e !== undefined);
  if (firsts.length === 0) return { path: error.path, message: 'matches none of the allowed forms' };
  const deepest = Math.max(...firsts.map((e) => e.path.length));
  const furthest = firsts.filter((e) => e.path.length === deepest);
  if (furthest.length > 1 && furthest.every((e) => e.type === ValueErrorType.Literal)) {
    const values = [...new Set(furthest.map((e) => JSON.stringify((e.schema as unknown as { const: unknown }).const)))];
    return { path: furthest[0]!.path, message: `expected one of ${values.join(', ')}` };
  }
  return explain(furthest[0]!);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

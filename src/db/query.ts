import type { Compilable, Kysely } from 'kysely';
import type { Database } from './schema.js';

/** A named placeholder inside a query definition, bound at execution time. */
export class Param {
  constructor(readonly name: string) {}
}

/**
 * A placeholder for the value of `params[name]`. Typed as the column's type so kysely's
 * builders accept it; the compiled query keeps it as a parameter slot.
 */
export function param<T = string>(name: string): T {
  return new Param(name) as unknown as T;
}

/** Parameters of one execution of a query definition, by placeholder name. */
export type Params = Readonly<Record<string, unknown>>;

/**
 * A query built once with kysely and compiled once per dialect, so that every later
 * execution is a cached prepared statement plus a parameter array.
 */
export interface QueryDef<R> {
  readonly name: string;
  readonly build: (db: Kysely<Database>) => Compilable<R>;
}

/** Defines a query; `name` shows up in errors and profiles. */
export function defineQuery<R>(name: string, build: (db: Kysely<Database>) => Compilable<R>): QueryDef<R> {
  return { name, build };
}

/** One slot of a compiled statement's parameter list. */
export type ArgSlot = { readonly param: string } | { readonly value: unknown };

/** A query definition compiled for one dialect. */
export interface CompiledDef {
  readonly sql: string;
  readonly slots: readonly ArgSlot[];
}

/** Compiles a definition with the given (driverless) kysely instance. */
export function compileDef(db: Kysely<Database>, def: QueryDef<unknown>): CompiledDef {
  const compiled = def.build(db).compile();
  const slots = compiled.parameters.map((p): ArgSlot => (p instanceof Param ? { param: p.name } : { value: p }));
  return { sql: compiled.sql, slots };
}

/** Builds the positional argument list of one execution. */
export function bindArgs(slots: readonly ArgSlot[], params: Params | undefined): unknown[] {
  const args = new Array<unknown>(slots.length);
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!;
    if ('param' in slot) {
      const value = params?.[slot.param];
      if (value === undefined) throw new Error(`query parameter ${slot.param} is missing`);
      args[i] = value;
    } else {
      args[i] = slot.value;
    }
  }
  return args;
}

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';

/*
 * An audit of the TSDoc of berth's published surface, read from the entry point's
 * `export … from` statements: every exported symbol has a doc comment, and every exported
 * function and every public method of an exported class says what it throws (`@throws`
 * with the codes, or that it throws none). Runs on the sources (test/package/tsdoc.test.ts)
 * and on the declarations the package ships (test/package/readme-typescript.test.ts).
 */

/** One symbol of the surface that lacks what it should have. */
export interface DocGap {
  file: string;
  name: string;
  missing: 'doc comment' | '@throws';
}

/** The gaps of the surface that `entry` (src/index.ts, or dist/index.d.ts) exports. */
export function auditPublishedDocs(entry: string): {
  checked: string[];
  gaps: DocGap[];
  /** The `@throws` text of each function and method, by name. */
  throws: Map<string, string>;
} {
  const checked: string[] = [];
  const gaps: DocGap[] = [];
  const throws = new Map<string, string>();
  const sources = new Map<string, ts.SourceFile>();
  const parse = (file: string): ts.SourceFile => {
    let sf = sources.get(file);
    if (!sf) {
      sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      sources.set(file, sf);
    }
    return sf;
  };
  // Sources import `./x.js` for `./x.ts`; declarations for `./x.d.ts`.
  const resolve = (from: string, spec: string): string => {
    const base = join(dirname(from), spec).replace(/\.js$/, '');
    return entry.endsWith('.d.ts') ? `${base}.d.ts` : `${base}.ts`;
  };
  const note = (file: string, name: string, node: ts.Node, needsThrows: boolean): void => {
    checked.push(name);
    const docs = ts.getJSDocCommentsAndTags(node);
    const text = ts
      .getJSDocTags(node)
      .filter((t) => t.tagName.text === 'throws')
      .map((t) => ts.getTextOfJSDocComment(t.comment) ?? '')
      .join(' ')
      .trim();
    if (needsThrows && text !== '') throws.set(name, text);
    if (docs.length === 0) gaps.push({ file, name, missing: 'doc comment' });
    else if (needsThrows && text === '') gaps.push({ file, name, missing: '@throws' });
  };
  const isPublicMethod = (m: ts.ClassElement): m is ts.MethodDeclaration =>
    ts.isMethodDeclaration(m) &&
    !ts.isPrivateIdentifier(m.name) &&
    !(ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected));

  const indexFile = parse(entry);
  for (const stmt of indexFile.statements) {
    if (!ts.isExportDeclaration(stmt) || !stmt.moduleSpecifier || !stmt.exportClause) continue;
    if (!ts.isNamedExports(stmt.exportClause)) continue;
    const file = resolve(entry, (stmt.moduleSpecifier as ts.StringLiteral).text);
    const sf = parse(file);
    for (const spec of stmt.exportClause.elements) {
      const name = (spec.propertyName ?? spec.name).text;
      for (const decl of sf.statements) {
        const declName = (decl as { name?: ts.Identifier }).name?.text;
        if (ts.isVariableStatement(decl)) {
          if (decl.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === name)) {
            note(file, name, decl, false);
          }
          continue;
        }
        if (declName !== name) continue;
        if (ts.isFunctionDeclaration(decl)) {
          // Overloads: the first declaration carries the doc comment.
          if (!checked.includes(name)) note(file, name, decl, true);
        } else if (ts.isClassDeclaration(decl)) {
          note(file, name, decl, false);
          for (const m of decl.members.filter(isPublicMethod)) {
            const method = `${name}.${m.name.getText(sf)}`;
            if (!checked.includes(method)) note(file, method, m, true);
          }
        } else if (ts.isInterfaceDeclaration(decl) || ts.isTypeAliasDeclaration(decl)) {
          if (!checked.includes(name)) note(file, name, decl, false);
        }
      }
    }
  }
  return { checked, gaps, throws };
}

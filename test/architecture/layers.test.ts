/**
 * The layer table of CONTRIBUTING.md ("Layout and dependency direction"), enforced: every import (and
 * re-export, and dynamic import) of every source file under src/ is checked against what its folder may
 * import. A file may always import from its own folder. Test files (*.test.ts) are left out: they may
 * reach across layers to set things up.
 *
 * The table below is the data; CONTRIBUTING's table must name the same folders (checked here too).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

interface Layer {
  /** What the folder (or file) under src/ may import: folders, sub-folders or single files under src/. */
  mayImport: readonly string[];
  /** Of those, the ones that may be imported for their types only (`import type`). */
  typeOnly?: readonly string[];
}

/** Everything the server side is made of: what the composition root wires together. */
const SERVER_SIDE = [
  'types', 'errors', 'domain', 'config', 'service', 'store', 'store-conformance', 'engine', 'http',
  'observability', 'leadership', 'maintenance', 'integrations',
];

/** Keyed by the path under src/ (a folder, or the package entry file). Mirrors CONTRIBUTING.md. */
export const LAYERS: Readonly<Record<string, Layer>> = {
  types: { mayImport: [] },
  errors: { mayImport: ['types'] },
  domain: { mayImport: ['types', 'errors'] },
  config: { mayImport: ['domain', 'types'] },
  service: { mayImport: ['types'] },
  store: { mayImport: ['types', 'errors', 'domain', 'service'] },
  'store-conformance': { mayImport: ['store/store.ts', 'engine', 'types', 'errors', 'domain', 'service'] },
  engine: { mayImport: ['store/store.ts', 'domain', 'service', 'types', 'errors'] },
  http: { mayImport: ['engine', 'domain', 'errors', 'types'] },
  observability: { mayImport: ['config', 'engine', 'errors', 'store', 'service', 'types'] },
  leadership: { mayImport: ['store/store.ts', 'service', 'types'] },
  maintenance: { mayImport: ['engine', 'leadership', 'store/store.ts', 'service', 'domain', 'errors', 'types'] },
  integrations: { mayImport: ['store/elasticsearch'] },
  server: { mayImport: SERVER_SIDE },
  cli: { mayImport: ['server', 'config'] },
  // Re-exports of the @tasques/client package (packages/client), which imports nothing under src/.
  client: { mayImport: [] },
  worker: { mayImport: [] },
  'index.ts': { mayImport: ['config', 'server', 'store', 'errors', 'types', 'service'] },
};

export interface ImportFound {
  /** The specifier as written. */
  specifier: string;
  /** The imported file, relative to src/ with `/` separators (`.js` mapped to `.ts`). */
  target: string;
  typeOnly: boolean;
  line: number;
}

/** The relative imports, re-exports and dynamic imports of a TypeScript file. */
export function importsOf(file: string, text = readFileSync(file, 'utf8')): ImportFound[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: ImportFound[] = [];
  const add = (node: ts.Node, specifierNode: ts.Expression | undefined, typeOnly: boolean) => {
    if (!specifierNode || !ts.isStringLiteral(specifierNode)) return;
    const specifier = specifierNode.text;
    if (!specifier.startsWith('.')) return; // a package, not a layer
    const target = relative(SRC, resolve(dirname(file), specifier)).split(sep).join('/').replace(/\.js$/, '.ts');
    const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    found.push({ specifier, target, typeOnly, line });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedTypes =
        named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && clause?.name === undefined
          ? named.elements.every((e) => e.isTypeOnly)
          : false;
      add(node, node.moduleSpecifier, clause?.isTypeOnly === true || allNamedTypes);
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The layer a path under src/ belongs to: its first folder, or the file itself at the top. */
export function layerOf(pathUnderSrc: string): string {
  return pathUnderSrc.split('/')[0]!;
}

const covers = (entry: string, target: string) => target === entry || target.startsWith(`${entry}/`);

/** Why `imp` from `file` (under src/) crosses a forbidden boundary, or undefined if it may. */
export function violation(file: string, imp: ImportFound): string | undefined {
  const from = layerOf(file);
  const to = layerOf(imp.target);
  if (from === to) return undefined;
  const layer = LAYERS[from];
  if (layer === undefined) return `src/${file}: its folder src/${from} is not in the layer table`;
  const entry = layer.mayImport.find((e) => covers(e, imp.target));
  const where = `src/${file}:${imp.line} imports '${imp.specifier}' (src/${imp.target})`;
  if (entry === undefined) {
    return `${where}: src/${from} may import only ${layer.mayImport.length ? layer.mayImport.join(', ') : 'nothing'}`;
  }
  if (layer.typeOnly?.includes(entry) && !imp.typeOnly) return `${where}: src/${from} may import ${entry} for types only (import type)`;
  return undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('the layer table (CONTRIBUTING.md) is enforced', () => {
  const files = sourceFiles(SRC).map((path) => ({ path, file: relative(SRC, path).split(sep).join('/') }));

  it('no file under src/ imports across a forbidden boundary', () => {
    const problems = files.flatMap(({ path, file }) =>
      importsOf(path).flatMap((imp) => violation(file, imp) ?? []),
    );
    assert.deepEqual(problems, [], `imports across the layer table:\n  ${problems.join('\n  ')}`);
  });

  it('every folder under src/ has a row, and every row a folder', () => {
    const present = new Set(files.map(({ file }) => layerOf(file)));
    assert.deepEqual([...present].sort(), Object.keys(LAYERS).sort());
  });

  it('CONTRIBUTING.md lists the same folders', () => {
    const text = readFileSync(join(ROOT, 'CONTRIBUTING.md'), 'utf8');
    const section = text.slice(text.indexOf('## Layout and dependency direction'), text.indexOf('## Naming'));
    const listed = [...section.matchAll(/^\| `src\/([^`]+?)\/?` \|/gm)].map((m) => m[1]!);
    assert.deepEqual(listed.sort(), Object.keys(LAYERS).sort());
  });

  it('names the file and the import of a violation (and can fail)', () => {
    const file = join(SRC, 'engine', 'example.ts');
    const imports = importsOf(
      file,
      "import { x } from '../config/load.js';\nimport type { Y } from '../http/schemas/tasks.js';\nexport * from './local.js';\nconst later = () => import('../server/server.js');\n",
    );
    assert.deepEqual(
      imports.map((imp) => violation('engine/example.ts', imp)),
      [
        "src/engine/example.ts:1 imports '../config/load.js' (src/config/load.ts): src/engine may import only store/store.ts, domain, service, types, errors",
        "src/engine/example.ts:2 imports '../http/schemas/tasks.js' (src/http/schemas/tasks.ts): src/engine may import only store/store.ts, domain, service, types, errors",
        undefined,
        "src/engine/example.ts:4 imports '../server/server.js' (src/server/server.ts): src/engine may import only store/store.ts, domain, service, types, errors",
      ],
    );
    const client = importsOf(join(SRC, 'client', 'x.ts'), "import { TaskSchema } from '../http/schemas/tasks.js';\n");
    // src/client re-exports the client package and may import nothing else under src/.
    assert.match(violation('client/x.ts', client[0]!)!, /src\/client may import only nothing$/);
  });
});

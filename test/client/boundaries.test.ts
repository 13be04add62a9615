/**
 * The client package (packages/client, `@tasques/client`) must not load server code at run time nor
 * name it in its declarations, and the worker only the client: checked on the compiled output that users
 * import (packages/client/dist/, built by `npm test`), and through both packages' exports.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function runtimeImports(dir: string, suffix = '.js'): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    if (!name.endsWith(suffix)) continue;
    const text = readFileSync(join(root, dir, name), 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/gm)) out.push(m[1] as string);
    for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1] as string);
    for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] as string);
  }
  return out;
}

describe('module boundaries', () => {
  it('the client loads only its own modules and node builtins', () => {
    const imports = runtimeImports('packages/client/dist/client');
    assert.ok(imports.includes('./client.js'), `found ${imports.join(', ')}`);
    const foreign = imports.filter((i) => !i.startsWith('./') && !i.startsWith('node:'));
    assert.deepEqual(foreign, []);
  });

  it('the worker loads only the client and node builtins', () => {
    const imports = runtimeImports('packages/client/dist/worker');
    assert.ok(imports.includes('../client/index.js'), `found ${imports.join(', ')}`);
    const foreign = imports.filter((i) => !i.startsWith('./') && !i.startsWith('node:') && i !== '../client/index.js');
    assert.deepEqual(foreign, []);
  });

  it("the client's declarations name only its own modules and node builtins", () => {
    for (const dir of ['packages/client/dist/client', 'packages/client/dist/worker']) {
      const imports = runtimeImports(dir, '.d.ts');
      const foreign = imports.filter((i) => !i.startsWith('./') && !i.startsWith('node:') && i !== '../client/index.js');
      assert.deepEqual(foreign, [], dir);
    }
  });

  it('the client package has no dependencies of any kind', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'packages/client/package.json'), 'utf8')) as Record<string, unknown>;
    for (const field of ['dependencies', 'optionalDependencies', 'bundleDependencies', 'bundledDependencies']) {
      assert.equal(pkg[field], undefined, field);
    }
    // @types/node only as an optional peer: the declarations use node's types (EventEmitter, signals).
    assert.deepEqual(Object.keys(pkg.peerDependencies as object), ['@types/node']);
  });

  it("the server's tasques/client and tasques/worker only re-export the client package", () => {
    assert.deepEqual(runtimeImports('dist/client'), ['@tasques/client']);
    assert.deepEqual(runtimeImports('dist/worker'), ['@tasques/client/worker']);
  });

  it('is importable as tasques/client and tasques/worker, the same classes as @tasques/client', async () => {
    // Specifiers in variables: typechecking must not depend on dist/ existing.
    const clientName = 'tasques/client';
    const workerName = 'tasques/worker';
    const clientModule = (await import(clientName)) as typeof import('../../src/client/index.js');
    const workerModule = (await import(workerName)) as typeof import('../../src/worker/index.js');
    assert.equal(typeof clientModule.TasquesClient, 'function');
    assert.equal(typeof clientModule.TasquesApiError, 'function');
    assert.equal(typeof workerModule.Worker, 'function');
    assert.match(String(clientModule.newTaskId()), /^[0-9a-f]{32}$/);
    const standalone = (await import('@tasques/client')) as typeof import('../../src/client/index.js');
    const standaloneWorker = (await import('@tasques/client/worker')) as typeof import('../../src/worker/index.js');
    assert.equal(clientModule.TasquesClient, standalone.TasquesClient);
    assert.equal(workerModule.Worker, standaloneWorker.Worker);
  });
});

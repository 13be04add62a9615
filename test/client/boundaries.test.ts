/**
 * The client must not load server code at run time, and the worker only the client: checked on the
 * compiled output that users import (dist/, built by `npm test`), through the package's own exports.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function runtimeImports(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    if (!name.endsWith('.js')) continue;
    const text = readFileSync(join(root, dir, name), 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/gm)) out.push(m[1] as string);
    for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1] as string);
    for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] as string);
  }
  return out;
}

describe('module boundaries', () => {
  it('dist/client loads only its own modules and node builtins', () => {
    const imports = runtimeImports('dist/client');
    assert.ok(imports.includes('./client.js'), `found ${imports.join(', ')}`);
    const foreign = imports.filter((i) => !i.startsWith('./') && !i.startsWith('node:'));
    assert.deepEqual(foreign, []);
  });

  it('dist/worker loads only the client and node builtins', () => {
    const imports = runtimeImports('dist/worker');
    assert.ok(imports.includes('../client/index.js'), `found ${imports.join(', ')}`);
    const foreign = imports.filter((i) => !i.startsWith('./') && !i.startsWith('node:') && i !== '../client/index.js');
    assert.deepEqual(foreign, []);
  });

  it('is importable as tasques/client and tasques/worker', async () => {
    // Specifiers in variables: typechecking must not depend on dist/ existing.
    const clientName = 'tasques/client';
    const workerName = 'tasques/worker';
    const clientModule = (await import(clientName)) as typeof import('../../src/client/index.js');
    const workerModule = (await import(workerName)) as typeof import('../../src/worker/index.js');
    assert.equal(typeof clientModule.TasquesClient, 'function');
    assert.equal(typeof clientModule.TasquesApiError, 'function');
    assert.equal(typeof workerModule.Worker, 'function');
    assert.match(String(clientModule.newTaskId()), /^[0-9a-f]{32}$/);
  });
});

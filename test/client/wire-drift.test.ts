/**
 * The client package's wire types equal the server's schemas: type-checks drift/wire-types.ts on its own
 * (`npm run typecheck` does too; this makes `npm test -- client` catch drift as well).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

it("the client's wire types are exactly the server's schema types", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tasques-drift-'));
  try {
    const tsconfig = join(dir, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.json'),
        // Type roots resolve from this file's folder, outside the repository.
        compilerOptions: { typeRoots: [join(ROOT, 'node_modules/@types')] },
        include: [],
        files: [join(ROOT, 'test/client/drift/wire-types.ts')],
      }),
    );
    const res = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], {
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, `wire types drifted (packages/client/src/client/wire.ts vs src/http/schemas):\n${res.stdout}${res.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Every TASQUES_SERVER_* variable that the deployment files set (Dockerfile, compose, Kubernetes
 * manifests, Helm chart) is a real configuration key, so that a typo there is caught here rather than
 * silently ignored in production. The known keys come from docs/reference/config.md, which is generated
 * from the config schema and drift-tested.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

it('the deployment files set only configuration variables that exist', () => {
  const reference = readFileSync(join(ROOT, 'docs/reference/config.md'), 'utf8');
  const known = new Set([...reference.matchAll(/\| `(TASQUES_SERVER_[A-Z0-9_]+)` \|/g)].map((m) => m[1]));
  assert.ok(known.size > 40, `only ${known.size} variables in docs/reference/config.md`);
  const files = [join(ROOT, 'Dockerfile'), ...walk(join(ROOT, 'deploy')), ...walk(join(ROOT, 'charts'))].filter((f) =>
    /(Dockerfile|\.ya?ml|\.tpl|\.mjs)$/.test(f),
  );
  const used = new Map<string, string>();
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bTASQUES_SERVER_[A-Z0-9_]*[A-Z0-9]\b/g)) {
      used.set(m[0], relative(ROOT, file));
    }
  }
  assert.ok(used.size >= 8, `only ${used.size} variables found in the deployment files`);
  assert.deepEqual(
    [...used].filter(([name]) => !known.has(name)).map(([name, file]) => `${name} in ${file}`),
    [],
  );
});

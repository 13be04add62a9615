import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderConfigReference } from './reference.js';

test('docs/reference/config.md matches the config schema (run `npm run gen:docs` if not)', () => {
  const committed = readFileSync(new URL('../../docs/reference/config.md', import.meta.url), 'utf8');
  assert.equal(committed, renderConfigReference(), 'docs/reference/config.md is stale: run `npm run gen:docs`');
});

test('every configuration key is documented with a description', () => {
  const undocumented = renderConfigReference()
    .split('\n')
    .filter((l) => l.startsWith('| `tasques.server.') && l.trimEnd().endsWith('|  |'));
  assert.deepEqual(undocumented, []);
});

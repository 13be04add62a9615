import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from './index.js';
import { renderErrorReference } from './reference.js';

test('docs/reference/errors.md matches the error registry (run `npm run gen:docs` if not)', () => {
  const committed = readFileSync(new URL('../../docs/reference/errors.md', import.meta.url), 'utf8');
  assert.equal(committed, renderErrorReference(), 'docs/reference/errors.md is stale: run `npm run gen:docs`');
});

test('every code is TQ_ERR_ plus its key, with a 4xx or 5xx status and a meaning', () => {
  for (const [kind, entry] of Object.entries(ERROR_CODES)) {
    assert.equal(entry.code, `TQ_ERR_${kind}`);
    assert.ok(entry.status >= 400 && entry.status < 600, kind);
    assert.ok(entry.meaning.length > 10, kind);
  }
});

// The committed openapi.json must be what the route schemas generate (design §1: drift is checked in CI).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { generateOpenApiDocument } from '../../src/server/openapi.js';
import { LIMIT } from '../helpers/http.js';

test('the committed openapi.json matches the route schemas', LIMIT, async () => {
  const committed: unknown = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));
  const generated = await generateOpenApiDocument();
  assert.deepEqual(
    committed,
    JSON.parse(JSON.stringify(generated)),
    'openapi.json is out of date with the route schemas: run npm run gen:openapi and commit the result',
  );
});

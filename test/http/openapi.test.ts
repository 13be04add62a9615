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

test('the document states the rules: optional basic auth or bearer token on every task, recurring and operator route; queue names, worker ids, durations', LIMIT, async () => {
  const doc = JSON.parse(JSON.stringify(await generateOpenApiDocument())) as {
    paths: Record<string, Record<string, { security?: unknown; parameters?: { name: string; in: string; schema: Record<string, unknown> }[] }>>;
    components: { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> };
  };
  let operations = 0;
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      operations++;
      assert.deepEqual(operation.security, [{ basicAuth: [] }, { bearerAuth: [] }, {}], `${method} ${path} declares the optional auth`);
      for (const p of operation.parameters ?? []) {
        if (p.in === 'path' && p.name === 'queue') assert.equal(typeof p.schema.pattern, 'string', `${method} ${path} queue pattern`);
        if (p.name === 'x-tasques-worker-id') assert.equal(p.schema.minLength, 1, `${method} ${path} worker id`);
      }
    }
  }
  assert.ok(operations >= 20, `${operations} operations`);
  const newTask = doc.components.schemas['task.NewTask']?.properties ?? {};
  assert.equal(typeof newTask.queue?.pattern, 'string');
  assert.equal(newTask.processing_timeout?.format, 'go-duration');
  assert.equal(typeof newTask.processing_timeout?.pattern, 'string');
  assert.equal(typeof newTask.processing_timeout?.maxLength, 'number');
  const claimQueues = doc.components.schemas['task.Claim']?.properties.queues as { items: { pattern?: string }; maxItems?: number };
  assert.equal(typeof claimQueues.items.pattern, 'string');
  assert.equal(claimQueues.maxItems, 1000);
});

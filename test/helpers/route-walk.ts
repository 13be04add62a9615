/**
 * Issue 12 item 5: every route with an id or queue in its path takes the longest id, recurring id and
 * queue name that create accepts. Walks every documented parameterised route of a server (any store),
 * in an order where each call has something to act on, and checks that each reached its handler.
 */
import assert from 'node:assert/strict';
import { MAX_ID_LENGTH } from '../../src/domain/identifiers.js';
import { MAX_QUEUE_NAME_BYTES } from '../../src/domain/queue-name.js';
import { assertError, claim, createTask, type TestServer, worker } from './http.js';

export async function walkEveryParamRouteWithLongestValues(ts: TestServer): Promise<void> {
  // Astral characters: the longest id in UTF-16 units (and 4 UTF-8 bytes, 12 URL characters each).
  const id = '\u{1F600}'.repeat(MAX_ID_LENGTH);
  const queue = 'é'.repeat(MAX_QUEUE_NAME_BYTES / 2);
  const recurringId = `r${'\u{1F600}'.repeat(MAX_ID_LENGTH - 1)}`;
  await createTask(ts, { queue, kind: 'k', id });
  const rt = await ts.request({
    method: 'POST',
    url: '/recurring_tasques',
    payload: { id: recurringId, schedule_expression: '@hourly', task_definition: { queue, kind: 'k' } },
  });
  assert.equal(rt.status, 201, rt.body);
  const tooLong = await ts.request({ method: 'POST', url: '/tasques', payload: { queue: 'q', kind: 'k', id: `${id}x` } });
  assertError(tooLong, 400, /id/);

  // Every documented route with a path parameter, in an order where each call has something to act on.
  const paths = (ts.server.app.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
  const calls: [string, string][] = [];
  for (const [path, methods] of Object.entries(paths)) {
    if (!path.includes('{')) continue;
    for (const method of Object.keys(methods)) calls.push([method.toUpperCase(), path]);
  }
  const order = (c: [string, string]) =>
    c[0] === 'DELETE' && c[1].startsWith('/recurring') ? 9 : c[1].includes('claims') ? 1 : c[1].includes('/done/') ? 8 : c[1].includes('/failed/') ? 7 : 0;
  calls.sort((a, b) => order(a) - order(b));
  assert.ok(calls.length >= 14, `only ${calls.length} parameterised routes`);
  // Claimed by w, so that report and done act on a claimed task.
  await claim(ts, 'w', { queues: [queue], block_for: '1ms' });
  for (const [method, path] of calls) {
    const url = path
      .replace('{queue}', encodeURIComponent(queue))
      .replace('{id}', encodeURIComponent(path.startsWith('/recurring') ? recurringId : id));
    const payload = ['PUT', 'POST'].includes(method) ? {} : undefined;
    const res = await ts.request({ method: method as 'GET', url, headers: worker('w'), ...(payload ? { payload } : {}) });
    assert.ok(res.status < 500, `${method} ${path}: ${res.status} ${res.body}`);
    // The handler ran on the task: a 409 (retry of a live task) or the archive's 404 are its answers, not
    // the router's or the validator's.
    if (res.status >= 400) {
      assert.ok(!['TQ_ERR_BAD_REQUEST', 'TQ_ERR_ROUTE_NOT_FOUND'].includes(res.json?.code), `${method} ${path}: ${res.status} ${res.body.slice(0, 200)}`);
    }
    assert.doesNotMatch(res.body, /max param length/i, `${method} ${path}`);
  }
  const gone = await ts.request({ method: 'GET', url: `/recurring_tasques/${encodeURIComponent(recurringId)}` });
  assertError(gone, 404);
}

// The batch routes (additive to v1): POST /tasques/batch and PUT /tasques/done.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertError,
  assertTaskShape,
  claim,
  createClaimed,
  LIMIT,
  startTestServer,
  storedRows,
  worker,
} from '../helpers/http.js';

test('POST /tasques/batch creates every task, answering each item as the single create would', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const res = await ts.request({
    method: 'POST',
    url: '/tasques/batch',
    payload: {
      tasks: [
        { queue: 'q', kind: 'a', id: 'one', args: { n: 1 } },
        { queue: 'q', kind: 'b', id: 'one' },
        { queue: 'other', kind: 'c', priority: 7, processing_timeout: '90s' },
      ],
    },
  });
  assert.equal(res.status, 200, res.body);
  const results = res.json.results as any[];
  assert.deepEqual(results.map((r) => r.status), [201, 409, 201]);
  assertTaskShape(results[0].task);
  assert.equal(results[0].task.id, 'one');
  assert.deepEqual(results[0].task.args, { n: 1 });
  assert.equal(results[0].task.state, 'queued');
  assert.equal(results[1].task, undefined);
  assert.deepEqual(results[1].error, { message: 'Task with Id [one] already exists ', code: 'TQ_ERR_TASK_ALREADY_EXISTS' });
  assert.equal(results[2].task.queue, 'other');
  assert.equal(results[2].task.priority, 7);
  assert.equal(results[2].task.processing_timeout, '1m30s');
  assert.match(results[2].task.id, /^[0-9a-f]{32}$/);
  assert.equal(storedRows(ts, 'tasks'), 2);
  const get = await ts.request({ method: 'GET', url: `/tasques/other/${results[2].task.id}` });
  assert.equal(get.status, 200);
});

test('a malformed item rejects the whole batch with 400 naming it, and nothing is stored', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const cases: [unknown, RegExp, string][] = [
    [[{ queue: 'q', kind: 'k' }, { queue: 'Bad', kind: 'k' }], /^tasks\[1\]: Illegal Queue name/, 'TQ_ERR_INVALID_QUEUE_NAME'],
    [[{ queue: 'q', kind: 'k', processing_timeout: '0s' }], /^tasks\[0\]: processing_timeout: must be positive$/, 'TQ_ERR_BAD_REQUEST'],
    [[{ queue: 'q', kind: 'k' }, { queue: 'q' }], /tasks\/1 must have required property 'kind'/, 'TQ_ERR_BAD_REQUEST'],
    [[{ queue: 'q', kind: 'k', processing_timeout: 5000 }], /Go duration/, 'TQ_ERR_BAD_REQUEST'],
    [[], /fewer than 1 items/, 'TQ_ERR_BAD_REQUEST'],
    [Array.from({ length: 1001 }, () => ({ queue: 'q', kind: 'k' })), /more than 1000 items/, 'TQ_ERR_BAD_REQUEST'],
  ];
  for (const [tasks, message, code] of cases) {
    const res = await ts.request({ method: 'POST', url: '/tasques/batch', payload: { tasks } });
    assertError(res, 400, message, code);
  }
  assert.equal(storedRows(ts, 'tasks'), 0);
});

test('PUT /tasques/done marks each claimed task done, answering each item as the single done would', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const mine = await createClaimed(ts, 'q', 'w1');
  const theirs = await createClaimed(ts, 'q', 'w2');
  const res = await ts.request({
    method: 'PUT',
    url: '/tasques/done',
    headers: worker('w1'),
    payload: {
      tasks: [
        { queue: 'q', id: mine.id, data: { ok: true } },
        { queue: 'q', id: theirs.id },
        { queue: 'q', id: 'missing' },
        { queue: 'q', id: mine.id },
      ],
    },
  });
  assert.equal(res.status, 200, res.body);
  const results = res.json.results as any[];
  assert.deepEqual(results.map((r) => r.status), [200, 403, 404, 400]);
  assert.equal(results[0].task.state, 'done');
  assert.deepEqual(results[0].task.last_claimed.result.success, { ok: true });
  assert.equal(results[1].error.code, 'TQ_ERR_TASK_NOT_OWNED_BY_WORKER');
  assert.equal(results[2].error.code, 'TQ_ERR_TASK_NOT_FOUND');
  assert.equal(results[3].error.code, 'TQ_ERR_TASK_NOT_CLAIMED');
  const other = await ts.request({ method: 'GET', url: `/tasques/q/${theirs.id}` });
  assert.equal(other.json.state, 'claimed', "another worker's task is left alone");
});

test('PUT /tasques/done needs the worker id and valid queue names before touching anything', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const task = await createClaimed(ts, 'q', 'w1');
  const noHeader = await ts.request({ method: 'PUT', url: '/tasques/done', payload: { tasks: [{ queue: 'q', id: task.id }] } });
  assertError(noHeader, 400, 'Worker Id header [X-TASQUES-WORKER-ID] not sent');
  const badQueue = await ts.request({
    method: 'PUT',
    url: '/tasques/done',
    headers: worker('w1'),
    payload: { tasks: [{ queue: 'q', id: task.id }, { queue: '_q', id: 'x' }] },
  });
  assertError(badQueue, 400, /^tasks\[1\]: Illegal Queue name/);
  const after = await ts.request({ method: 'GET', url: `/tasques/q/${task.id}` });
  assert.equal(after.json.state, 'claimed');
  assert.deepEqual(await claim(ts, 'w3', { queues: ['q'], block_for: '0s' }), []);
});

// Claim answers and listing pages bounded in bytes (tasks.limits.max_answer_bytes, docs/limits.md): a
// claim hands out fewer tasks once the budget is reached and gives the others back unclaimed; a page ends
// early with a next_cursor that resumes exactly there; a single task larger than the budget goes alone.
// A real server over a real SQLite file, through Fastify's inject.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertJsonContentType, assertTaskShape, claim, createTask, LIMIT, startTestServer } from '../helpers/http.js';

const BUDGET = 20_000;
const overrides = { tasks: { limits: { max_answer_bytes: BUDGET } } };

/** Six tasks of ~5.6 kB answered (three fit in the budget, four do not), in claim order t0..t5. */
async function seedBig(ts: Awaited<ReturnType<typeof startTestServer>>, text: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    await createTask(ts, { queue: 'big', id: `t${i}`, kind: 'k', priority: 10 - i, args: { text } });
    ids.push(`t${i}`);
  }
  return ids;
}

async function stored(ts: Awaited<ReturnType<typeof startTestServer>>, id: string) {
  return (await ts.request({ method: 'GET', url: `/tasques/big/${id}` })).json;
}

test('a claim stops at max_answer_bytes; the tasks left out stay queued, attempt not counted', LIMIT, async (t) => {
  const ts = await startTestServer(t, overrides);
  const ids = await seedBig(ts, 'x'.repeat(5_000));
  const res = await ts.request({
    method: 'POST',
    url: '/tasques/claims',
    headers: { 'x-tasques-worker-id': 'w' },
    payload: { queues: ['big'], amount: 10, block_for: '0s' },
  });
  assert.equal(res.status, 200, res.body);
  assertJsonContentType(res);
  res.json.forEach(assertTaskShape);
  assert.deepEqual(res.json.map((x: { id: string }) => x.id), ids.slice(0, 3), 'the first three in claim order');
  assert.ok(Buffer.byteLength(res.body) <= BUDGET + 2, `answer of ${Buffer.byteLength(res.body)} bytes`);
  for (const id of ids.slice(3)) {
    const task = await stored(ts, id);
    assert.equal(task.state, 'queued');
    assert.equal(task.attempted, 0);
  }
  assert.deepEqual((await claim(ts, 'w', { queues: ['big'], amount: 10, block_for: '0s' })).map((x) => x.id), ids.slice(3));
});

test('tasks the store measured under the budget but the answer over it are given back (non-ASCII args)', LIMIT, async (t) => {
  const ts = await startTestServer(t, overrides);
  // 5 000 characters, 10 000 bytes of UTF-8 each: one task per answer.
  const ids = await seedBig(ts, 'é'.repeat(5_000));
  const first = await claim(ts, 'w', { queues: ['big'], amount: 10, block_for: '0s' });
  assert.deepEqual(first.map((x) => x.id), ids.slice(0, 1));
  for (const id of ids.slice(1)) {
    const task = await stored(ts, id);
    assert.equal(task.state, 'queued', `${id} was given back`);
    assert.equal(task.attempted, 0, `${id}: no attempt counted`);
  }
});

test('a single task larger than max_answer_bytes is handed out alone', LIMIT, async (t) => {
  const ts = await startTestServer(t, overrides);
  await createTask(ts, { queue: 'big', id: 'huge', kind: 'k', priority: 5, args: { text: 'x'.repeat(30_000) } });
  await createTask(ts, { queue: 'big', id: 'small', kind: 'k', priority: 1 });
  assert.deepEqual((await claim(ts, 'w', { queues: ['big'], amount: 10, block_for: '0s' })).map((x) => x.id), ['huge']);
  assert.deepEqual((await claim(ts, 'w', { queues: ['big'], amount: 10, block_for: '0s' })).map((x) => x.id), ['small']);
  const page = await ts.request({ method: 'GET', url: '/tasques?queue=big&limit=10' });
  assert.equal(page.status, 200);
  assert.equal(page.json.tasks.length, 1, 'a page holds the huge task alone');
});

test('GET /tasques ends a page at max_answer_bytes with a next_cursor that resumes exactly there', LIMIT, async (t) => {
  const ts = await startTestServer(t, overrides);
  const ids = await seedBig(ts, 'x'.repeat(5_000));
  const listed: string[] = [];
  let url = '/tasques?queue=big&limit=1000';
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 10, 'paging does not end');
    const res = await ts.request({ method: 'GET', url });
    assert.equal(res.status, 200, res.body);
    assertJsonContentType(res);
    assert.ok(Buffer.byteLength(res.body) <= BUDGET + 200, `page of ${Buffer.byteLength(res.body)} bytes`);
    assert.ok(res.json.tasks.length >= 1 && res.json.tasks.length <= 3, `page of ${res.json.tasks.length} tasks`);
    res.json.tasks.forEach(assertTaskShape);
    listed.push(...res.json.tasks.map((x: { id: string }) => x.id));
    if (res.json.next_cursor === undefined) break;
    url = `/tasques?queue=big&limit=1000&cursor=${encodeURIComponent(res.json.next_cursor)}`;
  }
  // Same createdAt (one clock tick at most apart) → listing order is by created_at desc, then id.
  assert.deepEqual([...listed].sort(), [...ids].sort(), 'every task exactly once');
  assert.equal(new Set(listed).size, ids.length);
});

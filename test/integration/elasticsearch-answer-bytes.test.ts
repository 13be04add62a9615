/**
 * The Elasticsearch store takes a claim's and a listing page's byte budget (`maxBytes`, docs/limits.md):
 * a claim of many large tasks claims only what fits (the rest stay queued, their attempts not counted),
 * and neither reads the documents it does not hand out: it searches their sizes, then reads the ones it
 * chose. Measured here by the bytes the store's HTTP client received from the real engine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EsHttp, type EsRequest, type EsResponse } from '../../src/store/elasticsearch/http.js';
import type { NewTaskRecord, Task } from '../../src/types/index.js';
import { TestElasticsearchStore, esSkip, esTestUrl, uniquePrefix } from '../helpers/elasticsearch.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const TASKS = 40;
const ARGS_BYTES = 100_000;
const BUDGET = 350_000; // three tasks of ~100 KB fit, four do not

/** An EsHttp that counts the bytes of the answers it received and of the bodies it sent. */
class CountingHttp extends EsHttp {
  received = 0;
  sent = 0;
  override async request<T = unknown>(req: EsRequest): Promise<EsResponse<T>> {
    this.sent += typeof req.body === 'string' ? req.body.length : JSON.stringify(req.body ?? '').length;
    const res = await super.request<T>(req);
    this.received += JSON.stringify(res.body ?? '').length;
    return res;
  }
}

const newTask = (id: string): NewTaskRecord => ({
  queue: 'big',
  id,
  kind: 'k',
  state: 'queued',
  priority: 0,
  runAt: T0,
  retryTimes: 0,
  attempted: 0,
  processingTimeoutNs: 60e9,
  lastEnqueuedAt: T0,
  createdAt: T0 + Number(id.slice(1)),
  modifiedAt: T0,
  args: { blob: 'x'.repeat(ARGS_BYTES) },
});

describe('elasticsearch store: byte budgets of claims and listing pages', { skip: esSkip() }, () => {
  let http: CountingHttp;
  let store: TestElasticsearchStore;

  before(async () => {
    http = new CountingHttp({ addresses: [esTestUrl()!] });
    store = new TestElasticsearchStore({ http, indexPrefix: uniquePrefix('bytes'), autoSetup: true });
    await store.setup();
    await store.taskCreateMany({ tasks: Array.from({ length: TASKS }, (_, i) => newTask(`t${String(i).padStart(2, '0')}`)) });
  });
  after(async () => {
    await store?.close();
    await http?.close();
  });

  it('a claim takes what fits its budget, reads little more, and leaves the rest queued', async () => {
    http.received = 0;
    const claimed = await store.taskClaim({ queues: ['big'], amount: TASKS, workerId: 'w', now: T0 + 1000, maxBytes: BUDGET });
    assert.equal(claimed.length, 3, 'the tasks whose answer fits 350 000 bytes');
    for (const t of claimed) assert.equal((t.args as { blob: string }).blob.length, ARGS_BYTES, 'handed out whole');
    assert.ok(http.received < 6 * ARGS_BYTES, `received ${http.received} bytes for 3 tasks (all ${TASKS} are ${TASKS * ARGS_BYTES})`);
    const queued = await store.taskCount({ queue: 'big', states: ['queued'], max: TASKS });
    assert.equal(queued, TASKS - 3);
    const page = await store.taskList({ queue: 'big', states: ['queued'], limit: TASKS });
    assert.ok(page.tasks.every((t) => t.attempted === 0), 'the tasks left are not charged an attempt');
  });

  it('a single task larger than the budget is still claimed alone', async () => {
    const [one, ...more] = await store.taskClaim({ queues: ['big'], amount: 5, workerId: 'w', now: T0 + 1000, maxBytes: 10 });
    assert.ok(one);
    assert.equal(more.length, 0);
  });

  it('a listing page ends at its budget with a cursor, and the pages cover every task once', async () => {
    const seen: Task[] = [];
    let after: { createdAt: number; queue: string; id: string } | undefined;
    for (let pages = 0; pages < TASKS; pages++) {
      http.received = 0;
      const page = await store.taskList({ queue: 'big', limit: TASKS, maxBytes: BUDGET, after });
      assert.ok(page.tasks.length <= 3, `a page of ${page.tasks.length} tasks is over the budget`);
      assert.ok(http.received < 6 * ARGS_BYTES, `received ${http.received} bytes for one page`);
      seen.push(...page.tasks);
      if (!page.next) break;
      after = page.next;
    }
    const ids = seen.map((t) => t.id);
    assert.equal(new Set(ids).size, ids.length, 'a task was listed twice');
    assert.equal(ids.length, TASKS);
    assert.deepEqual(ids, [...ids].sort().reverse(), 'newest first, as without a budget');
  });

  it('a claim of a large task sends the engine its changed fields only; the stored args stay, stale fields go', async () => {
    // A task that failed once: its last claim carries a result, which a new claim must not keep.
    const failed: NewTaskRecord = {
      ...newTask('f00'),
      queue: 'big-failed',
      state: 'failed',
      retryTimes: 3,
      attempted: 1,
      lastClaimed: { workerId: 'w0', claimedAt: T0, timesOutAt: T0 + 60_000, result: { at: T0 + 10, failure: { why: 'boom' } } },
    };
    await store.taskCreateMany({ tasks: [failed] });
    http.sent = 0;
    const [claimed] = await store.taskClaim({ queues: ['big-failed'], amount: 1, workerId: 'w1', now: T0 + 1000 });
    assert.ok(claimed);
    assert.ok(http.sent < ARGS_BYTES / 10, `sent ${http.sent} bytes to claim one task of ${ARGS_BYTES} bytes of args`);
    assert.equal((claimed.args as { blob: string }).blob.length, ARGS_BYTES, 'handed out whole');
    const stored = await store.taskGet({ queue: 'big-failed', id: 'f00' });
    assert.ok(stored);
    assert.equal(stored.state, 'claimed');
    assert.equal(stored.attempted, 2);
    assert.equal(stored.lastClaimed?.workerId, 'w1');
    assert.equal(stored.lastClaimed?.result, undefined, 'the earlier attempt\'s result is gone');
    assert.equal((stored.args as { blob: string }).blob.length, ARGS_BYTES, 'the args are as created');
    assert.deepEqual(stored.version, claimed.version);
  });
});

/**
 * Task listing (operator API `GET /tasques`, docs/design/operator-api.md): `taskList` filters (ANDed),
 * its order (createdAt descending, then queue ascending, then id ascending: ties on createdAt are common)
 * and keyset paging with `next`. Drives the store directly with hand-made records, so every createdAt,
 * state and finish time is exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store, TaskListParams } from '../store/store.js';
import type { NewTaskRecord, Task, TaskListCursor, TaskState } from '../types/index.js';
import { HOUR, SECOND, T0, finishedAt, taskRecord, withHarness } from './helpers.js';
import type { ConformanceOptions } from './index.js';

/** The listing order of the contract, as a comparator (ids and queues compare by code unit: ASCII here). */
function listingOrder(a: Pick<Task, 'createdAt' | 'queue' | 'id'>, b: Pick<Task, 'createdAt' | 'queue' | 'id'>): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  if (a.queue !== b.queue) return a.queue < b.queue ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

const key = (t: Pick<Task, 'queue' | 'id'>): string => `${t.queue}/${t.id}`;

async function createAll(store: Store, records: NewTaskRecord[]): Promise<void> {
  for (const task of records) await store.taskCreate({ task });
}

/** Every page of a listing, following `next`; fails rather than loop forever. */
async function allPages(store: Store, params: Omit<TaskListParams, 'after'>, maxPages = 200): Promise<Task[][]> {
  const pages: Task[][] = [];
  let after: TaskListCursor | undefined;
  for (;;) {
    const page = await store.taskList({ ...params, after });
    assert.ok(page.tasks.length <= params.limit, `a page of limit ${params.limit} held ${page.tasks.length} tasks`);
    pages.push(page.tasks);
    if (page.next === undefined) return pages;
    assert.ok(pages.length < maxPages, 'paging does not end');
    after = page.next;
  }
}

/** One listing of everything matching, as `queue/id` keys in order (a single page big enough for all). */
async function listKeys(store: Store, params: Omit<TaskListParams, 'limit' | 'after'>): Promise<string[]> {
  const page = await store.taskList({ ...params, limit: 1000 });
  assert.equal(page.next, undefined, 'a page that is not full has no next');
  return page.tasks.map(key);
}

const finished = (state: 'done' | 'dead', at: number) => ({ state, lastClaimed: finishedAt(at) }) as const;

/**
 * A mixed population: three queues, every state, two recurring tasks, kinds and ids sharing prefixes,
 * and ties on createdAt within and across queues.
 */
function fixture(): NewTaskRecord[] {
  const s = (n: number) => T0 + n * SECOND;
  return [
    taskRecord({ queue: 'emails', id: 'e1', kind: 'send-welcome', createdAt: s(1) }),
    taskRecord({
      queue: 'emails',
      id: 'e2',
      kind: 'send-receipt',
      createdAt: s(2),
      state: 'claimed',
      attempted: 1,
      lastClaimed: { workerId: 'w', claimedAt: s(2), timesOutAt: s(2) + HOUR },
    }),
    taskRecord({ queue: 'emails', id: 'e3', kind: 'send-welcome', createdAt: s(3), recurringTaskId: 'nightly', attempted: 1, ...finished('done', s(4)) }),
    taskRecord({ queue: 'emails', id: 'e4', kind: 'report', createdAt: s(3), attempted: 1, ...finished('dead', s(4)) }),
    taskRecord({ queue: 'reports', id: 'r1', kind: 'report', createdAt: s(1), state: 'failed', attempted: 1, runAt: s(9) }),
    taskRecord({ queue: 'reports', id: 'r2', kind: 'report', createdAt: s(4), recurringTaskId: 'nightly' }),
    taskRecord({ queue: 'reports', id: 'r3', kind: 'report', createdAt: s(4), recurringTaskId: 'hourly' }),
    taskRecord({ queue: 'reports', id: 'send-x', kind: 'cleanup', createdAt: s(5) }),
    taskRecord({ queue: 'other', id: 'o1', kind: 'Send-upper', createdAt: s(2) }),
    taskRecord({ queue: 'other', id: 'sendoff', kind: 'cleanup', createdAt: s(3), attempted: 1, ...finished('done', s(5)) }),
    taskRecord({ queue: 'other', id: 'a_b', kind: 'x%y', createdAt: s(6) }),
    taskRecord({ queue: 'other', id: 'a*c', kind: 'x.z', createdAt: s(6) }),
  ];
}

/** The reference: what a listing with `filter` must return, in order. */
function expectedKeys(records: NewTaskRecord[], filter: (t: NewTaskRecord) => boolean): string[] {
  return records.filter(filter).sort(listingOrder).map(key);
}

export function taskListTests(options: ConformanceOptions): void {
  describe(`${options.name}: task list`, () => {
    it(
      'lists nothing, with no next, on an empty store',
      withHarness(options, async ({ store }) => {
        assert.deepEqual(await store.taskList({ limit: 10 }), { tasks: [] });
        assert.deepEqual((await store.taskList({ limit: 10, queue: 'q', states: ['queued'], prefix: 'x' })).tasks, []);
      }),
    );

    it(
      'returns the stored tasks unchanged, newest first, then by queue, then by id (ties on createdAt)',
      withHarness(options, async ({ store }) => {
        // Inserted out of order on purpose; createdAt ties within and across queues.
        const records = [
          taskRecord({ queue: 'b', id: 'x', createdAt: T0 + 2 }),
          taskRecord({ queue: 'a', id: 'z', createdAt: T0 + 2 }),
          taskRecord({ queue: 'a', id: 'a', createdAt: T0 + 1 }),
          taskRecord({ queue: 'c', id: 'c', createdAt: T0 + 3 }),
          taskRecord({ queue: 'a', id: 'y', createdAt: T0 + 2 }),
          taskRecord({ queue: 'a', id: 'Y', createdAt: T0 + 2 }), // 'Y' < 'y' < 'z' (code point order)
          taskRecord({ queue: 'A', id: 'q', createdAt: T0 + 2 }), // 'A' < 'a'
          taskRecord({ queue: 'b', id: 'old', createdAt: T0 - HOUR }),
        ];
        const created = new Map<string, Task>();
        for (const task of records) created.set(key(task), await store.taskCreate({ task }));
        const page = await store.taskList({ limit: 100 });
        assert.deepEqual(page.tasks.map(key), ['c/c', 'A/q', 'a/Y', 'a/y', 'a/z', 'b/x', 'a/a', 'b/old']);
        assert.equal(page.next, undefined);
        for (const task of page.tasks) {
          assert.deepEqual(task.version, created.get(key(task))!.version);
          assert.deepEqual(JSON.parse(JSON.stringify(task)), JSON.parse(JSON.stringify(created.get(key(task)))));
        }
      }),
    );

    it(
      'filters by each criterion alone',
      withHarness(options, async ({ store }) => {
        const records = fixture();
        await createAll(store, records);
        const check = async (params: Omit<TaskListParams, 'limit' | 'after'>, filter: (t: NewTaskRecord) => boolean, label: string) => {
          const expected = expectedKeys(records, filter);
          assert.ok(expected.length > 0 && expected.length < records.length, `fixture exercises ${label}`);
          assert.deepEqual(await listKeys(store, params), expected, label);
        };
        assert.deepEqual(await listKeys(store, {}), expectedKeys(records, () => true), 'no filter lists everything');
        await check({ queue: 'emails' }, (t) => t.queue === 'emails', 'queue');
        assert.deepEqual(await listKeys(store, { queue: 'nope' }), [], 'unknown queue');
        assert.deepEqual(await listKeys(store, { queue: 'email' }), [], 'queue is an exact match, not a prefix');
        await check({ states: ['queued'] }, (t) => t.state === 'queued', 'one state');
        await check({ states: ['dead', 'failed'] }, (t) => t.state === 'dead' || t.state === 'failed', 'two states');
        await check(
          { states: ['done', 'claimed', 'dead'] },
          (t) => ['done', 'claimed', 'dead'].includes(t.state),
          'three states',
        );
        assert.deepEqual(await listKeys(store, { states: [] }), expectedKeys(records, () => true), 'no states = all');
        await check({ kind: 'report' }, (t) => t.kind === 'report', 'kind');
        assert.deepEqual(await listKeys(store, { kind: 'send' }), [], 'kind is an exact match, not a prefix');
        await check({ recurringTaskId: 'nightly' }, (t) => t.recurringTaskId === 'nightly', 'recurringTaskId');
        await check({ createdFrom: T0 + 3 * SECOND }, (t) => t.createdAt >= T0 + 3 * SECOND, 'createdFrom (inclusive)');
        await check({ createdTo: T0 + 3 * SECOND }, (t) => t.createdAt < T0 + 3 * SECOND, 'createdTo (exclusive)');
        await check(
          { createdFrom: T0 + 2 * SECOND, createdTo: T0 + 4 * SECOND },
          (t) => t.createdAt >= T0 + 2 * SECOND && t.createdAt < T0 + 4 * SECOND,
          'createdFrom and createdTo',
        );
        assert.deepEqual(
          await listKeys(store, { createdFrom: T0 + 3 * SECOND, createdTo: T0 + 3 * SECOND }),
          [],
          'an empty time range',
        );
        // Scheduled: waiting (queued or failed) with runAt after `now`; the rest otherwise.
        const waitingAfter = (now: number) => (t: NewTaskRecord) => (t.state === 'queued' || t.state === 'failed') && t.runAt > now;
        for (const now of [T0 + 5 * SECOND, T0 + 6 * SECOND]) {
          await check({ scheduled: { now, scheduled: true } }, waitingAfter(now), `scheduled at ${now - T0} ms`);
          await check({ scheduled: { now, scheduled: false } }, (t) => !waitingAfter(now)(t), `not scheduled at ${now - T0} ms`);
        }
        // Prefix: on the id or on the kind, case-sensitive.
        assert.deepEqual(
          await listKeys(store, { prefix: 'send' }),
          ['reports/send-x', 'emails/e3', 'other/sendoff', 'emails/e2', 'emails/e1'],
          'prefix on the kind (e1, e2, e3) and on the id (send-x, sendoff); not Send-upper',
        );
        assert.deepEqual(await listKeys(store, { prefix: 'send-w' }), ['emails/e3', 'emails/e1'], 'prefix on the kind');
        assert.deepEqual(await listKeys(store, { prefix: 'r' }), ['reports/r2', 'reports/r3', 'emails/e4', 'reports/r1'], 'prefix on id or kind');
        assert.deepEqual(await listKeys(store, { prefix: 'sendo' }), ['other/sendoff'], 'prefix on the id');
        assert.deepEqual(await listKeys(store, { prefix: 'e3' }), ['emails/e3'], 'a whole id is a prefix of itself');
        assert.deepEqual(await listKeys(store, { prefix: 'Send' }), ['other/o1'], 'prefix is case-sensitive');
        assert.deepEqual(await listKeys(store, { prefix: 'end' }), [], 'prefix matches the start only');
      }),
    );

    it(
      'treats the prefix literally: no wildcard characters',
      withHarness(options, async ({ store }) => {
        await createAll(store, [
          taskRecord({ queue: 'q', id: 'a_b', kind: 'k1', createdAt: T0 + 5 }),
          taskRecord({ queue: 'q', id: 'axb', kind: 'k2', createdAt: T0 + 4 }),
          taskRecord({ queue: 'q', id: 'a%', kind: 'k3', createdAt: T0 + 3 }),
          taskRecord({ queue: 'q', id: 'abc', kind: 'k4', createdAt: T0 + 2 }),
          taskRecord({ queue: 'q', id: 'a*c', kind: 'k5', createdAt: T0 + 1 }),
          taskRecord({ queue: 'q', id: 'a?c', kind: 'k6', createdAt: T0 }),
          taskRecord({ queue: 'q', id: 'A_B', kind: 'k7', createdAt: T0 - 1 }),
        ]);
        assert.deepEqual(await listKeys(store, { prefix: 'a_' }), ['q/a_b']);
        assert.deepEqual(await listKeys(store, { prefix: 'a%' }), ['q/a%']);
        assert.deepEqual(await listKeys(store, { prefix: '%' }), []);
        assert.deepEqual(await listKeys(store, { prefix: 'a*' }), ['q/a*c']);
        assert.deepEqual(await listKeys(store, { prefix: 'a?' }), ['q/a?c']);
        assert.deepEqual(await listKeys(store, { prefix: 'A' }), ['q/A_B']);
        assert.deepEqual(await listKeys(store, { prefix: 'a' }), ['q/a_b', 'q/axb', 'q/a%', 'q/abc', 'q/a*c', 'q/a?c']);
      }),
    );

    it(
      'ANDs the filters together',
      withHarness(options, async ({ store }) => {
        const records = fixture();
        await createAll(store, records);
        assert.deepEqual(
          await listKeys(store, {
            queue: 'emails',
            states: ['queued', 'done'],
            prefix: 'send-w',
            createdFrom: T0 + SECOND,
            createdTo: T0 + 4 * SECOND,
          }),
          ['emails/e3', 'emails/e1'],
        );
        assert.deepEqual(await listKeys(store, { kind: 'report', recurringTaskId: 'nightly' }), ['reports/r2']);
        assert.deepEqual(await listKeys(store, { queue: 'emails', kind: 'report' }), ['emails/e4']);
        assert.deepEqual(await listKeys(store, { queue: 'emails', recurringTaskId: 'hourly' }), []);
        assert.deepEqual(await listKeys(store, { states: ['queued'], prefix: 'send' }), ['reports/send-x', 'emails/e1']);
        assert.deepEqual(await listKeys(store, { states: ['done'], createdTo: T0 + 3 * SECOND }), []);
        assert.deepEqual(
          await listKeys(store, { queue: 'reports', states: ['queued', 'failed'], kind: 'report', createdFrom: T0 + 2 * SECOND }),
          ['reports/r2', 'reports/r3'],
        );
        // A spread of combinations against the reference.
        const combos: [Omit<TaskListParams, 'limit' | 'after'>, (t: NewTaskRecord) => boolean][] = [
          [{ queue: 'other', prefix: 'a' }, (t) => t.queue === 'other' && (t.id.startsWith('a') || t.kind.startsWith('a'))],
          [{ states: ['done', 'dead'], kind: 'report' }, (t) => (t.state === 'done' || t.state === 'dead') && t.kind === 'report'],
          [{ createdFrom: T0 + 2 * SECOND, prefix: 'send' }, (t) => t.createdAt >= T0 + 2 * SECOND && (t.id.startsWith('send') || t.kind.startsWith('send'))],
          [{ queue: 'reports', createdTo: T0 + 5 * SECOND }, (t) => t.queue === 'reports' && t.createdAt < T0 + 5 * SECOND],
        ];
        for (const [params, filter] of combos) {
          assert.deepEqual(await listKeys(store, params), expectedKeys(records, filter), JSON.stringify(params));
        }
      }),
    );

    it(
      'pages through 25 tasks with limit 7: every task exactly once, in order; next is the last task of a full page',
      withHarness(options, async ({ store }) => {
        // Many createdAt ties (4 per instant), two queues interleaved, ids not in insertion order.
        const records: NewTaskRecord[] = [];
        for (let i = 0; i < 25; i++) {
          records.push(
            taskRecord({
              queue: i % 3 === 0 ? 'pa' : 'pb',
              id: `t${String((i * 7) % 25).padStart(2, '0')}`,
              createdAt: T0 + Math.floor(i / 4) * SECOND,
            }),
          );
        }
        await createAll(store, records);
        const expected = expectedKeys(records, () => true);
        assert.deepEqual(await listKeys(store, {}), expected, 'one big page');

        const pages: Task[][] = [];
        let after: TaskListCursor | undefined;
        for (let n = 0; n < 4; n++) {
          const page = await store.taskList({ limit: 7, after });
          pages.push(page.tasks);
          if (n < 3) {
            assert.equal(page.tasks.length, 7, `page ${n + 1} is full`);
            const last = page.tasks[6]!;
            assert.deepEqual(page.next, { createdAt: last.createdAt, queue: last.queue, id: last.id }, `next of page ${n + 1}`);
            after = page.next;
          } else {
            assert.equal(page.tasks.length, 4, 'the last page holds the rest');
            assert.equal(page.next, undefined, 'no next on the last, partial page');
          }
        }
        const listed = pages.flat().map(key);
        assert.deepEqual(listed, expected, 'pages concatenate to the full listing, in order');
        assert.equal(new Set(listed).size, 25, 'no task twice');
      }),
    );

    it(
      'with a byte budget (maxBytes): a page ended early has next after its last task, and paging lists every task once',
      withHarness(options, async ({ store }) => {
        const records: NewTaskRecord[] = [];
        for (let i = 0; i < 9; i++) {
          records.push(taskRecord({ queue: 'big', id: `b${i}`, createdAt: T0 + Math.floor(i / 2) * SECOND, args: { text: 'x'.repeat(3_000) } }));
        }
        await createAll(store, records);
        const expected = expectedKeys(records, () => true);
        // A budget under one task: at least one per page (a driver may honour the hint or not).
        const pages = await allPages(store, { limit: 100, maxBytes: 1 });
        for (const page of pages.slice(0, -1)) assert.ok(page.length >= 1, 'no empty page before the end');
        assert.deepEqual(pages.flat().map(key), expected, 'every task exactly once, in order');
        const [page] = pages;
        assert.ok(page);
        if (page.length < records.length) {
          const first = await store.taskList({ limit: 100, maxBytes: 1 });
          const last = first.tasks[first.tasks.length - 1]!;
          assert.deepEqual(first.next, { createdAt: last.createdAt, queue: last.queue, id: last.id }, 'next after the last task');
        }
      }),
    );

    it(
      'pages one task at a time across createdAt ties without skipping or repeating',
      withHarness(options, async ({ store }) => {
        const records: NewTaskRecord[] = [];
        for (const queue of ['b', 'a', 'c']) {
          for (const id of ['2', '10', '1', 'x']) {
            records.push(taskRecord({ queue, id, createdAt: T0 + (id === 'x' ? 1 : 0) }));
          }
        }
        await createAll(store, records);
        const pages = await allPages(store, { limit: 1 });
        // 12 full pages of one, then the empty page that ends the listing.
        assert.equal(pages.length, 13);
        assert.deepEqual(pages[12], []);
        assert.deepEqual(pages.flat().map(key), expectedKeys(records, () => true));
      }),
    );

    it(
      'sets next whenever a page is full: when the last page is exactly full, the following page is empty with no next',
      withHarness(options, async ({ store }) => {
        const records: NewTaskRecord[] = [];
        for (let i = 0; i < 14; i++) records.push(taskRecord({ queue: 'q', id: `t${String(i).padStart(2, '0')}`, createdAt: T0 + i }));
        await createAll(store, records);
        const first = await store.taskList({ limit: 7 });
        assert.equal(first.tasks.length, 7);
        assert.ok(first.next);
        const second = await store.taskList({ limit: 7, after: first.next });
        assert.equal(second.tasks.length, 7);
        assert.ok(second.next, 'a full page has a next, even if nothing follows');
        const third = await store.taskList({ limit: 7, after: second.next });
        assert.deepEqual(third, { tasks: [] });
        assert.deepEqual(
          [...first.tasks, ...second.tasks].map((t) => t.id),
          records.map((t) => t.id).reverse(),
        );
        // Exactly `limit` tasks in all: one full page, then an empty one.
        const exact = await store.taskList({ limit: 14 });
        assert.equal(exact.tasks.length, 14);
        assert.ok(exact.next);
        assert.deepEqual(await store.taskList({ limit: 14, after: exact.next }), { tasks: [] });
        // More room than tasks: no next.
        assert.equal((await store.taskList({ limit: 15 })).next, undefined);
      }),
    );

    it(
      'pages through a filtered listing, with the filters applied on every page',
      withHarness(options, async ({ store }) => {
        const records: NewTaskRecord[] = [];
        const states: TaskState[] = ['queued', 'failed', 'claimed'];
        for (let i = 0; i < 30; i++) {
          const state = states[i % 3]!;
          records.push(
            taskRecord({
              queue: i % 2 === 0 ? 'even' : 'odd',
              id: `f${String(i).padStart(2, '0')}`,
              kind: i % 5 === 0 ? 'special' : 'plain',
              createdAt: T0 + Math.floor(i / 3),
              state,
              ...(state === 'claimed'
                ? { attempted: 1, lastClaimed: { workerId: 'w', claimedAt: T0, timesOutAt: T0 + HOUR } }
                : {}),
            }),
          );
        }
        await createAll(store, records);
        const params = { states: ['queued', 'failed'] as TaskState[], kind: 'plain' };
        const filter = (t: NewTaskRecord) => (t.state === 'queued' || t.state === 'failed') && t.kind === 'plain';
        const pages = await allPages(store, { ...params, limit: 3 });
        const expected = expectedKeys(records, filter);
        assert.ok(expected.length > 6);
        assert.deepEqual(pages.flat().map(key), expected);
        const byQueue = await allPages(store, { queue: 'even', createdFrom: T0 + 2, limit: 2 });
        assert.deepEqual(
          byQueue.flat().map(key),
          expectedKeys(records, (t) => t.queue === 'even' && t.createdAt >= T0 + 2),
        );
      }),
    );

    it(
      'continues strictly after the cursor position, whether or not a task is there',
      withHarness(options, async ({ store }) => {
        const records = [
          taskRecord({ queue: 'a', id: 'a1', createdAt: T0 + 2 }),
          taskRecord({ queue: 'a', id: 'a3', createdAt: T0 + 2 }),
          taskRecord({ queue: 'b', id: 'b1', createdAt: T0 + 2 }),
          taskRecord({ queue: 'a', id: 'a0', createdAt: T0 + 1 }),
          taskRecord({ queue: 'c', id: 'c9', createdAt: T0 + 3 }),
        ];
        await createAll(store, records);
        const after = async (cursor: TaskListCursor) => (await store.taskList({ limit: 100, after: cursor })).tasks.map(key);
        // On a task: it is excluded.
        assert.deepEqual(await after({ createdAt: T0 + 2, queue: 'a', id: 'a1' }), ['a/a3', 'b/b1', 'a/a0']);
        // Between tasks (no such task): same createdAt, same queue, id between.
        assert.deepEqual(await after({ createdAt: T0 + 2, queue: 'a', id: 'a2' }), ['a/a3', 'b/b1', 'a/a0']);
        // Same createdAt, queue between 'a' and 'b'.
        assert.deepEqual(await after({ createdAt: T0 + 2, queue: 'aa', id: 'zzz' }), ['b/b1', 'a/a0']);
        // Before every task of its instant ('' sorts first): the whole instant, then older ones.
        assert.deepEqual(await after({ createdAt: T0 + 2, queue: '', id: '' }), ['a/a1', 'a/a3', 'b/b1', 'a/a0']);
        // After the last task of an instant: only older ones.
        assert.deepEqual(await after({ createdAt: T0 + 3, queue: 'c', id: 'c99' }), ['a/a1', 'a/a3', 'b/b1', 'a/a0']);
        // A createdAt nobody has: everything older.
        assert.deepEqual(await after({ createdAt: T0 + 100, queue: 'z', id: 'z' }), ['c/c9', 'a/a1', 'a/a3', 'b/b1', 'a/a0']);
        assert.deepEqual(await after({ createdAt: T0 + 1, queue: 'a', id: 'a0' }), []);
        assert.deepEqual(await after({ createdAt: T0, queue: 'a', id: 'a' }), []);
      }),
    );

    it(
      'neither skips nor repeats unchanged tasks when tasks are created between pages',
      withHarness(options, async ({ store }) => {
        const records: NewTaskRecord[] = [];
        for (let i = 0; i < 10; i++) records.push(taskRecord({ queue: 'q', id: `t${i}`, createdAt: T0 + i }));
        await createAll(store, records);
        const first = await store.taskList({ limit: 4 });
        assert.deepEqual(first.tasks.map((t) => t.id), ['t9', 't8', 't7', 't6']);
        // Newer tasks arrive (and one in the same instant as the cursor, sorting before it): none of them
        // belongs after the cursor.
        await store.taskCreate({ task: taskRecord({ queue: 'q', id: 'new', createdAt: T0 + 50 }) });
        await store.taskCreate({ task: taskRecord({ queue: 'a', id: 'same-instant', createdAt: T0 + 6 }) });
        const rest: Task[] = [];
        let after = first.next;
        while (after) {
          const page = await store.taskList({ limit: 4, after });
          rest.push(...page.tasks);
          after = page.next;
        }
        assert.deepEqual(rest.map((t) => t.id), ['t5', 't4', 't3', 't2', 't1', 't0']);
      }),
    );

    it(
      'does not list archived tasks',
      withHarness(options, async ({ store }) => {
        await createAll(store, [
          taskRecord({ queue: 'q', id: 'old-done', createdAt: T0, attempted: 1, ...finished('done', T0 + SECOND) }),
          taskRecord({ queue: 'q', id: 'old-dead', createdAt: T0 + 1, attempted: 1, ...finished('dead', T0 + SECOND) }),
          taskRecord({ queue: 'q', id: 'recent-done', createdAt: T0 + 2, attempted: 1, ...finished('done', T0 + HOUR) }),
          taskRecord({ queue: 'q', id: 'waiting', createdAt: T0 + 3 }),
        ]);
        assert.deepEqual(await store.taskArchive({ finishedBefore: T0 + 2 * SECOND, limit: 10, now: T0 + 2 * HOUR }), {
          archived: 2,
        });
        assert.deepEqual(await listKeys(store, {}), ['q/waiting', 'q/recent-done']);
        assert.deepEqual(await listKeys(store, { states: ['done', 'dead'] }), ['q/recent-done']);
        assert.deepEqual(await listKeys(store, { queue: 'q', prefix: 'old' }), []);
        // The id is free again: a new task with it is listed (once).
        await store.taskCreate({ task: taskRecord({ queue: 'q', id: 'old-done', createdAt: T0 + 3 * HOUR }) });
        assert.deepEqual(await listKeys(store, { prefix: 'old' }), ['q/old-done']);
      }),
    );

    it(
      'reads its writes: a task created, updated or claimed just before is listed as it is now',
      withHarness(options, async ({ store }) => {
        await createAll(store, [taskRecord({ queue: 'q', id: 'a', createdAt: T0 }), taskRecord({ queue: 'q', id: 'b', createdAt: T0 + 1 })]);
        assert.deepEqual(await listKeys(store, { states: ['queued'] }), ['q/b', 'q/a']);
        const [claimed] = await store.taskClaim({ queues: ['q'], amount: 1, workerId: 'w', now: T0 + HOUR });
        assert.ok(claimed);
        assert.deepEqual(await listKeys(store, { states: ['claimed'] }), [key(claimed)]);
        const listed = (await store.taskList({ limit: 10, states: ['claimed'] })).tasks[0]!;
        assert.deepEqual(listed.version, claimed.version);
        assert.equal(listed.lastClaimed?.workerId, 'w');
        assert.equal((await listKeys(store, { states: ['queued'] })).length, 1);
      }),
    );
  });
}

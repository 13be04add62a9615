// @ts-check
// Flow control (docs/flow-control.md): `#/limits` lists the queues, each with its limits and how many of its
// tasks wait on a limit; `#/limits/<queue>` shows one queue's limits, its claimed count, tokens left and the
// keys held back by a limit (GET /queues/{queue}/limits and GET /queues/{queue}/flow).
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { fmtCount } from '../format.js';

const limitsHref = (queue) => `#/limits/${encodeURIComponent(queue)}`;
const tasksHref = (params) => `#/tasks?${new URLSearchParams(params)}`;
/** Queues whose flow status the overview reads per refresh (one call each). */
const MAX_OVERVIEW_QUEUES = 50;
/** Throttled keys counted per queue in the overview ("20+" beyond). */
const MAX_LISTED_KEYS = 20;

/** "10 at once, 5 per 1s (burst 5)", or "no limit". */
function describeLimit(limit) {
  if (!limit) return 'no limit';
  const parts = [];
  if (limit.concurrency !== undefined) parts.push(`${fmtCount(limit.concurrency)} at once`);
  if (limit.rate) parts.push(`${fmtCount(limit.rate.count)} per ${limit.rate.per} (burst ${fmtCount(limit.rate.burst ?? limit.rate.count)})`);
  return parts.length === 0 ? 'no limit' : parts.join(', ');
}

function limitsList(limits) {
  const overrides = Object.entries(limits.keys ?? {});
  if (!limits.queue && !limits.per_key && overrides.length === 0) return h('p', { class: 'muted' }, 'No limits: claims are not held back.');
  return h(
    'dl',
    { class: 'fields compact limits' },
    h('dt', {}, 'Queue'),
    h('dd', { dataset: { limit: 'queue' } }, describeLimit(limits.queue)),
    h('dt', {}, 'Per key'),
    h('dd', { dataset: { limit: 'per_key' } }, describeLimit(limits.per_key)),
    overrides.map(([key, limit]) => [h('dt', {}, h('span', { class: 'mono' }, key)), h('dd', { dataset: { limit: `key` } }, describeLimit(limit))]),
  );
}

export function limitsView() {
  let root;
  let queue; // undefined: the overview
  let headEl;
  let bodyEl;

  const renderOverview = (rows) => {
    replaceChildren(headEl, h('h1', {}, 'Limits'));
    if (rows.length === 0) {
      replaceChildren(bodyEl, h('p', { class: 'empty' }, 'No queues yet.'));
      return;
    }
    replaceChildren(
      bodyEl,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'data limits-overview' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Queue'),
              h('th', { scope: 'col' }, 'Queue limit'),
              h('th', { scope: 'col' }, 'Per key'),
              h('th', { scope: 'col', class: 'num' }, 'Claimed'),
              h('th', { scope: 'col', class: 'num', title: 'Claimable tasks held back by a limit' }, 'Waiting on a limit'),
              h('th', { scope: 'col', class: 'num' }, 'Throttled keys'),
            ),
          ),
          h(
            'tbody',
            {},
            rows.map((flow) =>
              h(
                'tr',
                { dataset: { queue: flow.queue } },
                h('th', { scope: 'row', 'data-label': 'Queue' }, h('a', { href: limitsHref(flow.queue) }, flow.queue)),
                h('td', { 'data-label': 'Queue limit' }, describeLimit(flow.limits.queue)),
                h('td', { 'data-label': 'Per key' }, describeLimit(flow.limits.per_key)),
                h('td', { class: 'num', 'data-label': 'Claimed' }, fmtCount(flow.claimed)),
                h('td', { class: ['num', flow.waiting_on_limit > 0 ? 'warn' : null], dataset: { waiting: flow.waiting_on_limit }, 'data-label': 'Waiting on a limit' }, fmtCount(flow.waiting_on_limit)),
                h(
                  'td',
                  { class: 'num', 'data-label': 'Throttled keys' },
                  flow.throttled_keys.length >= MAX_LISTED_KEYS ? `${MAX_LISTED_KEYS}+` : fmtCount(flow.throttled_keys.length),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  };

  const renderQueue = (flow) => {
    replaceChildren(
      headEl,
      h('h1', {}, 'Limits of ', h('span', { class: 'mono' }, flow.queue)),
      h('a', { href: tasksHref({ queue: flow.queue }) }, 'tasks →'),
    );
    const tokens = flow.tokens === undefined ? null : [h('dt', {}, 'Tokens left'), h('dd', { dataset: { tokens: flow.tokens } }, flow.tokens.toFixed(1))];
    replaceChildren(
      bodyEl,
      limitsList(flow.limits),
      h(
        'dl',
        { class: 'fields compact flow' },
        h('dt', {}, 'Claimed now'),
        h('dd', { dataset: { claimed: flow.claimed } }, fmtCount(flow.claimed)),
        tokens,
        h('dt', {}, 'Waiting on a limit'),
        h('dd', { dataset: { waiting: flow.waiting_on_limit } }, fmtCount(flow.waiting_on_limit)),
      ),
      h('h2', {}, 'Throttled keys'),
      flow.throttled_keys.length === 0
        ? h('p', { class: 'muted throttled-none' }, 'No key is held back right now.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'data throttled' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  h('th', { scope: 'col' }, 'Key'),
                  h('th', { scope: 'col' }, 'Held back by'),
                  h('th', { scope: 'col', class: 'num' }, 'Claimed'),
                  h('th', { scope: 'col', class: 'num' }, 'Waiting'),
                ),
              ),
              h(
                'tbody',
                {},
                flow.throttled_keys.map((k) =>
                  h(
                    'tr',
                    { dataset: { key: k.key } },
                    h('th', { scope: 'row', class: 'mono', 'data-label': 'Key' }, k.key),
                    h('td', { 'data-label': 'Held back by' }, k.reason === 'rate' ? 'rate (no token)' : 'concurrency'),
                    h('td', { class: 'num', 'data-label': 'Claimed' }, fmtCount(k.claimed)),
                    h('td', { class: 'num', 'data-label': 'Waiting' }, fmtCount(k.waiting)),
                  ),
                ),
              ),
            ),
          ),
    );
  };

  return {
    mount(el, r) {
      queue = r.path[0] || undefined;
      headEl = h('div', { class: 'view-head' });
      bodyEl = h('div', {});
      root = h('section', { class: 'limits-view' }, headEl, bodyEl);
      el.appendChild(root);
    },
    update(r) {
      queue = r.path[0] || undefined;
    },
    async refresh(ctx) {
      const gen = ctx.generation;
      if (queue !== undefined) {
        const flow = await api.queueFlow(queue);
        if (ctx.isCurrent(gen)) renderQueue(flow);
        return;
      }
      const { queues } = await api.queues();
      const names = queues.map((q) => q.queue).slice(0, MAX_OVERVIEW_QUEUES);
      const flows = await Promise.all(names.map((name) => api.queueFlow(name, MAX_LISTED_KEYS)));
      if (ctx.isCurrent(gen)) renderOverview(flows);
    },
  };
}

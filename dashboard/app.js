// @ts-check
// The dashboard shell: hash routing (#/queues, #/tasks?filters, #/task/<queue>/<id>, #/recurring), the
// auto-refresh loop and the error banner. Each view is made by a factory and has mount(el, route, ctx),
// refresh(ctx), and optionally update(route, ctx) (the same view with new parameters: it keeps its DOM,
// so a filter form keeps its focus and the page its scroll) and unmount().
import { ApiError } from './api.js';
import { h, replaceChildren } from './dom.js';
import { fmtAbsolute, fmtRelative } from './format.js';
import { loadIdentity } from './identity.js';
import { limitsView } from './views/limits.js';
import { chartsView } from './views/charts.js';
import { queuesView } from './views/queues.js';
import { recurringView } from './views/recurring.js';
import { taskView } from './views/task.js';
import { tasksView } from './views/tasks.js';
import { workersView } from './views/workers.js';

const REFRESH_MS = 5000;
const AUTO_REFRESH_KEY = 'tasques.dashboard.autoRefresh';

const VIEWS = {
  queues: queuesView,
  charts: chartsView,
  tasks: tasksView,
  task: taskView,
  recurring: recurringView,
  limits: limitsView,
  workers: workersView,
};

// The page's fixed elements (index.html): always there.
const viewEl = /** @type {HTMLElement} */ (document.getElementById('view'));
const bannerEl = /** @type {HTMLElement} */ (document.getElementById('banner'));
const updatedEl = /** @type {HTMLElement} */ (document.getElementById('updated'));
const autoEl = /** @type {HTMLInputElement} */ (document.getElementById('auto-refresh'));
const refreshNowEl = /** @type {HTMLElement} */ (document.getElementById('refresh-now'));

/** `#/tasks?state=dead` → {name: 'tasks', path: [], params: URLSearchParams}; `#/task/q/id` → path ['q', 'id']. */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const [pathPart = '', queryPart = ''] = raw.split(/\?(.*)/s);
  const [name = '', ...path] = pathPart.split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { name: VIEWS[name] ? name : 'queues', path, params: new URLSearchParams(queryPart) };
}

let current = null; // {name, view}
let refreshing = null; // the refresh in flight, so that ticks do not pile up
let generation = 0; // bumped on every navigation: a late answer for an old view is dropped

const ctx = {
  /**
   * Shows an API error in the banner (a 401 gets its own explanation). A failed refresh's error goes
   * away with the next good refresh; a failed action's (`sticky`) stays until the next navigation.
   */
  reportError(err, { sticky = false } = {}) {
    if (err instanceof ApiError && err.status === 401) {
      showBanner(
        'error',
        'Authentication required.',
        ' Sign in with a bearer token above, or reload the page and sign in with a configured user ' +
          '(auth.basic_auth and auth.bearer_tokens in the server configuration).',
      );
    } else {
      showBanner('error', err instanceof ApiError ? `Request failed: ${err.message}` : `Error: ${err.message ?? err}`);
    }
    if (sticky) bannerEl.dataset.sticky = 'true';
  },
  clearError() {
    if (bannerEl.dataset.kind === 'error' && bannerEl.dataset.sticky !== 'true') hideBanner();
  },
  /** A short-lived confirmation ("Task queued again"). */
  notify(message) {
    showBanner('ok', message);
    const shown = bannerEl.textContent;
    setTimeout(() => {
      if (bannerEl.textContent === shown) hideBanner();
    }, 4000);
  },
  /** Refreshes the current view after an action: a load already in flight may predate it, so one more. */
  refresh: () => (refreshing ? refreshing.then(() => runRefresh()) : runRefresh()),
  isCurrent: (gen) => gen === generation,
  get generation() {
    return generation;
  },
};

function showBanner(kind, strong, rest = '') {
  bannerEl.dataset.kind = kind;
  delete bannerEl.dataset.sticky;
  replaceChildren(bannerEl, h('strong', {}, strong), rest);
  bannerEl.hidden = false;
}

function hideBanner() {
  bannerEl.hidden = true;
  delete bannerEl.dataset.kind;
  delete bannerEl.dataset.sticky;
  replaceChildren(bannerEl);
}

async function runRefresh() {
  if (!current) return;
  if (refreshing) return refreshing;
  const gen = generation;
  const { view } = current;
  refreshing = (async () => {
    try {
      await view.refresh(ctx);
      if (gen !== generation) return;
      ctx.clearError();
      updatedEl.textContent = `Updated ${fmtAbsolute(new Date().toISOString()).slice(11)}`;
      updatedEl.dataset.at = new Date().toISOString();
    } catch (err) {
      if (gen === generation) ctx.reportError(err);
    } finally {
      refreshing = null;
      refreshRelativeTimes();
    }
  })();
  return refreshing;
}

/** Relative times ("3m ago") drift between loads: recompute them in place, nothing else changes. */
function refreshRelativeTimes() {
  const now = Date.now();
  for (const el of viewEl.querySelectorAll('time[data-rel]')) el.textContent = fmtRelative(/** @type {HTMLTimeElement} */ (el).dateTime, now);
}

function route() {
  const r = parseHash();
  for (const a of document.querySelectorAll(/** @type {'a'} */ ('.tabs a'))) {
    const active = a.dataset.view === r.name || (r.name === 'task' && a.dataset.view === 'tasks');
    a.classList.toggle('active', active);
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (current && current.name === r.name && current.view.update && current.view.update(r, ctx) !== false) {
    generation++;
    refreshing = null;
    void runRefresh();
    return;
  }
  current?.view.unmount?.();
  generation++;
  refreshing = null;
  hideBanner();
  const view = VIEWS[r.name]();
  current = { name: r.name, view };
  viewEl.replaceChildren();
  view.mount(viewEl, r, ctx);
  window.scrollTo(0, 0);
  void runRefresh();
}

autoEl.checked = localStorage.getItem(AUTO_REFRESH_KEY) !== 'off';
autoEl.addEventListener('change', () => {
  localStorage.setItem(AUTO_REFRESH_KEY, autoEl.checked ? 'on' : 'off');
  if (autoEl.checked) void runRefresh();
});
refreshNowEl.addEventListener('click', () => void runRefresh());
setInterval(() => {
  // Hidden tabs do not poll; they catch up when shown again.
  if (autoEl.checked && !document.hidden) void runRefresh();
}, REFRESH_MS);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && autoEl.checked) void runRefresh();
});
window.addEventListener('hashchange', route);
// Who is looking decides which actions show: known before the first view renders (one quick call), so
// that what a view offers does not change under the viewer's eyes. A sign-in reloads the current view.
void loadIdentity(() => void runRefresh()).finally(route);

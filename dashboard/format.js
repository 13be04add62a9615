// @ts-check
// Formatting of times, durations and counts for display.
import { h } from './dom.js';

const number = new Intl.NumberFormat();

export const fmtCount = (n) => number.format(n ?? 0);

/** "12s", "4m 10s", "3h 5m", "2d 4h" for a number of seconds. */
export function fmtSeconds(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const hr = Math.floor(m / 60);
  if (hr < 24) return m % 60 ? `${hr}h ${m % 60}m` : `${hr}h`;
  const d = Math.floor(hr / 24);
  return hr % 24 ? `${d}d ${hr % 24}h` : `${d}d`;
}

/** "3m ago" / "in 3m" / "now" relative to `now` (ms). */
export function fmtRelative(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  const diff = (t - now) / 1000;
  if (Math.abs(diff) < 1) return 'now';
  return diff < 0 ? `${fmtSeconds(-diff)} ago` : `in ${fmtSeconds(diff)}`;
}

/** Local date and time, to the second: "2026-11-28 01:39:39". */
export function fmtAbsolute(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A <time> showing a relative time, with the exact time as its tooltip. */
export function timeEl(iso, { absolute = false } = {}) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h(
    'time',
    { datetime: iso, title: `${fmtAbsolute(iso)} (${iso})`, 'data-rel': !absolute },
    absolute ? fmtAbsolute(iso) : fmtRelative(iso),
  );
}

/** Both: "2026-11-28 01:39:39 · 3m ago". */
export function timeBoth(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h(
    'span',
    { class: 'time-both' },
    h('time', { datetime: iso, title: iso }, fmtAbsolute(iso)),
    h('span', { class: 'muted' }, ' · '),
    h('time', { datetime: iso, title: iso, class: 'muted', 'data-rel': true }, fmtRelative(iso)),
  );
}

export const STATES = ['queued', 'claimed', 'failed', 'done', 'dead'];
/** States a task never leaves by itself (an operator can retry a dead one). */
export const FINAL_STATES = ['done', 'dead'];

/** A task's state; a dead task an operator cancelled shows as "cancelled" (its state is still dead). */
export function stateBadge(state, { cancelled = false } = {}) {
  if (cancelled) return h('span', { class: ['badge', 'state-dead', 'state-cancelled'], title: 'dead: cancelled by an operator' }, 'cancelled');
  return h('span', { class: ['badge', `state-${STATES.includes(state) ? state : 'unknown'}`] }, state);
}

// @ts-check
// DOM building without HTML strings. Everything the dashboard shows comes from the API, and task args,
// context, results and even queue names and kinds are user data: they only ever become text nodes or
// attribute values here, never markup (no innerHTML anywhere in the dashboard).

/**
 * Creates an element. `attrs`: `class`, `dataset` (object), `on` (event → handler), boolean or string
 * attributes (false/null/undefined are left out). Children: nodes, strings (text), numbers, arrays,
 * null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (key === 'class') {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
    } else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled') {
      el[key] = value;
    } else if (key === 'href') {
      el.setAttribute('href', safeHref(String(value)));
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Only in-page links (#/…) and relative or http(s) URLs; anything else (javascript:, data:) becomes '#'. */
function safeHref(href) {
  if (href.startsWith('#') || href.startsWith('/')) return href;
  try {
    const url = new URL(href, location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? href : '#';
  } catch {
    return '#';
  }
}

/** Replaces all children of `el`. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const JSON_INDENT = '  ';

/**
 * A JSON value pretty-printed into a <pre>, keys, strings, numbers and literals in their own spans for
 * colour. Built from text nodes, so a string like "<img onerror=…>" shows as those characters.
 */
export function jsonView(value, label) {
  const pre = h('pre', { class: 'json', 'aria-label': label });
  const put = (text, cls) => pre.appendChild(cls ? h('span', { class: cls }, text) : document.createTextNode(text));
  const walk = (v, depth) => {
    const pad = JSON_INDENT.repeat(depth + 1);
    const end = JSON_INDENT.repeat(depth);
    if (Array.isArray(v)) {
      if (v.length === 0) return put('[]', 'j-punct');
      put('[\n', 'j-punct');
      v.forEach((item, i) => {
        put(pad);
        walk(item, depth + 1);
        put(i < v.length - 1 ? ',\n' : '\n', 'j-punct');
      });
      put(end);
      return put(']', 'j-punct');
    }
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      if (entries.length === 0) return put('{}', 'j-punct');
      put('{\n', 'j-punct');
      entries.forEach(([k, item], i) => {
        put(pad);
        put(JSON.stringify(k), 'j-key');
        put(': ', 'j-punct');
        walk(item, depth + 1);
        put(i < entries.length - 1 ? ',\n' : '\n', 'j-punct');
      });
      put(end);
      return put('}', 'j-punct');
    }
    if (typeof v === 'string') return put(JSON.stringify(v), 'j-str');
    if (typeof v === 'number') return put(String(v), 'j-num');
    return put(String(v), 'j-lit'); // true, false, null
  };
  walk(value, 0);
  return pre;
}

// @ts-check
// Who is looking (GET /whoami), the bearer-token sign-in, and hiding what the viewer may not do: the
// page gets `data-may-operate="true"` once the role is known to have operate access, and until then the
// stylesheet hides every element marked `data-access="operate"` (pause, resume, retry, cancel…). The server refuses those calls
// anyway (403); this only keeps a viewer from pressing buttons that cannot work.
import { api, ApiError, bearerToken } from './api.js';
import { h, replaceChildren } from './dom.js';

const identityEl = /** @type {HTMLElement} */ (document.getElementById('identity'));

/** Shows the identity, or the sign-in field when the server wants credentials; `onChange` reloads the view. */
export async function loadIdentity(onChange) {
  let me;
  try {
    me = await api.whoami();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      document.body.dataset.mayOperate = 'false';
      // The token field only where tokens work: a Bearer challenge (tokens only), or a Basic one whose
      // message offers a token too (users and tokens). With users only, the browser's own prompt is the way.
      const tokens = /^Bearer/i.test(err.challenge ?? '') || /bearer token/i.test(err.message);
      if (tokens) showSignIn(onChange, bearerToken.get() !== '');
      else showBasicHint();
      return;
    }
    // A server without /whoami (older) or unreachable: offer every action; the API still decides.
    document.body.dataset.mayOperate = 'true';
    replaceChildren(identityEl);
    identityEl.hidden = true;
    return;
  }
  document.body.dataset.mayOperate = String(me.access.includes('operate'));
  document.body.dataset.role = me.role;
  if (me.name === null) {
    // No auth on this server.
    replaceChildren(identityEl);
    identityEl.hidden = true;
    return;
  }
  const signOut =
    me.scheme === 'bearer'
      ? h(
          'button',
          {
            type: 'button',
            class: 'button link small',
            dataset: { action: 'sign-out' },
            on: {
              click: () => {
                bearerToken.set('');
                void loadIdentity(onChange).then(onChange);
              },
            },
          },
          'Sign out',
        )
      : null;
  replaceChildren(
    identityEl,
    h('span', { class: 'small' }, 'Signed in as ', h('strong', { dataset: { field: 'identity-name' } }, me.name), ' ', h('span', { class: 'muted', dataset: { field: 'identity-role' } }, `(${me.role})`)),
    signOut,
  );
  identityEl.hidden = false;
}

function showBasicHint() {
  replaceChildren(identityEl, h('span', { class: 'small muted' }, 'Reload the page to sign in with a user name and password.'));
  identityEl.hidden = false;
}

function showSignIn(onChange, rejected) {
  const input = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'off',
    placeholder: 'Bearer token',
    'aria-label': 'Bearer token',
    required: true,
  });
  const form = h(
    'form',
    {
      class: 'signin',
      on: {
        submit: async (e) => {
          e.preventDefault();
          bearerToken.set(input.value.trim());
          await loadIdentity(onChange);
          onChange();
        },
      },
    },
    h('span', { class: 'small' }, rejected ? 'That token was not accepted. ' : 'This server needs credentials. ', 'Sign in with a token:'),
    input,
    h('button', { type: 'submit', class: 'button primary small' }, 'Sign in'),
  );
  replaceChildren(identityEl, form);
  identityEl.hidden = false;
}

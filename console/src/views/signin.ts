// Sign-in: a tenant API key (that tenant's view) or an operator token (every tenant). The
// credential is checked with GET /api/v1/me, then kept in this tab's session storage only.
import { type Me, remember, whoIs } from '../api';
import { h, replace } from '../dom';
import { errorBox, field } from '../ui';

export function signIn(onSignedIn: (me: Me) => void): HTMLElement {
  const input = h('input', {
    type: 'password',
    name: 'credential',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    placeholder: 'tg_… or operator token',
  });
  const status = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'signin card',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        button.disabled = true;
        replace(status);
        try {
          const me = await whoIs(token);
          remember(token);
          onSignedIn(me);
        } catch (error) {
          replace(status, errorBox(error));
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h1', {}, 'Tollgate console'),
    h('p', {}, 'Sign in with one of your tenant API keys to see your balance, usage and keys, or with an operator token to see every tenant.'),
    field('API key or operator token', input, 'Kept in this browser tab only, until you sign out or close it.'),
    button,
    status,
  );
  return form;
}

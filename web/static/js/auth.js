// Asking for the bearer token, once per tab, with a form.

import { api, APIError, setToken } from './api.js';

const dialog = () => document.getElementById('token-dialog');

/**
 * askToken shows the token form and resolves once a token the server
 * accepts has been entered and saved.
 */
export function askToken(reason = '') {
  const d = dialog();
  const form = d.querySelector('form');
  const input = d.querySelector('#token-input');
  const error = d.querySelector('#token-error');
  error.textContent = reason;
  return new Promise((resolve) => {
    // Without a token the page can show nothing, so the form stays up.
    d.oncancel = (e) => e.preventDefault();
    form.onsubmit = async (e) => {
      e.preventDefault();
      const tok = input.value.trim();
      error.textContent = '';
      try {
        const who = await api('/auth', { tok });
        if (!who.scopes.includes('read') && !who.scopes.includes('admin')) {
          throw new APIError(`The token "${who.name}" may not read this server (it has: ${who.scopes.join(', ')}); the dashboard needs one with the read scope.`, 403);
        }
      } catch (err) {
        error.textContent = err instanceof APIError && err.status === 401
          ? 'That token is not valid for this server. Check it and try again.'
          : err.message;
        input.select();
        return;
      }
      setToken(tok);
      input.value = '';
      d.close();
      resolve();
    };
    if (!d.open) d.showModal();
    input.focus();
  });
}

// reset-password.js: /reset-password#<token>, a link an operator made. Sets a
// new password; afterwards the person is signed in.

import { postJSON } from './api.js';
import { $, clearErrors, showError, busy, renderChooser } from './ui.js';
import { takeToken, passwordProblem } from './token.js';

const form = $('#reset-form');
const token = takeToken();

function invalid(message) {
  form.hidden = true;
  const box = $('#invalid');
  box.hidden = false;
  box.textContent = message;
}

const notValid = 'This link is not valid: it may have been used already or have expired. Ask an operator for a new one.';

if (!token) {
  invalid('This page needs the whole link, including the part after #. Open the link you were given again.');
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(form);
  const password = form.elements.password.value;
  const problem = passwordProblem(password);
  if (problem) {
    showError(form, { field: 'password', message: problem });
    return;
  }
  busy(form, true);
  try {
    const res = await postJSON('/api/password/reset', { token, password });
    form.elements.password.value = '';
    if (res.next) {
      window.location.assign(res.next);
      return;
    }
    $('#reset').hidden = true;
    $('#chooser').hidden = false;
    renderChooser($('#chooser-list'), res.organizations || [], (err) => { $('#chooser-error').textContent = err.message; });
    $('#chooser-title').focus();
  } catch (err) {
    busy(form, false);
    if (err.code === 'invalid_reset' || err.status === 404) invalid(notValid);
    else showError(form, err);
  }
});

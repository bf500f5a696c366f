// login.js: the sign-in page (/login). Email and password go to POST /login;
// with one organization the server says where to go next, with several the
// page shows a chooser, one button per organization.

import { postJSON, currentSession } from './api.js';
import { $, clearErrors, showError, busy, renderChooser } from './ui.js';

const form = $('#login-form');
const signIn = $('#sign-in');
const chooser = $('#chooser');
let retryTimer = 0;

function showChooser(organizations) {
  signIn.hidden = true;
  chooser.hidden = false;
  const error = $('#chooser-error');
  renderChooser($('#chooser-list'), organizations, (err) => { error.textContent = err.message; });
  $('#chooser-title').focus();
}

// waitOut keeps the form disabled while the server refuses attempts, and
// says how long is left.
function waitOut(seconds) {
  const alert = $('#login-error');
  const button = form.querySelector('button[type="submit"]');
  let left = Math.max(1, Math.ceil(seconds));
  const tick = () => {
    if (left <= 0) {
      window.clearInterval(retryTimer);
      button.disabled = false;
      alert.textContent = 'You can try again now.';
      return;
    }
    const wait = left >= 90 ? `${Math.ceil(left / 60)} minutes` : `${left} seconds`;
    alert.textContent = `Too many sign-in attempts. Try again in ${wait}.`;
    left -= 1;
  };
  window.clearInterval(retryTimer);
  button.disabled = true;
  tick();
  retryTimer = window.setInterval(tick, 1000);
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(form);
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  if (!email) {
    showError(form, { field: 'email', message: 'Enter your email address.' });
    return;
  }
  if (!password) {
    showError(form, { field: 'password', message: 'Enter your password.' });
    return;
  }
  busy(form, true);
  try {
    const res = await postJSON('/login', { email, password });
    form.elements.password.value = '';
    if (res.next) {
      window.location.assign(res.next);
      return;
    }
    busy(form, false);
    showChooser(res.organizations || []);
  } catch (err) {
    busy(form, false);
    if (err.status === 429) {
      waitOut(err.retryAfter || 60);
      return;
    }
    if (err.code === 'invalid_credentials') {
      showError(form, { message: 'The email or the password is not right.' });
      form.elements.password.value = '';
      form.elements.password.focus();
      return;
    }
    showError(form, err);
  }
});

// Already signed in: go on to the settings, or choose an organization.
currentSession().then((session) => {
  if (!session || !session.user) return;
  if (session.organization) {
    window.location.replace('/settings');
  } else if (session.organizations && session.organizations.length) {
    showChooser(session.organizations);
  }
}).catch(() => {});

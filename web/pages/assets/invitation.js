// invitation.js: /invitation#<token>. Shows what the invitation is for, then
// accepts it with a name and a password (the person's current password when
// the email already has an account). Afterwards the person is signed in.

import { postJSON } from './api.js';
import { $, clearErrors, showError, busy, formatDateTime } from './ui.js';
import { takeToken, passwordProblem } from './token.js';

const form = $('#accept-form');
const lead = $('#lead');
const token = takeToken();
let existing = false;

function invalid(message) {
  lead.hidden = true;
  form.hidden = true;
  const box = $('#invalid');
  box.hidden = false;
  box.textContent = message;
}

const notValid = 'This invitation link is not valid: it may have been used, revoked or have expired. ' +
  'Ask the person who invited you for a new one.';

async function inspect() {
  if (!token) {
    invalid('This page needs the whole invitation link, including the part after #. Open the link you were sent again.');
    return;
  }
  try {
    const inv = await postJSON('/api/invitation/inspect', { token });
    existing = !!inv.existingAccount;
    const org = inv.organization || {};
    $('#title').textContent = `Join ${org.name || 'the organization'}`;
    const role = { OWNER: 'an owner', ADMIN: 'an admin', MEMBER: 'a member' }[inv.role] || 'a member';
    lead.textContent = `You are invited to ${org.name || 'an organization'} as ${role}. ` +
      `The invitation is valid until ${formatDateTime(inv.expiresAt)}.`;
    $('#invite-email').textContent = inv.email || '';
    if (existing) {
      $('#name-optional').hidden = false;
      $('#password-help').textContent = `You already have an account with ${inv.email}: enter its current password.`;
      form.elements.password.setAttribute('autocomplete', 'current-password');
    } else {
      form.elements.name.required = true;
    }
    form.hidden = false;
    (existing ? form.elements.password : form.elements.name).focus();
  } catch (err) {
    if (err.code === 'invalid_invitation' || err.status === 404) invalid(notValid);
    else invalid(err.message);
  }
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(form);
  const name = form.elements.name.value.trim();
  const password = form.elements.password.value;
  if (!existing && !name) {
    showError(form, { field: 'name', message: 'Enter your name.' });
    return;
  }
  const problem = existing ? (password ? '' : 'Enter your current password.') : passwordProblem(password);
  if (problem) {
    showError(form, { field: 'password', message: problem });
    return;
  }
  busy(form, true);
  try {
    const res = await postJSON('/api/invitation/accept', { token, name, password });
    window.location.assign(res.next || '/settings');
  } catch (err) {
    busy(form, false);
    if (err.code === 'invalid_invitation') invalid(notValid);
    else if (err.code === 'invalid_credentials') showError(form, { field: 'password', message: 'That is not the current password of this account.' });
    else showError(form, err);
  }
});

inspect();

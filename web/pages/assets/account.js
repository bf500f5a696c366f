// account.js: "Your account" in Workspace Settings: change your password and
// see (and end) the sessions you have open.

import { gql } from './api.js';
import { h, $, time, announce, confirmDialog, clearErrors, showError, busy } from './ui.js';
import { PagedTable } from './table.js';

const SESSION = 'id createdAt lastSeenAt expiresAt address userAgent current organization { id name }';

// device names a browser and system from a user agent, e.g. "Firefox on Linux".
export function device(ua) {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua) ? 'Edge'
    : /OPR\//.test(ua) ? 'Opera'
      : /Firefox\//.test(ua) ? 'Firefox'
        : /Chrome\/|Chromium\//.test(ua) ? 'Chrome'
          : /Safari\//.test(ua) ? 'Safari'
            : /curl\//.test(ua) ? 'curl' : 'Browser';
  const system = /Windows/.test(ua) ? 'Windows'
    : /Android/.test(ua) ? 'Android'
      : /iPhone|iPad/.test(ua) ? 'iOS'
        : /Mac OS X|Macintosh/.test(ua) ? 'macOS'
          : /Linux|X11/.test(ua) ? 'Linux' : '';
  return system ? `${browser} on ${system}` : browser;
}

export function setupAccount(ctx) {
  const form = $('#password-form');
  $('#account-username').value = ctx.user.email; // for password managers
  $('#account-who').textContent = ctx.user.name ? `${ctx.user.name} · ${ctx.user.email}` : ctx.user.email;

  const sessions = new PagedTable({
    container: $('#sessions-list'), error: $('#sessions-error'),
    caption: 'Your sessions',
    empty: 'No sessions.',
    columns: [
      {
        label: 'Device',
        cell: (s) => h('span', { title: s.userAgent }, h('span', { class: 'name', text: device(s.userAgent) }),
          s.current ? [' ', h('span', { class: 'badge badge-you', text: 'this one' })] : null),
      },
      { label: 'Address', cell: (s) => s.address || '—' },
      { label: 'Last active', cell: (s) => time(s.lastSeenAt, { relative: true }) },
      { label: 'Expires', cell: (s) => time(s.expiresAt) },
      {
        label: 'Actions', className: 'cell-actions',
        cell: (s) => (s.current ? ''
          : h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'End session', 'aria-label': `End the session of ${device(s.userAgent)}`, onClick: () => end(s) })),
      },
    ],
    // Viewer.sessions is a plain list: one "page".
    fetchPage: async () => {
      const data = await gql(`{ viewer { sessions { ${SESSION} } } }`);
      return { edges: data.viewer.sessions.map((node) => ({ node })), pageInfo: { hasNextPage: false, endCursor: null } };
    },
  });

  async function end(s) {
    const ok = await confirmDialog({
      title: 'End this session?',
      body: `${device(s.userAgent)}${s.address ? ` at ${s.address}` : ''} is signed out at once.`,
      confirm: 'End session',
    });
    if (!ok) return;
    try {
      await gql('mutation ($id: ID!) { revokeSession(id: $id) { id } }', { id: s.id });
      sessions.remove(s.id);
      announce('The session was ended.');
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    $('#password-done').textContent = '';
    const currentPassword = form.elements.currentPassword.value;
    const newPassword = form.elements.newPassword.value;
    if (!currentPassword) {
      showError(form, { field: 'currentPassword', message: 'Enter your current password.' });
      return;
    }
    if (newPassword.length < 12) {
      showError(form, { field: 'newPassword', message: 'Use at least 12 characters.' });
      return;
    }
    busy(form, true);
    try {
      const data = await gql('mutation ($in: ChangePasswordInput!) { changePassword(input: $in) { endedSessions } }',
        { in: { currentPassword, newPassword } });
      form.reset();
      const n = data.changePassword.endedSessions;
      $('#password-done').textContent = n > 0
        ? `Your password was changed. ${n === 1 ? 'Your other session was' : `Your ${n} other sessions were`} signed out.`
        : 'Your password was changed.';
      sessions.reload();
    } catch (err) {
      showError(form, err);
    } finally {
      busy(form, false);
    }
  });

  sessions.reload();
}

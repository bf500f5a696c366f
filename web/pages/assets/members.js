// members.js: the Members section (people, roles, invitations) and the Audit
// log of Workspace Settings. Only owners and admins see them.

import { gql } from './api.js';
import {
  h, $, time, announce, openDialog, confirmDialog, secretDialog, clearErrors, showError, busy, formatDateTime, nextID,
} from './ui.js';
import { PagedTable } from './table.js';
import { focusHeading } from './credentials.js';

const PAGE = 'pageInfo { hasNextPage endCursor }';
const MEMBER = 'user { id email name } role joinedAt';
const INVITATION = 'id email role createdAt expiresAt invitedBy { id email name }';
const ROLES = ['MEMBER', 'ADMIN', 'OWNER'];
const roleName = (r) => r.charAt(0) + r.slice(1).toLowerCase();

export function setupMembers(ctx) {
  const { me } = ctx;
  const owner = ctx.role === 'OWNER';
  const section = $('#members');
  const people = {}; // user id → email, for the audit log

  function roleCell(m) {
    if (m.user.id === me) return h('span', {}, h('span', { class: 'badge badge-role', text: m.role }));
    // Only an owner changes an owner's role or makes someone an owner.
    const locked = !owner && m.role === 'OWNER';
    const id = nextID('role');
    const select = h('select', { id, disabled: locked, 'aria-describedby': `${id}-who` },
      ROLES.filter((r) => owner || r !== 'OWNER' || m.role === 'OWNER')
        .map((r) => h('option', { value: r, selected: r === m.role, text: roleName(r) })));
    const save = h('button', {
      type: 'button', class: 'btn btn-small btn-primary', text: 'Save', hidden: true,
      'aria-label': `Save the role of ${m.user.email}`,
      onClick: () => changeRole(m, select.value),
    });
    select.addEventListener('change', () => { save.hidden = select.value === m.role; });
    return h('span', { class: 'role-edit' },
      h('label', { for: id, class: 'visually-hidden', text: 'Role' }),
      h('span', { id: `${id}-who`, class: 'visually-hidden', text: `of ${m.user.email}` }),
      select, ' ', save);
  }

  const table = new PagedTable({
    container: $('#members-list'), more: $('#members-more'), error: $('#members-error'),
    caption: 'Members of the organization',
    empty: 'No members.',
    columns: [
      {
        label: 'Email',
        cell: (m) => h('span', {}, h('span', { class: 'name', text: m.user.email }),
          m.user.id === me ? [' ', h('span', { class: 'badge badge-you', text: 'you' })] : null),
      },
      { label: 'Name', cell: (m) => m.user.name || h('span', { class: 'muted', text: '—' }) },
      { label: 'Role', cell: roleCell },
      { label: 'Joined', cell: (m) => time(m.joinedAt) },
      {
        label: 'Actions', className: 'cell-actions',
        cell: (m) => (m.user.id === me || (!owner && m.role === 'OWNER') ? ''
          : h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Remove', 'aria-label': `Remove ${m.user.email}`, onClick: () => remove(m) })),
      },
    ],
    fetchPage: async (after) => {
      const data = await gql(`query ($first: Int!, $after: String) { viewer { organization { members(first: $first, after: $after) { edges { node { ${MEMBER} } } ${PAGE} } } } }`,
        { first: 50, after });
      const conn = data.viewer.organization.members;
      // Members have no id of their own: the user's id stands for the row.
      conn.edges = conn.edges.map((e) => {
        people[e.node.user.id] = e.node.user.email;
        return { ...e, node: { ...e.node, id: e.node.user.id } };
      });
      return conn;
    },
  });

  function rowError(m, message) {
    const tr = table.rows.get(m.user.id);
    const cell = tr && tr.querySelector('.cell-actions');
    if (!cell) {
      announce(message, 'error');
      return;
    }
    cell.querySelectorAll('.row-error').forEach((e) => e.remove());
    cell.append(h('span', { class: 'error-text row-error', role: 'alert', text: message }));
  }

  async function changeRole(m, role) {
    try {
      const data = await gql(`mutation ($in: UpdateMemberRoleInput!) { updateMemberRole(input: $in) { member { ${MEMBER} } } }`,
        { in: { userId: m.user.id, role } });
      const updated = data.updateMemberRole.member;
      table.update({ ...updated, id: updated.user.id });
      announce(`${updated.user.email} is now ${roleName(updated.role).toLowerCase()}.`);
    } catch (err) {
      rowError(m, err.message);
    }
  }

  async function remove(m) {
    const ok = await confirmDialog({
      title: `Remove ${m.user.email}?`,
      body: `They lose access to ${ctx.orgName} at once: their sessions, API keys and OAuth clients stop working here.`,
      confirm: 'Remove',
    });
    if (!ok) return;
    try {
      await gql('mutation ($in: RemoveMemberInput!) { removeMember(input: $in) { member { user { id } } } }', { in: { userId: m.user.id } });
      table.remove(m.user.id);
      announce(`${m.user.email} was removed.`);
      focusHeading(section);
    } catch (err) {
      rowError(m, err.message);
    }
  }

  // ---- Invitations ----

  const invitations = new PagedTable({
    container: $('#invitations-list'), more: $('#invitations-more'), error: $('#invitations-error'),
    caption: 'Pending invitations',
    empty: 'No pending invitations.',
    columns: [
      { label: 'Email', cell: (i) => h('span', { class: 'name', text: i.email }) },
      { label: 'Role', cell: (i) => h('span', { class: 'badge badge-role', text: i.role }) },
      { label: 'Invited by', cell: (i) => (i.invitedBy ? i.invitedBy.email : '—') },
      { label: 'Expires', cell: (i) => h('time', { datetime: i.expiresAt, text: formatDateTime(i.expiresAt) }) },
      {
        label: 'Actions', className: 'cell-actions',
        cell: (i) => h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Revoke', 'aria-label': `Revoke the invitation of ${i.email}`, onClick: () => revokeInvitation(i) }),
      },
    ],
    fetchPage: async (after) => (await gql(`query ($first: Int!, $after: String) { viewer { organization { invitations(first: $first, after: $after) { edges { node { ${INVITATION} } } ${PAGE} } } } }`,
      { first: 20, after })).viewer.organization.invitations,
  });

  async function revokeInvitation(i) {
    const ok = await confirmDialog({
      title: `Revoke the invitation of ${i.email}?`,
      body: 'The link stops working at once. You can invite them again later.',
      confirm: 'Revoke',
    });
    if (!ok) return;
    try {
      await gql('mutation ($id: ID!) { revokeInvitation(id: $id) { id } }', { id: i.id });
      invitations.remove(i.id);
      announce(`The invitation of ${i.email} was revoked.`);
      focusHeading(section);
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  const dialog = $('#invite-dialog');
  const form = $('#invite-form');
  dialog.querySelectorAll('[data-close]').forEach((b) => b.addEventListener('click', () => dialog.close()));
  if (!owner) form.querySelectorAll('[data-owner-only]').forEach((o) => o.remove());

  $('#invite').addEventListener('click', () => {
    form.reset();
    clearErrors(form);
    busy(form, false);
    openDialog(dialog);
    form.elements.email.focus();
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const email = form.elements.email.value.trim();
    if (!email || !email.includes('@')) {
      showError(form, { field: 'email', message: 'Enter the email address of the person to invite.' });
      return;
    }
    busy(form, true);
    let payload;
    try {
      const data = await gql(`mutation ($in: InviteMemberInput!) { inviteMember(input: $in) { link invitation { ${INVITATION} } } }`,
        { in: { email, role: form.elements.role.value } });
      payload = data.inviteMember;
    } catch (err) {
      busy(form, false);
      showError(form, err);
      return;
    }
    await new Promise((resolve) => {
      dialog.addEventListener('close', resolve, { once: true });
      dialog.close();
    });
    invitations.reload();
    const inv = payload.invitation;
    await secretDialog({
      title: `Invitation for ${inv.email}`,
      intro: `Send this link to ${inv.email} yourself: Pentographer does not send email. ` +
        `It makes them ${roleName(inv.role).toLowerCase()} of ${ctx.orgName}, works once, and expires ${formatDateTime(inv.expiresAt)}.`,
      items: [{ label: 'Invitation link', value: payload.link }],
      note: 'Copy the link now: it will not be shown again. If it is lost, revoke the invitation and invite again.',
    });
    payload = null;
    announce(`${inv.email} was invited.`);
  });

  const ready = table.reload();
  invitations.reload();
  return { table, people, ready };
}

// ---- Audit log ----

function actorOf(e, people) {
  const who = e.actor.userId ? (people[e.actor.userId] || `user ${e.actor.userId.slice(0, 8)}…`) : '';
  const how = {
    API_KEY: 'API key', ACCESS_TOKEN: 'access token', SESSION: 'session', OPERATOR: 'operator command',
  }[e.actor.credentialType] || e.actor.credentialType.toLowerCase();
  return who ? `${who} (${how})` : how;
}

export function setupAudit(people) {
  const table = new PagedTable({
    container: $('#audit-list'), more: $('#audit-more'), error: $('#audit-error'),
    caption: 'Audit log, newest first',
    empty: 'Nothing recorded yet.',
    pageSize: 50,
    columns: [
      { label: 'When', cell: (e) => h('time', { datetime: e.at, class: 'nowrap', text: formatDateTime(e.at) }) },
      { label: 'Action', cell: (e) => h('code', { text: e.action }) },
      { label: 'Target', cell: (e) => h('span', {}, e.targetType, ' ', h('code', { class: 'muted small', text: e.targetId })) },
      { label: 'Actor', cell: (e) => actorOf(e, people) },
      { label: 'Via', cell: (e) => e.via },
      { label: 'Address', cell: (e) => e.address || '—' },
    ],
    fetchPage: async (after) => (await gql(`query ($first: Int!, $after: String) { viewer { organization { auditLog(first: $first, after: $after) {
      edges { node { id at action targetType targetId actor { userId credentialType credentialId } via address userAgent detail } } ${PAGE} } } } }`,
    { first: 50, after })).viewer.organization.auditLog,
  });
  table.reload();
  return table;
}

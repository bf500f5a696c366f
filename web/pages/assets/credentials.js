// credentials.js: the API Keys and OAuth Clients sections and the "Connect
// your AI editor" panel of Workspace Settings. Owners and admins list the
// whole organization's credentials (with an owner column); a member lists
// their own. Secrets appear only in the show-once dialog.

import { gql, getJSON } from './api.js';
import {
  h, $, time, announce, openDialog, confirmDialog, secretDialog, clearErrors, showError, busy,
} from './ui.js';
import { PagedTable } from './table.js';

const KEY = 'id name hint scopes owner { id email name } createdAt expiresAt lastUsedAt revokedAt status';
const CLIENT = 'id name clientId secretHint scopes owner { id email name } createdAt lastUsedAt revokedAt status';
const PAGE = 'pageInfo { hasNextPage endCursor }';

// listQuery reads a page of apiKeys or oauthClients: the organization's for
// owners and admins, the caller's own for members.
function listQuery(field, fields, admin) {
  const conn = `${field}(first: $first, after: $after, includeRevoked: $rev) { edges { node { ${fields} } } ${PAGE} }`;
  const body = admin ? `viewer { organization { ${conn} } }` : `viewer { ${conn} }`;
  return `query ($first: Int!, $after: String, $rev: Boolean!) { ${body} }`;
}

function connectionOf(data, field, admin) {
  return admin ? data.viewer.organization[field] : data.viewer[field];
}

// ---- Cells ----

function statusBadge(status) {
  return h('span', { class: `badge badge-${status.toLowerCase()}`, text: status.charAt(0) + status.slice(1).toLowerCase() });
}

function scopesCell(scopes, all) {
  if (scopes.length === 0) return h('span', { class: 'muted', text: 'None (identity only)' });
  const everything = all.length > 0 && all.every((s) => scopes.includes(s)) && scopes.length === all.length;
  if (everything) {
    return h('span', { class: 'chip', title: scopes.join(' '), text: `all ${scopes.length} scopes` });
  }
  return h('ul', { class: 'chips', 'aria-label': 'Scopes' }, scopes.map((s) => h('li', { class: 'chip', text: s })));
}

function ownerCell(owner, me) {
  if (owner.id === me) return h('span', {}, owner.email, ' ', h('span', { class: 'badge badge-you', text: 'you' }));
  return h('span', { title: owner.name || owner.email, text: owner.email });
}

// rowError shows an error under a row's buttons.
function rowError(tr, message) {
  const cell = tr && tr.querySelector('.cell-actions');
  if (!cell) {
    announce(message, 'error');
    return;
  }
  let slot = cell.querySelector('.row-error');
  if (!slot) {
    slot = h('span', { class: 'error-text row-error', role: 'alert' });
    cell.append(slot);
  }
  slot.textContent = message;
}

// ---- Forms in dialogs ----

function fillScopes(form, scopes) {
  const box = form.querySelector('[data-scopes]');
  box.textContent = '';
  for (const scope of scopes) {
    box.append(h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'scopes', value: scope, checked: true }), scope));
  }
  if (scopes.length === 0) box.append(h('p', { class: 'muted small', text: 'You hold no scopes: the credential will only prove who it is.' }));
}

function checkedScopes(form) {
  return Array.from(form.querySelectorAll('input[name="scopes"]:checked')).map((i) => i.value);
}

// openForm resets a form dialog and opens it; Cancel (and Escape) close it.
function openForm(dialog, form) {
  form.reset();
  clearErrors(form);
  busy(form, false);
  openDialog(dialog);
  const first = form.querySelector('input, select');
  if (first) first.focus();
}

function closed(dialog) {
  return new Promise((resolve) => {
    if (!dialog.open) {
      resolve();
      return;
    }
    dialog.addEventListener('close', () => resolve(), { once: true });
    dialog.close();
  });
}

function wireClose(dialog) {
  dialog.querySelectorAll('[data-close]').forEach((b) => b.addEventListener('click', () => dialog.close()));
}

// expiryOf turns the form's choice into an RFC 3339 time (or null: never).
function expiryOf(form) {
  const choice = form.elements.expiry.value;
  if (!choice) return null;
  if (choice === 'date') {
    const value = form.elements.expiresAt.value;
    if (!value) throw Object.assign(new Error('Choose the date the key stops working.'), { field: 'expiresAt' });
    const [y, m, d] = value.split('-').map(Number);
    const end = new Date(y, m - 1, d, 23, 59, 59); // the end of that day, where you are
    if (end.getTime() <= Date.now()) throw Object.assign(new Error('Choose a date in the future.'), { field: 'expiresAt' });
    return end.toISOString();
  }
  return new Date(Date.now() + Number(choice) * 86400 * 1000).toISOString();
}

// ---- API Keys ----

export function setupKeys(ctx) {
  const { admin, me } = ctx;
  const section = $('#api-keys');
  const dialog = $('#key-dialog');
  const form = $('#key-form');
  const revoked = $('#keys-revoked');
  wireClose(dialog);
  if (!admin) {
    $('#keys-desc').append(' You see your own keys.');
  } else {
    $('#keys-desc').append(' As an ' + ctx.role.toLowerCase() + ', you see every key of the organization.');
  }

  const columns = [
    { label: 'Name', cell: (k) => h('span', { class: 'name', text: k.name }) },
    { label: 'Key', cell: (k) => h('code', { class: 'nowrap', text: k.hint }) },
    admin ? { label: 'Owner', cell: (k) => ownerCell(k.owner, me) } : null,
    { label: 'Scopes', className: 'cell-scopes', cell: (k) => scopesCell(k.scopes, ctx.scopes) },
    { label: 'Created', cell: (k) => time(k.createdAt) },
    { label: 'Expires', cell: (k) => time(k.expiresAt, { empty: 'Never' }) },
    { label: 'Last used', cell: (k) => time(k.lastUsedAt, { relative: true, empty: 'Never' }) },
    { label: 'Status', cell: (k) => statusBadge(k.status) },
    {
      label: 'Actions', className: 'cell-actions',
      cell: (k) => (k.status === 'ACTIVE'
        ? h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Revoke', 'aria-label': `Revoke ${k.name}`, onClick: () => revoke(k) })
        : ''),
    },
  ].filter(Boolean);

  const query = listQuery('apiKeys', KEY, admin);
  const table = new PagedTable({
    container: $('#keys-list'), more: $('#keys-more'), error: $('#keys-error'),
    caption: admin ? 'API keys of the organization' : 'Your API keys', columns,
    empty: revoked.checked ? 'No keys.' : 'No active keys yet. Click New key to make one.',
    rowClass: (k) => (k.status === 'ACTIVE' ? '' : 'is-inactive'),
    fetchPage: async (after) => connectionOf(await gql(query, { first: 20, after, rev: revoked.checked }), 'apiKeys', admin),
  });
  revoked.addEventListener('change', () => table.reload());

  async function revoke(k) {
    const ok = await confirmDialog({
      title: `Revoke “${k.name}”?`,
      body: `Every request with the key ${k.hint} is refused from now on. This cannot be undone.`,
      confirm: 'Revoke',
    });
    if (!ok) return;
    const tr = table.rows.get(k.id);
    try {
      const data = await gql(`mutation ($id: ID!) { revokeApiKey(id: $id) { ${KEY} } }`, { id: k.id });
      if (revoked.checked) table.update(data.revokeApiKey);
      else table.remove(k.id);
      announce(`Key “${k.name}” revoked. Requests with it are refused from now on.`);
      focusHeading(section);
    } catch (err) {
      rowError(tr, err.message);
    }
  }

  $('#new-key').addEventListener('click', () => {
    fillScopes(form, ctx.scopes);
    $('#key-date-field').hidden = true;
    openForm(dialog, form);
  });
  form.elements.expiry.addEventListener('change', () => {
    $('#key-date-field').hidden = form.elements.expiry.value !== 'date';
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const name = form.elements.name.value.trim();
    if (!name) {
      showError(form, { field: 'name', message: 'Give the key a name.' });
      return;
    }
    let expiresAt;
    try {
      expiresAt = expiryOf(form);
    } catch (err) {
      showError(form, err);
      return;
    }
    busy(form, true);
    let secret;
    let created;
    try {
      const data = await gql(`mutation ($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret apiKey { ${KEY} } } }`,
        { in: { name, scopes: checkedScopes(form), expiresAt } });
      secret = data.createApiKey.secret;
      created = data.createApiKey.apiKey;
    } catch (err) {
      busy(form, false);
      showError(form, err);
      return;
    }
    await closed(dialog);
    table.reload();
    await secretDialog({
      title: 'Your new API key',
      intro: `“${created.name}” is ready. Send it as Authorization: Bearer <key>.`,
      items: [{ label: 'API key', value: secret }],
      note: 'Copy the key now: it will not be shown again. Pentographer keeps only a fingerprint of it.',
    });
    secret = null;
    announce(`Key “${created.name}” created.`);
  });

  table.ready = table.reload();
  return table;
}

// ---- OAuth Clients ----

export function setupClients(ctx) {
  const { admin, me } = ctx;
  const section = $('#oauth-clients');
  const dialog = $('#client-dialog');
  const form = $('#client-form');
  const revoked = $('#clients-revoked');
  wireClose(dialog);
  $('#clients-desc').append(admin ? ' You see every client of the organization.' : ' You see your own clients.');

  const columns = [
    { label: 'Name', cell: (c) => h('span', { class: 'name', text: c.name }) },
    {
      label: 'Client ID',
      cell: (c) => h('span', {}, h('code', { class: 'break-all', text: c.clientId }),
        h('span', { class: 'sub' }, 'secret ', h('code', { text: c.secretHint }))),
    },
    admin ? { label: 'Owner', cell: (c) => ownerCell(c.owner, me) } : null,
    { label: 'Scopes', className: 'cell-scopes', cell: (c) => scopesCell(c.scopes, ctx.scopes) },
    { label: 'Created', cell: (c) => time(c.createdAt) },
    { label: 'Last used', cell: (c) => time(c.lastUsedAt, { relative: true, empty: 'Never' }) },
    { label: 'Status', cell: (c) => statusBadge(c.status) },
    {
      label: 'Actions', className: 'cell-actions',
      cell: (c) => (c.status === 'ACTIVE'
        ? [
          h('button', { type: 'button', class: 'btn btn-small', text: 'Rotate secret', 'aria-label': `Rotate the secret of ${c.name}`, onClick: () => rotate(c) }),
          h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Revoke', 'aria-label': `Revoke ${c.name}`, onClick: () => revoke(c) }),
        ]
        : ''),
    },
  ].filter(Boolean);

  const query = listQuery('oauthClients', CLIENT, admin);
  const table = new PagedTable({
    container: $('#clients-list'), more: $('#clients-more'), error: $('#clients-error'),
    caption: admin ? 'OAuth clients of the organization' : 'Your OAuth clients', columns,
    empty: 'No active clients yet. Click New client to register one.',
    rowClass: (c) => (c.status === 'ACTIVE' ? '' : 'is-inactive'),
    fetchPage: async (after) => connectionOf(await gql(query, { first: 20, after, rev: revoked.checked }), 'oauthClients', admin),
  });
  revoked.addEventListener('change', () => table.reload());

  const tokenHelp = () => h('p', { class: 'small muted' },
    'Trade them for an access token: ',
    h('code', { text: `POST ${window.location.origin}/api/oauth/token` }),
    ' with grant_type=client_credentials.');

  async function showSecret(title, payload) {
    await secretDialog({
      title,
      intro: `“${payload.client.name}” can now request access tokens.`,
      items: [
        { label: 'Client ID', value: payload.clientId },
        { label: 'Client secret', value: payload.clientSecret },
      ],
      note: 'Copy the client secret now: it will not be shown again. The client ID stays in the list.',
      details: tokenHelp(),
    });
  }

  async function revoke(c) {
    const ok = await confirmDialog({
      title: `Revoke “${c.name}”?`,
      body: 'Its secret stops working and its access tokens are refused from now on. This cannot be undone.',
      confirm: 'Revoke',
    });
    if (!ok) return;
    const tr = table.rows.get(c.id);
    try {
      const data = await gql(`mutation ($id: ID!) { revokeOAuthClient(id: $id) { ${CLIENT} } }`, { id: c.id });
      if (revoked.checked) table.update(data.revokeOAuthClient);
      else table.remove(c.id);
      announce(`Client “${c.name}” revoked.`);
      focusHeading(section);
    } catch (err) {
      rowError(tr, err.message);
    }
  }

  async function rotate(c) {
    const ok = await confirmDialog({
      title: `Rotate the secret of “${c.name}”?`,
      body: 'The current secret stops working at once; the integration needs the new one.',
      confirm: 'Rotate secret',
    });
    if (!ok) return;
    const tr = table.rows.get(c.id);
    let payload;
    try {
      const data = await gql(`mutation ($id: ID!) { rotateOAuthClientSecret(id: $id) { clientId clientSecret client { ${CLIENT} } } }`, { id: c.id });
      payload = data.rotateOAuthClientSecret;
    } catch (err) {
      rowError(tr, err.message);
      return;
    }
    table.update(payload.client);
    await showSecret('New client secret', payload);
    payload = null;
    announce(`The secret of “${c.name}” was rotated.`);
  }

  $('#new-client').addEventListener('click', () => {
    fillScopes(form, ctx.scopes);
    openForm(dialog, form);
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const name = form.elements.name.value.trim();
    if (!name) {
      showError(form, { field: 'name', message: 'Give the client a name.' });
      return;
    }
    busy(form, true);
    let payload;
    try {
      const data = await gql(`mutation ($in: CreateOAuthClientInput!) { createOAuthClient(input: $in) { clientId clientSecret client { ${CLIENT} } } }`,
        { in: { name, scopes: checkedScopes(form) } });
      payload = data.createOAuthClient;
    } catch (err) {
      busy(form, false);
      showError(form, err);
      return;
    }
    await closed(dialog);
    table.reload();
    const clientName = payload.client.name;
    await showSecret('Your new OAuth client', payload);
    payload = null;
    announce(`Client “${clientName}” created.`);
  });

  table.ready = table.reload();
  return table;
}

// ---- Connect your AI editor ----

const editorNames = {
  'claude-code': 'Claude Code', 'claude-desktop': 'Claude Desktop', cursor: 'Cursor', vscode: 'VS Code',
};
const PLACEHOLDER = 'ptg_your_key_here';

export function setupEditor(ctx, keys) {
  const picker = $('#editor-picker');
  const snippet = $('#mcp-snippet');
  const where = $('#mcp-where');
  const error = $('#mcp-error');
  const button = $('#mcp-create');
  const readScopes = ctx.scopes.filter((s) => s.endsWith(':read'));
  const configs = {}; // editor → {snippet, where}

  const chosen = () => picker.querySelector('input[name="editor"]:checked').value;

  async function config(editor) {
    if (!configs[editor]) configs[editor] = await getJSON(`/api/mcp/config?editor=${encodeURIComponent(editor)}`);
    return configs[editor];
  }

  async function show() {
    const editor = chosen();
    button.textContent = `Create a read-only key for ${editorNames[editor]}`;
    error.textContent = '';
    try {
      const c = await config(editor);
      if (editor !== chosen()) return;
      snippet.textContent = c.snippet;
      where.textContent = c.where;
      button.disabled = false;
    } catch (err) {
      snippet.textContent = '';
      where.textContent = '';
      error.textContent = `The settings for ${editorNames[editor]} could not be loaded: ${err.message}`;
      button.disabled = true;
    }
  }

  picker.addEventListener('change', show);

  button.addEventListener('click', async () => {
    const editor = chosen();
    const name = `AI editor (${editorNames[editor]})`;
    error.textContent = '';
    button.disabled = true;
    let text;
    let created;
    try {
      const c = await config(editor);
      const data = await gql('mutation ($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret apiKey { id name } } }',
        { in: { name, scopes: readScopes } });
      created = data.createApiKey.apiKey;
      text = c.snippet.split(PLACEHOLDER).join(data.createApiKey.secret);
      keys.reload();
      await secretDialog({
        title: `Connect ${editorNames[editor]}`,
        intro: c.where,
        items: [{ label: `Settings for ${editorNames[editor]}`, value: text, multiline: true }],
        note: `These settings hold the new key “${created.name}”, with read-only scopes. Copy them now: the key will not be shown again.`,
      });
      text = null;
      announce(`Key “${created.name}” created for ${editorNames[editor]}.`);
    } catch (err) {
      error.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });

  if (readScopes.length === 0) {
    $('#mcp-help').textContent = 'You hold no read scopes, so the key could only prove who it is.';
  } else {
    $('#mcp-help').textContent = `The key gets only the read scopes you hold (${readScopes.join(', ')}). It is listed under API Keys, where you can revoke it.`;
  }
  show();
}

export function focusHeading(section) {
  const heading = section.querySelector('h2');
  heading.setAttribute('tabindex', '-1');
  heading.focus();
}

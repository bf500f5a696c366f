// settings.js: Workspace Settings (/settings). Asks who is signed in, then
// fills each section from the GraphQL API, each on its own so that one slow or
// failing list does not hold up the others.

import { gql, postJSON, currentSession, toLogin } from './api.js';
import { $, $$, openDialog, renderChooser } from './ui.js';
import { setupKeys, setupClients, setupEditor } from './credentials.js';
import { setupMembers, setupAudit } from './members.js';
import { setupAccount } from './account.js';

function fatal(message) {
  const lead = $('#page-lead');
  lead.className = 'alert alert-error';
  lead.textContent = message;
}

function header(session) {
  const org = session.organization;
  $('#org-name').textContent = org.name;
  const role = $('#org-role');
  role.textContent = org.role;
  role.hidden = false;
  $('#me-email').textContent = session.user.email;

  $('#sign-out').addEventListener('click', async (ev) => {
    ev.currentTarget.disabled = true;
    try {
      const res = await postJSON('/logout', {});
      window.location.assign(res.next || '/login');
    } catch (err) {
      toLogin();
    }
  });

  const others = (session.organizations || []).length > 1;
  const switcher = $('#switch-org');
  switcher.hidden = !others;
  if (others) {
    const dialog = $('#org-dialog');
    dialog.querySelectorAll('[data-close]').forEach((b) => b.addEventListener('click', () => dialog.close()));
    switcher.setAttribute('aria-label', `Switch organization (now ${org.name})`);
    switcher.addEventListener('click', () => {
      $('#org-error').textContent = '';
      renderChooser($('#org-list'), session.organizations.filter((o) => o.id !== org.id),
        (err) => { $('#org-error').textContent = err.message; });
      openDialog(dialog);
    });
  }
}

async function start() {
  // Who is signed in, and what they may do: asked together.
  const viewerQuery = gql('{ viewer { user { id email name } role scopes } }');
  viewerQuery.catch(() => {}); // its failure is handled below, once the session is known
  let session;
  try {
    session = await currentSession();
  } catch (err) {
    fatal(err.message);
    return;
  }
  if (!session || !session.user || !session.organization) {
    toLogin();
    return;
  }
  const role = session.organization.role;
  const admin = role === 'ADMIN' || role === 'OWNER';
  header(session);

  // A member sees neither Members nor the Audit log: those parts leave the page.
  if (!admin) $$('[data-admin]').forEach((el) => el.remove());

  let viewer;
  try {
    viewer = (await viewerQuery).viewer;
  } catch (err) {
    fatal(`Workspace Settings could not load: ${err.message}`);
    return;
  }
  const ctx = {
    admin, role: viewer.role, me: viewer.user.id, user: viewer.user, scopes: viewer.scopes,
    orgName: session.organization.name,
  };
  $('#page-lead').textContent = admin
    ? `Credentials, members and the audit log of ${ctx.orgName}.`
    : `Your credentials in ${ctx.orgName}.`;

  const keys = setupKeys(ctx);
  const clients = setupClients(ctx);
  setupEditor(ctx, keys);
  if (admin) {
    const members = setupMembers(ctx);
    members.ready.then(() => setupAudit(members.people));
  }
  setupAccount(ctx);
  // The page is usable once the credentials are listed: marked for the
  // performance timeline (and the tests that read it).
  await Promise.all([keys.ready, clients.ready]);
  window.performance.mark('pentographer:usable');
  document.body.dataset.ready = 'true';
}

start();

// table.js: a paginated list shown as a table (stacked rows on narrow
// screens, where each cell shows its column's name). The rows come from a
// GraphQL connection, a page at a time ("Load more").

import { h } from './ui.js';

export class PagedTable {
  // container: where the table goes; more: the "Load more" button; error:
  // where a loading error is shown; caption: what the table lists (for screen
  // readers); columns: [{ label, cell(node) → Node|string, className }];
  // empty: the text when there is nothing; fetchPage(after) → connection;
  // rowClass(node) → extra class of a row.
  constructor({ container, more, error, caption, columns, empty, fetchPage, rowClass, pageSize = 20 }) {
    Object.assign(this, { container, more, error, caption, columns, empty, fetchPage, rowClass, pageSize });
    this.cursor = null;
    this.rows = new Map(); // node id → <tr>
    this.loading = false;
    if (more) more.addEventListener('click', () => this.loadMore());
  }

  // reload shows the first page again.
  async reload() {
    this.cursor = null;
    this.rows.clear();
    this.tbody = null;
    await this.load(true);
  }

  async loadMore() {
    await this.load(false);
  }

  async load(fresh) {
    if (this.loading) return;
    this.loading = true;
    this.container.setAttribute('aria-busy', 'true');
    if (this.more) this.more.disabled = true;
    try {
      const conn = await this.fetchPage(fresh ? null : this.cursor);
      if (this.error) this.error.textContent = '';
      if (fresh) this.render();
      const firstNew = conn.edges.length ? conn.edges[0].node.id : null;
      for (const edge of conn.edges) this.append(edge.node);
      this.cursor = conn.pageInfo.endCursor;
      if (this.more) this.more.hidden = !conn.pageInfo.hasNextPage;
      this.showEmpty();
      // After "Load more", keyboard users continue at the first new row.
      if (!fresh && firstNew && this.rows.get(firstNew)) {
        const cell = this.rows.get(firstNew).querySelector('td');
        cell.setAttribute('tabindex', '-1');
        cell.focus();
      }
    } catch (err) {
      if (this.error) this.error.textContent = `Could not load the list: ${err.message}`;
      if (fresh) this.render();
      this.showEmpty(true);
    } finally {
      this.loading = false;
      this.container.setAttribute('aria-busy', 'false');
      if (this.more) this.more.disabled = false;
    }
  }

  render() {
    this.container.textContent = '';
    this.tbody = h('tbody');
    this.table = h('table', { class: 'list' },
      h('caption', { class: 'visually-hidden', text: this.caption }),
      h('thead', {}, h('tr', {}, this.columns.map((c) => h('th', { scope: 'col', text: c.label, class: c.className || false })))),
      this.tbody);
    this.emptyNote = h('p', { class: 'empty', text: this.empty });
    this.container.append(this.table, this.emptyNote);
  }

  showEmpty(failed = false) {
    const none = this.rows.size === 0;
    this.table.hidden = none;
    this.emptyNote.hidden = !none || failed;
  }

  row(node) {
    const tr = h('tr', { 'data-id': node.id, class: (this.rowClass && this.rowClass(node)) || false },
      this.columns.map((c) => h('td', { 'data-label': c.label, class: c.className || false }, c.cell(node))));
    return tr;
  }

  append(node) {
    if (this.rows.has(node.id)) return;
    const tr = this.row(node);
    this.rows.set(node.id, tr);
    this.tbody.append(tr);
  }

  // update redraws the row of node in place.
  update(node) {
    const old = this.rows.get(node.id);
    if (!old) return;
    const tr = this.row(node);
    old.replaceWith(tr);
    this.rows.set(node.id, tr);
  }

  remove(id) {
    const tr = this.rows.get(id);
    if (!tr) return;
    tr.remove();
    this.rows.delete(id);
    this.showEmpty();
  }
}

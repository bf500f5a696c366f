// Pentographer GraphQL explorer: renders GraphiQL (window.GraphiQL, from the
// vendored UMD bundle) against the endpoint in <meta name="graphql-endpoint">.
// Loaded as an external script so the page can run under a CSP without
// 'unsafe-inline' scripts.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');

  function fail(message) {
    root.textContent = '';
    var p = document.createElement('p');
    p.className = 'explorer-status explorer-error';
    p.textContent = message;
    root.appendChild(p);
  }

  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    fail('The GraphQL explorer could not load its scripts (React, ReactDOM or GraphiQL is missing).');
    return;
  }

  var meta = document.querySelector('meta[name="graphql-endpoint"]');
  var endpoint = (meta && meta.getAttribute('content')) || '/graphql';

  // Shown in the Headers editor, which is open by default. Headers are not
  // persisted (shouldPersistHeaders: false), so a pasted key is never stored
  // in the browser's localStorage and has to be pasted again after a reload.
  var defaultHeaders = JSON.stringify({ Authorization: 'Bearer ptg_your_key_here' }, null, 2);

  // Short lines: the editor is narrow on phones.
  var defaultQuery = [
    '# Pentographer GraphQL explorer',
    '#',
    '# 1. Put your ptg_ API key or access',
    '#    token in the Headers tab below.',
    '# 2. Click the circular-arrows icon',
    '#    (bottom left) to load the schema.',
    '# 3. Ctrl-Space autocompletes,',
    '#    Ctrl-Enter runs the query.',
    '',
    '{',
    '  __typename',
    '}',
    ''
  ].join('\n');

  var fetcher = window.GraphiQL.createFetcher({ url: endpoint });

  // GraphiQL's shouldPersistHeaders: false keeps headers out of its saved tabs,
  // but the history plugin still saves each run's headers (so the bearer
  // token) in localStorage ("graphiql:queries" / "graphiql:favorites"). This
  // storage wraps localStorage and replaces the headers in whatever GraphiQL
  // writes with the placeholder (tabs get none, as GraphiQL itself does).
  // History keeps working: in the open page GraphiQL uses its in-memory copy
  // (with the real headers); after a reload an entry brings back the
  // placeholder, a reminder to paste the key again.
  var namespace = 'graphiql:';
  function withoutHeaders(key, value) {
    if (key === namespace + 'headers') return null; // never store headers
    var listKey = key === namespace + 'queries' ? 'queries'
      : key === namespace + 'favorites' ? 'favorites'
        : key === namespace + 'tabState' ? 'tabs' : null;
    if (!listKey) return value;
    try {
      var parsed = JSON.parse(value);
      var list = parsed && parsed[listKey];
      if (Array.isArray(list)) {
        list.forEach(function (item) {
          if (item && typeof item === 'object' && 'headers' in item) {
            item.headers = listKey === 'tabs' ? null : defaultHeaders;
          }
        });
      }
      return JSON.stringify(parsed);
    } catch (err) {
      return null; // not what we expected: rather store nothing than a secret
    }
  }
  var storage = null; // null: GraphiQL keeps state in memory only
  try {
    var ls = window.localStorage;
    storage = {
      getItem: function (key) { return ls.getItem(key); },
      setItem: function (key, value) {
        var clean = withoutHeaders(key, String(value));
        if (clean === null) ls.removeItem(key); else ls.setItem(key, clean);
      },
      removeItem: function (key) { ls.removeItem(key); },
      clear: function () {
        Object.keys(ls).forEach(function (key) {
          if (key.indexOf(namespace) === 0) ls.removeItem(key);
        });
      },
      get length() {
        return Object.keys(ls).filter(function (key) { return key.indexOf(namespace) === 0; }).length;
      }
    };
  } catch (err) {
    // localStorage blocked (privacy settings): fall back to memory.
  }

  var e = window.React.createElement;
  var app = e(
    window.GraphiQL,
    {
      fetcher: fetcher,
      storage: storage,
      defaultQuery: defaultQuery,
      headers: defaultHeaders,
      defaultHeaders: defaultHeaders,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false
    },
    e(window.GraphiQL.Logo, null, 'Pentographer')
  );

  root.textContent = '';
  window.ReactDOM.createRoot(root).render(app);
})();

// Pentographer GraphQL explorer: renders GraphiQL (window.GraphiQL, from the
// vendored UMD bundle) against the endpoint in <meta name="graphql-endpoint">.
// Loaded as an external script so the page can run under a CSP without
// 'unsafe-inline' scripts.
//
// Two modes, chosen once when the page loads by asking GET /api/session:
//   - session: a signed-in person. Requests carry the session cookie (same
//     origin); no key is needed and the schema loads at once.
//   - bearer: anyone else. Nothing is sent to the endpoint until the Headers
//     tab holds a well-formed bearer (a ptg_ key with a valid checksum, or a
//     JWT); then the schema loads by itself. GraphiQL introspects only while
//     its `schema` prop is undefined (null means "do not"), and again whenever
//     the fetcher changes, which it does when the bearer does.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  var hint = document.getElementById('explorer-hint');
  var stateLine = document.getElementById('explorer-state');

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

  // ---- Credential shapes (the formats of the server; see auth/secret.go) ----

  var BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  var CRC_TABLE = (function () {
    var table = [];
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
      table.push(c >>> 0);
    }
    return table;
  })();

  function crc32(s) {
    var c = 0xFFFFFFFF;
    for (var i = 0; i < s.length; i++) c = CRC_TABLE[(c ^ s.charCodeAt(i)) & 0xFF] ^ (c >>> 8);
    return (c ^ 0xFFFFFFFF) >>> 0;
  }

  // A ptg_ key: 40 random base62 characters and their CRC-32 in 6 base62
  // digits, most significant first.
  function isAPIKey(s) {
    var m = /^ptg_([0-9A-Za-z]{40})([0-9A-Za-z]{6})$/.exec(s);
    if (!m) return false;
    var v = crc32(m[1]);
    var sum = '';
    for (var i = 0; i < 6; i++) {
      sum = BASE62.charAt(v % 62) + sum;
      v = Math.floor(v / 62);
    }
    return sum === m[2];
  }

  // A JWT: three base64url parts whose first is a JSON header naming an alg.
  function isJWT(s) {
    var m = /^([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.exec(s);
    if (!m) return false;
    try {
      var b64 = m[1].replace(/-/g, '+').replace(/_/g, '/');
      var header = JSON.parse(window.atob(b64 + '===='.slice(b64.length % 4 || 4)));
      return !!header && typeof header.alg === 'string';
    } catch (err) {
      return false;
    }
  }

  var PLACEHOLDER = 'ptg_your_key_here';

  // bearerIn reads the Headers tab (a JSON object) and says what it holds:
  // {kind: 'ok', token} for a well-formed bearer; otherwise kind is
  // 'none', 'placeholder', 'json' (not a JSON object) or 'malformed'.
  function bearerIn(headers) {
    var obj = headers;
    if (typeof headers === 'string') {
      if (headers.trim() === '') return { kind: 'none' };
      try {
        obj = JSON.parse(headers);
      } catch (err) {
        var bare = headers.trim().replace(/^Bearer\s+/i, '');
        return { kind: 'json', bare: isAPIKey(bare) || isJWT(bare) };
      }
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return { kind: obj == null ? 'none' : 'json' };
    var value = null;
    Object.keys(obj).forEach(function (name) {
      if (name.toLowerCase() === 'authorization') value = obj[name];
    });
    if (value == null || value === '') return { kind: 'none' };
    if (typeof value !== 'string') return { kind: 'malformed' };
    var m = /^\s*Bearer\s+(\S+)\s*$/i.exec(value);
    var token = m ? m[1] : value.trim();
    if (token === PLACEHOLDER || /^ptg_your/.test(token) || token === '…' || token === '...') return { kind: 'placeholder' };
    if (!m) return { kind: 'malformed', reason: 'bearer' };
    if (isAPIKey(token) || isJWT(token)) return { kind: 'ok', token: token };
    return { kind: 'malformed' };
  }

  // ---- The hint line above GraphiQL ----

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function setHint(parts) {
    hint.textContent = '';
    parts.forEach(function (p) { hint.appendChild(typeof p === 'string' ? document.createTextNode(p) : p); });
  }

  function setState(text, tone) {
    stateLine.textContent = text;
    stateLine.className = 'explorer-state' + (tone ? ' explorer-state-' + tone : '');
  }

  // ---- State and rendering ----

  var state = {
    mode: 'pending', // 'session' | 'bearer'
    token: null, // the well-formed bearer in the Headers tab (bearer mode)
    fetcher: null
  };

  var defaultHeadersBearer = JSON.stringify({ Authorization: 'Bearer ' + PLACEHOLDER }, null, 2);

  // Short lines: the editor is narrow on phones.
  function defaultQuery(mode) {
    var intro = mode === 'session' ? [
      '# You are signed in: queries run as you,',
      '# no key needed.'
    ] : [
      '# Put your ptg_ API key or access token',
      '# in the Headers tab below; the schema',
      '# then loads by itself.'
    ];
    return ['# Pentographer GraphQL explorer', '#'].concat(intro, [
      '#',
      '# Ctrl-Space autocompletes,',
      '# Ctrl-Enter runs the query.',
      '',
      '{',
      '  viewer {',
      '    role',
      '    user {',
      '      email',
      '    }',
      '  }',
      '}',
      ''
    ]).join('\n');
  }

  // makeFetcher returns GraphiQL's fetcher: a same-origin JSON POST with the
  // headers of the Headers tab. In bearer mode without a well-formed bearer it
  // sends nothing and answers with an explanation instead.
  function makeFetcher(mode, token) {
    return function (params, opts) {
      var given = (opts && opts.headers) || {};
      if (mode !== 'session' && !token) {
        return Promise.resolve({
          errors: [{
            message: 'Nothing was sent: put your ptg_ API key or access token in the Headers tab first, ' +
              'as {"Authorization": "Bearer ptg_…"}.'
          }]
        });
      }
      var headers = { Accept: 'application/graphql-response+json, application/json' };
      Object.keys(given).forEach(function (k) {
        if (typeof given[k] === 'string') headers[k] = given[k];
      });
      headers['Content-Type'] = 'application/json';
      return window.fetch(endpoint, {
        method: 'POST',
        credentials: 'same-origin',
        headers: headers,
        body: JSON.stringify(params)
      }).then(function (res) {
        if (res.status === 401) onUnauthorized();
        return res.text().then(function (text) {
          try {
            return JSON.parse(text);
          } catch (err) {
            return 'HTTP ' + res.status + ': ' + text;
          }
        });
      });
    };
  }

  function onUnauthorized() {
    if (state.mode === 'session') {
      setState('Your session has ended: sign in again, or paste a key in the Headers tab.', 'error');
    } else {
      setState('The server refused this key: it is unknown, expired or revoked.', 'error');
    }
  }

  function onEditHeaders(value) {
    if (state.mode !== 'bearer') return;
    var b = bearerIn(value);
    var token = b.kind === 'ok' ? b.token : null;
    describeBearer(b);
    if (token !== state.token) {
      state.token = token;
      state.fetcher = makeFetcher(state.mode, token);
      render();
    }
  }

  function describeBearer(b) {
    switch (b.kind) {
      case 'ok':
        setState('Loading the schema…');
        break;
      case 'json':
        setState(b.bare
          ? 'Put the key inside the header: {"Authorization": "Bearer ptg_…"}.'
          : 'The Headers tab must hold JSON, e.g. {"Authorization": "Bearer ptg_…"}.', 'error');
        break;
      case 'malformed':
        setState(b.reason === 'bearer'
          ? 'Write the header as "Authorization": "Bearer <key>".'
          : 'That is not a complete ptg_ key or access token: check that it was copied whole.', 'error');
        break;
      default:
        setState('Waiting for a key.');
    }
  }

  function onSchemaChange() {
    setState('Schema loaded.', 'ok');
  }

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
            item.headers = listKey === 'tabs' ? null : defaultHeadersBearer;
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
  var reactRoot = null;
  var headers = null; // the Headers tab's first content, fixed once chosen

  function render() {
    var session = state.mode === 'session';
    var app = e(
      window.GraphiQL,
      {
        fetcher: state.fetcher,
        // undefined: introspect (again whenever the fetcher changes);
        // null: do not, nothing to authenticate with yet.
        schema: session || state.token ? undefined : null,
        onSchemaChange: onSchemaChange,
        onEditHeaders: onEditHeaders,
        storage: storage,
        defaultQuery: defaultQuery(state.mode),
        headers: headers,
        defaultHeaders: headers,
        defaultEditorToolsVisibility: session ? false : 'headers',
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false
      },
      e(window.GraphiQL.Logo, null, 'Pentographer')
    );
    if (!reactRoot) {
      root.textContent = '';
      reactRoot = window.ReactDOM.createRoot(root);
    }
    reactRoot.render(app);
  }

  function start(session) {
    if (session) {
      state.mode = 'session';
      headers = '{}';
      var who = session.user && session.user.email ? session.user.email : 'you';
      var org = session.organization;
      setHint([
        'Signed in as ', el('strong', who),
        org ? ' in ' + org.name + ' (' + org.role + ')' : '',
        ': queries run with your session, no key needed. ',
        el('a', 'Workspace Settings', { href: '/settings' })
      ]);
      setState('Loading the schema…');
    } else {
      state.mode = 'bearer';
      headers = defaultHeadersBearer;
      setHint([
        'Paste your ', el('code', 'ptg_'), ' API key or access token into the ', el('strong', 'Headers'),
        ' tab as ', el('code', '"Authorization": "Bearer ptg_…"'), ', or ',
        el('a', 'sign in', { href: '/login' }), ' to use your session.'
      ]);
      setState('Waiting for a key.');
    }
    state.fetcher = makeFetcher(state.mode, null);
    render();
  }

  // Ask who is signed in. Only a 200 with an organization means session mode;
  // 401, 404, a network error or no answer within 5 s mean bearer mode.
  var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
  var timer = window.setTimeout(function () { if (ctrl) ctrl.abort(); }, 5000);
  window.fetch('/api/session', {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    signal: ctrl ? ctrl.signal : undefined
  }).then(function (res) {
    if (res.status !== 200) return null;
    return res.json().then(function (body) {
      return body && body.user && body.organization ? body : null;
    });
  }).catch(function () {
    return null;
  }).then(function (session) {
    window.clearTimeout(timer);
    start(session);
  });
})();

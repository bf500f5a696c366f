// api.js: how the pages talk to the server. Every request is same-origin JSON
// with the session cookie; the browser adds the Origin header the server
// checks on POSTs. Errors become an APIError with the server's code, its
// message and, when one input caused it, the field.

export class APIError extends Error {
  constructor(message, { code = '', field = '', status = 0, retryAfter = 0 } = {}) {
    super(message);
    this.name = 'APIError';
    this.code = code;
    this.field = field;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

const unreachable = 'The server could not be reached. Check your connection and try again.';

// toLogin leaves for the sign-in page: the session has ended.
export function toLogin() {
  window.location.assign('/login');
}

async function send(url, init) {
  try {
    return await window.fetch(url, { credentials: 'same-origin', ...init });
  } catch (err) {
    throw new APIError(unreachable, { code: 'NETWORK' });
  }
}

async function readJSON(res) {
  try {
    return await res.json();
  } catch (err) {
    return null;
  }
}

// gql runs a GraphQL operation and returns its data. Any error throws; an
// ended session (HTTP 401 or UNAUTHENTICATED) also goes to the sign-in page.
export async function gql(query, variables = {}) {
  const res = await send('/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  if (res.status === 401) {
    toLogin();
    throw new APIError('Your session has ended. Sign in again.', { code: 'UNAUTHENTICATED', status: 401 });
  }
  const body = await readJSON(res);
  if (!body) {
    throw new APIError(`The server answered with an error (HTTP ${res.status}). Try again.`, { status: res.status });
  }
  const first = body.errors && body.errors[0];
  if (first) {
    const ext = first.extensions || {};
    if (ext.code === 'UNAUTHENTICATED') toLogin();
    throw new APIError(first.message || 'The request failed.', {
      code: ext.code || '', field: ext.field || '', status: res.status,
    });
  }
  if (!res.ok || !body.data) {
    throw new APIError(`The server answered with an error (HTTP ${res.status}). Try again.`, { status: res.status });
  }
  return body.data;
}

// request sends a JSON request to one of the server's page endpoints and
// returns the decoded answer, or throws the error it carries.
export async function request(method, url, payload) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (payload !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  const res = await send(url, init);
  const body = await readJSON(res);
  if (res.ok) return body || {};
  const retryAfter = Number((body && body.retry_after) || res.headers.get('Retry-After') || 0);
  throw new APIError((body && body.error_description) || `The server answered with an error (HTTP ${res.status}).`, {
    code: (body && body.error) || '', field: (body && body.field) || '', status: res.status, retryAfter,
  });
}

export const postJSON = (url, payload) => request('POST', url, payload || {});
export const getJSON = (url) => request('GET', url);

// currentSession is the signed-in person, or null when nobody is.
export async function currentSession() {
  try {
    return await getJSON('/api/session');
  } catch (err) {
    if (err.status === 401 || err.status === 404) return null;
    throw err;
  }
}

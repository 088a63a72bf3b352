// The admin API, as the pages call it: JSON in and out, errors as exceptions with the
// server's message. Every call names its path as one string literal (a template literal
// for a path with a parameter), so that a Rust test can check each against the OpenAPI
// document.

/** An error answer: `status` and the API's `error` text. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** `path` with `params` as its query string; empty and null values are left out. */
export function withQuery(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

const unauthorized = [];

/** Calls `f` whenever the API answers 401 (the session ended): the app shows its login. */
export function onUnauthorized(f) {
  unauthorized.push(f);
}

async function call(method, path, params, body) {
  const headers = { Accept: 'application/json', 'X-Ward-UI': '1' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(withQuery(path, params), {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.error) || text || response.statusText;
    if (response.status === 401 && path !== '/api/v1/session') unauthorized.forEach((f) => f());
    throw new ApiError(response.status, message);
  }
  return data;
}

export const get = (path, params) => call('GET', path, params);
export const post = (path, body, params) => call('POST', path, params, body);
export const put = (path, body, params) => call('PUT', path, params, body);
export const del = (path, params) => call('DELETE', path, params);

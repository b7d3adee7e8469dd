/**
 * The one module that touches the network, with two transports behind one
 * `send`: XMLHttpRequest and fetch(). Either way it reports the whole
 * exchange: which API sent it and the line that set its credentials mode,
 * what the script set, what came back (or that the browser hid the reply),
 * and the Set-Cookie the server echoed (scripts may not read Set-Cookie).
 */

import { parseJson } from './format.js';

/**
 * A request, as the panels describe it.
 * @typedef {Object} Request
 * @property {string} method
 * @property {string} url - a path (same origin) or a whole URL (the lab)
 * @property {*} [body] - sent as JSON
 * @property {string} [token] - sent in X-CSRF-Token
 * @property {'xhr'|'fetch'} api
 * @property {boolean} [withCredentials] - ask for cookies on a cross-origin request
 */

/**
 * What `send` reports once the reply (or the failure) is in.
 * @typedef {Object} Sent
 * @property {string} method
 * @property {string} url
 * @property {'xhr'|'fetch'} api
 * @property {string} credentialsLine - the code that set the credentials mode
 * @property {boolean} withCredentials - cookies asked for on a cross-origin request
 * @property {Object<string, string>} headersSet
 * @property {string|null} requestBody
 * @property {number} status - 0 when no reply reached the script
 * @property {boolean} blocked - the browser withheld the reply (CORS, network)
 * @property {Object|null} body - the reply as JSON, or null
 * @property {string} responseText
 * @property {string|null} setCookie - X-Set-Cookie-Echo
 * @property {string|null} servedBy - X-Served-By: the instance that answered
 * @property {string|null} retryAfter - Retry-After (seconds), on the app's own replies
 * @property {number} ms - time taken
 * @property {number} at - when the reply came, Unix ms
 */

/**
 * The line of code that sets a request's credentials mode, as the log shows it.
 * @param {'xhr'|'fetch'} api
 * @param {boolean} withCredentials
 */
export function credentialsLine(api, withCredentials) {
  if (api === 'xhr') {
    return withCredentials ? 'xhr.withCredentials = true;' : 'xhr.withCredentials = false; // the default';
  }
  return withCredentials ? "credentials: 'include'" : "credentials: 'same-origin' // the default";
}

/**
 * Sends one request with the API it names.
 * @param {Request} request
 * @param {function(Sent): void} done
 */
export function send(request, done) {
  const requestBody = request.body === undefined ? null : JSON.stringify(request.body);
  const headersSet = {};
  if (requestBody !== null) headersSet['Content-Type'] = 'application/json';
  if (request.token) headersSet['X-CSRF-Token'] = request.token;
  const started = performance.now();
  const report = {
    method: request.method,
    url: request.url,
    api: request.api,
    credentialsLine: credentialsLine(request.api, Boolean(request.withCredentials)),
    withCredentials: Boolean(request.withCredentials),
    headersSet: headersSet,
    requestBody: requestBody
  };
  /** Completes the report and hands it on. */
  function finish(status, text, header) {
    report.status = status;
    report.blocked = status === 0;
    report.body = parseJson(text);
    report.responseText = text || '';
    // The app's own headers, on its own replies: another origin's reply
    // exposes no such header to the script (and XHR complains if asked).
    const own = status && request.url.charAt(0) === '/';
    report.setCookie = own ? header('X-Set-Cookie-Echo') : null;
    report.servedBy = own ? header('X-Served-By') : null;
    report.retryAfter = own ? header('Retry-After') : null;
    report.ms = Math.round(performance.now() - started);
    report.at = Date.now();
    done(report);
  }
  if (request.api === 'fetch') {
    sendWithFetch(request, headersSet, requestBody, finish);
  } else {
    sendWithXhr(request, headersSet, requestBody, finish);
  }
}

/** The XMLHttpRequest transport. */
function sendWithXhr(request, headersSet, requestBody, finish) {
  const xhr = new XMLHttpRequest();
  xhr.open(request.method, request.url);
  xhr.withCredentials = Boolean(request.withCredentials);
  Object.keys(headersSet).forEach(function (name) { xhr.setRequestHeader(name, headersSet[name]); });
  xhr.onloadend = function () {
    finish(xhr.status, xhr.status ? xhr.responseText : '', function (name) { return xhr.getResponseHeader(name); });
  };
  xhr.send(requestBody);
}

/** The fetch() transport. A rejected promise is a reply the browser withheld. */
function sendWithFetch(request, headersSet, requestBody, finish) {
  fetch(request.url, {
    method: request.method,
    headers: headersSet,
    body: requestBody,
    credentials: request.withCredentials ? 'include' : 'same-origin'
  }).then(function (response) {
    return response.text().then(function (text) {
      finish(response.status, text, function (name) { return response.headers.get(name); });
    });
  }).catch(function () {
    finish(0, '', function () { return null; });
  });
}

/**
 * The page's state and its one cycle, shared by every panel: send a request
 * (through transport.js), log it, keep the CSRF token and the session the
 * reply reports, then show an explanation. The log, the explanations, the
 * last session and store seen and the API chosen are kept in sessionStorage,
 * so a reload of this tab keeps them (capped); nothing else is.
 */

import { cookieLifetime } from './explain.js';
import { maskPassword } from './format.js';
import { describeWhoAfterMe, sessionAfterMe } from './login-explain.js';
import { renderWho } from './login-view.js';
import { send } from './transport.js';
import {
  el, renderApi, renderCookies, renderCountdown, renderExplanation, renderKnownExpiry, renderLogEntry, renderSession, renderStore, trimList
} from './view.js';

const MAX_LOG_ENTRIES = 50;
const MAX_EXPLANATIONS = 8;
/** A logged response body is cut here before it is kept across reloads. */
const MAX_KEPT_BODY = 4096;
const STORAGE_KEY = 'ajax-sessions:page';
/** The replies whose `session` member is the learner's session. */
const SESSION_ENDPOINTS = ['/get-session-data', '/update-session-data', '/regenerate-session', '/clear-session', '/login', '/logout'];

/**
 * What the page knows, kept across reloads of this tab.
 * @type {{log: Object[], explanations: Object[], lastSession: (Object|null),
 *   lastStore: ({store: string, servedBy: string}|null), api: ('xhr'|'fetch'),
 *   lifetime: ('persistent'|'browser-session'|null)}}
 *   lifetime: what the last Set-Cookie with an id made of the cookie
 */
const state = loadState();
/** The session's CSRF token: from the page, then from each JSON reply. */
let csrfToken = el.csrfMeta ? el.csrfMeta.content : '';

/**
 * The kept state, or a fresh one.
 * @returns {typeof state}
 */
function loadState() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (kept && Array.isArray(kept.log) && Array.isArray(kept.explanations)) {
      // A log kept by an earlier version of the page may hold a password.
      kept.log.forEach(function (entry) { if (entry) entry.requestBody = maskPassword(entry.requestBody); });
      return kept;
    }
  } catch (err) {
    // Storage off or the kept text broken: start afresh.
  }
  return { log: [], explanations: [], lastSession: null, lastStore: null, api: 'xhr', lifetime: null };
}

/** Keeps the state for the next load of this tab. */
function saveState() {
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state));
  } catch (err) {
    // Storage full or off: the page works on, without the memory.
  }
}

/**
 * The log's record of an exchange: the token cut to its first characters,
 * a password masked, a long body cut, cookie names only.
 * @param {import('./transport.js').Sent} x
 * @returns {Object} what view.js `renderLogEntry` draws
 */
function logEntryOf(x) {
  const headersSet = {};
  Object.keys(x.headersSet).forEach(function (name) {
    headersSet[name] = name === 'X-CSRF-Token' ? x.headersSet[name].slice(0, 8) + '…' : x.headersSet[name];
  });
  const text = x.body ? JSON.stringify(x.body, null, 2) : x.responseText;
  return {
    method: x.method,
    url: x.url,
    api: x.api,
    credentialsLine: x.credentialsLine,
    withCredentials: x.withCredentials,
    status: x.status,
    ms: x.ms,
    headersSet: headersSet,
    requestBody: maskPassword(x.requestBody),
    received: x.body && Array.isArray(x.body.cookies_received) ? x.body.cookies_received : null,
    setCookie: x.setCookie,
    servedBy: x.servedBy,
    responseText: text.length > MAX_KEPT_BODY ? text.slice(0, MAX_KEPT_BODY) + '\n… (cut)' : text
  };
}

/**
 * Sends a request with the API chosen at the top (unless it names one),
 * logs it, keeps the token and the session it reports, and calls back with
 * the exchange (plus `before`, the session known before).
 * @param {{method: string, url: string, body?: *, token?: string, api?: string, withCredentials?: boolean}} request
 * @param {function(Object): void} done
 */
export function request(request, done) {
  const before = state.lastSession;
  if (!request.api) request.api = state.api;
  send(request, function (x) {
    x.before = before;
    logExchange(x);
    keepWhatTheReplySays(x);
    renderCookies(document.cookie);
    saveState();
    done(x);
  });
}

/**
 * Adds an exchange to the log, kept and drawn (unfolded).
 * @param {import('./transport.js').Sent} x
 */
function logExchange(x) {
  const entry = logEntryOf(x);
  state.log.unshift(entry);
  state.log.length = Math.min(state.log.length, MAX_LOG_ENTRIES);
  renderLogEntry(entry, { open: true });
  // Requests answered since this page loaded (the log itself is capped).
  el.log.dataset.answered = String(Number(el.log.dataset.answered || 0) + 1);
  trimList(el.log, MAX_LOG_ENTRIES);
}

/**
 * Keeps the token, the store and the session a reply reports, and draws
 * the last two.
 * @param {import('./transport.js').Sent} x
 */
function keepWhatTheReplySays(x) {
  const body = x.body;
  if (body && typeof body.csrf_token === 'string') setToken(body.csrf_token);
  if (body && typeof body.store === 'string') {
    state.lastStore = { store: body.store, servedBy: body.served_by };
    renderStore(state.lastStore);
  }
  const sessionEndpoint = SESSION_ENDPOINTS.indexOf(x.url.split('?')[0]) >= 0;
  const lifetime = cookieLifetime(x.setCookie).kind;
  if (lifetime === 'persistent' || lifetime === 'browser-session') state.lifetime = lifetime;
  if (lifetime === 'removed') state.lifetime = null;
  if (body && body.session && !body.error && sessionEndpoint) {
    if (!body.session.active) setToken('');
    state.lastSession = body.session;
    renderSession(body);
    renderCountdown(state.lastSession, Date.now());
    renderWho(state.lastSession);
  } else if (body && body.error && body.error.code === 'no_session' && sessionEndpoint) {
    // The server says there is no live session: the summary must stop
    // showing one (it shows the refusal itself as the last reply).
    setToken('');
    state.lastSession = { active: false };
    renderSession(body);
    renderCountdown(state.lastSession, Date.now());
    renderWho(state.lastSession);
  } else if (x.url.split('?')[0] === '/me') {
    keepWhatMeSays(x);
  }
}

/**
 * GET /me counts as activity: its reply's expiry becomes the one the page
 * counts down to, when it is about the login the page knew. The status
 * line says what /me answered (a 401 ends "Logged in as …").
 * @param {import('./transport.js').Sent} x
 */
function keepWhatMeSays(x) {
  const after = sessionAfterMe(state.lastSession, x);
  if (after) {
    state.lastSession = after;
    renderKnownExpiry(after);
    renderCountdown(state.lastSession, Date.now());
  }
  const body = x.body;
  if (x.status === 401 && body && Array.isArray(body.cookies_received) && body.cookies_received.indexOf('session_id') < 0) {
    // No session cookie went out: the server knows no session for it.
    setToken('');
    state.lastSession = { active: false };
    renderCountdown(state.lastSession, Date.now());
  }
  const who = describeWhoAfterMe(x);
  if (who) renderWho(state.lastSession, who);
}

/**
 * Shows and keeps an explanation.
 * @param {import('./explain.js').Explanation} explanation
 */
export function explain(explanation) {
  state.explanations.unshift(explanation);
  state.explanations.length = Math.min(state.explanations.length, MAX_EXPLANATIONS);
  renderExplanation(explanation);
  trimList(el.explain, MAX_EXPLANATIONS);
  saveState();
}

/**
 * Keeps the token for the next request, in memory and in the meta tag.
 * @param {string} token
 */
function setToken(token) {
  csrfToken = token;
  if (el.csrfMeta) el.csrfMeta.content = token;
}

/**
 * The session's CSRF token as the page last learnt it ('' when none).
 * @returns {string}
 */
export function currentToken() {
  return csrfToken;
}

/**
 * The `session` member of the last session reply this tab saw, or null.
 * @returns {Object|null}
 */
export function lastSession() {
  return state.lastSession;
}

/**
 * What the last Set-Cookie with an id this tab saw made of the cookie.
 * @returns {'persistent'|'browser-session'|null}
 */
export function lastLifetime() {
  return state.lifetime || null;
}

/**
 * The last session seen, forgotten: on a load, the page's own request (GET
 * /) wrote the session since it was seen, so the next read is not compared
 * with it as "before".
 * @returns {Object|null} the session forgotten
 */
export function forgetLastSession() {
  const kept = state.lastSession;
  state.lastSession = null;
  return kept;
}

/**
 * Chooses the API every panel's requests use, keeps and shows the choice.
 * @param {'xhr'|'fetch'} api
 */
export function chooseApi(api) {
  state.api = api;
  saveState();
  renderApi(state.api);
}

/** Draws what the tab kept: the API chosen, the log, the explanations, the countdown and the store. */
export function renderKept() {
  renderApi(state.api);
  state.log.slice().reverse().forEach(function (entry) { renderLogEntry(entry, { open: false }); });
  state.explanations.slice().reverse().forEach(renderExplanation);
  renderCountdown(state.lastSession, Date.now());
  renderWho(state.lastSession);
  if (state.lastStore) renderStore(state.lastStore);
}

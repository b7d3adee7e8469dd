/**
 * ajax-sessions: the page's script (an ES module, no build step). This file
 * holds the page's state and the actions, and wires them to the controls.
 * transport.js is the only module that touches the network, view.js only
 * draws, and explain.js decides every sentence from the exchange itself.
 */

import { send } from './transport.js';
import { explainBurst, explainCookieWrite, explainExchange, explainPageLoad } from './explain.js';
import {
  el, renderBurst, renderBurstPending, renderCookies, renderCountdown, renderExplanation,
  renderApi, renderLogEntry, renderOriginCurl, renderSession, renderStore, renderTheme, trimList
} from './view.js';

const MAX_LOG_ENTRIES = 50;
const MAX_EXPLANATIONS = 8;
/** A logged response body is cut here before it is kept across reloads. */
const MAX_KEPT_BODY = 4096;
const STORAGE_KEY = 'ajax-sessions:page';
const SESSION_ENDPOINTS = ['/get-session-data', '/update-session-data', '/regenerate-session', '/clear-session'];

/** The burst's own keys: overwritten by every burst, so they never pile up. */
const BURST_KEYS = Array.from({ length: 20 }, function (_, i) {
  return 'burst_' + String(i + 1).padStart(2, '0');
});

/**
 * What the page knows, kept in sessionStorage so that a reload keeps the
 * log and the explanations (this tab only, capped).
 */
const state = loadState();
/** The session's CSRF token: from the page, then from each JSON reply. */
let csrfToken = el.csrfMeta ? el.csrfMeta.content : '';
let burstRuns = 0;

// ---------------------------------------------------------------------
// State kept across reloads
// ---------------------------------------------------------------------

/** The kept state, or a fresh one. */
function loadState() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (kept && Array.isArray(kept.log) && Array.isArray(kept.explanations)) return kept;
  } catch (err) {
    // Storage off or the kept text broken: start afresh.
  }
  return { log: [], explanations: [], lastSession: null, lastStore: null, api: 'xhr' };
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
 * a long body cut, cookie names only.
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
    status: x.status,
    ms: x.ms,
    headersSet: headersSet,
    requestBody: x.requestBody,
    received: x.body && Array.isArray(x.body.cookies_received) ? x.body.cookies_received : null,
    setCookie: x.setCookie,
    servedBy: x.servedBy,
    responseText: text.length > MAX_KEPT_BODY ? text.slice(0, MAX_KEPT_BODY) + '\n… (cut)' : text
  };
}

// ---------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------

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
    const entry = logEntryOf(x);
    state.log.unshift(entry);
    state.log.length = Math.min(state.log.length, MAX_LOG_ENTRIES);
    renderLogEntry(entry, { open: true });
    // Requests answered since this page loaded (the log itself is capped).
    el.log.dataset.answered = String(Number(el.log.dataset.answered || 0) + 1);
    trimList(el.log, MAX_LOG_ENTRIES);
    const body = x.body;
    if (body && typeof body.csrf_token === 'string') setToken(body.csrf_token);
    if (body && typeof body.store === 'string') {
      state.lastStore = { store: body.store, servedBy: body.served_by };
      renderStore(state.lastStore);
    }
    if (body && body.session && !body.error && SESSION_ENDPOINTS.indexOf(x.url.split('?')[0]) >= 0) {
      if (!body.session.active) setToken('');
      state.lastSession = body.session;
      renderSession(body);
      renderCountdown(state.lastSession, Date.now());
    }
    renderCookies(document.cookie);
    saveState();
    done(x);
  });
}

/** Shows and keeps an explanation. */
export function explain(explanation) {
  state.explanations.unshift(explanation);
  state.explanations.length = Math.min(state.explanations.length, MAX_EXPLANATIONS);
  renderExplanation(explanation);
  trimList(el.explain, MAX_EXPLANATIONS);
  saveState();
}

/** Keeps the token for the next request, in memory and in the meta tag. */
function setToken(token) {
  csrfToken = token;
  if (el.csrfMeta) el.csrfMeta.content = token;
}

/** A POST to a session endpoint with the session's token, explained. */
function postAndExplain(url, body) {
  request({ method: 'POST', url: url, body: body, token: csrfToken }, function (x) {
    explain(explainExchange(x));
  });
}

// ---------------------------------------------------------------------
// Cookies written by JavaScript
// ---------------------------------------------------------------------

/** Whether document.cookie shows `name` (with exactly `value`, when given). */
function cookieVisible(name, value) {
  return document.cookie.split('; ').some(function (pair) {
    const at = pair.indexOf('=');
    return pair.slice(0, at) === name && (value === undefined || pair.slice(at + 1) === value);
  });
}

/** A cookie's value as document.cookie shows it, decoded, or ''. */
function readCookie(name) {
  const pair = document.cookie.split('; ').find(function (p) { return p.split('=')[0] === name; });
  if (!pair) return '';
  try {
    return decodeURIComponent(pair.slice(name.length + 1));
  } catch (err) {
    return pair.slice(name.length + 1);
  }
}

/**
 * Writes (or, with maxAge 0, deletes) a cookie for the whole site, then
 * sends a read so that the server reports what the next request carried,
 * and explains the two together.
 * @param {string} name
 * @param {string} value
 * @param {number} maxAge - seconds; 0 deletes
 * @param {string} [after] - a sentence to add, about what the cookie is for
 */
function writeCookieAndCheck(name, value, maxAge, after) {
  const written = encodeURIComponent(value);
  const visibleBefore = cookieVisible(name);
  document.cookie = name + '=' + written + '; Path=/; Max-Age=' + maxAge + '; SameSite=Lax';
  const deleting = maxAge === 0;
  const visibleAfter = deleting ? cookieVisible(name) : cookieVisible(name, written);
  renderCookies(document.cookie);
  request({ method: 'GET', url: '/get-session-data' }, function (x) {
    const said = explainCookieWrite({
      name: name,
      value: value,
      written: written,
      deleting: deleting,
      visibleBefore: visibleBefore,
      visibleAfter: visibleAfter,
      received: x.body && Array.isArray(x.body.cookies_received) ? x.body.cookies_received : null
    });
    if (after && visibleAfter) said.text += ' ' + after;
    explain(said);
  });
}

// ---------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------

/** Draws what the tab kept, then asks the server for the session. */
function onLoad() {
  renderTheme(readCookie('theme') === 'dark' ? 'dark' : 'light');
  renderApi(state.api);
  renderCookies(document.cookie);
  renderOriginCurl(location.origin);
  state.log.slice().reverse().forEach(function (entry) { renderLogEntry(entry, { open: false }); });
  state.explanations.slice().reverse().forEach(renderExplanation);
  renderCountdown(state.lastSession, Date.now());
  if (state.lastStore) renderStore(state.lastStore);
  const kept = state.lastSession;
  // The page's own request wrote the session since `kept` was seen.
  state.lastSession = null;
  request({ method: 'GET', url: '/get-session-data' }, function (x) {
    explain(explainPageLoad(kept, x));
  });
  window.setInterval(function () { renderCountdown(state.lastSession, Date.now()); }, 1000);
}

/** The Refresh button. */
function onRefresh() {
  request({ method: 'GET', url: '/get-session-data' }, function (x) {
    explain(explainExchange(x));
  });
}

/** The cookie form: writes the cookie, then shows what the server received. */
function onSetCookie(event) {
  event.preventDefault();
  const name = el.cookieName.value.trim();
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
    explain({ text: 'A cookie name is letters, digits and a few symbols, with no spaces, "=" or ";". Nothing was written.', tip: '', unexpected: false });
    el.cookieName.focus();
    return;
  }
  writeCookieAndCheck(name, el.cookieValue.value, 86400);
}

/** Deletes the cookie named in the form, then shows the server no longer gets it. */
function onDeleteCookie() {
  writeCookieAndCheck(el.cookieName.value.trim(), '', 0);
}

/** The value field as JSON when it parses, else as the text typed. */
function parseValue(text) {
  try {
    return JSON.parse(text);
  } catch (err) {
    return text;
  }
}

/** The update form: sends {key: value}. */
function onUpdate(event) {
  event.preventDefault();
  const patch = {};
  patch[el.dataKey.value] = parseValue(el.dataValue.value);
  postAndExplain('/update-session-data', patch);
}

/** Sends {key: null}, which deletes the key. */
function onDeleteKey() {
  const patch = {};
  patch[el.dataKey.value] = null;
  postAndExplain('/update-session-data', patch);
}

/** Sends an update without X-CSRF-Token. */
function onNoToken() {
  request({ method: 'POST', url: '/update-session-data', body: { forged: true } }, function (x) {
    explain(explainExchange(x));
  });
}

/**
 * Sends 20 updates at once, each to its own fixed key with this run's value,
 * then reads the data and reports each request's outcome.
 */
function onBurst() {
  renderBurstPending();
  burstRuns += 1;
  const run = Date.now().toString(36) + '-' + burstRuns;
  const outcomes = BURST_KEYS.map(function (key, i) {
    return { key: key, value: run + '#' + (i + 1), status: 0, code: null, newSession: false };
  });
  let pending = outcomes.length;
  /** Fires every update; counts replies, then reads. */
  function fire() {
    outcomes.forEach(function (o) {
      const patch = {};
      patch[o.key] = o.value;
      request({ method: 'POST', url: '/update-session-data', body: patch, token: csrfToken }, function (x) {
        o.status = x.status;
        o.code = x.body && x.body.error ? x.body.error.code : null;
        o.newSession = Boolean(x.body && x.body.csrf_token && x.body.csrf_token !== x.headersSet['X-CSRF-Token']);
        pending -= 1;
        if (pending === 0) count();
      });
    });
  }
  /** Reads the data and explains what it holds. */
  function count() {
    request({ method: 'GET', url: '/get-session-data' }, function (x) {
      const data = x.status === 200 && x.body ? x.body.data || {} : null;
      const result = explainBurst(outcomes, data);
      renderBurst(result, outcomes);
      explain(result);
    });
  }
  // Parallel requests without a live session would each create a session of
  // their own: make sure there is one first.
  request({ method: 'GET', url: '/get-session-data' }, function (x) {
    if (x.body && x.body.session && x.body.session.active) {
      fire();
    } else {
      request({ method: 'POST', url: '/update-session-data', body: {} }, fire);
    }
  });
}

/** The "Send with" control: every panel's requests use the API chosen. */
function onApiChange(event) {
  if (event.target.name !== 'api') return;
  state.api = event.target.value === 'fetch' ? 'fetch' : 'xhr';
  saveState();
  renderApi(state.api);
}

/** Toggles the theme cookie and the page's theme. */
function onThemeToggle() {
  const theme = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  renderTheme(theme);
  writeCookieAndCheck('theme', theme, 31536000,
    'The server reads theme when it renders the page (data-theme on <html>), so a reload shows this theme from the first paint.');
}

// ---------------------------------------------------------------------
// Event wiring
// ---------------------------------------------------------------------

el.themeToggle.addEventListener('click', onThemeToggle);
el.apiChoice.addEventListener('change', onApiChange);
el.cookieForm.addEventListener('submit', onSetCookie);
el.deleteCookie.addEventListener('click', onDeleteCookie);
el.refresh.addEventListener('click', onRefresh);
el.updateForm.addEventListener('submit', onUpdate);
el.deleteKey.addEventListener('click', onDeleteKey);
el.regenerate.addEventListener('click', function () { postAndExplain('/regenerate-session'); });
el.clear.addEventListener('click', function () { postAndExplain('/clear-session'); });
el.noToken.addEventListener('click', onNoToken);
el.burst.addEventListener('click', onBurst);
onLoad();

/**
 * Render functions: they only draw what they are given, always with
 * textContent (never innerHTML), and keep no state of their own.
 */

import {
  cookieHeaderNote, describeAbsoluteCountdown, describeActiveRow, describeCountdown, describeExpiryRow, describeStore, summarizeBurst
} from './explain-panels.js';
import { apiName, formatTime, receivedNote } from './format.js';

/** DOM nodes, looked up once. */
export const el = {
  csrfMeta: document.querySelector('meta[name="csrf-token"]'),
  themeToggle: document.getElementById('theme-toggle'),
  apiChoice: document.getElementById('api-choice'),
  jsCookies: document.getElementById('js-cookies'),
  cookieForm: document.getElementById('cookie-form'),
  cookieName: document.getElementById('cookie-name'),
  cookieValue: document.getElementById('cookie-value'),
  deleteCookie: document.getElementById('delete-cookie'),
  refresh: document.getElementById('refresh'),
  sessionSummary: document.getElementById('session-summary'),
  sessionJson: document.getElementById('session-json'),
  countdown: document.getElementById('countdown'),
  absoluteCountdown: document.getElementById('absolute-countdown'),
  updateForm: document.getElementById('update-form'),
  dataKey: document.getElementById('data-key'),
  dataValue: document.getElementById('data-value'),
  deleteKey: document.getElementById('delete-key'),
  regenerate: document.getElementById('regenerate'),
  clear: document.getElementById('clear'),
  noToken: document.getElementById('no-token'),
  originCurl: document.getElementById('origin-curl'),
  burst: document.getElementById('burst'),
  burstResult: document.getElementById('burst-result'),
  burstOutcomes: document.getElementById('burst-outcomes'),
  explain: document.getElementById('explain'),
  storeWhere: document.getElementById('store-where'),
  storeSummary: document.getElementById('store-summary'),
  log: document.getElementById('log')
};

/** Shows document.cookie as the script sees it. */
export function renderCookies(cookieText) {
  el.jsCookies.textContent = cookieText || '(empty: no cookie is visible to JavaScript)';
}

/** Shows a session reply: a summary and the formatted JSON. */
export function renderSession(body) {
  el.sessionJson.textContent = JSON.stringify(body, null, 2);
  const session = (body && body.session) || { active: false };
  const rows = [['Active', describeActiveRow(session)]];
  if (session.active) {
    rows.push(['Created', formatTime(session.created_at)]);
    rows.push(['Expires', describeExpiryRow(session)]);
    rows.push(['Ends at the latest', formatTime(session.absolute_expires_at)]);
    rows.push(['Idle timeout', session.idle_timeout_seconds + ' s']);
    rows.push(['Id fingerprint', session.id_fingerprint]);
    rows.push(['Logged in as', session.user ? session.user + ' since ' + formatTime(session.authenticated_at) : 'nobody']);
    rows.push(['Page views', String(session.page_views)]);
    rows.push(['Keys in data', String(Object.keys(body.data || {}).length)]);
  } else if (session.reason === 'unknown_or_expired') {
    rows.push(['Why', 'the cookie your browser sent names no live session (expired, cleared, replaced, or never issued)']);
  }
  el.sessionSummary.replaceChildren();
  rows.forEach(function (row) {
    const dt = document.createElement('dt');
    dt.textContent = row[0];
    const dd = document.createElement('dd');
    dd.textContent = row[1];
    el.sessionSummary.append(dt, dd);
  });
  el.sessionSummary.dataset.active = String(Boolean(session.active));
}

/**
 * Updates the summary's Expires row to an expiry learnt since the reply it
 * shows (GET /me counts as activity).
 * @param {Object} session - the session the page knows now
 */
export function renderKnownExpiry(session) {
  setSummaryRow('Expires', describeExpiryRow(session));
}

/** Sets one row of the session summary, when it has that row and the text changed. */
function setSummaryRow(label, text) {
  const rows = el.sessionSummary.querySelectorAll('dt');
  Array.prototype.forEach.call(rows, function (dt) {
    const dd = dt.nextElementSibling;
    if (dt.textContent === label && dd && dd.textContent !== text) dd.textContent = text;
  });
}

/**
 * The live countdowns to the expiry and to the absolute limit the server
 * last reported.
 * @param {Object|null} session - the last `session` member seen
 * @param {number} now - Unix ms
 */
export function renderCountdown(session, now) {
  if (session && session.active && el.sessionSummary.dataset.active === 'true') {
    setSummaryRow('Active', describeActiveRow(session, now));
    setSummaryRow('Expires', describeExpiryRow(session, now));
  }
  drawCountdown(el.countdown, describeCountdown(session, now));
  drawCountdown(el.absoluteCountdown, describeAbsoluteCountdown(session, now));
}

/** Draws one countdown and keeps its seconds in data-seconds. */
function drawCountdown(node, countdown) {
  if (!node) return;
  node.textContent = countdown.text;
  if (countdown.seconds === null) {
    delete node.dataset.seconds;
  } else {
    node.dataset.seconds = String(countdown.seconds);
  }
}

/**
 * Adds one request to the log, newest first.
 * @param {Object} entry - a logged exchange (see exchange.js `logEntryOf`)
 * @param {{open: boolean}} how - open: unfold it and fold the others
 */
export function renderLogEntry(entry, how) {
  const item = document.createElement('li');
  item.dataset.status = String(entry.status);
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  const status = document.createElement('span');
  status.className = 'status ' + statusClass(entry.status);
  status.textContent = entry.status ? String(entry.status) : 'failed';
  const line = document.createElement('span');
  line.textContent = ' ' + entry.method + ' ' + entry.url + ' · ' + apiName(entry.api) + ' · ' + entry.ms + ' ms' +
    (entry.servedBy ? ' · ' + entry.servedBy : '');
  summary.append(status, line);
  details.append(summary);
  const fields = [
    ['Sent with', apiName(entry.api) + '\n' + (entry.credentialsLine || '')],
    ['Headers the script set', formatHeaders(entry)],
    ['Request body', entry.requestBody === null ? '(none)' : entry.requestBody],
    ['Cookies the server received', receivedNote(entry, location.origin)],
    ['Set-Cookie (echoed by the server)', entry.setCookie || '(none)'],
    ['Served by (X-Served-By)', entry.servedBy || '(not said)'],
    ['Response body', entry.status ? entry.responseText || '(empty)' : '(none: the browser gave the script no reply)']
  ];
  const list = document.createElement('dl');
  fields.forEach(function (field) {
    const dt = document.createElement('dt');
    dt.textContent = field[0];
    const dd = document.createElement('dd');
    const pre = document.createElement('pre');
    pre.className = 'code';
    pre.textContent = field[1];
    dd.append(pre);
    list.append(dt, dd);
  });
  details.append(list);
  item.append(details);
  if (how.open) {
    Array.prototype.forEach.call(el.log.querySelectorAll('details[open]'), function (open) {
      open.open = false;
    });
    details.open = true;
  }
  el.log.prepend(item);
}

/**
 * Adds an explanation, newest first.
 * @param {{text: string, tip: string, unexpected: boolean}} explanation
 */
export function renderExplanation(explanation) {
  const item = document.createElement('li');
  if (explanation.unexpected) item.className = 'unexpected';
  // The facts the sentences rest on, for whoever checks them (devtools,
  // the real-browser test).
  if (explanation.claims) item.dataset.claims = JSON.stringify(explanation.claims);
  const text = document.createElement('p');
  text.textContent = (explanation.unexpected ? 'Unexpected: ' : '') + explanation.text;
  item.append(text);
  if (explanation.tip) {
    const hint = document.createElement('p');
    hint.className = 'tip';
    hint.textContent = 'Devtools: ' + explanation.tip;
    item.append(hint);
  }
  el.explain.prepend(item);
  el.explain.scrollTop = 0;
}

/** Keeps at most `max` children of a list, dropping the oldest (last). */
export function trimList(list, max) {
  while (list.children.length > max) list.lastElementChild.remove();
}

/**
 * Shows the burst's summary and each request's outcome.
 * @param {{arrived: number, lost: number, refused: number}} result
 * @param {Array<{key: string, status: number, code: (string|null)}>} outcomes
 */
export function renderBurst(result, outcomes) {
  el.burstResult.textContent = summarizeBurst(result, outcomes.length);
  el.burstResult.dataset.kept = String(result.arrived);
  el.burstOutcomes.replaceChildren();
  outcomes.forEach(function (o) {
    const item = document.createElement('li');
    item.className = 'status ' + statusClass(o.status);
    item.textContent = o.key + ': ' + (o.status ? o.status + (o.code ? ' ' + o.code : '') : 'no reply');
    el.burstOutcomes.append(item);
  });
}

/** Says the burst is on its way. */
export function renderBurstPending() {
  el.burstResult.textContent = 'Sending…';
  delete el.burstResult.dataset.kept;
  el.burstOutcomes.replaceChildren();
}

/** Shows the curl command that forges an Origin, aimed at this server. */
export function renderOriginCurl(origin) {
  el.originCurl.textContent = 'curl -i -X POST \\\n' +
    '  -H \'Origin: http://evil.example\' \\\n' +
    '  -H \'Content-Type: application/json\' \\\n' +
    '  -d \'{}\' ' + origin + '/update-session-data';
}

/**
 * Says where the session lives, from the last reply's `store` and
 * `served_by`.
 * @param {{store: string, servedBy: string}} where
 */
export function renderStore(where) {
  el.storeWhere.textContent = describeStore(where.store);
  el.storeWhere.dataset.store = where.store;
  el.storeSummary.replaceChildren();
  [['Store', where.store], ['Answered by', where.servedBy || '(not said)']].forEach(function (row) {
    const dt = document.createElement('dt');
    dt.textContent = row[0];
    const dd = document.createElement('dd');
    dd.textContent = row[1];
    el.storeSummary.append(dt, dd);
  });
}

/** Reflects the theme on the page and the toggle button. */
export function renderTheme(theme) {
  document.documentElement.dataset.theme = theme;
  el.themeToggle.setAttribute('aria-pressed', String(theme === 'dark'));
  el.themeToggle.textContent = theme === 'dark' ? 'Light theme' : 'Dark theme';
}

/** Shows which API the panels use. */
export function renderApi(api) {
  Array.prototype.forEach.call(el.apiChoice.querySelectorAll('input[name="api"]'), function (input) {
    input.checked = input.value === api;
  });
  document.documentElement.dataset.api = api;
}

/** The CSS class for a status: ok (2xx), refused (4xx) or error. */
function statusClass(status) {
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 400 && status < 500) return 'refused';
  return 'error';
}

/** The headers the script set, one per line, and what became of Cookie. */
function formatHeaders(entry) {
  const headers = entry.headersSet;
  const names = Object.keys(headers);
  const note = cookieHeaderNote(entry.url, Boolean(entry.withCredentials), location.origin);
  if (!names.length) return '(none)\n' + note;
  return names.map(function (name) { return name + ': ' + headers[name]; }).join('\n') + '\n' + note;
}

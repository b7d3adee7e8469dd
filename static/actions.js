/**
 * What the main panels' controls do: each action sends its requests through
 * exchange.js and hands what happened to the explanation modules, which
 * decide every sentence. app.js connects the controls to these.
 */

import {
  chooseApi, currentToken, explain, forgetLastSession, lastLifetime, lastSession, renderKept, request
} from './exchange.js';
import { claimsOf, explainExchange, explainPageLoad } from './explain.js';
import { explainBurst, explainCookieWrite, explainInvalidCookieName } from './explain-panels.js';
import { cookieValue, hasCookie, parseJson, validCookieName } from './format.js';
import {
  el, renderBurst, renderBurstPending, renderCookies, renderCountdown, renderOriginCurl, renderTheme
} from './view.js';

/** The burst's own keys: overwritten by every burst, so they never pile up. */
const BURST_KEYS = Array.from({ length: 20 }, function (_, i) {
  return 'burst_' + String(i + 1).padStart(2, '0');
});
let burstRuns = 0;

/**
 * Sends a request and explains the exchange.
 * @param {{method: string, url: string, body?: *, token?: string}} sent
 */
function sendAndExplain(sent) {
  request(sent, function (x) {
    explain(explainExchange(x));
  });
}

/**
 * A POST to a session endpoint with the session's token, explained.
 * @param {string} url
 * @param {Object} [body]
 */
function postAndExplain(url, body) {
  sendAndExplain({ method: 'POST', url: url, body: body, token: currentToken() });
}

/**
 * Writes (or, with maxAge 0, deletes) a cookie for the whole site, then
 * sends a read so that the server reports what the next request carried,
 * and explains the two together.
 * @param {string} name
 * @param {string} value
 * @param {number} maxAge - seconds; 0 deletes
 * @param {'theme'} [purpose] - what the cookie is for, when the page wrote it for itself
 */
function writeCookieAndCheck(name, value, maxAge, purpose) {
  const written = encodeURIComponent(value);
  const visibleBefore = hasCookie(document.cookie, name);
  document.cookie = name + '=' + written + '; Path=/; Max-Age=' + maxAge + '; SameSite=Lax';
  const deleting = maxAge === 0;
  const visibleAfter = deleting ? hasCookie(document.cookie, name) : hasCookie(document.cookie, name, written);
  const nameVisibleAfter = hasCookie(document.cookie, name);
  renderCookies(document.cookie);
  request({ method: 'GET', url: '/get-session-data' }, function (x) {
    explain(withClaimsOf(x, explainCookieWrite({
      name: name,
      value: value,
      written: written,
      deleting: deleting,
      visibleBefore: visibleBefore,
      visibleAfter: visibleAfter,
      nameVisibleAfter: nameVisibleAfter,
      received: x.body && Array.isArray(x.body.cookies_received) ? x.body.cookies_received : null,
      purpose: purpose
    })));
  });
}

/**
 * An explanation that rests on what the read `x` carried, with that read's
 * claims attached (see explain.js `Claims`) beside its own.
 */
function withClaimsOf(x, explanation) {
  if (x.status) {
    explanation.claims = Object.assign(claimsOf(x), explanation.claims);
  } else {
    // No reply: nothing the browser did can be checked against the claims.
    delete explanation.claims;
  }
  return explanation;
}

/** Draws what the tab kept, then asks the server for the session. */
export function loadPage() {
  renderTheme(cookieValue(document.cookie, 'theme') === 'dark' ? 'dark' : 'light');
  renderCookies(document.cookie);
  renderOriginCurl(location.origin);
  renderKept();
  const kept = forgetLastSession();
  request({ method: 'GET', url: '/get-session-data' }, function (x) {
    explain(explainPageLoad(kept, x, lastLifetime()));
  });
  window.setInterval(function () { renderCountdown(lastSession(), Date.now()); }, 1000);
}

/** The Refresh button: reads the session. */
export function refresh() {
  sendAndExplain({ method: 'GET', url: '/get-session-data' });
}

/**
 * The cookie form: writes the cookie, then shows what the server received.
 * @param {SubmitEvent} event
 */
export function setCookie(event) {
  event.preventDefault();
  const name = el.cookieName.value.trim();
  if (nameRefused(name)) return;
  writeCookieAndCheck(name, el.cookieValue.value, 86400);
}

/** Deletes the cookie named in the form, then shows the server no longer gets it. */
export function deleteCookie() {
  const name = el.cookieName.value.trim();
  if (nameRefused(name)) return;
  writeCookieAndCheck(name, '', 0);
}

/**
 * Says why a cookie name typed cannot be written (empty, or not a token),
 * and puts the cursor there.
 * @param {string} name
 * @returns {boolean} true when it was refused
 */
function nameRefused(name) {
  if (validCookieName(name)) return false;
  explain(explainInvalidCookieName(name));
  el.cookieName.focus();
  return true;
}

/**
 * The update form: sends {key: value}, the value as JSON when it parses,
 * else as the text typed.
 * @param {SubmitEvent} event
 */
export function updateData(event) {
  event.preventDefault();
  const text = el.dataValue.value;
  const patch = {};
  patch[el.dataKey.value] = parseJson(text, text);
  postAndExplain('/update-session-data', patch);
}

/** Sends {key: null}, which deletes the key. */
export function deleteKey() {
  const patch = {};
  patch[el.dataKey.value] = null;
  postAndExplain('/update-session-data', patch);
}

/** Regenerate id: a new id (and token) for the same session. */
export function regenerate() {
  postAndExplain('/regenerate-session');
}

/** Clear session: the server deletes it. */
export function clearSession() {
  postAndExplain('/clear-session');
}

/** Sends an update without X-CSRF-Token. */
export function sendWithoutToken() {
  sendAndExplain({ method: 'POST', url: '/update-session-data', body: { forged: true } });
}

/**
 * Sends 20 updates at once, each to its own fixed key with this run's value,
 * then reads the data and reports each request's outcome.
 */
export function burst() {
  renderBurstPending();
  burstRuns += 1;
  const run = Date.now().toString(36) + '-' + burstRuns;
  const outcomes = BURST_KEYS.map(function (key, i) {
    return { key: key, value: run + '#' + (i + 1), status: 0, code: null, newSession: false };
  });
  let pending = outcomes.length;
  let opened = false;
  /** Fires every update; counts replies, then reads. */
  function fire() {
    const token = currentToken();
    outcomes.forEach(function (o) {
      const patch = {};
      patch[o.key] = o.value;
      request({ method: 'POST', url: '/update-session-data', body: patch, token: token }, function (x) {
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
      const result = explainBurst(outcomes, data, opened);
      renderBurst(result, outcomes);
      explain(withClaimsOf(x, result));
    });
  }
  // Parallel requests without a live session would each create a session of
  // their own: make sure there is one first.
  request({ method: 'GET', url: '/get-session-data' }, function (x) {
    if (x.body && x.body.session && x.body.session.active) {
      fire();
    } else {
      opened = true;
      request({ method: 'POST', url: '/update-session-data', body: {} }, fire);
    }
  });
}

/**
 * The "Send with" control: every panel's requests use the API chosen.
 * @param {Event} event
 */
export function changeApi(event) {
  if (event.target.name !== 'api') return;
  chooseApi(event.target.value === 'fetch' ? 'fetch' : 'xhr');
}

/** Toggles the theme cookie and the page's theme. */
export function toggleTheme() {
  const theme = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  renderTheme(theme);
  writeCookieAndCheck('theme', theme, 31536000, 'theme');
}

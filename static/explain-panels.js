/**
 * What the page says beyond a single exchange, as pure functions of what
 * happened: a cookie written by JavaScript (what document.cookie showed and
 * what the next request carried), a burst of parallel updates (each
 * outcome and the data read afterwards), where the session lives (the
 * reply's `store`) and how long it has left (the last `expires_at` seen).
 * No DOM, no network; `node --test tests/js` checks every case.
 */

import { clock, formatTime, shorten } from './format.js';
import { isCapped, said } from './explain.js';

/** What the theme cookie is for, said once the toggle has stored it. */
const THEME_NOTE = 'The server reads theme when it renders the page (data-theme on <html>), so a reload shows this theme from the first paint.';

/**
 * The most connections a browser opens to one host over HTTP/1.1
 * (Chromium, Firefox); further requests wait for one of them.
 */
const CONNECTIONS_PER_HOST = { count: 6, word: 'six' };

/**
 * The facts a burst's explanation states, as claims; the real-browser test
 * holds them (checked) against the updates Chromium sent and the statuses
 * it received, and against the data in the reply of the read that followed.
 * @typedef {Object} BurstClaims
 * @property {number} sent - (checked) updates sent together
 * @property {boolean} opened - one update with an empty patch went first,
 *   to start a session
 * @property {number} accepted - (checked, with newSessions: the 200s)
 *   answered 200 by the live session
 * @property {number} newSessions - answered 200 with a session of their own
 * @property {Object<string, number>} refused - (checked) how many were
 *   refused, by "status code" ("no reply" for none)
 * @property {number|null} arrived - (checked) accepted updates whose key
 *   holds their value in the data read afterwards (null: the read failed)
 * @property {number} lost - accepted updates that are not
 * @property {number} connectionLimit - (checked) the most connections the
 *   Network tip says the browser opens to the host; when more updates were
 *   sent, some of them waited for a connection another had used (the waves)
 */

/**
 * The claims of a burst (see {@link BurstClaims}).
 * @param {Array<{key: string, value: *, status: number, code: (string|null), newSession: boolean}>} outcomes
 * @param {Object|null} data - the session data read after the burst, or null when the read failed
 * @param {boolean} [opened] - the page first sent one update with an empty
 *   patch to start a session, as there was no live one
 * @returns {BurstClaims}
 */
export function burstClaims(outcomes, data, opened) {
  const accepted = outcomes.filter(function (o) { return o.status === 200 && !o.newSession; });
  const holds = function (o) {
    return Object.prototype.hasOwnProperty.call(data, o.key) && JSON.stringify(data[o.key]) === JSON.stringify(o.value);
  };
  const arrived = data === null ? null : accepted.filter(holds).length;
  return {
    sent: outcomes.length,
    opened: Boolean(opened),
    accepted: accepted.length,
    newSessions: outcomes.filter(function (o) { return o.status === 200 && o.newSession; }).length,
    refused: tally(outcomes.filter(function (o) { return o.status !== 200; })),
    arrived: arrived,
    lost: arrived === null ? 0 : accepted.length - arrived,
    connectionLimit: CONNECTIONS_PER_HOST.count
  };
}

/**
 * Explains a burst of parallel updates from each request's outcome and the
 * data read afterwards, rendered from its claims (`burst`). An error is
 * named as an error, never as a lost update.
 * @param {Array<{key: string, value: *, status: number, code: (string|null), newSession: boolean}>} outcomes
 *   newSession: the reply carried another CSRF token than the one sent, so
 *   the update found no live session and started one of its own
 * @param {Object|null} data - the session data read after the burst, or null when the read failed
 * @param {boolean} [opened] - the page first started a session with one empty update
 * @returns {import('./explain.js').Explanation & {arrived: number, lost: number, refused: number}}
 */
export function explainBurst(outcomes, data, opened) {
  const c = burstClaims(outcomes, data, opened);
  const refused = Object.keys(c.refused).reduce(function (sum, label) { return sum + c.refused[label]; }, 0);
  const lines = [];
  if (c.opened) {
    lines.push('There was no live session, so the page first sent one update with an empty patch ({}), which started one; then it started the ' +
      c.sent + ' together.');
  }
  if (c.arrived === null) {
    lines.push(c.accepted + ' of ' + c.sent + ' updates were accepted, but reading the data afterwards failed, so the page cannot say whether they were kept.');
  } else {
    lines.push(c.arrived + ' of ' + c.sent + ' updates, started at the same time on the same session, each setting its own key, are in the data' +
      (c.arrived === c.sent ? ': all of them.' : '.'));
  }
  if (c.newSessions) {
    lines.push(c.newSessions + ' found no live session when they arrived (it had expired or been cleared), so each started a session of its own, which this browser\'s cookie may no longer name. They are not lost updates.');
  }
  if (refused) {
    lines.push(refused + ' were refused by the server: ' + Object.keys(c.refused).map(function (label) {
      return c.refused[label] + ' × ' + label;
    }).join(', ') + '. A refused update changes nothing; these are errors, not lost updates.');
  }
  if (c.lost) {
    lines.push(c.lost + ' accepted updates are missing from the data: lost updates, which this server is built to prevent.');
  } else if (c.accepted && c.arrived !== null) {
    lines.push('The server runs the requests of one session one at a time: each starts from the session as the one before it left it, changes it, and answers only once its change is stored, so none overwrites another. Many session libraries do not, and keep only some of them.');
  }
  const result = said(lines, 'Network: get-session-data (is there a live session?), ' +
    (c.opened ? 'one update-session-data with {} to start one, ' : '') + 'then ' + c.sent +
    ' update-session-data requests started together, each with its own status, and get-session-data to read the data back. ' +
    'Over HTTP/1.1 the browser opens at most ' + CONNECTIONS_PER_HOST.word + ' connections to one host (Chromium, Firefox) and queues the rest: the Network panel\'s waterfall shows them going out in waves.',
    c.lost > 0 || c.arrived === null || c.newSessions > 0);
  result.arrived = c.arrived || 0;
  result.lost = c.lost;
  result.refused = refused;
  result.claims = { burst: c };
  return result;
}

/** How many outcomes had each answer: {"422 too_many_keys": 3, "no reply": 1}. */
function tally(outcomes) {
  const counts = {};
  outcomes.forEach(function (o) {
    const label = o.status ? o.status + ' ' + (o.code || 'without a JSON error') : 'no reply';
    counts[label] = (counts[label] || 0) + 1;
  });
  return counts;
}

/**
 * The facts a cookie write's explanation states, as claims; those marked
 * (checked) are held by the real-browser test against the browser's cookie
 * jar and the next request's Cookie header.
 * @typedef {Object} CookieWriteClaims
 * @property {string} name
 * @property {string} written - the value as it went into document.cookie, shortened
 * @property {boolean} encoded - percent-encoding changed the value typed
 * @property {boolean} deleting - written with Max-Age=0
 * @property {boolean} visibleBefore - document.cookie showed the name before
 * @property {boolean} visibleAfter - (checked) document.cookie shows it
 *   afterwards (with the written value, unless deleting): the jar holds
 *   such a cookie, not HttpOnly
 * @property {boolean|null} carried - (checked, as cookiesSent) the next
 *   request carried a cookie of that name (null: the reply did not say)
 * @property {boolean} keptOld - a write the browser refused while
 *   document.cookie still shows the name, with its earlier value
 * @property {boolean|null} httpOnlyHeld - (checked) the browser holds an
 *   HttpOnly cookie of that name: carried, yet the name not visible at all
 *   (null: not said)
 * @property {number} size - characters of the name and the value, which
 *   browsers hold to 4,096 together
 * @property {'theme'|null} purpose - the page's theme toggle wrote it
 */

/**
 * The claims of a cookie write (see {@link CookieWriteClaims}).
 * @param {Object} w - as explainCookieWrite takes it
 * @returns {CookieWriteClaims}
 */
export function cookieWriteClaims(w) {
  const carried = w.received ? w.received.indexOf(w.name) >= 0 : null;
  return {
    name: w.name,
    written: shorten(w.written),
    encoded: w.written !== w.value,
    deleting: Boolean(w.deleting),
    visibleBefore: Boolean(w.visibleBefore),
    visibleAfter: Boolean(w.visibleAfter),
    carried: carried,
    keptOld: !w.deleting && !w.visibleAfter && Boolean(w.nameVisibleAfter),
    httpOnlyHeld: carried && !w.visibleAfter && !w.nameVisibleAfter ? true : null,
    size: w.name.length + String(w.written).length,
    purpose: w.purpose || null
  };
}

/**
 * Explains a write (or deletion) of a cookie by JavaScript, from what
 * document.cookie showed before and after and what the next request carried.
 * The sentences are rendered from the claims, which the explanation carries
 * (`cookieWrite`, and `cookiesSent` of the request that followed).
 * @param {{name: string, value: string, written: string, deleting: boolean,
 *   visibleBefore: boolean, visibleAfter: boolean, nameVisibleAfter: (boolean|undefined),
 *   received: (string[]|null)}} w
 *   written: the value as it went into document.cookie (percent-encoded);
 *   visibleAfter: document.cookie shows name=written afterwards (for a
 *   deletion: shows the name at all); nameVisibleAfter: document.cookie
 *   shows the name afterwards, with any value; received: cookies_received
 *   of the request that followed.
 * @param {'theme'} [w.purpose] - 'theme': the page's theme toggle wrote it,
 *   and a stored theme cookie gets a sentence on what the server does with it
 * @returns {import('./explain.js').Explanation}
 */
export function explainCookieWrite(w) {
  const c = cookieWriteClaims(w);
  const explanation = w.deleting ? explainDeletion(c, w.received) : explainWrite(c, w.received);
  explanation.claims = { cookieWrite: c, cookiesSent: w.received };
  return explanation;
}

/** A deletion (Max-Age=0), from its claims. */
function explainDeletion(c, received) {
  const lines = ['JavaScript wrote ' + c.name + ' with Max-Age=0, which asks the browser to drop it.'];
  let unexpected = false;
  if (c.visibleAfter) {
    lines.push('document.cookie still shows it: the browser kept it (it may have been set for another path).');
    unexpected = true;
  } else {
    lines.push(c.visibleBefore ? 'document.cookie no longer shows it.' : 'document.cookie did not show it before either.');
  }
  if (c.carried === true) {
    lines.push('Yet the next request still carried a cookie named ' + c.name + ': one the script cannot see, an HttpOnly cookie, which only the server can change or remove.');
  } else if (c.carried === false) {
    lines.push('The next request, sent just after, did not carry it: cookies_received lists ' + listOrNone(received) + '.');
  }
  return said(lines, 'Application → Cookies; Network → the next request\'s Cookie header.', unexpected);
}

/** A write, from its claims. */
function explainWrite(c, received) {
  const lines = [];
  let unexpected = false;
  if (c.encoded) {
    lines.push('The value went in percent-encoded, as ' + c.written + ', by encodeURIComponent: a ; would end the cookie, and RFC 6265 also leaves commas, spaces, double quotes and backslashes out of a cookie value (browsers differ on those), so the page encodes them all. document.cookie (panel 1) shows the value as stored, encoded; the page decodes it when it reads it back.');
  }
  if (c.visibleAfter) {
    lines.push('JavaScript wrote ' + c.name + ' into document.cookie, which now shows it.');
    if (c.carried === true) {
      lines.push('The next request, sent just after, carried it: the server lists ' + c.name + ' in cookies_received. A cookie a script sets rides along like any other.');
    } else if (c.carried === false) {
      lines.push('Yet the next request did not carry it (cookies_received: ' + listOrNone(received) + '): unexpected.');
      unexpected = true;
    }
    if (c.purpose === 'theme') lines.push(THEME_NOTE);
    return said(lines, 'Application → Cookies shows ' + c.name + ' without the HttpOnly tick; Network → the Cookie request header.', unexpected);
  }
  if (c.httpOnlyHeld) {
    lines.push('The browser refused the write: document.cookie does not show ' + c.name + '=' + c.written +
      ', yet the next request carried a cookie named ' + c.name + '. The browser holds an HttpOnly cookie of that name, and it does not let a script overwrite (or even see) an HttpOnly cookie.');
    return said(lines, 'Application → Cookies: the ' + c.name + ' cookie there has the HttpOnly tick.', false);
  }
  lines.push(c.keptOld
    ? 'The browser did not store it: document.cookie does not show ' + c.name + '=' + c.written +
      ' but still shows ' + c.name + ' with its earlier value, which the browser kept' +
      (c.carried === true ? ' and the next request carried' : '') + '.'
    : 'The browser did not store it: document.cookie does not show ' + c.name + '=' + c.written +
      (c.carried === false ? ', and the next request did not carry it' : '') + '.');
  if (/^__(Host|Secure)-/i.test(c.name)) {
    lines.push('A name that starts with __Host- or __Secure- promises the Secure attribute, which a page on http:// cannot set' +
      (/^__Host-/i.test(c.name) ? ' (__Host- also needs Path=/ and no Domain)' : '') + ', so the browser refuses such a cookie here.');
  } else {
    lines.push(c.size > 4096
      ? 'Name and value come to ' + c.size.toLocaleString('en-US') + ' bytes, over the 4,096 a browser keeps per cookie, so it dropped the write.'
      : 'This demo cannot tell why; devtools → Issues may say.');
    unexpected = c.size <= 4096;
  }
  return said(lines, c.keptOld
    ? 'Application → Cookies: the ' + c.name + ' cookie there still has its earlier value.'
    : 'Application → Cookies: there is no ' + c.name + ' cookie.', unexpected);
}

/** "a, b" or "none". */
function listOrNone(names) {
  return names && names.length ? names.join(', ') : 'none';
}

/**
 * The refusal of a cookie name document.cookie would misread, or of an
 * empty one.
 * @param {string} [name] - the name typed
 * @returns {import('./explain.js').Explanation}
 */
export function explainInvalidCookieName(name) {
  if (!name) {
    return said(['The Name field is empty: type the name of the cookie to set or delete. Nothing was written.'], '', false);
  }
  return said(['A cookie name is letters, digits and a few symbols, with no spaces, "=" or ";". Nothing was written.'], '', false);
}

/**
 * The burst's one-line summary: how many arrived, were refused, were lost.
 * @param {{arrived: number, lost: number, refused: number}} result - from explainBurst
 * @param {number} total - updates sent
 * @returns {string}
 */
export function summarizeBurst(result, total) {
  let text = result.arrived + ' of ' + total + ' parallel updates arrived';
  if (result.refused) text += '; ' + result.refused + ' refused with an error';
  if (result.lost) text += '; ' + result.lost + ' lost';
  return text + '.';
}

/**
 * Where the session lives, from the last reply's `store`.
 * @param {string} store - "memory", "redis", or what a newer server says
 * @returns {string}
 */
export function describeStore(store) {
  if (store === 'redis') {
    return 'In Redis, shared by every instance: it survives restarts of this app, and any instance that uses the same Redis finds it.';
  }
  if (store === 'memory') {
    return 'In this process\'s memory: a restart forgets it, and another instance would not know it.';
  }
  return 'In a store this page does not know: ' + store + '.';
}

/**
 * The countdown to the expiry the server last reported.
 * @param {Object|null} session - the last `session` member seen
 * @param {number} now - Unix ms
 * @returns {{text: string, seconds: (number|null)}} seconds: left, never below 0; null without a live session
 */
export function describeCountdown(session, now) {
  const due = session && session.active ? Date.parse(session.expires_at) : NaN;
  if (isNaN(due)) {
    return { text: 'No live session known to this page, so no expiry to count down to.', seconds: null };
  }
  const left = Math.round((due - now) / 1000);
  // Every save caps the idle expiry at the absolute limit: once it is
  // capped, a request no longer moves it.
  const capped = due >= Date.parse(session.absolute_expires_at);
  if (left <= 0 && capped) {
    return {
      seconds: 0,
      text: 'The expiry the server last reported, ' + formatTime(session.expires_at) + ', was the absolute limit, and it has passed: the server ended this session however active it was. The next request will show it.'
    };
  }
  if (left <= 0) {
    return {
      seconds: 0,
      text: 'The expiry the server last reported, ' + formatTime(session.expires_at) + ', has passed with no request from this page since: the server no longer has this session. The next request will show it.'
    };
  }
  return {
    seconds: left,
    text: capped
      ? 'Expires in ' + clock(left) + ' (at ' + formatTime(session.expires_at) + '), at the absolute limit: a request no longer moves it.'
      : 'Expires in ' + clock(left) + ' (at ' + formatTime(session.expires_at) + ') unless a request comes first.'
  };
}

/**
 * The session summary's Expires row: "unless used again" only while a
 * request can still move the expiry, not once it is the absolute limit,
 * and said to have passed once it has (the summary is the last reply's).
 * @param {Object} session - a live `session` member
 * @param {number} [now] - Unix ms
 * @returns {string}
 */
export function describeExpiryRow(session, now) {
  if (now !== undefined && now >= Date.parse(session.expires_at)) {
    return formatTime(session.expires_at) + ', which has passed: the server no longer has the session';
  }
  return formatTime(session.expires_at) +
    (isCapped(session) ? ', the absolute limit: a request no longer moves it' : ' unless used again');
}

/**
 * The session summary's Active row: the last reply's word, and, once the
 * expiry it reported has passed, that it no longer holds.
 * @param {Object} session - the `session` member of the last reply
 * @param {number} [now] - Unix ms
 * @returns {string}
 */
export function describeActiveRow(session, now) {
  if (!session.active) return 'no';
  return now !== undefined && now >= Date.parse(session.expires_at)
    ? 'yes at the last reply; expired since (its expiry has passed)'
    : 'yes';
}

/**
 * The countdown to the absolute limit the server last reported: the end
 * of the session however active it is, counted from its creation or from
 * the last login.
 * @param {Object|null} session - the last `session` member seen
 * @param {number} now - Unix ms
 * @returns {{text: string, seconds: (number|null)}} seconds: left, never below 0; null without a live session
 */
export function describeAbsoluteCountdown(session, now) {
  const due = session && session.active ? Date.parse(session.absolute_expires_at) : NaN;
  if (isNaN(due)) {
    return { text: 'No live session known to this page, so no absolute limit to count down to.', seconds: null };
  }
  const left = Math.round((due - now) / 1000);
  const from = session.user && session.authenticated_at
    ? 'the login of ' + session.user + ' at ' + formatTime(session.authenticated_at)
    : 'the session\'s creation at ' + formatTime(session.created_at);
  return {
    seconds: Math.max(left, 0),
    text: left > 0
      ? 'Ends in ' + clock(left) + ' at the latest (at ' + formatTime(session.absolute_expires_at) + '), however active: the absolute limit, counted from ' + from + '.'
      : 'The absolute limit the server last reported, ' + formatTime(session.absolute_expires_at) + ', has passed: the server ended this session however active it was. The next request will show it.'
  };
}

/**
 * What the request log says of the Cookie header, which no script sets: the
 * browser adds it, or leaves it out, by the request's target and
 * credentials mode.
 * @param {string} url - a path (same origin) or a whole URL
 * @param {boolean} withCredentials - cookies asked for (cross-origin only)
 * @param {string} pageOrigin - the page's own origin
 * @returns {string}
 */
export function cookieHeaderNote(url, withCredentials, pageOrigin) {
  let target;
  try {
    target = new URL(url, pageOrigin);
  } catch (err) {
    target = new URL(pageOrigin);
  }
  if (target.origin === pageOrigin) return '(the browser adds a Cookie header by itself, with this host\'s cookies, if it holds any)';
  if (!withCredentials) return '(no Cookie header: a cross-origin request without credentials carries no cookies)';
  return '(credentials asked for: the browser adds the cookies it holds for the host ' + target.hostname +
    ', whatever their port, that SameSite and its third-party rules let through)';
}

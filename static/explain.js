/**
 * What the page tells the learner, as pure functions of what happened: the
 * request the script sent, the reply the server gave (status, error code,
 * the cookie names it reports, the echoed Set-Cookie, the expiry) and the
 * session the page knew before. Nothing here looks at which button was
 * pressed or touches the DOM, so `node --test tests/js` checks every case.
 */

import { formatTime, parseJson, shorten, tenth } from './format.js';

/** The cookie that carries the session id. */
const SESSION_COOKIE = 'session_id';

/**
 * One request and its reply, as the transport recorded them.
 * @typedef {Object} Exchange
 * @property {string} method
 * @property {string} url - path and query
 * @property {Object<string, string>} headersSet - headers the script set
 * @property {string|null} requestBody
 * @property {number} status - 0 when no reply came
 * @property {Object|null} body - the reply parsed as JSON
 * @property {string|null} setCookie - X-Set-Cookie-Echo: Set-Cookie, id redacted
 * @property {Object|null} before - the `session` member of the last reply the page saw
 */

/**
 * What the page says about one exchange.
 * @typedef {Object} Explanation
 * @property {string} text - sentences, each true of this exchange
 * @property {string} tip - where to see it in devtools
 * @property {boolean} unexpected - something happened that the usual story does not cover
 * @property {Claims} [claims] - the checkable facts the sentences rest on
 */

/**
 * The facts an explanation of a session exchange asserts about the request
 * and its reply, as data: the page shows them on the explanation
 * (`data-claims`), and the real-browser test checks each against what
 * Chromium says it sent and received.
 * @typedef {Object} Claims
 * @property {string} method
 * @property {string} path - the endpoint, without the query
 * @property {string[]|null} cookiesSent - the names of the cookies the request
 *   carried, in order (null: the reply did not say)
 * @property {boolean} tokenSent - the script set X-CSRF-Token
 * @property {'set'|'removed'|'none'} setCookie - what the reply's Set-Cookie
 *   did to session_id
 * @property {number} status
 * @property {'persistent'|'browser-session'|'none'} cookieLifetime - what the
 *   reply's Set-Cookie made of session_id: a cookie with Max-Age or Expires,
 *   one with neither (the browser drops it when it closes), or no cookie
 *   with an id at all (none set, or the cookie removed)
 */

/**
 * What a Set-Cookie for session_id, as the server echoes it (id redacted),
 * makes of the cookie: persistent (Max-Age or Expires), a browser-session
 * cookie (neither: the browser drops it when it closes), removed (an empty
 * value or a Max-Age of 0), or none (no session_id in it).
 * @param {string|null} setCookie - X-Set-Cookie-Echo
 * @returns {{kind: ('persistent'|'browser-session'|'removed'|'none'), maxAge: (number|null)}}
 */
export function cookieLifetime(setCookie) {
  const text = setCookie || '';
  if (!/^session_id=/.test(text)) return { kind: 'none', maxAge: null };
  const maxAge = /;\s*max-age=(-?\d+)/i.exec(text);
  const seconds = maxAge ? Number(maxAge[1]) : null;
  if (/^session_id=;/.test(text) || (seconds !== null && seconds <= 0)) return { kind: 'removed', maxAge: seconds };
  if (seconds !== null || /;\s*expires=/i.test(text)) return { kind: 'persistent', maxAge: seconds };
  return { kind: 'browser-session', maxAge: null };
}

/**
 * The facts an explanation rests on, read off the exchange.
 * @param {Exchange} x
 */
export function factsOf(x) {
  const body = x.body && typeof x.body === 'object' ? x.body : {};
  const received = Array.isArray(body.cookies_received) ? body.cookies_received : null;
  const setCookie = x.setCookie || '';
  const removal = /^session_id=;/.test(setCookie);
  return {
    received: received,
    sessionCookieSent: received ? received.indexOf(SESSION_COOKIE) >= 0 : null,
    tokenSent: Object.prototype.hasOwnProperty.call(x.headersSet || {}, 'X-CSRF-Token'),
    tokenValue: (x.headersSet || {})['X-CSRF-Token'] || null,
    error: body.error && typeof body.error.code === 'string' ? body.error : null,
    session: body.session && typeof body.session === 'object' ? body.session : null,
    cookieSet: /^session_id=[^;]/.test(setCookie),
    cookieRemoved: removal && /max-age=0|expires=/i.test(setCookie),
    lifetime: cookieLifetime(x.setCookie),
    path: String(x.url || '').split('?')[0]
  };
}

/**
 * Explains one exchange with a session endpoint.
 * @param {Exchange} x
 * @returns {Explanation}
 */
export function explainExchange(x) {
  return withClaims(explainWithoutClaims(x), x);
}

/**
 * The claims an exchange's explanation rests on (see {@link Claims}).
 * @param {Exchange} x
 * @returns {Claims}
 */
export function claimsOf(x) {
  const f = factsOf(x);
  return {
    method: x.method,
    path: f.path,
    cookiesSent: f.received,
    tokenSent: f.tokenSent,
    setCookie: f.cookieSet ? 'set' : f.cookieRemoved ? 'removed' : 'none',
    status: x.status,
    cookieLifetime: f.cookieSet && f.lifetime.kind !== 'removed' && f.lifetime.kind !== 'none' ? f.lifetime.kind : 'none'
  };
}

/** The explanation with its claims attached, for a reply that came. */
function withClaims(explanation, x) {
  if (x.status) explanation.claims = claimsOf(x);
  return explanation;
}

function explainWithoutClaims(x) {
  const f = factsOf(x);
  if (!x.status) {
    return said(['No reply came: the server is not running or the connection failed, so nothing can be said about cookies or the session.'],
      'Network → the request shows (failed).', true);
  }
  if (f.error) return explainRefusal(x, f);
  if (x.status !== 200 || !f.session) {
    return said(['The server answered ' + x.status + ' with a reply this page did not expect; the Response tab shows it as it came.'],
      'Network → ' + f.path.slice(1) + ' → Response.', true);
  }
  switch (f.path) {
    case '/get-session-data': return explainRead(x, f);
    case '/update-session-data': return explainUpdate(x, f);
    case '/regenerate-session': return explainRegenerate(x, f);
    case '/clear-session': return explainClear(x, f);
    default:
      return said(['The server answered ' + x.status + '.'], 'Network → ' + f.path.slice(1) + '.', false);
  }
}

/**
 * Explains the read a page makes as it loads. The page's own request (GET /)
 * counted a page view, which writes the session, between the session this
 * tab saw last (`kept`, from before the reload) and this reply.
 * @param {Object|null} kept - the `session` member this tab saw last
 * @param {Exchange} x - the read, with `before` unset
 * @param {'persistent'|'browser-session'|null} [lifetime] - what the last
 *   Set-Cookie with an id this tab saw made of the cookie; the page's own
 *   response renews it the same way
 * @returns {Explanation}
 */
export function explainPageLoad(kept, x, lifetime) {
  const f = factsOf(x);
  const session = f.session;
  if (!x.status || f.error || !session || !session.active) {
    const said0 = explainExchange(x);
    said0.text = 'The page loaded and its script asked for the session. ' + said0.text;
    return said0;
  }
  return withClaims(pageLoadSaid(kept, x, f, session, lifetime), x);
}

/** explainPageLoad for a live session. */
function pageLoadSaid(kept, x, f, session, lifetime) {
  const lines = ['The page loaded and its script asked for the session.', cookieSentence(f)];
  if (kept && kept.active && kept.created_at !== session.created_at) {
    lines.push('This is not the session this tab saw before (that one was created at ' + formatTime(kept.created_at) +
      '): the server no longer had it. This one was created at ' + formatTime(session.created_at) + '.');
  } else if (kept && kept.active) {
    lines.push('It is the same session this tab saw before the reload (created at ' + formatTime(session.created_at) + ').');
  }
  lines.push(session.page_views === 1
    ? 'Loading the page counted the session\'s first page view.'
    : 'Loading the page counted page view ' + session.page_views + '.');
  lines.push(session.page_views === 1 && !(kept && kept.active)
    ? 'A page view is a write: the page\'s own response (GET /) carried Set-Cookie with the session\'s id, and the session expires at ' +
      formatTime(session.expires_at) + ' (the idle timeout, ' + session.idle_timeout_seconds + ' s, after the load) unless a request comes first.'
    : 'A page view is a write, so it moved the expiry to ' + formatTime(session.expires_at) + ' (the idle timeout, ' +
      session.idle_timeout_seconds + ' s, after the load), and the page\'s own response (GET /) carried Set-Cookie ' + pageRenewal(session, lifetime) + '.');
  return said(lines, 'Network → the page request (/) → Response Headers → Set-Cookie; then get-session-data → Request Headers → Cookie.',
    f.sessionCookieSent === false);
}

/**
 * How the page's own response (which the script cannot see) renewed the
 * cookie: as the last Set-Cookie this tab saw did. An anonymous session's
 * cookie always has a Max-Age; a logged-in one's has none after a login
 * without "remember me", so without knowing which, the page says neither.
 */
function pageRenewal(session, lifetime) {
  if (lifetime === 'browser-session') return 'again, still without Max-Age or Expires (a browser-session cookie)';
  if (lifetime === 'persistent' || !session.user) return 'with a fresh Max-Age';
  return 'again';
}

/**
 * How a write's Set-Cookie renewed the session cookie, from its echo:
 * "with a fresh Max-Age", or, after a login without "remember me", still
 * as a browser-session cookie.
 */
function renewal(f) {
  return f.lifetime.kind === 'browser-session'
    ? 'again, still without Max-Age or Expires: a browser-session cookie, which the browser keeps until it closes'
    : 'with a fresh Max-Age';
}

/**
 * The sentence about the session cookie, from the names the server reported.
 * @param {ReturnType<typeof factsOf>} f
 * @returns {string}
 */
export function cookieSentence(f) {
  if (f.sessionCookieSent === null) return 'The reply does not say which cookies arrived.';
  if (f.sessionCookieSent) {
    return 'Your browser attached the session_id cookie by itself (the script sets no Cookie header), and the server received it' +
      otherCookies(f.received) + '.';
  }
  return 'No session_id cookie came with this request: the server received ' + namesOrNone(f.received) + '.';
}

/** ", along with theme and favourite", or nothing. */
function otherCookies(received) {
  const others = received.filter(function (name) { return name !== SESSION_COOKIE; });
  return others.length ? ', along with ' + others.join(', ') : '';
}

/** "the cookies a, b" or "no cookie at all". */
function namesOrNone(received) {
  return received.length ? 'only ' + received.join(', ') : 'no cookie at all';
}

/** The words for a session that no longer exists on the server. */
const GONE = 'the server no longer has this session (expired, cleared or replaced)';

/** GET /get-session-data. */
function explainRead(x, f) {
  const session = f.session;
  const tip = 'Network → get-session-data → Headers: the Cookie request header' +
    (f.cookieSet ? ' and the Set-Cookie response header.' : '.');
  if (!session.active) {
    const lines = [];
    let unexpected = false;
    if (session.reason === 'unknown_or_expired') {
      lines.push('Your browser sent a session_id cookie, but ' + GONE + '.');
      const due = x.before && x.before.active && x.before.expires_at ? Date.parse(x.before.expires_at) : NaN;
      if (!isNaN(due) && x.at && x.at >= due) {
        lines.push('It was due to expire at ' + formatTime(x.before.expires_at) + ' after ' +
          x.before.idle_timeout_seconds + ' s without a request: idle expiry at work.');
      }
      lines.push('The server answered with an empty state and created nothing.');
    } else if (f.sessionCookieSent) {
      lines.push('Your browser sent a session_id cookie, yet the server reports no session and gives no reason; that is not what this demo does.');
      unexpected = true;
    } else {
      lines.push(cookieSentence(f));
      const due = x.before && x.before.active && x.before.expires_at ? Date.parse(x.before.expires_at) : NaN;
      if (!isNaN(due) && x.at && x.at >= due) {
        lines.push('The browser dropped it around ' + formatTime(x.before.expires_at) + ', when the page\'s countdown reached zero: the cookie\'s Max-Age is the idle timeout (' +
          x.before.idle_timeout_seconds + ' s) from the last Set-Cookie, and the server forgot the session at the same moment.');
      }
      lines.push('Without the cookie the server knows no session: it answered with an empty state, and a read creates nothing (no Set-Cookie).');
    }
    if (f.cookieSet) {
      lines.push('Unexpectedly, the reply also set a session cookie.');
      unexpected = true;
    }
    return said(lines, tip, unexpected);
  }
  const lines = [cookieSentence(f)];
  let unexpected = false;
  if (f.sessionCookieSent === false) {
    lines.push('Yet the server found a live session, which this demo never does without the cookie.');
    unexpected = true;
  }
  lines.push('The server looked the id up and answered with the session it keeps: ' +
    countKeys(x.body.data) + ', ' + session.page_views + (session.page_views === 1 ? ' page view.' : ' page views.'));
  const expiry = expirySentences(x.before, session, f);
  return said(lines.concat(expiry.lines), tip, unexpected || expiry.unexpected);
}

/**
 * What happened to the expiry on a read. A read that moves it writes the
 * session, and every write re-sends the cookie, so Set-Cookie tells.
 */
function expirySentences(before, session, f) {
  const cookieSet = f.cookieSet;
  const idle = session.idle_timeout_seconds;
  const expires = formatTime(session.expires_at);
  if (!before || !before.active || before.created_at !== session.created_at) {
    const lines = [];
    if (before && before.active && before.created_at !== session.created_at) {
      lines.push('This is not the session the page saw last (that one was created at ' + formatTime(before.created_at) +
        ', this one at ' + formatTime(session.created_at) + '): another tab or client changed it.');
    }
    lines.push('It expires at ' + expires + ' unless used again' +
      (cookieSet ? '; the reply re-sent the cookie ' + renewal(f) + '.' : '.'));
    return { lines: lines, unexpected: lines.length > 1 };
  }
  if (cookieSet) {
    return {
      lines: ['The read counted as activity: the server moved the expiry from ' + formatTime(before.expires_at) + ' to ' + expires +
        ' and re-sent the cookie (Set-Cookie) ' + renewal(f) +
        (f.lifetime.kind === 'browser-session' ? '.' : ', so the browser keeps it as long.')],
      unexpected: false
    };
  }
  if (before.expires_at === session.expires_at) {
    return {
      lines: ['The expiry did not move: still ' + expires + ', and no Set-Cookie came. The server moves it on a read only once it would move by more than a tenth of the idle timeout (' +
        tenth(idle) + ' of ' + idle + ' s), so quick reads cost no write; the session still lives 90–100 % of the idle timeout after your last request.'],
      unexpected: false
    };
  }
  return {
    lines: ['The expiry changed from ' + formatTime(before.expires_at) + ' to ' + expires + ' without a Set-Cookie in this reply: another request in between must have moved it.'],
    unexpected: true
  };
}

/** POST /update-session-data, accepted. */
function explainUpdate(x, f) {
  const patch = parseJson(x.requestBody);
  const changes = describePatch(patch, x.body.data);
  const tip = headersTip('update-session-data', f) + ' Payload shows the patch.';
  const newSession = !f.tokenSent || f.tokenValue !== x.body.csrf_token;
  if (newSession) {
    const lines = [];
    if (f.sessionCookieSent) {
      lines.push('Your browser sent a session_id cookie, but ' + GONE + ', so there was no token to check.');
    } else {
      lines.push(cookieSentence(f), 'Without a live session there is nothing to forge a request against, so no token was needed.');
    }
    lines.push('The server created a new session, applied the patch to its empty data (' + changes + ') and sent Set-Cookie with the new session\'s id; the reply carries its new CSRF token, which the page keeps for the next change.');
    const unexpected = !f.cookieSet;
    if (unexpected) lines.push('Unexpectedly, no Set-Cookie came back, so the browser holds no cookie for the new session.');
    return said(lines, tip, unexpected);
  }
  const lines = [cookieSentence(f), 'The script added the session\'s CSRF token in X-CSRF-Token, and the server accepted it.',
    'It merged the patch into the data it keeps (' + changes + '): the browser never holds the data, only the id.'];
  lines.push(f.cookieSet
    ? 'A write moves the expiry, so Set-Cookie re-sent the cookie ' + renewal(f) + ' (the session expires ' + formatTime(f.session.expires_at) + ').'
    : 'No Set-Cookie came back, although a write moves the expiry; that is unexpected.');
  return said(lines, tip, !f.cookieSet || f.sessionCookieSent === false);
}

/**
 * Where devtools shows this exchange's headers, naming only those that were
 * there: Cookie if a session_id went out, X-CSRF-Token if the script set
 * it, Set-Cookie if one came back.
 */
export function headersTip(name, f) {
  const out = [];
  if (f.sessionCookieSent) out.push('the Cookie header');
  if (f.tokenSent) out.push('X-CSRF-Token');
  const sent = out.length ? out.join(' and ') + ' went out' : 'no Cookie and no X-CSRF-Token went out';
  return 'Network → ' + name + ' → Headers: ' + sent + '; ' +
    (f.cookieSet ? 'Set-Cookie came back.' : 'no Set-Cookie came back.');
}

/** POST /regenerate-session, accepted. */
function explainRegenerate(x, f) {
  const lines = [cookieSentence(f)];
  const same = x.before && x.before.created_at === f.session.created_at;
  if (f.cookieSet) {
    lines.push('The server moved the session' + (same ? ' (same data, same creation time)' : '') +
      ' to a new id and a new CSRF token, and sent Set-Cookie with the new id. The old id now finds nothing, so an id an attacker planted before a login is void.');
  } else {
    lines.push('The reply carries no Set-Cookie, so the browser still holds the old id: not what a regenerate should do.');
  }
  return said(lines, 'Network → regenerate-session → Response Headers → Set-Cookie; Application → Cookies shows the new value.', !f.cookieSet);
}

/** POST /clear-session, accepted. */
function explainClear(x, f) {
  const lines = [cookieSentence(f)];
  if (f.cookieRemoved) {
    lines.push('The server deleted the session and answered Set-Cookie: session_id=; Max-Age=0, so the browser dropped the cookie. The next update will start a new session.');
  } else {
    lines.push('The server reports no session, but no Set-Cookie told the browser to drop the cookie: unexpected.');
  }
  return said(lines, 'Network → clear-session → Response Headers → Set-Cookie; the cookie is gone from Application → Cookies.', !f.cookieRemoved);
}

/** The sentences for a JSON error reply. */
function explainRefusal(x, f) {
  const code = f.error.code;
  const lines = ['The server refused the request: ' + x.status + ' ' + code + '. ' + f.error.message];
  const tip = 'Network → ' + f.path.slice(1) + ' → Response shows the JSON error; Headers shows the Cookie that went out.';
  switch (code) {
    case 'csrf_token_missing':
    case 'csrf_token_invalid':
      lines.push(cookieSentence(f));
      lines.push(code === 'csrf_token_missing'
        ? 'But the request carried no X-CSRF-Token header, and a change to a live session needs the token that only this site\'s pages can read.'
        : 'But the X-CSRF-Token this page sent is not the session\'s token now: the session got a new token since the page read it (a regenerate, perhaps in another tab). Refresh reads the current one; another site could not read it at all.');
      lines.push('The token is the last line of defence: a forged request from another site is stopped earlier, since the browser does not attach a SameSite=Lax cookie to it at all, and a request from another origin is refused by the Origin check (403 cross_origin_rejected) before the token is looked at. A page cannot forge its own Origin header; the curl command under Session actions can, and the lab\'s attacker page (Across origins and sites) shows both defences live.');
      break;
    case 'cross_origin_rejected':
      lines.push('Its Origin (or Sec-Fetch-Site) header named another origin, so the server refused it before reading the body or the token.');
      if (f.received) lines.push(cookieSentence(f));
      break;
    case 'no_session':
      lines.push(f.sessionCookieSent
        ? 'Your browser sent a session_id cookie, but ' + GONE + ', so there was nothing to act on.'
        : cookieSentence(f) + ' Without it there is no session to act on.');
      break;
    default:
      lines.push('Nothing changed: a refused update leaves the session\'s data as it was.');
      if (f.received) lines.push(cookieSentence(f));
  }
  return said(lines, tip, false);
}

/** What a merge patch did, read from the patch and the data after it. */
export function describePatch(patch, dataAfter) {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return 'the body was not an object';
  const keys = Object.keys(patch);
  if (!keys.length) return 'an empty patch, which changes nothing';
  const data = dataAfter || {};
  return keys.map(function (key) {
    if (patch[key] === null) {
      // The reply shows the data after, not before: whether the key was
      // there is not known here, only that it is gone now.
      return Object.prototype.hasOwnProperty.call(data, key)
        ? 'null for "' + key + '", yet that key is still there'
        : 'null for "' + key + '", so data has no such key now (null removes a key, and changes nothing where there was none)';
    }
    return '"' + key + '" set to ' + shorten(JSON.stringify(patch[key]));
  }).join('; ');
}

/** "3 keys in data". */
function countKeys(data) {
  const n = data && typeof data === 'object' ? Object.keys(data).length : 0;
  return n + (n === 1 ? ' key' : ' keys') + ' in data';
}

/**
 * Builds an Explanation from its sentences.
 * @param {string[]} lines
 * @param {string} tip
 * @param {boolean} unexpected
 * @returns {Explanation}
 */
export function said(lines, tip, unexpected) {
  return { text: lines.join(' '), tip: tip, unexpected: Boolean(unexpected) };
}

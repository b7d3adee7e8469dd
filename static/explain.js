/**
 * What the page tells the learner about a session exchange, in two pure
 * steps: `claimsOf` reads the exchange (the request the script sent, the
 * reply, the echoed Set-Cookie, the session the page knew before) into
 * claims, small checkable facts; the sentences are then rendered from the
 * claims alone, so every fact a sentence states is in the claims the page
 * shows (`data-claims`) and the real-browser test checks. A sentence with
 * no claim behind it is a statement that holds in every state. Nothing
 * here looks at which button was pressed or touches the DOM, so `node
 * --test tests/js` checks every case.
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
 * @property {number} [at] - when the reply came, Unix ms
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
 * and its reply, as data. Those marked (checked) are held by the
 * real-browser test against what Chromium sent and received or the server
 * answered (tests/api/claims.rs); the others are what the page itself knew
 * (its memory of the session before).
 * @typedef {Object} Claims
 * @property {string} method - (checked)
 * @property {string} path - the endpoint, without the query
 * @property {string[]|null} cookiesSent - (checked) the names of the cookies
 *   the request carried, in order (null: the reply did not say)
 * @property {boolean} tokenSent - (checked) the script set X-CSRF-Token
 * @property {'set'|'removed'|'none'} setCookie - (checked) what the reply's
 *   Set-Cookie did to session_id
 * @property {number} status - (checked)
 * @property {'persistent'|'browser-session'|'none'} cookieLifetime - (checked)
 *   what the reply's Set-Cookie made of session_id: a cookie with Max-Age or
 *   Expires, one with neither (the browser drops it when it closes), or no
 *   cookie with an id at all (none set, or the cookie removed)
 * @property {string|null} code - (checked) the error code of a JSON error reply
 * @property {string|null} message - the error's message, as the server wrote it
 * @property {boolean|null} active - (checked) the reply's session is live
 *   (null: the reply has no session)
 * @property {string|null} reason - why the reply's session is not live
 *   ("unknown_or_expired": the cookie named a session the server no longer has)
 * @property {string|null} createdAt - the live session's creation time
 * @property {string|null} expiresAt - (checked) the live session's expiry;
 *   a Set-Cookie that set the id carries it as its Max-Age
 * @property {number|null} idleTimeout - seconds
 * @property {number|null} pageViews - (checked)
 * @property {string|null} user - who is logged in on the reply's live session
 * @property {number|null} keys - (checked) how many keys the session's data holds
 * @property {string|null} fingerprint - the live session's id_fingerprint
 * @property {boolean|null} capped - the live session's expiry is its
 *   absolute limit (expires_at equals absolute_expires_at): a request no
 *   longer moves it (null: no live session)
 * @property {{createdAt: string, expiresAt: string, idleTimeout: number,
 *   absoluteExpiresAt: (string|null), fingerprint: (string|null), capped: boolean}|null} seenBefore -
 *   the live session the page saw last, before this request; capped: its
 *   expiry was its absolute limit
 * @property {boolean|null} sameSession - the reply's session is the one seen
 *   before (null: no live session on one side)
 * @property {boolean|null} sameId - the reply's session has the id
 *   fingerprint of the one seen before (null: no fingerprint on one side)
 * @property {boolean|null} expiryMoved - the same session's expiry is not the one seen before
 * @property {string|null} expiredAt - the expiry seen before, which had
 *   passed when this reply came: the page's countdown had reached zero
 * @property {boolean} newSession - an accepted update that carried no token,
 *   or another one than the reply's: the server started a session for it
 * @property {boolean|null} idChanged - (checked) the Set-Cookie that set the
 *   id carried another id than the request's cookie (null: no such Set-Cookie)
 * @property {Array<{key: string, value: (string|null), present: boolean}>|null} changes -
 *   (checked) an update's patch: each key, the JSON it was set to (shortened)
 *   or null for a removal, and whether data holds the key afterwards
 *   (null: not an update, or a body that is not an object)
 * @property {'set'} [pageSetCookie] - (checked) on a page load: the page's
 *   own response (GET /) set the session cookie
 * @property {'persistent'|'browser-session'|null} [pageLifetime] - on a page
 *   load: what the last Set-Cookie with an id this tab saw made of the
 *   cookie, which the page's own response renews the same way
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
 * The claims an exchange's explanation rests on (see {@link Claims}).
 * @param {Exchange} x
 * @returns {Claims}
 */
export function claimsOf(x) {
  const body = x.body && typeof x.body === 'object' ? x.body : {};
  const echoed = x.setCookie || '';
  const cookieSet = /^session_id=[^;]/.test(echoed);
  const removed = /^session_id=;/.test(echoed) && /max-age=0|expires=/i.test(echoed);
  const headers = x.headersSet || {};
  const tokenSent = Object.prototype.hasOwnProperty.call(headers, 'X-CSRF-Token');
  const error = body.error && typeof body.error.code === 'string' ? body.error : null;
  const session = !error && body.session && typeof body.session === 'object' ? body.session : null;
  const live = session && session.active ? session : null;
  const before = x.before && x.before.active ? x.before : null;
  const path = String(x.url || '').split('?')[0];
  const update = path === '/update-session-data';
  const newSession = update && Boolean(live) && (!tokenSent || headers['X-CSRF-Token'] !== body.csrf_token);
  const same = live && before ? before.created_at === live.created_at : null;
  const due = before ? Date.parse(before.expires_at) : NaN;
  const lifetime = cookieLifetime(x.setCookie).kind;
  return {
    method: x.method,
    path: path,
    cookiesSent: Array.isArray(body.cookies_received) ? body.cookies_received.slice() : null,
    tokenSent: tokenSent,
    setCookie: cookieSet ? 'set' : removed ? 'removed' : 'none',
    status: x.status,
    cookieLifetime: cookieSet && (lifetime === 'persistent' || lifetime === 'browser-session') ? lifetime : 'none',
    code: error ? error.code : null,
    message: error ? String(error.message || '') : null,
    active: session ? Boolean(session.active) : null,
    reason: session && !session.active && typeof session.reason === 'string' ? session.reason : null,
    createdAt: live ? live.created_at : null,
    expiresAt: live ? live.expires_at : null,
    idleTimeout: live ? live.idle_timeout_seconds : null,
    pageViews: live ? live.page_views : null,
    user: live && typeof live.user === 'string' ? live.user : null,
    keys: session ? keyCount(body.data) : null,
    capped: live ? isCapped(live) : null,
    fingerprint: live && typeof live.id_fingerprint === 'string' ? live.id_fingerprint : null,
    seenBefore: before ? {
      createdAt: before.created_at,
      expiresAt: before.expires_at,
      idleTimeout: before.idle_timeout_seconds,
      absoluteExpiresAt: before.absolute_expires_at || null,
      fingerprint: typeof before.id_fingerprint === 'string' ? before.id_fingerprint : null,
      capped: isCapped(before)
    } : null,
    sameSession: same,
    sameId: live && before && typeof live.id_fingerprint === 'string' && typeof before.id_fingerprint === 'string'
      ? live.id_fingerprint === before.id_fingerprint : null,
    expiryMoved: same ? before.expires_at !== live.expires_at : null,
    expiredAt: before && !isNaN(due) && x.at && x.at >= due ? before.expires_at : null,
    newSession: newSession,
    idChanged: cookieSet ? newSession || (path === '/regenerate-session' && Boolean(live)) : null,
    changes: update && session ? changesOf(parseJson(x.requestBody), body.data) : null
  };
}

/**
 * Whether a session's expiry is its absolute limit: every save caps the
 * idle expiry there, and once it is, a request no longer moves it.
 * @param {{expires_at: string, absolute_expires_at: (string|undefined)}} session
 * @returns {boolean}
 */
export function isCapped(session) {
  const due = Date.parse(session.expires_at);
  const end = Date.parse(session.absolute_expires_at);
  return !isNaN(due) && !isNaN(end) && due >= end;
}

/**
 * The facts of an exchange in the shape explanations used before they were
 * rendered from claims: the claims, plus `received`, `sessionCookieSent`,
 * `cookieSet`, `cookieRemoved`, `tokenValue`, `error`, `session` and
 * `lifetime` (`cookieLifetime` of the echoed Set-Cookie, with its Max-Age).
 * @param {Exchange} x
 */
export function factsOf(x) {
  const c = claimsOf(x);
  const body = x.body && typeof x.body === 'object' ? x.body : {};
  return Object.assign(c, {
    received: c.cookiesSent,
    sessionCookieSent: sessionSent(c),
    tokenValue: (x.headersSet || {})['X-CSRF-Token'] || null,
    error: c.code ? body.error : null,
    session: body.session && typeof body.session === 'object' ? body.session : null,
    cookieSet: c.setCookie === 'set',
    cookieRemoved: c.setCookie === 'removed',
    lifetime: cookieLifetime(x.setCookie)
  });
}

/** Whether session_id went out: true, false, or null when the reply did not say. */
function sessionSent(c) {
  return c.cookiesSent ? c.cookiesSent.indexOf(SESSION_COOKIE) >= 0 : null;
}

/**
 * Explains one exchange with a session endpoint.
 * @param {Exchange} x
 * @returns {Explanation}
 */
export function explainExchange(x) {
  if (!x.status) {
    return said(['No reply came: the server is not running or the connection failed, so nothing can be said about cookies or the session.'],
      'Network → the request shows (failed).', true);
  }
  const c = claimsOf(x);
  return withClaims(explainClaims(c), c);
}

/** The explanation with its claims attached. */
function withClaims(explanation, c) {
  explanation.claims = c;
  return explanation;
}

/**
 * The sentences for a reply that came, from its claims alone.
 * @param {Claims} c
 * @returns {Explanation}
 */
export function explainClaims(c) {
  if (c.code) return explainRefusal(c);
  if (c.status !== 200 || c.active === null) {
    return said(['The server answered ' + c.status + ' with a reply this page did not expect; the Response tab shows it as it came.'],
      'Network → ' + c.path.slice(1) + ' → Response.', true);
  }
  switch (c.path) {
    case '/get-session-data': return explainRead(c);
    case '/update-session-data': return explainUpdate(c);
    case '/regenerate-session': return explainRegenerate(c);
    case '/clear-session': return explainClear(c);
    default:
      return said(['The server answered ' + c.status + '.'], 'Network → ' + c.path.slice(1) + '.', false);
  }
}

/**
 * Explains the read a page makes as it loads. The page's own request (GET
 * /) counted a page view, which writes the session, between the session this
 * tab saw last (`kept`, from before the reload) and this reply.
 * @param {Object|null} kept - the `session` member this tab saw last
 * @param {Exchange} x - the read, with `before` unset
 * @param {'persistent'|'browser-session'|null} [lifetime] - what the last
 *   Set-Cookie with an id this tab saw made of the cookie; the page's own
 *   response renews it the same way
 * @returns {Explanation}
 */
export function explainPageLoad(kept, x, lifetime) {
  const c = claimsOf(Object.assign({}, x, { before: kept }));
  if (!x.status || c.code || !c.active) {
    const said0 = explainExchange(x);
    said0.text = 'The page loaded and its script asked for the session. ' + said0.text;
    return said0;
  }
  // A page view is a write, and every write sends the cookie.
  c.pageSetCookie = 'set';
  // What the cookie was is known of the session this tab saw, not of
  // another one its browser sends now (a replaced cookie, or a new session).
  c.pageLifetime = c.sameId === true ? lifetime || null : null;
  return withClaims(pageLoadSaid(c), c);
}

/** explainPageLoad for a live session, from its claims. */
function pageLoadSaid(c) {
  const lines = ['The page loaded and its script asked for the session.', cookieSentence(c)];
  if (c.sameId === false || c.sameSession === false) {
    lines.push('Your browser sent a different session id than before the reload' + fingerprints(c) +
      ': the cookie was replaced, or the old session expired. This session was created at ' + formatTime(c.createdAt) +
      (c.sameSession === false ? ', the one this tab saw before at ' + formatTime(c.seenBefore.createdAt) : '') + '.');
  } else if (c.sameSession) {
    lines.push('It is the same session this tab saw before the reload (created at ' + formatTime(c.createdAt) + ').');
  }
  lines.push(c.pageViews === 1
    ? 'Loading the page counted the session\'s first page view.'
    : 'Loading the page counted page view ' + c.pageViews + '.');
  lines.push(c.pageViews === 1 && !c.seenBefore
    ? 'A page view is a write: the page\'s own response (GET /) carried Set-Cookie with the session\'s id, and the session expires at ' +
      formatTime(c.expiresAt) + ' (the idle timeout, ' + c.idleTimeout + ' s, after the load) unless a request comes first.'
    : c.capped
      ? 'A page view is a write, but the expiry stays at the absolute limit, ' + formatTime(c.expiresAt) +
        ': a request no longer moves it. The page\'s own response (GET /) carried Set-Cookie ' + pageRenewal(c) + '.'
      : 'A page view is a write, so it moved the expiry to ' + formatTime(c.expiresAt) + ' (the idle timeout, ' +
        c.idleTimeout + ' s, after the load), and the page\'s own response (GET /) carried Set-Cookie ' + pageRenewal(c) + '.');
  return said(lines, 'Network → the page request (/) → Response Headers → Set-Cookie; then get-session-data → Request Headers → Cookie.',
    sessionSent(c) === false);
}

/** " (id fingerprint A then, B now)", or nothing when either is unknown. */
function fingerprints(c) {
  return c.sameId === null ? '' : ' (id fingerprint ' + c.seenBefore.fingerprint + ' then, ' + c.fingerprint + ' now)';
}

/**
 * How the page's own response (which the script cannot see) renewed the
 * cookie: as the last Set-Cookie this tab saw did. An anonymous session's
 * cookie always has a Max-Age; a logged-in one's has none after a login
 * without "remember me", so without knowing which, the page says neither.
 */
function pageRenewal(c) {
  if (c.pageLifetime === 'browser-session') return 'again, still without Max-Age or Expires (a browser-session cookie)';
  if (c.pageLifetime === 'persistent' || !c.user) return 'with a fresh Max-Age';
  return 'again';
}

/**
 * How a write's Set-Cookie renewed the session cookie, from its echo:
 * "with a fresh Max-Age", or, after a login without "remember me", still
 * as a browser-session cookie.
 */
function renewal(c) {
  return c.cookieLifetime === 'browser-session'
    ? 'again, still without Max-Age or Expires: a browser-session cookie, which the browser keeps until it closes'
    : 'with a fresh Max-Age';
}

/**
 * The sentence about the session cookie, from the names the server reported.
 * @param {{cookiesSent: (string[]|null)}} c - claims (or facts)
 * @returns {string}
 */
export function cookieSentence(c) {
  const sent = sessionSent(c);
  if (sent === null) return 'The reply does not say which cookies arrived.';
  if (sent) {
    return 'Your browser attached the session_id cookie by itself (the script sets no Cookie header), and the server received it' +
      otherCookies(c.cookiesSent) + '.';
  }
  return 'No session_id cookie came with this request: the server received ' + namesOrNone(c.cookiesSent) + '.';
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
const GONE = 'the server has no live session under that id (expired, cleared, replaced, or never issued, like one a script wrote)';

/** GET /get-session-data. */
function explainRead(c) {
  const set = c.setCookie === 'set';
  const tip = 'Network → get-session-data → Headers: the Cookie request header' + (set ? ' and the Set-Cookie response header.' : '.');
  if (!c.active) return explainEmptyRead(c, tip);
  const lines = [cookieSentence(c)];
  let unexpected = false;
  if (sessionSent(c) === false) {
    lines.push('Yet the server found a live session, which this demo never does without the cookie.');
    unexpected = true;
  }
  lines.push('The server looked the id up and answered with the session it keeps: ' +
    c.keys + (c.keys === 1 ? ' key' : ' keys') + ' in data, ' + c.pageViews + (c.pageViews === 1 ? ' page view.' : ' page views.'));
  const expiry = expirySentences(c);
  return said(lines.concat(expiry.lines), tip, unexpected || expiry.unexpected);
}

/** A read that found no live session. */
function explainEmptyRead(c, tip) {
  const lines = [];
  let unexpected = false;
  if (c.reason === 'unknown_or_expired') {
    lines.push('Your browser sent a session_id cookie, but ' + GONE + '.');
    if (c.expiredAt && c.seenBefore.capped) {
      lines.push('Its expiry, ' + formatTime(c.expiredAt) + ', was its absolute limit, which has passed: the absolute limit ended it, however active it was.');
    } else if (c.expiredAt) {
      lines.push('It was due to expire at ' + formatTime(c.expiredAt) + ' after ' +
        c.seenBefore.idleTimeout + ' s without a request: idle expiry at work.');
    }
    lines.push('The server answered with an empty state and created nothing.');
  } else if (sessionSent(c)) {
    lines.push('Your browser sent a session_id cookie, yet the server reports no session and gives no reason; that is not what this demo does.');
    unexpected = true;
  } else {
    lines.push(cookieSentence(c));
    if (c.expiredAt) {
      lines.push('The browser dropped it around ' + formatTime(c.expiredAt) + ', when the page\'s countdown reached zero: the cookie\'s Max-Age is the idle timeout (' +
        c.seenBefore.idleTimeout + ' s) from the last Set-Cookie, and the server forgot the session at the same moment.');
    }
    lines.push('Without the cookie the server knows no session: it answered with an empty state, and a read creates nothing (no Set-Cookie).');
  }
  if (c.setCookie === 'set') {
    lines.push('Unexpectedly, the reply also set a session cookie.');
    unexpected = true;
  }
  return said(lines, tip, unexpected);
}

/**
 * What happened to the expiry on a read. A read that moves it writes the
 * session, and every write re-sends the cookie, so Set-Cookie tells.
 */
function expirySentences(c) {
  const expires = formatTime(c.expiresAt);
  const set = c.setCookie === 'set';
  if (!c.sameSession || c.sameId === false) {
    const lines = [];
    if (c.sameSession === false || c.sameId === false) {
      lines.push('Your browser now sends another session_id than when the page last read the session' + fingerprints(c) +
        ': the cookie was replaced (by another tab, or a Set-Cookie from another port of this host), or the old session expired. This session was created at ' +
        formatTime(c.createdAt) + '.');
    }
    lines.push((c.capped ? 'It expires at ' + expires + ', its absolute limit: a request no longer moves it' : 'It expires at ' + expires + ' unless used again') +
      (set ? '; the reply re-sent the cookie ' + renewal(c) + '.' : '.'));
    return { lines: lines, unexpected: false };
  }
  const from = formatTime(c.seenBefore.expiresAt);
  if (set && c.expiryMoved) {
    return {
      lines: ['The read counted as activity: the server moved the expiry from ' + from + ' to ' + expires +
        ' and re-sent the cookie (Set-Cookie) ' + renewal(c) +
        (c.cookieLifetime === 'browser-session' ? '.' : ', so the browser keeps it as long.')],
      unexpected: false
    };
  }
  if (set) {
    return { lines: ['The reply re-sent the cookie (Set-Cookie) ' + renewal(c) + '; the expiry is still ' + expires + '.'], unexpected: false };
  }
  if (!c.expiryMoved && c.capped) {
    return {
      lines: ['The expiry did not move: still ' + expires + ', and no Set-Cookie came. That is the session\'s absolute limit, and the server never moves the expiry past it: a request no longer moves it, and the session ends then, however active.'],
      unexpected: false
    };
  }
  if (!c.expiryMoved) {
    return {
      lines: ['The expiry did not move: still ' + expires + ', and no Set-Cookie came. The server moves it on a read only once it would move by more than a tenth of the idle timeout (' +
        tenth(c.idleTimeout) + ' of ' + c.idleTimeout + ' s), so quick reads cost no write; the session still lives 90–100 % of the idle timeout after your last request.'],
      unexpected: false
    };
  }
  return {
    lines: ['The expiry changed from ' + from + ' to ' + expires + ' without a Set-Cookie in this reply: another request in between must have moved it.'],
    unexpected: true
  };
}

/** POST /update-session-data, accepted. */
function explainUpdate(c) {
  const changes = describeChanges(c.changes);
  const set = c.setCookie === 'set';
  const tip = headersTip('update-session-data', c) + ' Payload shows the patch.';
  if (c.newSession) {
    const lines = [];
    if (sessionSent(c)) {
      lines.push('Your browser sent a session_id cookie, but ' + GONE + ', so there was no token to check.');
    } else {
      lines.push(cookieSentence(c), 'Without a live session there is nothing to forge a request against, so no token was needed.');
    }
    lines.push('The server created a new session, applied the patch to its empty data (' + changes + ') and sent Set-Cookie with the new session\'s id; the reply carries its new CSRF token, which the page keeps for the next change.');
    if (!set) lines.push('Unexpectedly, no Set-Cookie came back, so the browser holds no cookie for the new session.');
    return said(lines, tip, !set);
  }
  const lines = [cookieSentence(c), 'The script added the session\'s CSRF token in X-CSRF-Token, and the server accepted it.',
    'It merged the patch into the data it keeps (' + changes + '): the browser never holds the data, only the id.'];
  lines.push(set
    ? 'A write moves the expiry, so Set-Cookie re-sent the cookie ' + renewal(c) + ' (the session expires ' + formatTime(c.expiresAt) + ').'
    : 'No Set-Cookie came back, although a write moves the expiry; that is unexpected.');
  return said(lines, tip, !set || sessionSent(c) === false);
}

/**
 * Where devtools shows this exchange's headers, naming only those that were
 * there: Cookie if a session_id went out, X-CSRF-Token if the script set
 * it, Set-Cookie if one came back.
 * @param {string} name - the request's name in the Network tab
 * @param {Claims} c
 * @returns {string}
 */
export function headersTip(name, c) {
  const out = [];
  if (sessionSent(c)) out.push('the Cookie header');
  if (c.tokenSent) out.push('X-CSRF-Token');
  const others = c.cookiesSent ? c.cookiesSent.filter(function (n) { return n !== SESSION_COOKIE; }) : [];
  const cookie = sessionSent(c) ? null
    : others.length ? 'no session_id cookie (the Cookie header carried only ' + others.join(', ') + ')' : 'no Cookie header';
  const sent = cookie
    ? cookie + (c.tokenSent ? ' and X-CSRF-Token went out' : ' and no X-CSRF-Token went out')
    : out.join(' and ') + ' went out';
  return 'Network → ' + name + ' → Headers: ' + sent + '; ' +
    (c.setCookie === 'set' ? 'Set-Cookie came back.' : 'no Set-Cookie came back.');
}

/** POST /regenerate-session, accepted. */
function explainRegenerate(c) {
  const lines = [cookieSentence(c)];
  const set = c.setCookie === 'set';
  if (set && c.idChanged) {
    lines.push('The server moved the session' + (c.sameSession ? ' (same data, same creation time)' : '') +
      ' to a new id and a new CSRF token, and sent Set-Cookie with the new id. The old id now finds nothing, so an id an attacker planted before a login is void.');
  } else {
    lines.push('The reply carries no Set-Cookie with a new id, so the browser still holds the old one: not what a regenerate should do.');
  }
  return said(lines, 'Network → regenerate-session → Response Headers → Set-Cookie; Application → Cookies shows the new value.', !(set && c.idChanged));
}

/** POST /clear-session, accepted. */
function explainClear(c) {
  const lines = [cookieSentence(c)];
  const removed = c.setCookie === 'removed';
  if (removed) {
    lines.push('The server deleted the session and answered Set-Cookie: session_id=; Max-Age=0, so the browser dropped the cookie. The next update will start a new session.');
  } else {
    lines.push('The server reports no session, but no Set-Cookie told the browser to drop the cookie: unexpected.');
  }
  return said(lines, 'Network → clear-session → Response Headers → Set-Cookie; the cookie is gone from Application → Cookies.', !removed);
}

/** The sentences for a JSON error reply. */
function explainRefusal(c) {
  const code = c.code;
  const lines = ['The server refused the request: ' + c.status + ' ' + code + '. ' + c.message];
  const tip = 'Network → ' + c.path.slice(1) + ' → Response shows the JSON error; Headers shows the Cookie that went out.';
  switch (code) {
    case 'csrf_token_missing':
    case 'csrf_token_invalid':
      lines.push(cookieSentence(c));
      lines.push(code === 'csrf_token_missing'
        ? 'But the request carried no X-CSRF-Token header, and a change to a live session needs the token that only this site\'s pages can read.'
        : 'But the X-CSRF-Token this page sent is not the session\'s token now: the session got a new token since the page read it (a regenerate, perhaps in another tab). Refresh reads the current one; another site could not read it at all.');
      lines.push('The token is the last line of defence: a forged request from another site is stopped earlier, since the browser does not attach a SameSite=Lax cookie to it at all, and a request from another origin is refused by the Origin check (403 cross_origin_rejected) before the token is looked at. A page cannot forge its own Origin header; the curl command under Session actions can, and the lab\'s attacker page (Across origins and sites) shows both defences live.');
      break;
    case 'cross_origin_rejected':
      lines.push('Its Origin (or Sec-Fetch-Site) header named another origin, so the server refused it before reading the body or the token.');
      if (c.cookiesSent) lines.push(cookieSentence(c));
      break;
    case 'no_session':
      lines.push(sessionSent(c)
        ? 'Your browser sent a session_id cookie, but ' + GONE + ', so there was nothing to act on.'
        : cookieSentence(c) + ' Without it there is no session to act on.');
      break;
    default:
      lines.push('Nothing changed: a refused update leaves the session\'s data as it was.');
      if (c.cookiesSent) lines.push(cookieSentence(c));
  }
  return said(lines, tip, false);
}

/**
 * A patch as claims: each key, what it was set to (JSON, shortened) or
 * null for a removal, and whether the data holds the key afterwards.
 * @param {*} patch - the request body, parsed
 * @param {Object|null} dataAfter - the session's data in the reply
 * @returns {Array<{key: string, value: (string|null), present: boolean}>|null} null: not an object
 */
export function changesOf(patch, dataAfter) {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return null;
  const data = dataAfter && typeof dataAfter === 'object' ? dataAfter : {};
  return Object.keys(patch).map(function (key) {
    return {
      key: key,
      value: patch[key] === null ? null : shorten(JSON.stringify(patch[key])),
      present: Object.prototype.hasOwnProperty.call(data, key)
    };
  });
}

/** What a patch did, from its claims. */
function describeChanges(changes) {
  if (!changes) return 'the body was not an object';
  if (!changes.length) return 'an empty patch, which changes nothing';
  return changes.map(function (change) {
    if (change.value === null) {
      // The reply shows the data after, not before: whether the key was
      // there is not known here, only that it is gone now.
      return change.present
        ? 'null for "' + change.key + '", yet that key is still there'
        : 'null for "' + change.key + '", so data has no such key now (null removes a key, and changes nothing where there was none)';
    }
    return '"' + change.key + '" set to ' + change.value;
  }).join('; ');
}

/**
 * What a merge patch did, read from the patch and the data after it.
 * @param {*} patch
 * @param {Object|null} dataAfter
 * @returns {string}
 */
export function describePatch(patch, dataAfter) {
  return describeChanges(changesOf(patch, dataAfter));
}

/** How many keys a reply's data holds. */
function keyCount(data) {
  return data && typeof data === 'object' ? Object.keys(data).length : 0;
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

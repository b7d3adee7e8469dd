/**
 * What panel "Log in" tells the learner, as pure functions of the exchange:
 * a login (the fingerprints of the id before and after, the token sent and
 * the one returned, the echoed Set-Cookie and what it makes of the cookie,
 * fixation_defence), a refused login (status, error code, Retry-After, and
 * that no Set-Cookie came), a logout, and "Who am I?" (GET /me). Nothing
 * here looks at which button was pressed or touches the DOM; `node --test
 * tests/js` checks every case.
 */

import { claimsOf, cookieSentence, factsOf, isCapped, said } from './explain.js';
import { clock, formatTime, parseJson } from './format.js';

/**
 * The claims of a login's explanation: those of every session exchange
 * (explain.js `Claims`), plus whether the id changed.
 * @typedef {import('./explain.js').Claims & {idChanged: (boolean|null)}} LoginClaims
 *   idChanged: the reply's Set-Cookie named another id than the cookie the
 *   request carried (told apart by the fingerprints before and after);
 *   null when the page cannot say (no session cookie went out or none came
 *   back, or the page knew no fingerprint before)
 */

/**
 * The id_fingerprint of the live session a page knew before, or null.
 * @param {Object|null} before - the `session` member the page saw last
 * @returns {string|null}
 */
function fingerprintOf(before) {
  return before && before.active && typeof before.id_fingerprint === 'string' ? before.id_fingerprint : null;
}

/**
 * The facts a login's explanation rests on, beyond explain.js `factsOf`.
 * @param {import('./explain.js').Exchange} x
 */
export function loginFactsOf(x) {
  const f = factsOf(x);
  const body = x.body && typeof x.body === 'object' ? x.body : {};
  const session = f.session && f.session.active ? f.session : null;
  const asked = parseJson(x.requestBody);
  const before = fingerprintOf(x.before);
  const after = session && typeof session.id_fingerprint === 'string' ? session.id_fingerprint : null;
  return {
    f: f,
    session: session,
    user: session && typeof session.user === 'string' ? session.user : null,
    asked: asked && typeof asked === 'object' ? asked : {},
    before: before,
    after: after,
    idChanged: f.sessionCookieSent && f.cookieSet && before && after ? before !== after : null,
    token: typeof body.csrf_token === 'string' ? body.csrf_token : null,
    tokenChanged: f.tokenSent && typeof body.csrf_token === 'string' ? f.tokenValue !== body.csrf_token : null,
    fixationDefence: typeof body.fixation_defence === 'boolean' ? body.fixation_defence : null,
    retryAfter: x.retryAfter ? Number(x.retryAfter) : null
  };
}

/**
 * The claims of a login exchange (see {@link LoginClaims}).
 * @param {import('./explain.js').Exchange} x
 * @returns {LoginClaims}
 */
export function loginClaimsOf(x) {
  const claims = claimsOf(x);
  claims.idChanged = loginFactsOf(x).idChanged;
  return claims;
}

/** An explanation with the given claims attached, for a reply that came. */
function withClaims(explanation, x, claims) {
  if (x.status) explanation.claims = claims(x);
  return explanation;
}

/**
 * Explains a POST /login exchange.
 * @param {import('./explain.js').Exchange & {retryAfter?: (string|null)}} x
 * @returns {import('./explain.js').Explanation}
 */
export function explainLogin(x) {
  return withClaims(loginSaid(x, loginFactsOf(x)), x, loginClaimsOf);
}

function loginSaid(x, l) {
  const f = l.f;
  if (!x.status) return noReply('login');
  if (f.error) return refusedLogin(x, l);
  if (x.status !== 200 || !l.session || !l.user) return unexpectedReply(x, 'login');
  const lines = [cookieSentence(f), 'The password matched: the server logged you in as ' + l.user +
    (l.session.authenticated_at ? ' at ' + formatTime(l.session.authenticated_at) : '') + '.'];
  const id = idSentence(l);
  lines.push(id.text);
  const token = tokenSentence(l);
  lines.push(token.text);
  const cookie = lifetimeSentence(f.lifetime, l.asked.remember === true, l.session);
  if (cookie.text) lines.push(cookie.text);
  lines.push(dataSentence(x.before, l, x.body.data));
  if (l.session.absolute_expires_at) {
    lines.push('The absolute limit counts again from this login: the session ends at ' + formatTime(l.session.absolute_expires_at) +
      ' at the latest, however active it is.');
  }
  return said(lines, 'Network → login → Response Headers → Set-Cookie; Application → Cookies: session_id\'s Expires column says "Session" for a browser-session cookie.',
    id.unexpected || token.unexpected || cookie.unexpected || f.sessionCookieSent === null);
}

/** What happened to the session's id, from the fingerprints before and after and fixation_defence. */
function idSentence(l) {
  const f = l.f;
  if (!f.cookieSet) {
    return { text: 'No Set-Cookie came back, so the browser still holds the id it sent: not what a login should do.', unexpected: true };
  }
  if (!f.sessionCookieSent) {
    return {
      text: 'Without a session cookie there was no session, so the login created one, already logged in (id fingerprint ' + l.after +
        '), and Set-Cookie handed your browser its id.',
      unexpected: false
    };
  }
  if (!l.before) {
    return {
      text: 'The page knew no live session before this login, so it has no fingerprint to compare: the session now has id fingerprint ' + l.after +
        ', and Set-Cookie handed your browser that id.',
      unexpected: false
    };
  }
  if (l.idChanged) {
    return {
      text: 'Logging in is a privilege change, so the server moved the session to a new id: its fingerprint went from ' + l.before + ' to ' + l.after +
        ', and Set-Cookie handed your browser the new id. The old id now finds nothing, so an id someone planted before the login (see Try session fixation) is worth nothing after it. ' +
        SAME_HOST,
      unexpected: l.fixationDefence === false
    };
  }
  if (l.fixationDefence === false) {
    return {
      text: 'The session kept its id (fingerprint still ' + l.after + '): this server runs with --unsafe-keep-id-on-login (fixation_defence: false), so whoever knew the id before the login, say an attacker who planted it, is now logged in too.',
      unexpected: false
    };
  }
  return { text: 'The session kept its id (fingerprint still ' + l.after + '), although the server says its fixation defence is on: unexpected.', unexpected: true };
}

/**
 * What a new id at login does not stop: cookies ignore ports, so a server
 * on another port of the same host gets the new cookie too.
 */
export const SAME_HOST = 'A server on another port of this host still receives your new cookie whenever your browser calls it (cookies ignore ports): a new id at login stops fixation, not a same-host server that reads your cookies.';

/** What happened to the CSRF token. */
function tokenSentence(l) {
  if (l.tokenChanged === true) {
    return {
      text: 'The reply carries a new CSRF token, which the page keeps; the one this request carried is refused from now on (403 csrf_token_invalid).',
      unexpected: l.fixationDefence === false
    };
  }
  if (l.tokenChanged === false) {
    return l.fixationDefence === false
      ? { text: 'The CSRF token stayed the same, as the id did.', unexpected: false }
      : { text: 'The CSRF token stayed the same, although the server says its fixation defence is on: unexpected.', unexpected: true };
  }
  return { text: 'The reply carries the session\'s CSRF token, which the page keeps for the next change.', unexpected: false };
}

/**
 * What the echoed Set-Cookie made of the cookie, and whether that is what
 * the request asked for ("remember": true or not).
 * @param {{kind: string, maxAge: (number|null)}} lifetime - explain.js `cookieLifetime`
 * @param {boolean} remember - the login asked to be remembered
 * @param {Object} session - the reply's session
 */
export function lifetimeSentence(lifetime, remember, session) {
  const asked = remember ? 'You ticked Remember me' : 'You did not tick Remember me';
  const limits = ' Either way the server decides how long the session lives: it ends after ' + session.idle_timeout_seconds +
    ' s without a request, and at the absolute limit.';
  if (lifetime.kind === 'browser-session') {
    return {
      text: 'Set-Cookie has neither Max-Age nor Expires: a browser-session cookie, which the browser drops when it closes. ' + asked +
        (remember ? ', yet the cookie is not persistent: unexpected.' : '.') + limits,
      unexpected: remember
    };
  }
  if (lifetime.kind === 'persistent') {
    const age = lifetime.maxAge === null ? 'an Expires date' : 'Max-Age=' + lifetime.maxAge + ' (' + clock(lifetime.maxAge) + ')';
    return {
      text: 'Set-Cookie carries ' + age + ': a persistent cookie, which the browser keeps across a restart until then. ' + asked +
        (remember ? '.' : ', yet the cookie is persistent: unexpected.') + limits,
      unexpected: !remember
    };
  }
  return { text: '', unexpected: false };
}

/** What became of the session's data, from the user before and the data after. */
function dataSentence(before, l, dataAfter) {
  const keys = Object.keys(dataAfter && typeof dataAfter === 'object' ? dataAfter : {}).length;
  const data = keys === 1 ? '1 key' : keys + ' keys';
  if (before && before.active && before.user && before.user !== l.user) {
    return before.user + ' was logged in on this session, so the data did not pass to ' + l.user + ': it starts empty (' + data + ' now).';
  }
  return 'The session keeps its data across the login: ' + data + ' in data.';
}

/** A login the server refused. */
function refusedLogin(x, l) {
  const f = l.f;
  const code = f.error.code;
  const lines = ['The server refused the login: ' + x.status + ' ' + code + '. ' + f.error.message];
  switch (code) {
    case 'invalid_credentials':
      lines.push('It gives one answer for an unknown user and for a wrong password, in about the same time (an unknown user is checked against a dummy hash), so the answer does not tell which usernames exist.');
      lines.push('Failures count toward the limit: 5 per username within 60 s, after which every attempt for it, the right password too, is refused (429 too_many_attempts) until 60 s after the fifth.');
      break;
    case 'invalid_login':
      lines.push('The body was not a username and a password as strings within their limits (with an optional remember), so no password was checked.');
      break;
    case 'too_many_attempts':
      lines.push('After too many failed attempts for one username the server refuses every attempt for it for a while, the right password too' +
        (l.retryAfter ? ': Retry-After says to wait ' + l.retryAfter + ' s.' : '.') +
        ' That stops a script from guessing passwords at full speed.');
      break;
    case 'csrf_token_invalid':
      lines.push('The X-CSRF-Token sent is not the token of the session your cookie names now: the session changed since the page read its token (in another tab, or a cookie planted from another port). Refresh reads the current one.');
      break;
    case 'csrf_token_missing':
      lines.push('A login on a live session needs that session\'s CSRF token, like any other change.');
      break;
    default:
      break;
  }
  if (f.received) lines.push(cookieSentence(f));
  const unexpected = f.cookieSet || f.cookieRemoved;
  if (unexpected) {
    lines.push('Unexpectedly, the refusal came with a Set-Cookie.');
  } else if (code === 'csrf_token_invalid') {
    lines.push('No Set-Cookie came back, so your browser keeps the cookie it sent; that cookie changed since this page last read the session' +
      (l.before ? ': the last fingerprint the page saw was ' + l.before : '') + '. A refused login leaves the session your cookie names, its token and who is logged in as they were.');
  } else {
    lines.push('The session did not change: no Set-Cookie came back, so your browser keeps the cookie it had' +
      (l.before ? ' (id fingerprint ' + l.before + ')' : '') + ', and a refused login leaves the session, its token and who is logged in as they were.');
  }
  return said(lines, 'Network → login → Response: the JSON error' + (code === 'too_many_attempts' ? ' and the Retry-After header' : '') +
    '; Response Headers: no Set-Cookie.', unexpected);
}

/**
 * Explains a POST /logout exchange.
 * @param {import('./explain.js').Exchange} x
 * @returns {import('./explain.js').Explanation}
 */
export function explainLogout(x) {
  return withClaims(logoutSaid(x, factsOf(x)), x, claimsOf);
}

function logoutSaid(x, f) {
  if (!x.status) return noReply('logout');
  const before = x.before && x.before.active ? x.before : null;
  if (f.error) {
    const lines = ['The server refused the logout: ' + x.status + ' ' + f.error.code + '. ' + f.error.message];
    if (f.received) lines.push(cookieSentence(f));
    if (f.error.code === 'no_session') {
      lines.push(f.sessionCookieSent
        ? 'Your browser sent a session_id cookie, but the server no longer has that session: there was no login to end.'
        : 'Without a session cookie there is no session, and no login to end.');
    }
    return said(lines, 'Network → logout → Response shows the JSON error.', f.cookieSet);
  }
  if (x.status !== 200 || !f.session) return unexpectedReply(x, 'logout');
  const lines = [cookieSentence(f)];
  if (f.cookieRemoved && !f.session.active) {
    lines.push('Logging out is clearing the session: the server deleted it, login and data together, and answered Set-Cookie: session_id=; Max-Age=0, so the browser dropped the cookie.');
    if (before && before.user) lines.push('You were logged in as ' + before.user + '; that login is gone with the session, and the old id finds nothing.');
    lines.push('A request that comes now carries no session cookie, so the server knows no session and no login.');
    return said(lines, 'Network → logout → Response Headers → Set-Cookie; the cookie is gone from Application → Cookies.', false);
  }
  lines.push('The reply does not drop the cookie (no Set-Cookie with Max-Age=0): not what a logout should do.');
  return said(lines, 'Network → logout → Response Headers.', true);
}

/**
 * Explains a GET /me exchange: the protected resource, answered from the
 * cookie alone.
 * @param {import('./explain.js').Exchange} x
 * @returns {import('./explain.js').Explanation}
 */
export function explainMe(x) {
  return withClaims(meSaid(x, factsOf(x)), x, meClaimsOf);
}

/**
 * The claims of a GET /me exchange: those of every exchange, with the
 * expiry /me reports (it counts as activity), whether it is the absolute
 * limit, and whether it moved from the one the page knew of the same login.
 * @param {import('./explain.js').Exchange} x
 * @returns {import('./explain.js').Claims}
 */
export function meClaimsOf(x) {
  const c = claimsOf(x);
  const me = meOf(x);
  if (me) {
    c.user = me.user;
    c.expiresAt = me.expires_at;
    c.capped = isCapped(me);
    const known = sameLogin(x.before, me) ? x.before : null;
    c.expiryMoved = known ? known.expires_at !== me.expires_at : null;
  }
  return c;
}

/** /me's 200 reply, when it has the shape the page reads, else null. */
function meOf(x) {
  const body = x.body && typeof x.body === 'object' ? x.body : null;
  return x.status === 200 && body && typeof body.user === 'string' && typeof body.expires_at === 'string' ? body : null;
}

/**
 * Whether /me's reply is about the login of the session the page knew:
 * the same user, login time and absolute limit.
 * @param {Object|null} known - the `session` member the page saw last
 * @param {Object} me - /me's reply
 */
export function sameLogin(known, me) {
  return Boolean(known && known.active && known.user === me.user && known.authenticated_at === me.authenticated_at &&
    known.absolute_expires_at === me.absolute_expires_at);
}

/**
 * The session the page knows after /me: the one it knew, with the expiry
 * /me reported, when /me is about the same login; else null (nothing to
 * update from it: /me names neither the session nor its id).
 * @param {Object|null} known - the `session` member the page saw last
 * @param {import('./explain.js').Exchange} x - the /me exchange
 * @returns {Object|null}
 */
export function sessionAfterMe(known, x) {
  const me = meOf(x);
  return me && sameLogin(known, me) ? Object.assign({}, known, { expires_at: me.expires_at }) : null;
}

/** What /me did to the expiry: it counts as activity, like a read. */
function meExpirySentence(x, f) {
  const c = meClaimsOf(x);
  if (!c.expiresAt) return '';
  const to = formatTime(c.expiresAt);
  const from = c.expiryMoved ? ' from ' + formatTime(x.before.expires_at) : '';
  if (f.cookieSet) {
    return 'GET /me counts as activity: the server moved the session\'s expiry' + from + ' to ' + to +
      (c.capped ? ' (its absolute limit)' : '') + ' and re-sent the cookie (Set-Cookie), as after any write.';
  }
  return c.capped
    ? 'GET /me counts as activity, but the expiry stays at ' + to + ', the absolute limit, which a request no longer moves; no Set-Cookie came.'
    : 'GET /me counts as activity, like a read, but the expiry did not move (still ' + to + ') and no Set-Cookie came: the server moves it only once it would move by more than a tenth of the idle timeout.';
}

function meSaid(x, f) {
  if (!x.status) return noReply('me');
  const body = x.body && typeof x.body === 'object' ? x.body : {};
  const tip = 'Network → me → Headers: the Cookie request header is the only credential; no X-CSRF-Token, no password.';
  if (x.status === 200 && typeof body.user === 'string') {
    const lines = [cookieSentence(f), 'The cookie alone authenticated this request: no password and no token went out, yet the server found the session it names logged in as ' +
      body.user + (body.authenticated_at ? ' (since ' + formatTime(body.authenticated_at) + ')' : '') + ' and answered 200.',
    'Whoever holds this cookie is ' + body.user + ' to the server: that is why it is HttpOnly, why the id changes at login, and why logging out deletes the session on the server.'];
    const expiry = meExpirySentence(x, f);
    if (expiry) lines.push(expiry);
    if (body.absolute_expires_at) lines.push('The session ends at ' + formatTime(body.absolute_expires_at) + ' at the latest, however active.');
    return said(lines, tip, f.sessionCookieSent === false);
  }
  if (f.error && f.error.code === 'not_logged_in') {
    const lines = ['The server answered ' + x.status + ' not_logged_in.'];
    lines.push(f.sessionCookieSent
      ? 'Your browser sent the session_id cookie, but the session it names has no login (or the server no longer has it), so the cookie proves nothing about who you are.'
      : cookieSentence(f) + ' Without it the server knows no session, let alone a login.');
    return said(lines, tip, f.cookieSet);
  }
  if (f.error) {
    return said(['The server refused the request: ' + x.status + ' ' + f.error.code + '. ' + f.error.message], tip, false);
  }
  return unexpectedReply(x, 'me');
}

/** No reply at all. */
function noReply(name) {
  return said(['No reply came: the server is not running or the connection failed, so nothing can be said about the session.'],
    'Network → ' + name + ' shows (failed).', true);
}

/** A reply this page does not expect. */
function unexpectedReply(x, name) {
  return said(['The server answered ' + x.status + ' with a reply this page did not expect; the Response tab shows it as it came.'],
    'Network → ' + name + ' → Response.', true);
}

/**
 * Who is logged in, from the last session the page saw: panel "Log in"'s
 * status line.
 * @param {Object|null} session - the last `session` member seen
 * @returns {string}
 */
export function describeWho(session) {
  if (!session || !session.active) return 'No live session: nobody is logged in.';
  if (!session.user) return 'Not logged in: the session (id fingerprint ' + session.id_fingerprint + ') has no user.';
  return 'Logged in as ' + session.user + (session.authenticated_at ? ' since ' + formatTime(session.authenticated_at) : '') +
    ' (id fingerprint ' + session.id_fingerprint + ').';
}

/**
 * Panel "Log in"'s status line after GET /me: who /me says is logged in.
 * @param {import('./explain.js').Exchange} x - the /me exchange
 * @returns {{text: string, user: string}|null} user: who is logged in ('' for nobody);
 *   null: /me said nothing the line can use
 */
export function describeWhoAfterMe(x) {
  const body = x.body && typeof x.body === 'object' ? x.body : {};
  const at = x.at ? ' at ' + formatTime(new Date(x.at).toISOString()) : '';
  if (x.status === 401 && body.error && body.error.code === 'not_logged_in') {
    return {
      text: 'Not logged in: GET /me answered 401 not_logged_in' + at + ' (the session your cookie names has no login, or the server no longer has it).',
      user: ''
    };
  }
  if (x.status === 200 && typeof body.user === 'string') {
    return {
      text: 'Logged in as ' + body.user + (body.authenticated_at ? ' since ' + formatTime(body.authenticated_at) : '') + ', as GET /me answered' + at + '.',
      user: body.user
    };
  }
  return null;
}

/**
 * Panel "Log in"'s summary of the last login: the outcome, the
 * fingerprints before and after, the token, the cookie.
 * @param {import('./explain.js').Exchange & {retryAfter?: (string|null)}} x
 * @returns {{outcome: ('logged-in'|'refused'|'failed'), rows: Array<Array<string>>, before: (string|null),
 *   after: (string|null), lifetime: string, tokenChanged: (boolean|null)}}
 */
export function loginSummary(x) {
  const l = loginFactsOf(x);
  const f = l.f;
  const rows = [];
  let outcome;
  if (!x.status) {
    outcome = 'failed';
    rows.push(['Result', 'no reply']);
  } else if (f.error || !l.user) {
    outcome = 'refused';
    rows.push(['Result', x.status + ' ' + (f.error ? f.error.code : '') + ': refused' +
      (f.cookieSet ? '' : ', nothing changed') + (l.retryAfter ? ' (Retry-After: ' + l.retryAfter + ' s)' : '')]);
    rows.push(['Id fingerprint', f.cookieSet ? 'a Set-Cookie came (unexpected)'
      : f.error && f.error.code === 'csrf_token_invalid'
        ? 'your cookie changed since this page last read the session' + (l.before ? ' (the last fingerprint it saw: ' + l.before + ')' : '') + '; no Set-Cookie'
        : (l.before || 'unknown') + ', unchanged: no Set-Cookie']);
  } else {
    outcome = 'logged-in';
    rows.push(['Result', x.status + ': logged in as ' + l.user]);
    rows.push(['Id fingerprint', (l.before || 'none') + ' → ' + l.after + (l.idChanged === false ? ' (the same id)' : l.before ? ' (a new id)' : '')]);
    rows.push(['CSRF token', l.tokenChanged === true ? 'new (' + l.token.slice(0, 8) + '…); the old one is refused now'
      : l.tokenChanged === false ? 'the same as before' : 'the session\'s own (' + String(l.token).slice(0, 8) + '…)']);
    rows.push(['Cookie', f.lifetime.kind === 'browser-session' ? 'a browser-session cookie: no Max-Age, no Expires'
      : f.lifetime.kind === 'persistent' ? 'persistent: ' + (f.lifetime.maxAge === null ? 'Expires' : 'Max-Age=' + f.lifetime.maxAge) : 'not set']);
  }
  return {
    outcome: outcome,
    rows: rows,
    before: l.before,
    after: outcome === 'logged-in' ? l.after : l.before,
    lifetime: outcome === 'logged-in' ? f.lifetime.kind : 'none',
    tokenChanged: l.tokenChanged
  };
}

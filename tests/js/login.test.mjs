// Unit tests of static/login-explain.js and static/fixation-explain.js: one
// case per situation panel "Log in" explains (a login with and without
// "remember me", with the defence on and off, each refusal, logout, Who am
// I?, and each outcome of the fixation run), asserting what the sentences
// and the claims say about the id, the token and the cookie. Run by `cargo
// test` (tests/api/page_logic.rs) through `node --test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importStatic } from './static-module.mjs';

const {
  explainLogin, explainLogout, explainMe, loginSummary, loginClaimsOf, describeWho, describeWhoAfterMe, sessionAfterMe
} = await importStatic('login-explain.js');
const { explainFixationOutcome, explainPlanted, fixationProgress, plantedOf, plantEntry, replacedRun } = await importStatic('fixation-explain.js');
const { cookieLifetime, explainExchange } = await importStatic('explain.js');
const { describeAbsoluteCountdown, describeCountdown } = await importStatic('explain-panels.js');

const T0 = '2026-11-28T09:00:00Z';
const T1 = '2026-11-28T09:30:00Z';
const ABS = '2026-11-28T17:00:00Z';
const session = (extra) => ({
  active: true, created_at: T0, expires_at: T1, absolute_expires_at: ABS, id_fingerprint: 'aaaa1111',
  page_views: 1, idle_timeout_seconds: 1800, ...extra
});
const BROWSER_SESSION = 'session_id=<redacted>; HttpOnly; SameSite=Lax; Path=/';
const PERSISTENT = 'session_id=<redacted>; HttpOnly; SameSite=Lax; Path=/; Max-Age=1800';
const REMOVE = 'session_id=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT';

/** A login that succeeded with the defence on, without "remember me", on a live anonymous session. */
function login(over) {
  return {
    method: 'POST', url: '/login', api: 'xhr',
    headersSet: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'old-token' },
    requestBody: JSON.stringify({ username: 'alice', password: 'wonderland', remember: false }),
    status: 200,
    body: {
      session: session({ id_fingerprint: 'bbbb2222', user: 'alice', authenticated_at: '2026-11-28T09:10:00Z' }),
      data: { color: 'blue' }, csrf_token: 'new-token', cookies_received: ['session_id'], fixation_defence: true
    },
    setCookie: BROWSER_SESSION, retryAfter: null, before: session(), at: Date.parse('2026-11-28T09:10:00Z'),
    ...over
  };
}

/** A refused login. */
function refused(status, code, over) {
  return login({
    status: status, setCookie: null,
    body: { error: { code: code, message: 'The message.' }, cookies_received: ['session_id'] }, ...over
  });
}

test('the echoed Set-Cookie tells a browser-session cookie from a persistent one', () => {
  assert.deepEqual(cookieLifetime(BROWSER_SESSION), { kind: 'browser-session', maxAge: null });
  assert.deepEqual(cookieLifetime(PERSISTENT), { kind: 'persistent', maxAge: 1800 });
  assert.equal(cookieLifetime('session_id=<redacted>; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 GMT').kind, 'persistent');
  assert.equal(cookieLifetime(REMOVE).kind, 'removed');
  assert.equal(cookieLifetime('session_id=<redacted>; Max-Age=0').kind, 'removed');
  assert.equal(cookieLifetime(null).kind, 'none');
  assert.equal(cookieLifetime('theme=dark; Max-Age=10').kind, 'none');
});

test('a login says who, the fingerprints before and after, the new token and the browser-session cookie', () => {
  const said = explainLogin(login());
  assert.equal(said.unexpected, false);
  assert.match(said.text, /logged you in as alice at 09:10:00 UTC/);
  assert.match(said.text, /fingerprint went from aaaa1111 to bbbb2222/);
  assert.match(said.text, /new CSRF token/);
  assert.match(said.text, /neither Max-Age nor Expires: a browser-session cookie/);
  assert.match(said.text, /You did not tick Remember me\./);
  assert.match(said.text, /keeps its data across the login: 1 key/);
  assert.match(said.text, /ends at 17:00:00 UTC at the latest/);
  const { method, path, cookiesSent, tokenSent, setCookie, status, cookieLifetime, idChanged, code, active } = said.claims;
  assert.deepEqual({ method, path, cookiesSent, tokenSent, setCookie, status, cookieLifetime, idChanged, code, active }, {
    method: 'POST', path: '/login', cookiesSent: ['session_id'], tokenSent: true, setCookie: 'set', status: 200,
    cookieLifetime: 'browser-session', idChanged: true, code: null, active: true
  });
});

test('a login with remember me gets a persistent cookie, said with its Max-Age', () => {
  const x = login({ requestBody: JSON.stringify({ username: 'alice', password: 'wonderland', remember: true }), setCookie: PERSISTENT });
  const said = explainLogin(x);
  assert.equal(said.unexpected, false);
  assert.match(said.text, /Max-Age=1800 \(30:00\): a persistent cookie/);
  assert.match(said.text, /You ticked Remember me\./);
  assert.equal(said.claims.cookieLifetime, 'persistent');
  assert.equal(loginSummary(x).lifetime, 'persistent');
});

test('a cookie that does not match what was asked for is flagged', () => {
  assert.equal(explainLogin(login({ setCookie: PERSISTENT })).unexpected, true);
  const remembered = login({ requestBody: JSON.stringify({ username: 'alice', password: 'wonderland', remember: true }) });
  assert.match(explainLogin(remembered).text, /yet the cookie is not persistent: unexpected/);
});

test('with the defence off, the login keeps the id and the token, and says why', () => {
  const x = login({
    headersSet: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'same' },
    body: { ...login().body, session: session({ user: 'alice', authenticated_at: T0 }), csrf_token: 'same', fixation_defence: false }
  });
  const said = explainLogin(x);
  assert.equal(said.unexpected, false);
  assert.match(said.text, /kept its id \(fingerprint still aaaa1111\): this server runs with --unsafe-keep-id-on-login/);
  assert.match(said.text, /token stayed the same, as the id did/);
  assert.equal(said.claims.idChanged, false);
  assert.match(loginSummary(x).rows.map((r) => r.join(': ')).join('\n'), /aaaa1111 → aaaa1111 \(the same id\)/);
});

test('a kept id with the defence said to be on is unexpected', () => {
  const x = login({ body: { ...login().body, session: session({ user: 'alice' }) } });
  assert.equal(explainLogin(x).unexpected, true);
});

test('a login without a session creates one, and claims no id change', () => {
  const x = login({ headersSet: { 'Content-Type': 'application/json' }, before: { active: false }, body: { ...login().body, cookies_received: [] } });
  const said = explainLogin(x);
  assert.match(said.text, /there was no session, so the login created one, already logged in \(id fingerprint bbbb2222\)/);
  assert.match(said.text, /carries the session's CSRF token/);
  assert.equal(said.claims.idChanged, null);
  assert.equal(said.claims.tokenSent, false);
  assert.equal(said.unexpected, false);
});

test('another user\'s login on the session starts with empty data', () => {
  const x = login({ before: session({ user: 'bob' }), body: { ...login().body, data: {} } });
  assert.match(explainLogin(x).text, /bob was logged in on this session, so the data did not pass to alice: it starts empty/);
});

test('a wrong password is refused with nothing changed, and no Set-Cookie', () => {
  const x = refused(401, 'invalid_credentials');
  const said = explainLogin(x);
  assert.equal(said.unexpected, false);
  assert.match(said.text, /refused the login: 401 invalid_credentials/);
  assert.match(said.text, /one answer for an unknown user and for a wrong password/);
  assert.match(said.text, /The session did not change: no Set-Cookie came back, so your browser keeps the cookie it had \(id fingerprint aaaa1111\)/);
  const { method, path, cookiesSent, tokenSent, setCookie, status, cookieLifetime, idChanged, code, active } = said.claims;
  assert.deepEqual({ method, path, cookiesSent, tokenSent, setCookie, status, cookieLifetime, idChanged, code, active }, {
    method: 'POST', path: '/login', cookiesSent: ['session_id'], tokenSent: true, setCookie: 'none', status: 401,
    cookieLifetime: 'none', idChanged: null, code: 'invalid_credentials', active: null
  });
  const summary = loginSummary(x);
  assert.equal(summary.outcome, 'refused');
  assert.equal(summary.after, 'aaaa1111');
  assert.match(summary.rows[0][1], /401 invalid_credentials: refused, nothing changed/);
});

test('a malformed login and a throttled one say what stopped them; Retry-After is quoted', () => {
  assert.match(explainLogin(refused(422, 'invalid_login')).text, /no password was checked/);
  const throttled = refused(429, 'too_many_attempts', { retryAfter: '42' });
  const said = explainLogin(throttled);
  assert.match(said.text, /the right password too: Retry-After says to wait 42 s/);
  assert.match(said.tip, /Retry-After/);
  assert.match(loginSummary(throttled).rows[0][1], /Retry-After: 42 s/);
  assert.match(explainLogin(refused(403, 'csrf_token_invalid')).text, /not the token of the session your cookie names now/);
});

test('a refusal that came with a Set-Cookie is flagged', () => {
  const said = explainLogin(refused(401, 'invalid_credentials', { setCookie: BROWSER_SESSION }));
  assert.equal(said.unexpected, true);
  assert.match(said.text, /Unexpectedly, the refusal came with a Set-Cookie/);
});

test('no reply at all says nothing about the session, and claims nothing', () => {
  const said = explainLogin(login({ status: 0, body: null, setCookie: null }));
  assert.equal(said.claims, undefined);
  assert.match(said.text, /No reply came/);
  assert.equal(loginSummary(login({ status: 0, body: null })).outcome, 'failed');
});

test('logout: the session deleted and the cookie removed; the user who was logged in is named', () => {
  const x = {
    ...login(), url: '/logout', requestBody: null, setCookie: REMOVE, before: session({ user: 'alice' }),
    body: { session: { active: false }, data: {}, cookies_received: ['session_id'] }
  };
  const said = explainLogout(x);
  assert.equal(said.unexpected, false);
  assert.match(said.text, /Set-Cookie: session_id=; Max-Age=0/);
  assert.match(said.text, /You were logged in as alice/);
  assert.equal(said.claims.setCookie, 'removed');
  assert.equal(explainLogout({ ...x, setCookie: null }).unexpected, true);
  const none = explainLogout({ ...x, status: 409, setCookie: null, body: { error: { code: 'no_session', message: 'm' }, cookies_received: [] } });
  assert.match(none.text, /Without a session cookie there is no session, and no login to end/);
});

test('Who am I? answered from the cookie alone, or 401 not_logged_in with or without a cookie', () => {
  const me = {
    ...login(), method: 'GET', url: '/me', headersSet: {}, requestBody: null, setCookie: null,
    body: { user: 'alice', authenticated_at: T0, absolute_expires_at: ABS, cookies_received: ['session_id'] }
  };
  const said = explainMe(me);
  assert.match(said.text, /The cookie alone authenticated this request/);
  assert.match(said.text, /logged in as alice \(since 09:00:00 UTC\)/);
  assert.equal(said.claims.path, '/me');
  const anonymous = explainMe({ ...me, status: 401, body: { error: { code: 'not_logged_in', message: 'm' }, cookies_received: ['session_id'] } });
  assert.match(anonymous.text, /the session it names has no login/);
  const bare = explainMe({ ...me, status: 401, body: { error: { code: 'not_logged_in', message: 'm' }, cookies_received: [] } });
  assert.match(bare.text, /No session_id cookie came/);
  assert.doesNotMatch(bare.text, /has no login/);
});

test('the status line says who is logged in, from the last session seen', () => {
  assert.equal(describeWho(null), 'No live session: nobody is logged in.');
  assert.match(describeWho(session()), /Not logged in: the session \(id fingerprint aaaa1111\) has no user/);
  assert.equal(describeWho(session({ user: 'bob', authenticated_at: T0 })), 'Logged in as bob since 09:00:00 UTC (id fingerprint aaaa1111).');
});

test('a write after a login without remember me does not claim a fresh Max-Age', () => {
  const update = {
    ...login(), url: '/update-session-data', requestBody: '{"a":1}',
    headersSet: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'tok' },
    body: { session: session({ user: 'alice' }), data: { a: 1 }, csrf_token: 'tok', cookies_received: ['session_id'] }
  };
  const said = explainExchange(update);
  assert.doesNotMatch(said.text, /fresh Max-Age/);
  assert.match(said.text, /still without Max-Age or Expires: a browser-session cookie/);
  assert.match(explainExchange({ ...update, setCookie: PERSISTENT }).text, /with a fresh Max-Age/);
});

test('panel 6 counts down to the absolute limit, from creation or from the login', () => {
  const now = Date.parse(ABS) - (7 * 3600 + 59 * 60 + 55) * 1000;
  const anonymous = describeAbsoluteCountdown(session(), now);
  assert.equal(anonymous.seconds, 28795);
  assert.match(anonymous.text, /Ends in 7:59:55 at the latest \(at 17:00:00 UTC\), however active: the absolute limit, counted from the session's creation at 09:00:00 UTC/);
  assert.match(describeAbsoluteCountdown(session({ user: 'alice', authenticated_at: T0 }), now).text, /counted from the login of alice at 09:00:00 UTC/);
  assert.match(describeAbsoluteCountdown(session(), Date.parse(ABS) + 1000).text, /has passed/);
  assert.equal(describeAbsoluteCountdown(null, now).seconds, null);
  // The idle expiry capped at the absolute limit is not said to move.
  const capped = describeCountdown(session({ expires_at: ABS }), Date.parse(ABS) - 60000);
  assert.match(capped.text, /at the absolute limit: a request no longer moves it/);
});

const PLANTED = { probe: 'p', planted_fingerprint: 'cccc3333', session: { active: true, user: null } };

test('the lab\'s answer to /lab/planted is read off the exchange, or null', () => {
  assert.deepEqual(plantedOf({ status: 200, body: PLANTED }), { fingerprint: 'cccc3333', active: true, user: null });
  assert.deepEqual(plantedOf({ status: 200, body: { ...PLANTED, session: { active: true, user: 'alice' } } }).user, 'alice');
  assert.equal(plantedOf({ status: 0, body: null }), null);
  assert.equal(plantedOf({ status: 404, body: { error: { code: 'not_found' } } }), null);
});

test('waiting for the plant: watching, served, refused, planted, timed out', () => {
  const limits = { pageMs: 10000, watchMs: 120000 };
  const page = { method: 'GET', target_accepted: false, cookies_received: [] };
  const plant = { method: 'POST', path: '/lab/plant', status: 200, origin: 'http://127.0.0.1:3001', cookies_received: [] };
  assert.equal(fixationProgress('http://127.0.0.1:3001', [], 0, limits).state, 'watching');
  assert.match(fixationProgress('http://127.0.0.1:3001', [page], 3000, limits).text, /is open: press its “Plant a session id” button/);
  assert.equal(fixationProgress('http://127.0.0.1:3001', [], 11000, limits).state, 'not-loaded');
  assert.equal(fixationProgress('http://127.0.0.1:3001', [page], 121000, limits).state, 'not-seen');
  const refusedPlant = { ...plant, status: 403, code: 'cross_origin_rejected', origin: 'http://evil.example' };
  const said = fixationProgress('http://127.0.0.1:3001', [page, refusedPlant], 3000, limits);
  assert.equal(said.state, 'watching');
  assert.match(said.text, /refused the plant: 403 cross_origin_rejected/);
  assert.equal(fixationProgress('http://127.0.0.1:3001', [page, refusedPlant, plant], 4000, limits).state, 'planted');
  assert.equal(plantEntry([page, plant, { ...plant, path: '/lab/planted', method: 'GET' }]), plant);
});

/** The read after the plant. */
function readAfterPlant(fingerprint) {
  return {
    method: 'GET', url: '/get-session-data', headersSet: {}, requestBody: null, status: 200, setCookie: null,
    body: { session: session({ id_fingerprint: fingerprint }), data: {}, csrf_token: 't', cookies_received: ['session_id'] },
    before: session()
  };
}

test('after a plant from another port, the page says its cookie now names the planted session', () => {
  const said = explainPlanted({ origin: 'http://127.0.0.1:3001', pageHost: '127.0.0.1', planted: plantedOf({ status: 200, body: PLANTED }), x: readAfterPlant('cccc3333') });
  assert.equal(said.cookieReplaced, true);
  assert.equal(said.unexpected, false);
  assert.match(said.text, /now names the planted session \(fingerprint cccc3333\)/);
  assert.match(said.text, /replaced the session_id cookie your browser held for this host \(the session your cookie named, fingerprint aaaa1111\)/);
  assert.doesNotMatch(said.text, /your session,/);
  assert.equal(said.claims.path, '/get-session-data');
});

test('after a plant from another host, the page says its own cookie is untouched', () => {
  const said = explainPlanted({ origin: 'http://localhost:3001', pageHost: '127.0.0.1', planted: plantedOf({ status: 200, body: PLANTED }), x: readAfterPlant('aaaa1111') });
  assert.equal(said.cookieReplaced, false);
  assert.equal(said.unexpected, false);
  assert.match(said.text, /still names your own session \(fingerprint aaaa1111\), not the planted one: the lab's cookie went to the host localhost/);
  const sameHost = explainPlanted({ origin: 'http://127.0.0.1:3001', pageHost: '127.0.0.1', planted: plantedOf({ status: 200, body: PLANTED }), x: readAfterPlant('aaaa1111') });
  assert.equal(sameHost.unexpected, true);
  const unreadable = explainPlanted({ origin: 'http://127.0.0.1:3001', pageHost: '127.0.0.1', planted: null, x: readAfterPlant('aaaa1111') });
  assert.equal(unreadable.unexpected, true);
});

/** The outcome with defaults: a plant from another port, then the login with the defence on. */
function outcome(over) {
  return {
    origin: 'http://127.0.0.1:3001', pageHost: '127.0.0.1',
    planted: { fingerprint: 'cccc3333', active: true, user: null }, here: 'cccc3333',
    login: { user: 'alice', fingerprint: 'dddd4444', fixationDefence: true },
    after: { fingerprint: 'cccc3333', active: false, user: null },
    requests: [
      { method: 'POST', path: '/lab/plant', status: 200, origin: 'http://127.0.0.1:3001', sec_fetch_site: 'same-origin', cookies_received: [] },
      { method: 'POST', path: '/login', status: 200, code: null, origin: 'http://127.0.0.1:3000', sec_fetch_site: 'same-origin', cookies_received: ['session_id'] }
    ],
    ...over
  };
}

test('with the defence on, the planted id finds nothing after the login', () => {
  const said = explainFixationOutcome(outcome());
  assert.equal(said.state, 'failed');
  assert.equal(said.unexpected, false);
  assert.match(said.text, /finds nothing/);
  assert.match(said.text, /moved the session to a new id \(fingerprint dddd4444\)/);
  assert.match(said.text, /Session fixation failed/);
  assert.match(said.text, /your login, which reached this site with session_id and was answered 200/);
});

test('with the defence off, the planted id finds the learner logged in', () => {
  const said = explainFixationOutcome(outcome({
    login: { user: 'alice', fingerprint: 'cccc3333', fixationDefence: false },
    after: { fingerprint: 'cccc3333', active: true, user: 'alice' }
  }));
  assert.equal(said.state, 'worked');
  assert.equal(said.unexpected, false);
  assert.match(said.text, /finds a session logged in as alice/);
  assert.match(said.text, /--unsafe-keep-id-on-login/);
  assert.match(said.text, /Session fixation worked/);
  const contradicted = explainFixationOutcome(outcome({ after: { fingerprint: 'cccc3333', active: true, user: 'alice' } }));
  assert.equal(contradicted.unexpected, true);
});

test('from another host, the planted id finds only its own anonymous session', () => {
  const said = explainFixationOutcome(outcome({
    origin: 'http://localhost:3001', here: 'aaaa1111',
    after: { fingerprint: 'cccc3333', active: true, user: null }
  }));
  assert.equal(said.state, 'missed');
  assert.equal(said.unexpected, false);
  assert.match(said.text, /finds only its own anonymous session/);
  assert.match(said.text, /the plant landed on the host localhost and this page is on 127\.0\.0\.1/);
  assert.equal(explainFixationOutcome(outcome({ after: null })).state, 'unknown');
});

test('a login claims an id change only when it can tell', () => {
  assert.equal(loginClaimsOf(login()).idChanged, true);
  assert.equal(loginClaimsOf(login({ before: null })).idChanged, null);
  assert.equal(loginClaimsOf(login({ setCookie: null })).idChanged, null);
});

// What the learner's pass found false or confusing, each case the exchange that showed it.

test('Who am I? counts as activity: its Set-Cookie and new expiry are said, and become the expiry the page knows', () => {
  const known = session({ user: 'alice', authenticated_at: T0, expires_at: '2026-11-28T09:10:08Z' });
  const me = {
    method: 'GET', url: '/me', headersSet: {}, requestBody: null, status: 200, setCookie: PERSISTENT, before: known,
    at: Date.parse('2026-11-28T09:09:25Z'),
    body: { user: 'alice', authenticated_at: T0, expires_at: '2026-11-28T09:10:25Z', absolute_expires_at: ABS, cookies_received: ['session_id'] }
  };
  const said = explainMe(me);
  assert.match(said.text, /GET \/me counts as activity: the server moved the session's expiry from 09:10:08 UTC to 09:10:25 UTC and re-sent the cookie \(Set-Cookie\)/);
  assert.equal(said.claims.expiresAt, '2026-11-28T09:10:25Z');
  assert.equal(said.claims.expiryMoved, true);
  assert.equal(sessionAfterMe(known, me).expires_at, '2026-11-28T09:10:25Z');
  assert.equal(sessionAfterMe(known, me).id_fingerprint, 'aaaa1111');
  // Another login (a replaced cookie): /me says nothing about the session the page knew.
  assert.equal(sessionAfterMe(session({ user: 'bob', authenticated_at: T0 }), me), null);
  const still = explainMe({ ...me, setCookie: null, body: { ...me.body, expires_at: '2026-11-28T09:10:08Z' } });
  assert.match(still.text, /counts as activity, like a read, but the expiry did not move \(still 09:10:08 UTC\) and no Set-Cookie came/);
});

test('after Who am I? answers 401, the status line no longer says who was logged in', () => {
  const x = { method: 'GET', url: '/me', status: 401, at: Date.parse('2026-11-28T09:10:30Z'),
    body: { error: { code: 'not_logged_in', message: 'm' }, cookies_received: ['session_id'] } };
  const who = describeWhoAfterMe(x);
  assert.equal(who.user, '');
  assert.match(who.text, /^Not logged in: GET \/me answered 401 not_logged_in at 09:10:30 UTC/);
  assert.doesNotMatch(who.text, /Logged in as/);
});

test('a login refused for a stale token says the cookie changed since the page read the session', () => {
  const x = refused(403, 'csrf_token_invalid');
  const said = explainLogin(x);
  assert.match(said.text, /your browser keeps the cookie it sent; that cookie changed since this page last read the session: the last fingerprint the page saw was aaaa1111/);
  assert.doesNotMatch(said.text, /keeps the cookie it had/);
  const row = loginSummary(x).rows.find((r) => r[0] === 'Id fingerprint')[1];
  assert.match(row, /your cookie changed since this page last read the session \(the last fingerprint it saw: aaaa1111\)/);
  assert.doesNotMatch(row, /unchanged/);
});

test('a wrong password says failures count toward the lock', () => {
  const said = explainLogin(refused(401, 'invalid_credentials'));
  assert.match(said.text, /Failures count toward the limit: 5 per username within 60 s/);
  assert.doesNotMatch(said.text, /Nothing changed/);
});

test('a new id at login is said to stop fixation, not a same-host server that reads the cookies', () => {
  const login1 = explainLogin(login());
  assert.match(login1.text, /A server on another port of this host still receives your new cookie whenever your browser calls it \(cookies ignore ports\)/);
  const failed = explainFixationOutcome(outcome());
  assert.match(failed.text, /Session fixation failed\. A server on another port of this host still receives your new cookie/);
  const otherHost = explainFixationOutcome(outcome({ origin: 'http://localhost:3001' }));
  assert.doesNotMatch(otherHost.text, /another port of this host/);
});

test('a second fixation run marks the first one replaced, unless it had finished', () => {
  assert.match(replacedRun('planted'), /A newer run \(above\) replaced this one/);
  assert.match(replacedRun('watching'), /stopped watching/);
  assert.equal(replacedRun('failed'), null);
  assert.equal(replacedRun('replaced'), null);
});

// Unit tests of static/explain.js and static/explain-panels.js: one case per
// situation the page explains, asserting what the sentence says about the
// cookie, the token, the error and the expiry. Run by `cargo test`
// (tests/api/page_logic.rs) through `node --test tests/js`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importStatic } from './static-module.mjs';

const { explainExchange, explainPageLoad, describePatch, headersTip, factsOf, claimsOf } = await importStatic('explain.js');
const { explainBurst, explainCookieWrite, cookieHeaderNote } = await importStatic('explain-panels.js');

const T0 = '2026-11-28T09:00:00Z';
const T1 = '2026-11-28T09:30:00Z';
const T2 = '2026-11-28T09:30:05Z';
const live = (extra) => ({ active: true, created_at: T0, expires_at: T1, page_views: 2, idle_timeout_seconds: 1800, ...extra });
const SET = 'session_id=<redacted>; HttpOnly; SameSite=Lax; Path=/; Max-Age=1800';
const REMOVE = 'session_id=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT';

/** An exchange with defaults: a GET that found a live session. */
function exchange(over) {
  return {
    method: 'GET', url: '/get-session-data', headersSet: {}, requestBody: null, status: 200,
    body: { session: live(), data: {}, csrf_token: 'tok', cookies_received: ['session_id'] },
    setCookie: null, before: null, at: Date.parse('2026-11-28T09:10:00Z'), ...over
  };
}

/** An accepted update. */
function update(over) {
  return exchange({
    method: 'POST', url: '/update-session-data', requestBody: '{"color":"blue"}',
    headersSet: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'tok' },
    body: { session: live({ expires_at: T2 }), data: { color: 'blue' }, csrf_token: 'tok', cookies_received: ['session_id'] },
    setCookie: SET, before: live(), ...over
  });
}

test('a read that moved the expiry says so and names the Set-Cookie', () => {
  const said = explainExchange(exchange({ before: live(), setCookie: SET, body: { session: live({ expires_at: T2 }), data: {}, cookies_received: ['session_id'] } }));
  assert.match(said.text, /moved the expiry from 09:30:00 UTC to 09:30:05 UTC/);
  assert.match(said.text, /Set-Cookie/);
  assert.equal(said.unexpected, false);
});

test('a read that did not move the expiry does not claim it did, and gives the one-tenth rule', () => {
  const said = explainExchange(exchange({ before: live() }));
  assert.match(said.text, /did not move: still 09:30:00 UTC, and no Set-Cookie came/);
  assert.match(said.text, /a tenth of the idle timeout \(180 s of 1800 s\)/);
  assert.doesNotMatch(said.text, /moved the expiry/);
  assert.match(said.text, /attached the session_id cookie/);
});

test('a read whose expiry changed without a Set-Cookie is flagged as unexpected', () => {
  const said = explainExchange(exchange({ before: live(), body: { session: live({ expires_at: T2 }), data: {}, cookies_received: ['session_id'] } }));
  assert.equal(said.unexpected, true);
  assert.match(said.text, /without a Set-Cookie/);
});

test('a read whose cookie finds no session says the server no longer has it', () => {
  const said = explainExchange(exchange({ body: { session: { active: false, reason: 'unknown_or_expired' }, data: {}, cookies_received: ['session_id'] } }));
  assert.match(said.text, /sent a session_id cookie, but the server has no live session under that id \(expired, cleared, replaced, or never issued/);
  assert.match(said.text, /created nothing/);
  assert.doesNotMatch(said.text, /idle expiry/);
});

test('an expired session is named as idle expiry when its expiry had passed', () => {
  const said = explainExchange(exchange({
    before: live(), at: Date.parse(T1) + 5000,
    body: { session: { active: false, reason: 'unknown_or_expired' }, data: {}, cookies_received: ['session_id'] }
  }));
  assert.match(said.text, /due to expire at 09:30:00 UTC after 1800 s without a request: idle expiry at work/);
});

test('a read without the cookie says none came and nothing was created', () => {
  const said = explainExchange(exchange({ body: { session: { active: false }, data: {}, cookies_received: ['theme'] } }));
  assert.match(said.text, /No session_id cookie came with this request: the server received only theme/);
  assert.match(said.text, /creates nothing/);
  assert.doesNotMatch(said.text, /no longer has/);
});

test('an update of a live session names the cookie, the token and the patch', () => {
  const said = explainExchange(update());
  assert.match(said.text, /attached the session_id cookie/);
  assert.match(said.text, /CSRF token in X-CSRF-Token/);
  assert.match(said.text, /"color" set to "blue"/);
  assert.equal(said.unexpected, false);
});

test('an update after Clear says no cookie was sent and a new session was made', () => {
  const said = explainExchange(update({
    headersSet: { 'Content-Type': 'application/json' }, before: { active: false },
    body: { session: live({ page_views: 0 }), data: { color: 'blue' }, csrf_token: 'new', cookies_received: [] }
  }));
  assert.match(said.text, /No session_id cookie came with this request: the server received no cookie at all/);
  assert.match(said.text, /created a new session/);
  assert.doesNotMatch(said.text, /attached the session_id cookie/);
  assert.doesNotMatch(said.text, /script added the session's CSRF token/);
});

test('an update with an expired cookie says the session was gone and a new one made', () => {
  const said = explainExchange(update({
    body: { session: live({ created_at: T2 }), data: { color: 'blue' }, csrf_token: 'new', cookies_received: ['session_id'] }
  }));
  assert.match(said.text, /sent a session_id cookie, but the server has no live session under that id/);
  assert.match(said.text, /created a new session/);
});

test('null in a patch is described as removing the key', () => {
  assert.equal(describePatch({ color: null }, {}),
    'null for "color", so data has no such key now (null removes a key, and changes nothing where there was none)');
  assert.equal(describePatch({ color: null }, { color: 'blue' }), 'null for "color", yet that key is still there');
  assert.match(describePatch({ color: null }, { color: 1 }), /still there/);
});

test('a request without the token names the token check, SameSite=Lax and the Origin check', () => {
  const said = explainExchange(exchange({
    method: 'POST', url: '/update-session-data', status: 403, requestBody: '{"forged":true}',
    headersSet: { 'Content-Type': 'application/json' },
    body: { error: { code: 'csrf_token_missing', message: 'This session needs its CSRF token.' }, cookies_received: ['session_id', 'theme'] }
  }));
  assert.match(said.text, /403 csrf_token_missing/);
  assert.match(said.text, /session_id cookie by itself .* received it, along with theme/);
  assert.match(said.text, /no X-CSRF-Token header/);
  assert.match(said.text, /SameSite=Lax/);
  assert.match(said.text, /Origin check \(403 cross_origin_rejected\)/);
  assert.doesNotMatch(said.text, /looks just like this/);
});

test('a limit error is named as an error that changed nothing', () => {
  const said = explainExchange(update({
    status: 422, body: { error: { code: 'too_many_keys', message: 'Too many.' }, cookies_received: ['session_id'] }
  }));
  assert.match(said.text, /refused the request: 422 too_many_keys/);
  assert.match(said.text, /Nothing changed/);
});

test('regenerate and clear are explained from their Set-Cookie', () => {
  const regenerated = explainExchange(update({ url: '/regenerate-session', requestBody: null, body: { session: live(), data: {}, csrf_token: 'new', cookies_received: ['session_id'] } }));
  assert.match(regenerated.text, /new id and a new CSRF token/);
  const cleared = explainExchange(update({ url: '/clear-session', requestBody: null, setCookie: REMOVE, body: { session: { active: false }, data: {}, cookies_received: ['session_id'] } }));
  assert.match(cleared.text, /deleted the session .* Max-Age=0/);
  const notCleared = explainExchange(update({ url: '/clear-session', requestBody: null, setCookie: null, body: { session: { active: false }, data: {}, cookies_received: ['session_id'] } }));
  assert.equal(notCleared.unexpected, true);
});

test('no reply at all is said plainly', () => {
  const said = explainExchange(exchange({ status: 0, body: null }));
  assert.match(said.text, /No reply came/);
  assert.equal(said.unexpected, true);
});

test('a burst whose updates all hit a limit reports errors, not lost updates', () => {
  const outcomes = Array.from({ length: 20 }, (_, i) => ({ key: 'burst_' + i, value: 'r#' + i, status: 422, code: 'too_many_keys', newSession: false }));
  const said = explainBurst(outcomes, { other: 1 });
  assert.equal(said.arrived, 0);
  assert.equal(said.lost, 0);
  assert.equal(said.refused, 20);
  assert.match(said.text, /20 were refused by the server: 20 × 422 too_many_keys/);
  assert.match(said.text, /errors, not lost updates/);
  assert.doesNotMatch(said.text, /none overwrites another/);
});

test('a burst that kept everything says all of them', () => {
  const outcomes = Array.from({ length: 20 }, (_, i) => ({ key: 'burst_' + i, value: 'r#' + i, status: 200, code: null, newSession: false }));
  const data = Object.fromEntries(outcomes.map((o) => [o.key, o.value]));
  const said = explainBurst(outcomes, data);
  assert.equal(said.arrived, 20);
  assert.match(said.text, /20 of 20 .*all of them/);
  assert.match(said.text, /none overwrites another/);
});

test('a burst with an accepted update missing from the data reports it lost', () => {
  const outcomes = [{ key: 'a', value: 1, status: 200, code: null }, { key: 'b', value: 2, status: 200, code: null }];
  const said = explainBurst(outcomes, { a: 1, b: 'old' });
  assert.equal(said.lost, 1);
  assert.equal(said.unexpected, true);
  assert.match(said.text, /1 accepted updates are missing/);
});

test('burst updates that started sessions of their own are not called lost', () => {
  const outcomes = [{ key: 'a', value: 1, status: 200, code: null, newSession: true }, { key: 'b', value: 2, status: 200, code: null, newSession: false }];
  const said = explainBurst(outcomes, { b: 2 });
  assert.equal(said.lost, 0);
  assert.match(said.text, /1 found no live session/);
});

test('a script write of session_id is explained as refused because of HttpOnly', () => {
  const said = explainCookieWrite({ name: 'session_id', value: 'x', written: 'x', deleting: false, visibleBefore: false, visibleAfter: false, received: ['session_id'] });
  assert.match(said.text, /browser refused the write/);
  assert.match(said.text, /HttpOnly/);
  assert.doesNotMatch(said.text, /JavaScript wrote session_id into document.cookie/);
});

test('a script write that worked is shown arriving at the server', () => {
  const said = explainCookieWrite({ name: 'favourite', value: 'oatmeal', written: 'oatmeal', deleting: false, visibleBefore: false, visibleAfter: true, received: ['session_id', 'favourite'] });
  assert.match(said.text, /wrote favourite into document.cookie/);
  assert.match(said.text, /carried it/);
  assert.doesNotMatch(said.text, /percent-encoded/);
});

test('a value with ; and = is said to be percent-encoded', () => {
  const said = explainCookieWrite({ name: 'n', value: 'a;b=c', written: 'a%3Bb%3Dc', deleting: false, visibleBefore: false, visibleAfter: true, received: ['n'] });
  assert.match(said.text, /percent-encoded, as a%3Bb%3Dc/);
});

test('a deleted cookie is shown gone from the next request', () => {
  const said = explainCookieWrite({ name: 'favourite', value: '', written: '', deleting: true, visibleBefore: true, visibleAfter: false, received: ['session_id'] });
  assert.match(said.text, /no longer shows it/);
  assert.match(said.text, /did not carry it: cookies_received lists session_id/);
  const httpOnly = explainCookieWrite({ name: 'session_id', value: '', written: '', deleting: true, visibleBefore: false, visibleAfter: false, received: ['session_id'] });
  assert.match(httpOnly.text, /still carried .* HttpOnly/);
});

test('a reload names the same session, a new one, or the first view', () => {
  const same = explainPageLoad(live(), exchange({ body: { session: live({ page_views: 3 }), data: {}, cookies_received: ['session_id'] } }));
  assert.match(same.text, /same session this tab saw before/);
  assert.match(same.text, /page view 3/);
  const renewed = explainPageLoad(live(), exchange({ body: { session: live({ created_at: T2, page_views: 1 }), data: {}, cookies_received: ['session_id'] } }));
  assert.match(renewed.text, /a different session id than before the reload/);
  assert.match(renewed.text, /first page view/);
});

// The sentences beside the exchanges: the theme note, a refused cookie
// name, the burst's summary line, the store and the countdown.
const { explainInvalidCookieName, summarizeBurst, describeStore, describeCountdown, describeExpiryRow, describeActiveRow } = await importStatic('explain-panels.js');

test('the theme toggle\'s write adds what the server does with theme, only once the cookie is stored', () => {
  const write = { name: 'theme', value: 'dark', written: 'dark', deleting: false, visibleBefore: true, received: ['session_id', 'theme'] };
  const stored = explainCookieWrite({ ...write, visibleAfter: true, purpose: 'theme' });
  assert.match(stored.text, /carried it.* The server reads theme when it renders the page \(data-theme on <html>\)/);
  const typed = explainCookieWrite({ ...write, visibleAfter: true });
  assert.doesNotMatch(typed.text, /data-theme/);
  const dropped = explainCookieWrite({ ...write, visibleAfter: false, purpose: 'theme', received: ['session_id'] });
  assert.doesNotMatch(dropped.text, /data-theme/);
});

test('a cookie name with a space or "=" is refused with nothing written', () => {
  const said = explainInvalidCookieName();
  assert.match(said.text, /Nothing was written\.$/);
  assert.equal(said.unexpected, false);
});

test('the burst summary names what arrived, was refused and was lost', () => {
  assert.equal(summarizeBurst({ arrived: 20, refused: 0, lost: 0 }, 20), '20 of 20 parallel updates arrived.');
  assert.equal(summarizeBurst({ arrived: 15, refused: 3, lost: 2 }, 20), '15 of 20 parallel updates arrived; 3 refused with an error; 2 lost.');
});

test('where the session lives follows the reply\'s store', () => {
  assert.match(describeStore('memory'), /^In this process's memory: a restart forgets it/);
  assert.match(describeStore('redis'), /^In Redis, shared by every instance: it survives restarts/);
  assert.equal(describeStore('carrier-pigeon'), 'In a store this page does not know: carrier-pigeon.');
});

test('the countdown: none without a live session, time left, or passed', () => {
  assert.deepEqual(describeCountdown(null, Date.parse(T0)), { text: 'No live session known to this page, so no expiry to count down to.', seconds: null });
  assert.equal(describeCountdown({ active: false }, Date.parse(T0)).seconds, null);
  const left = describeCountdown(live(), Date.parse(T1) - 125000);
  assert.equal(left.seconds, 125);
  assert.equal(left.text, 'Expires in 2:05 (at 09:30:00 UTC) unless a request comes first.');
  const passed = describeCountdown(live(), Date.parse(T2));
  assert.equal(passed.seconds, 0);
  assert.match(passed.text, /^The expiry the server last reported, 09:30:00 UTC, has passed/);
});

test('the devtools tip of an update names only the headers that were there', () => {
  const created = update({
    headersSet: { 'Content-Type': 'application/json' },
    body: { session: live({ page_views: 0 }), data: { color: 'blue' }, csrf_token: 'new', cookies_received: [] },
    before: null
  });
  const said = explainExchange(created);
  assert.match(said.tip, /no Cookie header and no X-CSRF-Token went out; Set-Cookie came back/);
  assert.match(explainExchange(update()).tip, /the Cookie header and X-CSRF-Token went out; Set-Cookie came back/);
  assert.equal(headersTip('x', factsOf(update({ setCookie: null }))), 'Network → x → Headers: the Cookie header and X-CSRF-Token went out; no Set-Cookie came back.');
});

test('the first page load says its response set the cookie, a later one that it refreshed it', () => {
  const first = explainPageLoad(null, exchange({ body: { session: live({ page_views: 1 }), data: {}, cookies_received: ['session_id'] } }));
  assert.match(first.text, /carried Set-Cookie with the session's id/);
  assert.doesNotMatch(first.text, /re-sent|moved the expiry/);
  const later = explainPageLoad(live(), exchange({ body: { session: live({ page_views: 3 }), data: {}, cookies_received: ['session_id'] } }));
  assert.match(later.text, /moved the expiry to .* carried Set-Cookie with a fresh Max-Age/);
});

test('a stale token is explained as out of date, not as a request from elsewhere', () => {
  const said = explainExchange(update({
    status: 403, setCookie: null,
    body: { error: { code: 'csrf_token_invalid', message: 'm' }, cookies_received: ['session_id'] }
  }));
  assert.match(said.text, /not the session's token now/);
  assert.match(said.text, /Refresh reads the current one/);
  assert.doesNotMatch(said.text, /coming from this site's page/);
});

test('the log says what became of the Cookie header, by target and credentials', () => {
  const page = 'http://127.0.0.1:3000';
  assert.match(cookieHeaderNote('/update-session-data', false, page), /adds a Cookie header by itself/);
  assert.match(cookieHeaderNote('http://127.0.0.1:3001/lab/echo?probe=p', false, page), /no Cookie header: a cross-origin request without credentials/);
  assert.match(cookieHeaderNote('http://localhost:3001/lab/echo?probe=p', true, page), /holds for the host localhost, whatever their port, that SameSite/);
});

test('the encoding sentence names only ; as what would break the cookie, and RFC 6265 for the rest', () => {
  const said = explainCookieWrite({ name: 'n', value: 'a;b=c', written: 'a%3Bb%3Dc', deleting: false, visibleBefore: false, visibleAfter: true, received: ['n'] });
  assert.match(said.text, /a ; would end the cookie/);
  assert.match(said.text, /RFC 6265/);
  assert.doesNotMatch(said.text, /= and spaces would end/);
});

test('a refused cookie is explained by its prefix or its size, and the tip claims no HttpOnly cookie', () => {
  const prefixed = explainCookieWrite({ name: '__Host-x', value: '1', written: '1', deleting: false, visibleBefore: false, visibleAfter: false, received: ['session_id'] });
  assert.match(prefixed.text, /__Host- or __Secure- promises the Secure attribute/);
  assert.match(prefixed.text, /__Host- also needs Path=\/ and no Domain/);
  assert.doesNotMatch(prefixed.tip, /HttpOnly/);
  assert.equal(prefixed.unexpected, false);
  const big = explainCookieWrite({ name: 'big', value: 'x'.repeat(5000), written: 'x'.repeat(5000), deleting: false, visibleBefore: false, visibleAfter: false, received: ['session_id'] });
  assert.match(big.text, /5,003 bytes, over the 4,096/);
  assert.match(big.text, /\(5,000 characters\)/);
  const odd = explainCookieWrite({ name: 'odd', value: 'v', written: 'v', deleting: false, visibleBefore: false, visibleAfter: false, received: ['session_id'] });
  assert.equal(odd.unexpected, true);
  assert.match(odd.text, /cannot tell why/);
});

test('a read after the countdown ran out says the browser dropped the cookie as the session expired', () => {
  const said = explainExchange(exchange({
    before: live(), at: Date.parse(T1) + 1000,
    body: { session: { active: false }, data: {}, cookies_received: ['theme'] }
  }));
  assert.match(said.text, /No session_id cookie came/);
  assert.match(said.text, /The browser dropped it around 09:30:00 UTC, when the page's countdown reached zero/);
  assert.match(said.text, /forgot the session at the same moment/);
  const early = explainExchange(exchange({ before: live(), body: { session: { active: false }, data: {}, cookies_received: [] } }));
  assert.doesNotMatch(early.text, /dropped it around/);
});

test('every explanation of a reply carries the claims its sentences rest on', () => {
  const claims = explainExchange(update()).claims;
  assert.deepEqual(claims, {
    method: 'POST', path: '/update-session-data', cookiesSent: ['session_id'], tokenSent: true, setCookie: 'set', status: 200,
    cookieLifetime: 'persistent', code: null, message: null, active: true, reason: null, createdAt: T0, expiresAt: T2, idleTimeout: 1800, pageViews: 2, user: null, keys: 1,
    capped: false, fingerprint: null,
    seenBefore: { createdAt: T0, expiresAt: T1, idleTimeout: 1800, absoluteExpiresAt: null, fingerprint: null, capped: false },
    sameSession: true, sameId: null, expiryMoved: true, expiredAt: null,
    newSession: false, idChanged: false, changes: [{ key: 'color', value: '"blue"', present: true }]
  });
  const cleared = explainExchange(update({ url: '/clear-session', setCookie: REMOVE, body: { session: { active: false }, data: {}, cookies_received: ['session_id'] } }));
  assert.equal(cleared.claims.setCookie, 'removed');
  assert.equal(cleared.claims.idChanged, null);
  assert.equal(cleared.claims.cookieLifetime, 'none');
  const refused = explainExchange(update({ headersSet: {}, status: 403, setCookie: null, body: { error: { code: 'csrf_token_missing', message: 'm' }, cookies_received: ['theme', 'session_id'] } }));
  assert.deepEqual(refused.claims.cookiesSent, ['theme', 'session_id']);
  assert.equal(refused.claims.tokenSent, false);
  assert.equal(refused.claims.setCookie, 'none');
  assert.equal(refused.claims.code, 'csrf_token_missing');
  assert.equal(refused.claims.changes, null);
  assert.equal(refused.claims.cookieLifetime, 'none');
  assert.equal(explainExchange(exchange({ status: 0, body: null })).claims, undefined);
  assert.equal(explainPageLoad(null, exchange()).claims.path, '/get-session-data');
  assert.equal(explainPageLoad(null, exchange()).claims.pageSetCookie, 'set');
  assert.deepEqual(claimsOf(exchange({ url: '/get-session-data?probe=x' })).path, '/get-session-data');
});

// The sentences are rendered from the claims alone: one case per claim
// kind, changing only that claim.
const { explainClaims } = await importStatic('explain.js');

test('session sentences rendered from claims: each claim kind moves its sentence', () => {
  const base = claimsOf(exchange({ before: live() }));
  const text = (over) => explainClaims({ ...base, ...over }).text;
  assert.match(text({}), /attached the session_id cookie by itself .* received it\./);
  assert.match(text({ cookiesSent: ['session_id', 'theme'] }), /received it, along with theme/);
  assert.match(text({ cookiesSent: null }), /The reply does not say which cookies arrived/);
  assert.match(text({ keys: 3, pageViews: 1 }), /3 keys in data, 1 page view\./);
  assert.match(text({}), /The expiry did not move: still 09:30:00 UTC/);
  assert.match(text({ expiryMoved: true, expiresAt: T2, setCookie: 'set' }), /moved the expiry from 09:30:00 UTC to 09:30:05 UTC/);
  assert.match(text({ expiryMoved: true, expiresAt: T2 }), /without a Set-Cookie in this reply/);
  assert.match(text({ setCookie: 'set' }), /re-sent the cookie \(Set-Cookie\) with a fresh Max-Age; the expiry is still 09:30:00 UTC/);
  assert.match(text({ sameSession: false, createdAt: T2 }), /Your browser now sends another session_id than when the page last read the session/);
  assert.match(text({ active: false, reason: 'unknown_or_expired' }), /the server has no live session under that id/);
  assert.match(text({ active: false, reason: 'unknown_or_expired', expiredAt: T1 }), /due to expire at 09:30:00 UTC after 1800 s/);
  assert.match(text({ active: false, cookiesSent: [], expiredAt: T1 }), /The browser dropped it around 09:30:00 UTC/);
  assert.match(text({ code: 'too_many_keys', message: 'Too many.', status: 422 }), /refused the request: 422 too_many_keys\. Too many\./);
  assert.match(text({ code: 'no_session', message: 'm', status: 409 }), /nothing to act on/);
  assert.match(text({ status: 500, active: null }), /did not expect/);
  const upd = claimsOf(update());
  const said = (over) => explainClaims({ ...upd, ...over });
  assert.match(said({}).text, /"color" set to "blue"/);
  assert.match(said({ changes: [{ key: 'color', value: null, present: false }] }).text, /null for "color", so data has no such key now/);
  assert.match(said({ changes: null }).text, /the body was not an object/);
  assert.match(said({ changes: [] }).text, /an empty patch/);
  assert.match(said({ newSession: true, cookiesSent: [], tokenSent: false, idChanged: true }).text, /no token was needed.*created a new session/);
  assert.match(said({ newSession: true, cookiesSent: [], tokenSent: false }).tip, /no Cookie header and no X-CSRF-Token went out/);
  assert.match(said({ setCookie: 'none' }).text, /No Set-Cookie came back/);
  const regen = claimsOf(update({ url: '/regenerate-session', requestBody: null, body: { session: live(), data: {}, csrf_token: 'new', cookies_received: ['session_id'] } }));
  assert.equal(regen.idChanged, true);
  assert.match(explainClaims(regen).text, /\(same data, same creation time\) to a new id/);
  assert.equal(explainClaims({ ...regen, idChanged: false }).unexpected, true);
  const clear = claimsOf(update({ url: '/clear-session', requestBody: null, setCookie: REMOVE, body: { session: { active: false }, data: {}, cookies_received: ['session_id'] } }));
  assert.match(explainClaims(clear).text, /Max-Age=0, so the browser dropped the cookie/);
  assert.match(explainClaims({ ...clear, setCookie: 'none' }).text, /no Set-Cookie told the browser to drop the cookie/);
});

test('an update that started a session claims a new id; an update of a live one claims the same id', () => {
  const created = claimsOf(update({ headersSet: { 'Content-Type': 'application/json' }, before: null,
    body: { session: live({ page_views: 0 }), data: { color: 'blue' }, csrf_token: 'new', cookies_received: [] } }));
  assert.equal(created.newSession, true);
  assert.equal(created.idChanged, true);
  assert.equal(claimsOf(update()).idChanged, false);
  assert.equal(claimsOf(update({ setCookie: null })).idChanged, null);
});

test('a cookie write carries its claims, and its sentences follow them', () => {
  const w = { name: 'favourite', value: 'oat meal', written: 'oat%20meal', deleting: false, visibleBefore: false, visibleAfter: true, received: ['session_id', 'favourite'] };
  const said = explainCookieWrite(w);
  assert.deepEqual(said.claims, {
    cookieWrite: { name: 'favourite', written: 'oat%20meal', encoded: true, deleting: false, visibleBefore: false, visibleAfter: true,
      carried: true, keptOld: false, httpOnlyHeld: null, size: 19, purpose: null },
    cookiesSent: ['session_id', 'favourite']
  });
  assert.match(said.text, /percent-encoded, as oat%20meal/);
  const held = explainCookieWrite({ ...w, name: 'session_id', value: 'x', written: 'x', visibleAfter: false, received: ['session_id'] });
  assert.equal(held.claims.cookieWrite.httpOnlyHeld, true);
  assert.match(held.text, /holds an HttpOnly cookie of that name/);
  const gone = explainCookieWrite({ ...w, deleting: true, visibleBefore: true, visibleAfter: false, received: ['session_id'] });
  assert.equal(gone.claims.cookieWrite.carried, false);
  assert.match(gone.text, /did not carry it: cookies_received lists session_id/);
});

test('an empty cookie name gets its own message', () => {
  assert.match(explainInvalidCookieName('').text, /^The Name field is empty: type the name of the cookie to set or delete\. Nothing was written\.$/);
  assert.match(explainInvalidCookieName('a b').text, /no spaces/);
});

test('a burst carries its claims, and its sentences follow them', () => {
  const outcomes = [
    { key: 'a', value: 1, status: 200, code: null, newSession: false },
    { key: 'b', value: 2, status: 200, code: null, newSession: true },
    { key: 'c', value: 3, status: 422, code: 'too_many_keys', newSession: false },
    { key: 'd', value: 4, status: 0, code: null, newSession: false }
  ];
  const said = explainBurst(outcomes, { a: 1 });
  assert.deepEqual(said.claims, {
    burst: { sent: 4, opened: false, accepted: 1, newSessions: 1, refused: { '422 too_many_keys': 1, 'no reply': 1 }, arrived: 1, lost: 0, connectionLimit: 6 }
  });
  assert.match(said.tip, /at most six connections to one host/);
  assert.match(said.text, /^1 of 4 updates/);
  assert.match(said.text, /1 found no live session/);
  assert.match(said.text, /2 were refused by the server: 1 × 422 too_many_keys, 1 × no reply/);
  const unread = explainBurst(outcomes, null);
  assert.equal(unread.claims.burst.arrived, null);
  assert.match(unread.text, /reading the data afterwards failed/);
});

// What the learner's pass found false, each case the exchange that showed it.
const ABS = '2026-11-28T09:30:00Z';
const capped = (extra) => live({ absolute_expires_at: ABS, id_fingerprint: 'aaaa1111', ...extra });

test('a session ended by the absolute limit is said to be ended by it, not by idle expiry', () => {
  const x = exchange({
    before: capped(), at: Date.parse('2026-11-28T09:30:02Z'),
    body: { session: { active: false, reason: 'unknown_or_expired' }, data: {}, cookies_received: ['session_id'] }
  });
  const said = explainExchange(x);
  assert.equal(said.claims.seenBefore.capped, true);
  assert.match(said.text, /was its absolute limit, which has passed: the absolute limit ended it, however active it was/);
  assert.doesNotMatch(said.text, /idle expiry/);
  const uncapped = explainExchange({ ...x, before: live({ absolute_expires_at: '2026-11-28T17:00:00Z' }) });
  assert.match(uncapped.text, /idle expiry at work/);
});

test('the countdown at the absolute limit does not claim no request came', () => {
  const passed = describeCountdown(capped(), Date.parse('2026-11-28T09:30:05Z'));
  assert.match(passed.text, /was the absolute limit, and it has passed: the server ended this session however active it was/);
  assert.doesNotMatch(passed.text, /no request since/);
  const idle = describeCountdown(live({ absolute_expires_at: '2026-11-28T17:00:00Z' }), Date.parse('2026-11-28T09:30:05Z'));
  assert.match(idle.text, /has passed with no request from this page since/);
});

test('a read at the capped expiry gives the cap as the reason, not the one-tenth rule', () => {
  const said = explainExchange(exchange({ before: capped(), body: { session: capped(), data: {}, cookies_received: ['session_id'] } }));
  assert.equal(said.claims.capped, true);
  assert.match(said.text, /the session's absolute limit, and the server never moves the expiry past it/);
  assert.doesNotMatch(said.text, /90–100 %|a tenth of the idle timeout/);
  assert.equal(describeExpiryRow(capped()), '09:30:00 UTC, the absolute limit: a request no longer moves it');
  assert.equal(describeExpiryRow(live({ absolute_expires_at: '2026-11-28T17:00:00Z' })), '09:30:00 UTC unless used again');
});

test('a reload that finds another id says the browser sent another id, and does not guess the cookie\'s lifetime', () => {
  const bob = (extra) => live({ id_fingerprint: 'aaaa1111', user: 'bob', absolute_expires_at: '2026-11-28T17:00:00Z', ...extra });
  const planted = live({ id_fingerprint: 'cccc3333', created_at: T2, page_views: 2, absolute_expires_at: '2026-11-28T17:00:00Z' });
  const said = explainPageLoad(bob(), exchange({ body: { session: planted, data: {}, cookies_received: ['session_id'] } }), 'browser-session');
  assert.equal(said.claims.sameId, false);
  assert.equal(said.claims.pageLifetime, null);
  assert.match(said.text, /Your browser sent a different session id than before the reload \(id fingerprint aaaa1111 then, cccc3333 now\): the cookie was replaced, or the old session expired/);
  assert.doesNotMatch(said.text, /no longer had it|without Max-Age/);
  assert.match(said.text, /Set-Cookie with a fresh Max-Age/);
  const same = explainPageLoad(bob(), exchange({ body: { session: bob({ page_views: 3 }), data: {}, cookies_received: ['session_id'] } }), 'browser-session');
  assert.match(same.text, /still without Max-Age or Expires/);
});

test('a read after a plant says the browser sends another session_id, as the lesson expects', () => {
  const planted = live({ id_fingerprint: 'cccc3333', created_at: T2 });
  const said = explainExchange(exchange({ before: live({ id_fingerprint: 'aaaa1111' }), body: { session: planted, data: {}, cookies_received: ['session_id'] } }));
  assert.equal(said.unexpected, false);
  assert.match(said.text, /Your browser now sends another session_id than when the page last read the session \(id fingerprint aaaa1111 then, cccc3333 now\)/);
  assert.doesNotMatch(said.text, /another tab or client changed it/);
});

test('a page load at the capped expiry does not say the page view moved it', () => {
  const said = explainPageLoad(capped(), exchange({ body: { session: capped({ page_views: 3 }), data: {}, cookies_received: ['session_id'] } }));
  assert.match(said.text, /the expiry stays at the absolute limit, 09:30:00 UTC/);
  assert.doesNotMatch(said.text, /moved the expiry/);
});

test('the devtools tip says which cookies went out when session_id did not', () => {
  const c = claimsOf(update({ headersSet: { 'Content-Type': 'application/json' }, body: { session: live(), data: {}, csrf_token: 'n', cookies_received: ['theme', 'favourite'] } }));
  assert.match(headersTip('update-session-data', c), /no session_id cookie \(the Cookie header carried only theme, favourite\) and no X-CSRF-Token went out/);
  assert.doesNotMatch(headersTip('update-session-data', c), /no Cookie and/);
});

test('a refused over-long write that leaves the old value is not blamed on HttpOnly', () => {
  const said = explainCookieWrite({ name: 'q', value: 'x'.repeat(4096), written: 'x'.repeat(4096), deleting: false, visibleBefore: true,
    visibleAfter: false, nameVisibleAfter: true, received: ['q'] });
  assert.equal(said.claims.cookieWrite.httpOnlyHeld, null);
  assert.equal(said.claims.cookieWrite.keptOld, true);
  assert.doesNotMatch(said.text + said.tip, /HttpOnly/);
  assert.match(said.text, /still shows q with its earlier value/);
  assert.match(said.text, /4,097 bytes, over the 4,096/);
});

test('a burst that had to start a session first says so, in the text and the tip', () => {
  const outcomes = [{ key: 'a', value: 1, status: 200, code: null, newSession: false }];
  const said = explainBurst(outcomes, { a: 1 }, true);
  assert.equal(said.claims.burst.opened, true);
  assert.match(said.text, /first sent one update with an empty patch \(\{\}\), which started one; then it started the 1 together/);
  assert.match(said.tip, /one update-session-data with \{\} to start one, then 1 update-session-data/);
  const usual = explainBurst(outcomes, { a: 1 });
  assert.doesNotMatch(usual.text, /empty patch/);
  assert.doesNotMatch(usual.tip, /with \{\}/);
  // The browser's own queue, which the timings show, is named.
  assert.match(usual.tip, /at most six connections to one host/);
});

test('the session summary says when the expiry it shows has passed', () => {
  const s = live({ absolute_expires_at: '2026-11-28T17:00:00Z' });
  const before = Date.parse(T1) - 1000;
  const after = Date.parse(T1) + 1000;
  assert.equal(describeActiveRow(s, before), 'yes');
  assert.match(describeActiveRow(s, after), /^yes at the last reply; expired since/);
  assert.equal(describeExpiryRow(s, before), '09:30:00 UTC unless used again');
  assert.match(describeExpiryRow(s, after), /^09:30:00 UTC, which has passed/);
  assert.doesNotMatch(describeExpiryRow(s, after), /unless used again/);
  assert.equal(describeActiveRow({ active: false }, after), 'no');
});

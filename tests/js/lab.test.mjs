// Unit tests of static/lab-explain.js: the lab table's columns for each
// kind of outcome, from what the script got and what the ledger recorded;
// the sentence about the attacker page's forged request, from the status,
// error code, cookie names and Sec-Fetch-Site the ledger recorded; and the
// panel's other sentences (targets, status line, run summary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importStatic } from './static-module.mjs';

const { explainAttack, attackNotSeen, attackOpened, attackProgress, labCookiesHere, labTargets, labStatus, runAllSummary } =
  await importStatic('lab-explain.js');
const { explainLabRow, labClaimsOf } = await importStatic('lab-row.js');

const entry = (method, cookies, site) => ({ method, cookies_received: cookies, sec_fetch_site: site });
const PAGE = 'http://127.0.0.1:4000';
const outcome = (over) => ({ target: 'port', withCredentials: true, policy: 'credentials', method: 'GET', status: 200,
  requests: [entry('GET', ['session_id', 'theme'], 'same-site')], probe: 'probe-0001', pageOrigin: PAGE, ...over });

test('another port with credentials under credentials: readable, cookies of the host', () => {
  const row = explainLabRow(outcome());
  assert.equal(row.got, '200 (readable)');
  assert.equal(row.received, 'GET with cookies session_id, theme');
  assert.equal(row.secFetchSite, 'same-site');
  assert.match(row.why, /belongs to a host, not to a port/);
  assert.match(row.why, /exact origin in Access-Control-Allow-Origin and said Access-Control-Allow-Credentials: true/);
});

test('without credentials no cookie is sent, and saying so is not unexpected', () => {
  const row = explainLabRow(outcome({ withCredentials: false, policy: 'wildcard', requests: [entry('GET', [], 'same-site')] }));
  assert.equal(row.received, 'GET with no cookies');
  assert.match(row.why, /Without credentials the browser sends no cookies/);
  assert.match(row.why, /\* is enough/);
});

test('under none the reply is hidden but the ledger shows the request and its cookies', () => {
  const row = explainLabRow(outcome({ policy: 'none', status: 0 }));
  assert.equal(row.got, 'blocked: the browser hid the reply');
  assert.equal(row.arrived, true);
  assert.deepEqual(row.cookies, ['session_id', 'theme']);
  assert.match(row.why, /hid it from the script, although the server got the request/);
});

test('wildcard with credentials is blocked, and the row says why', () => {
  const row = explainLabRow(outcome({ policy: 'wildcard', status: 0 }));
  assert.match(row.why, /\* is not enough/);
});

// Issue 17: this case used to assert "kept SameSite=Lax cookies (session_id,
// lab_lax) off it", which was false: session_id belongs to the page's host
// and was never a candidate, and lab_lax may not exist.
const site = (over) => outcome({ target: 'site', pageHost: '127.0.0.1', targetHost: 'localhost', ...over });

test('cross-site, lab_none rode along: the lab cookies exist, session_id was never a candidate', () => {
  const none = explainLabRow(site({ requests: [entry('GET', ['lab_none'], 'cross-site')] }));
  assert.match(none.why, /by host first: this page's session_id belongs to 127\.0\.0\.1, not to localhost, so it was never a candidate/);
  assert.match(none.why, /The lab's page on localhost set lab_lax \(SameSite=Lax\) for that host; with credentials asked for, the browser still kept it off/);
  assert.match(none.why, /Only lab_none .* allows that third-party cookie/);
  assert.doesNotMatch(none.why, /session_id, lab_lax|If the lab's page/);
});

test('cross-site, no cookie and the lab page never opened from here: lab_lax only "if" it was set', () => {
  const blocked = explainLabRow(site({ requests: [entry('GET', [], 'cross-site')] }));
  assert.match(blocked.why, /session_id belongs to 127\.0\.0\.1, not to localhost/);
  assert.match(blocked.why, /If the lab's page on localhost set its cookies, lab_lax \(SameSite=Lax\) is kept off a cross-site request; this page has not opened it/);
  assert.match(blocked.why, /blocks or partitions third-party cookies, or the other site's page was never opened to set it/);
  assert.doesNotMatch(blocked.why, /kept SameSite=Lax cookies|set lab_lax \(SameSite=Lax\) for that host/);
});

test('cross-site, no cookie after the lab page was opened from here: lab_lax exists and stayed home', () => {
  const opened = explainLabRow(site({ labPageOpened: true, requests: [entry('GET', [], 'cross-site')] }));
  assert.match(opened.why, /The lab's page on localhost set lab_lax \(SameSite=Lax\) for that host/);
  assert.match(opened.why, /lab_none \(SameSite=None; Secure\) did not ride along either: this browser blocks or partitions third-party cookies\. The script/);
});

test('cross-site, from localhost: the hosts are named the other way round', () => {
  const back = explainLabRow(site({ pageHost: 'localhost', targetHost: '127.0.0.1', requests: [entry('GET', [], 'cross-site')] }));
  assert.match(back.why, /session_id belongs to localhost, not to 127\.0\.0\.1/);
  assert.match(back.why, /If the lab's page on 127\.0\.0\.1 set its cookies/);
});

test('cross-site, a SameSite=Lax cookie rode along: flagged', () => {
  const wrong = explainLabRow(site({ requests: [entry('GET', ['session_id'], 'cross-site')] }));
  assert.match(wrong.why, /Unexpected: SameSite=Lax cookies \(session_id\)/);
  const lax = explainLabRow(site({ requests: [entry('GET', ['lab_lax', 'lab_none'], 'cross-site')] }));
  assert.match(lax.why, /Unexpected: SameSite=Lax cookies \(lab_lax\)/);
  assert.match(lax.why, / lab_none \(SameSite=None; Secure\) rode along/);
  assert.doesNotMatch(lax.why, /Only lab_none/);
});

test('a JSON POST shows its preflight, and a refused preflight means no POST', () => {
  const sent = explainLabRow(outcome({ method: 'POST', requests: [entry('OPTIONS', [], 'same-site'), entry('POST', ['session_id'], 'same-site')] }));
  assert.equal(sent.received, 'preflight, then POST with cookies session_id');
  assert.equal(sent.preflighted, true);
  assert.match(sent.why, /OPTIONS came first/);
  const stopped = explainLabRow(outcome({ method: 'POST', policy: 'none', status: 0, requests: [entry('OPTIONS', [], 'same-site')] }));
  assert.equal(stopped.arrived, false);
  assert.match(stopped.received, /only the preflight/);
  assert.match(stopped.why, /never sent it/);
});

test('a refused preflight: no reply, not a hidden one, and CORS decided what was sent', () => {
  const stopped = explainLabRow(outcome({ method: 'POST', policy: 'wildcard', status: 0, requests: [entry('OPTIONS', [], 'same-site')] }));
  assert.equal(stopped.got, 'no reply: the preflight was refused');
  assert.match(stopped.why, /Here CORS decided more than what the script may read: the POST itself never left the browser, and only the preflight reached the server\./);
  assert.doesNotMatch(stopped.why, /hid|although the server got the request/);
});

test('nothing in the ledger is said as such', () => {
  const row = explainLabRow(outcome({ status: 0, requests: [] }));
  assert.equal(row.got, 'not sent: nothing reached the server');
  assert.equal(row.received, 'nothing arrived');
  assert.equal(row.secFetchSite, '(none)');
});

// Claims: each row is read into claims, and its cells are rendered from
// them alone; one case per claim kind, changing only that claim.
const { labRowFromClaims } = await importStatic('lab-row.js');

test('lab claims: what the ledger and the script saw, and the policy\'s headers', () => {
  const c = labClaimsOf(outcome({ method: 'POST', requests: [entry('OPTIONS', [], 'same-site'), entry('POST', ['session_id'], 'same-site')] }));
  assert.deepEqual(c, {
    probe: 'probe-0001', target: 'port', method: 'POST', credentials: true, policy: 'credentials', pageHost: null, targetHost: null,
    preflight: true, sent: true, cookiesSent: ['session_id'], secFetchSite: 'same-site', status: 200, readable: true,
    allowOrigin: PAGE, allowCredentials: true, hiddenBecause: null, keptBack: [], labCookiesSet: null
  });
  assert.equal(labClaimsOf(outcome({ policy: 'wildcard' })).allowOrigin, '*');
  assert.equal(labClaimsOf(outcome({ policy: 'none', status: 0 })).allowOrigin, null);
  assert.equal(labClaimsOf(outcome({ policy: 'none', status: 0 })).hiddenBecause, 'no-allow-origin');
  assert.equal(labClaimsOf(outcome({ policy: 'wildcard', status: 0 })).hiddenBecause, 'wildcard-with-credentials');
  assert.equal(labClaimsOf(outcome({ status: 0, requests: [] })).hiddenBecause, null);
});

test('lab claims: cookies kept back by host, by SameSite and by third-party rules', () => {
  const opened = labClaimsOf(site({ labPageOpened: true, requests: [entry('GET', [], 'cross-site')] }));
  assert.deepEqual(opened.keptBack, [
    { name: 'session_id', why: 'another-host' }, { name: 'lab_lax', why: 'samesite' }, { name: 'lab_none', why: 'third-party' }
  ]);
  assert.equal(opened.labCookiesSet, true);
  const unknown = labClaimsOf(site({ requests: [entry('GET', [], 'cross-site')] }));
  assert.deepEqual(unknown.keptBack, [{ name: 'session_id', why: 'another-host' }]);
  assert.equal(unknown.labCookiesSet, null);
  assert.deepEqual(labClaimsOf(site({ withCredentials: false, requests: [entry('GET', [], 'cross-site')] })).keptBack, []);
  assert.deepEqual(labClaimsOf(outcome()).keptBack, []);
});

test('lab rows rendered from claims: each claim kind moves its sentence', () => {
  const base = labClaimsOf(site({ labPageOpened: true, requests: [entry('GET', [], 'cross-site')] }));
  const row = (over) => labRowFromClaims({ ...base, ...over });
  assert.match(row({}).why, /session_id belongs to 127\.0\.0\.1, not to localhost/);
  assert.doesNotMatch(row({ keptBack: base.keptBack.slice(1) }).why, /never a candidate/);
  assert.match(row({}).why, /set lab_lax \(SameSite=Lax\) for that host; with credentials asked for, the browser still kept it off/);
  assert.match(row({ keptBack: [] }).why, /If the lab's page on localhost set its cookies/);
  assert.match(row({}).why, /lab_none \(SameSite=None; Secure\) did not ride along either: this browser blocks or partitions third-party cookies\./);
  assert.match(row({ cookiesSent: ['lab_none'], keptBack: base.keptBack.slice(0, 2) }).why, /Only lab_none .* rode along/);
  assert.equal(row({ readable: false, status: 0 }).got, 'blocked: the browser hid the reply');
  assert.equal(row({ sent: false, preflight: true, readable: false, status: 0 }).got, 'no reply: the preflight was refused');
  assert.equal(row({ sent: false, preflight: false, readable: false, status: 0 }).received, 'nothing arrived');
  assert.match(row({ allowOrigin: '*', credentials: false, keptBack: [] }).why, /\* is enough for a request without credentials/);
  assert.match(row({ allowOrigin: null }).why, /Unexpected: the script read a reply that carried no Access-Control-Allow-Origin/);
  assert.match(row({}).why, /named this exact origin in Access-Control-Allow-Origin and said Access-Control-Allow-Credentials: true/);
  assert.doesNotMatch(row({ allowCredentials: false }).why, /Allow-Credentials: true/);
  assert.match(row({ readable: false, status: 0, hiddenBecause: 'no-allow-origin' }).why, /carried no Access-Control-Allow-Origin, so the browser hid it/);
  assert.match(row({ readable: false, status: 0, hiddenBecause: 'wildcard-with-credentials' }).why, /with credentials, Access-Control-Allow-Origin: \* is not enough/);
  assert.match(row({ readable: false, status: 0, hiddenBecause: null }).why, /the Console says why/);
  assert.equal(row({ secFetchSite: null }).secFetchSite, '(none)');
  assert.match(row({ secFetchSite: null }).why, /Sec-Fetch-Site: not sent/);
  const refused = { ...base, method: 'POST', sent: false, preflight: true, readable: false, status: 0, keptBack: [] };
  assert.match(labRowFromClaims({ ...refused, hiddenBecause: 'no-allow-origin' }).why,
    /the lab's answer under credentials carried no Access-Control-Allow-Origin, so it did not allow a credentialed POST/);
  assert.match(labRowFromClaims({ ...refused, hiddenBecause: 'wildcard-with-credentials' }).why, /was Access-Control-Allow-Origin: \*, which does not allow a credentialed POST/);
  assert.equal(labRowFromClaims(base).claims, base);
});

// The attacker page's forged POST, as the ledger recorded it: one case per
// answer the server can give and per cookie situation.
const PORT = 'http://127.0.0.1:4001';
const SITE = 'http://localhost:4001';
const forged = (over) => ({ method: 'POST', path: '/update-session-data', origin: PORT, sec_fetch_site: 'same-site',
  cookies_received: ['session_id', 'theme'], status: 403, code: 'cross_origin_rejected', ...over });

test('attack from another port, refused by the Origin check: session_id rode along, the Origin check stopped it', () => {
  const text = explainAttack(PORT, forged());
  assert.match(text, /^The forged POST from http:\/\/127\.0\.0\.1:4001 reached the server with session_id, theme \(Origin: http:\/\/127\.0\.0\.1:4001, Sec-Fetch-Site: same-site\) and was answered 403 cross_origin_rejected\./);
  assert.match(text, /did send session_id: to SameSite=Lax a page on another port is the same site/);
  assert.match(text, /What stopped it is the server's Origin check/);
  assert.match(text, /Your data did not change\./);
  assert.doesNotMatch(text, /CSRF token|Unexpected/);
});

test('attack from another site, refused by the Origin check: no session_id, and the Origin check refused it as well', () => {
  const text = explainAttack(SITE, forged({ origin: SITE, sec_fetch_site: 'cross-site', cookies_received: [] }));
  assert.match(text, /reached the server with no cookies \(Origin: http:\/\/localhost:4001, Sec-Fetch-Site: cross-site\)/);
  assert.match(text, /did not send session_id: SameSite=Lax keeps it off a cross-site request like this one/);
  assert.match(text, /Origin check refused it as well/);
  assert.doesNotMatch(text, /What stopped it|CSRF token|Unexpected/);
});

test('attack that passed the Origin check and met no token: the CSRF token stopped it, not the Origin check', () => {
  const text = explainAttack(PORT, forged({ code: 'csrf_token_missing' }));
  assert.match(text, /answered 403 csrf_token_missing\./);
  assert.match(text, /The Origin check let it through; what stopped it is the CSRF token: the forged request carried no X-CSRF-Token/);
  assert.doesNotMatch(text, /What stopped it is the server's Origin check/);
  assert.match(text, /Your data did not change\./);
});

test('attack with a wrong token: the CSRF token stopped it', () => {
  const text = explainAttack(PORT, forged({ code: 'csrf_token_invalid' }));
  assert.match(text, /what stopped it is the CSRF token: the X-CSRF-Token it carried is not the session's token/);
  assert.doesNotMatch(text, /Origin check:/);
});

test('attack accepted with session_id: unexpected, and it says the update went into the session', () => {
  const text = explainAttack(PORT, forged({ status: 200, code: null }));
  assert.match(text, /answered 200\./);
  assert.match(text, /Unexpected: the server accepted it, so the attacker's update went into the session your session_id names/);
  assert.doesNotMatch(text, /did not change|stopped it/);
});

test('attack accepted without session_id: unexpected, but only a session of its own was made', () => {
  const text = explainAttack(SITE, forged({ status: 200, code: null, cookies_received: [], sec_fetch_site: null, origin: null }));
  assert.match(text, /with no cookies \(Origin: none, Sec-Fetch-Site: none\)/);
  assert.match(text, /^.*The browser did not send session_id\. /);
  assert.match(text, /Unexpected: the server accepted it; without a session cookie there was no session to forge against, so it started a session of its own, and yours did not change\./);
});

test('attack refused for another reason names that code and neither defence', () => {
  const text = explainAttack(PORT, forged({ status: 415, code: 'unsupported_media_type' }));
  assert.match(text, /answered 415 unsupported_media_type\./);
  assert.match(text, /refused it \(unsupported_media_type\), though neither by the Origin check nor by the CSRF token/);
});

test('attack whose session_id rode along on a cross-site request is flagged', () => {
  const text = explainAttack(SITE, forged({ sec_fetch_site: 'cross-site' }));
  assert.match(text, /Unexpected: the browser sent session_id on a request it marked cross-site/);
});

test('attack from the same site without session_id says the browser held none', () => {
  const text = explainAttack(PORT, forged({ cookies_received: ['theme'] }));
  assert.match(text, /did not send session_id, although SameSite=Lax lets it ride along on a same-site request: it held none/);
  assert.match(text, /Origin check refused it as well/);
});

test('attack whose ledger entry has no status does not invent an answer', () => {
  const text = explainAttack(PORT, forged({ status: undefined, code: undefined }));
  assert.match(text, /and the ledger does not say how it was answered\./);
  assert.doesNotMatch(text, /stopped|refused|accepted|did not change/);
});

test('while and after watching for the attack', () => {
  assert.equal(attackOpened(PORT), 'Opened http://127.0.0.1:4001 in a new tab: press its button, then come back. Watching the ledger…');
  assert.equal(attackNotSeen(PORT, 120000), 'No forged request from http://127.0.0.1:4001 reached the server within two minutes.');
  assert.equal(attackNotSeen(PORT, 60000), 'No forged request from http://127.0.0.1:4001 reached the server within one minute.');
  assert.equal(attackNotSeen(PORT, 5000), 'No forged request from http://127.0.0.1:4001 reached the server within 5 seconds.');
});

// Watching the ledger for the attacker page and its forged request.
const LIMITS = { pageMs: 10000, watchMs: 120000 };
const MAIN = 'http://127.0.0.1:3000';
const served = (accepted) => ({ method: 'GET', path: '/', status: 200, target_accepted: accepted, cookies_received: [], origin: null, sec_fetch_site: 'none' });

test('watching: nothing yet, the attacker page not served yet', () => {
  const now = attackProgress(PORT, MAIN, [], 2000, LIMITS);
  assert.equal(now.state, 'watching');
  assert.equal(now.text, attackOpened(PORT));
});

test('watching: the attacker page was served and took this page as its target', () => {
  const now = attackProgress(PORT, MAIN, [served(true)], 30000, LIMITS);
  assert.equal(now.state, 'watching');
  assert.equal(now.text, 'The attacker page on ' + PORT + ' is open and aims at ' + MAIN + ': press its button, then come back. Watching the ledger…');
});

test('the attacker page refused this page as its target: the wait ends at once, and says why', () => {
  const now = attackProgress(PORT, 'http://demo.test:3000', [served(false)], 1000, LIMITS);
  assert.equal(now.state, 'refused');
  assert.match(now.text, /^The attacker page on http:\/\/127\.0\.0\.1:4001 opened but did not take http:\/\/demo\.test:3000 as its target, so it has no button and nothing was sent/);
});

test('the attacker page never served: the wait ends within seconds', () => {
  const now = attackProgress(PORT, MAIN, [], 10000, LIMITS);
  assert.equal(now.state, 'not-loaded');
  assert.match(now.text, /was not served within 10 seconds .*nothing was sent/);
});

test('served, but no forged request within the watch: said as before', () => {
  const now = attackProgress(PORT, MAIN, [served(true)], 120000, LIMITS);
  assert.equal(now.state, 'not-seen');
  assert.equal(now.text, attackNotSeen(PORT, 120000));
});

test('the forged request arrived: its explanation, whatever else the ledger holds', () => {
  const entry = forged();
  const now = attackProgress(PORT, MAIN, [served(true), entry], 5000, LIMITS);
  assert.equal(now.state, 'forged');
  assert.equal(now.forged, entry);
  assert.equal(now.text, explainAttack(PORT, entry));
});

test('lab targets: off, from 127.0.0.1, from localhost, from another name, from an IPv6 literal', () => {
  const off = labTargets('off', '127.0.0.1', '3000');
  assert.deepEqual([off.port, off.site], [null, null]);
  assert.match(off.why, /--lab-port off/);
  assert.equal(labTargets(null, '127.0.0.1', '3000').port, null);
  assert.deepEqual(labTargets('4001', '127.0.0.1', '3000'), { port: PORT, site: SITE, why: '' });
  assert.deepEqual(labTargets('4001', 'localhost', '3000'), { port: SITE, site: PORT, why: '' });
  const alias = labTargets('4001', 'demo.test', '3000');
  assert.equal(alias.port, 'http://demo.test:4001');
  assert.equal(alias.site, null);
  assert.match(alias.why, /not available from demo\.test.*http:\/\/127\.0\.0\.1:3000\/ or http:\/\/localhost:3000\//);
  assert.equal(labTargets('4001', '::1', '3000').port, 'http://[::1]:4001');
});

test('lab status and the run summary say what runs and what was skipped', () => {
  assert.equal(labStatus({ port: PORT, site: SITE, why: '' }), 'The lab listens on ' + PORT + ' and, as another site, ' + SITE + '.');
  assert.equal(labStatus({ port: 'http://demo.test:4001', site: null, why: 'Another site is not available.' }), 'Another site is not available.');
  assert.equal(runAllSummary(24, 24, ''), '24 combinations done.');
  assert.equal(runAllSummary(12, 24, 'Why.'), '12 combinations done; 12 skipped. Why.');
});

test('panel 1: the lab\'s cookies in document.cookie are said to come from the lab on this host', () => {
  assert.equal(labCookiesHere('theme=dark; lab_lax=1; lab_none=1', '127.0.0.1', PORT),
    'lab_lax=1 and lab_none=1 are what the lab\'s page on ' + PORT + ' sets for the host 127.0.0.1 (unless you set them here ' +
    'yourself): a cookie belongs to a host, not to a port, so this page on another port sees them and sends them with its own requests too.');
  assert.match(labCookiesHere('lab_lax=1', 'localhost', SITE), /^lab_lax=1 is what the lab's page on http:\/\/localhost:4001 sets for the host localhost \(unless you set it/);
});

test('panel 1: nothing to say without the lab\'s cookies, with other values, or with the lab off', () => {
  assert.equal(labCookiesHere('theme=dark', '127.0.0.1', PORT), '');
  assert.equal(labCookiesHere('', '127.0.0.1', PORT), '');
  assert.equal(labCookiesHere('lab_lax=oatmeal', '127.0.0.1', PORT), '');
  assert.equal(labCookiesHere('lab_lax=1', '127.0.0.1', null), '');
});

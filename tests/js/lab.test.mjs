// Unit tests of static/lab-explain.js: the lab table's columns for each
// kind of outcome, from what the script got and what the ledger recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importStatic } from './static-module.mjs';

const { explainLabRow } = await importStatic('lab-explain.js');

const entry = (method, cookies, site) => ({ method, cookies_received: cookies, sec_fetch_site: site });
const outcome = (over) => ({ target: 'port', withCredentials: true, policy: 'credentials', method: 'GET', status: 200,
  requests: [entry('GET', ['session_id', 'theme'], 'same-site')], ...over });

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

test('cross-site: SameSite=Lax cookies stay home; lab_none is reported either way', () => {
  const none = explainLabRow(outcome({ target: 'site', requests: [entry('GET', ['lab_none'], 'cross-site')] }));
  assert.match(none.why, /kept SameSite=Lax cookies \(session_id, lab_lax\) off it/);
  assert.match(none.why, /Only lab_none .* allows that third-party cookie/);
  const blocked = explainLabRow(outcome({ target: 'site', requests: [entry('GET', [], 'cross-site')] }));
  assert.match(blocked.why, /blocks or partitions third-party cookies/);
  const wrong = explainLabRow(outcome({ target: 'site', requests: [entry('GET', ['session_id'], 'cross-site')] }));
  assert.match(wrong.why, /Unexpected: SameSite=Lax cookies \(session_id\)/);
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

test('nothing in the ledger is said as such', () => {
  const row = explainLabRow(outcome({ status: 0, requests: [] }));
  assert.equal(row.received, 'nothing arrived');
  assert.equal(row.secFetchSite, '(none)');
});

// Unit tests of static/plant-explain.js: what the lab page says about a
// plant (from its status, body and echoed Set-Cookie, the page's host and
// the main listener's origins) and about a look-up of the planted id (from
// what it found, and whether the server keeps the id on login).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importStatic } from './static-module.mjs';

const { explainPlant, explainPlanted } = await importStatic('plant-explain.js');

const ECHO = 'session_id=<redacted>; HttpOnly; SameSite=Lax; Path=/';
const MAIN = ['http://127.0.0.1:3000', 'http://localhost:3000'];
const planted = (over) => ({ status: 200, body: { probe: 'probe-1234', planted_fingerprint: '0a1b2c3d' }, echo: ECHO,
  pageHost: '127.0.0.1', mainOrigins: MAIN, ...over });

test('a plant on 127.0.0.1 reaches the learner on 127.0.0.1, not on localhost', () => {
  const text = explainPlant(planted()).join(' ');
  assert.match(text, /fingerprint 0a1b2c3d/);
  assert.match(text, /set the cookie session_id=<redacted>; HttpOnly; SameSite=Lax; Path=\/\./);
  assert.match(text, /belongs to the host 127\.0\.0\.1 alone, on every port: cookies ignore ports/);
  assert.match(text, /drops it when it closes/);
  assert.match(text, /page at http:\/\/127\.0\.0\.1:3000 is on the same host/);
  assert.match(text, /At http:\/\/localhost:3000 the learner's page is on another host: it never gets this cookie/);
});

test('a plant on localhost reaches the learner on localhost only', () => {
  const text = explainPlant(planted({ pageHost: 'localhost' })).join(' ');
  assert.match(text, /belongs to the host localhost alone/);
  assert.match(text, /page at http:\/\/localhost:3000 is on the same host/);
  assert.match(text, /At http:\/\/127\.0\.0\.1:3000 the learner's page is on another host/);
});

test('a plant under another host name reaches the learner on that name, the others are other hosts', () => {
  const text = explainPlant(planted({ pageHost: 'demo.test' })).join(' ');
  assert.match(text, /page at http:\/\/demo\.test:3000 is on the same host/);
  assert.match(text, /At http:\/\/127\.0\.0\.1:3000 or http:\/\/localhost:3000 the learner's page is on another host/);
});

test('a lasting cookie is not called a browser-session one, and a Domain is said', () => {
  const lasting = explainPlant(planted({ echo: ECHO + '; Max-Age=60' })).join(' ');
  assert.doesNotMatch(lasting, /drops it when it closes/);
  const domain = explainPlant(planted({ echo: ECHO + '; Domain=example.test' })).join(' ');
  assert.match(domain, /names a Domain/);
  assert.doesNotMatch(domain, /same host/);
});

test('a refused plant, no reply, or a reply without the cookie says so', () => {
  const refused = explainPlant(planted({ status: 403, body: { error: { code: 'cross_origin_rejected' } }, echo: null }));
  assert.deepEqual(refused, ['The lab refused to plant: HTTP 403 cross_origin_rejected. No cookie was set.']);
  assert.match(explainPlant(planted({ status: 0, body: null, echo: null }))[0], /nothing was planted/);
  assert.match(explainPlant(planted({ echo: null }))[0], /set no session_id cookie/);
});

const lookUp = (session, over) => ({ status: 200, fixationDefence: true,
  body: { probe: 'probe-1234', planted_fingerprint: '0a1b2c3d', session }, ...over });

test('after a login with the defence, the planted id finds nothing', () => {
  const text = explainPlanted(lookUp({ active: false, user: null })).join(' ');
  assert.match(text, /fingerprint 0a1b2c3d\) finds no session any more/);
  assert.match(text, /A login gives the session a new id and deletes the old one/);
  assert.doesNotMatch(text, /worked/);
});

test('before a login the planted id names a session with no one logged in', () => {
  const text = explainPlanted(lookUp({ active: true, user: null })).join(' ');
  assert.match(text, /still names a live session, and no one has logged in on it/);
});

test('without the defence the planted id finds the learner, and the flag is named', () => {
  const text = explainPlanted(lookUp({ active: true, user: 'alice' }, { fixationDefence: false })).join(' ');
  assert.match(text, /logged in as alice: the attacker, who kept a copy of the id, now is alice/);
  assert.match(text, /Session fixation worked/);
  assert.match(text, /--unsafe-keep-id-on-login, so the login kept the session's id/);
  const defended = explainPlanted(lookUp({ active: true, user: 'bob' })).join(' ');
  assert.doesNotMatch(defended, /unsafe-keep-id-on-login/);
});

test('an unknown probe, an error and no reply are said as such', () => {
  const unknown = explainPlanted({ status: 200, fixationDefence: true,
    body: { probe: 'probe-1234', planted_fingerprint: null, session: { active: false, user: null } } });
  assert.match(unknown[0], /Nothing is planted under this probe/);
  assert.deepEqual(explainPlanted({ status: 503, body: { error: { code: 'store_unavailable' } } }),
    ['The look-up failed: HTTP 503 store_unavailable.']);
  assert.match(explainPlanted({ status: 0, body: null })[0], /not reachable/);
});

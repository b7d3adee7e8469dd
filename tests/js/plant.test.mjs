// Unit tests of static/plant-explain.js: what the lab page says about a
// plant (from its status, body and echoed Set-Cookie, the page's host and
// the main listener's origins) and about a look-up of the planted id (from
// what it found, and whether the server keeps the id on login).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importStatic } from './static-module.mjs';

const { explainPlant, explainPlanted, probeFor } = await importStatic('plant-explain.js');

const ECHO = 'session_id=<redacted>; HttpOnly; SameSite=Lax; Path=/';
const MAIN = ['http://127.0.0.1:3000', 'http://localhost:3000'];
const planted = (over) => ({ status: 200, body: { probe: 'probe-1234', planted_fingerprint: '0a1b2c3d' }, echo: ECHO,
  pageHost: '127.0.0.1', mainOrigins: MAIN, ...over });

test('a plant on 127.0.0.1 reaches the learner on 127.0.0.1, not on localhost', () => {
  const lines = explainPlant(planted());
  // The key fact first, then what to do next; one fact a line.
  assert.equal(lines[0], 'Planted: the reply set session_id for the host 127.0.0.1 to a new session\'s id ' +
    '(fingerprint 0a1b2c3d).');
  assert.equal(lines[1], 'The learner\'s page at http://127.0.0.1:3000 is on the same host: its requests now ' +
    'carry this id. Next: log in there, then press What does the planted id find?');
  assert.ok(lines.every((line) => line.length <= 200), lines.join('\n'));
  const text = lines.join(' ');
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
  assert.match(domain, /^Planted: the reply set session_id to a new session's id \(fingerprint 0a1b2c3d\)\./);
  assert.doesNotMatch(domain, /same host|for the host|Next: log in/);
});

test('a refused plant, no reply, or a reply without the cookie says so', () => {
  const refused = explainPlant(planted({ status: 403, body: { error: { code: 'cross_origin_rejected' } }, echo: null }));
  assert.deepEqual(refused, ['The lab refused to plant: HTTP 403 cross_origin_rejected. No cookie was set.']);
  assert.deepEqual(explainPlant(planted({ status: 0, body: null, echo: null })),
    ['No reply: the lab is not reachable, nothing was planted.']);
  assert.match(explainPlant(planted({ echo: null }))[0], /set no session_id cookie/);
});

const lookUp = (session, over) => ({ status: 200, fixationDefence: true,
  body: { probe: 'probe-1234', planted_fingerprint: '0a1b2c3d', session }, ...over });

test('after a login with the defence, the planted id finds nothing', () => {
  const lines = explainPlanted(lookUp({ active: false, user: null }));
  assert.equal(lines[0], 'Nothing: the planted id (fingerprint 0a1b2c3d) finds no session any more.');
  assert.equal(lines[1], 'The copy the attacker kept opens nothing: the session it named was given a new id or ' +
    'deleted.');
  const text = lines.join(' ');
  assert.match(text, /A login gives the session a new id and deletes the old one/);
  assert.doesNotMatch(text, /worked/);
});

test('before a login the planted id names a session with no one logged in', () => {
  const lines = explainPlanted(lookUp({ active: true, user: null }));
  assert.equal(lines[0], 'Not yet: the planted id (fingerprint 0a1b2c3d) still names a live session, and no one ' +
    'has logged in on it.');
  assert.match(lines.join(' '), /Log in on the learner's page/);
});

test('without the defence the planted id finds the learner, and the flag is named', () => {
  const lines = explainPlanted(lookUp({ active: true, user: 'alice' }, { fixationDefence: false }));
  assert.equal(lines[0], 'Session fixation worked: the planted id (fingerprint 0a1b2c3d) names a session logged in ' +
    'as alice.');
  const text = lines.join(' ');
  assert.match(text, /The attacker, who kept a copy of the id, now is alice to the server/);
  assert.match(text, /--unsafe-keep-id-on-login, so the login kept the session's id/);
  const defended = explainPlanted(lookUp({ active: true, user: 'bob' })).join(' ');
  assert.doesNotMatch(defended, /unsafe-keep-id-on-login/);
});

test('an unknown probe, an error and no reply are said as such', () => {
  const unknown = explainPlanted({ status: 200, fixationDefence: true, probe: 'plant-00112233aabbccdd',
    body: { probe: 'plant-00112233aabbccdd', planted_fingerprint: null, session: { active: false, user: null } } });
  // The probe is named: a learner sees which one the lab was asked about.
  assert.equal(unknown[0], 'Nothing is planted under the probe plant-00112233aabbccdd.');
  assert.match(unknown[1], /^Press Plant a session id first\. The lab forgets a planted id after 10 minutes/);
  assert.deepEqual(explainPlanted({ status: 503, body: { error: { code: 'store_unavailable' } } }),
    ['The look-up failed: HTTP 503 store_unavailable.']);
  assert.deepEqual(explainPlanted({ status: 0, body: null }), ['No reply: the lab is not reachable.']);
});

test('the probe: the URL\'s first, else the one the tab kept, else a fresh one to keep', () => {
  const fresh = () => 'plant-fresh000000000000';
  assert.deepEqual(probeFor('probe-from-url', 'plant-kept0000000000', fresh), { probe: 'probe-from-url', made: false });
  assert.deepEqual(probeFor('', 'plant-kept0000000000', fresh), { probe: 'plant-kept0000000000', made: false });
  assert.deepEqual(probeFor('', null, fresh), { probe: 'plant-fresh000000000000', made: true });
  // A kept value that is no probe (too short, or unsafe) is not used.
  assert.deepEqual(probeFor('', 'short', fresh), { probe: 'plant-fresh000000000000', made: true });
  assert.deepEqual(probeFor('', 'a"><script>0000', fresh), { probe: 'plant-fresh000000000000', made: true });
});

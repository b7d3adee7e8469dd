/**
 * What the two steps of session fixation (lesson 10) did, as pure
 * functions of the replies: the plant (`POST /lab/plant`: its status, its
 * body, the `X-Set-Cookie-Echo` that repeats its `Set-Cookie` with the id
 * redacted) and the look-up (`GET /lab/planted`: what the planted id finds
 * now). Where the cookie lands is said from the page's host and the main
 * listener's origins, by the rule that a cookie without `Domain` belongs to
 * the host that set it, whatever the port. No DOM, no network; `node --test
 * tests/js` checks every case.
 */

/**
 * The host and port of an origin (`http://127.0.0.1:3000`), or null.
 * @param {string} origin
 * @returns {{host: string, port: string}|null}
 */
function partsOf(origin) {
  const match = /^https?:\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(origin);
  return match ? { host: match[1].toLowerCase(), port: match[2] } : null;
}

/**
 * The probe the two fixation steps share: the URL's (the learner's page
 * opened the lab with it), else the one this tab kept (a reload keeps
 * it), else a fresh one, which the caller then keeps.
 * @param {string} fromUrl - the page's data-probe ('' when none)
 * @param {string|null} kept - the tab's sessionStorage value, if any
 * @param {function(): string} fresh - makes a new probe
 * @returns {{probe: string, made: boolean}} made: true when fresh
 */
export function probeFor(fromUrl, kept, fresh) {
  if (fromUrl) return { probe: fromUrl, made: false };
  if (typeof kept === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(kept)) return { probe: kept, made: false };
  return { probe: fresh(), made: true };
}

/**
 * The sentences about a plant, the key fact first, one fact each.
 * @param {Object} p
 * @param {number} p.status - the reply's status; 0 when nothing came back
 * @param {Object|null} p.body - the reply's JSON
 * @param {string|null} p.echo - its `X-Set-Cookie-Echo` header
 * @param {string} p.pageHost - the lab page's host name (location.hostname)
 * @param {string[]} p.mainOrigins - the main listener's own origins
 * @returns {string[]}
 */
export function explainPlant(p) {
  if (p.status === 0) {
    return ['No reply: the lab is not reachable, nothing was planted.'];
  }
  if (p.status !== 200 || !p.body || typeof p.body.planted_fingerprint !== 'string') {
    const code = p.body && p.body.error ? ' ' + p.body.error.code : '';
    return ['The lab refused to plant: HTTP ' + p.status + code + '. No cookie was set.'];
  }
  const fingerprint = p.body.planted_fingerprint;
  const cookie = p.echo && p.echo.indexOf('session_id=') === 0 ? p.echo : null;
  if (!cookie) {
    return ['The lab created a session (id fingerprint ' + fingerprint + ') but its reply set no session_id cookie.'];
  }
  const attributes = cookie.split(';').slice(1).map(function (a) { return a.trim().toLowerCase(); });
  const hasDomain = attributes.some(function (a) { return a.indexOf('domain=') === 0; });
  const lasting = attributes.some(function (a) { return a.indexOf('max-age=') === 0 || a.indexOf('expires=') === 0; });
  const host = p.pageHost.toLowerCase();
  const made = 'The lab keeps a copy of the id, as the attacker would: the session is in the store both ' +
    'listeners share.';
  const set = 'Its reply set the cookie ' + cookie + '.';
  if (hasDomain) {
    return ['Planted: the reply set session_id to a new session\'s id (fingerprint ' + fingerprint + ').', made, set,
      'The cookie names a Domain, so it belongs to that domain and its subdomains, on every port.'];
  }
  const sentences = ['Planted: the reply set session_id for the host ' + host + ' to a new session\'s id ' +
    '(fingerprint ' + fingerprint + ').'];
  const main = p.mainOrigins.map(partsOf).filter(Boolean);
  const sameHost = main.length ? 'http://' + host + ':' + main[0].port : null;
  if (sameHost) {
    sentences.push('The learner\'s page at ' + sameHost + ' is on the same host: its requests now carry this id. ' +
      'Next: log in there, then press What does the planted id find?');
  }
  sentences.push(made, set);
  sentences.push('It has no Domain attribute, so it belongs to the host ' + host + ' alone, on every port: ' +
    'cookies ignore ports. It replaced any session_id the browser held for ' + host + '.');
  if (!lasting) sentences.push('It has no Max-Age or Expires: the browser drops it when it closes.');
  if (!sameHost) return sentences;
  const elsewhere = main.filter(function (o) { return o.host !== host; })
    .map(function (o) { return 'http://' + o.host + ':' + o.port; });
  if (elsewhere.length) {
    sentences.push('At ' + elsewhere.join(' or ') + ' the learner\'s page is on another host: it never gets this ' +
      'cookie, and keeps its own session.');
  }
  return sentences;
}

/**
 * The sentences about a look-up of the planted id, the key fact first.
 * @param {Object} p
 * @param {number} p.status - the reply's status; 0 when nothing came back
 * @param {Object|null} p.body - the reply's JSON
 * @param {boolean} p.fixationDefence - false when the server runs with --unsafe-keep-id-on-login
 * @param {string} p.probe - the probe the look-up was sent under
 * @returns {string[]}
 */
export function explainPlanted(p) {
  if (p.status === 0) return ['No reply: the lab is not reachable.'];
  if (p.status !== 200 || !p.body || !p.body.session) {
    const code = p.body && p.body.error ? ' ' + p.body.error.code : '';
    return ['The look-up failed: HTTP ' + p.status + code + '.'];
  }
  const fingerprint = p.body.planted_fingerprint;
  const session = p.body.session;
  if (typeof fingerprint !== 'string') {
    return ['Nothing is planted under the probe ' + p.probe + '.',
      'Press Plant a session id first. The lab forgets a planted id after 10 minutes, and keeps at most 1,000.'];
  }
  const which = 'the planted id (fingerprint ' + fingerprint + ')';
  if (!session.active) {
    return ['Nothing: ' + which + ' finds no session any more.',
      'The copy the attacker kept opens nothing: the session it named was given a new id or deleted.',
      'A login gives the session a new id and deletes the old one. Regenerate does too; Clear, Log out and ' +
        'expiry delete the session.'];
  }
  if (!session.user) {
    return ['Not yet: ' + which + ' still names a live session, and no one has logged in on it.',
      'Log in on the learner\'s page (on the same host it sends this id), then ask again.'];
  }
  const sentences = ['Session fixation worked: ' + which + ' names a session logged in as ' + session.user + '.',
    'The attacker, who kept a copy of the id, now is ' + session.user + ' to the server.'];
  if (!p.fixationDefence) {
    sentences.push('This server runs with --unsafe-keep-id-on-login, so the login kept the session\'s id. ' +
      'Without that flag, a login gives the session a new id and this one finds nothing.');
  }
  return sentences;
}

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
 * The sentences about a plant.
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
    return ['The request got no reply (the lab is not reachable): nothing was planted.'];
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
  const sentences = [
    'The lab created a new session in the store both listeners share, as an attacker who visited the site ' +
      'would hold one, and kept its id (fingerprint ' + fingerprint + '). Its reply set the cookie ' + cookie + '.'
  ];
  if (hasDomain) {
    sentences.push('The cookie names a Domain, so it belongs to that domain and its subdomains, on every port.');
    return sentences;
  }
  const host = p.pageHost.toLowerCase();
  sentences.push('It has no Domain attribute, so it belongs to the host ' + host + ' alone, on every port: ' +
    'cookies ignore ports.' + (lasting ? '' : ' It has no Max-Age or Expires: the browser drops it when it closes.'));
  const main = p.mainOrigins.map(partsOf).filter(Boolean);
  if (main.length === 0) return sentences;
  const port = main[0].port;
  const sameHost = 'http://' + host + ':' + port;
  sentences.push('The learner\'s page at ' + sameHost + ' is on the same host: its requests now carry this id ' +
    '(it replaced any session_id the browser held for ' + host + '). Log in there, then ask what the planted id ' +
    'finds.');
  const elsewhere = main.filter(function (o) { return o.host !== host; })
    .map(function (o) { return 'http://' + o.host + ':' + o.port; });
  if (elsewhere.length) {
    sentences.push('At ' + elsewhere.join(' or ') + ' the learner\'s page is on another host: it never gets this ' +
      'cookie, and keeps its own session.');
  }
  return sentences;
}

/**
 * The sentences about a look-up of the planted id.
 * @param {Object} p
 * @param {number} p.status - the reply's status; 0 when nothing came back
 * @param {Object|null} p.body - the reply's JSON
 * @param {boolean} p.fixationDefence - false when the server runs with --unsafe-keep-id-on-login
 * @returns {string[]}
 */
export function explainPlanted(p) {
  if (p.status === 0) return ['The request got no reply (the lab is not reachable).'];
  if (p.status !== 200 || !p.body || !p.body.session) {
    const code = p.body && p.body.error ? ' ' + p.body.error.code : '';
    return ['The look-up failed: HTTP ' + p.status + code + '.'];
  }
  const fingerprint = p.body.planted_fingerprint;
  const session = p.body.session;
  if (typeof fingerprint !== 'string') {
    return ['Nothing is planted under this probe: plant a session id first. (The lab remembers a planted id ' +
      'for 10 minutes, and at most 1,000 of them.)'];
  }
  const which = 'The planted id (fingerprint ' + fingerprint + ')';
  if (!session.active) {
    return [which + ' finds no session any more: the session it named was given a new id or deleted. ' +
      'A login gives the session a new id and deletes the old one (Regenerate does too; Clear, Log out and ' +
      'expiry delete the session), so the copy the attacker kept opens nothing.'];
  }
  if (!session.user) {
    return [which + ' still names a live session, and no one has logged in on it. Log in on the learner\'s ' +
      'page (on the same host it sends this id), then ask again.'];
  }
  const sentences = [which + ' names a session logged in as ' + session.user + ': the attacker, who kept a ' +
    'copy of the id, now is ' + session.user + ' to the server. Session fixation worked.'];
  if (!p.fixationDefence) {
    sentences.push('This server runs with --unsafe-keep-id-on-login, so the login kept the session\'s id. ' +
      'Without that flag, a login gives the session a new id and this one finds nothing.');
  }
  return sentences;
}

/**
 * What "Try session fixation" tells the learner, as pure functions of what
 * happened: the ledger's entries under the run's probe (the lab's page
 * served, the plant), the lab's answers to /lab/planted (what the
 * attacker's copy of the planted id finds, before and after the login),
 * the fingerprint this page's cookie named before the login, and the
 * login's reply. Nothing here assumes what a browser does with a cookie
 * or touches the DOM; `node --test tests/js` checks every case.
 */

import { claimsOf, cookieSentence, factsOf, said } from './explain.js';
import { SAME_HOST } from './login-explain.js';

/**
 * What the lab answered to `GET /lab/planted?probe=P`, or null when the
 * script could not read an answer of that shape.
 * @typedef {{fingerprint: (string|null), active: boolean, user: (string|null)}} Planted
 */

/**
 * The lab's answer to /lab/planted, read off the exchange.
 * @param {{status: number, body: (Object|null)}} x
 * @returns {Planted|null}
 */
export function plantedOf(x) {
  const body = x && x.status === 200 && x.body && typeof x.body === 'object' ? x.body : null;
  if (!body || !body.session || typeof body.session !== 'object' || !('planted_fingerprint' in body)) return null;
  return {
    fingerprint: typeof body.planted_fingerprint === 'string' ? body.planted_fingerprint : null,
    active: body.session.active === true,
    user: typeof body.session.user === 'string' ? body.session.user : null
  };
}

/**
 * The ledger's entry for the plant: the newest POST /lab/plant under the
 * probe (the lab's page may be asked to plant again).
 * @param {Array<Object>} requests - the ledger's entries
 * @returns {Object|null}
 */
export function plantEntry(requests) {
  return requests.filter(function (r) { return r.method === 'POST' && r.path === '/lab/plant'; }).pop() || null;
}

/**
 * Where waiting for the plant stands: planted (the ledger has it,
 * answered 200; a refused plant is said while watching goes on), the
 * lab's page never served within `limits.pageMs`, nothing within
 * `limits.watchMs`, or still watching.
 * @param {string} origin - the lab origin whose page was opened
 * @param {Array<Object>} requests - the ledger's entries under the probe
 * @param {number} waitedMs
 * @param {{pageMs: number, watchMs: number}} limits
 * @returns {{state: ('planted'|'not-loaded'|'not-seen'|'watching'), text: string, plant: (Object|null)}}
 */
export function fixationProgress(origin, requests, waitedMs, limits) {
  const plant = plantEntry(requests);
  if (plant && plant.status === 200) {
    return { state: 'planted', text: 'The lab\'s page planted: the lab answered 200 to its POST /lab/plant.', plant: plant };
  }
  if (plant && !(waitedMs >= limits.watchMs)) {
    return {
      state: 'watching',
      text: 'The lab refused the plant: ' + plant.status + (plant.code ? ' ' + plant.code : '') + ' (Origin: ' + (plant.origin || 'none') +
        '). Only the lab\'s own page may plant; press its “Plant a session id” button. Watching the ledger…',
      plant: null
    };
  }
  const served = requests.some(function (r) { return r.method === 'GET' && !r.path; });
  if (!served && waitedMs >= limits.pageMs) {
    return {
      state: 'not-loaded',
      text: 'The lab\'s page on ' + origin + ' was not served within ' + Math.round(limits.pageMs / 1000) +
        ' seconds (a blocked pop-up, or the lab unreachable from this browser), so nothing was planted. Try the button again.',
      plant: null
    };
  }
  if (waitedMs >= limits.watchMs) {
    return { state: 'not-seen', text: 'No plant from ' + origin + ' reached the lab within ' + Math.round(limits.watchMs / 1000) + ' seconds.', plant: null };
  }
  return {
    state: 'watching',
    text: (served ? 'The lab\'s page on ' + origin + ' is open' : 'Opened ' + origin + ' in a new tab') +
      ': press its “Plant a session id” button, then come back here. Watching the ledger…',
    plant: null
  };
}

/**
 * Explains the read the page makes once the plant is in: which session
 * the cookie this page's requests carry now names, compared with the
 * planted one. Carries the read's claims.
 * @param {{origin: string, pageHost: string, planted: (Planted|null), x: import('./explain.js').Exchange}} o
 *   origin: the lab origin that planted; pageHost: this page's host name;
 *   planted: the lab's answer before the login; x: the read of /get-session-data
 * @returns {import('./explain.js').Explanation & {cookieReplaced: (boolean|null), here: (string|null)}}
 */
export function explainPlanted(o) {
  const f = factsOf(o.x);
  const labHost = new URL(o.origin).hostname;
  const here = f.session && f.session.active && typeof f.session.id_fingerprint === 'string' ? f.session.id_fingerprint : null;
  const before = o.x.before && o.x.before.active ? o.x.before.id_fingerprint : null;
  const lines = [];
  let replaced = null;
  let unexpected = false;
  if (!o.planted || !o.planted.fingerprint) {
    lines.push('The plant reached the lab from ' + o.origin + ', but the lab\'s /lab/planted gave no readable answer with a fingerprint, so the page cannot tell which id was planted.');
    unexpected = true;
  } else {
    lines.push('The attacker\'s page on ' + o.origin + ' planted a session id: the lab created an anonymous session (id fingerprint ' +
      o.planted.fingerprint + '), kept a copy of its id, and answered Set-Cookie: session_id=… without Domain, which makes it a cookie of the host ' + labHost + ', whatever the port.');
    lines.push(cookieSentence(f));
    if (!here) {
      lines.push('The session this page\'s cookie names is not live on the server, so the page cannot compare it with the planted one.');
      unexpected = true;
    } else if (here === o.planted.fingerprint) {
      replaced = true;
      lines.push('That cookie now names the planted session (fingerprint ' + here + '): cookies belong to a host, not to a port, so the cookie the lab set on ' +
        labHost + ' replaced the session_id cookie your browser held for this host' +
        (before && before !== here ? ' (the session your cookie named, fingerprint ' + before + ')' : '') + '.');
      lines.push('Now log in above: as far as the server can tell, you are logging in on the attacker\'s session.');
    } else {
      replaced = false;
      lines.push('That cookie still names your own session (fingerprint ' + here + '), not the planted one' +
        (labHost !== o.pageHost ? ': the lab\'s cookie went to the host ' + labHost + ', and this page\'s host, ' + o.pageHost + ', keeps its own cookies.' : ', although the lab set it for this very host: unexpected.'));
      unexpected = unexpected || labHost === o.pageHost;
      lines.push('Log in above all the same, to see what the attacker\'s copy finds afterwards.');
    }
  }
  const result = said(lines, 'Application → Cookies: session_id for ' + labHost + '; Network → get-session-data → Request Headers → Cookie.', unexpected);
  if (o.x.status) result.claims = claimsOf(o.x);
  result.cookieReplaced = replaced;
  result.here = here;
  return result;
}

/**
 * What the attacker's copy of the planted id finds after the learner's
 * login, and why, from the lab's answer, the login's reply and the ledger.
 * @param {{origin: string, pageHost: string, planted: Planted, here: (string|null),
 *   login: {user: string, fingerprint: (string|null), fixationDefence: (boolean|null)},
 *   after: (Planted|null), requests: Array<Object>}} o
 *   here: the fingerprint this page's cookie named before the login; after:
 *   the lab's answer after it; requests: the ledger's entries under the probe
 * @returns {{state: ('failed'|'worked'|'missed'|'other'|'unknown'), text: string, unexpected: boolean}}
 */
export function explainFixationOutcome(o) {
  const labHost = new URL(o.origin).hostname;
  const planted = o.planted.fingerprint;
  const lines = [];
  let state;
  let unexpected = false;
  const onPlanted = o.here !== null && o.here === planted;
  if (!o.after) {
    state = 'unknown';
    lines.push('After your login as ' + o.login.user + ', the page asked the lab what the planted id finds, but got no readable answer.');
    unexpected = true;
  } else if (!o.after.active) {
    state = 'failed';
    lines.push('After your login as ' + o.login.user + ', the attacker\'s copy of the planted id (fingerprint ' + planted + ') finds nothing.');
    if (onPlanted && o.login.fingerprint && o.login.fingerprint !== planted) {
      lines.push('Your login came with the planted cookie, and the server moved the session to a new id (fingerprint ' + o.login.fingerprint +
        '), deleting the old one: the id the attacker knows is void. Session fixation failed.');
      if (labHost === o.pageHost) lines.push(SAME_HOST);
    } else {
      lines.push('The planted session is gone from the server (expired or cleared).');
    }
  } else if (o.after.user && o.after.user === o.login.user) {
    state = 'worked';
    lines.push('After your login as ' + o.login.user + ', the attacker\'s copy of the planted id (fingerprint ' + planted + ') finds a session logged in as ' +
      o.after.user + '.');
    lines.push(o.login.fixationDefence === false
      ? 'The login kept the id (this server runs with --unsafe-keep-id-on-login, fixation_defence: false), so the attacker, who planted it and kept a copy, is now logged in as you. Session fixation worked.'
      : 'The server says its fixation defence is on, yet the planted id carries your login: unexpected.');
    unexpected = o.login.fixationDefence !== false;
  } else if (!o.after.user) {
    state = 'missed';
    lines.push('After your login as ' + o.login.user + ', the attacker\'s copy of the planted id (fingerprint ' + planted +
      ') finds only its own anonymous session: no one logged in on it.');
    lines.push(onPlanted
      ? 'Your login came with the planted cookie, yet the planted session has no user: unexpected.'
      : 'Your login happened on the session this page\'s cookie named' + (o.here ? ' (fingerprint ' + o.here + ' before the login)' : '') +
        (labHost !== o.pageHost ? ', since the plant landed on the host ' + labHost + ' and this page is on ' + o.pageHost + '.' : '.'));
    unexpected = onPlanted;
  } else {
    state = 'other';
    lines.push('The attacker\'s copy of the planted id (fingerprint ' + planted + ') finds a session logged in as ' + o.after.user + ', not as you (' + o.login.user + ').');
  }
  const ledger = ledgerSentence(o.requests);
  if (ledger) lines.push(ledger);
  return { state: state, text: lines.join(' '), unexpected: unexpected };
}

/** What the ledger recorded under the run's probe: the plant, and the login sent with the probe. */
function ledgerSentence(requests) {
  const parts = [];
  const plant = plantEntry(requests);
  if (plant) {
    parts.push('the plant (POST from Origin ' + (plant.origin || 'none') + ', Sec-Fetch-Site ' + (plant.sec_fetch_site || 'none') + ')');
  }
  const login = requests.filter(function (r) { return r.path === '/login'; }).pop();
  if (login) {
    parts.push('your login, which reached this site with ' + (login.cookies_received.length ? login.cookies_received.join(', ') : 'no cookies') +
      ' and was answered ' + login.status + (login.code ? ' ' + login.code : ''));
  }
  return parts.length ? 'The ledger under this run\'s probe shows ' + parts.join(', and ') + '.' : '';
}

/** The states of a run that has said its last word. */
const FINISHED = ['failed', 'worked', 'missed', 'other', 'unknown', 'not-loaded', 'not-seen', 'replaced'];

/**
 * What an older run says once a newer one started: the newer run's plant
 * is the one the cookie will carry, so the older run will never see its
 * login. Nothing for a run that already finished.
 * @param {string} state - the older run's state
 * @returns {string|null}
 */
export function replacedRun(state) {
  return FINISHED.indexOf(state) >= 0 ? null
    : 'A newer run (above) replaced this one: it stopped watching, and your next login finishes the newer run, not this one.';
}

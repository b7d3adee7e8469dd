/**
 * Panel "Log in": logging in and out, "Who am I?" (GET /me), and "Try
 * session fixation", which plays lesson 10's attack through the lab. Each
 * action sends its requests through exchange.js; login-explain.js and
 * fixation-explain.js decide every sentence, login-view.js draws. app.js
 * connects the controls to these.
 */

import { currentToken, explain, request } from './exchange.js';
import { explainFixationOutcome, explainPlanted, fixationProgress, plantedOf, replacedRun } from './fixation-explain.js';
import { labTargets } from './lab-explain.js';
import { explainLogin, explainLogout, explainMe, loginSummary } from './login-explain.js';
import {
  loginEl, renderFixationOpened, renderFixationStep, renderFixationTargets, renderFixationText, renderLoginSummary
} from './login-view.js';
import { freshProbe, readLedger } from './probe.js';

/** How long a run watches the ledger: for the lab's page to be served, and for the plant. */
const WATCH_LIMITS = { pageMs: 10000, watchMs: 120000 };

const targets = labTargets(
  (document.querySelector('meta[name="lab-port"]') || {}).content || null, location.hostname, location.port);

/**
 * The fixation run that waits for a login: its lab origin, probe, list
 * item, the lab's answer after the plant, and the fingerprint this page's
 * cookie named then. Null when none waits.
 * @type {{origin: string, probe: string, item: HTMLLIElement, planted: Object, here: (string|null)}|null}
 */
let waiting = null;
/** The newest fixation run's item: an older run stops when a newer one starts. */
let newest = null;


/**
 * The login form: sends the credentials (with the probe of a fixation run
 * that waits, so that the ledger records the login under it), explains,
 * and, when a run waits, asks the lab what the planted id finds now.
 * @param {SubmitEvent} event
 */
export function logIn(event) {
  event.preventDefault();
  const run = waiting;
  const body = {
    username: loginEl.username.value,
    password: loginEl.password.value,
    remember: loginEl.remember.checked
  };
  const url = run ? '/login?probe=' + run.probe : '/login';
  request({ method: 'POST', url: url, body: body, token: currentToken() }, function (x) {
    renderLoginSummary(loginSummary(x));
    explain(explainLogin(x));
    if (run && x.status === 200 && x.body && x.body.session && x.body.session.user) {
      waiting = null;
      checkPlanted(run, x.body);
    }
  });
}

/** Log out: the session is deleted on the server and the cookie expired. */
export function logOut() {
  request({ method: 'POST', url: '/logout', token: currentToken() }, function (x) {
    explain(explainLogout(x));
  });
}

/** Who am I?: the protected resource, authenticated by the cookie alone. */
export function whoAmI() {
  request({ method: 'GET', url: '/me' }, function (x) {
    explain(explainMe(x));
  });
}

/**
 * The attacker's second step: what the planted id finds, read from the
 * lab (credentialed; the lab allows this page's origin).
 * @param {string} origin
 * @param {string} probe
 * @param {function(Object): void} done - with the exchange
 */
function askLab(origin, probe, done) {
  request({ method: 'GET', url: origin + '/lab/planted?probe=' + probe, withCredentials: true }, done);
}

/**
 * "Try session fixation": opens the lab's page on `target` with a fresh
 * probe, waits (on the ledger) for the learner to plant there, then shows
 * what this page's cookie names now and waits for the login.
 * @param {'port'|'site'} target
 */
export function tryFixation(target) {
  const origin = targets[target];
  if (!origin) return;
  const probe = freshProbe();
  window.open(origin + '/?probe=' + probe, '_blank', 'noopener');
  const older = newest;
  const item = renderFixationOpened(target, probe, fixationProgress(origin, [], 0, WATCH_LIMITS).text);
  newest = item;
  const replaced = older ? replacedRun(older.dataset.state) : null;
  if (replaced) renderFixationStep(older, 'Replaced', replaced, { state: 'replaced' });
  if (waiting && waiting.item === older) waiting = null;
  const started = Date.now();
  /** Looks at the ledger once a second until the plant is in. */
  function watch() {
    readLedger(probe, function (requests) {
      if (newest !== item) return;
      const now = fixationProgress(origin, requests, Date.now() - started, WATCH_LIMITS);
      renderFixationText(item, now.text, now.state);
      if (now.state === 'planted') {
        afterPlant(origin, probe, item);
      } else if (now.state === 'watching') {
        window.setTimeout(watch, 1000);
      }
    });
  }
  watch();
}

/**
 * Once planted: asks the lab for the planted id's fingerprint, then reads
 * this site's session (which also takes the token of whatever session the
 * cookie names now, so that the login can go through), and says which
 * session the cookie names.
 */
function afterPlant(origin, probe, item) {
  askLab(origin, probe, function (labReply) {
    const planted = plantedOf(labReply);
    if (newest !== item) return;
    request({ method: 'GET', url: '/get-session-data' }, function (x) {
      const said = explainPlanted({ origin: origin, pageHost: location.hostname, planted: planted, x: x });
      explain(said);
      renderFixationStep(item, '2. This site\'s cookie', said.text, {
        state: planted ? 'planted' : 'unknown',
        plantedFingerprint: planted && planted.fingerprint ? planted.fingerprint : '',
        cookieReplaced: String(said.cookieReplaced)
      });
      if (planted && planted.fingerprint) {
        waiting = { origin: origin, probe: probe, item: item, planted: planted, here: said.here };
      }
    });
  });
}

/** After the login: what the attacker's copy of the planted id finds, and what the ledger recorded. */
function checkPlanted(run, loginReply) {
  askLab(run.origin, run.probe, function (labReply) {
    const after = plantedOf(labReply);
    readLedger(run.probe, function (requests) {
      const outcome = explainFixationOutcome({
        origin: run.origin,
        pageHost: location.hostname,
        planted: run.planted,
        here: run.here,
        login: {
          user: loginReply.session.user,
          fingerprint: loginReply.session.id_fingerprint || null,
          fixationDefence: typeof loginReply.fixation_defence === 'boolean' ? loginReply.fixation_defence : null
        },
        after: after,
        requests: requests
      });
      renderFixationStep(run.item, '3. After your login', outcome.text, {
        state: outcome.state,
        plantedActive: after ? String(after.active) : '',
        plantedUser: after && after.user ? after.user : ''
      });
      explain({ text: outcome.text, tip: 'Network → planted: the lab\'s answer; Application → Cookies: the session_id this page holds now.', unexpected: outcome.unexpected });
    });
  });
}

/** Names the lab's origins on the fixation buttons, or says why there are none. */
export function initLoginPanel() {
  renderFixationTargets(targets);
}

/**
 * Panel "Across origins and sites": requests to the lab listener, the other
 * origin, with either API, with or without credentials, under each of the
 * lab's CORS policies; the table says what the script got and, from the
 * ledger, what reached the server. Also the other site's attacker page.
 * Actions and wiring here; lab-view.js draws, lab-explain.js says.
 */

import { explain, request } from './exchange.js';
import { send } from './transport.js';
import { attackOpened, attackProgress, labCookiesHere, labStatus, labTargets, runAllSummary } from './lab-explain.js';
import {
  labEl, renderAttackOpened, renderCookiesNote, renderAttackOutcome, renderAttackText, renderLabOff, renderProgress, renderRow,
  renderRunDone, renderRunStarted, renderTargets, watchTableWidth
} from './lab-view.js';

const POLICIES = ['credentials', 'wildcard', 'none'];
/**
 * How long the panel watches the ledger: for the attacker page to be
 * served (it records itself), and for the learner to press its button.
 */
const ATTACK_LIMITS = { pageMs: 10000, watchMs: 120000 };

const targets = labTargets(labEl.labPort && labEl.labPort.content, location.hostname, location.port);
/** Where the lab origins this page opened (so their cookies are set) are kept. */
const OPENED_KEY = 'ajax-sessions-lab-opened';

/**
 * The lab origins whose page this page opened in a new tab.
 * @returns {string[]}
 */
function openedOrigins() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(OPENED_KEY) || '[]');
    return Array.isArray(kept) ? kept : [];
  } catch (err) {
    // Storage off or the kept text broken: nothing known.
    return [];
  }
}

/**
 * Remembers that the lab's page on `origin` was opened (it sets its cookies).
 * @param {string} origin
 */
function rememberOpened(origin) {
  const opened = openedOrigins();
  if (opened.indexOf(origin) >= 0) return;
  opened.push(origin);
  try {
    sessionStorage.setItem(OPENED_KEY, JSON.stringify(opened));
  } catch (err) {
    // Storage full or off: the rows then say "if".
  }
}

/**
 * 16 random URL-safe characters.
 * @returns {string}
 */
function freshProbe() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * The ledger's entries for a probe (a same-origin read, not logged).
 * @param {string} probe
 * @param {function(Array<import('./lab-explain.js').LedgerEntry>): void} done
 */
function readLedger(probe, done) {
  send({ method: 'GET', url: '/lab/ledger?probe=' + probe, api: 'fetch' }, function (x) {
    done(x.body && Array.isArray(x.body.requests) ? x.body.requests : []);
  });
}

/**
 * Sends one lab request and reports the outcome with the ledger's entries.
 * @param {{target: string, api: string, withCredentials: boolean, policy: string, method: string}} choice
 * @param {function(Object): void} done
 */
function runOne(choice, done) {
  const origin = targets[choice.target];
  const probe = freshProbe();
  const url = origin + '/lab/echo?probe=' + probe + '&cors=' + choice.policy;
  const sent = {
    method: choice.method,
    url: url,
    api: choice.api,
    withCredentials: choice.withCredentials
  };
  if (choice.method === 'POST') sent.body = { hello: 'lab' };
  request(sent, function (x) {
    readLedger(probe, function (requests) {
      const outcome = Object.assign({}, choice, {
        status: x.status,
        requests: requests,
        origin: origin,
        probe: probe,
        pageOrigin: location.origin,
        pageHost: location.hostname,
        targetHost: new URL(origin).hostname,
        labPageOpened: openedOrigins().indexOf(origin) >= 0
      });
      done(outcome);
    });
  });
}

/**
 * The controls' choice.
 * @returns {{target: string, api: string, withCredentials: boolean, policy: string, method: string}}
 */
function currentChoice() {
  return {
    target: labEl.target.value,
    api: labEl.api.value === 'fetch' ? 'fetch' : 'xhr',
    withCredentials: labEl.credentials.checked,
    policy: POLICIES.indexOf(labEl.policy.value) >= 0 ? labEl.policy.value : 'credentials',
    method: labEl.method.value === 'POST' ? 'POST' : 'GET'
  };
}

/**
 * "Send": one request with the controls' choice.
 * @param {SubmitEvent} event
 */
function onSend(event) {
  event.preventDefault();
  const choice = currentChoice();
  if (!targets[choice.target]) {
    renderProgress(targets.why);
    return;
  }
  renderProgress('Sending…');
  runOne(choice, function (outcome) {
    renderRow(outcome, 'top');
    renderProgress('Done: the newest row is at the top.');
  });
}

/** "Run every combination": 2 targets × 2 APIs × 2 credential modes × 3 policies, GETs, one after another. */
function onRunAll() {
  const choices = [];
  ['port', 'site'].forEach(function (target) {
    ['xhr', 'fetch'].forEach(function (api) {
      [true, false].forEach(function (withCredentials) {
        POLICIES.forEach(function (policy) {
          choices.push({ target: target, api: api, withCredentials: withCredentials, policy: policy, method: 'GET' });
        });
      });
    });
  });
  const runnable = choices.filter(function (choice) { return targets[choice.target]; });
  renderRunStarted();
  let next = 0;
  /** Runs the next combination, or finishes. */
  function step() {
    if (next >= runnable.length) {
      renderRunDone(runnable.length);
      renderProgress(runAllSummary(runnable.length, choices.length, targets.why));
      return;
    }
    const choice = runnable[next];
    next += 1;
    renderProgress('Running ' + next + ' of ' + runnable.length + '…');
    runOne(choice, function (outcome) {
      renderRow(outcome, 'end');
      step();
    });
  }
  step();
}

/**
 * Opens the other site's attacker page with a fresh probe, then watches the
 * ledger until the forged request shows up, and says what reached the server.
 * @param {'port'|'site'} target
 */
function onAttack(target) {
  const origin = targets[target];
  if (!origin) {
    explain({ text: targets.why, tip: '', unexpected: false });
    return;
  }
  const probe = freshProbe();
  window.open(origin + '/?probe=' + probe + '&target=' + location.origin, '_blank', 'noopener');
  rememberOpened(origin);
  const item = renderAttackOpened(target, probe, attackOpened(origin));
  const started = Date.now();
  /** Looks at the ledger once a second. */
  function watch() {
    readLedger(probe, function (requests) {
      const now = attackProgress(origin, location.origin, requests, Date.now() - started, ATTACK_LIMITS);
      if (now.forged) {
        renderAttackOutcome(item, now.forged, now.text);
        return;
      }
      renderAttackText(item, now.text, now.state);
      if (now.state === 'watching') window.setTimeout(watch, 1000);
    });
  }
  watch();
}

/**
 * Panel 1 shows document.cookie after every request; when the lab's
 * cookies are among them, its note says where they came from.
 */
function watchCookies() {
  if (!labEl.jsCookies || !labEl.jsCookiesLab) return;
  const update = function () {
    renderCookiesNote(labCookiesHere(document.cookie, location.hostname, targets.port));
  };
  new MutationObserver(update).observe(labEl.jsCookies, { childList: true, characterData: true, subtree: true });
  update();
}

/**
 * The lab's own API control starts from, and follows, the page's "Send
 * with" choice (which the page keeps on <html data-api>); the learner can
 * still pick the other API for the lab alone.
 */
function followPageApi() {
  const root = document.documentElement;
  const follow = function () {
    if (root.dataset.api === 'xhr' || root.dataset.api === 'fetch') labEl.api.value = root.dataset.api;
  };
  new MutationObserver(follow).observe(root, { attributes: true, attributeFilter: ['data-api'] });
  follow();
}

/** Wires the panel, or says why it cannot run. */
function init() {
  watchCookies();
  if (!labEl.form) return;
  if (!targets.port) {
    renderLabOff(targets.why);
    return;
  }
  renderTargets(targets, labStatus(targets));
  watchTableWidth();
  followPageApi();
  labEl.form.addEventListener('submit', onSend);
  labEl.runAll.addEventListener('click', onRunAll);
  labEl.attackPort.addEventListener('click', function () { onAttack('port'); });
  labEl.attackSite.addEventListener('click', function () { onAttack('site'); });
  labEl.openSite.addEventListener('click', function () { rememberOpened(new URL(labEl.openSite.href).origin); });
}

init();

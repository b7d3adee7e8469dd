/**
 * The lab panel's render functions: they draw what they are given (the
 * sentences come from lab-explain.js), always with textContent, and keep
 * no state of their own.
 */

import { explainLabRow } from './lab-explain.js';
import { apiName } from './format.js';

/** The lab panel's DOM nodes, looked up once. */
export const labEl = {
  labPort: document.querySelector('meta[name="lab-port"]'),
  status: document.getElementById('lab-status'),
  form: document.getElementById('lab-form'),
  target: document.getElementById('lab-target'),
  api: document.getElementById('lab-api'),
  credentials: document.getElementById('lab-credentials'),
  policy: document.getElementById('lab-policy'),
  method: document.getElementById('lab-method'),
  runAll: document.getElementById('lab-run-all'),
  progress: document.getElementById('lab-progress'),
  rows: document.getElementById('lab-rows'),
  attackPort: document.getElementById('attack-port'),
  attackSite: document.getElementById('attack-site'),
  attackResults: document.getElementById('attack-results'),
  openSite: document.getElementById('lab-open-site'),
  jsCookies: document.getElementById('js-cookies'),
  jsCookiesLab: document.getElementById('js-cookies-lab')
};

/**
 * Panel 1's note on the lab's cookies; hidden when there is none.
 * @param {string} text - lab-explain.js `labCookiesHere`
 */
export function renderCookiesNote(text) {
  labEl.jsCookiesLab.textContent = text;
  labEl.jsCookiesLab.hidden = !text;
}

/**
 * Names the targets on the controls and says where the lab listens.
 * @param {{port: string, site: (string|null)}} targets
 * @param {string} status - the status line (lab-explain.js `labStatus`)
 */
export function renderTargets(targets, status) {
  labEl.target.options[0].textContent = 'another port (same site): ' + targets.port;
  labEl.target.options[1].textContent = targets.site ? 'another site: ' + targets.site : 'another site: not available here';
  labEl.attackPort.textContent = 'Open the attacker page on ' + targets.port + ' (same site)';
  labEl.attackSite.textContent = targets.site ? 'Open the attacker page on ' + targets.site + ' (another site)' : 'Another site: not available here';
  labEl.openSite.href = (targets.site || targets.port) + '/';
  labEl.status.textContent = status;
}

/**
 * Turns the panel's controls off and says why.
 * @param {string} why
 */
export function renderLabOff(why) {
  labEl.status.textContent = why;
  labEl.form.querySelectorAll('button, select, input').forEach(function (control) { control.disabled = true; });
  labEl.attackPort.disabled = true;
  labEl.attackSite.disabled = true;
}

/**
 * Shows how a run is going.
 * @param {string} text
 */
export function renderProgress(text) {
  labEl.progress.textContent = text;
}

/** Empties the table for a run of every combination, and turns its button off until it is done. */
export function renderRunStarted() {
  labEl.rows.replaceChildren();
  labEl.runAll.disabled = true;
  delete labEl.rows.dataset.complete;
}

/**
 * Marks the run of every combination done.
 * @param {number} ran - rows the run added
 */
export function renderRunDone(ran) {
  labEl.runAll.disabled = false;
  labEl.rows.dataset.complete = String(ran);
}

/**
 * Adds a row to the table (at the top).
 * @param {import('./lab-explain.js').LabOutcome & {api: string, origin: string, probe: string}} outcome
 */
export function renderRow(outcome) {
  const said = explainLabRow(outcome);
  const row = document.createElement('tr');
  row.dataset.target = outcome.target;
  row.dataset.probe = outcome.probe;
  row.dataset.api = outcome.api;
  row.dataset.credentials = String(outcome.withCredentials);
  row.dataset.policy = outcome.policy;
  row.dataset.method = outcome.method;
  row.dataset.status = String(outcome.status);
  row.dataset.arrived = String(said.arrived);
  row.dataset.preflighted = String(said.preflighted);
  row.dataset.cookies = said.cookies.join(',');
  row.dataset.secFetchSite = said.secFetchSite;
  [
    (outcome.target === 'port' ? 'another port ' : 'another site ') + outcome.origin,
    apiName(outcome.api),
    outcome.withCredentials ? 'on' : 'off',
    outcome.policy,
    outcome.method,
    said.got,
    said.received,
    said.secFetchSite,
    said.why
  ].forEach(function (text) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  });
  if (!outcome.status) row.className = 'blocked';
  labEl.rows.prepend(row);
}

/**
 * Adds an attacker run to the list (at the top).
 * @param {'port'|'site'} target
 * @param {string} probe
 * @param {string} text - what the learner should do meanwhile
 * @returns {HTMLLIElement} the item, for renderAttackOutcome
 */
export function renderAttackOpened(target, probe, text) {
  const item = document.createElement('li');
  item.dataset.target = target;
  item.dataset.probe = probe;
  item.textContent = text;
  labEl.attackResults.prepend(item);
  return item;
}

/**
 * Shows, on an attacker run's item, what the ledger recorded and what it means.
 * @param {HTMLLIElement} item - from renderAttackOpened
 * @param {import('./lab-explain.js').LedgerEntry} forged - the forged request's ledger entry
 * @param {string} text - lab-explain.js `explainAttack`
 */
export function renderAttackOutcome(item, forged, text) {
  item.dataset.status = String(forged.status);
  item.dataset.code = forged.code || '';
  item.dataset.cookies = forged.cookies_received.join(',');
  item.textContent = text;
}

/**
 * Replaces an attacker run's text (no outcome to record), only when it
 * changed, so that screen readers do not hear it again every second.
 * @param {HTMLLIElement} item - from renderAttackOpened
 * @param {string} text
 * @param {string} state - lab-explain.js `attackProgress`'s state
 */
export function renderAttackText(item, text, state) {
  item.dataset.state = state;
  if (item.textContent !== text) item.textContent = text;
}

/**
 * Panel "Log in"'s render functions: they draw what they are given (the
 * sentences come from login-explain.js and fixation-explain.js), always
 * with textContent, and keep no state of their own.
 */

import { describeWho } from './login-explain.js';

/** The panel's DOM nodes, looked up once. */
export const loginEl = {
  form: document.getElementById('login-form'),
  username: document.getElementById('login-username'),
  password: document.getElementById('login-password'),
  remember: document.getElementById('login-remember'),
  logout: document.getElementById('logout'),
  me: document.getElementById('who-am-i'),
  who: document.getElementById('login-who'),
  summary: document.getElementById('login-summary'),
  fixationPort: document.getElementById('fixation-port'),
  fixationSite: document.getElementById('fixation-site'),
  fixationStatus: document.getElementById('fixation-status'),
  fixationRuns: document.getElementById('fixation-runs')
};

/**
 * Says who is logged in, from the last session the page saw, or as GET
 * /me last answered.
 * @param {Object|null} session
 * @param {{text: string, user: string}} [said] - login-explain.js `describeWhoAfterMe`, after /me
 */
export function renderWho(session, said) {
  if (!loginEl.who) return;
  loginEl.who.textContent = said ? said.text : describeWho(session);
  loginEl.who.dataset.user = said ? said.user : session && session.active && session.user ? session.user : '';
}

/**
 * Shows the last login's outcome: a row per fact, and the facts as data
 * for whoever checks them.
 * @param {ReturnType<typeof import('./login-explain.js').loginSummary>} summary
 */
export function renderLoginSummary(summary) {
  const node = loginEl.summary;
  node.replaceChildren();
  summary.rows.forEach(function (row) {
    const dt = document.createElement('dt');
    dt.textContent = row[0];
    const dd = document.createElement('dd');
    dd.textContent = row[1];
    node.append(dt, dd);
  });
  node.dataset.outcome = summary.outcome;
  node.dataset.before = summary.before || '';
  node.dataset.after = summary.after || '';
  node.dataset.lifetime = summary.lifetime;
  node.dataset.tokenChanged = String(summary.tokenChanged);
}

/**
 * Names the lab origins on the fixation buttons, or turns them off and
 * says why.
 * @param {{port: (string|null), site: (string|null), why: string}} targets - lab-explain.js `labTargets`
 */
export function renderFixationTargets(targets) {
  if (!targets.port) {
    loginEl.fixationPort.disabled = true;
    loginEl.fixationSite.disabled = true;
    loginEl.fixationStatus.textContent = targets.why;
    return;
  }
  loginEl.fixationPort.textContent = 'Plant from ' + targets.port + ' (another port, same host)';
  if (targets.site) {
    loginEl.fixationSite.textContent = 'Plant from ' + targets.site + ' (another host)';
  } else {
    loginEl.fixationSite.textContent = 'Another host: not available here';
    loginEl.fixationSite.disabled = true;
    loginEl.fixationStatus.textContent = targets.why;
  }
}

/**
 * Adds a fixation run to the list (at the top).
 * @param {'port'|'site'} target
 * @param {string} probe
 * @param {string} text
 * @returns {HTMLLIElement} the run's item
 */
export function renderFixationOpened(target, probe, text) {
  const item = document.createElement('li');
  item.dataset.target = target;
  item.dataset.probe = probe;
  item.dataset.state = 'watching';
  item.append(stepOf('1. The plant', text));
  loginEl.fixationRuns.prepend(item);
  return item;
}

/**
 * One step of a run: its label, then what it found.
 * @param {string} label
 * @param {string} text
 * @returns {HTMLParagraphElement}
 */
function stepOf(label, text) {
  const step = document.createElement('p');
  step.className = 'fixation-step';
  const name = document.createElement('strong');
  name.textContent = label + ': ';
  const said = document.createElement('span');
  said.textContent = text;
  step.append(name, said);
  return step;
}

/**
 * Replaces the text of a run's current step, only when it changed, so
 * that screen readers do not hear it again every second.
 * @param {HTMLLIElement} item
 * @param {string} text
 * @param {string} state
 */
export function renderFixationText(item, text, state) {
  item.dataset.state = state;
  const said = item.lastElementChild.lastElementChild;
  if (said.textContent !== text) said.textContent = text;
}

/**
 * Adds a step to a run: what the plant did to this page's cookie, then
 * what the planted id finds after the login.
 * @param {HTMLLIElement} item
 * @param {string} label - "2. This site's cookie"
 * @param {string} text
 * @param {Object<string, string>} data - set on the item as data-* attributes
 */
export function renderFixationStep(item, label, text, data) {
  Object.keys(data).forEach(function (key) { item.dataset[key] = data[key]; });
  item.append(stepOf(label, text));
}

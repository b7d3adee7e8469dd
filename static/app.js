/**
 * ajax-sessions: the page's entry script (an ES module, no build step). It
 * only connects the main panels' controls to their actions (actions.js);
 * exchange.js keeps the state and runs the send → log → explain cycle,
 * transport.js is the only module that touches the network, view.js only
 * draws, and the explain modules decide every sentence from what happened.
 * Panel "Log in" has its own actions (login-panel.js); the lab's panel
 * wires itself (lab-panel.js).
 */

import {
  burst, changeApi, clearSession, deleteCookie, deleteKey, loadPage, refresh, regenerate, sendWithoutToken, setCookie,
  toggleTheme, updateData
} from './actions.js';
import { initLoginPanel, logIn, logOut, tryFixation, whoAmI } from './login-panel.js';
import { loginEl } from './login-view.js';
import { el } from './view.js';

el.themeToggle.addEventListener('click', toggleTheme);
el.apiChoice.addEventListener('change', changeApi);
el.cookieForm.addEventListener('submit', setCookie);
el.deleteCookie.addEventListener('click', deleteCookie);
el.refresh.addEventListener('click', refresh);
el.updateForm.addEventListener('submit', updateData);
el.deleteKey.addEventListener('click', deleteKey);
el.regenerate.addEventListener('click', regenerate);
el.clear.addEventListener('click', clearSession);
el.noToken.addEventListener('click', sendWithoutToken);
el.burst.addEventListener('click', burst);
loginEl.form.addEventListener('submit', logIn);
loginEl.logout.addEventListener('click', logOut);
loginEl.me.addEventListener('click', whoAmI);
loginEl.fixationPort.addEventListener('click', function () { tryFixation('port'); });
loginEl.fixationSite.addEventListener('click', function () { tryFixation('site'); });
initLoginPanel();
loadPage();

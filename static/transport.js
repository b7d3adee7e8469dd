/**
 * The one module that touches the network. `send` makes an XMLHttpRequest
 * and reports the whole exchange: what the script set, what came back, and
 * the Set-Cookie the server echoed (scripts may not read Set-Cookie itself).
 */

/**
 * What `send` reports once the reply (or the failure) is in.
 * @typedef {Object} Sent
 * @property {string} method
 * @property {string} url
 * @property {Object<string, string>} headersSet
 * @property {string|null} requestBody
 * @property {number} status - 0 when no reply came
 * @property {Object|null} body - the reply as JSON, or null
 * @property {string} responseText
 * @property {string|null} setCookie - X-Set-Cookie-Echo
 * @property {string|null} servedBy - X-Served-By: the instance that answered
 * @property {number} ms - time taken
 * @property {number} at - when the reply came, Unix ms
 */

/**
 * Sends one request with XMLHttpRequest.
 * @param {{method: string, url: string, body?: *, token?: string}} request -
 *   body is sent as JSON; token, when given, goes in X-CSRF-Token
 * @param {function(Sent): void} done
 */
export function send(request, done) {
  const xhr = new XMLHttpRequest();
  const headersSet = {};
  const requestBody = request.body === undefined ? null : JSON.stringify(request.body);
  xhr.open(request.method, request.url);
  /** Sets a request header and remembers it for the log. */
  function setHeader(name, value) {
    xhr.setRequestHeader(name, value);
    headersSet[name] = value;
  }
  if (requestBody !== null) setHeader('Content-Type', 'application/json');
  if (request.token) setHeader('X-CSRF-Token', request.token);
  const started = performance.now();
  xhr.onloadend = function () {
    done({
      method: request.method,
      url: request.url,
      headersSet: headersSet,
      requestBody: requestBody,
      status: xhr.status,
      body: parseJson(xhr.responseText),
      responseText: xhr.responseText || '',
      setCookie: xhr.status ? xhr.getResponseHeader('X-Set-Cookie-Echo') : null,
      servedBy: xhr.status ? xhr.getResponseHeader('X-Served-By') : null,
      ms: Math.round(performance.now() - started),
      at: Date.now()
    });
  };
  xhr.send(requestBody);
}

/** The text as JSON, or null. */
function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    return null;
  }
}

// Imports a module of static/ for the unit tests. The page's modules are ES
// modules served to the browser as they are; importing their text as data:
// URLs needs no package.json and works on any Node from 18 on. A data: URL
// has no folder to resolve './x.js' against, so each relative import is
// turned into the data: URL of that module in turn.
import { readFileSync } from 'node:fs';

/** The data: URL of static/<name>, its relative imports inlined likewise. */
function dataUrl(name) {
  const source = readFileSync(new URL('../../static/' + name, import.meta.url), 'utf8')
    .replace(/from '\.\/([\w-]+\.js)'/g, (_, dependency) => "from '" + dataUrl(dependency) + "'");
  return 'data:text/javascript;base64,' + Buffer.from(source).toString('base64');
}

/** The exports of static/<name>, e.g. importStatic('explain.js'). */
export function importStatic(name) {
  return import(dataUrl(name));
}

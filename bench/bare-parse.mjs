// The floor for validate: read every YAML file of a tree and parse it with js-yaml
// (YAML 1.2 core schema), nothing else. Run as its own process, like `switchboard validate`.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import jsYaml from 'js-yaml';

let documents = 0;
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\.ya?ml$/.test(e.name)) documents += jsYaml.loadAll(readFileSync(p, 'utf8'), undefined, { schema: jsYaml.CORE_SCHEMA }).length;
  }
};
walk(process.argv[2]);
process.stdout.write(`${documents}\n`);

/** The git commit and dirtiness of a configuration directory, when it is in a git work tree. */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';

export function gitInfo(dir: string, cwd: string): { commit: string; dirty: boolean } | undefined {
  const abs = path.resolve(cwd, dir);
  let workDir = abs;
  try {
    if (statSync(abs).isFile()) workDir = path.dirname(abs);
  } catch {
    return undefined;
  }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: workDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    const dirty = git('status', '--porcelain', '--', '.') !== '';
    return { commit, dirty };
  } catch {
    return undefined;
  }
}

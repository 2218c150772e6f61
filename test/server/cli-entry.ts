// Runs the CLI from source (with `node --import tsx`) so child-process tests need no build.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));

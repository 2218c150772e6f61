#!/usr/bin/env node
// Runs the compiled CLI (npm run build); no TypeScript is compiled at run time.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));

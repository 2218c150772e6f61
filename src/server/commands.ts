/** The CLI commands of the server (`serve`, `token create`), loaded by cli/main.ts only when used. */
export { serve } from './serve.js';
export { tokenCreateCommand } from './token-command.js';

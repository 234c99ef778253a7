#!/usr/bin/env node
// The `ptm` command. The CLI is compiled TypeScript in dist/ (built by `npm install` via `prepare`).
import { main } from '../dist/cli/main.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });

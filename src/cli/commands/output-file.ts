// Writing user-visible files: never overwrite what is there unless --force was given.
import { existsSync, writeFileSync } from 'node:fs';
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';

const cli = { file: '<command line>', line: 0, col: 0, offset: 0, end: 0 };

export function refuseOverwrite(path: string, force: boolean | undefined): void {
  if (!force && existsSync(path)) throw new PtmError(diag.output_exists(cli, path));
}

export function writeOutput(path: string, data: string | Uint8Array, force: boolean | undefined): void {
  refuseOverwrite(path, force);
  writeFileSync(path, data);
}

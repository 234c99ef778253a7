// Reading and writing whole files with diagnostics instead of raw Node errors.
import { readFileSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { PtmError, diag, noSpan } from '../diagnostics/index.js';

/** The bytes of `path`; file_not_found / file_unreadable when it cannot be read. */
export function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new PtmError(diag.file_not_found(noSpan(path), path));
    throw new PtmError(diag.file_unreadable(noSpan(path), path, err.code === 'EISDIR' ? 'it is a directory' : err.message));
  }
}

const WRITE_FAILURES: Record<string, string> = {
  ENOENT: 'its folder does not exist',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
};

/** Writes `bytes` to `path`; an existing file is output_exists unless `force` (checked atomically with 'wx'); other failures are output_unwritable. */
export function writeBytes(path: string, bytes: Uint8Array, force = false): void {
  try {
    writeFileSync(path, bytes, { flag: force ? 'w' : 'wx' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') throw new PtmError(diag.output_exists(noSpan(path), path));
    throw new PtmError(diag.output_unwritable(noSpan(path), path, WRITE_FAILURES[err.code ?? ''] ?? err.message));
  }
}

/** Typed-array views of file bytes assume a little-endian host, as safetensors and .npy files are. */
export function requireLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new PtmError(diag.backend_unavailable(noSpan('<host>'), 'cpu', 'tensor files need a little-endian host'));
}

// Writes an exported model to disk: the .onnx file and, when it has one, its external-data file
// next to it (ONNX resolves `location` relative to the model's directory).
import { closeSync, ftruncateSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { OnnxExport } from './export-onnx.js';

/** Writes `exported` to `modelPath` (and its weights beside it); returns the paths written. */
export function writeOnnx(modelPath: string, exported: OnnxExport): string[] {
  writeFileSync(modelPath, exported.model);
  const external = exported.externalData;
  if (!external) return [modelPath];
  if (isAbsolute(external.location)) throw new Error(`external data location '${external.location}' must be relative to the model file`);
  const dataPath = join(dirname(modelPath), external.location);
  const fd = openSync(dataPath, 'w');
  try {
    for (const { offset, bytes } of external.chunks) {
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
    }
    ftruncateSync(fd, external.size);
  } finally {
    closeSync(fd);
  }
  return [modelPath, dataPath];
}

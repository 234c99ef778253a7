// The graph IR: types, op registry, builder, verifier and textual form.
export * from './types.js';
export * from './dim.js';
export * from './mask.js';
export * from './ops.js';
export * from './builder.js';
export * from './print.js';
export * from './read.js';
export * from './verify.js';

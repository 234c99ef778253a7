// Kernel IR: types, typed constructors, and (added alongside) the validator and interpreter.
export * from './types.js';
export * as k from './build.js';
export * from './interpret.js';
export * from './validate.js';

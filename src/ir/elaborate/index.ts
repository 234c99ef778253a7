// Elaboration: .ptm AST -> graph IR.
export { elaborate, LIMITS } from './elaborate.js';
export type { ElaborateOptions, ElaborateResult } from './elaborate.js';
export { parseOverrides, evaluateConfig } from './config.js';
export type { ConfigOverride, ConfigValue } from './config.js';

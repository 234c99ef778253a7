// Sessions that carry segment memory across calls (REFERENCE.md §7.6).
export { Session, graphMemories } from './session.js';
export type { MemoryState } from './session.js';

export * from './span.js';
export * from './diagnostic.js';
export * from './catalogue.js';
export * from './suggest.js';

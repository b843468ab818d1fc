export * from './fs-document-store.js';
export * from './s3-document-store.js';

/** Arrives with its own issue. */
export {};

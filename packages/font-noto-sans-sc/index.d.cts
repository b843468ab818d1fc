/** Absolute path of NotoSansSC-Regular.ttf (TrueType outlines, SIL OFL 1.1: see OFL.txt next to it). */
export declare const fontPath: string;
/** The font file's bytes (10.5 MB): read it once and keep it. */
export declare function readFont(): Uint8Array;

/**
 * pdf-lib, loaded with `require` instead of `import`.
 *
 * pdf-lib ships CommonJS as its Node entry, spread over a few hundred files. Imported from ES modules, Node runs its
 * CommonJS export scanner over every one of them, which roughly doubles the CPU time of loading it (about 0.2 s more
 * on each cold start); `require` loads the very same files, and the same module instances the host gets from
 * `import 'pdf-lib'`, so objects still pass `instanceof` in both directions. Every value core takes from pdf-lib comes
 * through here; types keep coming from 'pdf-lib' directly.
 */
import { createRequire } from 'node:module';
import type * as PdfLib from 'pdf-lib';

const pdfLib = createRequire(import.meta.url)('pdf-lib') as typeof PdfLib;

export const PDFArray = pdfLib.PDFArray;
export type PDFArray = PdfLib.PDFArray;
export const PDFButton = pdfLib.PDFButton;
export type PDFButton = PdfLib.PDFButton;
export const PDFCheckBox = pdfLib.PDFCheckBox;
export type PDFCheckBox = PdfLib.PDFCheckBox;
export const PDFDict = pdfLib.PDFDict;
export type PDFDict = PdfLib.PDFDict;
export const PDFDocument = pdfLib.PDFDocument;
export type PDFDocument = PdfLib.PDFDocument;
export const PDFDropdown = pdfLib.PDFDropdown;
export type PDFDropdown = PdfLib.PDFDropdown;
export const PDFHexString = pdfLib.PDFHexString;
export type PDFHexString = PdfLib.PDFHexString;
export const PDFName = pdfLib.PDFName;
export type PDFName = PdfLib.PDFName;
export const PDFNumber = pdfLib.PDFNumber;
export type PDFNumber = PdfLib.PDFNumber;
export const PDFOptionList = pdfLib.PDFOptionList;
export type PDFOptionList = PdfLib.PDFOptionList;
export const PDFPageLeaf = pdfLib.PDFPageLeaf;
export type PDFPageLeaf = PdfLib.PDFPageLeaf;
export const PDFPageTree = pdfLib.PDFPageTree;
export type PDFPageTree = PdfLib.PDFPageTree;
export const PDFRadioGroup = pdfLib.PDFRadioGroup;
export type PDFRadioGroup = PdfLib.PDFRadioGroup;
export const PDFRawStream = pdfLib.PDFRawStream;
export type PDFRawStream = PdfLib.PDFRawStream;
export const PDFRef = pdfLib.PDFRef;
export type PDFRef = PdfLib.PDFRef;
export const PDFSignature = pdfLib.PDFSignature;
export type PDFSignature = PdfLib.PDFSignature;
export const PDFString = pdfLib.PDFString;
export type PDFString = PdfLib.PDFString;
export const PDFTextField = pdfLib.PDFTextField;
export type PDFTextField = PdfLib.PDFTextField;
export const StandardFontEmbedder = pdfLib.StandardFontEmbedder;
export type StandardFontEmbedder = PdfLib.StandardFontEmbedder;
export const StandardFonts = pdfLib.StandardFonts;
export type StandardFonts = PdfLib.StandardFonts;
export const decodePDFRawStream = pdfLib.decodePDFRawStream;
export type { PDFAcroField, PDFContext, PDFField, PDFObject } from 'pdf-lib';

/** The emulator's records — what 安心签 keeps about platforms, users, seals, authorisations, templates and contracts — and the wire helpers. */
import { randomBytes } from 'node:crypto';
import type { PreparedTemplate } from '@sealflow/core';
import type { LazyIdentity } from './documents.js';

export type Json = Record<string, unknown>;

/** 安心签 ids (userId, platId, sealId) are 32 upper-case hex characters. */
export function newId(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

/** fileIds are lower-case UUIDs. */
export function newFileId(): string {
  return crypto.randomUUID();
}

const SHANGHAI_OFFSET_MS = 8 * 3600_000;

/** `yyyyMMddHHmmss` in China Standard Time, the form of every time on the wire. */
export function txTime(ms: number): string {
  return new Date(ms + SHANGHAI_OFFSET_MS).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The instant of a `yyyyMMddHHmmss` China Standard Time string; undefined when it is not one. */
export function parseTxTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{14}$/.test(value)) return undefined;
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((i, k) => Number(value.slice(i, i + (k === 0 ? 4 : 2))));
  const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo! - 1 || back.getUTCDate() !== d! || h! > 23 || mi! > 59 || s! > 59) return undefined;
  return ms - SHANGHAI_OFFSET_MS;
}

/** `138****0000`: how 安心签 shows a mobile number back. */
export function maskMobile(mobile: string): string {
  return mobile.length >= 7 ? `${mobile.slice(0, 3)}****${mobile.slice(-4)}` : '****';
}

export function obj(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

export function str(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** 安心签 takes integers as numbers or strings (`"isSign":"1"` and `isSign: 1` both work). */
export function int(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

/** Coordinates come as strings (Java) or numbers (PHP). */
export function decimal(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

export interface PlatformRecord {
  platId: string;
  /** DER of the registered platform certificate. */
  certificateDer: Uint8Array;
}

export interface UserRecord {
  userId: string;
  /** The platform that opened the account (the platform's own enterprise user too). */
  platId: string;
  kind: 'person' | 'enterprise';
  name: string;
  identTypeCode: string;
  identNo: string;
  mobilePhone: string | undefined;
  /** What the opening transaction sent, echoed back. */
  raw: Json;
  identity: LazyIdentity;
}

export interface SealRecord {
  sealId: string;
  userId: string;
  sealType: number;
  /** PNG; undefined for the default seal drawn by the emulator. */
  image: Uint8Array | undefined;
}

export interface CheckCodeRecord {
  userId: string;
  projectCode: string;
  code: string;
  sentAt: number;
  expiresAt: number;
  failures: number;
  isSendVoice: number;
}

export interface AuthorisationRecord {
  userId: string;
  projectCode: string;
  authorizedAt: number;
}

/** A signature field of a template: an AcroForm signature field of the PDF, or one declared with the template. */
export interface TemplateSignatureField {
  name: string;
  /** Present for a declared field (a new field is made there); absent for a field that is in the PDF. */
  page?: number;
  rect?: { x: number; y: number; width: number; height: number };
}

export interface TemplateRecord {
  templateId: string;
  platId: string;
  contractTypeCode: string;
  contractName: string;
  pdf: Uint8Array;
  textFields: Set<string>;
  signatureFields: Map<string, TemplateSignatureField>;
  prepared: Promise<PreparedTemplate> | undefined;
}

/** 0 not signed, 1 signed, 9 copy only. */
export type SignmentState = 0 | 1 | 9;

export interface SignatoryRecord {
  userId: string;
  signmentState: SignmentState;
  signTime: number | undefined;
}

/** 0 nobody signed yet, 3 signing, 1 completed, 9 expired. */
export type ContractState = 0 | 1 | 3 | 9;

export interface ContractRecord {
  contractNo: string;
  platId: string;
  contractTypeCode: string;
  contractName: string;
  templateId: string | undefined;
  createTime: number;
  /** yyyyMMdd. */
  expiredDate: string;
  fileId: string;
  bytes: Uint8Array;
  pages: { width: number; height: number }[];
  /** Named signature fields: the template's, or the uploaded PDF's empty signature fields. */
  signatureFields: Map<string, TemplateSignatureField>;
  signatories: SignatoryRecord[];
  /** Signature fields (template) already used, so a second signature there is refused. */
  usedFields: Set<string>;
  textValues: Record<string, string>;
  saveTextValue: boolean;
  signatureCount: number;
}

export interface BatchRecord {
  batchNo: string;
  platId: string;
  acceptedAt: number;
  /** The request's `createContracts`, as sent. */
  requests: Json[];
  /** Set when the batch ran: each request's outcome. */
  results: Json[] | undefined;
  /** Kept unfinished until released (a stuck-batch fault or `holdBatches`). */
  held: boolean;
}

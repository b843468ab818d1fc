/**
 * Request shapes at the edge. sealflow checks its inputs again in its own terms (ID number check digits, ages,
 * template rules); these catch malformed requests early, with messages naming the field but never its value.
 */
import { z } from 'zod';

const idNumber = z
  .string()
  .regex(/^\d{17}[\dXx]$/, 'must be an 18-character 居民身份证号码 (17 digits and a check digit or X)');
const mobile = z.string().regex(/^1\d{10}$/, 'must be an 11-digit mainland mobile number starting with 1');
const personName = z.string().trim().min(1, 'must not be empty').max(50, 'must be at most 50 characters');
const yuan = z.string().regex(/^\d{1,12}(\.\d{1,2})?$/, 'must be an amount in 元 such as "50000.00"');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD');
const businessNo = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$/, 'must be 1–60 letters, digits, ".", "_" or "-"');

export const Borrower = z.strictObject({ name: personName, idNumber, mobile });

/** The customer's consent as the app recorded it (time, channel, IP, device, document versions shown). */
export const Consent = z.strictObject({
  at: z.number().int().positive('must be epoch milliseconds'),
  channel: z.string().min(1).max(32),
  ip: z.string().min(1).max(64),
  device: z.string().min(1).max(200),
  documentVersionsShown: z.array(z.string().min(1).max(100)).min(1, 'must list the document versions shown'),
});

export const CreditSigningBody = z.strictObject({
  businessNo,
  borrower: Borrower,
  creditLimit: yuan,
  consent: Consent,
});

/** What the loan contract prints about the loan. */
export const LoanTerms = z.strictObject({
  amount: yuan,
  purpose: z.string().min(1).max(40),
  term: z.string().min(1).max(20),
  annualRate: z.string().min(1).max(30),
  startDate: isoDate,
  endDate: isoDate,
  repayMethod: z.string().min(1).max(40),
  signPlace: z.string().min(1).max(40),
});

const Address = z.string().min(1).max(40);

const PlatformDrawdown = z.strictObject({
  funding: z.literal('platform'),
  businessNo,
  borrower: Borrower,
  address: Address,
  creditLimit: yuan,
  loan: LoanTerms,
  consent: Consent,
});

const Material = z.strictObject({
  kind: z.string().min(1).max(64),
  documentId: z.string().min(1).max(200),
  complete: z.boolean(),
});

const DispatchDrawdown = z.strictObject({
  funding: z.literal('dispatch'),
  applicationNumber: businessNo,
  customer: Borrower,
  productCode: z.string().min(1).max(32),
  amountFen: z.number().int().positive('must be a whole number of fen above 0'),
  region: z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 region code such as 310000'),
  businessCategory: z.string().min(1).max(64),
  materials: z.array(Material).min(1, 'must list the materials collected'),
});

/** A drawdown: a platform-funded loan contract signed now, or a loan application that goes to review and dispatch. */
export const DrawdownBody = z.discriminatedUnion('funding', [PlatformDrawdown, DispatchDrawdown]);

/** The customer's choice among the institutions that accepted, with the terms of the loan contract. */
export const ChoiceBody = z.strictObject({
  institutionId: z.string().min(1).max(64),
  address: Address,
  creditLimit: yuan,
  loan: LoanTerms,
  consent: Consent,
});

export const DeclineBody = z.strictObject({ reason: z.string().trim().min(1).max(500) });

export const IdParam = z.strictObject({ id: z.string().min(1).max(250) });
export const OfferParam = z.strictObject({ offerId: z.string().min(1).max(250) });
export const ApplicationParam = z.strictObject({ applicationId: z.string().min(1).max(80) });

/** CFCA 安心签: ask for the borrower's proxy-sign authorisation code. */
export const CfcaCodeBody = z.strictObject({ borrower: Borrower });

/** CFCA 安心签: the code the borrower typed in (and where, for 安心签's record). */
export const CfcaConfirmBody = z.strictObject({
  userId: z.string().min(1).max(64),
  checkCode: z.string().regex(/^\d{4,8}$/, 'must be the 4–8 digit code from the SMS'),
  location: z.string().min(1).max(64).optional(),
});

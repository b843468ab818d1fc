/**
 * The loan contract a dispatch ends in: the customer's terms sealed with the choice, the customer's identity sealed
 * at intake, and the funder-funded LOAN_CONTRACT signing started from both once the application reaches its
 * institution.
 *
 * The application record keeps no personal data, yet the contract must name the borrower. So the identity given when
 * the application is opened is sealed (AES-256-GCM under the host's `hashKey`, as signing seals its own) into a record
 * of its own that queries never return, and opened only by the effect that starts the signing.
 */
import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { defineRepository } from '../repository.js';
import type { CustomerKeys } from '../signing/customer-data.js';
import { parseShape, SignRequestShape } from '../signing/request-shape.js';
import type { SigningService } from '../signing/signing-service.js';
import type { LoanContractParams } from './application-workflow.js';

/** The customer's identity, sealed, by application id. Never tagged by anything personal. */
export const sealedCustomers = defineRepository({
  kind: 'dispatch-application-customer',
  label: 'sealed customer identity',
  schema: z.object({ applicationId: z.string(), sealed: z.string() }),
  id: (record) => record.applicationId,
});

/** The customer's identity as the loan contract names the borrower. */
export interface BorrowerIdentity {
  name: string;
  idNumber: string;
  mobile: string;
}

/** Keep the customer's identity sealed for the application's loan contract, in the opening's transaction. */
export async function storeSealedCustomer(
  tx: PersistenceTransaction,
  keys: CustomerKeys,
  applicationId: string,
  customer: BorrowerIdentity,
  at: number,
): Promise<void> {
  const identity = { name: customer.name.trim(), idNumber: customer.idNumber.trim(), mobile: customer.mobile.trim() };
  await sealedCustomers.insert(tx, { applicationId, sealed: keys.seal(identity) }, at);
}

/**
 * What the customer agrees to with the choice of an institution, for the loan contract: the consent (when, where,
 * from which device, which template versions were shown) and the template values the host adds, such as the term
 * and the rate agreed with the institution.
 */
export interface LoanContractTerms {
  consent: {
    at: number;
    channel: string;
    ip: string;
    device: string;
    documentVersionsShown: string[];
  };
  /** Business values read by the loan contract template's `source` paths; `dispatch.*` is filled by sealflow. */
  values?: Record<string, unknown>;
}

const TermsShape = z.object({
  consent: SignRequestShape.shape.consent,
  values: SignRequestShape.shape.values,
});

/** Check the terms (messages name `contract.consent.ip` …) and seal them for the dispatch's saved state. */
export function sealLoanContractTerms(keys: CustomerKeys, terms: LoanContractTerms): string {
  const parsed = parseShape(TermsShape, terms, 'contract', 'loan-contract terms');
  return keys.seal(parsed);
}

/** Options of {@link loanContractStarter}. */
export interface LoanContractStarterOptions {
  keys: CustomerKeys;
  signing: SigningService;
  /** The signing scene of loan contracts; default `LOAN_CONTRACT`. */
  scene?: string;
  /** Reads the sealed identity; the caller's persistence. */
  read: <T>(work: (tx: PersistenceTransaction) => Promise<T>) => Promise<T>;
}

/**
 * Start the funder-funded loan contract of an application: the funder as dispatch fixed it, the borrower from the
 * sealed identity, the customer's sealed terms, and `dispatch.*` values (application number, amount in fen and in
 * yuan, product, funder) a template may print. Everything comes from saved state, so a retry asks signing for the
 * same signing, which signing then returns instead of starting another.
 */
export function loanContractStarter(options: LoanContractStarterOptions) {
  const scene = options.scene ?? 'LOAN_CONTRACT';
  return async (params: LoanContractParams): Promise<string> => {
    const stored = await options.read((tx) => sealedCustomers.get(tx, params.applicationId));
    if (!stored) {
      throw new NotFoundError(
        `Application ${params.applicationId} has no sealed customer identity (it was opened before loan contracts ` +
          'were signed from dispatch); start its loan contract with signing.sign.',
      );
    }
    const borrower = options.keys.open<BorrowerIdentity>(stored.record.sealed);
    const terms = options.keys.open<LoanContractTerms>(params.contract);
    const { funder } = params;
    const record = await options.signing.sign({
      businessNo: params.businessNo,
      scene,
      funding: 'funder',
      funder: { id: funder.id, name: funder.name, creditCode: funder.creditCode },
      borrower,
      values: {
        ...terms.values,
        dispatch: {
          applicationNumber: params.applicationNumber,
          amountFen: params.amountFen,
          amountYuan: yuan(params.amountFen),
          productCode: params.productCode,
          funderId: funder.id,
        },
      },
      consent: terms.consent,
      actor: { id: params.requestedBy },
    });
    return record.id;
  };
}

/** Fen as a yuan amount with two decimals, exactly (no floating point). */
function yuan(fen: number): string {
  const whole = Math.trunc(fen / 100);
  return `${whole}.${String(fen % 100).padStart(2, '0')}`;
}

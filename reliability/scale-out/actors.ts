/** The people of the scale-out runs: desks, the platform admin, institutions' staff and the borrowers. */
import { type DispatchActor, withCreditCodeCheckChar, withIdNumberCheckChar } from '../../packages/core/src/index.js';

export const cm: DispatchActor = { id: 'cm-li', roles: ['customer-manager'] };
export const reviewer: DispatchActor = { id: 'rev-zhao', roles: ['loan-reviewer'] };
export const followUp: DispatchActor = { id: 'fu-zhou', roles: ['follow-up-manager'] };
export const admin: DispatchActor = { id: 'adm-zheng', roles: ['platform-admin'] };
export const staffOf = (institutionId: string): DispatchActor => ({
  id: `${institutionId}-staff`,
  roles: ['institution'],
  institutionId,
});

export const INSTITUTIONS = Array.from({ length: 10 }, (_, i) => ({
  id: `inst-${String(i).padStart(2, '0')}`,
  name: `第${i}小贷公司`,
  creditCode: withCreditCodeCheckChar(`91310000MA1${String(i).padStart(6, '0')}`),
}));

export const AMOUNT_FEN = 30_000_000;

/** Borrower `i` of a run: distinct ID numbers and mobiles, so no two applications share a person. */
export function borrower(i: number) {
  const seq = String(i % 1000).padStart(3, '0');
  const day = String(1 + (Math.floor(i / 1000) % 28)).padStart(2, '0');
  const month = String(1 + (Math.floor(i / 28_000) % 12)).padStart(2, '0');
  return {
    name: '欧阳娜娜',
    idNumber: withIdNumberCheckChar(`3101011990${month}${day}${seq}`),
    mobile: `138${String(i).padStart(8, '0')}`,
  };
}

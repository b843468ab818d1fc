/** The emulator's records: what e签宝 keeps about apps, organisations, people, files, templates and sign flows. */
import { randomBytes } from 'node:crypto';
import type { PreparedTemplate } from '@sealflow/core';
import type { LazyIdentity } from './documents.js';

/** e签宝 ids are 32 lower-case hex characters. */
export function newId(): string {
  return randomBytes(16).toString('hex');
}

export interface AppRecord {
  appId: string;
  appSecret: string;
  /** The company the AppId belongs to: it seals automatically without any authorisation. */
  orgId: string;
}

export interface OrgRecord {
  orgId: string;
  orgName: string;
  orgIDCardNum: string;
  orgIDCardType: string;
}

export interface SealRecord {
  sealId: string;
  orgId: string;
  sealName: string;
  sealBizType: string;
  /** Organisations this seal is authorised to (cross-company authorisation, §6.3). */
  authorizedOrgIds: Set<string>;
  identity: LazyIdentity;
}

export interface PersonRecord {
  psnId: string;
  name: string | undefined;
  idNo: string | undefined;
  idType: string;
  mobile: string | undefined;
  email: string | undefined;
  bankCards: { cardNo: string; mobile: string | undefined }[];
  realnamed: boolean;
  identity: LazyIdentity;
}

export interface FileRecord {
  fileId: string;
  appId: string;
  fileName: string;
  contentType: string;
  contentMd5: string;
  fileSize: number;
  convertToPDF: boolean;
  uploadToken: string;
  bytes: Uint8Array | undefined;
  uploadedAt: number | undefined;
  /** Set by a test to make the file fail (3 upload failed, 9 conversion failed). */
  forcedStatus: number | undefined;
}

export interface TemplateComponent {
  componentId: string;
  componentKey: string;
  componentName: string;
  componentType: number;
  required: boolean;
  componentPosition: { componentPositionX: number; componentPositionY: number; componentPageNum: number };
  componentSize: { componentWidth: number; componentHeight: number };
}

export interface TemplateRecord {
  docTemplateId: string;
  appId: string;
  docTemplateName: string;
  createTime: number;
  pdf: Uint8Array;
  components: TemplateComponent[];
  prepared: Promise<PreparedTemplate> | undefined;
}

export type FlowStatus = 0 | 1 | 2 | 3 | 5 | 7;

export const FLOW_STATUS_TEXT: Record<FlowStatus, string> = {
  0: '草稿',
  1: '签署中',
  2: '完成',
  3: '撤销',
  5: '过期',
  7: '拒签',
};

export interface SignFieldRecord {
  signFieldId: string;
  fileId: string;
  customBizNum: string | undefined;
  signFieldType: number;
  mustSign: boolean;
  autoSign: boolean;
  freeMode: boolean;
  assignedSealId: string | undefined;
  signFieldStyle: number;
  positionPage: string | undefined;
  positionX: number | undefined;
  positionY: number | undefined;
  width: number | undefined;
  height: number | undefined;
  /** "0" waiting, "1" in signing, "2" signed, "4" rejected: V3's enumeration is undocumented. */
  signFieldStatus: '0' | '1' | '2' | '4';
  statusUpdateTime: number;
  sealId: string | undefined;
  sealOwnerId: string | undefined;
  raw: Record<string, unknown>;
}

/** Per-signer status as the older signer-list API numbered it: 0 waiting, 1 signing, 2 signed, 4 rejected. */
export type SignerStatus = 0 | 1 | 2 | 4;

export interface SignerRecord {
  signerType: 0 | 1;
  signOrder: number;
  signTaskType: number;
  signStatus: SignerStatus;
  person: PersonRecord | undefined;
  /** The account the signer was named by (mobile or email), as given. */
  psnAccount: string | undefined;
  org: OrgRecord | undefined;
  transactor: PersonRecord | undefined;
  fields: SignFieldRecord[];
  operateTime: number | undefined;
}

export interface FlowDoc {
  fileId: string;
  fileName: string;
  /** The document as signed so far. */
  bytes: Uint8Array;
  pageCount: number;
  pages: { width: number; height: number }[];
}

export interface FlowRecord {
  signFlowId: string;
  appId: string;
  signFlowTitle: string;
  status: FlowStatus;
  description: string;
  revokeReason: string | undefined;
  createTime: number;
  startTime: number | undefined;
  finishTime: number | undefined;
  expireTime: number;
  autoStart: boolean;
  autoFinish: boolean;
  notifyUrl: string | undefined;
  config: Record<string, unknown>;
  docs: FlowDoc[];
  attachments: { fileId: string; fileName: string }[];
  signers: SignerRecord[];
}

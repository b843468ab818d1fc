/**
 * Workflow diagrams: one Mermaid `stateDiagram-v2` per workflow, drawn from the xstate machine definitions themselves
 * (their state nodes, transitions, guards and delays), so the pictures cannot drift from the code.
 *
 *   pnpm diagrams   rewrite docs/workflows.md
 *
 * `packages/core/test/workflow-diagrams.test.ts` regenerates the page in memory and fails when the committed file
 * differs, and checks every machine under packages/core/src is listed in WORKFLOW_DIAGRAMS below.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import {
  applicationMachine,
  DISPATCH_APPLICATION_WORKFLOW,
} from '../packages/core/src/dispatch/application-workflow.js';
import { COMPLAINT_WORKFLOW, complaintMachine } from '../packages/core/src/dispatch/complaint-workflow.js';
import { DISPATCH_WORKFLOW, dispatchMachine } from '../packages/core/src/dispatch/dispatch-workflow.js';
import { signingMachine } from '../packages/core/src/signing/signing-machine.js';
import { SIGNING_WORKFLOW } from '../packages/core/src/signing/signing-workflows.js';
import {
  TEMPLATE_APPROVAL_WORKFLOW,
  templateApprovalMachine,
} from '../packages/core/src/templates/approval-workflow.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Where the generated page lives, relative to the repository root. */
export const WORKFLOWS_DOC = 'docs/workflows.md';

/** One workflow as the page shows it. */
export interface WorkflowDiagram {
  title: string;
  /** The id the workflow is registered under in the runtime. */
  workflowId: string;
  machine: AnyStateMachine;
  /** The module that exports the machine, and the export's name (the test checks both). */
  source: string;
  exportName: string;
  /** One or two sentences: what the workflow is for. */
  about: string;
  /** Doc pages that explain it, relative to docs/. */
  docs: readonly { label: string; href: string }[];
}

export const WORKFLOW_DIAGRAMS: readonly WorkflowDiagram[] = [
  {
    title: 'Template approval (审批)',
    workflowId: TEMPLATE_APPROVAL_WORKFLOW,
    machine: templateApprovalMachine,
    source: 'packages/core/src/templates/approval-workflow.ts',
    exportName: 'templateApprovalMachine',
    about:
      'A submitted template version waits in `pending` for one decision per approval level; the last approval makes ' +
      'it effective, a rejection or the submitter withdrawing ends it. With a deadline, `pending` starts `onTime` ' +
      'and escalates to `overdue` when the deadline passes.',
    docs: [{ label: 'Templates: approval', href: 'templates.md#approval-审批' }],
  },
  {
    title: 'Signing (签署)',
    workflowId: SIGNING_WORKFLOW,
    machine: signingMachine,
    source: 'packages/core/src/signing/signing-machine.ts',
    exportName: 'signingMachine',
    about:
      'One signing of a bundle of contracts: render, open one vendor flow, wait for the signers (and the funder when ' +
      'the loan is funder-funded), then download, verify and archive. The scene’s deadline covers the whole vendor ' +
      'phase; at the deadline the flow is closed at the vendor and only a flow the vendor reports completed survives.',
    docs: [{ label: 'Signing: the workflow', href: 'signing.md#the-workflow' }],
  },
  {
    title: 'Loan application (申请)',
    workflowId: DISPATCH_APPLICATION_WORKFLOW,
    machine: applicationMachine,
    source: 'packages/core/src/dispatch/application-workflow.ts',
    exportName: 'applicationMachine',
    about:
      'One loan application from the customer’s registration through materials, 贷审 review and dispatch to an ' +
      'institution, to settlement, ratings and closing. Every command passes the `allowed` rule (role, stage and ' +
      'input) before it moves the application.',
    docs: [
      { label: 'Applications: stages and who moves them', href: 'dispatch-applications.md#stages-and-who-moves-them' },
    ],
  },
  {
    title: 'Dispatch: offers and the customer’s choice (派单)',
    workflowId: DISPATCH_WORKFLOW,
    machine: dispatchMachine,
    source: 'packages/core/src/dispatch/dispatch-workflow.ts',
    exportName: 'dispatchMachine',
    about:
      'One dispatch round of an application: rank the candidate institutions, then keep up to three live offers ' +
      'while institutions accept or decline and offers expire, until the customer chooses one, the candidates run ' +
      'out, the choice window closes or staff cancel. Offers are this workflow’s records, not a machine of their own.',
    docs: [
      { label: 'Dispatch: offers, deadlines and the customer’s choice', href: 'dispatch-offers.md' },
      { label: 'Dispatch: the whole flow', href: 'dispatch.md#the-whole-flow' },
    ],
  },
  {
    title: 'Complaints (投诉)',
    workflowId: COMPLAINT_WORKFLOW,
    machine: complaintMachine,
    source: 'packages/core/src/dispatch/complaint-workflow.ts',
    exportName: 'complaintMachine',
    about:
      'One complaint about an application: accepted, refused or kept as a suggestion; routed to a platform team or ' +
      'to the institution, which must report before its deadline; investigated, decided (a founded complaint’s ' +
      'penalty needs two confirmations) and closed with feedback to whoever complained.',
    docs: [{ label: 'Complaints', href: 'dispatch-complaints.md#complaints' }],
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Machine → Mermaid

/** The parts of an xstate state node the diagram reads (xstate's own types make every field generic). */
interface Node {
  key: string;
  id: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  path: string[];
  parent?: Node;
  states: Record<string, Node>;
  initial?: { target: readonly Node[] };
  transitions: Map<string, readonly Transition[]>;
  always?: readonly Transition[];
  after: readonly (Transition & { delay: unknown })[];
}

interface Transition {
  target?: readonly Node[];
  guard?: unknown;
}

/** Words Mermaid's state diagram grammar reads as keywords: never used as a state id. */
const RESERVED_IDS = new Set([
  'state',
  'note',
  'end',
  'as',
  'direction',
  'class',
  'classDef',
  'style',
  'left',
  'right',
]);
const PLAIN_ID = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Characters a transition label may hold: Mermaid ends a label at a newline, and reads `;`, `#`, `:` specially. */
const LABEL_UNSAFE = /[^A-Za-z0-9_ .,()[\]'-]/g;

/** A Mermaid state diagram of a machine, and the events its root handles in every state without moving. */
export interface MermaidDiagram {
  mermaid: string;
  /** `EVENT [guard]` labels of targetless transitions on the machine's root (recorded wherever the machine is). */
  anywhere: string[];
}

/** Draw `machine` as a Mermaid `stateDiagram-v2`: states, nested states, finals, events, guards and delays. */
export function mermaidStateDiagram(machine: AnyStateMachine): MermaidDiagram {
  const root = machine.root as unknown as Node;
  const ids = new Map<Node, string>();
  const taken = new Set<string>();
  const assign = (node: Node) => {
    for (const child of Object.values(node.states)) {
      // A nested state's id starts with its parent's, so it is unique and never a bare keyword.
      const wanted = child.parent === root ? safeId(child.key) : `${ids.get(node)}_${idChars(child.key)}`;
      let id = wanted;
      for (let n = 2; taken.has(id); n++) id = `${wanted}_${n}`;
      taken.add(id);
      ids.set(child, id);
      assign(child);
    }
  };
  assign(root);
  const idOf = (node: Node) => {
    const id = ids.get(node);
    if (id === undefined) throw new Error(`State ${node.id} is not part of machine ${root.id}.`);
    return id;
  };

  const anywhere: string[] = [];
  for (const [event, candidates] of root.transitions) {
    candidates.forEach((t, i) => {
      if (t.target?.length) {
        throw new Error(
          `Machine ${root.id}: the root's ${event} transition has a target; draw it by moving it onto the states it ` +
            'leaves from, or teach scripts/diagrams.ts to draw root transitions.',
        );
      }
      anywhere.push(label(eventLabel(event), t.guard, i, candidates.length));
    });
  }
  if (root.always?.length || root.after.length) {
    throw new Error(`Machine ${root.id}: eventless or delayed transitions on the root cannot be drawn.`);
  }

  // Arrows whose two ends sit in the same compound state are written inside its block; the others after every block,
  // because Mermaid places a state in the block where it is first mentioned.
  const linesIn = new Map<Node, string[]>();
  const write = (owner: Node, line: string) => {
    const list = linesIn.get(owner) ?? [];
    if (!list.includes(line)) list.push(line);
    linesIn.set(owner, list);
  };
  const visit = (node: Node) => {
    if (node.type === 'history') {
      throw new Error(`Machine ${root.id}: history state ${node.id} cannot be drawn; teach scripts/diagrams.ts first.`);
    }
    const from = idOf(node);
    // Events a state handles without leaving it go in a note beside it: Mermaid keeps only the last of several
    // arrows from a state to itself, and lays a long self-arrow's label over the neighbouring states.
    const loops: string[] = [];
    const add = (name: string, candidates: readonly Transition[]) => {
      candidates.forEach((t, i) => {
        const text = label(name, t.guard, i, candidates.length);
        const targets = t.target?.length ? t.target : [node];
        for (const target of targets) {
          if (target === node) {
            if (!loops.includes(text)) loops.push(text);
          } else {
            write(commonParent(node, target, root), `${from} --> ${idOf(target)} : ${text}`);
          }
        }
      });
    };
    for (const [event, candidates] of node.transitions) {
      if (!event.startsWith('xstate.after.')) add(eventLabel(event), candidates);
    }
    if (node.always?.length) add('always', node.always);
    const delays = new Map<string, (typeof node.after)[number][]>();
    for (const t of node.after) {
      const name = `after ${delayLabel(t.delay)}`;
      delays.set(name, [...(delays.get(name) ?? []), t]);
    }
    for (const [name, candidates] of delays) add(name, candidates);
    if (loops.length) {
      write(
        node.parent ?? root,
        [
          `note right of ${from}`,
          `  stays in ${node.key.replace(LABEL_UNSAFE, ' ')} on`,
          ...loops.map((l) => `  ${l}`),
          'end note',
        ].join('\n'),
      );
    }
    for (const child of Object.values(node.states)) visit(child);
  };
  for (const child of Object.values(root.states)) visit(child);

  const lines: string[] = ['stateDiagram-v2'];
  const block = (node: Node, indent: string) => {
    const children = Object.values(node.states);
    children.forEach((child, i) => {
      if (node.type === 'parallel' && i > 0) lines.push(`${indent}--`);
      const id = idOf(child);
      // Every state is named in its own block, in the machine's order, before any arrow mentions it.
      const nested = Object.keys(child.states).length > 0;
      if (id !== child.key) lines.push(`${indent}state "${stateLabel(child.key)}" as ${id}`);
      else if (!nested) lines.push(`${indent}${id}`);
      if (nested) {
        lines.push(`${indent}state ${id} {`);
        block(child, `${indent}  `);
        lines.push(`${indent}}`);
      }
      if (child.type === 'final') lines.push(`${indent}${id} --> [*]`);
    });
    if (node.type === 'compound') {
      for (const target of node.initial?.target ?? []) lines.push(`${indent}[*] --> ${idOf(target)}`);
    }
    for (const entry of linesIn.get(node) ?? []) for (const line of entry.split('\n')) lines.push(`${indent}${line}`);
  };
  block(root, '  ');
  return { mermaid: `${lines.join('\n')}\n`, anywhere };
}

/** The deepest state that contains both ends (the machine's root when they only meet there). */
function commonParent(from: Node, to: Node, root: Node): Node {
  const above = (node: Node) => {
    const chain: Node[] = [];
    for (let n = node.parent; n; n = n.parent) chain.push(n);
    return chain;
  };
  const targetAncestors = new Set(above(to));
  return above(from).find((n) => targetAncestors.has(n) && n.type !== 'parallel') ?? root;
}

function idChars(key: string): string {
  return key.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'state';
}

function safeId(key: string): string {
  const id = idChars(key);
  const plain = PLAIN_ID.test(id) ? id : `s_${id}`;
  return RESERVED_IDS.has(plain) ? `s_${plain}` : plain;
}

/** A state's name as its label: Mermaid reads a double quote as the end of the label. */
function stateLabel(key: string): string {
  return key.replace(/"/g, "'");
}

/** xstate's `xstate.done.state.<id>` events read better as what they mean. */
function eventLabel(event: string): string {
  if (event.startsWith('xstate.done.state.')) return `done ${event.slice('xstate.done.state.'.length)}`;
  if (event === '*') return 'any event';
  return event;
}

function label(name: string, guard: unknown, index: number, of: number): string {
  const condition = guard === undefined ? '' : ` [${guardText(guard, true)}]`;
  // Candidates for one event are tried in order; the diagram cannot show order, so it says it.
  const order = of > 1 ? ` (${index + 1} of ${of})` : '';
  return `${name}${condition}${order}`.replace(LABEL_UNSAFE, ' ').replace(/\s+/g, ' ').trim();
}

/** A guard as words: named guards by name, `and`/`or`/`not` spelled out. */
function guardText(guard: unknown, top = false): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const parts = (guard as { guards?: unknown[] }).guards;
    const op = guard.name;
    if (Array.isArray(parts) && op === 'not') return `not ${guardText(parts[0])}`;
    if (Array.isArray(parts) && (op === 'and' || op === 'or')) {
      const text = parts.map((g) => guardText(g)).join(` ${op} `);
      return top ? text : `(${text})`;
    }
    // An arrow written in place is named after the property it was written in: `guard`, which names no rule.
    if (op && op !== 'guard') return op;
    throw new Error('An inline guard has no name: declare it in setup({ guards }) so the diagram can name it.');
  }
  if (guard && typeof guard === 'object' && 'type' in guard) return String((guard as { type: unknown }).type);
  throw new Error(`Cannot name guard ${String(guard)}.`);
}

function delayLabel(delay: unknown): string {
  if (typeof delay === 'string') return delay;
  if (typeof delay === 'number') return duration(delay);
  return 'a computed delay';
}

function duration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1_000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}

// ---------------------------------------------------------------------------------------------------------------
// The page

const INTRO = `# Workflows

Every sealflow process that waits for people, vendors or timers is an xstate machine run by the durable runtime
([runtime.md](runtime.md)): its state is saved with every transition, its timers are durable, and its side effects
are run by workers and fed back as events. The diagrams below are drawn from those machines by \`pnpm diagrams\`, so
they show the states, events, rules and timers the code has; a test fails when this page is out of date.

How to read them:

- \`EVENT [rule]\`: the event moves the workflow only when the named rule (a guard of the machine) holds. An event
  with several arrows tries them in the order shown as \`(1 of 3)\`, \`(2 of 3)\`, …; the first whose rule holds wins,
  and an event no rule lets through is refused without a change.
- \`always [rule]\`: taken as soon as the state is entered and the rule holds, without waiting for an event.
- \`after name\`: a durable timer, named after the machine's delay (for example the signing \`deadline\`).
- \`<effect>.done\` / \`<effect>.failed\`: the result of a side effect the state asked for.
- A note \`stays in <state> on\` beside a state: events the state handles (records, announces, asks an effect for)
  without leaving it.
- \`[*]\`: where a workflow or a nested state starts, and the final states it ends in.
`;

/** The whole of docs/workflows.md. */
export function workflowsDocument(workflows: readonly WorkflowDiagram[] = WORKFLOW_DIAGRAMS): string {
  const sections = workflows.map((w) => {
    const { mermaid, anywhere } = mermaidStateDiagram(w.machine);
    const docs = w.docs.map((d) => `[${d.label}](${d.href})`).join(', ');
    const lines = [
      `## ${w.title}`,
      '',
      wrap(w.about),
      '',
      wrap(`Registered as \`${w.workflowId}\`; the machine is \`${w.exportName}\` in \`${w.source}\`. More: ${docs}.`),
      '',
      '```mermaid',
      mermaid.trimEnd(),
      '```',
    ];
    if (anywhere.length) {
      lines.push(
        '',
        wrap(`Handled in every state without a change of state: ${anywhere.map((a) => `\`${a}\``).join(', ')}.`),
      );
    }
    return lines.join('\n');
  });
  const contents = workflows.map((w) => `- [${w.title}](#${githubAnchor(w.title)})`).join('\n');
  return `${INTRO}\n${contents}\n\n${sections.join('\n\n')}\n`;
}

/** Prose wrapped at 120 characters, like the hand-written pages; a link or code span longer than a line stays whole. */
function wrap(text: string, width = 120): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.match(/\[[^\]]*\]\([^)]*\)\S*|\S+/g) ?? []) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens (CJK kept). */
export function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const file = path.join(ROOT, WORKFLOWS_DOC);
  writeFileSync(file, workflowsDocument());
  console.log(`wrote ${WORKFLOWS_DOC} (${WORKFLOW_DIAGRAMS.length} workflows)`);
}

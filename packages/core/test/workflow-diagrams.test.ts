import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, and, createMachine, not, or, StateMachine, setup } from 'xstate';
import {
  githubAnchor,
  mermaidStateDiagram,
  WORKFLOW_DIAGRAMS,
  WORKFLOWS_DOC,
  workflowsDocument,
} from '../../../scripts/diagrams.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('docs/workflows.md', () => {
  it('is what `pnpm diagrams` generates from the machines today', () => {
    const committed = readFileSync(path.join(ROOT, WORKFLOWS_DOC), 'utf8');
    expect(
      committed,
      `${WORKFLOWS_DOC} is out of date with the workflow machines: run \`pnpm diagrams\` and commit the file.`,
    ).toBe(workflowsDocument());
  });

  it('draws every machine defined under packages/core/src', async () => {
    const sourceDir = path.join(ROOT, 'packages/core/src');
    const files = readdirSync(sourceDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => /(-machine|-workflow|-workflows)\.ts$/.test(f))
      .map((f) => path.join(sourceDir, f));
    const found: { file: string; name: string; machine: AnyStateMachine }[] = [];
    for (const file of files) {
      const module: Record<string, unknown> = await import(pathToFileURL(file).href);
      for (const [name, value] of Object.entries(module)) {
        if (value instanceof StateMachine) found.push({ file, name, machine: value as AnyStateMachine });
      }
    }
    expect(found.length).toBeGreaterThanOrEqual(5);
    const drawn = new Set(WORKFLOW_DIAGRAMS.map((w) => w.machine));
    for (const { file, name, machine } of found) {
      expect(
        drawn.has(machine),
        `${name} in ${path.relative(ROOT, file)} has no diagram: add it to WORKFLOW_DIAGRAMS in scripts/diagrams.ts and run \`pnpm diagrams\`.`,
      ).toBe(true);
    }
    for (const w of WORKFLOW_DIAGRAMS) {
      const module: Record<string, unknown> = await import(pathToFileURL(path.join(ROOT, w.source)).href);
      expect(module[w.exportName], `${w.source} should export ${w.exportName}`).toBe(w.machine);
    }
  });

  it('links doc pages and headings that exist', () => {
    const document = workflowsDocument();
    for (const w of WORKFLOW_DIAGRAMS) {
      expect(document).toContain(`](#${githubAnchor(w.title)})`);
      for (const { href } of w.docs) {
        const [page, anchor] = href.split('#') as [string, string | undefined];
        const text = readFileSync(path.join(ROOT, 'docs', page), 'utf8');
        if (anchor) {
          const anchors = text
            .split('\n')
            .flatMap((l) => (/^#+ /.test(l) ? [githubAnchor(l.replace(/^#+ /, ''))] : []));
          expect(anchors, `docs/${page} has no heading for #${anchor}`).toContain(anchor);
        }
      }
    }
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('(docs/workflows.md)');
  });
});

describe('the diagrams of the workflows', () => {
  for (const w of WORKFLOW_DIAGRAMS) {
    it(`${w.workflowId}: valid Mermaid that shows every state and every transition`, () => {
      const { mermaid } = mermaidStateDiagram(w.machine);
      expect(mermaidProblems(mermaid)).toEqual([]);
      const drawn = drawnDiagram(mermaid);
      expect([...drawn.labels].sort()).toEqual(stateKeys(w.machine).sort());
      expect(drawn.transitions).toBe(transitionCount(w.machine));
    });
  }

  it('signing: timers, guards, nested states and finals come from the machine', () => {
    const { mermaid } = mermaidStateDiagram(signingDiagram().machine);
    expect(mermaid).toMatch(/^stateDiagram-v2\n {2}validating\n {2}rendering\n {2}state vendorPhase \{\n/);
    expect(mermaid).toContain(
      '    state "confirmingFailure" as vendorPhase_confirmingFailure\n    [*] --> vendorPhase_startingVendorFlow\n',
    );
    expect(mermaid).toContain('    state "routing" as vendorPhase_routing\n');
    expect(mermaid).toContain('vendorPhase_awaitingCompletion --> vendorPhase_checkingStatus : after pollDelay\n');
    expect(mermaid).toContain('vendorPhase_awaitingCompletion --> vendorPhase_checkingStatus : VENDOR_CALLBACK\n');
    expect(mermaid).toContain('  vendorPhase --> closingAtDeadline : after deadline [hasFlow] (1 of 2)\n');
    expect(mermaid).toContain('  vendorPhase_routing --> failed : always [sealNotAsAsked and flowOpen] (1 of 7)\n');
    expect(mermaid).toContain(
      'vendorPhase_awaitingFunder --> vendorPhase_funderSigning : FUNDER_SIGN [assignedFunder]',
    );
    expect(mermaid).toContain('  completed --> [*]\n');
    expect(mermaid).toContain('  failed --> [*]\n');
  });

  it('loan application: arrows across nested states, negated guards and events handled everywhere', () => {
    const application = WORKFLOW_DIAGRAMS.find((w) => w.exportName === 'applicationMachine')!;
    const { mermaid, anywhere } = mermaidStateDiagram(application.machine);
    // Written at the top level, outside both blocks, so Mermaid keeps each state in its own block.
    expect(mermaid).toContain('\n  institutionProcessing_awaitingDisbursement --> settlement : DISBURSED [allowed]\n');
    expect(mermaid).toContain(
      'collectingMaterials --> confirmingProduct : SUBMIT_MATERIALS [allowed and materialsComplete] (1 of 3)',
    );
    expect(mermaid).toContain(
      '  note right of collectingMaterials\n    stays in collectingMaterials on\n' +
        '    SUBMIT_MATERIALS [allowed and not materialsComplete] (3 of 3)\n  end note\n',
    );
    expect(anywhere).toEqual(['LOAN_CONTRACT_STARTED', 'LOAN_CONTRACT_FAILED']);
    expect(workflowsDocument()).toContain('`LOAN_CONTRACT_STARTED`, `LOAN_CONTRACT_FAILED`');
  });
});

describe('mermaidStateDiagram on awkward machines', () => {
  it('gives odd state names safe ids and keeps the names as labels', () => {
    const isLate = () => false;
    const machine = setup({
      guards: { ready: () => true, late: () => false },
      delays: { grace: 1000 },
    }).createMachine({
      id: 'odd',
      initial: 'needs review',
      states: {
        'needs review': {
          on: {
            'review.done': [{ guard: or(['ready', not('late')]), target: 'end' }, { target: '#version' }],
            NOTE: { actions: () => {} },
            NOTE_TOO: { guard: and(['ready', or(['late', 'ready'])]) },
          },
          after: { 30000: 'end', grace: '2fa' },
        },
        'v1.2': { id: 'version', always: { guard: isLate, target: 'end' } },
        '2fa': { type: 'final' },
        end: {
          type: 'parallel',
          states: {
            left: { initial: 'a', states: { a: { on: { 'say "hi"': 'b' } }, b: { type: 'final' } } },
            right: {},
          },
        },
      },
    });
    const { mermaid } = mermaidStateDiagram(machine);
    expect(mermaidProblems(mermaid)).toEqual([]);
    expect(mermaid).toContain('state "needs review" as needs_review\n');
    expect(mermaid).toContain('state "v1.2" as v1_2\n');
    expect(mermaid).toContain('state "2fa" as s_2fa\n');
    expect(mermaid).toContain('state "end" as s_end\n');
    expect(mermaid).toContain('[*] --> needs_review\n');
    expect(mermaid).toContain('needs_review --> s_end : review.done [ready or not late] (1 of 2)\n');
    expect(mermaid).toContain('needs_review --> v1_2 : review.done (2 of 2)\n');
    expect(mermaid).toContain('needs_review --> s_end : after 30 s\n');
    expect(mermaid).toContain('needs_review --> s_2fa : after grace\n');
    expect(mermaid).toContain('v1_2 --> s_end : always [isLate]\n');
    expect(mermaid).toContain('NOTE_TOO [ready and (late or ready)]');
    // Parallel regions are separated by `--` and each starts itself.
    expect(mermaid).toMatch(
      /state s_end \{\n\s+state "left" as s_end_left\n[\s\S]*\n\s+--\n\s+state "right" as s_end_right/,
    );
    expect(mermaid).toContain('s_end_left_a --> s_end_left_b : say hi\n');
    expect(mermaid).toContain('s_2fa --> [*]\n');
    expect(mermaid).toContain('s_end_left_b --> [*]\n');
  });

  it('refuses what it cannot draw, saying what to do', () => {
    const anonymous = createMachine({
      initial: 'a',
      states: { a: { on: { GO: { guard: () => true, target: 'b' } } }, b: {} },
    });
    expect(() => mermaidStateDiagram(anonymous)).toThrow(/declare it in setup\(\{ guards \}\)/);

    const history = createMachine({
      initial: 'a',
      states: { a: { initial: 'x', states: { x: {}, back: { type: 'history' } } } },
    });
    expect(() => mermaidStateDiagram(history)).toThrow(/history state .*back/);

    const rootTarget = createMachine({ initial: 'a', on: { RESET: '.a' }, states: { a: {}, b: {} } });
    expect(() => mermaidStateDiagram(rootTarget)).toThrow(/root's RESET transition has a target/);
  });
});

describe('the Mermaid rules themselves', () => {
  it('catch what breaks a diagram', () => {
    expect(mermaidProblems('flowchart TD\n')).toContain('line 1: a state diagram starts with "stateDiagram-v2"');
    expect(mermaidProblems('stateDiagram-v2\n  a.b --> c : GO\n')).toEqual([
      'line 2: not a line the rules allow: "a.b --> c : GO"',
    ]);
    expect(mermaidProblems('stateDiagram-v2\n  a --> b : GO; x\n')).toHaveLength(1);
    expect(mermaidProblems('stateDiagram-v2\n  state a {\n    a_x --> c : GO\n  }\n')).toEqual([
      'line 3: c is first mentioned inside the block of a, so Mermaid would draw it there',
    ]);
    expect(mermaidProblems('stateDiagram-v2\n  state a {\n')).toEqual(['the blocks of a are not closed']);
    expect(mermaidProblems('stateDiagram-v2\n  end --> b : GO\n')).toEqual([
      'line 2: "end" is a Mermaid keyword, not a state id',
    ]);
    expect(mermaidProblems('stateDiagram-v2\n  state "a" as x\n  state "b" as x\n')).toEqual([
      'line 3: x is declared twice',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Rules of the subset of Mermaid's stateDiagram-v2 the generator writes, strict enough that a diagram passing them
// parses and renders: GitHub shows a broken diagram as an error box instead of the page's picture.

const ID = '[A-Za-z][A-Za-z0-9_]*';
const LABEL = "[A-Za-z0-9_ .,()[\\]'-]+";
const RESERVED = new Set(['state', 'note', 'end', 'as', 'direction', 'class', 'classDef', 'style', 'left', 'right']);

function mermaidProblems(text: string): string[] {
  const problems: string[] = [];
  const lines = text.replace(/\n$/, '').split('\n');
  if (lines[0] !== 'stateDiagram-v2') problems.push('line 1: a state diagram starts with "stateDiagram-v2"');
  const blocks: string[] = [];
  /** States already placed: Mermaid draws a state in the block where it is first mentioned. */
  const placed = new Set<string>();
  const declared = new Set<string>();
  let inNote = false;
  const mention = (id: string, n: number) => {
    if (RESERVED.has(id)) return problems.push(`line ${n}: "${id}" is a Mermaid keyword, not a state id`);
    if (!placed.has(id)) {
      // Inside a block, only the block's own states (prefixed by its id, as the generator names them) belong there.
      const owner = blocks.at(-1);
      if (owner && !id.startsWith(`${owner}_`)) {
        return problems.push(
          `line ${n}: ${id} is first mentioned inside the block of ${owner}, so Mermaid would draw it there`,
        );
      }
      placed.add(id);
    }
  };
  // Each line the generator may write, and what it does to the diagram's structure.
  const rules: [RegExp, (m: RegExpMatchArray, n: number) => void][] = [
    [
      new RegExp(`^note (?:right|left) of (${ID})$`),
      (m, n) => {
        mention(m[1]!, n);
        inNote = true;
      },
    ],
    [new RegExp(`^\\[\\*\\] --> (${ID})$`), (m, n) => mention(m[1]!, n)],
    [new RegExp(`^(${ID})$`), (m, n) => mention(m[1]!, n)],
    [new RegExp(`^(${ID}) --> \\[\\*\\]$`), (m, n) => mention(m[1]!, n)],
    [
      new RegExp(`^(${ID}) --> (${ID}) : ${LABEL}$`),
      (m, n) => {
        mention(m[1]!, n);
        mention(m[2]!, n);
      },
    ],
    [
      new RegExp(`^state "([^"]+)" as (${ID})$`),
      (m, n) => {
        if (declared.has(m[2]!)) problems.push(`line ${n}: ${m[2]} is declared twice`);
        declared.add(m[2]!);
        mention(m[2]!, n);
      },
    ],
    [
      new RegExp(`^state (${ID}) \\{$`),
      (m, n) => {
        mention(m[1]!, n);
        blocks.push(m[1]!);
      },
    ],
  ];
  lines.slice(1).forEach((raw, i) => {
    const n = i + 2;
    const line = raw.trim();
    if (inNote) {
      if (line === 'end note') inNote = false;
      else if (!new RegExp(`^${LABEL}$`).test(line))
        problems.push(`line ${n}: note text "${line}" has unsafe characters`);
      return;
    }
    // `}` closes a block, `--` separates the regions of a parallel state: both only inside a block.
    if ((line === '}' || line === '--') && blocks.length) {
      if (line === '}') blocks.pop();
      return;
    }
    const rule = rules.find(([pattern]) => pattern.test(line));
    if (rule) rule[1](line.match(rule[0])!, n);
    else problems.push(`line ${n}: not a line the rules allow: "${line}"`);
  });
  if (blocks.length) problems.push(`the blocks of ${blocks.join(', ')} are not closed`);
  if (inNote) problems.push('a note is not closed');
  return problems;
}

/** What a reader sees: state labels, and how many transitions (arrows plus lines of "stays in" notes). */
function drawnDiagram(text: string): { labels: Set<string>; transitions: number } {
  const labels = new Set<string>();
  const aliased = new Set(Array.from(text.matchAll(/^\s*state "[^"]+" as (\S+)$/gm), (m) => m[1]!));
  let transitions = 0;
  let inNote = false;
  for (const raw of text.split('\n').slice(1)) {
    const line = raw.trim();
    if (inNote) {
      if (line === 'end note') inNote = false;
      else if (!line.startsWith('stays in ')) transitions++;
      continue;
    }
    if (line.startsWith('note ')) inNote = true;
    const alias = line.match(/^state "([^"]+)" as (\S+)$/);
    if (alias) labels.add(alias[1]!);
    const block = line.match(/^state (\S+) \{$/);
    if (block && !aliased.has(block[1]!)) labels.add(block[1]!);
    const arrow = line.match(/^(\S+) --> (\S+)(?: : .*)?$/);
    if (arrow) {
      for (const id of [arrow[1]!, arrow[2]!]) if (id !== '[*]' && !aliased.has(id)) labels.add(id);
      if (arrow[1] !== '[*]' && arrow[2] !== '[*]') transitions++;
    }
  }
  return { labels, transitions };
}

interface Node {
  key: string;
  states: Record<string, Node>;
  transitions: Map<string, readonly { target?: readonly Node[] }[]>;
  always?: readonly { target?: readonly Node[] }[];
}

function stateKeys(machine: AnyStateMachine): string[] {
  const keys: string[] = [];
  const walk = (node: Node) => {
    for (const child of Object.values(node.states)) {
      keys.push(child.key);
      walk(child);
    }
  };
  walk(machine.root as unknown as Node);
  return keys;
}

/** Every transition candidate (one per target) below the root, `after` ones included: each must be drawn once. */
function transitionCount(machine: AnyStateMachine): number {
  let count = 0;
  const walk = (node: Node) => {
    for (const candidates of node.transitions.values()) {
      for (const t of candidates) count += Math.max(1, t.target?.length ?? 0);
    }
    for (const t of node.always ?? []) count += Math.max(1, t.target?.length ?? 0);
    for (const child of Object.values(node.states)) walk(child);
  };
  for (const child of Object.values((machine.root as unknown as Node).states)) walk(child);
  return count;
}

function signingDiagram() {
  return WORKFLOW_DIAGRAMS.find((w) => w.exportName === 'signingMachine')!;
}

/**
 * Format patterns of template variables and `pattern` checks, matched in time linear in the value's length.
 *
 * JavaScript's RegExp backtracks: `^([a-z]+)+$` on 31 letters and a `!` takes seconds, and a template is written by
 * operations, not vetted code. So patterns are not run by RegExp. They are parsed here into a Thompson automaton and
 * matched by stepping every live state along the value at once (no backtracking), so a check costs at most
 * (value length + 1) × (automaton size) steps whatever the pattern.
 *
 * The language is JavaScript's with the `u` flag minus what an automaton cannot do: backreferences (`\1`, `\k<n>`)
 * and lookarounds (`(?=`, `(?!`, `(?<=`, `(?<!`) are refused when the definition is validated, as are patterns longer
 * than {@link MAX_PATTERN_LENGTH} or whose counted repeats (`{n,m}`) expand beyond {@link MAX_PATTERN_STATES} states.
 * Single characters (classes, escapes such as `\d` or `\p{Script=Han}`, `.`) are still decided by RegExp itself, on one
 * character at a time, so their meaning is exactly JavaScript's.
 */
import { ValidationError } from '../errors.js';

/** Longest pattern source a template may declare, in characters. */
export const MAX_PATTERN_LENGTH = 500;
/** Largest automaton a pattern may compile to (after expanding `{n,m}`). */
export const MAX_PATTERN_STATES = 2_000;
/** Deepest group nesting a pattern may use. */
const MAX_NESTING = 32;

type CharTest = (char: string) => boolean;
type AssertKind = 'start' | 'end' | 'wordBoundary' | 'notWordBoundary';

type Node =
  | { t: 'char'; test: CharTest }
  | { t: 'assert'; kind: AssertKind }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; options: Node[] }
  | { t: 'repeat'; node: Node; min: number; max: number };

type Instruction =
  | { op: 'char'; test: CharTest; next: number }
  | { op: 'split'; a: number; b: number }
  | { op: 'assert'; kind: AssertKind; next: number }
  | { op: 'match' };

/** A pattern outside the supported language; the message says what to change. */
class UnsupportedPattern extends Error {}

const LINE_TERMINATORS = new Set(['\n', '\r', '\u2028', '\u2029']);
const isWordChar = (char: string | undefined) => char !== undefined && /^[A-Za-z0-9_]$/.test(char);

/** RegExp decides what one character matches; anchored, on a single code point, it cannot backtrack. */
function nativeCharTest(source: string): CharTest {
  const re = new RegExp(`^(?:${source})$`, 'u');
  return (char) => re.test(char);
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly chars: readonly string[]) {}

  parse(): Node {
    const node = this.alternation();
    if (this.pos < this.chars.length) throw new UnsupportedPattern(`unexpected "${this.chars[this.pos]}"`);
    return node;
  }

  private peek(offset = 0): string | undefined {
    return this.chars[this.pos + offset];
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.peek() === '|') {
      this.pos++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { t: 'alt', options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    for (let c = this.peek(); c !== undefined && c !== '|' && c !== ')'; c = this.peek()) {
      items.push(this.quantified(this.atom()));
    }
    return { t: 'seq', items };
  }

  private quantified(node: Node): Node {
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const rest = this.chars.slice(this.pos).join('');
      const m = /^\{(\d+)(,(\d*))?\}/.exec(rest);
      if (!m) return node;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.pos += m[0].length - 1;
    } else return node;
    this.pos++;
    if (this.peek() === '?') this.pos++; // lazy or greedy: the same set of matches
    if (node.t === 'assert') throw new UnsupportedPattern('an anchor cannot be repeated');
    return { t: 'repeat', node, min, max };
  }

  private atom(): Node {
    const c = this.chars[this.pos++]!;
    switch (c) {
      case '^':
        return { t: 'assert', kind: 'start' };
      case '$':
        return { t: 'assert', kind: 'end' };
      case '.':
        return { t: 'char', test: (char) => !LINE_TERMINATORS.has(char) };
      case '(':
        return this.group();
      case '[':
        return { t: 'char', test: nativeCharTest(this.classSource()) };
      case '\\':
        return this.escape();
      default:
        return { t: 'char', test: (char) => char === c };
    }
  }

  private group(): Node {
    if (this.peek() === '?') {
      const next = this.peek(1);
      if (next === ':') this.pos += 2;
      else if (next === '<' && this.peek(2) !== '=' && this.peek(2) !== '!') {
        const close = this.chars.indexOf('>', this.pos);
        if (close < 0) throw new UnsupportedPattern('a named group is not closed with ">"');
        this.pos = close + 1;
      } else {
        throw new UnsupportedPattern('lookaround assertions ((?=, (?!, (?<=, (?<!) and inline flags are not supported');
      }
    }
    if (++this.depth > MAX_NESTING) throw new UnsupportedPattern(`groups nest deeper than ${MAX_NESTING}`);
    const node = this.alternation();
    this.depth--;
    if (this.chars[this.pos++] !== ')') throw new UnsupportedPattern('a group is not closed');
    return node;
  }

  /** The source of a character class, `[` included, up to its closing `]`. */
  private classSource(): string {
    const start = this.pos - 1;
    while (this.pos < this.chars.length && this.chars[this.pos] !== ']') {
      if (this.chars[this.pos] === '\\') this.pos++;
      this.pos++;
    }
    if (this.pos >= this.chars.length) throw new UnsupportedPattern('a character class is not closed');
    this.pos++;
    return this.chars.slice(start, this.pos).join('');
  }

  private escape(): Node {
    const start = this.pos - 1;
    const c = this.chars[this.pos++];
    if (c === undefined) throw new UnsupportedPattern('the pattern ends with a lone backslash');
    if (/[1-9]/.test(c) || c === 'k') {
      throw new UnsupportedPattern(
        'backreferences (\\1, \\k<name>) are not supported; describe the format without them',
      );
    }
    if (c === 'b') return { t: 'assert', kind: 'wordBoundary' };
    if (c === 'B') return { t: 'assert', kind: 'notWordBoundary' };
    if ((c === 'p' || c === 'P' || c === 'u') && this.peek() === '{') {
      const close = this.chars.indexOf('}', this.pos);
      if (close < 0) throw new UnsupportedPattern('an escape is not closed with "}"');
      this.pos = close + 1;
    } else if (c === 'u') {
      this.pos += 4;
      // A surrogate pair written as two \u escapes is one character in a `u` pattern.
      const high = this.chars.slice(this.pos - 4, this.pos).join('');
      const low = this.chars.slice(this.pos, this.pos + 6).join('');
      if (/^d[89ab]/i.test(high) && /^\\u[dD][c-fC-F][0-9a-fA-F]{2}$/.test(low)) this.pos += 6;
    } else if (c === 'x') this.pos += 2;
    else if (c === 'c') this.pos += 1;
    return { t: 'char', test: nativeCharTest(this.chars.slice(start, this.pos).join('')) };
  }
}

function compile(root: Node): Instruction[] {
  const program: Instruction[] = [];
  const emit = (instruction: Instruction): number => {
    if (program.length >= MAX_PATTERN_STATES) {
      throw new UnsupportedPattern(
        `the pattern expands to more than ${MAX_PATTERN_STATES} states; use smaller counts in {n,m}`,
      );
    }
    program.push(instruction);
    return program.length - 1;
  };
  // Emits `node` so that it continues at the instruction emitted next; returns nothing, patches forward jumps.
  const patch = (at: number, to: number, which: 'next' | 'a' | 'b') => {
    (program[at] as Record<string, unknown>)[which] = to;
  };
  const jump = (): number => emit({ op: 'split', a: -1, b: -1 });
  const gen = (node: Node): void => {
    switch (node.t) {
      case 'char': {
        const at = emit({ op: 'char', test: node.test, next: -1 });
        patch(at, program.length, 'next');
        return;
      }
      case 'assert': {
        const at = emit({ op: 'assert', kind: node.kind, next: -1 });
        patch(at, program.length, 'next');
        return;
      }
      case 'seq':
        for (const item of node.items) gen(item);
        return;
      case 'alt': {
        const exits: number[] = [];
        node.options.forEach((option, i) => {
          if (i < node.options.length - 1) {
            const split = emit({ op: 'split', a: -1, b: -1 });
            patch(split, program.length, 'a');
            gen(option);
            exits.push(jump());
            patch(split, program.length, 'b');
          } else {
            gen(option);
          }
        });
        for (const exit of exits) {
          patch(exit, program.length, 'a');
          patch(exit, program.length, 'b');
        }
        return;
      }
      case 'repeat': {
        for (let i = 0; i < node.min; i++) gen(node.node);
        if (node.max === Infinity) {
          const loop = emit({ op: 'split', a: -1, b: -1 });
          patch(loop, program.length, 'a');
          gen(node.node);
          const back = jump();
          patch(back, loop, 'a');
          patch(back, loop, 'b');
          patch(loop, program.length, 'b');
        } else {
          const skips: number[] = [];
          for (let i = node.min; i < node.max; i++) {
            const split = emit({ op: 'split', a: -1, b: -1 });
            patch(split, program.length, 'a');
            skips.push(split);
            gen(node.node);
          }
          for (const skip of skips) patch(skip, program.length, 'b');
        }
        return;
      }
    }
  };
  gen(root);
  emit({ op: 'match' });
  return program;
}

function build(source: string): Instruction[] {
  if (typeof source !== 'string') throw new UnsupportedPattern('a pattern must be text');
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new UnsupportedPattern(`a pattern is at most ${MAX_PATTERN_LENGTH} characters; it has ${source.length}`);
  }
  try {
    new RegExp(source, 'u');
  } catch {
    throw new UnsupportedPattern('it is not a valid regular expression');
  }
  return compile(new Parser(Array.from(source)).parse());
}

/** Why `source` cannot be a template pattern, or `undefined` when it can. */
export function patternProblem(source: string): string | undefined {
  try {
    programFor(source);
    return undefined;
  } catch (error) {
    if (error instanceof UnsupportedPattern) return `pattern cannot be used: ${error.message}.`;
    throw error;
  }
}

const compiled = new Map<string, Instruction[]>();

function programFor(source: string): Instruction[] {
  let program = compiled.get(source);
  if (!program) {
    program = build(source);
    // Patterns come from a handful of templates; the bound only guards against a host generating them.
    if (compiled.size >= 1_000) compiled.clear();
    compiled.set(source, program);
  }
  return program;
}

/**
 * Whether `pattern` matches somewhere in `text`, as `new RegExp(pattern, 'u').test(text)` would answer, in time linear
 * in the length of `text`. Throws `ValidationError` for a pattern {@link patternProblem} refuses.
 */
export function matchesPattern(pattern: string, text: string): boolean {
  let program: Instruction[];
  try {
    program = programFor(pattern);
  } catch (error) {
    if (!(error instanceof UnsupportedPattern)) throw error;
    throw new ValidationError(
      `The template pattern cannot be used (${error.message}); correct it in the template definition.`,
      { details: { kind: 'pattern' } },
    );
  }
  if (typeof text !== 'string') return false;
  const chars = Array.from(text);
  const seen = new Int32Array(program.length).fill(-1);
  let generation = 0;

  // Follow splits and assertions from `start` at position `at`; collect the character steps. True on reaching a match.
  const addThread = (list: number[], start: number, at: number): boolean => {
    const stack = [start];
    while (stack.length > 0) {
      const pc = stack.pop()!;
      if (seen[pc] === generation) continue;
      seen[pc] = generation;
      const instruction = program[pc]!;
      switch (instruction.op) {
        case 'match':
          return true;
        case 'char':
          list.push(pc);
          break;
        case 'split':
          stack.push(instruction.b, instruction.a);
          break;
        case 'assert':
          if (holds(instruction.kind, chars, at)) stack.push(instruction.next);
          break;
      }
    }
    return false;
  };

  let current: number[] = [];
  for (let at = 0; ; at++) {
    // Unanchored like RegExp.test: a new attempt may start at every position.
    if (addThread(current, 0, at)) return true;
    if (at === chars.length) return false;
    generation++;
    const next: number[] = [];
    const char = chars[at]!;
    for (const pc of current) {
      const instruction = program[pc] as Extract<Instruction, { op: 'char' }>;
      if (instruction.test(char) && addThread(next, instruction.next, at + 1)) return true;
    }
    current = next;
  }
}

function holds(kind: AssertKind, chars: readonly string[], at: number): boolean {
  switch (kind) {
    case 'start':
      return at === 0;
    case 'end':
      return at === chars.length;
    case 'wordBoundary':
      return isWordChar(chars[at - 1]) !== isWordChar(chars[at]);
    case 'notWordBoundary':
      return isWordChar(chars[at - 1]) === isWordChar(chars[at]);
  }
}

// An incremental reader of one large JSON array: it finds where each top-level element starts and
// ends (tracking nesting and strings) and hands out the element's text with its line, so a
// 100,000-element file is never held in memory. Each element is parsed on its own, so a malformed
// element only invalidates its row; a broken array structure stops the file.
import { BatchFileError } from './batch-file-error';

export interface JsonArrayElement {
  /** 1-based line where the element starts. */
  line: number;
  /** The element's JSON text, absent when `problem` is set. */
  text?: string;
  problem?: string;
}

/** Elements larger than this are not buffered: their row is reported invalid instead. */
export const MAX_ELEMENT_LENGTH = 64 * 1024;

const enum State {
  BeforeArray,
  BeforeFirstElement,
  BeforeElement,
  InElement,
  AfterElement,
  AfterArray,
}

const enum Kind {
  Container,
  String,
  Scalar,
}

function isWhitespace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

export class JsonArrayParser {
  private state = State.BeforeArray;
  private line = 1;
  private atFileStart = true;
  // The element being read.
  private kind = Kind.Scalar;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private elementLine = 1;
  private buffered = '';
  private tooLarge = false;

  push(text: string): JsonArrayElement[] {
    const out: JsonArrayElement[] = [];
    let segmentStart = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.atFileStart) {
        this.atFileStart = false;
        if (c === 0xfeff) continue;
      }
      if (this.state === State.InElement) {
        const end = this.scanElement(c);
        if (end === 'continue') {
          if (c === 10) this.line++;
          continue;
        }
        // A scalar ends before the character that ends it; the others include it.
        const stop = end === 'before' ? i : i + 1;
        this.emit(out, text.slice(segmentStart, stop));
        this.state = State.AfterElement;
        if (end === 'after') continue;
      }
      if (c === 10) this.line++;
      if (isWhitespace(c)) continue;
      switch (this.state) {
        case State.BeforeArray:
          if (c !== 91 /* [ */) {
            throw new BatchFileError(
              this.line,
              'a JSON batch file must be one array of objects, starting with [',
            );
          }
          this.state = State.BeforeFirstElement;
          break;
        case State.BeforeFirstElement:
        case State.BeforeElement:
          if (c === 93 /* ] */) {
            if (this.state === State.BeforeElement) {
              throw new BatchFileError(this.line, 'a comma before ] (trailing commas are not JSON)');
            }
            this.state = State.AfterArray;
          } else if (c === 44 /* , */) {
            throw new BatchFileError(this.line, 'an empty element (two commas in a row)');
          } else {
            this.startElement(c);
            segmentStart = i;
          }
          break;
        case State.AfterElement:
          if (c === 44) this.state = State.BeforeElement;
          else if (c === 93) this.state = State.AfterArray;
          else {
            throw new BatchFileError(
              this.line,
              `expected , or ] after the element that starts on line ${this.elementLine}`,
            );
          }
          break;
        case State.AfterArray:
          throw new BatchFileError(this.line, 'text after the closing ] of the array');
      }
    }
    if (this.state === State.InElement) this.buffer(text.slice(segmentStart));
    return out;
  }

  end(): JsonArrayElement[] {
    const out: JsonArrayElement[] = [];
    if (this.state === State.InElement && this.kind === Kind.Scalar) {
      this.emit(out, '');
      this.state = State.AfterElement;
    }
    if (this.state === State.BeforeArray) {
      throw new BatchFileError(this.line, 'the file is empty: expected a JSON array of objects');
    }
    if (this.state !== State.AfterArray) {
      throw new BatchFileError(this.line, 'the file ends before the array is closed with ]');
    }
    return out;
  }

  private startElement(c: number) {
    this.state = State.InElement;
    this.elementLine = this.line;
    this.buffered = '';
    this.tooLarge = false;
    this.escaped = false;
    if (c === 123 /* { */ || c === 91 /* [ */) {
      this.kind = Kind.Container;
      this.depth = 1;
      this.inString = false;
    } else if (c === 34 /* " */) {
      this.kind = Kind.String;
      this.inString = true;
    } else {
      this.kind = Kind.Scalar;
    }
  }

  /** Whether `c`, read inside an element after its first character, ends it. */
  private scanElement(c: number): 'continue' | 'after' | 'before' {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === 92 /* \ */) this.escaped = true;
      else if (c === 34) {
        this.inString = false;
        if (this.kind === Kind.String) return 'after';
      }
      return 'continue';
    }
    if (this.kind === Kind.Scalar) {
      return c === 44 || c === 93 || isWhitespace(c) ? 'before' : 'continue';
    }
    if (c === 34) this.inString = true;
    else if (c === 123 || c === 91) this.depth++;
    else if (c === 125 /* } */ || c === 93) {
      this.depth--;
      if (this.depth === 0) return 'after';
    }
    return 'continue';
  }

  private buffer(piece: string) {
    if (this.tooLarge) return;
    if (this.buffered.length + piece.length > MAX_ELEMENT_LENGTH) {
      this.tooLarge = true;
      this.buffered = '';
    } else {
      this.buffered += piece;
    }
  }

  private emit(out: JsonArrayElement[], lastPiece: string) {
    this.buffer(lastPiece);
    out.push(
      this.tooLarge
        ? { line: this.elementLine, problem: `an element larger than ${MAX_ELEMENT_LENGTH} characters` }
        : { line: this.elementLine, text: this.buffered },
    );
    this.buffered = '';
  }
}

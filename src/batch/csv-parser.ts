// An incremental RFC 4180 CSV parser: text goes in chunk by chunk, complete records come out with
// the line they started on, so a file of any size is read in constant memory. It accepts what
// spreadsheets really write: a UTF-8 BOM, CRLF or LF (or a lone CR), quoted fields holding commas,
// line breaks and doubled quotes, spaces around fields, and blank lines (skipped).

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number;
  fields: string[];
  /** Set when the record is malformed (stray quote, text after a closing quote, unterminated quote). */
  problem?: string;
}

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted field: the end of the field, or the first half of "". */
  QuoteInQuoted,
  AfterQuoted,
}

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const BOM = 0xfeff;

/** Fields longer than this are cut and the record flagged, so one bad file cannot exhaust memory. */
export const MAX_FIELD_LENGTH = 64 * 1024;

export class CsvParser {
  private state = State.FieldStart;
  private field = '';
  private fields: string[] = [];
  private quoted = false;
  private line = 1;
  private recordLine = 1;
  private problem: string | undefined;
  private atFileStart = true;
  private skipLf = false;
  private lastWasCr = false;

  /** Feeds the next piece of text; returns the records it completed. */
  push(text: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.atFileStart) {
        this.atFileStart = false;
        if (c === BOM) continue;
      }
      if (this.skipLf) {
        this.skipLf = false;
        if (c === LF) continue;
      }
      switch (this.state) {
        case State.FieldStart:
          if (c === QUOTE) {
            this.state = State.Quoted;
            this.quoted = true;
            this.lastWasCr = false;
          } else if (c === COMMA) {
            this.endField();
          } else if (c === LF || c === CR) {
            this.endRecord(out, c);
          } else if (c !== SPACE && c !== TAB) {
            this.state = State.Unquoted;
            this.append(c);
          }
          break;
        case State.Unquoted:
          if (c === COMMA) this.endField();
          else if (c === LF || c === CR) this.endRecord(out, c);
          else {
            if (c === QUOTE) this.flag('a quote inside an unquoted field (quote the whole field)');
            this.append(c);
          }
          break;
        case State.Quoted:
          if (c === QUOTE) this.state = State.QuoteInQuoted;
          else {
            // A line break inside quotes is data, but still moves the line count (CRLF once).
            if (c === CR || (c === LF && !this.lastWasCr)) this.line++;
            this.append(c);
          }
          this.lastWasCr = c === CR;
          break;
        case State.QuoteInQuoted:
          if (c === QUOTE) {
            this.append(c);
            this.state = State.Quoted;
            this.lastWasCr = false;
          } else if (c === COMMA) this.endField();
          else if (c === LF || c === CR) this.endRecord(out, c);
          else if (c === SPACE || c === TAB) this.state = State.AfterQuoted;
          else {
            this.flag('text after a closing quote');
            this.append(c);
            this.state = State.Unquoted;
          }
          break;
        case State.AfterQuoted:
          if (c === COMMA) this.endField();
          else if (c === LF || c === CR) this.endRecord(out, c);
          else if (c !== SPACE && c !== TAB) {
            this.flag('text after a closing quote');
            this.append(c);
            this.state = State.Unquoted;
          }
          break;
      }
    }
    return out;
  }

  /** Ends the input; returns the last record, if the file does not end with a line break. */
  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    if (this.state === State.Quoted) {
      this.flag(`unterminated quoted field (the quote opened on line ${this.recordLine} is never closed)`);
    }
    if (this.state !== State.FieldStart || this.fields.length > 0 || this.field !== '') {
      this.endRecord(out, undefined);
    }
    return out;
  }

  private append(c: number) {
    if (this.field.length < MAX_FIELD_LENGTH) this.field += String.fromCharCode(c);
    else this.flag(`a field longer than ${MAX_FIELD_LENGTH} characters`);
  }

  private flag(problem: string) {
    this.problem ??= problem;
  }

  private endField() {
    this.fields.push(this.quoted ? this.field : this.field.trimEnd());
    this.field = '';
    this.quoted = false;
    this.state = State.FieldStart;
  }

  private endRecord(out: CsvRecord[], terminator: number | undefined) {
    this.endField();
    const fields = this.fields;
    // Blank lines, and the ",,," rows spreadsheets leave behind, carry nothing: skip them.
    const blank = fields.every((f) => f.trim() === '');
    if (!blank || this.problem) {
      out.push(
        this.problem
          ? { line: this.recordLine, fields, problem: this.problem }
          : { line: this.recordLine, fields },
      );
    }
    this.fields = [];
    this.problem = undefined;
    if (terminator === CR) this.skipLf = true;
    this.line++;
    this.recordLine = this.line;
  }
}

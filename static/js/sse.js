// A byte-fed parser for text/event-stream (the WHATWG "event stream interpretation").
// Chunks may split a frame anywhere, also inside a multi-byte UTF-8 character or between CR and LF.
// EventSource cannot POST, so the page reads fetch() bodies through this parser instead.

export class SSEParser {
  /** onEvent({event, data, id}) is called once per dispatched event. */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.decoder = new TextDecoder("utf-8");
    this.buffer = "";
    this.started = false;
    this.lastEventId = "";
    this._reset();
  }

  _reset() {
    this.eventType = "";
    this.dataLines = null;
  }

  /** Feed one chunk of bytes (Uint8Array) or text. */
  feed(chunk) {
    const text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    this._push(text, false);
  }

  /** Signal the end of the stream; a trailing frame without its blank line is dropped, as the spec says. */
  end() {
    this._push(this.decoder.decode(), true);
  }

  _push(text, final) {
    let buf = this.buffer + text;
    if (!this.started && buf.length > 0) {
      this.started = true;
      if (buf.charCodeAt(0) === 0xfeff) buf = buf.slice(1);
    }
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      if (c === 13 && i + 1 === buf.length && !final) break; // a CR at the end may be half of CRLF
      this._line(buf.slice(start, i));
      if (c === 13 && buf.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buffer = buf.slice(start);
    if (final) this.buffer = "";
  }

  _line(line) {
    if (line === "") {
      this._dispatch();
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" comment, e.g. ": keep-alive"
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
    }
    if (field === "event") this.eventType = value;
    else if (field === "data") (this.dataLines ||= []).push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    // "retry" and unknown fields are ignored: the page decides itself when to re-attach.
  }

  _dispatch() {
    if (this.dataLines === null) {
      this._reset();
      return;
    }
    const frame = {
      event: this.eventType || "message",
      data: this.dataLines.join("\n"),
      id: this.lastEventId,
    };
    this._reset();
    this.onEvent(frame);
  }
}

/**
 * Read a ReadableStream of bytes to its end, calling onFrame({event, data, id}) per event.
 * Resolves when the stream ends; rejects when reading fails (a dropped connection) or the signal aborts.
 */
export async function readEventStream(stream, onFrame) {
  const parser = new SSEParser(onFrame);
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
    parser.end();
  } finally {
    reader.releaseLock();
  }
}

/** A ReadableStream over the given byte chunks (used by tests to drive the same path as fetch). */
export function streamOf(chunks) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  });
}

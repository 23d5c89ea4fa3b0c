// Each message's time: a <time> in the message's footer, shown while the message is hovered or holds the
// focus (always on touch screens), with the full date and time in its title. Imports no page module.

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** The short words for a time: "14:05" today, "Yesterday 14:05", "3 Nov 14:05", "3 Nov 2025 14:05". */
export function shortTime(date, now = new Date()) {
  const clock = date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (sameDay(date, now)) return clock;
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(date, yesterday)) return `Yesterday ${clock}`;
  const opts = { day: "numeric", month: "short" };
  if (date.getFullYear() !== now.getFullYear()) opts.year = "numeric";
  return `${date.toLocaleDateString(undefined, opts)} ${clock}`;
}

/** A <time> for message `m` (API.md: `timestamp` in Unix seconds), or null when it has none. */
export function messageTime(m) {
  const t = Number(m?.timestamp);
  if (!Number.isFinite(t) || t <= 0) return null;
  const date = new Date(t * 1000);
  const el = document.createElement("time");
  el.className = "msg-time";
  el.dateTime = date.toISOString();
  el.textContent = shortTime(date);
  el.title = date.toLocaleString(undefined, { dateStyle: "full", timeStyle: "medium" });
  return el;
}

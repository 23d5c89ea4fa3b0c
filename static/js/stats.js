// The statistics panel (GET /stats, API "Statistics"): usage and cost over the last 7, 30 or 90 days,
// a chart of each day's cost and turns (uPlot, vendored under static/vendor/uplot, loaded the first
// time the panel opens), and a table by day, provider or model. Text nodes only.

import { ApiError, errorFrom } from "./api.js";
import { $, el } from "./dom.js";
import { announce, openPanel } from "./notices.js";
import { errorWords, fmtCost, numberFmt } from "./words.js";

const DAY = 86400;
const CHART_HEIGHT = 220;
const dayFmt = new Intl.DateTimeFormat([], { month: "short", day: "numeric", timeZone: "UTC" });

let uPlotLib = null;
let chart = null;
let resizer = null;

async function chartLib() {
  if (!uPlotLib) uPlotLib = (await import("../vendor/uplot/uPlot.esm.js")).default;
  return uPlotLib;
}

async function getStats(params) {
  let res;
  try {
    res = await fetch(`/stats?${new URLSearchParams(params)}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network", "The server could not be reached.");
  }
  if (!res.ok) throw await errorFrom(res);
  return res.json();
}

/** [from, to): `days` whole UTC days ending with today. */
export function rangeOf(days, nowSeconds = Date.now() / 1000) {
  const today = Math.floor(nowSeconds / DAY) * DAY;
  return { from: today - (days - 1) * DAY, to: today + DAY };
}

/** The day groups spread over every day of the range (a day without use is 0; a day whose replies
 * all lack a price is null, a gap in the chart, never a $0 bar). */
export function dailySeries(stats, from, days) {
  const byKey = new Map((stats.groups || []).map((g) => [g.key, g]));
  const xs = [];
  const cost = [];
  const turns = [];
  for (let i = 0; i < days; i++) {
    const x = from + i * DAY;
    const g = byKey.get(new Date(x * 1000).toISOString().slice(0, 10));
    xs.push(x);
    cost.push(g ? (g.cost_usd === 0 && g.unpriced > 0 ? null : g.cost_usd) : 0);
    turns.push(g ? g.turns : 0);
  }
  return [xs, cost, turns];
}

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function fmtDay(x) {
  return dayFmt.format(new Date(x * 1000));
}

function drawChart(uPlot, box, data) {
  const fg = cssVar("--fg-soft", "#5b6270");
  const grid = cssVar("--border", "#dfe2e8");
  const accent = cssVar("--accent", "#3b5bdb");
  const turnsColour = cssVar("--stats-turns", "#e8590c");
  const font = `12px ${cssVar("--font", "sans-serif")}`;
  const axis = { stroke: fg, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const opts = {
    width: Math.max(240, box.clientWidth),
    height: CHART_HEIGHT,
    cursor: { drag: { x: false, y: false } },
    legend: { show: true, live: false },
    scales: {
      x: { time: true, range: (_u, min, max) => [min - DAY / 2, max + DAY / 2] }, // whole bars at the ends
      usd: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 0.01] },
      turns: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] },
    },
    series: [
      { label: "Day", value: (_u, x) => (x == null ? "" : fmtDay(x)) },
      {
        label: "Cost",
        scale: "usd",
        stroke: accent,
        fill: accent,
        width: 0,
        paths: uPlot.paths.bars({ size: [0.6, 28] }),
        points: { show: false },
        value: (_u, v) => (v == null ? "" : fmtCost(v)),
      },
      {
        label: "Turns",
        scale: "turns",
        stroke: turnsColour,
        width: 2,
        points: { show: true, size: 5, stroke: turnsColour, fill: turnsColour },
        value: (_u, v) => (v == null ? "" : numberFmt.format(v)),
      },
    ],
    axes: [
      // Ticks on whole days only (never two labels for one day).
      { ...axis, incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY], values: (_u, ticks) => ticks.map(fmtDay) },
      { ...axis, scale: "usd", size: 64, values: (_u, ticks) => ticks.map((v) => fmtCost(v)) },
      { ...axis, scale: "turns", side: 1, size: 40, grid: { show: false }, values: (_u, t) => t.map((v) => (Number.isInteger(v) ? String(v) : "")) },
    ],
  };
  if (chart) chart.destroy();
  chart = new uPlot(opts, data, box);
  resizer?.disconnect();
  resizer = new ResizeObserver(() => chart?.setSize({ width: Math.max(240, box.clientWidth), height: CHART_HEIGHT }));
  resizer.observe(box);
}

const COLUMNS = [
  ["turns", "Turns"],
  ["input_tokens", "Input"],
  ["cached_tokens", "Cached"],
  ["output_tokens", "Output"],
  ["reasoning_tokens", "Reasoning"],
  ["cost_usd", "Cost"],
  ["unpriced", "Unpriced"],
];
const KEY_HEADINGS = { day: "Day", provider: "Provider", model: "Model" };

/** One table row: the group's name as its header cell, then each sum. */
function row(label, sums, cls) {
  const tr = el("tr", cls);
  const key = el("th", "stats-key", label);
  key.scope = "row";
  tr.append(key);
  for (const [name] of COLUMNS) {
    const value = sums[name] ?? 0;
    let text = numberFmt.format(value);
    // Nothing known to price is "unknown", never "$0" (API "Statistics").
    if (name === "cost_usd") text = value === 0 && sums.unpriced > 0 ? "unknown" : fmtCost(value);
    tr.append(el("td", "stats-num", text));
  }
  return tr;
}

function keyLabel(group, groupBy) {
  if (groupBy === "day") return fmtDay(Date.parse(`${group.key}T00:00:00Z`) / 1000);
  if (groupBy === "model" && group.provider) return `${group.key} (${group.provider})`;
  return group.key;
}

function renderTable(table, stats) {
  const groupBy = stats.group_by;
  const head = el("thead");
  const hr = el("tr");
  hr.append(el("th", null, KEY_HEADINGS[groupBy] || "Group"));
  for (const [, label] of COLUMNS) hr.append(el("th", "stats-num", label));
  head.append(hr);
  const body = el("tbody");
  const groups = groupBy === "day" ? [...(stats.groups || [])].reverse() : stats.groups || [];
  for (const g of groups) body.append(row(keyLabel(g, groupBy), g));
  const foot = el("tfoot");
  foot.append(row("Total", stats.totals || {}, "stats-total"));
  for (const th of hr.children) th.scope = "col";
  table.replaceChildren(head, body, foot);
}

export function summaryText(totals, days) {
  const parts = [`${numberFmt.format(totals.turns)} ${totals.turns === 1 ? "turn" : "turns"}`];
  const unpriced = `${numberFmt.format(totals.unpriced)} without a known price`;
  // Nothing known to price is "cost unknown", never "$0" (API "Statistics").
  if (totals.unpriced && !totals.cost_usd) parts.push(`cost unknown (${unpriced})`);
  else parts.push(fmtCost(totals.cost_usd));
  if (totals.unpriced && totals.cost_usd) parts.push(`${unpriced} (not counted in the cost)`);
  const tokens = (totals.input_tokens || 0) + (totals.output_tokens || 0);
  parts.push(`${numberFmt.format(tokens)} tokens`);
  return `Last ${days} days: ${parts.join(" · ")}`;
}

export function initStats() {
  const dialog = $("#stats-dialog");
  const opener = $("#stats-open");
  if (!dialog || !opener) return;
  const box = $("#stats-chart");
  const table = $("#stats-table");
  const summary = $("#stats-summary");
  const result = $("#stats-result");
  const empty = $("#stats-empty");
  let seq = 0;

  const choice = (name) => dialog.querySelector(`input[name="${name}"]:checked`)?.value;

  const load = async () => {
    const days = Number(choice("stats-range") || 30);
    const groupBy = choice("stats-group") || "day";
    const { from, to } = rangeOf(days);
    const mine = ++seq;
    dialog.setAttribute("aria-busy", "true");
    result.hidden = true;
    try {
      const byDay = getStats({ from, to, group_by: "day" });
      const grouped = groupBy === "day" ? byDay : getStats({ from, to, group_by: groupBy });
      const [daily, tableStats, uPlot] = await Promise.all([byDay, grouped, chartLib()]);
      if (mine !== seq) return;
      const data = dailySeries(daily, from, days);
      summary.textContent = summaryText(daily.totals, days);
      empty.hidden = daily.totals.turns > 0 || daily.totals.cost_usd > 0;
      box.setAttribute("aria-label", `Cost and turns per day. ${summary.textContent}`);
      drawChart(uPlot, box, data);
      renderTable(table, tableStats);
      window.chatStats = { days, groupBy, data, stats: tableStats };
      dialog.dataset.loaded = `${days}:${groupBy}`;
      announce(summary.textContent);
    } catch (e) {
      if (mine !== seq) return;
      result.textContent = errorWords(e.code, e.message);
      result.className = "panel-result result-error";
      result.hidden = false;
    } finally {
      if (mine === seq) dialog.removeAttribute("aria-busy");
    }
  };

  for (const input of dialog.querySelectorAll('input[name="stats-range"], input[name="stats-group"]')) {
    input.addEventListener("change", load);
  }
  opener.addEventListener("click", () => {
    openPanel(dialog, { opener, focus: dialog.querySelector('input[name="stats-range"]:checked') });
    load();
  });
  dialog.addEventListener("close", () => {
    resizer?.disconnect();
  });
}

initStats();

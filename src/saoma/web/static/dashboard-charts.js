/* The dashboard's bar charts, drawn here as SVG (no library, nothing fetched): an amount axis
   with round steps, the bars' values written above them where there is room, labelled days or
   hours, drawn at the size they are shown so the text stays readable on a phone. */
"use strict";

const SaomaCharts = (() => {
  const { t, money, el } = Saoma;
  const NS = "http://www.w3.org/2000/svg";
  const TOP = 22;
  const LEFT = 58;
  const BOTTOM = 42;
  const HEIGHT = 240;

  /** "¥35" for whole yuan, "¥35.50" otherwise: short enough to sit above a bar. */
  function short(minor) {
    return minor % 100 === 0 ? money(minor).replace(/\.00$/, "") : money(minor);
  }

  /** A round top for the axis: 1, 2 or 5 times a power of ten (in yuan), above ``max``. */
  function niceTop(max) {
    const yuan = Math.max(1, Math.ceil(max / 100));
    const power = 10 ** Math.floor(Math.log10(yuan));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= yuan);
    return step * 100;
  }

  function node(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  /** ``points``: [label, minor units]; ``axis``: the x axis's name; drawn ``width`` pixels wide. */
  function bars(points, title, axis, width) {
    const w = Math.max(280, Math.round(width || 600));
    const plotW = w - LEFT - 8;
    const plotH = HEIGHT - TOP - BOTTOM;
    const max = Math.max(0, ...points.map((p) => p[1]));
    const top = niceTop(max);
    const svg = node("svg", { viewBox: `0 0 ${w} ${HEIGHT}`, width: w, height: HEIGHT, class: "chart", role: "img" });
    const said = points.filter((p) => p[1]).map((p) => `${p[0]} ${money(p[1])}`);
    svg.setAttribute("aria-label", `${title}: ${said.length ? said.join(", ") : t("chart_empty")}`);
    const y = (v) => TOP + plotH - (v / top) * plotH;
    [0, top / 2, top].forEach((v) => {
      svg.append(node("line", { x1: LEFT, x2: w - 8, y1: y(v), y2: y(v), class: v ? "grid" : "axis" }));
      svg.append(node("text", { x: LEFT - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, short(v)));
    });
    const slot = plotW / Math.max(1, points.length);
    const labelEvery = Math.max(1, Math.ceil(44 / slot));
    points.forEach(([label, value], i) => {
      const x = LEFT + i * slot;
      const h = (value / top) * plotH;
      const bar = node("rect", { x: (x + slot * 0.15).toFixed(1), y: (TOP + plotH - h).toFixed(1), width: (slot * 0.7).toFixed(1), height: h.toFixed(1) });
      bar.append(node("title", {}, `${label}: ${money(value)}`));
      svg.append(bar);
      const roomy = slot >= 46 || (value === max && value > 0);
      if (value > 0 && roomy) {
        svg.append(node("text", { x: (x + slot / 2).toFixed(1), y: (TOP + plotH - h - 5).toFixed(1), "text-anchor": "middle", class: "value" }, short(value)));
      }
      if (i % labelEvery === 0) {
        svg.append(node("text", { x: (x + slot / 2).toFixed(1), y: TOP + plotH + 16, "text-anchor": "middle", class: "tick" }, label));
      }
    });
    svg.append(node("text", { x: LEFT + plotW / 2, y: HEIGHT - 6, "text-anchor": "middle", class: "axis-name" }, axis));
    const box = el("div", { class: "chart-box" }, svg);
    if (!max) box.append(el("p", { class: "small muted", text: t("chart_empty") }));
    return box;
  }

  return { bars, short };
})();

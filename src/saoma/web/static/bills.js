/* The wallet's bills: every movement of the money as a named row, filtered by month and kind,
   a receipt for each, refreshed live while open with a notice when money arrives. Offline it
   shows what was loaded before and loads again once back online. */
"use strict";

(() => {
  const { t, money, api, say, show, el, $, human } = Saoma;
  let me = null;
  let cursor = null;
  let retry = false; // a retry waits for the connection to come back
  let stopLive = null;
  let known = new Set(); // the rows on the screen, to tell which ones just arrived

  const cacheKey = () => "saoma.history." + (me ? me.id : "");
  const MONEY_EVENTS = [
    "payment.succeeded", "refund.succeeded", "transfer.sent", "transfer.received", "transfer.claimed",
    "transfer.returned", "red_packet.claimed", "topup.succeeded", "withdraw.succeeded",
    "withdraw.failed", "hold.held", "hold.captured", "hold.released",
  ];

  function query() {
    const params = new URLSearchParams({ limit: "20" });
    if ($("#bills-month").value) params.set("month", $("#bills-month").value);
    if ($("#bills-kind").value) params.set("kind", $("#bills-kind").value);
    if (cursor) params.set("cursor", cursor);
    return "/v1/me/bills?" + params;
  }

  /** The history view opened (by the wallet, with the signed-in consumer). */
  async function open(who) {
    me = who;
    say("#bills-arrived", "", "ok");
    listen();
    await load();
  }

  async function load() {
    cursor = null;
    say("#history-out", "", "ok");
    let loaded = null;
    try {
      const [holds, bills] = await Promise.all([api("GET", "/v1/me/holds"), api("GET", query())]);
      loaded = { holds: holds.data || [], bills };
      localStorage.setItem(cacheKey(), JSON.stringify(loaded));
    } catch (err) {
      if (err.slug !== "network") { say("#history-out", human(err), "err"); return null; }
      loaded = JSON.parse(localStorage.getItem(cacheKey()) || "null");
      offline(Boolean(loaded && loaded.bills));
      if (!loaded || !loaded.bills) {
        $("#history").replaceChildren();
        $("#holds-card").hidden = true;
        $("#history-more").hidden = true;
        return null;
      }
      loaded.bills.next_cursor = null; // no more pages until back online
    }
    render(loaded);
    return loaded;
  }

  /** Offline: say so, show what was loaded before (if anything), and retry once back online. */
  function offline(cached) {
    say("#history-out", t(cached ? "history_offline_cached" : "history_offline"), "warn");
    if (retry) return;
    retry = true;
    window.addEventListener("online", () => {
      retry = false;
      if (!$("#v-history").hidden) load();
    }, { once: true });
  }

  function render(loaded) {
    $("#history").replaceChildren();
    known = new Set();
    $("#holds-card").hidden = !loaded.holds.length;
    $("#holds").replaceChildren(...loaded.holds.map((h) => el("li", {},
      el("span", { class: "grow" }, el("strong", { text: Saoma.merchantName(h.merchant) }), el("br"),
        el("span", { class: "small muted", text: h.state === "held" || h.state === "requested"
          ? t("hold_until", { amount: money(h.amount), time: Saoma.when(h.expires_at) })
          : t("hold_taken", { amount: money(h.captured || 0), total: money(h.amount) }) })),
      el("span", { class: "tag", text: t("hold_state_" + h.state) }))));
    add(loaded.bills);
  }

  function add(page) {
    cursor = page.next_cursor;
    $("#history-more").hidden = !cursor;
    if (!page.data.length && !$("#history").children.length) {
      $("#history").append(el("li", { class: "muted", text: t("no_history") }));
    }
    for (const b of page.data) known.add(b.id);
    $("#history").append(...page.data.map(item));
  }

  async function more() {
    try {
      add(await api("GET", query()));
    } catch (err) {
      if (err.slug === "network") offline(true);
      else say("#history-out", human(err), "err");
    }
  }

  const nameOf = (b) => (Saoma.lang === "zh" && b.name_zh ? b.name_zh : b.name);
  const kindOf = (b) => t("bill_" + b.kind);

  function details(b) {
    const parts = [Saoma.when(b.created_at)];
    if (b.kind === "refund") parts.push(t("bill_refunded", { amount: money(b.amount, b.currency) }));
    if (b.discount) parts.push(t("bill_discount", { amount: money(b.discount, b.currency) }));
    if (b.kind === "capture") parts.push(t("bill_of_hold", { amount: money(b.held, b.currency) }));
    if (b.greeting) parts.push(b.greeting);
    if (b.note) parts.push(b.note);
    return parts.join(" · ");
  }

  function figure(b) {
    if (b.direction === "none") return el("span", { class: "muted", text: money(b.amount, b.currency) });
    const incoming = b.direction === "in";
    return el("span", { class: incoming ? "plus" : "minus", text: (incoming ? "+" : "-") + money(b.amount, b.currency) });
  }

  function item(b) {
    const name = nameOf(b);
    return el("li", { "data-bill": b.id },
      el("span", { class: "grow" },
        el("strong", { text: name || kindOf(b) }), " ",
        name ? el("span", { class: "tag", text: kindOf(b) }) : null,
        b.state !== "done" ? el("span", { class: "tag", text: t("bill_state_" + b.state) }) : null,
        el("br"), el("span", { class: "small muted", text: details(b) })),
      figure(b),
      el("button", { type: "button", class: "secondary", text: t("receipt"), onclick: () => receipt(b) }));
  }

  // --- receipts ----------------------------------------------------------------------------------

  async function receipt(b) {
    try {
      if (b.payment_id) await paymentReceipt(b.payment_id);
      else billReceipt(await api("GET", `/v1/me/bills/${encodeURIComponent(b.id)}`));
    } catch (err) {
      say("#history-out", err.slug === "network" ? t("history_offline_cached") : human(err), err.slug === "network" ? "warn" : "err");
    }
  }

  function fill(rows) {
    $("#receipt").replaceChildren(el("dl", {}, ...rows.filter(([, v]) => v).map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])));
  }

  async function paymentReceipt(id) {
    const p = await api("GET", `/v1/me/payments/${id}`);
    const rows = [
      [t("merchant"), Saoma.merchantName(p.merchant)], [t("amount"), money(p.amount)],
      [t("discount"), money(p.discount)], [t("you_pay", { amount: "" }).trim(), money(p.paid)],
      [t("kind"), t("kind_" + p.kind)], [t("time"), Saoma.when(p.created_at)], [t("id"), p.id],
    ];
    if (p.note && p.kind !== "paycode") rows.push([t("note"), p.note]);
    for (const r of p.refunds || []) rows.push([t("refunds"), `${money(r.to_payer ?? r.amount)} · ${Saoma.when(r.created_at)}`]);
    fill(rows);
    $("#receipt").dataset.paymentId = p.id; // disputes.js offers "Report a problem" for it
    show("v-receipt");
  }

  function billReceipt(b) {
    delete $("#receipt").dataset.paymentId; // nothing to dispute with a merchant
    const old = $("#dp-receipt");
    if (old) old.remove();
    const sign = b.direction === "in" ? "+" : b.direction === "out" ? "-" : "";
    fill([
      [t("kind"), kindOf(b)], [t("bill_with"), nameOf(b)], [t("amount"), sign + money(b.amount, b.currency)],
      [t("bill_state"), t("bill_state_" + b.state)], [t("time"), Saoma.when(b.created_at)],
      [t("note"), b.note], [t("bill_greeting"), b.greeting],
      [t("bill_until"), b.expires_at && b.state !== "done" ? Saoma.when(b.expires_at) : ""],
      [t("bill_bank_reference"), b.bank_reference], [t("id"), b.reference],
    ]);
    show("v-receipt");
  }

  // --- live --------------------------------------------------------------------------------------

  function listen() {
    if (stopLive) return;
    const handlers = {};
    for (const type of MONEY_EVENTS) handlers[type] = () => refresh();
    stopLive = Saoma.listen("/v1/me/events", handlers);
  }

  let refreshing = null;
  let again = false; // money moved again while the list was loading
  async function refresh() {
    if (refreshing) { again = true; return; }
    const before = known;
    refreshing = load();
    try {
      const loaded = await refreshing;
      const arrived = loaded && loaded.bills.data.find((b) => b.direction === "in" && !before.has(b.id));
      if (arrived) {
        const name = nameOf(arrived);
        say("#bills-arrived", t(name ? "bill_arrived_from" : "bill_arrived",
          { amount: money(arrived.amount, arrived.currency), name }), "ok");
        const row = $("#history").querySelector(`[data-bill="${CSS.escape(arrived.id)}"]`);
        if (row) row.classList.add("arrived");
      }
    } finally {
      refreshing = null;
      if (again) { again = false; refresh(); }
    }
  }

  document.addEventListener("saoma:view", (ev) => {
    if (ev.detail !== "v-history" && ev.detail !== "v-receipt" && stopLive) { stopLive(); stopLive = null; }
  });
  document.addEventListener("saoma:lang", () => { if (me && !$("#v-history").hidden) load(); });
  document.addEventListener("DOMContentLoaded", () => {
    $("#history-more").addEventListener("click", () => more());
    $("#bills-month").addEventListener("change", () => load());
    $("#bills-kind").addEventListener("change", () => load());
    $("#bills-filters").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  });

  Saoma.bills = { show: open, paymentReceipt };
})();

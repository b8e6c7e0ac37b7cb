/* The merchant dashboard: takings, charts drawn locally as SVG, payments, statements, webhooks, keys. */
"use strict";

(() => {
  const { t, money, api, guard, say, show, el, $, human } = Saoma;
  let shop = null;
  let cursor = null;

  async function start() {
    try {
      shop = await api("GET", "/v1/merchant");
    } catch (err) {
      if (err.status === 401) { show("d-signin"); return; }
      Saoma.toast(human(err), "err");
      return;
    }
    $("#d-name").textContent = Saoma.merchantName(shop);
    // Statement days are the merchant's days (SAOMA_TIMEZONE), not this browser's or UTC's:
    // the server says which day today is there.
    const { date: today } = await api("GET", "/v1/merchant/summary?days=1");
    const iso = (d) => d.toISOString().slice(0, 10);
    $("#d-to").value = today;
    $("#d-from").value = iso(new Date(Date.parse(today + "T00:00:00Z") - 29 * 86400000));
    statementLink();
    show("d-main");
    const svg = Saoma.qrSvg(shop.static_code.qr_payload);
    svg.setAttribute("aria-label", t("static_code"));
    $("#d-static").replaceChildren(svg);
    $("#d-webhook").value = shop.webhook_url || "";
    const changed = () => { refresh(); payments(true); };
    Saoma.listen("/v1/merchant/events", { "payment.succeeded": changed, "refund.succeeded": changed });
    refresh();
    payments(true);
    campaigns();
    deliveries();
    webhookSecret();
    pinForm();
    keys();
  }

  Saoma.signInForm("#d-signin-form", "merchant", "#ds-login", "#ds-password", "#ds-out", start);

  $("#d-sign-out").addEventListener("click", (ev) => guard(ev.target, null, async () => {
    await api("DELETE", "/web/sessions/merchant");
    show("d-signin");
  }));

  // --- takings and charts ----------------------------------------------------------------------

  async function refresh() {
    const s = await api("GET", `/v1/merchant/summary?days=${$("#d-days").value}`);
    const cards = [
      ["takings", money(s.today.gross)], ["payments", String(s.today.count)],
      ["fees", money(s.today.fees)], ["refunded", money(s.today.refunded)], ["net", money(s.today.net)],
    ];
    $("#d-cards").replaceChildren(...cards.map(([k, v]) => el("div", { class: "card", "data-figure": k },
      el("div", { class: "muted", text: t(k) }), el("div", { class: "figure", text: v }))));
    $("#d-hours").replaceChildren(chart(s.per_hour.map((h) => [String(h.hour), h.amount]), t("chart_hours")));
    $("#d-daily").replaceChildren(chart(s.per_day.map((d) => [d.date.slice(5), d.amount]), t("chart_days")));
  }
  $("#d-days").addEventListener("change", refresh);

  /** A bar chart as SVG: no library, nothing fetched. */
  function chart(points, title) {
    const ns = "http://www.w3.org/2000/svg";
    const width = 600;
    const height = 200;
    const max = Math.max(1, ...points.map((p) => p[1]));
    const slot = width / points.length;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height + 20}`);
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `${title}: ` + points.filter((p) => p[1]).map((p) => `${p[0]} ${money(p[1])}`).join(", "));
    const every = Math.ceil(points.length / 12);
    points.forEach(([label, value], i) => {
      const h = Math.round((value / max) * (height - 10));
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", (i * slot + slot * 0.15).toFixed(1));
      r.setAttribute("y", String(height - h));
      r.setAttribute("width", (slot * 0.7).toFixed(1));
      r.setAttribute("height", String(h));
      const tip = document.createElementNS(ns, "title");
      tip.textContent = `${label}: ${money(value)}`;
      r.append(tip);
      svg.append(r);
      if (i % every === 0) {
        const text = document.createElementNS(ns, "text");
        text.setAttribute("x", (i * slot + slot / 2).toFixed(1));
        text.setAttribute("y", String(height + 14));
        text.setAttribute("text-anchor", "middle");
        text.textContent = label;
        svg.append(text);
      }
    });
    return svg;
  }

  // --- payments --------------------------------------------------------------------------------

  async function payments(fresh) {
    if (fresh) { cursor = null; $("#d-payments").replaceChildren(); }
    const params = new URLSearchParams({ limit: "25" });
    if (cursor) params.set("cursor", cursor);
    if ($("#d-q").value.trim()) params.set("q", $("#d-q").value.trim());
    if ($("#d-kind").value) params.set("kind", $("#d-kind").value);
    let page;
    try { page = await api("GET", `/v1/merchant/payments?${params}`); } catch (err) { Saoma.toast(human(err), "err"); return; }
    cursor = page.next_cursor;
    $("#d-more").hidden = !cursor;
    if (fresh && !page.data.length) {
      $("#d-payments").append(el("tr", {}, el("td", { colspan: "8", class: "muted", text: t("no_history") })));
    }
    $("#d-payments").append(...page.data.map((p) => el("tr", { "data-payment": p.id },
      el("td", { text: Saoma.when(p.created_at) }), el("td", { text: t("kind_" + p.kind) }),
      el("td", { class: "small", text: p.id }), el("td", { text: p.note || "" }),
      el("td", { class: "num", text: money(p.amount) }), el("td", { class: "num", text: money(p.fee) }),
      el("td", { class: "num", text: money(p.refunded) }),
      el("td", { class: "num", text: money(p.amount - p.fee - p.refunded) }))));
  }
  let searchTimer = null;
  $("#d-q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => payments(true), 250); });
  $("#d-kind").addEventListener("change", () => payments(true));
  $("#d-filter").addEventListener("submit", (ev) => { ev.preventDefault(); payments(true); });
  $("#d-more").addEventListener("click", () => payments(false));

  // --- statement -------------------------------------------------------------------------------

  function statementLink() {
    const from = $("#d-from").value;
    const to = $("#d-to").value;
    const bad = !from || !to || to < from;
    say("#d-statement-out", bad ? t("bad_range") : "", bad ? "err" : "ok");
    $("#d-download").href = `/v1/merchant/statement.csv?from=${from}&to=${to}`;
    $("#d-download").setAttribute("download", `saoma-${from}-${to}.csv`);
  }
  $("#d-from").addEventListener("change", statementLink);
  $("#d-to").addEventListener("change", statementLink);

  // --- campaigns, webhooks, keys ------------------------------------------------------------------

  async function campaigns() {
    const list = (await api("GET", "/v1/campaigns").catch(() => ({ data: [] }))).data || [];
    $("#d-campaigns").replaceChildren(...(list.length ? list.map((c) => el("li", {},
      el("span", { class: "grow" }, el("strong", { text: c.name }), " ", el("span", { class: "tag", text: c.state }), el("br"),
        el("span", { class: "small muted", text: `${t("used")}: ${c.used_count} · ${t("subsidy")}: ${money(c.subsidy_paid)} · ${t("takings")}: ${money(c.sales_with_discount)}` }))))
      : [el("li", { class: "muted", text: t("no_history") })]));
  }

  async function deliveries() {
    const list = (await api("GET", "/v1/merchant/webhook-deliveries")).data || [];
    $("#d-deliveries").replaceChildren(...list.map((d) => {
      const last = d.attempts[d.attempts.length - 1];
      return el("li", {},
        el("span", { class: "grow" }, el("strong", { text: d.type }), " ", el("span", { class: "tag", text: d.state }), el("br"),
          el("span", { class: "small muted", text: `${d.id} · ${d.attempts.length} × ${last ? (last.status_code || last.error || "") : ""}` })),
        el("button", { type: "button", class: "secondary", text: t("replay"), onclick: (ev) => guard(ev.target, "#d-webhook-out", async () => {
          await api("POST", `/v1/merchant/webhook-deliveries/${d.id}/replay`);
          say("#d-webhook-out", t("replayed"), "ok");
          deliveries();
        }) }));
    }));
  }

  $("#d-webhook-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#d-webhook-out", async () => {
      await api("PUT", "/v1/merchant/webhook", { url: $("#d-webhook").value.trim() });
      say("#d-webhook-out", t("saved"), "ok");
    });
  });

  // The secret stays masked until asked for; after a rotation the previous one still signs
  // deliveries for a day, and the page says until when.
  let secretShown = false;
  async function webhookSecret() {
    const s = await api("GET", "/v1/merchant/webhook-secret");
    $("#d-secret").textContent = secretShown ? s.secret : "whsec_••••••••";
    $("#d-secret-show").hidden = secretShown;
    const until = s.previous_valid_until_us && Saoma.when(new Date(s.previous_valid_until_us / 1000).toISOString());
    say("#d-secret-out", until ? t("secret_previous", { time: until }) : "", "ok");
  }

  $("#d-secret-show").addEventListener("click", (ev) => guard(ev.target, "#d-secret-out", async () => {
    secretShown = true;
    await webhookSecret();
  }));

  $("#d-secret-rotate").addEventListener("click", (ev) => guard(ev.target, "#d-secret-out", async () => {
    await api("POST", "/v1/merchant/webhook-secret");
    secretShown = true;
    await webhookSecret();
  }));

  // The manager PIN: set the first time with the password, changed with the current PIN.
  function pinForm() {
    $("#d-pin-first").hidden = shop.has_manager_pin;
    $("#d-pin-change").hidden = !shop.has_manager_pin;
  }

  $("#d-pin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#d-pin-out", async () => {
      const body = { pin: $("#d-pin-new").value.trim() };
      if (shop.has_manager_pin) body.old_pin = $("#d-pin-old").value.trim();
      else body.password = $("#d-pin-password").value;
      await api("PUT", "/v1/merchant/manager-pin", body);
      shop.has_manager_pin = true;
      ["#d-pin-new", "#d-pin-old", "#d-pin-password"].forEach((id) => { $(id).value = ""; });
      pinForm();
      say("#d-pin-out", t("manager_pin_saved"), "ok");
    });
  });

  async function keys() {
    const list = (await api("GET", "/v1/merchant/keys")).data || [];
    const nowUs = Date.now() * 1000;
    // A revoked key stays listed (requests it signed are on record) but signs nothing more;
    // a key being rotated out shows until when it still works.
    $("#d-keys").replaceChildren(...list.map((k) => {
      const revoked = k.expires_at_us !== null && k.expires_at_us <= nowUs;
      const until = k.expires_at_us !== null && !revoked
        ? el("span", { class: "small muted", text: " " + t("expires", { time: Saoma.when(new Date(k.expires_at_us / 1000).toISOString()) }) })
        : "";
      return el("li", { class: revoked ? "muted" : "" },
        el("span", { class: "grow" }, el("strong", { text: k.id }), " ",
          revoked ? el("span", { class: "tag", text: t("revoked") }) : until,
          el("br"), el("code", { class: "small", text: k.public_key })),
        revoked ? "" : el("button", { type: "button", class: "secondary", text: t("revoke"), onclick: (ev) => guard(ev.target, "#d-key-out", async () => {
          await api("DELETE", `/v1/merchant/keys/${k.id}`);
          keys();
        }) }));
    }));
  }

  $("#d-key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#d-key-out", async () => {
      await api("POST", "/v1/merchant/keys", { public_key: $("#d-key").value.trim(), rotate: false });
      $("#d-key").value = "";
      say("#d-key-out", t("saved"), "ok");
      keys();
    });
  });

  document.addEventListener("saoma:lang", () => { if (shop && !$("#d-main").hidden) { refresh(); payments(true); } });
  document.addEventListener("DOMContentLoaded", start);
})();

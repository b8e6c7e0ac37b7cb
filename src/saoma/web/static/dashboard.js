/* The merchant dashboard: takings, charts (dashboard-charts.js), payments found by text, amount
   or payer, statements, campaigns (dashboard-campaigns.js), the sticker, settlements, webhooks,
   keys. Every section is drawn again in the other language when it is switched. */
"use strict";

Object.assign(DICT.en, { payer_got: "(payer got {amount})" });
Object.assign(DICT.zh, { payer_got: "（顾客收回 {amount}）" });

(() => {
  const { t, money, api, guard, say, show, el, $, human } = Saoma;
  let shop = null;
  let cursor = null;
  let summary = null;
  let hooks = [];
  let stopEvents = () => {}; // the live events of the session signed in

  async function start() {
    try {
      shop = await api("GET", "/v1/merchant");
    } catch (err) {
      if (err.status === 401) { show("d-signin"); return; }
      Saoma.toast(human(err), "err");
      return;
    }
    $("#d-name").textContent = Saoma.merchantName(shop);
    frozen();
    // Statement days are the merchant's days (SAOMA_TIMEZONE), not this browser's or UTC's:
    // the server says which day today is there.
    const { date: today } = await api("GET", "/v1/merchant/summary?days=1");
    const iso = (d) => d.toISOString().slice(0, 10);
    $("#d-to").value = today;
    $("#d-from").value = iso(new Date(Date.parse(today + "T00:00:00Z") - 29 * 86400000));
    statementLink();
    await SaomaOnboarding.start();  // drawn before the page shows: nothing below it moves later
    show("d-main");
    drawSticker();
    $("#d-webhook").value = shop.webhook_url || "";
    const changed = () => { refresh(); payments(true); SaomaCampaigns.load(); };
    const bankNews = () => loadBank().catch(() => {});
    stopEvents(); // a sign-in after another listens once
    stopEvents = Saoma.listen("/v1/merchant/events", {
      "payment.succeeded": changed, "refund.succeeded": changed,
      "settlement.paid": settlementNews, "settlement.failed": settlementNews,
      "bank_account.verified": bankNews, "bank_account.failed": bankNews,
      "merchant.kyc.approved": SaomaOnboarding.start, "merchant.kyc.rejected": SaomaOnboarding.start,
    });
    refresh();
    payments(true);
    SaomaCampaigns.load();
    deliveries();
    if (!shop.has_manager_pin) webhookSecret(); // else masked until shown with the PIN
    pinForm();
    keys();
    settlementsStart();
  }

  /** The freeze in force, if any, above everything else. */
  function frozen() {
    const access = el("a", { href: "#d-access", text: t("frozen_access") });
    SaomaFrozen.render($("#d-frozen"), shop.freeze || null, "shop", access);
  }

  Saoma.signInForm("#d-signin-form", "merchant", "#ds-login", "#ds-password", "#ds-out", start);

  $("#d-sign-out").addEventListener("click", (ev) => guard(ev.target, null, async () => {
    await api("DELETE", "/web/sessions/merchant");
    signedOut();
  }));

  function signedOut() {
    stl.session += 1; // what was still being read for this session stops
    stopEvents(); // and its live events: their stream would end with a reload
    stopEvents = () => {};
    show("d-signin");
  }

  // --- takings and charts ----------------------------------------------------------------------

  /** The sticker as printed: the call to action, the code, the stall's name large. */
  function drawSticker() {
    const svg = Saoma.qrSvg(shop.static_code.qr_payload);
    svg.setAttribute("aria-label", `${t("static_code")}: ${Saoma.merchantName(shop)}`);
    $("#d-static").replaceChildren(svg);
    $("#d-sticker-name").textContent = shop.name_zh || shop.name;
    $("#d-sticker-name-other").textContent = shop.name_zh && shop.name !== shop.name_zh ? shop.name : "";
  }
  // Printing from here prints the sticker alone, at the size of the page.
  $("#d-sticker-print").addEventListener("click", () => {
    document.body.classList.add("printing-sticker");
    window.print();
  });
  window.addEventListener("afterprint", () => document.body.classList.remove("printing-sticker"));

  async function refresh() {
    summary = await api("GET", `/v1/merchant/summary?days=${$("#d-days").value}`);
    drawSummary();
  }

  function drawSummary() {
    const s = summary;
    if (!s) return;
    Saoma.showAge($("#d-age"), s);
    const cards = [
      ["takings", money(s.today.gross)], ["payments", String(s.today.count)],
      ["fees", money(s.today.fees)], ["refunded", money(s.today.refunded)], ["net", money(s.today.net)],
    ];
    $("#d-cards").replaceChildren(...cards.map(([k, v]) => el("div", { class: "card", "data-figure": k },
      el("div", { class: "muted", text: t(k) }), el("div", { class: "figure", text: v }))));
    const hours = s.per_hour.map((h) => [String(h.hour).padStart(2, "0"), h.amount]);
    const days = s.per_day.map((d) => [d.date.slice(5), d.amount]);
    $("#d-hours").replaceChildren(SaomaCharts.bars(hours, t("chart_hours"), t("chart_hour_axis"), $("#d-hours").clientWidth));
    $("#d-daily").replaceChildren(SaomaCharts.bars(days, t("chart_days"), t("chart_day_axis"), $("#d-daily").clientWidth));
  }
  $("#d-days").addEventListener("change", refresh);
  let resized = null;
  window.addEventListener("resize", () => { clearTimeout(resized); resized = setTimeout(drawSummary, 150); });

  // --- payments --------------------------------------------------------------------------------

  /** The search as the API's parameters, or null (and a sentence) when the amount is not one. */
  function searchParams() {
    const params = new URLSearchParams({ limit: "25" });
    const text = $("#d-q").value.trim();
    const amountText = $("#d-amount").value.trim();
    const payer = $("#d-payer").value.trim();
    if (text) params.set("q", text);
    if (payer && payer.replace(/^\*+/, "").trim()) params.set("payer", payer);
    if (amountText) {
      const amount = Saoma.parseAmount(amountText);
      if (!amount) {
        say("#d-search-out", t("search_bad_amount"), "err");
        return null;
      }
      params.set("amount", String(amount));
    }
    if ($("#d-kind").value) params.set("kind", $("#d-kind").value);
    say("#d-search-out", "", "ok");
    return params;
  }

  let searching = 0;
  async function payments(fresh) {
    const params = searchParams();
    if (!params) return;
    const asked = ++searching;
    if (!fresh && cursor) params.set("cursor", cursor);
    let page;
    try { page = await api("GET", `/v1/merchant/payments?${params}`); } catch (err) { say("#d-search-out", human(err), "err"); return; }
    if (asked !== searching) return; // a newer search answers instead
    if (fresh) $("#d-payments").replaceChildren();
    cursor = page.next_cursor;
    $("#d-more").hidden = !cursor;
    const filtered = ["q", "amount", "payer", "kind"].some((k) => params.has(k));
    if (fresh && !page.data.length) {
      $("#d-payments").append(el("tr", {}, el("td", { colspan: "9", class: "muted", text: t(filtered ? "search_none" : "no_history") })));
    }
    $("#d-payments").append(...page.data.map((p) => el("tr", { "data-payment": p.id },
      el("td", { text: Saoma.when(p.created_at) }), el("td", { text: t("kind_" + p.kind) }),
      el("td", { class: "payer", text: p.payer || "—" }),
      el("td", { class: "small", text: p.id }), el("td", { text: p.note || "" }),
      el("td", { class: "num", text: money(p.amount) }), el("td", { class: "num", text: money(p.fee) }),
      el("td", { class: "num", text: money(p.refunded) + (p.refunded_to_payer !== p.refunded
        ? " " + t("payer_got", { amount: money(p.refunded_to_payer) }) : "") }),
      el("td", { class: "num", text: money(p.amount - p.fee - p.refunded) }))));
  }
  let searchTimer = null;
  ["#d-q", "#d-amount", "#d-payer"].forEach((id) => $(id).addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => payments(true), 300);
  }));
  $("#d-filter").addEventListener("reset", () => setTimeout(() => payments(true), 0));
  $("#d-kind").addEventListener("change", () => payments(true));
  $("#d-filter").addEventListener("submit", (ev) => { ev.preventDefault(); payments(true); });
  $("#d-more").addEventListener("click", () => payments(false));

  // --- statement -------------------------------------------------------------------------------

  function statementLink() {
    const from = $("#d-from").value;
    const to = $("#d-to").value;
    const days = from && to ? Math.round((Date.parse(to) - Date.parse(from)) / 86400000) + 1 : 0;
    const why = !from || !to ? "stmt_pick_days" : to < from ? "bad_range" : days > 366 ? "stmt_too_long" : "";
    say("#d-statement-out", why ? t(why) : t("stmt_ready", { days }), why ? "err" : "ok");
    const link = $("#d-download");
    // A wrong period cannot be downloaded: the link is no link until the days are right.
    link.classList.toggle("disabled", Boolean(why));
    if (why) {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
      link.setAttribute("role", "link");
    } else {
      link.href = `/v1/merchant/statement.csv?from=${from}&to=${to}`;
      link.removeAttribute("aria-disabled");
      link.removeAttribute("role");
    }
    link.setAttribute("download", `saoma-${from}-${to}.csv`);
  }
  $("#d-from").addEventListener("input", statementLink);
  $("#d-to").addEventListener("input", statementLink);
  $("#d-from").addEventListener("change", statementLink);
  $("#d-to").addEventListener("change", statementLink);

  // --- campaigns, webhooks, keys ------------------------------------------------------------------

  async function deliveries() {
    hooks = (await api("GET", "/v1/merchant/webhook-deliveries")).data || [];
    drawDeliveries();
  }

  function drawDeliveries() {
    $("#d-deliveries").replaceChildren(...hooks.map((d) => {
      const last = d.attempts[d.attempts.length - 1];
      return el("li", {},
        el("span", { class: "grow" }, el("strong", { text: d.type }), " ", el("span", { class: "tag", text: t("wh_state_" + d.state) }), el("br"),
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
      await api("PUT", "/v1/merchant/webhook", { url: $("#d-webhook").value.trim() }, managerPin("#d-wh-pin"));
      say("#d-webhook-out", t("saved"), "ok");
    });
  });

  // The secret stays masked until asked for; after a rotation the previous one still signs
  // deliveries for a day, and the page says until when.
  let secretShown = false;
  async function webhookSecret(pin) { // ``pin``: the header a rotation just sent, used again
    const s = await api("GET", "/v1/merchant/webhook-secret", undefined, pin || managerPin("#d-wh-pin"));
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
    const pin = managerPin("#d-wh-pin");
    await api("POST", "/v1/merchant/webhook-secret", undefined, pin);
    secretShown = true;
    await webhookSecret(pin);
  }));

  // The manager PIN: set the first time with the password, changed with the current PIN.
  function pinForm() {
    $("#d-pin-first").hidden = shop.has_manager_pin;
    $("#d-pin-change").hidden = !shop.has_manager_pin;
    $("#d-bank-pin-row").hidden = !shop.has_manager_pin; // changing the bank account asks for it
    $("#d-wh-pin-row").hidden = !shop.has_manager_pin; // so do the webhook, its secret, the keys
    $("#d-key-pin-row").hidden = !shop.has_manager_pin;
    $("#d-password-pin-row").hidden = !shop.has_manager_pin; // and the password, every till out
  }

  /** Once the shop has a manager PIN, what gives its access away asks for it: a cashier signed
   * in at the till cannot add an API key (and refund with it) or point the webhook elsewhere. */
  function managerPin(input) {
    if (!shop.has_manager_pin) return {};
    const pin = $(input).value.trim();
    $(input).value = ""; // asked for again each time: never left in the shop's tablet
    if (!/^[0-9]{6}$/.test(pin)) throw { slug: "invalid-request", doc: { field: "Saoma-Manager-Pin" } };
    return { "Saoma-Manager-Pin": pin };
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

  // A new password ends every other session; signing out everywhere ends this one too.
  $("#d-password-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#d-password-out", async () => {
      const body = { current_password: $("#d-password-current").value, new_password: $("#d-password-new").value };
      const ended = await api("PUT", "/v1/merchant/password", body, managerPin("#d-password-pin"));
      ["#d-password-current", "#d-password-new"].forEach((id) => { $(id).value = ""; });
      say("#d-password-out", t("password_changed", { n: ended.sessions_ended }), "ok");
    });
  });

  $("#d-everywhere").addEventListener("click", (ev) => guard(ev.target, "#d-password-out", async () => {
    await api("DELETE", "/v1/merchant-sessions", undefined, managerPin("#d-password-pin"));
    signedOut();
  }));

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
          await api("DELETE", `/v1/merchant/keys/${k.id}`, undefined, managerPin("#d-key-pin"));
          keys();
        }) }));
    }));
  }

  $("#d-key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#d-key-out", async () => {
      await api("POST", "/v1/merchant/keys", { public_key: $("#d-key").value.trim(), rotate: false }, managerPin("#d-key-pin"));
      $("#d-key").value = "";
      say("#d-key-out", t("saved"), "ok");
      keys();
    });
  });

  // --- settlements: the bank account, the schedule, instant payouts, settlements, statements ----

  // The instant payout's limit and fee are the operator's policy: the terms tell them (until they
  // are read, the installation's defaults are shown).
  const instantMax = () => (stl.terms ? stl.terms.instant_payout_max : 500000);
  const instantFeePpm = () => (stl.terms ? stl.terms.instant_payout_fee_ppm : 1000);
  const T0_HOUR = 17; // T+0: paid the same day at this hour, unless the merchant has another one
  const FINAL = ["paid", "failed", "carried", "nothing"];
  const LINE_KINDS = ["payment", "capture", "fee", "refund", "split", "reserve", "subsidy", "budget", "carried"];
  const REASONS = {
    "no such account": "stl_fail_no_account",
    "account frozen": "stl_fail_frozen",
    "the bank did not answer in time": "stl_fail_timeout",
  };
  const stl = { bank: null, terms: null, rows: [], cursor: null, open: null, opened: 0, lines: [], linesCursor: null, formOpen: null, session: 0 };
  const notices = ["#d-bank-out", "#d-terms-out", "#d-instant-out", "#d-stmt-out"];
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
  const rate = () => `${instantFeePpm() / 10000}%`;
  const hour = (h) => String(h).padStart(2, "0") + ":00";
  const reason = (failure) => t(REASONS[failure] || "stl_fail_other");
  const accountText = (a) => [a.account_number, a.holder_name, a.bank_name].filter(Boolean).join(" · ");

  /** A notice made again from ``make`` when the language changes. */
  function tell(target, make, kind) {
    const node = $(target);
    node.saomaMake = make;
    say(node, make ? make() : "", kind);
  }

  /** A problem as a sentence: a field at fault is named in words, never in the server's. */
  function problem(err) {
    if (err && err.slug === "invalid-request") {
      const field = err.doc && err.doc.field;
      if (field === "manager_pin") return t("manager_pin_needed");
      const key = "stl_bad_" + field;
      return t(key) !== key ? t(key) : t("err_invalid-request");
    }
    return human(err);
  }

  async function act(button, out, action) {
    if (button) button.disabled = true;
    tell(out, null, "ok");
    try {
      return await action();
    } catch (err) {
      tell(out, () => problem(err), "err");
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  /** Ask ``check`` again, less and less often, until it answers (or ten minutes pass). */
  async function until(check) {
    const end = Date.now() + 600000;
    for (let wait = 250; Date.now() < end; wait = Math.min(5000, wait * 1.5)) {
      await sleep(wait);
      try {
        const found = await check();
        if (found) return found;
      } catch (err) { /* the next try may get through */ }
    }
    return null;
  }

  function settlementsStart() {
    Object.assign(stl, { bank: null, terms: null, open: null, lines: [], linesCursor: null, formOpen: null }); // signed in anew
    $("#d-stmt").hidden = true;
    instantReady();
    const session = ++stl.session;
    keepLoading(loadBank, "#d-bank-out", session);
    keepLoading(loadTerms, "#d-terms-out", session);
    settlements(true);
    drawStatic();
  }

  /** Read with ``load``; if that fails, say why in ``out`` and read again, less and less often,
   * until it answers (the notice then goes) or the owner signs in anew. */
  function keepLoading(load, out, session) {
    load().catch(async (first) => {
      let last = first;
      const why = () => problem(last); // the latest reason, in the language of the moment
      tell(out, why, "err");
      const read = await until(async () => {
        if (stl.session !== session || [401, 403].includes(last.status)) return "gone";
        try {
          await load();
        } catch (err) {
          last = err;
          if ($(out).saomaMake === why) tell(out, why, "err");
          throw err;
        }
        return "read";
      });
      if (read === "read" && $(out).saomaMake === why) tell(out, null, "ok"); // not another notice since
    });
  }

  function drawStatic() {
    $("#d-instant-note").textContent = t("stl_instant_note", { limit: money(instantMax()), rate: rate() });
    $("#d-sched-t0-text").textContent = t("stl_t0", { hour: hour(t0Hour()) });
    $("#d-bank-pin-row").hidden = !(shop && shop.has_manager_pin);
  }

  // The bank account.

  async function loadBank() {
    stl.bank = await api("GET", "/v1/settlement/bank-accounts");
    instantReady();
    drawBank();
  }

  /** "Pay me now" waits for the account it pays into and the operator's limit and fee it quotes. */
  function instantReady() {
    $("#d-instant").disabled = !(stl.bank && stl.terms);
  }

  function drawBank() {
    const b = stl.bank;
    if (!b) return;
    const cur = b.current;
    $("#d-bank-current").replaceChildren(...(cur
      ? [t("stl_bank_in_use", { account: accountText(cur) }), " ", el("span", { class: "tag", text: t("bank_state_" + cur.state) })]
      : [t("stl_bank_none")]));
    const latest = b.data[0];
    const pending = latest && (!cur || latest.id !== cur.id) && ["verifying", "failed"].includes(latest.state) ? latest : null;
    $("#d-bank-latest").hidden = !pending;
    $("#d-bank-latest").textContent = pending
      ? t("stl_bank_latest_" + pending.state, { number: pending.account_number, reason: reason(pending.failure) }) : "";
    const open = stl.formOpen === null ? !b.data.length : stl.formOpen;
    $("#d-bank-form").hidden = !open;
    const toggle = $("#d-bank-toggle");
    toggle.textContent = t(b.data.length ? "stl_bank_change" : "stl_bank_add");
    toggle.setAttribute("aria-expanded", String(open));
  }

  $("#d-bank-toggle").addEventListener("click", () => {
    stl.formOpen = $("#d-bank-form").hidden;
    drawBank();
    if (stl.formOpen) $("#d-bank-holder").focus();
  });

  $("#d-bank-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const holder = $("#d-bank-holder").value.trim();
    const number = $("#d-bank-number").value.replace(/\s+/g, "");
    const pin = $("#d-bank-pin").value.trim();
    const wrong = !holder || holder.length > 70 ? "stl_bad_holder_name"
      : !/^[0-9]{8,34}$/.test(number) ? "stl_bad_account_number"
        : shop.has_manager_pin && !/^[0-9]{6}$/.test(pin) ? "manager_pin_needed" : "";
    if (wrong) { tell("#d-bank-out", () => t(wrong), "err"); return; }
    const body = { holder_name: holder, account_number: number, bank_name: $("#d-bank-name").value.trim() };
    if (shop.has_manager_pin) body.manager_pin = pin;
    act(ev.submitter, "#d-bank-out", async () => {
      const added = await api("POST", "/v1/settlement/bank-accounts", body);
      ["#d-bank-holder", "#d-bank-number", "#d-bank-name", "#d-bank-pin"].forEach((id) => { $(id).value = ""; });
      stl.formOpen = false;
      tell("#d-bank-out", () => t("stl_bank_verifying", { number: added.account_number }), "ok");
      await loadBank();
      watchAccount(added);
    });
  });

  /** The bank answers a verification later: ask until it has, then say how it went. */
  async function watchAccount(added) {
    const answered = await until(async () => {
      await loadBank();
      const a = stl.bank.data.find((x) => x.id === added.id);
      return a && a.state !== "verifying" ? a : null;
    });
    if (!answered) { tell("#d-bank-out", () => t("stl_bank_slow"), "warn"); return; }
    if (answered.state === "failed") {
      tell("#d-bank-out", () => t("stl_bank_failed", { number: answered.account_number, reason: reason(answered.failure) }), "err");
    } else {
      tell("#d-bank-out", () => t("stl_bank_verified", { number: answered.account_number }), "ok");
    }
  }

  // The schedule.

  async function loadTerms() {
    stl.terms = await api("GET", "/v1/settlement/terms");
    instantReady();
    chooseTerms();
  }

  function t0Hour() {
    const x = stl.terms;
    return x && x.schedule === "daily" && x.cutoff_hour ? x.cutoff_hour : T0_HOUR;
  }

  function chooseTerms() {
    const x = stl.terms;
    const choice = x.schedule === "weekly" ? "weekly" : x.cutoff_hour ? "t0" : "t1";
    $(`#d-sched-${choice}`).checked = true;
    $("#d-weekday").value = x.weekday;
    drawStatic();
  }

  $("#d-terms-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const picked = $("#d-terms-form").querySelector("input[name=d-schedule]:checked");
    const choice = picked ? picked.value : "t1";
    const body = choice === "weekly"
      ? { schedule: "weekly", cutoff_hour: 0, weekday: $("#d-weekday").value }
      : { schedule: "daily", cutoff_hour: choice === "t0" ? t0Hour() : 0 };
    act(ev.submitter, "#d-terms-out", async () => {
      stl.terms = await api("PUT", "/v1/settlement/terms", body);
      chooseTerms();
      tell("#d-terms-out", () => t("stl_terms_saved"), "ok");
    });
  });

  // Instant payouts.

  $("#d-instant").addEventListener("click", () => {
    const cur = stl.bank && stl.bank.current;
    if (!cur) { tell("#d-instant-out", () => t("err_bank-account-missing"), "err"); return; }
    $("#d-instant-text").textContent = t("stl_instant_text", {
      limit: money(instantMax()), account: accountText(cur), rate: rate(),
      fee: money(Math.round((instantMax() * instantFeePpm()) / 1000000)),
    });
    $("#d-instant-dialog").showModal();
  });

  $("#d-instant-form").addEventListener("submit", (ev) => {
    if (!ev.submitter || ev.submitter.value !== "confirm") return; // cancel closes the dialog
    ev.preventDefault();
    $("#d-instant-dialog").close();
    act($("#d-instant"), "#d-instant-out", async () => {
      const s = await Saoma.pay("/v1/settlements/instant");
      upsert(s);
      watchPayout(s);
    });
  });

  /** Where a payout is, in words of the language shown when it is said. */
  function payoutNews(s) {
    const amount = money(s.payout);
    if (s.state === "paid") return [() => t("stl_instant_paid", { amount }), "ok"];
    if (s.state === "failed") return [() => t("stl_instant_failed", { amount, reason: reason(s.failure) }), "err"];
    if (s.state === "carried" || s.state === "nothing") return [() => t("stl_instant_none"), "warn"];
    return [() => t("stl_instant_sent", { amount }), "ok"];
  }

  /** Say where the payout is, and again once the bank has answered. */
  async function watchPayout(s) {
    const news = (x) => tell("#d-instant-out", ...payoutNews(x));
    news(s);
    if (FINAL.includes(s.state)) return;
    const last = await until(async () => {
      const x = await api("GET", `/v1/settlements/${s.id}`);
      upsert(x);
      return FINAL.includes(x.state) ? x : null;
    });
    if (last) news(last);
  }

  // Settlements and their statements.

  function upsert(s) {
    const at = stl.rows.findIndex((x) => x.id === s.id);
    if (at >= 0) stl.rows[at] = s; else stl.rows.unshift(s);
    if (stl.open && stl.open.id === s.id) { stl.open = s; drawStatement(); }
    drawSettlements();
  }

  async function settlements(fresh) {
    const params = new URLSearchParams({ limit: "20" });
    if (!fresh && stl.cursor) params.set("cursor", stl.cursor);
    let page;
    try { page = await api("GET", `/v1/settlements?${params}`); } catch (err) { Saoma.toast(problem(err), "err"); return; }
    stl.rows = fresh ? page.data : stl.rows.concat(page.data);
    stl.cursor = page.next_cursor;
    drawSettlements();
  }
  $("#d-stl-more").addEventListener("click", () => settlements(false));

  /** A settlement event from the server: the row it names is read again, or the list. */
  async function settlementNews(event) {
    const id = event && event.data && event.data.id;
    if (id && stl.rows.some((x) => x.id === id)) {
      try { upsert(await api("GET", `/v1/settlements/${encodeURIComponent(id)}`)); } catch (err) { /* shown on the next read */ }
    } else {
      settlements(true);
    }
  }

  function period(s) {
    const end = Saoma.when(s.period_end);
    return s.period_start ? `${Saoma.when(s.period_start)} – ${end}` : t("stl_period_until", { end });
  }

  const num = (minor) => el("td", { class: "num", text: money(minor) });

  function settlementRow(s) {
    return el("tr", { "data-settlement": s.id },
      el("td", {}, s.business_date, s.kind === "instant" ? [" ", el("span", { class: "tag", text: t("stl_instant_tag") })] : null),
      el("td", { text: period(s) }),
      // Fees and refunds were taken off: shown with a minus, so the row adds up to the net.
      num(s.gross), num(-s.fees), num(-s.refunds), num(s.splits), num(s.reserve), num(s.net), num(s.payout),
      el("td", { class: "wrap" }, el("span", { class: "state-" + s.state, "data-state": s.state, text: t("stl_state_" + s.state) }),
        s.state === "failed" ? [el("br"), el("span", { class: "small", text: reason(s.failure) })] : null),
      el("td", { class: "small", text: s.bank_reference || "—" }),
      el("td", {}, el("button", { type: "button", class: "secondary", text: t("stl_statement"), onclick: () => openStatement(s) })));
  }

  function drawSettlements() {
    $("#d-stl-more").hidden = !stl.cursor;
    $("#d-stl-rows").replaceChildren(...(stl.rows.length ? stl.rows.map(settlementRow)
      : [el("tr", {}, el("td", { colspan: "12", class: "muted", text: t("stl_none") }))]));
  }

  async function openStatement(s) {
    stl.open = s;
    stl.opened += 1; // which opening a page of lines answers
    stl.lines = [];
    stl.linesCursor = null;
    $("#d-stmt-csv").href = `/v1/settlements/${encodeURIComponent(s.id)}/statement.csv`;
    $("#d-stmt-csv").setAttribute("download", `saoma-${s.id}.csv`);
    tell("#d-stmt-out", null, "ok");
    $("#d-stmt").hidden = false;
    drawStatement();
    $("#d-stmt-title").focus();
    await statementLines();
  }

  async function statementLines() {
    const s = stl.open;
    const opened = stl.opened;
    const params = new URLSearchParams({ limit: "50" });
    if (stl.linesCursor) params.set("cursor", stl.linesCursor);
    let page;
    try { page = await api("GET", `/v1/settlements/${encodeURIComponent(s.id)}/lines?${params}`); } catch (err) {
      tell("#d-stmt-out", () => problem(err), "err");
      return;
    }
    // Closed, or opened again meanwhile (a settlement refreshed by the payout's watch is the
    // same opening: its row is replaced, not the statement).
    if (!stl.open || stl.opened !== opened) return;
    stl.lines = stl.lines.concat(page.data);
    stl.linesCursor = page.next_cursor;
    drawStatement();
  }
  $("#d-stmt-more").addEventListener("click", statementLines);

  function drawStatement() {
    const s = stl.open;
    if (!s) return;
    $("#d-stmt-title").textContent = t("stl_stmt_title", { date: s.business_date });
    const figures = [
      ["stl_period", period(s)], ["gross", money(s.gross)], ["fees", money(-s.fees)], ["refunds", money(-s.refunds)],
      ["stl_splits", money(s.splits)], ["stl_reserve", money(s.reserve)], ["stl_other", money(s.other)],
      ["stl_carried_in", money(s.carried_in)], ["net", money(s.net)], ["stl_carried_out", money(s.carried_out)],
      ["stl_payout", money(s.payout)], ["state", t("stl_state_" + s.state)],
      s.state === "failed" ? ["stl_why", reason(s.failure)] : null,
      s.paid_at ? ["stl_paid_at", Saoma.when(s.paid_at)] : null,
      ["stl_bank_ref", s.bank_reference || "—"], ["stl_lines", String(s.lines)],
    ].filter(Boolean);
    $("#d-stmt-figures").replaceChildren(...figures.flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", { text: v })]));
    $("#d-stmt-lines").replaceChildren(...stl.lines.map((l) => el("tr", { "data-line": l.transfer_id },
      el("td", { text: Saoma.when(l.time) }),
      el("td", { text: t("line_" + (LINE_KINDS.includes(l.kind) ? l.kind : "other")) }),
      el("td", { class: "num", text: money(l.amount) }),
      el("td", { class: "small", text: l.payment_id || "—" }),
      el("td", { class: "small", text: l.refund_id || "—" }))));
    $("#d-stmt-more").hidden = !stl.linesCursor;
  }

  $("#d-stmt-close").addEventListener("click", () => {
    const id = stl.open && stl.open.id;
    stl.open = null;
    $("#d-stmt").hidden = true;
    const back = id && $(`#d-stl-rows tr[data-settlement="${CSS.escape(id)}"] button`);
    (back || $("#d-stl-title")).focus();
  });

  // JSON: every line, read page by page, in one file made here.
  $("#d-stmt-json").addEventListener("click", (ev) => act(ev.target, "#d-stmt-out", async () => {
    const id = stl.open.id;
    const settlement = await api("GET", `/v1/settlements/${encodeURIComponent(id)}`);
    const lines = [];
    let next = null;
    do {
      const params = new URLSearchParams({ limit: "100" });
      if (next) params.set("cursor", next);
      const page = await api("GET", `/v1/settlements/${encodeURIComponent(id)}/lines?${params}`);
      lines.push(...page.data);
      next = page.next_cursor;
    } while (next);
    const blob = new Blob([JSON.stringify({ settlement, lines }, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: `saoma-${id}.json`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    tell("#d-stmt-out", () => t("stl_json_done", { count: lines.length }), "ok");
  }));

  document.addEventListener("saoma:lang", () => {
    if (!shop || $("#d-main").hidden) return;
    drawStatic();
    drawBank();
    drawSettlements();
    drawStatement();
    notices.forEach((id) => { const node = $(id); if (node.saomaMake) say(node, node.saomaMake(), node.className.split(" ")[1]); });
  });

  document.addEventListener("saoma:lang", () => {
    if (!shop || $("#d-main").hidden) return;
    $("#d-name").textContent = Saoma.merchantName(shop);
    frozen();
    drawSummary();
    payments(true);
    statementLink();
    drawSticker();
    SaomaCampaigns.draw();
    drawDeliveries();
    keys();
    webhookSecret();
    SaomaDisputes.refresh().catch(() => {});
    SaomaAccess.load("/v1/merchant/access-log", $("#d-access-list"));
  });
  document.addEventListener("DOMContentLoaded", start);
})();

/* Services in the wallet: mini-programs opened in a sandboxed frame, and the bridge's answers.

   A service talks to the wallet only by postMessage (saoma-bridge.js, version 1). A message
   counts only if it comes from the frame the wallet opened (event.source) and from the origin
   the service registered (event.origin); anything else is ignored, unanswered. Whatever a
   service asks, the payer answers in the wallet's own sheet, a modal dialog drawn over the
   frame: the consent to share profile data, the payment, the hold or the mandate with its PIN
   pad, the scanner. The service learns {ok: true} (with a code, or the scanned text) or a refusal slug;
   never the PIN, never the wallet's own data.

   The frame: sandbox="allow-scripts allow-forms allow-same-origin". allow-same-origin keeps the
   service in its own origin, which is another origin than the wallet's: without it the frame
   would be an opaque origin ("null") that the wallet could not tell from any other page. With
   it the frame still cannot reach the wallet's DOM, storage or cookies (cross-origin), and the
   wallet refuses to frame its own origin, the one case where the flag would let a frame lift
   its sandbox. No allow-popups, no allow-top-navigation: a service cannot lead the payer away.
*/
"use strict";

Object.assign(DICT.en, {
  mini_services: "Services", mini_granted: "Services I have authorised", mini_close: "Close",
  mini_none: "No service yet.", mini_granted_none: "You have not authorised any service.",
  mini_revoke: "Revoke", mini_revoked: "{name} can no longer read your data.",
  mini_may_read: "May read: {what}", mini_only_you: "only that it is you",
  mini_login_title: "{name} asks to know who you are",
  mini_login_intro: "If you agree, {name} receives:",
  mini_scope_id: "An id for you in this service only",
  mini_scope_masked_name: "Your name, masked: {value}", mini_scope_phone: "Your confirmed phone number",
  mini_agree: "Agree", mini_pay_for: "{service} asks you to pay {name}",
  mini_hold_for: "{service} asks you to allow a hold for {name}",
  mini_scan_title: "Scan a code for {service}", mini_scan_use: "Use this code",
  mini_pin_hint: "Only the wallet sees your PIN; the service learns whether you paid.",
  mini_paid: "Paid {amount} to {name}.", mini_held: "{amount} reserved for {name}.",
  mini_from: "Served from {origin}",
  mini_mandate_for: "{service} asks you to let {name} debit you regularly",
  mini_mandate_max: "At most {amount} a debit", mini_mandate_period: "From {start} to {end}",
  mini_mandate_by: "Debited by {name}",
  mini_mandate_notice: "A notice comes a day before each debit. Pause or revoke at any time under Mandates.",
  mini_mandate_pin_hint: "Only the wallet sees your PIN; the service learns whether you agreed.",
  mini_mandate_agreed: "{name} may now debit you as agreed.",
});

Object.assign(DICT.zh, {
  mini_services: "服务", mini_granted: "已授权的服务", mini_close: "关闭",
  mini_none: "暂无服务。", mini_granted_none: "你还没有授权任何服务。",
  mini_revoke: "撤销授权", mini_revoked: "{name} 已不能再读取你的信息。",
  mini_may_read: "可读取：{what}", mini_only_you: "仅确认是你本人",
  mini_login_title: "{name} 申请确认你的身份",
  mini_login_intro: "同意后，{name} 将获得：",
  mini_scope_id: "你在该服务中的专属编号",
  mini_scope_masked_name: "你的姓名（部分隐藏）：{value}", mini_scope_phone: "你已确认的手机号",
  mini_agree: "同意", mini_pay_for: "{service} 请你向 {name} 付款",
  mini_hold_for: "{service} 请你同意 {name} 的押金预授权",
  mini_scan_title: "为 {service} 扫码", mini_scan_use: "使用这个码",
  mini_pin_hint: "只有钱包能看到你的支付密码；服务只知道你是否付款。",
  mini_paid: "已向 {name} 支付 {amount}。", mini_held: "已为 {name} 冻结 {amount}。",
  mini_from: "服务地址：{origin}",
  mini_mandate_for: "{service} 请你同意 {name} 定期扣款",
  mini_mandate_max: "每次最多 {amount}", mini_mandate_period: "{start} 至 {end}",
  mini_mandate_by: "扣款商户：{name}",
  mini_mandate_notice: "每次扣款前一天会先通知你。可随时在“自动扣款”中暂停或解约。",
  mini_mandate_pin_hint: "只有钱包能看到你的支付密码；服务只知道你是否同意。",
  mini_mandate_agreed: "已同意 {name} 按约定扣款。",
});

(() => {
  const { t, api, pay, guard, say, show, el, $, human, money } = Saoma;
  const VERSION = 1;
  const SANDBOX = "allow-scripts allow-forms allow-same-origin";
  // As the server masks it (saoma.payments.views.masked_name): the last character of a Chinese
  // name, the last word of a Latin one.
  const maskedName = (name) => {
    const n = name.trim();
    if (!n) return "";
    return /^[\x00-\x7f]*$/.test(n) ? "*" + n.split(/\s+/).pop() : "*" + Array.from(n).pop();
  };
  const SCOPE_WORDS = { "profile.masked_name": "mini_scope_masked_name", "profile.phone": "mini_scope_phone" };
  let opened = null; // { mp, frame }: the service on screen
  let asking = null; // { id, kind, ... }: the request the sheet is answering
  let stopCamera = null;
  let me = null;

  const nameOf = (mp) => (Saoma.lang === "zh" && mp.name_zh ? mp.name_zh : mp.name);
  const scopeWords = (scopes) => (scopes.length
    ? scopes.map((s) => t(SCOPE_WORDS[s] || s, { value: "" }).replace(/[:：]\s*$/, "")).join(", ")
    : t("mini_only_you"));

  // --- the lists ------------------------------------------------------------------------------

  async function showServices() {
    await guard(null, "#mini-out", async () => {
      const [listed, granted] = await Promise.all([
        api("GET", "/v1/mini-programs"), api("GET", "/v1/me/mini-program-grants"),
      ]);
      $("#mini-list").replaceChildren(...(listed.data.length ? listed.data.map(serviceItem)
        : [el("li", { class: "muted", text: t("mini_none") })]));
      $("#mini-grants").replaceChildren(...(granted.data.length ? granted.data.map(grantItem)
        : [el("li", { class: "muted", text: t("mini_granted_none") })]));
    });
  }

  function serviceItem(mp) {
    return el("li", {}, el("button", {
      type: "button", class: "secondary mini-open", dataset: { mini: mp.id },
      onclick: () => openService(mp),
    }, el("img", { src: mp.icon, alt: "", class: "mini-icon" }), el("span", { text: nameOf(mp) })));
  }

  function grantItem(g) {
    const revoke = el("button", { type: "button", class: "secondary", text: t("mini_revoke") });
    revoke.setAttribute("aria-label", `${t("mini_revoke")}: ${nameOf(g)}`);
    revoke.addEventListener("click", (ev) => guard(ev.target, "#mini-out", async () => {
      await api("DELETE", `/v1/me/mini-program-grants/${encodeURIComponent(g.id)}`);
      await showServices();
      say("#mini-out", t("mini_revoked", { name: nameOf(g) }), "ok");
    }));
    return el("li", { class: "row" },
      el("img", { src: g.icon, alt: "", class: "mini-icon" }),
      el("div", {}, el("strong", { text: nameOf(g) }),
        el("div", { class: "small muted", text: t("mini_may_read", { what: scopeWords(g.granted_scopes) }) })),
      revoke);
  }

  // --- the frame ------------------------------------------------------------------------------

  function openService(mp) {
    if (new URL(mp.origin).origin === location.origin) return; // never frame the wallet itself
    closeService();
    const frame = el("iframe", {
      src: mp.origin + "/", sandbox: SANDBOX, title: nameOf(mp), class: "mini-frame",
      referrerpolicy: "no-referrer",
    });
    opened = { mp, frame };
    $("#mini-title").textContent = nameOf(mp);
    $("#mini-origin").textContent = t("mini_from", { origin: mp.origin });
    $("#mini-frame-box").replaceChildren(frame);
    show("v-mini");
    api("GET", "/v1/me").then((found) => { me = found; }).catch(() => {});
  }

  function closeService() {
    if (asking) finish(false, "cancelled");
    opened = null;
    $("#mini-frame-box").replaceChildren();
  }

  function reply(id, ok, value) {
    if (!opened) return;
    const message = ok
      ? { saoma: "bridge", v: VERSION, id, ok: true, result: value || {} }
      : { saoma: "bridge", v: VERSION, id, ok: false, error: value };
    opened.frame.contentWindow.postMessage(message, opened.mp.origin);
  }

  const HANDLERS = {
    login: askLogin, requestPayment: askPayment, requestHold: askHold, requestMandate: askMandate,
    scanCode: askScan,
  };

  window.addEventListener("message", (event) => {
    if (!opened || event.source !== opened.frame.contentWindow) return;
    if (event.origin !== opened.mp.origin) return;
    const m = event.data;
    if (!m || typeof m !== "object" || m.saoma !== "bridge") return;
    if (typeof m.id !== "string" || !m.id || m.id.length > 64) return;
    if (m.v !== VERSION) { reply(m.id, false, "unsupported-version"); return; }
    if (asking) { reply(m.id, false, "busy"); return; }
    const handler = Object.prototype.hasOwnProperty.call(HANDLERS, m.method) ? HANDLERS[m.method] : null;
    if (!handler) { reply(m.id, false, "unknown-method"); return; }
    handler(m.id, m.params && typeof m.params === "object" ? m.params : {});
  });

  // --- the sheet ------------------------------------------------------------------------------

  const pinPad = PinPad.attach($("#ms-pin"), () => $("#ms-form").requestSubmit());

  function openSheet(request, title, okWord) {
    asking = request;
    for (const part of ["#ms-amount", "#ms-was", "#ms-offer", "#ms-scopes", "#ms-terms", "#ms-scan", "#ms-pinpad"]) {
      $(part).hidden = true;
    }
    $("#ms-pin-hint").textContent = t("mini_pin_hint");
    $("#ms-service").textContent = t("mini_from", { origin: opened.mp.origin });
    $("#ms-title").textContent = title;
    $("#ms-details").textContent = "";
    $("#ms-ok").textContent = okWord;
    $("#ms-ok").disabled = false;
    say("#ms-out", "", "ok");
    pinPad.clear();
    if (!$("#mini-sheet").open) $("#mini-sheet").showModal();
  }

  /** Close the sheet and answer the request it was showing. */
  function finish(ok, value) {
    const request = asking;
    asking = null;
    if (stopCamera) { stopCamera(); stopCamera = null; }
    if ($("#mini-sheet").open) $("#mini-sheet").close();
    if (request) reply(request.id, ok, value);
  }

  $("#ms-cancel").addEventListener("click", () => finish(false, (asking && asking.failed) || "cancelled"));
  $("#mini-sheet").addEventListener("cancel", (ev) => {
    ev.preventDefault(); // Escape: the same as Cancel, answered
    finish(false, (asking && asking.failed) || "cancelled");
  });

  $("#ms-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!asking || asking.busy) return;
    const request = asking;
    request.busy = true;
    guard($("#ms-ok"), "#ms-out", () => request.confirm()).finally(() => { request.busy = false; });
  });

  // --- login(scopes) --------------------------------------------------------------------------

  async function askLogin(id, params) {
    const mp = opened.mp;
    asking = { id, busy: true }; // one request at a time, from here on
    if (!me) me = await api("GET", "/v1/me").catch(() => null);
    asking = null;
    const scopes = Array.isArray(params.scopes) ? params.scopes : null;
    if (!scopes || scopes.some((s) => typeof s !== "string" || !mp.scopes.includes(s))) {
      reply(id, false, "scope-not-registered");
      return;
    }
    const wanted = mp.scopes.filter((s) => scopes.includes(s));
    openSheet({ id, confirm: async () => {
      const given = await api("POST", `/v1/me/mini-programs/${encodeURIComponent(mp.id)}/authorizations`, { scopes: wanted });
      finish(true, { code: given.code, scope: given.scope });
    } }, t("mini_login_title", { name: nameOf(mp) }), t("mini_agree"));
    $("#ms-details").textContent = t("mini_login_intro", { name: nameOf(mp) });
    const masked = maskedName(me && me.display_name ? me.display_name : "");
    $("#ms-scopes").replaceChildren(el("li", { text: t("mini_scope_id") }),
      ...wanted.map((s) => el("li", { text: t(SCOPE_WORDS[s], { value: masked }) })));
    $("#ms-scopes").hidden = false;
  }

  // --- requestPayment(order_id), requestHold(hold_id) -----------------------------------------

  function askPayment(id, params) { askMoney(id, "orders", params.order_id); }
  function askHold(id, params) { askMoney(id, "holds", params.hold_id); }

  async function askMoney(id, what, objectId) {
    if (typeof objectId !== "string" || !/^[\w-]{1,64}$/.test(objectId)) {
      reply(id, false, "invalid-request");
      return;
    }
    const mp = opened.mp;
    asking = { id, busy: true }; // one request at a time, from the preview on
    let preview;
    try {
      preview = await api("GET", `/v1/me/mini-programs/${encodeURIComponent(mp.id)}/${what}/${objectId}`);
    } catch (err) {
      finish(false, err.slug);
      return;
    }
    const gone = preview.kind === "hold" ? preview.state !== "requested" : preview.state !== "created";
    if (gone) { finish(false, `${preview.kind}-${preview.state}`); return; }
    moneySheet(id, mp, preview);
  }

  function moneySheet(id, mp, p) {
    const name = Saoma.merchantName(p.merchant);
    const hold = p.kind === "hold";
    const toPay = p.offer ? p.offer.pay_amount : p.amount;
    const request = { id, confirm: async () => {
      const pin = $("#ms-pin").value.trim();
      if (!/^\d{6}$/.test(pin)) { pinPad.focus(); throw new Saoma.ApiError({ type: "/pin-required" }, 401); }
      try {
        if (hold) await pay(p.consent_url, { pin });
        else await pay(p.pay_url, { pin, offer_id: p.offer ? p.offer.offer_id : null });
      } catch (err) {
        pinPad.clear();
        request.failed = err.slug;
        throw err;
      }
      finish(true, {});
      Saoma.toast(t(hold ? "mini_held" : "mini_paid", { amount: money(toPay, p.currency), name }), "ok");
    } };
    openSheet(request, t(hold ? "mini_hold_for" : "mini_pay_for", { service: nameOf(mp), name }),
      hold ? t("confirm_allow") : t("pay_amount", { amount: money(toPay, p.currency) }));
    $("#ms-amount").textContent = money(toPay, p.currency);
    $("#ms-amount").hidden = false;
    $("#ms-was").hidden = !p.offer;
    $("#ms-original").textContent = p.offer ? money(p.amount, p.currency) : "";
    const details = [p.description, hold ? t("hold_text", { name, time: Saoma.when(p.expires_at) }) : ""];
    $("#ms-details").textContent = details.filter(Boolean).join(" · ");
    if (p.offer) {
      $("#ms-offer").textContent = t(p.offer.coupon ? "offer_line_coupon" : "offer_line", {
        name: p.offer.reason, discount: money(p.offer.discount), amount: money(p.offer.pay_amount),
      });
      $("#ms-offer").hidden = false;
    }
    $("#ms-pinpad").hidden = false;
    pinPad.focus();
  }

  // --- requestMandate(mandate_id) -------------------------------------------------------------

  async function askMandate(id, params) {
    const mandateId = params.mandate_id;
    if (typeof mandateId !== "string" || !/^[\w-]{1,64}$/.test(mandateId)) {
      reply(id, false, "invalid-request");
      return;
    }
    const mp = opened.mp;
    asking = { id, busy: true }; // one request at a time, from the preview on
    let m;
    try {
      // Refused unless the mandate is this payer's and the service's own merchant asked for it.
      m = await api("GET", `/v1/me/mini-programs/${encodeURIComponent(mp.id)}/mandates/${mandateId}`);
    } catch (err) {
      finish(false, err.slug);
      return;
    }
    if (m.state !== "requested") { finish(false, `mandate-${m.state}`); return; }
    mandateSheet(id, mp, m);
  }

  function mandateSheet(id, mp, m) {
    const name = Saoma.merchantName(m.merchant);
    const request = { id, confirm: async () => {
      const pin = $("#ms-pin").value.trim();
      if (!/^\d{6}$/.test(pin)) { pinPad.focus(); throw new Saoma.ApiError({ type: "/pin-required" }, 401); }
      try {
        await api("POST", `/v1/me/mandates/${encodeURIComponent(m.id)}/agree`, { pin });
      } catch (err) {
        pinPad.clear();
        request.failed = err.slug;
        throw err;
      }
      finish(true, {});
      Saoma.toast(t("mini_mandate_agreed", { name }), "ok");
    } };
    openSheet(request, t("mini_mandate_for", { service: nameOf(mp), name }), t("md_agree"));
    $("#ms-amount").textContent = money(m.amount_max, m.currency);
    $("#ms-amount").hidden = false;
    $("#ms-details").textContent = m.purpose;
    $("#ms-terms").replaceChildren(...[
      t("mini_mandate_max", { amount: money(m.amount_max, m.currency) }),
      t("md_freq_" + m.frequency),
      t("mini_mandate_period", { start: m.start_on, end: m.end_on }),
      t("mini_mandate_by", { name }),
      t("mini_mandate_notice"),
    ].map((text) => el("li", { text })));
    $("#ms-terms").hidden = false;
    $("#ms-pin-hint").textContent = t("mini_mandate_pin_hint");
    $("#ms-pinpad").hidden = false;
    pinPad.focus();
  }

  // --- scanCode() -----------------------------------------------------------------------------

  function askScan(id) {
    openSheet({ id, confirm: async () => {
      const text = $("#ms-text").value.trim();
      if (text) finish(true, { text });
    } }, t("mini_scan_title", { service: nameOf(opened.mp) }), t("mini_scan_use"));
    $("#ms-text").value = "";
    $("#ms-scan").hidden = false;
    $("#ms-camera").closest(".camera").hidden = false;
    Scan.camera($("#ms-camera"), (text) => { stopCamera = null; finish(true, { text }); })
      .then((stop) => { if (asking && asking.id === id) stopCamera = stop; else stop(); })
      .catch(() => { $("#ms-camera").closest(".camera").hidden = true; });
  }

  document.addEventListener("saoma:view", (ev) => {
    if (ev.detail !== "v-mini" && opened) closeService();
    if (ev.detail === "v-services") showServices();
  });
  document.addEventListener("saoma:lang", () => { if (!$("#v-services").hidden) showServices(); });
})();

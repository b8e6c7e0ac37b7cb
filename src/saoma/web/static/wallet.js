/* The consumer wallet: sign in, balance, scan and pay, payment codes, people, history. */
"use strict";

(() => {
  const { t, money, api, pay, guard, say, show, el, $, human, parseAmount } = Saoma;
  let me = null;
  let current = null; // the preview being confirmed
  let stopCamera = null;
  let stopEvents = () => {};

  // --- sign in / up ----------------------------------------------------------------------------

  async function start() {
    try {
      me = await api("GET", "/v1/me");
      localStorage.setItem("saoma.me", JSON.stringify(me));
    } catch (err) {
      if (err.status === 401) { localStorage.removeItem("saoma.me"); show("v-signin"); return; }
      const known = JSON.parse(localStorage.getItem("saoma.me") || "null");
      if (err.slug === "network" && known) { // offline: the payment code still works
        me = known;
        offline();
        return;
      }
      Saoma.toast(human(err), "err");
      return;
    }
    listen();
    const packet = /[#&]packet=([\w-]+)/.exec(location.hash);
    if (packet) { openPacket(packet[1]); return; }
    home();
  }

  function listen() {
    stopEvents();
    stopEvents = Saoma.listen("/v1/me/events", {
      "charge.waiting": () => refreshCharges(),
      "payment.succeeded": (e) => onPaid(e),
      "transfer.received": () => refreshHome(),
      "refund.succeeded": () => refreshHome(),
      "red_packet.claimed": () => refreshHome(),
      "hold.held": () => refreshHome(),
      "hold.captured": () => refreshHome(),
      "hold.released": () => refreshHome(),
    });
  }

  // Back online: the money on the home screen may have moved meanwhile.
  window.addEventListener("online", () => { if (me && !$("#v-home").hidden) refreshHome(); });

  Saoma.signInForm("#signin-form", "consumer", "#si-login", "#si-password", "#signin-out", start);

  $("#signup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const password = $("#su-password").value;
    const pin = $("#su-pin").value.trim();
    if (password.length < 8) { say("#signup-out", t("password_rule"), "err"); return; }
    if (!/^\d{6}$/.test(pin)) { say("#signup-out", t("err_pin-required"), "err"); return; }
    guard(ev.submitter, "#signup-out", async () => {
      const opened = await api("POST", "/web/consumers", {
        login: $("#su-login").value.trim(), password, display_name: $("#su-name").value.trim(),
      });
      await api("PUT", "/v1/me/pin", { pin, password });
      await start();
      openVerify(opened.verification.identifier);
    });
  });

  // --- owning the phone or e-mail: the one-time code -------------------------------------------

  let verifying = null; // the phone or e-mail whose code is being typed

  function openVerify(identifier) {
    verifying = identifier;
    $("#vf-sent").textContent = t("verify_sent", { to: identifier });
    $("#vf-code").value = "";
    say("#verify-out", "", "ok");
    show("v-verify");
    showSandboxMessage();
  }

  /** Demo mode: what the sandbox "sent", since no SMS or e-mail leaves the installation. */
  async function showSandboxMessage() {
    const box = $("#vf-sandbox");
    box.hidden = true;
    if (!Saoma.demo) return;
    const sent = await api("GET", `/v1/sandbox/messages?to=${encodeURIComponent(verifying)}&limit=1`)
      .catch(() => null);
    if (sent && sent.data.length) {
      box.textContent = t("verify_sandbox", { text: sent.data[0].body });
      box.hidden = false;
    }
  }

  $("#verify-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("#vf-code").value.trim();
    guard(ev.submitter, "#verify-out", async () => {
      await api("POST", "/v1/me/identifiers/verify", { identifier: verifying, code });
      Saoma.toast(t("verify_done", { to: verifying }), "ok");
      verifying = null;
      home();
    });
  });
  $("#vf-resend").addEventListener("click", (ev) => guard(ev.target, "#verify-out", async () => {
    await api("POST", "/v1/me/identifiers/code", { identifier: verifying });
    say("#verify-out", t("verify_resent"), "ok");
    showSandboxMessage();
  }));
  $("#unverified-go").addEventListener("click", () => openVerify($("#unverified").dataset.identifier));

  async function refreshIdentifiers() {
    const claims = (await api("GET", "/v1/me/identifiers").catch(() => ({ data: [] }))).data;
    const waiting = claims.find((i) => !i.verified);
    $("#unverified").hidden = !waiting;
    if (waiting) {
      $("#unverified").dataset.identifier = waiting.identifier;
      $("#unverified-text").textContent = t("unverified", { to: waiting.identifier });
    }
    $("#ids-list").replaceChildren(...claims.map((i) => el("li", {},
      el("span", { class: "grow", text: i.identifier }),
      el("span", { class: "small muted", text: t(i.verified ? "id_verified" : "id_unverified") }),
      i.verified ? null : el("button", { type: "button", class: "secondary", text: t("verify"),
        onclick: () => openVerify(i.identifier) }))));
  }

  $("#add-id-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#ids-out", async () => {
      const added = await api("POST", "/v1/me/identifiers", { identifier: $("#ai-value").value.trim() });
      $("#ai-value").value = "";
      openVerify(added.identifier);
    });
  });
  $("#to-signup").addEventListener("click", () => show("v-signup"));
  $("#to-signin").addEventListener("click", () => show("v-signin"));

  // --- home ------------------------------------------------------------------------------------

  function offline() {
    $("#hello").textContent = me.display_name || me.login;
    frozen();
    $("#balance").textContent = "—"; // unknown until back online; the banner says so (wallet-extras.js)
    show("v-home");
    // Back online: refresh in place, whatever screen the payer is on.
    window.addEventListener("online", () => { listen(); refreshHome(); }, { once: true });
  }

  async function refreshHome() {
    try {
      me = await api("GET", "/v1/me");
    } catch (err) { return; }
    $("#hello").textContent = me.display_name || me.login;
    frozen();
    // The big figure is what the payer can spend; money reserved by holds is shown apart.
    $("#balance").textContent = money(me.available, me.currency);
    const reserved = me.held || 0;
    $("#reserved").hidden = reserved === 0;
    $("#reserved").textContent = `${t("reserved")}: ${money(reserved, me.currency)}`;
    refreshCharges();
    refreshIdentifiers();
  }

  /** The freeze in force, if any: the notice, and the ways money leaves turned off. */
  function frozen() {
    const access = el("button", { type: "button", class: "plain", "data-go": "v-access", text: t("frozen_access") });
    SaomaFrozen.render($("#frozen"), me.freeze || null, "wallet", access);
    for (const tile of document.querySelectorAll("#v-home [data-frozen]")) {
      tile.disabled = Boolean(me.freeze);
      if (me.freeze) tile.setAttribute("aria-describedby", "frozen-rules");
      else tile.removeAttribute("aria-describedby");
    }
  }

  function home() {
    resume = null;
    show("v-home");
    refreshHome();
  }

  document.addEventListener("click", (ev) => {
    const go = ev.target.closest("[data-go]");
    if (!go) return;
    const view = go.dataset.go;
    if (view === "v-home") { home(); return; }
    show(view);
  });

  document.addEventListener("saoma:view", (ev) => {
    if (ev.detail !== "v-scan" && stopCamera) { stopCamera(); stopCamera = null; }
    if (ev.detail === "v-scan") startScan();
    if (ev.detail === "v-paycode") showPaycode();
    if (ev.detail !== "v-paycode") stopPaycode();
    if (ev.detail === "v-receive") showReceive();
    if (ev.detail === "v-history") showHistory();
    if (ev.detail === "v-settings") showSettings();
  });
  document.addEventListener("saoma:lang", () => {
    if (me && !$("#v-home").hidden) refreshHome();
    if (current && !$("#v-confirm").hidden) renderConfirm();
    if (packetShown && !$("#v-packet-open").hidden) openPacket(packetShown);
    showWho();
  });

  // --- top up ----------------------------------------------------------------------------------

  $("#topup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const amount = parseAmount($("#tu-amount").value);
    if (!amount) { say("#topup-out", t("err_bad-amount"), "err"); return; }
    guard(ev.submitter, "#topup-out", async () => {
      const transfer = await pay("/v1/me/top-ups", { amount, currency: me.currency });
      say("#topup-out", t("top_up_sent", { amount: money(amount) }), "ok");
      for (let i = 0; i < 100; i++) {
        const now = await api("GET", `/v1/me/bank-transfers/${transfer.id}`);
        if (now.state === "succeeded") {
          say("#topup-out", t("top_up_done", { amount: money(amount) }), "ok");
          $("#tu-amount").value = "";
          if (resumePayment(amount)) { refreshHome(); return; }
          refreshHome();
          return;
        }
        if (now.state !== "pending") { say("#topup-out", t("top_up_declined"), "err"); return; }
        await new Promise((r) => setTimeout(r, 300));
      }
    });
  });

  // --- scan ------------------------------------------------------------------------------------

  let refused = null; // the last code refused: the camera keeps looking rather than read it again

  /** Opening the scan screen: a clean slate, then the camera. */
  function startScan() {
    say("#scan-out", "", "ok");
    $("#scan-text").value = "";
    refused = null;
    startCamera();
  }

  /** The camera only: a refusal on the screen and the typed text stay where they are. */
  async function startCamera() {
    try {
      stopCamera = await Scan.camera($("#camera"), (text) => {
        stopCamera = null;
        if (text === refused) startCamera(); else readCode(text);
      });
      $("#scan-camera").hidden = true;
    } catch (err) {
      say("#scan-camera", t("camera_off"), "warn");
    }
  }

  // Back online on the scan screen: the camera looks again (it stopped at the code it could not read).
  window.addEventListener("online", () => {
    if ($("#v-scan").hidden) return;
    say("#scan-out", "", "ok");
    if (!stopCamera) startCamera();
  });

  // The refusal stays until the payer changes what they typed or scans again.
  $("#scan-text").addEventListener("input", () => say("#scan-out", "", "ok"));

  $("#scan-file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    say("#scan-out", "", "ok");
    const text = await Scan.fromFile(file).catch(() => null);
    ev.target.value = "";
    if (!text) { say("#scan-out", t("no_code_in_photo"), "err"); return; }
    readCode(text);
  });

  $("#paste-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("#scan-text").value.trim();
    if (text) readCode(text);
  });

  async function readCode(text) {
    // Offline nothing can be read: say it waits for the connection (the camera stops looking).
    if (!navigator.onLine) { say("#scan-out", t("offline_scan"), "warn"); return; }
    const packet = /\/p\/([\w-]+)\s*$/.exec(text);
    if (packet) { openPacket(packet[1]); return; }
    if (SaomaCoupons.read(text)) return; // a shop's coupon: wallet-coupons.js
    let read = false;
    await guard(null, "#scan-out", async () => {
      current = await api("POST", "/v1/codes/preview", { payload: text });
      current.payload = text;
      read = true;
      $("#cf-amount").value = "";
      $("#cf-note").value = "";
      openConfirm();
    });
    if (!read) refused = text;
    if (!$("#v-scan").hidden && !stopCamera) startCamera();
  }

  // --- confirm ---------------------------------------------------------------------------------

  let paying = false; // one payment at a time, whatever submits the form
  let resume = null; // the payment waiting for a top-up, to come back to
  const pinPad = PinPad.attach($("#cf-pin"), () => $("#confirm-form").requestSubmit());

  function payeeName(p) {
    if (p.kind === "transfer") return p.name;
    return p.kind === "person" ? p.person.display_name : Saoma.merchantName(p.merchant);
  }

  /** The price asked or typed, before any discount (null while nothing valid is typed). */
  function priceOf(p) {
    if (p.kind === "static" || p.kind === "person") return parseAmount($("#cf-amount").value);
    return p.amount;
  }

  function confirmTitle(p, name) {
    if (p.kind === "hold") return t("allow_hold", { name });
    if (p.kind === "person" || p.kind === "transfer") return t("person_pay", { name });
    return t("pay_to", { name });
  }

  function confirmButton(p, toPay) {
    if (p.kind === "hold") return t("confirm_allow");
    const sending = p.kind === "person" || p.kind === "transfer";
    if (!toPay) return t(sending ? "send" : "confirm_pay");
    return t(sending ? "send_amount" : "pay_amount", { amount: money(toPay, p.currency) });
  }

  function confirmDetails(p, name) {
    const details = [];
    if (p.description) details.push(p.description);
    if (p.kind === "hold") details.push(t("hold_text", { name, time: Saoma.when(p.expires_at) }));
    else if (p.expires_at) details.push(t("expires", { time: Saoma.when(p.expires_at) }));
    if (p.kind === "transfer" && p.waits) details.push(t("recipient_waits"));
    if (p.kind === "transfer" && p.note) details.push(p.note);
    return details.join(" · ");
  }

  function renderConfirm() {
    const p = current;
    const name = payeeName(p);
    const typed = p.kind === "static" || p.kind === "person";
    $("#confirm-title").textContent = confirmTitle(p, name);
    $("#confirm-amount-field").hidden = !typed;
    $("#confirm-note-field").hidden = !typed;
    // The amount to pay, large; the price before a discount struck through beside it.
    const price = priceOf(p);
    const offer = price ? p.offer : null;
    const toPay = offer ? offer.pay_amount : price;
    $("#confirm-amount").textContent = toPay ? money(toPay, p.currency) : "";
    $("#confirm-amount").hidden = !toPay;
    $("#confirm-was").hidden = !offer;
    $("#confirm-original").textContent = offer ? money(price, p.currency) : "";
    $("#confirm-details").textContent = confirmDetails(p, name);
    $("#confirm-offer").hidden = !offer;
    if (offer) {
      $("#confirm-offer").textContent = t(offer.coupon ? "offer_line_coupon" : "offer_line", {
        name: offer.reason, discount: money(offer.discount), amount: money(offer.pay_amount),
      });
    }
    $("#confirm-button").textContent = confirmButton(p, toPay);
    const gone = (p.kind === "order" && p.state !== "created") ||
      (p.kind === "hold" && p.state !== "requested");
    $("#confirm-button").disabled = gone;
    $("#cf-pin").disabled = gone;
    if (gone) say("#confirm-out", goneWhy(p), "err");
  }

  /** Why a scanned order or hold cannot be paid or allowed any more: a sentence, never the state. */
  function goneWhy(p) {
    const why = p.kind === "hold"
      ? { held: "hold_gone_held", captured: "err_hold-already-captured", voided: "hold_gone_voided",
        expired: "err_hold-expired" }
      : { expired: "err_order-expired", closed: "err_order-closed", paid: "err_order-paid" };
    return t(why[p.state] || (p.kind === "hold" ? "err_hold-not-open" : "err_order-not-payable"));
  }

  /** A fresh confirm screen for ``current``: no PIN typed, nothing said yet. */
  function openConfirm() {
    pinPad.clear();
    $("#confirm-topup").hidden = true;
    say("#confirm-out", "", "ok");
    renderConfirm();
    show("v-confirm");
  }

  let quoteTimer = null;
  $("#cf-amount").addEventListener("input", () => {
    if (!current) return;
    renderConfirm();
    if (current.kind !== "static") return;
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(async () => {
      const amount = parseAmount($("#cf-amount").value);
      if (!amount) { current.offer = null; renderConfirm(); return; }
      try {
        const fresh = await api("POST", "/v1/codes/preview", { payload: current.payload, amount });
        if (parseAmount($("#cf-amount").value) !== amount) return; // typed on meanwhile
        current.offer = fresh.offer;
        renderConfirm();
      } catch (err) { /* the pay button will say what is wrong */ }
    }, 250);
  });

  function submitPayment(p, pin, amount, note) {
    const offerId = p.offer ? p.offer.offer_id : null;
    if (p.kind === "order") return pay(p.pay_url, { pin, offer_id: offerId });
    if (p.kind === "static") {
      return pay(p.pay_url, { amount, note, pin, offer_id: offerId, currency: p.currency });
    }
    if (p.kind === "person") {
      return pay("/v1/transfers", { to: p.person.id, amount, note, pin, currency: p.currency });
    }
    if (p.kind === "transfer") {
      return pay("/v1/transfers", { to: p.to, amount, note, pin, currency: p.currency });
    }
    return pay(p.consent_url, { pin });
  }

  $("#confirm-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = current;
    if (!p || paying || $("#confirm-button").disabled) return;
    const pin = $("#cf-pin").value.trim();
    if (!/^\d{6}$/.test(pin)) { say("#confirm-out", t("err_pin-required"), "err"); pinPad.focus(); return; }
    const amount = priceOf(p);
    if (p.kind !== "hold" && !amount) {
      say("#confirm-out", t("err_bad-amount"), "err");
      pinPad.clear();
      $("#cf-amount").focus();
      return;
    }
    const note = p.kind === "transfer" ? p.note : $("#cf-note").value.trim();
    const toPay = p.offer ? p.offer.pay_amount : amount;
    paying = true;
    $("#confirm-topup").hidden = true;
    guard($("#confirm-button"), "#confirm-out", async () => {
      let result;
      try {
        result = await submitPayment(p, pin, amount, note);
      } catch (err) {
        pinPad.clear();
        if (err.slug === "offer-unavailable") { // ask again, never charge another amount silently
          const fresh = await api("POST", "/v1/codes/preview", {
            payload: p.payload, amount: p.kind === "static" ? amount : undefined,
          });
          current = Object.assign(fresh, { payload: p.payload });
          renderConfirm();
        }
        if (err.slug === "insufficient-funds") offerTopUp(toPay);
        throw err;
      }
      paid(p, result, amount, note);
    }).finally(() => { paying = false; });
  });

  function paid(p, result, amount, note) {
    const name = payeeName(p);
    if (p.kind === "hold") { done(t("hold_done", { amount: money(p.amount), name }), p.amount, ""); return; }
    if (p.kind === "transfer" && result.state === "waiting") {
      done(t("sent_waiting", { amount: money(amount) }), amount, t("waiting_claim", { to: p.to }));
      return;
    }
    if (p.kind === "person" || p.kind === "transfer") {
      done(t("sent_to", { amount: money(amount), name }), amount, note);
      return;
    }
    const facts = [[t("merchant"), name], [t("amount"), money(result.amount)]];
    if (result.discount) facts.push([t("discount"), "-" + money(result.discount)]);
    facts.push([t("time"), Saoma.when(result.created_at)]);
    done(t("paid", { amount: money(result.paid), name }), result.paid, p.description || note,
      facts, result.id);
  }

  /** Not enough money: top up what is missing right here, then come back to this payment. */
  async function offerTopUp(need) {
    const fresh = await api("GET", "/v1/me").catch(() => me);
    me = fresh;
    const missing = Math.max(need - (me.available ?? me.balance ?? 0), 1);
    const button = $("#confirm-topup");
    button.textContent = t("top_up_then_pay", { amount: money(missing) });
    button.hidden = false;
    button.onclick = () => {
      resume = current;
      $("#tu-amount").value = Saoma.plain(missing);
      say("#topup-out", "", "ok");
      show("v-topup");
    };
  }

  /** After a top-up made from the confirm screen: back to the same payment, PIN to type. */
  function resumePayment(amount) {
    if (!resume) return false;
    current = resume;
    resume = null;
    openConfirm();
    say("#confirm-out", t("top_up_back", { amount: money(amount) }), "ok");
    pinPad.focus();
    return true;
  }

  function done(title, amount, details, facts, receiptId) {
    $("#done-title").textContent = title;
    $("#done-amount").textContent = money(amount);
    $("#done-details").textContent = details || "";
    $("#done-facts").hidden = !facts;
    $("#done-facts").replaceChildren(...(facts || []).map(([k, v]) =>
      el("div", {}, el("dt", { text: k }), el("dd", { text: v }))));
    $("#done-receipt").hidden = !receiptId;
    $("#done-receipt").onclick = receiptId
      ? (ev) => guard(ev.target, null, () => Saoma.bills.paymentReceipt(receiptId)) : null;
    current = null;
    show("v-done");
    refreshHome();
  }

  function onPaid(event) {
    refreshHome();
    const data = event.data || {};
    if (data.kind === "paycode" && !$("#v-paycode").hidden) {
      say("#paycode-out", t("charge_paid", {
        amount: money(data.paid), name: Saoma.merchantName(data.merchant),
      }), "ok");
      rotateHandle();
    }
  }

  // --- payment code ----------------------------------------------------------------------------

  const deviceKey = () => `saoma.device.${me.id}`;
  let codeTimer = null;
  let shownStep = null;

  function device() {
    try { return JSON.parse(localStorage.getItem(deviceKey()) || "null"); } catch (e) { return null; }
  }
  function saveDevice(d) { localStorage.setItem(deviceKey(), JSON.stringify(d)); }

  async function enrol() {
    const d = await api("POST", "/v1/me/devices", { label: navigator.platform || "browser" });
    saveDevice({ id: d.device_id, secret: d.secret, step: d.step_s, handles: d.handles });
  }

  /** HMAC-SHA256(secret, handle ‖ step as 8 bytes), RFC 4226 truncation, six digits. */
  async function mac(secretB64, handle, step) {
    const raw = Uint8Array.from(atob(secretB64), (c) => c.charCodeAt(0));
    const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const msg = new Uint8Array(handle.length + 8);
    msg.set(new TextEncoder().encode(handle), 0);
    const view = new DataView(msg.buffer);
    view.setUint32(handle.length, Math.floor(step / 2 ** 32));
    view.setUint32(handle.length + 4, step >>> 0);
    const digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, msg));
    const offset = digest[digest.length - 1] & 0x0f;
    const number = ((digest[offset] & 0x7f) << 24) | (digest[offset + 1] << 16) |
      (digest[offset + 2] << 8) | digest[offset + 3];
    return String(number % 1000000).padStart(6, "0");
  }

  async function drawCode() {
    const d = device();
    if (!d || !d.handles.length) return;
    const step = Math.floor(Date.now() / 1000 / (d.step || 30));
    shownStep = step;
    const code = "28" + d.handles[0] + (await mac(d.secret, d.handles[0], step));
    const box = $("#paycode-box");
    box.replaceChildren(
      Saoma.qrSvg(code),
      Code128.svg(code),
      el("div", { class: "digits", "data-code": code, text: code.replace(/(\d{4})(?=\d)/g, "$1 ") }),
    );
    box.querySelector("svg.qr").setAttribute("aria-label", t("paycode_title"));
    box.querySelector("svg.barcode").setAttribute("aria-label", code);
    if (d.handles.length < 20 && navigator.onLine) {
      api("POST", `/v1/me/devices/${d.id}/handles`).then((more) => {
        const now = device();
        if (now && now.id === d.id) { now.handles = now.handles.concat(more.handles); saveDevice(now); }
      }).catch(() => {});
    }
  }

  function rotateHandle() {
    const d = device();
    if (!d) return;
    d.handles.shift();
    saveDevice(d);
    drawCode();
  }

  async function showPaycode() {
    say("#paycode-out", "", "ok");
    if (!device()) {
      // The device secret comes from the server once: the first Pay needs the connection.
      if (!navigator.onLine) { say("#paycode-out", t("offline_enrol"), "warn"); return; }
      await guard(null, "#paycode-out", enrol);
      if (!device()) return;
    }
    await drawCode();
    clearInterval(codeTimer);
    codeTimer = setInterval(() => {
      const d = device();
      if (d && Math.floor(Date.now() / 1000 / (d.step || 30)) !== shownStep) rotateHandle();
    }, 1000);
    refreshCharges();
  }

  function stopPaycode() { clearInterval(codeTimer); codeTimer = null; }

  // --- a till's charge waiting for the PIN --------------------------------------------------------

  async function refreshCharges() {
    if (!me) return;
    let charges = [];
    try { charges = (await api("GET", "/v1/me/charges")).data || []; } catch (e) { return; }
    for (const holder of [$("#charge-prompt"), $("#paycode-prompt")]) {
      holder.replaceChildren(...charges.map((c) => chargeCard(c)));
    }
  }

  function chargeCard(c) {
    const id = `pin-${c.id}-${Math.random().toString(36).slice(2, 7)}`;
    const out = el("p", { class: "notice", hidden: true });
    const pinInput = el("input", {
      id, class: "pin", type: "password", inputmode: "numeric", maxlength: "6", autocomplete: "off",
    });
    const answer = (accept) => guard(null, out, async () => {
      const pin = pinInput.value.trim();
      if (accept && !/^\d{6}$/.test(pin)) throw new Saoma.ApiError({ type: "/pin-required" }, 401);
      await pay(`/v1/me/charges/${c.id}/answer`, { accept, pin: accept ? pin : null });
      if (accept) {
        say("#paycode-out", t("charge_paid", { amount: money(c.amount), name: Saoma.merchantName(c.merchant) }), "ok");
        rotateHandle();
      } else {
        say("#paycode-out", t("charge_declined"), "warn");
      }
      refreshHome();
    });
    return el("form", { class: "card notice warn stack", "data-charge": c.id, onsubmit: (ev) => { ev.preventDefault(); answer(true); } },
      el("strong", { text: t("charge_ask", { name: Saoma.merchantName(c.merchant), amount: money(c.amount) }) }),
      el("label", { for: id, text: t("pin") }), pinInput, out,
      el("div", { class: "row" },
        el("button", { type: "submit", text: t("approve") }),
        el("button", { type: "button", class: "secondary", text: t("decline"), onclick: () => answer(false) })));
  }
  setInterval(() => { if (me && document.visibilityState === "visible") refreshCharges(); }, 4000);

  // --- receive, send, red packets ----------------------------------------------------------------

  async function showReceive() {
    const code = await api("GET", "/v1/me/code");
    const svg = Saoma.qrSvg(code.qr_payload);
    svg.setAttribute("aria-label", t("my_code"));
    $("#receive-box").replaceChildren(svg, el("strong", { text: me.display_name }),
      el("div", { class: "small muted", "data-payload": code.qr_payload, text: me.id }));
  }

  // Who gets the money, looked up from what the payer typed, shown before the PIN is asked.
  let who = null; // { to, name } or { to, waits: true } for a phone or e-mail nobody confirmed
  let whoTimer = null;

  async function lookUp(to) {
    try {
      const found = await api("POST", "/v1/transfers/recipient", { to });
      return { to, name: found.name };
    } catch (err) {
      if (err.status !== 404) throw err;
      if (to.startsWith("c_")) throw new Saoma.ApiError({ type: "/recipient-unknown" }, 404);
      return { to, waits: true };
    }
  }

  function showWho() {
    const box = $("#sd-who");
    box.hidden = !who;
    if (!who) { box.textContent = ""; return; }
    box.textContent = who.waits ? t("recipient_waits") : t("recipient_is", { name: who.name });
    box.className = "who" + (who.waits ? " warn" : "");
  }

  $("#sd-to").addEventListener("input", () => {
    clearTimeout(whoTimer);
    who = null;
    showWho();
    say("#send-out", "", "ok");
    const to = $("#sd-to").value.trim();
    if (!to) return;
    whoTimer = setTimeout(async () => {
      try {
        const found = await lookUp(to);
        if ($("#sd-to").value.trim() === to) { who = found; showWho(); }
      } catch (err) { /* said in words when the payer presses Send */ }
    }, 300);
  });

  $("#send-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const to = $("#sd-to").value.trim();
    const amount = parseAmount($("#sd-amount").value);
    guard(ev.submitter, "#send-out", async () => {
      who = await lookUp(to); // afresh: the phone may have been confirmed meanwhile
      showWho();
      if (!amount) { say("#send-out", t("err_bad-amount"), "err"); return; }
      // Money to people always needs the PIN, whatever the no-PIN limit: the confirm screen
      // shows who gets it and how much, then asks for the PIN.
      current = {
        kind: "transfer", to, amount, note: $("#sd-note").value.trim(), currency: me.currency,
        name: who.waits ? to : who.name, waits: Boolean(who.waits),
      };
      openConfirm();
    });
  });

  // The six-box PIN pad, as on the confirm screen: the packet is made at the sixth digit.
  const packetPad = PinPad.attach($("#rp-pin"), () => $("#packet-form").requestSubmit());
  let packing = false; // one packet at a time, whatever submits the form
  document.addEventListener("saoma:view", (ev) => {
    if (ev.detail !== "v-packet") return;
    packetPad.clear();
    say("#packet-out", "", "ok");
  });

  $("#packet-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (packing) return;
    const amount = parseAmount($("#rp-amount").value);
    if (!amount) {
      say("#packet-out", t("err_bad-amount"), "err");
      packetPad.clear();
      $("#rp-amount").focus();
      return;
    }
    const pin = $("#rp-pin").value;
    if (!/^\d{6}$/.test(pin)) { say("#packet-out", t("err_pin-required"), "err"); packetPad.focus(); return; }
    if (!navigator.onLine) { say("#packet-out", t("offline_wait"), "warn"); packetPad.clear(); return; }
    packing = true;
    guard($("#packet-button"), "#packet-out", async () => {
      let packet;
      try {
        packet = await pay("/v1/red-packets", {
          amount, shares: Number($("#rp-shares").value), mode: $("#rp-mode").value,
          greeting: $("#rp-greeting").value.trim() || t("packet_default_greeting"),
          pin, currency: me.currency,
        });
      } finally { packetPad.clear(); }
      openPacket(packet.id);
    }).finally(() => { packing = false; });
  });

  let packetShown = null; // the packet on screen, drawn again in another language
  async function openPacket(id) {
    packetShown = id;
    let packet;
    try {
      packet = await api("GET", `/v1/red-packets/${encodeURIComponent(id)}`);
    } catch (err) { Saoma.toast(human(err), "err"); home(); return; }
    if (location.hash) history.replaceState(null, "", location.pathname);
    $("#po-title").textContent = t("packet_from", { name: packet.from });
    $("#po-greeting").textContent = packet.greeting || t("packet_default_greeting");
    $("#po-left").textContent = t("packet_left", { count: packet.shares - packet.claimed, shares: packet.shares });
    const link = location.origin + packet.link;
    const svg = Saoma.qrSvg(link);
    svg.setAttribute("aria-label", t("packet_share"));
    $("#po-share").replaceChildren(el("p", { class: "small", text: t("packet_share") }), svg,
      el("a", { href: link, class: "small", "data-link": link, text: link }));
    const mine = packet.claims.find((c) => c.mine);
    $("#po-claim").hidden = !!mine || packet.state !== "open" || packet.claimed >= packet.shares;
    if (mine) say("#po-out", t("packet_got", { amount: money(mine.amount) }), "ok");
    else say("#po-out", "", "ok");
    // The amount won, large, on the envelope itself.
    $("#po-won").hidden = !mine;
    $("#po-won-amount").textContent = mine ? money(mine.amount) : "";
    if (!mine && packet.claimed >= packet.shares) $("#po-left").textContent = t("packet_all_taken");
    else if (!mine && packet.state === "expired") $("#po-left").textContent = t("packet_expired");
    if (!packet.claims.length) $("#po-claims").replaceChildren(el("li", { class: "muted", text: t("packet_no_claims") }));
    else $("#po-claims").replaceChildren(...packet.claims.map((c) => el("li", { class: c.mine ? "mine" : null },
      el("span", { class: "grow" }, el("strong", { text: c.name }), el("br"),
        el("span", { class: "small muted", text: Saoma.when(c.claimed_at) })),
      packet.luckiest === c.name ? el("span", { class: "tag", text: t("packet_luckiest") }) : null,
      el("span", { class: "plus", text: money(c.amount) }))));
    $("#po-claim").onclick = (ev) => guard(ev.target, "#po-out", async () => {
      await pay(`/v1/red-packets/${encodeURIComponent(id)}/claim`);
      await openPacket(id);
      refreshHome();
    });
    show("v-packet-open");
  }

  // --- history and receipts: bills.js ---------------------------------------------------------

  const historyKey = () => "saoma.history." + (me ? me.id : "");
  const showHistory = () => Saoma.bills.show(me);

  // --- settings ----------------------------------------------------------------------------------

  function showSettings() {
    refreshIdentifiers();
    $("#pin-old-field").hidden = !me.has_pin;
    $("#pin-password-field").hidden = me.has_pin;
    $("#lm-payment").value = me.no_pin_limit.per_payment ? Saoma.plain(me.no_pin_limit.per_payment) : "";
    $("#lm-day").value = me.no_pin_limit.per_day ? Saoma.plain(me.no_pin_limit.per_day) : "";
  }

  $("#pin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { pin: $("#st-pin").value.trim() };
    if (me.has_pin) body.old_pin = $("#st-old").value.trim(); else body.password = $("#st-password").value;
    guard(ev.submitter, "#pin-out", async () => {
      await api("PUT", "/v1/me/pin", body);
      say("#pin-out", t("pin_saved"), "ok");
      me = await api("GET", "/v1/me");
      ["#st-pin", "#st-old", "#st-password"].forEach((s) => { $(s).value = ""; });
      showSettings();
    });
  });

  $("#limit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const perPayment = $("#lm-payment").value.trim() ? parseAmount($("#lm-payment").value) : 0;
    const perDay = $("#lm-day").value.trim() ? parseAmount($("#lm-day").value) : 0;
    if (perPayment === null || perDay === null) { say("#limit-out", t("err_bad-amount"), "err"); return; }
    guard(ev.submitter, "#limit-out", async () => {
      await api("PUT", "/v1/me/no-pin-limit", { per_payment: perPayment, per_day: perDay, pin: $("#lm-pin").value.trim() });
      $("#lm-pin").value = "";
      say("#limit-out", t("saved"), "ok");
      me = await api("GET", "/v1/me");
    });
  });

  $("#revoke-device").addEventListener("click", (ev) => guard(ev.target, null, async () => {
    const d = device();
    if (d) await api("DELETE", `/v1/me/devices/${d.id}`);
    localStorage.removeItem(deviceKey());
    Saoma.toast(t("saved"));
  }));

  $("#sign-out").addEventListener("click", (ev) => guard(ev.target, null, async () => {
    // A shared browser keeps no way to pay: the device is revoked and forgotten.
    const d = device();
    if (d) await api("DELETE", `/v1/me/devices/${d.id}`).catch(() => null);
    await api("DELETE", "/web/sessions/consumer");
    forgetHere();
  }));

  /** What this browser keeps of the wallet, gone; the sign-in shows. */
  function forgetHere() {
    localStorage.removeItem(deviceKey());
    localStorage.removeItem("saoma.me");
    localStorage.removeItem(historyKey());
    stopEvents();
    me = null;
    show("v-signin");
  }

  // A new password ends every other session; signing out everywhere ends this one too and
  // stops every device's payment codes (a lost phone).
  $("#password-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#password-out", async () => {
      const body = { current_password: $("#pw-current").value, new_password: $("#pw-new").value };
      const ended = await api("PUT", "/v1/me/password", body);
      ["#pw-current", "#pw-new"].forEach((id) => { $(id).value = ""; });
      say("#password-out", t("password_changed", { n: ended.sessions_ended }), "ok");
    });
  });

  $("#sign-out-everywhere").addEventListener("click", (ev) => guard(ev.target, "#password-out", async () => {
    await api("DELETE", "/v1/sessions");
    forgetHere();
  }));

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/wallet-sw.js", { scope: "/" }).catch(() => {});
  }
  document.addEventListener("DOMContentLoaded", start);
})();

/* The merchant cashier: a keypad, the dynamic code, the payer's code, deposits, and the sound box. */
"use strict";

Object.assign(DICT.en, {
  paid_from: "From {payer}", speech_received: "Received {amount} yuan",
  refund_to_payer: "Refund {amount}: the payer gets {back} back. This cannot be undone.",
  refunded_payer: "Payer got {amount} back",
  code_expired: "Expired — this code can no longer be paid", new_code: "New code for {amount}",
});
Object.assign(DICT.zh, {
  paid_from: "付款人 {payer}", speech_received: "收款{amount}",
  refund_to_payer: "退款 {amount}：顾客收回 {back}。此操作不可撤销。",
  refunded_payer: "已退顾客 {amount}",
  code_expired: "已过期——此码不能再付款", new_code: "重新生成 {amount} 的收款码",
});

/* What a sound box says for an amount in fen: "三十五元五角", "五分", "一千零二元". */
function chineseYuan(fen) {
  const DIGITS = "零一二三四五六七八九";
  function section(n) {            // 1..9999
    let out = "";
    let zero = false;
    [[1000, "千"], [100, "百"], [10, "十"], [1, ""]].forEach(([unit, name]) => {
      const d = Math.floor(n / unit) % 10;
      if (d === 0) { if (out) zero = true; return; }
      if (zero) { out += "零"; zero = false; }
      out += DIGITS[d] + name;
    });
    return out;
  }
  function whole(n) {
    if (n === 0) return "零";
    const groups = [];
    for (let rest = n; rest > 0; rest = Math.floor(rest / 10000)) groups.push(rest % 10000);
    let out = "";
    let zero = false;
    for (let i = groups.length - 1; i >= 0; i--) {
      const g = groups[i];
      if (g === 0) { if (out) zero = true; continue; }
      if (out && (zero || g < 1000)) out += "零";
      out += section(g) + ["", "万", "亿", "万亿"][i];
      zero = false;
    }
    return out.startsWith("一十") ? out.slice(1) : out;
  }
  const yuan = Math.floor(fen / 100);
  const jiao = Math.floor(fen / 10) % 10;
  const cents = fen % 10;
  let out = yuan ? whole(yuan) + "元" : "";
  if (jiao) out += DIGITS[jiao] + "角";
  else if (cents && yuan) out += "零";
  if (cents) out += DIGITS[cents] + "分";
  return out || "零元";
}

/* The same amount in English: "35", "35.50" (no ".00"). */
function plainYuan(fen) {
  const yuan = Math.floor(fen / 100);
  return fen % 100 ? `${yuan}.${String(fen % 100).padStart(2, "0")}` : String(yuan);
}

(() => {
  const { t, money, api, pay, guard, say, show, el, $, human, parseAmount } = Saoma;
  let shop = null;
  let typed = "";
  let order = null;      // the order whose code is on screen
  let hold = null;       // the deposit being asked for or held
  let stopCamera = null;
  let poller = null;
  const announced = new Set();
  let muted = localStorage.getItem("saoma.mute") === "1";

  function terminalId() {
    let id = localStorage.getItem("saoma.terminal");
    if (!id) { id = "till-" + Saoma.newKey().slice(0, 8); localStorage.setItem("saoma.terminal", id); }
    return id;
  }
  const orderNo = (prefix) => `${prefix}${Date.now()}-${Saoma.newKey().slice(0, 6)}`;

  async function start() {
    try {
      shop = await api("GET", "/v1/merchant");
    } catch (err) {
      if (err.status === 401) { show("c-signin"); return; }
      Saoma.toast(human(err), "err");
      return;
    }
    if (!shop) { show("c-signin"); return; }
    Saoma.listen("/v1/merchant/events", {
      "payment.succeeded": (e) => received(e.data || {}),
      "hold.captured": (e) => received(e.data || {}),
      "hold.held": (e) => { if (hold && e.data && e.data.id === hold.id) refreshHold(); },
      "refund.succeeded": () => recent(),
    });
    keypad();
  }

  Saoma.signInForm("#c-signin-form", "merchant", "#cs-login", "#cs-password", "#cs-out", start);

  $("#c-signup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#cu-out", async () => {
      await api("POST", "/web/merchants", {
        name: $("#cu-name").value.trim(), name_zh: $("#cu-name-zh").value.trim(),
        category_code: $("#cu-category").value, city: $("#cu-city").value.trim() || "Shenzhen",
        login: $("#cu-login").value.trim(), password: $("#cu-password").value,
      });
      await start();
    });
  });

  // --- keypad ----------------------------------------------------------------------------------

  function keypad() {
    stopPolling();
    order = null;
    hold = null;
    typed = "";
    $("#c-code-box").replaceChildren();
    draw();
    $("#c-name").textContent = Saoma.merchantName(shop);
    show("c-keypad");
    recent();
  }

  function draw() {
    $("#c-display").textContent = "¥" + (typed || "0");
    $("#c-mute").textContent = muted ? t("unmute") : t("mute");
    $("#c-mute").setAttribute("aria-pressed", String(muted));
  }

  function press(key) {
    if (key === "back") typed = typed.slice(0, -1);
    else if (key === ".") { if (!typed.includes(".")) typed = (typed || "0") + "."; }
    else if (/^\d$/.test(key)) {
      const next = typed === "0" ? key : typed + key;
      if (/^\d{1,7}(\.\d{0,2})?$/.test(next)) typed = next;
    }
    say("#c-out", "", "ok");
    draw();
  }

  document.querySelectorAll("[data-key]").forEach((b) => b.addEventListener("click", () => press(b.dataset.key)));
  document.addEventListener("keydown", (ev) => {
    if ($("#c-keypad").hidden || ev.target.matches("input, select, textarea")) return;
    if (/^[\d.]$/.test(ev.key)) { press(ev.key); ev.preventDefault(); }
    else if (ev.key === "Backspace") { press("back"); ev.preventDefault(); }
    else if (ev.key === "Enter" && ev.target === document.body) { $("#c-show").click(); ev.preventDefault(); }
  });

  function amountTyped() {
    const amount = parseAmount(typed);
    if (!amount) { say("#c-out", t("enter_amount"), "err"); return null; }
    return amount;
  }

  $("#c-mute").addEventListener("click", () => {
    muted = !muted;
    localStorage.setItem("saoma.mute", muted ? "1" : "0");
    draw();
  });

  // --- the sound box: one path for every payment that arrives ------------------------------------

  function announce(amount) {
    if (muted || !window.speechSynthesis) return;
    const zh = Saoma.lang === "zh";
    const text = t("speech_received", { amount: zh ? chineseYuan(amount) : plainYuan(amount) });
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = zh ? "zh-CN" : "en-US";
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(utterance);
  }

  let afterPaid = keypad;  // where "Next sale" goes: the keypad, or back to what was on screen

  // A payment arrived (payment.succeeded or hold.captured on the live stream): full-screen
  // flash with the amount and the payer, and the sound box.
  function received(data) {
    if (!data.id || announced.has(data.id)) return;
    announced.add(data.id);
    const ends = (order && data.order_id === order.id)
      || (charge && (data.charge_id === charge.id || data.id === charge.payment_id))
      || (hold && data.hold_id === hold.id);
    const current = document.querySelector("section.view:not([hidden])");
    const was = current ? current.id : "c-keypad";
    if (ends || was === "c-paid" || was === "c-signin") afterPaid = keypad;
    else if (was === "c-keypad") afterPaid = () => { show("c-keypad"); recent(); };
    else afterPaid = () => show(was);
    if (ends) { stopPolling(); order = null; charge = null; hold = null; }
    $("#c-paid-title").textContent = t("received", { amount: money(data.amount) });
    $("#c-paid-payer").textContent = data.payer ? t("paid_from", { payer: data.payer }) : "";
    $("#c-paid-details").textContent = data.note || "";
    show("c-paid");
    announce(data.amount);
    recent();
  }

  $("#c-next").addEventListener("click", () => afterPaid());

  function stopPolling() { clearInterval(poller); poller = null; }
  function poll(fn) { stopPolling(); poller = setInterval(fn, 1500); }

  // --- dynamic code ----------------------------------------------------------------------------

  $("#c-show").addEventListener("click", (ev) => {
    const amount = amountTyped();
    if (amount) guard(ev.target, "#c-out", () => showCode(amount));
  });

  async function showCode(amount) {
    order = await pay("/v1/orders", {
      merchant_order_no: orderNo("T"), amount, currency: shop.currency, expires_in_s: 300,
    });
    const svg = Saoma.qrSvg(order.qr_payload);
    svg.setAttribute("aria-label", `${Saoma.merchantName(shop)} ${money(amount)}`);
    svg.id = "c-order-qr";
    $("#c-code-box").replaceChildren(svg, el("details", { class: "small" },
      el("summary", { text: t("code_text") }), el("code", { class: "payload", text: order.qr_payload })));
    $("#c-code-amount").textContent = money(amount);
    $("#c-code-status").textContent = t("waiting_payment");
    $("#c-code-renew").hidden = true;
    show("c-code");
    poll(checkOrder);  // for its expiry: the payment itself comes on the live stream
  }

  async function checkOrder() {
    if (!order) return;
    const now = await api("GET", `/v1/orders/${order.id}`).catch(() => null);
    if (!now || !order || now.id !== order.id) return;
    if (now.state === "paid") stopPolling(); // announced from the live stream
    else if (now.state === "expired") expired(now.amount);
  }

  // The code on screen can no longer be paid: it is replaced, not left to be scanned in vain.
  function expired(amount) {
    stopPolling();
    $("#c-code-box").replaceChildren(el("p", { class: "code-expired", text: t("code_expired") }));
    $("#c-code-status").textContent = t("order_expired");
    const renew = $("#c-code-renew");
    renew.textContent = t("new_code", { amount: money(amount) });
    renew.dataset.amount = String(amount);
    renew.hidden = false;
    renew.focus();
  }

  $("#c-code-renew").addEventListener("click", (ev) =>
    guard(ev.target, null, () => showCode(Number(ev.target.dataset.amount))));

  $("#c-code-cancel").addEventListener("click", (ev) => guard(ev.target, null, async () => {
    if (order) await api("POST", `/v1/orders/${order.id}/close`).catch(() => null);
    keypad();
  }));

  // --- the payer's payment code ------------------------------------------------------------------

  let charge = null;

  $("#c-scan").addEventListener("click", () => {
    const amount = amountTyped();
    if (!amount) return;
    charge = null;
    $("#c-scanner-amount").textContent = money(amount);
    $("#c-payer-code").value = "";
    say("#c-scanner-out", "", "ok");
    show("c-scanner");
    $("#c-payer-code").focus();
  });

  $("#c-scanner-back").addEventListener("click", () => { stopCam(); keypad(); });

  function stopCam() {
    if (stopCamera) { stopCamera(); stopCamera = null; }
    $("#c-camera-box").hidden = true;
  }

  $("#c-camera-on").addEventListener("click", async () => {
    $("#c-camera-box").hidden = false;
    try {
      stopCamera = await Scan.camera($("#c-camera"), (text) => {
        stopCamera = null;
        $("#c-camera-box").hidden = true;
        $("#c-payer-code").value = text;
        $("#c-scanner-form").requestSubmit();
      });
    } catch (err) {
      $("#c-camera-box").hidden = true;
      say("#c-scanner-out", t("camera_off"), "warn");
    }
  });

  $("#c-scanner-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("#c-payer-code").value.replace(/\s+/g, "");
    const amount = parseAmount(typed);
    if (!code || !amount) return;
    guard(ev.submitter, "#c-scanner-out", async () => {
      charge = await pay("/v1/charges", {
        code, amount, currency: shop.currency, merchant_order_no: orderNo("C"),
        terminal_id: terminalId(),
      });
      $("#c-payer-code").value = "";
      chargeState();
      if (charge.state === "waiting_for_payer") poll(async () => {
        charge = await api("GET", `/v1/charges/${charge.id}`).catch(() => charge);
        chargeState();
      });
    });
  });

  function chargeState() {
    if (!charge) return;
    if (charge.state === "succeeded") stopPolling(); // announced from the live stream
    else if (charge.state === "waiting_for_payer") say("#c-scanner-out", t("waiting_payer"), "warn");
    else {
      stopPolling();
      say("#c-scanner-out", t(charge.state === "expired" ? "charge_expired" : "charge_refused"), "err");
    }
  }

  // --- deposits (holds) ----------------------------------------------------------------------------

  $("#c-hold").addEventListener("click", (ev) => {
    const amount = amountTyped();
    if (!amount) return;
    guard(ev.target, "#c-out", async () => {
      hold = await pay("/v1/holds", {
        merchant_ref: orderNo("D"), amount, currency: shop.currency, expires_in_s: 86400,
      });
      const svg = Saoma.qrSvg(hold.qr_payload);
      svg.setAttribute("aria-label", t("deposit"));
      $("#c-deposit-box").replaceChildren(svg);
      $("#c-capture-form").hidden = true;
      say("#c-deposit-out", "", "ok");
      drawHold();
      show("c-deposit");
      poll(refreshHold);
    });
  });

  function drawHold() {
    const held = hold.state === "held";
    $("#c-deposit-title").textContent = held
      ? t("hold_held", { amount: money(hold.amount), time: Saoma.when(hold.expires_at) })
      : t("hold_waiting", { amount: money(hold.amount) });
    if (held && $("#c-capture-form").hidden) {
      $("#c-deposit-box").replaceChildren();
      $("#c-capture-form").hidden = false;
      $("#c-capture-amount").value = Saoma.plain(hold.amount);
      stopPolling();
    }
  }

  async function refreshHold() {
    if (!hold) return;
    const now = await api("GET", `/v1/holds/${hold.id}`).catch(() => null);
    if (now && hold && now.id === hold.id) { hold = now; drawHold(); }
  }

  $("#c-capture-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const amount = parseAmount($("#c-capture-amount").value);
    if (!amount) { say("#c-deposit-out", t("err_bad-amount"), "err"); return; }
    guard(ev.submitter, "#c-deposit-out", async () => {
      hold = await pay(`/v1/holds/${hold.id}/capture`, { amount });
      $("#c-capture-form").hidden = true;
      say("#c-deposit-out", t("captured", { amount: money(amount) }), "ok");
      recent();
    });
  });

  $("#c-void").addEventListener("click", (ev) => guard(ev.target, "#c-deposit-out", async () => {
    hold = await api("POST", `/v1/holds/${hold.id}/void`);
    $("#c-capture-form").hidden = true;
    say("#c-deposit-out", t("voided"), "ok");
  }));

  $("#c-deposit-back").addEventListener("click", keypad);

  // --- recent payments and refunds ---------------------------------------------------------------

  async function recent() {
    let page;
    try { page = await api("GET", "/v1/merchant/payments?limit=8"); } catch (e) { return; }
    $("#c-recent").replaceChildren(...page.data.map((p) => el("li", {},
      el("span", { class: "grow" }, el("strong", { text: money(p.amount) }), " ",
        el("span", { class: "tag", text: t("kind_" + p.kind) }),
        p.refunded ? el("span", { class: "tag", text: t("refunded_payer", { amount: money(p.refunded_to_payer) }) }) : null,
        el("br"), el("span", { class: "small muted", text: [Saoma.when(p.created_at), p.payer, p.note].filter(Boolean).join(" · ") })),
      p.refunded < p.amount
        ? el("button", { type: "button", class: "secondary", text: t("refund"), onclick: () => askRefund(p) })
        : null)));
  }

  // What the payer gets back of a refund of `amount` (of the price): a campaign that paid part of
  // the price gets its share back (saoma.payments.refunds.refund_share), the payer the rest.
  function backToPayer(p, amount) {
    const share = (refunded) => Math.floor((p.discount * refunded) / p.amount);
    return amount - (share(p.refunded + amount) - share(p.refunded));
  }

  function refundText(p, amount) {
    $("#c-refund-text").textContent = t("refund_to_payer",
      { amount: money(amount), back: money(backToPayer(p, amount)) });
  }

  let refunding = null;  // the payment in the refund dialog

  function askRefund(p) {
    const left = p.amount - p.refunded;
    refunding = p;
    refundText(p, left);
    $("#c-refund-amount").value = Saoma.plain(left);
    $("#c-refund-pin").value = "";
    say("#c-refund-out", "", "ok");
    const dialog = $("#c-refund-dialog");
    dialog.dataset.payment = p.id;
    dialog.showModal();
  }

  $("#c-refund-amount").addEventListener("input", () => {
    const amount = parseAmount($("#c-refund-amount").value);
    if (amount && refunding && amount <= refunding.amount - refunding.refunded) refundText(refunding, amount);
  });

  $("#c-refund-form").addEventListener("submit", (ev) => {
    if (!ev.submitter || ev.submitter.value !== "confirm") return; // cancel closes the dialog
    ev.preventDefault();
    const dialog = $("#c-refund-dialog");
    const amount = parseAmount($("#c-refund-amount").value);
    if (!amount) { say("#c-refund-out", t("err_bad-amount"), "err"); return; }
    const managerPin = $("#c-refund-pin").value.trim();  // a signed-in session refunds with it
    if (!/^[0-9]{6}$/.test(managerPin)) { say("#c-refund-out", t("manager_pin_needed"), "err"); return; }
    guard(ev.submitter, "#c-refund-out", async () => {
      await pay(`/v1/payments/${dialog.dataset.payment}/refunds`, {
        amount, merchant_refund_no: orderNo("R"), reason: "", manager_pin: managerPin,
      });
      dialog.close();
      Saoma.toast(t("refund_done", { amount: money(backToPayer(refunding, amount)) }));
      recent();
    });
  });

  document.addEventListener("saoma:lang", () => { if (shop && !$("#c-keypad").hidden) { draw(); recent(); } });
  document.addEventListener("DOMContentLoaded", start);
})();

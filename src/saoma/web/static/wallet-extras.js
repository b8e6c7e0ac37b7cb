/* The wallet beyond paying: withdrawal to the bank, with the PIN, and the bank's answers. */
"use strict";

(() => {
  const { t, money, api, pay, guard, say, el, $, parseAmount } = Saoma;
  let busy = false;

  document.addEventListener("DOMContentLoaded", () => {
    const pad = PinPad.attach($("#wd-pin"), () => $("#withdraw-form").requestSubmit());

    document.addEventListener("saoma:view", (ev) => {
      if (ev.detail !== "v-withdraw") return;
      pad.clear();
      say("#withdraw-out", "", "ok");
      showBankTransfers();
    });
    document.addEventListener("saoma:lang", () => { if (!$("#v-withdraw").hidden) showBankTransfers(); });

    $("#withdraw-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (busy) return;
      const amount = parseAmount($("#wd-amount").value);
      const pin = $("#wd-pin").value;
      if (!amount) { say("#withdraw-out", t("err_bad-amount"), "err"); pad.clear(); $("#wd-amount").focus(); return; }
      if (!/^\d{6}$/.test(pin)) { say("#withdraw-out", t("err_pin-required"), "err"); pad.focus(); return; }
      busy = true;
      guard($("#withdraw-button"), "#withdraw-out", async () => {
        let sent;
        try { sent = await pay("/v1/me/withdrawals", { amount, pin }); } finally { pad.clear(); }
        say("#withdraw-out", t("withdraw_sent", { amount: money(amount) }), "ok");
        $("#wd-amount").value = "";
        await showBankTransfers();
        await followUp(sent.id, amount);
      }).finally(() => { busy = false; });
    });
  });

  /** Until the bank answers: say when the money has left for the bank, or that it came back. */
  async function followUp(id, amount) {
    for (let i = 0; i < 100; i++) {
      const now = await api("GET", `/v1/me/bank-transfers/${id}`);
      if (now.state !== "pending") {
        if (now.state === "succeeded") say("#withdraw-out", t("withdraw_done", { amount: money(amount) }), "ok");
        else say("#withdraw-out", t("withdraw_failed"), "err");
        await showBankTransfers();
        return;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async function showBankTransfers() {
    let page;
    try { page = await api("GET", "/v1/me/bank-transfers?limit=20"); } catch (err) { return; }
    const rows = page.data || [];
    if (!rows.length) { $("#wd-list").replaceChildren(el("li", { class: "muted", text: t("no_history") })); return; }
    $("#wd-list").replaceChildren(...rows.map((b) => {
      const out = b.direction === "withdraw";
      return el("li", { "data-bank-transfer": b.id },
        el("span", { class: "grow" }, el("strong", { text: t(out ? "bank_withdrawal" : "bank_top_up") }), el("br"),
          el("span", { class: "small muted", text: Saoma.when(b.created_at) })),
        el("span", { class: "tag", text: t("bt_state_" + b.state) }),
        el("span", { class: out ? "minus" : "plus", text: (out ? "-" : "+") + money(b.amount) }));
    }));
  }
})();

/* Offline: a banner on every screen in the page's language. The payment code (Pay) still works,
   made on the phone from the device secret; everything that needs the network is turned off and,
   if tried all the same, says that it waits for the connection: never a raw error. */
(() => {
  const { t, say, toast, $, $$ } = Saoma;
  // Buttons outside a form that need the network.
  const NET_BUTTONS = "#revoke-device, #sign-out, #po-claim, #vf-resend, #history-more, #done-receipt";
  let view = null;

  const offline = () => navigator.onLine === false;

  /** The banner and the actions, as the connection is now. */
  function render() {
    const banner = $("#offline");
    if (!banner) return;
    if (offline()) say(banner, t(view === "v-paycode" ? "offline_paycode" : "offline_banner"), "warn");
    else banner.hidden = true;
    const actions = $$("section.view form button[type=submit]").concat($$(NET_BUTTONS));
    for (const button of actions) {
      if (offline() && !button.disabled) {
        button.disabled = true;
        button.dataset.offlineOff = "1";
      } else if (!offline() && button.dataset.offlineOff) {
        button.disabled = false;
        delete button.dataset.offlineOff;
      }
    }
  }

  /** Whatever is tried offline all the same (the PIN pad's sixth digit, Enter): it waits. */
  function refuse(ev, where) {
    if (!offline()) return;
    ev.preventDefault();
    ev.stopImmediatePropagation();
    const out = where && where.querySelector("p.notice");
    if (out) say(out, t("offline_wait"), "warn"); else toast(t("offline_wait"), "warn");
    const pad = where && where.querySelector(".pin-input");
    if (pad) { pad.value = ""; pad.dispatchEvent(new Event("blur")); }
  }

  document.addEventListener("submit", (ev) => refuse(ev, ev.target), true);
  document.addEventListener("click", (ev) => {
    const button = ev.target.closest(NET_BUTTONS);
    if (button) refuse(ev, null);
  }, true);
  window.addEventListener("online", render);
  window.addEventListener("offline", render);
  document.addEventListener("saoma:view", (ev) => { view = ev.detail; render(); });
  document.addEventListener("saoma:lang", render);
  document.addEventListener("DOMContentLoaded", render);
})();

/* Disputes, on the wallet and on the dashboard (kept apart from wallet.js and dashboard.js).

   Wallet: a payment's receipt has "Report a problem": a reason, words and a photo (from the
   camera or a file, made smaller in a canvas until it fits 45 KB as JPEG); "Disputes" lists the
   payer's disputes, each with its state and timeline. Dashboard: the merchant's disputes, open
   ones first with the answer time, the payer's words and photo, Refund and Contest. */
"use strict";

const SaomaDisputes = (() => {
  const { t, money, api, guard, say, el, $ } = Saoma;
  const PHOTO_MAX = 45 * 1024;
  const REASONS = ["not_received", "not_as_described", "charged_twice", "unauthorised", "other"];
  const page = document.documentElement.dataset.page;
  const base = page === "dashboard" ? "/v1/merchant/disputes" : "/v1/me/disputes";

  /** A picture file as base64 JPEG of at most 45 KB: drawn smaller and coarser until it fits. */
  async function photoOf(file) {
    if (!file) return null;
    const bitmap = await createImageBitmap(file);
    let side = 1280;
    for (let quality = 0.8; ; ) {
      const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", quality));
      if (blob.size <= PHOTO_MAX || side <= 160) {
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let binary = "";
        for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
        return { content_type: "image/jpeg", data: btoa(binary) };
      }
      if (quality > 0.5) quality -= 0.15; else side = Math.round(side * 0.7);
    }
  }

  function photoLink(d, fileId) {
    const src = `${base}/${d.id}/files/${fileId}`;
    return el("a", { href: src, target: "_blank", rel: "noopener" },
      el("img", { src, alt: t("dp_photo"), class: "dp-photo", width: "96" }));
  }

  function timeline(d) {
    return el("ol", { class: "dp-timeline" }, ...d.timeline.map((e) => el("li", {},
      el("span", { class: "small muted", text: `${Saoma.when(e.at)} · ${t("dp_actor_" + e.actor)}` }), " ",
      el("strong", { text: t("dp_kind_" + e.kind) }),
      e.text ? el("div", { text: e.text }) : null,
      e.file_id ? photoLink(d, e.file_id) : null)));
  }

  function card(d, actions) {
    const who = page === "dashboard" ? d.payment_id : d.merchant_name;
    return el("li", { class: "dp-item", dataset: { disputeId: d.id } },
      el("div", { class: "grow" },
        el("strong", { text: who }), " ",
        el("span", { class: "tag dp-state", text: t("dp_state_" + d.state) }), " ",
        el("span", { text: money(d.amount, d.currency) }), el("br"),
        el("span", { class: "small muted", text: t("dp_reason_" + d.reason) }),
        d.state === "open" ? el("div", { class: "small", text: t("dp_answer_by", { time: Saoma.when(d.answer_by) }) }) : null,
        timeline(d), actions || null));
  }

  // --- the wallet ------------------------------------------------------------------------------

  function reportForm(paymentId, out) {
    const reason = el("select", { id: "dp-reason" },
      ...REASONS.map((r) => el("option", { value: r, text: t("dp_reason_" + r) })));
    const words = el("textarea", { id: "dp-text", maxlength: "1000", rows: "3" });
    const file = el("input", { id: "dp-photo", type: "file", accept: "image/*", capture: "environment" });
    const form = el("form", { id: "dp-form", class: "card", novalidate: true },
      el("h2", { text: t("dp_report") }),
      el("label", { for: "dp-reason", text: t("dp_reason") }), reason,
      el("label", { for: "dp-text", text: t("dp_text") }), words,
      el("label", { for: "dp-photo", text: t("dp_photo_add") }), file,
      el("p", { id: "dp-out", class: "notice", hidden: true }),
      el("button", { type: "submit", text: t("dp_send") }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      guard(ev.submitter, "#dp-out", async () => {
        const body = { payment_id: paymentId, reason: reason.value, text: words.value };
        const photo = await photoOf(file.files[0]);
        if (photo) body.photo = photo;
        const d = await api("POST", "/v1/me/disputes", body);
        out.replaceChildren(el("ul", { class: "list" }, card(d)));
      });
    });
    return form;
  }

  async function onReceipt() {
    const box = $("#receipt");
    const paymentId = box && box.dataset.paymentId;
    if (!paymentId) return;
    const holder = $("#dp-receipt") || el("div", { id: "dp-receipt" });
    box.after(holder);
    const { disputes } = await api("GET", "/v1/me/disputes");
    const mine = disputes.find((d) => d.payment_id === paymentId);
    if (mine) { holder.replaceChildren(el("ul", { class: "list" }, card(mine))); return; }
    const open = el("button", { type: "button", class: "secondary", id: "dp-open", text: t("dp_report") });
    open.addEventListener("click", () => holder.replaceChildren(reportForm(paymentId, holder)));
    holder.replaceChildren(open);
  }

  async function walletList() {
    const { disputes } = await api("GET", "/v1/me/disputes");
    $("#dp-list").replaceChildren(...(disputes.length ? disputes.map((d) => card(d, d.state === "open" || d.state === "contested" || d.state === "escalated"
      ? el("button", { type: "button", class: "plain", text: t("dp_withdraw"), onclick: (ev) => guard(ev.target, null, async () => {
        await api("POST", `/v1/me/disputes/${d.id}/withdraw`); walletList();
      }) }) : null)) : [el("li", { class: "muted", text: t("dp_none") })]));
  }

  // --- the dashboard ---------------------------------------------------------------------------

  function answers(d) {
    if (d.state !== "open") return null;
    const out = el("p", { class: "notice", hidden: true });
    const words = el("textarea", { id: `dp-contest-${d.id}`, maxlength: "1000", rows: "2" });
    const file = el("input", { id: `dp-cphoto-${d.id}`, type: "file", accept: "image/*" });
    const pin = el("input", { id: `dp-pin-${d.id}`, class: "pin", type: "password", inputmode: "numeric", maxlength: "6", autocomplete: "off" });
    const refund = el("button", { type: "button", text: t("dp_refund", { amount: money(d.amount, d.currency) }) });
    refund.addEventListener("click", () => guard(refund, out, async () => {
      await Saoma.pay(`/v1/merchant/disputes/${d.id}/refund`, { manager_pin: pin.value.trim() });
      dashboardList();
    }));
    const contest = el("button", { type: "button", class: "secondary", text: t("dp_contest") });
    contest.addEventListener("click", () => guard(contest, out, async () => {
      const body = { text: words.value };
      const photo = await photoOf(file.files[0]);
      if (photo) body.photo = photo;
      await api("POST", `/v1/merchant/disputes/${d.id}/contest`, body);
      dashboardList();
    }));
    return el("div", { class: "dp-answer" },
      el("label", { for: words.id, text: t("dp_your_side") }), words,
      el("label", { for: file.id, text: t("dp_photo_add") }), file,
      el("label", { for: pin.id, text: t("dp_manager_pin") }), pin, out,
      el("div", { class: "row" }, refund, contest));
  }

  async function dashboardList() {
    const { disputes } = await api("GET", "/v1/merchant/disputes");
    const order = (d) => (d.state === "open" ? 0 : 1);
    disputes.sort((a, b) => order(a) - order(b));
    $("#dp-list").replaceChildren(...(disputes.length ? disputes.map((d) => card(d, answers(d)))
      : [el("li", { class: "muted", text: t("dp_none") })]));
  }

  document.addEventListener("saoma:view", (ev) => {
    const refresh = (f) => f().catch((err) => Saoma.toast(Saoma.human(err), "err"));
    if (page === "wallet" && ev.detail === "v-receipt") refresh(onReceipt);
    if (page === "wallet" && ev.detail === "v-disputes") refresh(walletList);
    if (page === "dashboard" && ev.detail === "d-main") refresh(dashboardList);
  });
  return { photoOf, refresh: () => (page === "dashboard" ? dashboardList() : walletList()) };
})();

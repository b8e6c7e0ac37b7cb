/* The console's actions on a person's page and the dispute view (loaded after console.js).

   Freeze / unfreeze a wallet or a merchant: the sentence shown to the person and how to appeal;
   the reason on record is the one typed when the page was opened (Saoma-Reason). A merchant's
   business details (owner ID masked) with Approve / Reject. The person's disputes, each opening
   the dispute view: timeline, both sides' words and photos (fetched with the reason, shown from
   blob: URLs), and the decision for the payer or the merchant. Only what the role may do is
   offered; the server checks anyway and a refusal shows the problem's sentence. */
"use strict";

Object.assign(DICT.en, {
  c_freeze_shown: "Sentence shown to the person", c_freeze_appeal: "How to appeal (optional)",
  c_freeze_consumer: "Freeze the wallet", c_freeze_merchant: "Freeze the merchant",
  c_freeze_done: "Frozen. The person sees your sentence.", c_unfreeze_note: "Note (why it is lifted)",
  c_unfreeze: "Unfreeze", c_unfreeze_done: "The freeze is lifted.", c_unfreeze_not_yours: "Only risk can lift a freeze.",
  c_no_actions: "Your role has no actions here.",
  c_kyc_state: "State", c_kyc_unverified: "Not submitted", c_kyc_pending: "Waiting for a decision",
  c_kyc_approved: "Approved", c_kyc_rejected: "Rejected", c_kyc_show: "Show the business details",
  c_legal_name: "Legal name", c_licence: "Licence number", c_owner_id: "Owner's ID",
  c_submitted: "Submitted", c_decided: "Decided", c_kyc_reason: "Reason given", c_kyc_message: "Message to the merchant (for rejecting)",
  c_approve: "Approve", c_reject: "Reject", c_amount: "Amount",
  c_dispute: "Dispute", c_open_dispute: "Open", c_payer_said: "The payer's side", c_merchant_said: "The merchant's side",
  c_timeline: "Timeline", c_payment: "Payment", c_payer: "Payer", c_answer_by: "Answer by", c_opened: "Opened",
  c_decide_note: "Note (the payer and the merchant read it)", c_decide_payer: "Decide for the payer (refund {amount})",
  c_decide_merchant: "Decide for the merchant", c_decided_done: "Decided.", c_not_said: "Nothing yet.",
});
Object.assign(DICT.zh, {
  c_freeze_shown: "向用户显示的说明", c_freeze_appeal: "申诉方式（可选）",
  c_freeze_consumer: "冻结钱包", c_freeze_merchant: "冻结商户",
  c_freeze_done: "已冻结。用户会看到你的说明。", c_unfreeze_note: "备注（解冻原因）",
  c_unfreeze: "解冻", c_unfreeze_done: "已解冻。", c_unfreeze_not_yours: "只有风控可以解冻。",
  c_no_actions: "你的岗位在这里没有可执行的操作。",
  c_kyc_state: "状态", c_kyc_unverified: "未提交", c_kyc_pending: "待审核",
  c_kyc_approved: "已通过", c_kyc_rejected: "已驳回", c_kyc_show: "查看商户资料",
  c_legal_name: "企业名称", c_licence: "营业执照号", c_owner_id: "负责人证件号",
  c_submitted: "提交于", c_decided: "审核于", c_kyc_reason: "驳回理由", c_kyc_message: "给商户的说明（驳回用）",
  c_approve: "通过", c_reject: "驳回", c_amount: "金额",
  c_dispute: "争议", c_open_dispute: "打开", c_payer_said: "付款人的说法", c_merchant_said: "商户的说法",
  c_timeline: "处理记录", c_payment: "支付", c_payer: "付款人", c_answer_by: "答复期限", c_opened: "发起于",
  c_decide_note: "说明（付款人和商户都会看到）", c_decide_payer: "支持付款人（退款 {amount}）",
  c_decide_merchant: "支持商户", c_decided_done: "已裁决。", c_not_said: "暂无。",
});

const SaomaConsoleActions = (() => {
  const { t, $, el, api, show, guard, say, money, when, newKey } = Saoma;
  const C = SaomaConsole;
  const DECIDABLE = ["contested", "escalated"];
  let dispute = null; // {id, reason, back, data, photos: {file id: object URL}}
  const decideKeys = new Map(); // one Idempotency-Key per decision attempt, kept for its retry

  function reasoned(reason, extra) {
    return Object.assign({ "Saoma-Reason": encodeURIComponent(reason) }, extra || {});
  }

  function field(id, labelKey, input) {
    return [el("label", { for: id, text: t(labelKey) }), input];
  }

  // --- freeze and unfreeze ---------------------------------------------------------------------

  function freezeForm(person, box) {
    const out = el("p", { class: "notice", id: "c-fz-out", hidden: true });
    const shown = el("textarea", { id: "c-fz-shown", maxlength: "200", rows: "2", required: true });
    const appeal = el("input", { id: "c-fz-appeal", maxlength: "300", autocomplete: "off" });
    const form = el("form", { id: "c-fz-form", novalidate: true },
      ...field("c-fz-shown", "c_freeze_shown", shown), ...field("c-fz-appeal", "c_freeze_appeal", appeal), out,
      el("button", { type: "submit", text: t("c_freeze_" + person.kind) }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      guard(ev.submitter, out, async () => {
        const made = await C.withReason("POST", `${base(person)}/freeze`, { reason_shown: shown.value.trim(), appeal: appeal.value.trim() });
        person.page.freeze = { reason: made.reason, since: made.since, appeal: made.appeal, by_role: made.by_role };
        C.renderPerson();
        Saoma.toast(t("c_freeze_done"));
      });
    });
    box.append(form);
  }

  function unfreezeForm(person, box) {
    const out = el("p", { class: "notice", id: "c-uf-out", hidden: true });
    const note = el("input", { id: "c-uf-note", maxlength: "200", autocomplete: "off" });
    const form = el("form", { id: "c-uf-form", novalidate: true },
      ...field("c-uf-note", "c_unfreeze_note", note), out, el("button", { type: "submit", text: t("c_unfreeze") }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      guard(ev.submitter, out, async () => {
        await C.withReason("POST", `${base(person)}/unfreeze`, { note: note.value.trim() });
        person.page.freeze = null;
        C.renderPerson();
        Saoma.toast(t("c_unfreeze_done"));
      });
    });
    box.append(form);
  }

  function base(person) {
    return (person.kind === "consumer" ? "/v1/ops/consumers/" : "/v1/ops/merchants/") + encodeURIComponent(person.id);
  }

  function actions(person, box) {
    if (!person.page.freeze && C.may("freeze")) freezeForm(person, box);
    else if (person.page.freeze && C.may("unfreeze")) unfreezeForm(person, box);
    else if (person.page.freeze && C.may("freeze")) box.append(el("p", { class: "muted", text: t("c_unfreeze_not_yours") }));
    else box.append(el("p", { class: "muted", text: t("c_no_actions") }));
  }

  // --- a merchant's business details -------------------------------------------------------------

  function kycFacts(k) {
    const pairs = [["c_kyc_state", t("c_kyc_" + k.state)], ["c_legal_name", k.legal_name], ["c_licence", k.licence_number],
      ["c_category", k.category], ["c_owner_id", k.owner_id], ["c_submitted", when(k.submitted_at)]];
    if (k.decided_at) pairs.push(["c_decided", when(k.decided_at)]);
    if (k.reason) pairs.push(["c_kyc_reason", k.reason]);
    return C.facts(pairs);
  }

  function kycDecision(person, box, k) {
    const out = el("p", { class: "notice", id: "c-kyc-out", hidden: true });
    const message = el("textarea", { id: "c-kyc-message", maxlength: "500", rows: "2" });
    const decide = (verb, body) => (ev) => guard(ev.target, out, async () => {
      const done = await C.withReason("POST", `/v1/ops/kyc/${encodeURIComponent(person.id)}/${verb}`, body());
      person.page.kyc_state = done.state;
      person.kyc = done;
      showKyc(person, box, done);
    });
    return el("div", {}, ...field("c-kyc-message", "c_kyc_message", message), out, el("div", { class: "row" },
      el("button", { type: "button", id: "c-kyc-approve", text: t("c_approve"), onclick: decide("approve", () => ({})) }),
      el("button", { type: "button", class: "secondary", id: "c-kyc-reject", text: t("c_reject"),
        onclick: decide("reject", () => ({ message: message.value.trim() })) })));
  }

  function showKyc(person, box, k) {
    box.replaceChildren(kycFacts(k));
    if (k.state === "pending" && C.may("kyc.decide")) box.append(kycDecision(person, box, k));
  }

  async function loadKyc(person, box) {
    person.kyc = await C.withReason("GET", `/v1/ops/kyc/${encodeURIComponent(person.id)}`);
    showKyc(person, box, person.kyc);
  }

  function kyc(person, box) {
    const state = person.page.kyc_state || "unverified";
    if (person.kyc && person.kyc.state === state) { showKyc(person, box, person.kyc); return; }
    box.replaceChildren(C.facts([["c_kyc_state", t("c_kyc_" + state)]]));
    if (state === "unverified" || !C.may("kyc.read")) return;
    const out = el("p", { class: "notice", hidden: true });
    if (state === "pending") { guard(null, out, () => loadKyc(person, box)); box.append(out); return; }
    const more = el("button", { type: "button", class: "secondary", id: "c-kyc-show", text: t("c_kyc_show") });
    more.addEventListener("click", () => guard(more, out, () => loadKyc(person, box)));
    box.append(more, out);
  }

  // --- disputes ----------------------------------------------------------------------------------

  /** Disputes as a table; ``open(d)`` opens one. */
  function disputeTable(list, open) {
    if (!list.length) return el("p", { class: "muted", text: t("dp_none") });
    return el("div", { class: "scroll" }, el("table", { class: "c-disputes" },
      el("thead", {}, el("tr", {}, ["c_opened", "merchant", "c_amount", "state", "dp_reason", ""].map((k) =>
        el("th", { text: k ? t(k) : "" })))),
      el("tbody", {}, list.map((d) => el("tr", { dataset: { disputeId: d.id } },
        el("td", { text: when(d.created_at) }), el("td", { text: d.merchant_name }),
        el("td", { text: money(d.amount, d.currency) }), el("td", { class: "dp-state", text: t("dp_state_" + d.state) }),
        el("td", { text: t("dp_reason_" + d.reason) }),
        el("td", {}, el("button", { type: "button", class: "secondary", text: t("c_open_dispute"),
          dataset: { id: d.id }, onclick: () => open(d) })))))));
  }

  async function disputes(person, box) {
    if (!C.may("disputes.read")) { box.replaceChildren(el("p", { class: "muted", text: t("c_disputes_later") })); return; }
    const who = person.kind === "consumer" ? "consumer_id" : "merchant_id";
    try {
      // Read once per opening of the page (each read is on the person's record), again after a decision.
      if (!person.disputeList) {
        person.disputeList = await api("GET", `/v1/ops/disputes?${who}=${encodeURIComponent(person.id)}`, undefined, reasoned(person.reason));
      }
      const found = person.disputeList;
      box.replaceChildren(disputeTable(found.disputes, (d) => openDispute(d.id, person.reason, "c-person")));
    } catch (err) {
      box.replaceChildren(el("p", { class: "notice err", role: "alert", text: Saoma.human(err) }));
    }
  }

  function forget() {
    if (dispute) Object.values(dispute.photos).forEach((u) => URL.revokeObjectURL(u));
  }

  /** Open dispute ``id`` with the typed ``reason`` (audited), then ``back`` returns to a view. */
  async function openDispute(id, reason, back) {
    forget();
    const data = await api("GET", `/v1/ops/disputes/${encodeURIComponent(id)}`, undefined, reasoned(reason));
    dispute = { id, reason, back, data, photos: {} };
    renderDispute();
    show("c-dispute");
  }

  function photo(fileId) {
    const image = (url) => el("img", { src: url, alt: t("dp_photo"), class: "c-dispute-photo" });
    const holder = el("div", { class: "c-photo" });
    const open = dispute; // the dispute the photo belongs to, even if another is opened meanwhile
    if (open.photos[fileId]) { holder.append(image(open.photos[fileId])); return holder; }
    fetch(`/v1/ops/disputes/${encodeURIComponent(open.id)}/files/${encodeURIComponent(fileId)}`,
      { credentials: "same-origin", headers: reasoned(open.reason) })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error("HTTP " + r.status))))
      .then((blob) => {
        open.photos[fileId] = URL.createObjectURL(blob);
        holder.append(image(open.photos[fileId]));
      })
      .catch(() => holder.append(el("p", { class: "small muted", text: t("err_generic") })));
    return holder;
  }

  function side(actor, titleKey, d) {
    const said = d.timeline.filter((e) => e.actor === actor && (e.kind === "opened" || e.kind === "contested"));
    return el("div", { class: "card", id: "c-dp-" + actor }, el("h2", { text: t(titleKey) }),
      said.length ? said.flatMap((e) => [el("p", { text: e.text }), e.file_id ? photo(e.file_id) : null])
        : el("p", { class: "muted", text: t("c_not_said") }));
  }

  function timeline(d) {
    return el("ol", { class: "dp-timeline", id: "c-dp-timeline" }, d.timeline.map((e) => el("li", {},
      el("span", { class: "small muted", text: `${when(e.at)} · ${t("dp_actor_" + e.actor)}` }), " ",
      el("strong", { text: t("dp_kind_" + e.kind) }), e.text ? el("div", { text: e.text }) : null)));
  }

  function decideAction(d, forWhom, note, out) {
    return (ev) => guard(ev.target, out, async () => {
      const body = { for: forWhom, note: note.value.trim() };
      const attempt = `${d.id}\n${JSON.stringify(body)}`;
      const key = decideKeys.get(attempt) || newKey();
      decideKeys.set(attempt, key);
      try {
        dispute.data = await api("POST", `/v1/ops/disputes/${encodeURIComponent(d.id)}/decide`, body,
          reasoned(dispute.reason, { "Idempotency-Key": key }));
      } catch (err) {
        // No answer or still in progress: the same attempt is retried with the same key.
        if (!(err.slug === "network" || err.status >= 500 || err.slug === "request-in-progress")) decideKeys.delete(attempt);
        throw err;
      }
      decideKeys.delete(attempt);
      if (C.current) C.current.disputeList = null;
      renderDispute();
      say("#c-dd-out", t("c_decided_done"), "ok");
    });
  }

  function decision(d) {
    const out = el("p", { class: "notice", id: "c-dd-out", hidden: true });
    if (!DECIDABLE.includes(d.state) || !C.may("disputes.decide")) return out;
    const note = el("textarea", { id: "c-dd-note", maxlength: "1000", rows: "3" });
    return el("div", { class: "card", id: "c-dp-decide" }, ...field("c-dd-note", "c_decide_note", note), out,
      el("div", { class: "row" },
        el("button", { type: "button", id: "c-dd-payer", text: t("c_decide_payer", { amount: money(d.amount, d.currency) }),
          onclick: decideAction(d, "payer", note, out) }),
        el("button", { type: "button", class: "secondary", id: "c-dd-merchant", text: t("c_decide_merchant"),
          onclick: decideAction(d, "merchant", note, out) })));
  }

  function renderDispute() {
    const d = dispute.data;
    $("#c-dispute-title").textContent = `${t("c_dispute")} ${d.id}`;
    $("#c-dispute-reason").textContent = t("c_reason_shown", { reason: dispute.reason });
    $("#c-dispute-body").replaceChildren(
      el("div", { class: "card" }, C.facts([["state", t("dp_state_" + d.state)], ["c_amount", money(d.amount, d.currency)],
        ["dp_reason", t("dp_reason_" + d.reason)], ["merchant", `${d.merchant_name} (${d.merchant_id})`],
        ["c_payer", d.consumer_id || ""], ["c_payment", d.payment_id], ["c_opened", when(d.created_at)],
        ["c_answer_by", when(d.answer_by)]])),
      el("div", { class: "two" }, side("payer", "c_payer_said", d), side("merchant", "c_merchant_said", d)),
      el("div", { class: "card" }, el("h2", { text: t("c_timeline") }), timeline(d)),
      decision(d));
  }

  $("#c-dispute-back").addEventListener("click", () => {
    forget();
    show(dispute ? dispute.back : "c-main");
    if (dispute && dispute.back === "c-main") document.dispatchEvent(new CustomEvent("saoma:console-refresh"));
    else if (C.current) disputes(C.current, $("#c-disputes"));
  });

  document.addEventListener("saoma:lang", () => { if (dispute && !$("#c-dispute").hidden) renderDispute(); });

  Object.assign(C.hooks, { consumerActions: actions, merchantActions: actions, kyc, disputes });
  return { openDispute, disputeTable };
})();

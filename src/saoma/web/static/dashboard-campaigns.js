/* The dashboard's campaigns and coupons: started with a budget from the merchant's balance,
   paused, resumed and ended (the unused budget comes back), each with its report. */
"use strict";

const SaomaCampaigns = (() => {
  const { t, money, api, el, $ } = Saoma;
  let list = [];
  let ending = null; // the campaign whose "End" was pressed once: a second press ends it
  const KIND_ROWS = {
    amount_off: ["#d-cmp-off-row"],
    spend_get: ["#d-cmp-off-row", "#d-cmp-min-row"],
    percent_off: ["#d-cmp-percent-row", "#d-cmp-cap-row"],
  };

  /** A notice made again from ``make`` when the language changes. */
  function tell(target, make, kind) {
    const node = $(target);
    node.saomaMake = make;
    node.saomaKind = kind;
    Saoma.say(node, make ? make() : "", kind);
  }

  function offer(c) {
    const amount = money;
    if (c.kind === "spend_get") return t("cmp_offer_spend_get", { off: amount(c.amount_off), min: amount(c.min_spend) });
    if (c.kind === "percent_off") {
      const percent = c.percent_ppm / 10000;
      return c.cap ? t("cmp_offer_percent_cap", { percent, cap: amount(c.cap) }) : t("cmp_offer_percent_off", { percent });
    }
    if (c.kind === "random") return t("cmp_offer_random", { min: amount(c.random_min), max: amount(c.random_max) });
    return t("cmp_offer_amount_off", { off: amount(c.amount_off) });
  }

  function button(text, cls, action) {
    return el("button", { type: "button", class: cls, text, onclick: (ev) => act(ev.target, action) });
  }

  function actions(c) {
    if (c.state === "ended") return [];
    if (ending === c.id) {
      return [button(t("cmp_end_sure", { amount: money(c.budget_left) }), "danger", () => change(c, "end")),
        button(t("cmp_keep"), "secondary", async () => { ending = null; draw(); })];
    }
    return [c.needs_coupon ? button(t("cpn_share"), "", () => SaomaCouponShare.open(c)) : null,
      c.state === "active" ? button(t("cmp_pause"), "secondary", () => change(c, "pause"))
        : button(t("cmp_resume"), "secondary", () => change(c, "resume")),
      button(t("cmp_end"), "secondary", async () => { ending = c.id; draw(); })];
  }

  function row(c) {
    return el("li", { "data-campaign": c.id, "data-state": c.state },
      el("div", { class: "grow" },
        el("strong", { text: c.name }), " ",
        el("span", { class: "tag state-" + c.state, text: t("cmp_state_" + c.state) }),
        c.needs_coupon ? [" ", el("span", { class: "tag", text: t("cmp_coupon_tag") })] : null,
        el("br"), el("span", { text: offer(c) }), el("br"),
        el("span", { class: "small muted", text: t("cmp_report", {
          count: c.used_count, subsidy: money(c.subsidy_paid), sales: money(c.sales_with_discount),
          left: money(c.budget_left), budget: money(c.budget),
        }) })),
      el("div", { class: "row cmp-actions" }, actions(c)));
  }

  function draw() {
    $("#d-campaigns").replaceChildren(...(list.length ? list.map(row)
      : [el("li", { class: "muted", text: t("cmp_none") })]));
    ["#d-cmp-out", "#d-cmp-form-out"].forEach((id) => {
      const node = $(id);
      if (node.saomaMake) Saoma.say(node, node.saomaMake(), node.saomaKind);
    });
    kindRows();
  }

  async function load() {
    try {
      list = (await api("GET", "/v1/campaigns")).data || [];
    } catch (err) {
      tell("#d-cmp-out", () => Saoma.human(err), "err");
    }
    draw();
  }

  async function act(target, action) {
    target.disabled = true;
    try {
      await action();
    } catch (err) {
      tell("#d-cmp-out", () => Saoma.human(err), "err");
      await load();
    } finally {
      target.disabled = false;
    }
  }

  async function change(c, action) {
    ending = null;
    const after = await api("POST", `/v1/campaigns/${encodeURIComponent(c.id)}/${action}`);
    const name = after.name;
    if (action === "pause") tell("#d-cmp-out", () => t("cmp_paused", { name }), "ok");
    else if (action === "resume") tell("#d-cmp-out", () => t("cmp_resumed", { name }), "ok");
    else tell("#d-cmp-out", () => t("cmp_ended", { name, amount: money(after.returned_to_funder) }), "ok");
    await load();
  }

  function kindRows() {
    const shown = KIND_ROWS[$("#d-cmp-kind").value] || [];
    ["#d-cmp-off-row", "#d-cmp-min-row", "#d-cmp-percent-row", "#d-cmp-cap-row"].forEach((id) => {
      $(id).hidden = !shown.includes(id);
    });
  }

  /** The form as the API's campaign, or the key of the sentence saying what to fix. */
  function spec() {
    const kind = $("#d-cmp-kind").value;
    const name = $("#d-cmp-name").value.trim();
    if (!name || name.length > 64) return ["cmp_bad_name", "#d-cmp-name"];
    const body = { name, kind, needs_coupon: $("#d-cmp-coupon").checked };
    if (kind !== "percent_off") {
      body.amount_off = Saoma.parseAmount($("#d-cmp-off").value);
      if (!body.amount_off) return ["cmp_bad_amount_off", "#d-cmp-off"];
    }
    if (kind === "spend_get") {
      body.min_spend = Saoma.parseAmount($("#d-cmp-min").value);
      if (!body.min_spend || body.min_spend <= body.amount_off) return ["cmp_bad_min_spend", "#d-cmp-min"];
    }
    if (kind === "percent_off") {
      const percent = Number($("#d-cmp-percent").value.trim());
      if (!/^\d{1,3}$/.test($("#d-cmp-percent").value.trim()) || percent < 1 || percent > 100) return ["cmp_bad_percent", "#d-cmp-percent"];
      body.percent_ppm = percent * 10000;
      const cap = $("#d-cmp-cap").value.trim();
      if (cap) {
        body.cap = Saoma.parseAmount(cap);
        if (!body.cap) return ["cmp_bad_cap", "#d-cmp-cap"];
      }
    }
    body.budget = Saoma.parseAmount($("#d-cmp-budget").value);
    if (!body.budget) return ["cmp_bad_budget", "#d-cmp-budget"];
    return [null, body];
  }

  const FIELDS = { name: "cmp_bad_name", amount_off: "cmp_bad_amount_off", min_spend: "cmp_bad_min_spend",
    percent_ppm: "cmp_bad_percent", cap: "cmp_bad_cap", budget: "cmp_bad_budget" };

  function problem(err) {
    const field = err && err.slug === "invalid-request" && err.doc && err.doc.field;
    if (err && err.slug === "insufficient-funds") return t("cmp_budget_too_big");
    return FIELDS[field] ? t(FIELDS[field]) : Saoma.human(err);
  }

  function start() {
    $("#d-cmp-kind").addEventListener("change", kindRows);
    $("#d-cmp-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const [wrong, body] = spec();
      if (wrong) {
        tell("#d-cmp-form-out", () => t(wrong), "err");
        $(body).focus();
        return;
      }
      const submit = ev.submitter || $("#d-cmp-form button[type=submit]");
      submit.disabled = true;
      tell("#d-cmp-form-out", null, "ok");
      try {
        const made = await Saoma.pay("/v1/campaigns", body);
        tell("#d-cmp-form-out", () => t("cmp_created", { name: made.name, amount: money(made.budget) }), "ok");
        ["#d-cmp-name", "#d-cmp-off", "#d-cmp-min", "#d-cmp-percent", "#d-cmp-cap", "#d-cmp-budget"].forEach((id) => { $(id).value = ""; });
        $("#d-cmp-coupon").checked = false;
        await load();
      } catch (err) {
        tell("#d-cmp-form-out", () => problem(err), "err");
      } finally {
        submit.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", start);
  return { load, draw, offer };
})();

/* The wallet's coupons: one a shop shared (its link or code) shown with a Collect button, and
   "My coupons" with the shop, what each gives, the minimum spend, until when and its state. A
   coupon collected comes off by itself when paying (the confirm screen says it is yours). */
"use strict";

Object.assign(DICT.en, {
  cpn_tile: "Coupons", cpn_mine: "My coupons", cpn_title: "Coupon", cpn_collect: "Collect",
  cpn_amount_off: "{off} off", cpn_spend_get: "{off} off when spending {min} or more",
  cpn_percent_off: "{percent}% off", cpn_percent_cap: "{percent}% off, at most {cap}",
  cpn_random: "A random {min} to {max} off",
  cpn_min: "Minimum spend", cpn_no_min: "Any amount", cpn_until: "Valid until", cpn_no_end: "No end date",
  cpn_shop: "Shop", cpn_every_shop: "Every shop on Saoma",
  cpn_state_usable: "Ready to use", cpn_state_used: "Used", cpn_state_ended: "Ended",
  cpn_state_paused: "Paused by the shop",
  cpn_added: "Added to your coupons. It comes off by itself when you pay {shop}.",
  cpn_already: "This coupon is already in your coupons.",
  cpn_already_used: "You have already used this coupon.",
  cpn_paused: "The shop has paused this coupon: you can collect it when it runs again.",
  cpn_gone: "This coupon is no longer available: it has ended, or the link is wrong.",
  cpn_none: "No coupons yet. When a shop shares a coupon, scan its code or open its link to collect it.",
  cpn_how: "Coupons come off by themselves when you pay: the best offer is taken.",
  offer_line_coupon: "Your coupon “{name}”: {discount} off — you pay {amount}",
});

Object.assign(DICT.zh, {
  cpn_tile: "优惠券", cpn_mine: "我的优惠券", cpn_title: "优惠券", cpn_collect: "领取",
  cpn_amount_off: "立减 {off}", cpn_spend_get: "满 {min} 减 {off}",
  cpn_percent_off: "减 {percent}%", cpn_percent_cap: "减 {percent}%，最多减 {cap}",
  cpn_random: "随机立减 {min} 至 {max}",
  cpn_min: "最低消费", cpn_no_min: "无门槛", cpn_until: "有效期至", cpn_no_end: "长期有效",
  cpn_shop: "适用商家", cpn_every_shop: "所有扫码商家",
  cpn_state_usable: "可使用", cpn_state_used: "已使用", cpn_state_ended: "已结束",
  cpn_state_paused: "商家已暂停",
  cpn_added: "已放入你的优惠券，在{shop}付款时自动抵扣。",
  cpn_already: "这张优惠券已经在你的优惠券里了。",
  cpn_already_used: "这张优惠券你已经用过了。",
  cpn_paused: "商家暂停了这张优惠券，恢复后才能领取。",
  cpn_gone: "这张优惠券已不可领取：活动已结束，或链接有误。",
  cpn_none: "还没有优惠券。商家分享优惠券时，扫它的二维码或打开链接即可领取。",
  cpn_how: "付款时自动使用优惠券，按最优惠的一张抵扣。",
  offer_line_coupon: "你的优惠券“{name}”：立减 {discount}，实付 {amount}",
});

const SaomaCoupons = (() => {
  const { t, money, api, guard, say, show, el, $ } = Saoma;
  let shown = null; // the coupon on the coupon screen
  let noted = null; // what collecting it answered, said again in another language
  let failed = false; // the coupon could not be read (no connection): nothing to draw again
  let list = [];
  const LINK = /[#&]coupon=([\w-]{1,64})\s*$/;

  function offerText(c) {
    const off = money(c.amount_off);
    if (c.kind === "spend_get") return t("cpn_spend_get", { off, min: money(c.min_spend) });
    if (c.kind === "percent_off") {
      const percent = c.percent_ppm / 10000;
      return c.cap ? t("cpn_percent_cap", { percent, cap: money(c.cap) }) : t("cpn_percent_off", { percent });
    }
    if (c.kind === "random") return t("cpn_random", { min: money(c.random_min), max: money(c.random_max) });
    return t("cpn_amount_off", { off });
  }

  const shopOf = (c) => (c.merchant ? Saoma.merchantName(c.merchant) : t("cpn_every_shop"));
  const day = (iso) => new Date(iso).toLocaleDateString(Saoma.lang === "zh" ? "zh-CN" : "en-GB",
    { year: "numeric", month: "short", day: "numeric" });

  /** usable, used, ended or paused: what the payer can do with it now. */
  function stateOf(c) {
    if (c.state === "used") return "used";
    if (c.campaign_state === "ended") return "ended";
    return c.campaign_state === "paused" ? "paused" : "usable";
  }

  function facts(c) {
    return [
      [t("cpn_shop"), shopOf(c)],
      [t("cpn_min"), c.min_spend ? money(c.min_spend) : t("cpn_no_min")],
      [t("cpn_until"), c.ends_at ? day(c.ends_at) : t("cpn_no_end")],
    ].map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: v })));
  }

  // --- one coupon, as shared by a shop ----------------------------------------------------------

  function drawCoupon() {
    const c = shown;
    const note = noted;
    $("#cp-ticket").hidden = !c;
    $("#cp-collect").hidden = true;
    if (!c) { say("#cp-out", t("cpn_gone"), "err"); return; }
    $("#cp-offer").textContent = offerText(c);
    $("#cp-name").textContent = c.name;
    $("#cp-facts").replaceChildren(...facts(c));
    if (note) { say("#cp-out", t(note, { shop: shopOf(c) }), "ok"); return; }
    if (c.state === "used") say("#cp-out", t("cpn_already_used"), "ok");
    else if (c.state === "collected") say("#cp-out", t("cpn_already"), "ok");
    else if (c.campaign_state !== "active") say("#cp-out", t("cpn_paused"), "warn");
    else { say("#cp-out", "", "ok"); $("#cp-collect").hidden = false; }
  }

  async function open(id) {
    shown = null;
    noted = null;
    failed = false;
    try {
      shown = await api("GET", `/v1/coupons/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err.status !== 404) {
        failed = true;
        show("v-coupon");
        $("#cp-ticket").hidden = true;
        $("#cp-collect").hidden = true;
        say("#cp-out", Saoma.human(err), "err");
        return;
      }
    }
    drawCoupon();
    show("v-coupon");
  }

  /** A coupon's link or code read by the scanner: opened here (true), or not one (false). */
  function read(text) {
    const found = LINK.exec(String(text || "").trim());
    if (!found) return false;
    open(found[1]);
    return true;
  }

  /** The wallet opened on a coupon's link: after signing in, the coupon. */
  function fromLink() {
    const found = LINK.exec(location.hash);
    if (!found) return;
    history.replaceState(null, "", location.pathname);
    open(found[1]);
  }

  // --- my coupons -----------------------------------------------------------------------------

  function row(c) {
    const state = stateOf(c);
    return el("li", { class: "coupon " + state, "data-coupon": c.campaign_id, "data-state": state },
      el("div", { class: "coupon-value", text: offerText(c) }),
      el("div", { class: "coupon-body" },
        el("strong", { text: shopOf(c) }),
        el("span", { class: "coupon-name", text: c.name }),
        el("span", { class: "small", text: c.min_spend ? `${t("cpn_min")} ${money(c.min_spend)}` : t("cpn_no_min") }),
        el("span", { class: "small", text: c.ends_at ? `${t("cpn_until")} ${day(c.ends_at)}` : t("cpn_no_end") }),
        el("span", { class: "tag coupon-state", text: t("cpn_state_" + state) })));
  }

  function drawList() {
    $("#cps-list").replaceChildren(...(list.length ? list.map(row)
      : [el("li", { class: "muted empty", text: t("cpn_none") })]));
  }

  async function showMine() {
    say("#cps-out", "", "ok");
    try {
      list = (await api("GET", "/v1/me/coupons")).data || [];
    } catch (err) {
      say("#cps-out", Saoma.human(err), "err");
      return;
    }
    drawList();
  }

  function start() {
    $("#cp-collect").addEventListener("click", (ev) => guard(ev.target, "#cp-out", async () => {
      const got = await api("POST", `/v1/campaigns/${encodeURIComponent(shown.campaign_id)}/coupons`);
      shown = got;
      // The answer says whether it was already there: collecting twice adds nothing.
      if (!got.already_collected) noted = "cpn_added";
      else noted = got.state === "used" ? "cpn_already_used" : "cpn_already";
      drawCoupon();
    }));
    document.addEventListener("saoma:view", (ev) => {
      if (ev.detail === "v-coupons") showMine();
      if (ev.detail === "v-home") fromLink();
    });
    window.addEventListener("hashchange", () => { if ($("#v-signin").hidden && $("#v-signup").hidden) fromLink(); });
    document.addEventListener("saoma:lang", () => {
      if (!$("#v-coupons").hidden) drawList();
      if (!$("#v-coupon").hidden && !failed) drawCoupon();
    });
  }

  document.addEventListener("DOMContentLoaded", start);
  return { read, open, offerText };
})();

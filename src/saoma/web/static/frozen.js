/* A freeze, as the person sees it: at the top of the wallet's home and of the dashboard, since
   when, the reason the operator wrote for them, how to appeal, what is stopped and what still
   works, and where to see who looked at their data. Loaded after saoma.js. */
"use strict";

Object.assign(DICT.en, {
  frozen_wallet_title: "Your wallet is frozen",
  frozen_shop_title: "Your business is frozen",
  frozen_since: "Since {time}.",
  frozen_reason: "Reason:",
  frozen_appeal: "To appeal:",
  frozen_wallet_rules: "Paying, sending money and withdrawing are stopped until the freeze is lifted. Refunds still arrive in your wallet.",
  frozen_shop_rules: "Payments cannot be taken and payouts are held until the freeze is lifted. You can still refund your customers.",
  frozen_access: "See who looked at my data",
});
Object.assign(DICT.zh, {
  frozen_wallet_title: "你的钱包已被冻结",
  frozen_shop_title: "你的商户已被冻结",
  frozen_since: "冻结时间：{time}。",
  frozen_reason: "原因：",
  frozen_appeal: "申诉方式：",
  frozen_wallet_rules: "解冻前无法付款、转账或提现。退款仍会到账。",
  frozen_shop_rules: "解冻前无法收款，结算款暂缓打款。你仍可以给顾客退款。",
  frozen_access: "查看谁查看了我的数据",
});

const SaomaFrozen = (() => {
  const { t, el, when } = Saoma;

  /** Draw ``freeze`` ({reason, since, appeal} or null) into ``box``; ``kind`` is "wallet" or
   *  "shop"; ``access`` the element that opens "Who looked at my data". Hidden when null. */
  function render(box, freeze, kind, access) {
    box.hidden = !freeze;
    box.replaceChildren();
    if (!freeze) return;
    const title = `${box.id}-title`;
    box.setAttribute("aria-labelledby", title);
    box.append(
      el("h2", { id: title, text: t(`frozen_${kind}_title`) }),
      el("p", { class: "frozen-since", text: t("frozen_since", { time: when(freeze.since) }) }),
      el("p", { class: "frozen-reason" }, el("strong", { text: t("frozen_reason") }), " ", freeze.reason),
      el("p", { class: "frozen-appeal" }, el("strong", { text: t("frozen_appeal") }), " ", freeze.appeal),
      el("p", { id: `${box.id}-rules`, text: t(`frozen_${kind}_rules`) }),
      access);
  }

  return { render };
})();

/* A coupon shared from the dashboard: its QR code and link open the payer's wallet on the
   coupon, to collect it. Drawn here (no service), printable, and downloadable as a PNG. */
"use strict";

Object.assign(DICT.en, {
  cpn_share: "Share", cpn_share_title: "Share “{name}”",
  cpn_share_hint: "Payers scan this code with the Saoma wallet, or open the link, to collect the coupon.",
  cpn_share_at: "At {shop}", cpn_copy: "Copy the link", cpn_copied: "The link is copied: paste it in a message.",
  cpn_copy_failed: "This browser did not copy the link: select it above and copy it by hand.",
  cpn_print: "Print", cpn_download: "Download the code (PNG)", cpn_close: "Close",
  cpn_code_label: "Coupon code for “{name}”",
});

Object.assign(DICT.zh, {
  cpn_share: "分享", cpn_share_title: "分享“{name}”",
  cpn_share_hint: "顾客用扫码钱包扫这个码，或打开链接，即可领取优惠券。",
  cpn_share_at: "适用商家：{shop}", cpn_copy: "复制链接", cpn_copied: "链接已复制，可粘贴到消息中发送。",
  cpn_copy_failed: "浏览器未能复制链接：请选中上方链接手动复制。",
  cpn_print: "打印", cpn_download: "下载二维码（PNG）", cpn_close: "关闭",
  cpn_code_label: "“{name}”优惠券二维码",
});

const SaomaCouponShare = (() => {
  const { t, api, el, $ } = Saoma;
  let shown = null; // the campaign being shared
  let shop = null;

  /** The link a payer opens: the wallet, on this coupon. */
  const linkOf = (c) => `${location.origin}/wallet#coupon=${encodeURIComponent(c.id)}`;

  /** The code and the words under it as a PNG, for a poster or a message. */
  async function png(svg, lines) {
    const copy = svg.cloneNode(true);
    copy.setAttribute("width", "480");
    copy.setAttribute("height", "480");
    const image = new Image();
    image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(new XMLSerializer().serializeToString(copy));
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = 560;
    canvas.height = 560 + 44 * lines.length;
    const pen = canvas.getContext("2d");
    pen.fillStyle = "#fff";
    pen.fillRect(0, 0, canvas.width, canvas.height);
    pen.drawImage(image, 40, 40, 480, 480);
    pen.fillStyle = "#1d1f24";
    pen.textAlign = "center";
    lines.forEach((line, i) => {
      pen.font = `${i === 0 ? "bold 30px" : "24px"} ${getComputedStyle(document.body).fontFamily}`;
      pen.fillText(line, canvas.width / 2, 548 + 44 * i, canvas.width - 40);
    });
    return canvas.toDataURL("image/png");
  }

  async function draw() {
    const c = shown;
    const link = linkOf(c);
    const name = Saoma.merchantName(shop);
    $("#d-cpn-title").textContent = t("cpn_share_title", { name: c.name });
    $("#d-cpn-offer").textContent = SaomaCampaigns.offer(c);
    $("#d-cpn-shop").textContent = t("cpn_share_at", { shop: name });
    const svg = Saoma.qrSvg(link);
    svg.setAttribute("aria-label", t("cpn_code_label", { name: c.name }));
    $("#d-cpn-code").replaceChildren(svg);
    $("#d-cpn-link").href = link;
    $("#d-cpn-link").textContent = link;
    const download = $("#d-cpn-download");
    download.setAttribute("download", `coupon-${c.id}.png`);
    download.removeAttribute("href");
    const made = await png(svg, [c.name, SaomaCampaigns.offer(c), name]).catch(() => null);
    if (made && shown === c) download.href = made;
  }

  async function open(c) {
    shown = c;
    Saoma.say("#d-cpn-out", "", "ok");
    if (!shop) shop = await api("GET", "/v1/merchant");
    await draw();
    if (!$("#d-cpn-dialog").open) $("#d-cpn-dialog").showModal();
  }

  function start() {
    $("#d-cpn-close").addEventListener("click", () => $("#d-cpn-dialog").close());
    $("#d-cpn-dialog").addEventListener("close", () => { shown = null; });
    $("#d-cpn-copy").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText($("#d-cpn-link").href);
        Saoma.say("#d-cpn-out", t("cpn_copied"), "ok");
      } catch (err) {
        Saoma.say("#d-cpn-out", t("cpn_copy_failed"), "warn");
      }
    });
    // Printing from here prints the coupon's code alone.
    $("#d-cpn-print").addEventListener("click", () => {
      document.body.classList.add("printing-coupon");
      window.print();
    });
    window.addEventListener("afterprint", () => document.body.classList.remove("printing-coupon"));
    document.addEventListener("saoma:lang", () => { if (shown) draw(); });
  }

  document.addEventListener("DOMContentLoaded", start);
  return { open, linkOf };
})();

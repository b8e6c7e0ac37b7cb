/* The bike's page: every step that needs the payer goes through the wallet's bridge. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let session = "";
  let code = "";
  let ticking = null;
  const yuan = (fen) => "¥" + (fen / 100).toFixed(2);

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ session }, body || {})),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || "refused");
    return answer;
  }

  function draw(s) {
    $("bike").textContent = s.bike || "none";
    $("state").textContent = s.state;
    $("scan").hidden = !session || s.state === "riding";
    $("unlock").hidden = !(code && s.state !== "riding");
    $("lock").hidden = s.state !== "riding";
    $("timer").hidden = s.state !== "riding";
    $("elapsed").textContent = `${Math.floor(s.riding_s / 60)}:${String(s.riding_s % 60).padStart(2, "0")}`;
    $("fare").textContent = yuan(s.fare_so_far);
    clearTimeout(ticking);
    if (s.state === "riding") ticking = setTimeout(() => post("/api/state").then(draw), 1000);
  }

  const say = (text) => { $("out").textContent = text; };

  $("sign-in").addEventListener("click", async () => {
    const agreed = await SaomaBridge.login(["profile.masked_name"]);
    if (!agreed.ok) { say(`Not signed in (${agreed.error}).`); return; }
    const signed = await post("/api/session", { code: agreed.code }).catch((e) => ({ error: e.message }));
    if (signed.error) { say(`Not signed in (${signed.error}).`); return; }
    session = signed.session;
    $("hello").textContent = `Hello, ${signed.name || "rider"}.`;
    $("sign-in").hidden = true;
    draw(await post("/api/state"));
  });

  $("scan").addEventListener("click", async () => {
    const scanned = await SaomaBridge.scanCode();
    if (!scanned.ok) { say(`No code read (${scanned.error}).`); return; }
    if (!/^SAOMA-BIKE:[A-Z]{2}-\d{4}$/.test(scanned.text)) { say("That is not a bike's code."); return; }
    code = scanned.text;
    $("bike").textContent = code.split(":")[1];
    $("unlock").hidden = false;
    say("Unlocking takes a ¥99.00 deposit, which you allow in your wallet.");
  });

  $("unlock").addEventListener("click", async () => {
    try {
      const asked = await post("/api/unlock", { code });
      const allowed = await SaomaBridge.requestHold(asked.hold_id);
      if (!allowed.ok) { say(`Not unlocked (${allowed.error}).`); draw(await post("/api/state")); return; }
      $("receipt").hidden = true;
      draw(await post("/api/ride"));
      say("Unlocked: enjoy the ride.");
    } catch (err) { say(`Not unlocked (${err.message}).`); }
  });

  $("lock").addEventListener("click", async () => {
    try {
      const s = await post("/api/lock");
      draw(s);
      $("receipt").textContent = `Ride ended: fare ${yuan(s.last_fare)}; ${yuan(s.released)} of the deposit released.`;
      $("receipt").hidden = false;
      code = "";
      $("unlock").hidden = true;
      say("");
    } catch (err) { say(`Not locked (${err.message}).`); }
  });

  $("sign-in").disabled = false; // ready: the page's buttons answer from now on
})();

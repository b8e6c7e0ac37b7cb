/* Code 128 (set C) barcodes for the 18-digit payment code, drawn as SVG. */
"use strict";

const Code128 = (() => {
  // Bar/space widths of the 107 Code 128 symbols (ISO/IEC 15417, table 1).
  const PATTERNS = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
  ];
  const START_C = 105;
  const STOP = 106;

  /** Symbol values for an even-length digit string in code set C, with checksum. */
  function symbols(digits) {
    if (!/^(\d\d)+$/.test(digits)) throw new Error("Code 128 C needs an even number of digits");
    const values = [START_C];
    for (let i = 0; i < digits.length; i += 2) values.push(Number(digits.slice(i, i + 2)));
    let sum = START_C;
    for (let i = 1; i < values.length; i++) sum += values[i] * i;
    values.push(sum % 103, STOP);
    return values;
  }

  /** An <svg> of the barcode with a 10-module quiet zone on each side. */
  function svg(digits) {
    const widths = symbols(digits).map((v) => PATTERNS[v]).join("");
    const quiet = 10;
    let total = quiet * 2;
    for (const w of widths) total += Number(w);
    const ns = "http://www.w3.org/2000/svg";
    const node = document.createElementNS(ns, "svg");
    node.setAttribute("viewBox", `0 0 ${total} 50`);
    node.setAttribute("preserveAspectRatio", "none");
    node.setAttribute("class", "barcode");
    // Whole pixels per module: a bar drawn 2.2 pixels wide blurs into its neighbours, and a
    // scanner at the till reads some codes and not others.
    const room = Math.min(window.innerWidth * 0.88, 420);
    node.style.width = `${Math.max(1, Math.floor(room / total)) * total}px`;
    node.setAttribute("shape-rendering", "crispEdges");
    node.setAttribute("role", "img");
    const bg = document.createElementNS(ns, "rect");
    bg.setAttribute("width", total);
    bg.setAttribute("height", 50);
    bg.setAttribute("fill", "#fff");
    node.append(bg);
    let x = quiet;
    let bar = true;
    for (const w of widths) {
      const width = Number(w);
      if (bar) {
        const r = document.createElementNS(ns, "rect");
        r.setAttribute("x", x);
        r.setAttribute("width", width);
        r.setAttribute("height", 50);
        r.setAttribute("fill", "#000");
        node.append(r);
      }
      x += width;
      bar = !bar;
    }
    return node;
  }

  return { svg, symbols };
})();

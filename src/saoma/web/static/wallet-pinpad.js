/* The six-box PIN pad: one real password input under six boxes that show a dot per digit.
   Typing, the phone's number pad, a hardware keyboard and pasting all go into that one input
   (its label is read out as usual); at the sixth digit the pad calls back, once. */
"use strict";

const PinPad = (() => {
  const LENGTH = 6;

  /** Wire ``input`` (inside `.pin-boxes`, which gets its six boxes here); ``onFull(pin)`` runs
      when the sixth digit arrives. */
  function attach(input, onFull) {
    const holder = input.closest(".pin-boxes");
    const made = Array.from(holder.querySelectorAll(".pin-box"));  // a page cached before: kept
    const boxes = made.length ? made : Array.from({ length: LENGTH }, () => {
      const box = document.createElement("span");
      box.className = "pin-box";
      box.setAttribute("aria-hidden", "true");
      return holder.appendChild(box);
    });
    const render = () => {
      const n = input.value.length;
      const focused = document.activeElement === input;
      boxes.forEach((box, i) => {
        box.textContent = i < n ? "●" : "";
        box.classList.toggle("filled", i < n);
        box.classList.toggle("next", focused && (i === n || (n === LENGTH && i === LENGTH - 1)));
      });
    };
    input.addEventListener("input", () => {
      const digits = input.value.replace(/\D/g, "").slice(0, LENGTH);
      if (digits !== input.value) input.value = digits;
      render();
      if (digits.length === LENGTH) onFull(digits);
    });
    input.addEventListener("focus", render);
    input.addEventListener("blur", render);
    render();
    return {
      clear() { input.value = ""; render(); },
      focus() { input.focus(); },
    };
  }

  return { attach, LENGTH };
})();

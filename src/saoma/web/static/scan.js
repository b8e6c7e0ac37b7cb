/* Reading QR codes in the page: a live camera (getUserMedia) or a photo, decoded by jsQR. */
"use strict";

const Scan = (() => {
  const MAX_SIDE = 720; // downscale big frames: faster, and jsQR reads them as well

  function decodeCanvas(source, width, height) {
    const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(source, 0, 0, w, h);
    const pixels = ctx.getImageData(0, 0, w, h);
    const found = jsQR(pixels.data, w, h, { inversionAttempts: "attemptBoth" });
    return found ? found.data : null;
  }

  /** The text of the first QR code in an image file, or null. */
  async function fromFile(file) {
    const bitmap = await createImageBitmap(file);
    try {
      return decodeCanvas(bitmap, bitmap.width, bitmap.height);
    } finally {
      if (bitmap.close) bitmap.close();
    }
  }

  /**
   * Start the back camera in `video` and call `onCode(text)` once for the first code seen.
   * Resolves to a stop() function; rejects if there is no camera or no permission.
   */
  async function camera(video, onCode) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("no camera API");
    }
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" } }, audio: false,
    });
    video.srcObject = stream;
    video.setAttribute("playsinline", "");
    video.muted = true;
    await video.play();
    let running = true;
    const stop = () => {
      running = false;
      stream.getTracks().forEach((track) => track.stop());
      video.srcObject = null;
    };
    const tick = () => {
      if (!running) return;
      if (video.readyState >= 2 && video.videoWidth) {
        const text = decodeCanvas(video, video.videoWidth, video.videoHeight);
        if (text) {
          stop();
          onCode(text);
          return;
        }
      }
      setTimeout(tick, 120);
    };
    tick();
    return stop;
  }

  return { fromFile, camera };
})();

// Scanning a QR label or a barcode with the camera where the browser can (BarcodeDetector);
// typing the code always works, so this is a shortcut, never the only way.
import { el } from './dom.js';

export function canScan() {
  return 'BarcodeDetector' in window && !!navigator.mediaDevices?.getUserMedia;
}

/** Open the camera in a sheet until a code is read or the volunteer closes it. */
export async function scanCode(t) {
  const detector = new window.BarcodeDetector();
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  const video = el('video', { playsinline: true, muted: true, class: 'scan-video' });
  video.srcObject = stream;
  return new Promise((resolve) => {
    let open = true;
    const close = (value) => {
      open = false;
      stream.getTracks().forEach((track) => track.stop());
      sheet.remove();
      resolve(value);
    };
    const sheet = el('div', { class: 'sheet', role: 'dialog', 'aria-label': t('app.scan') },
      video, el('button', { type: 'button', class: 'secondary', text: t('app.close'), onclick: () => close(null) }));
    document.body.append(sheet);
    video.play();
    const tick = async () => {
      if (!open) return;
      try {
        const codes = await detector.detect(video);
        if (codes.length) { close(codes[0].rawValue); return; }
      } catch { /* the video is not ready yet */ }
      setTimeout(tick, 250);
    };
    tick();
  });
}

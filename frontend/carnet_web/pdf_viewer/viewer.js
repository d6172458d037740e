// Carnet's PDF viewer (see __init__.py). Runs in an <iframe sandbox="allow-scripts"> of the
// document page: an opaque origin, which sees nothing of Carnet. The parent page sends the
// document's bytes by postMessage; pdf.js renders one page at a time into a canvas. pdf.js never
// evaluates code from the PDF (isEvalSupported: false, no scripting, no annotation layer).

const root = document.documentElement;
const labels = JSON.parse(document.getElementById("labels").textContent);
const library = new URL(root.dataset.pdfjs, window.location.href).href; // ends with "/"
const element = (id) => document.getElementById(id);
const toolbar = element("toolbar");
const pages = element("pages");
const canvas = element("page");
const pageStatus = element("page-status");
const zoomLevel = element("zoom-level");
const buttons = {
  previous: element("previous"),
  next: element("next"),
  zoomOut: element("zoom-out"),
  zoomIn: element("zoom-in"),
  fitWidth: element("fit-width"),
};
const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];

let pdf = null;
let pageNumber = 1;
let scale = null; // null: the page's width fits the viewer
let currentScale = 1;
let received = false;
let queue = Promise.resolve();

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? values[name] : match));
}

function tell(message) {
  // The parent only learns how it went; it never gets anything from the document.
  window.parent.postMessage({ carnet: message, pages: pdf ? pdf.numPages : 0 }, "*");
}

function fail(text) {
  element("loading").hidden = true;
  toolbar.hidden = true;
  pages.hidden = true;
  const failure = element("failure");
  failure.textContent = text;
  failure.hidden = false;
  tell("viewer-failed");
}

// pdf.js is an ES module, and so is its worker. A worker must come from the page's own origin,
// which here is opaque: start a classic worker from a blob: URL (a module worker from one is
// refused in an opaque origin) that imports the real script, and hand it to pdf.js once it says
// it is ready (pdf.js would talk to it before it listens).
const pdfjs = import(library + "build/pdf.min.mjs").then(async (lib) => {
  const source = `import(${JSON.stringify(library + "build/pdf.worker.min.mjs")});`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url);
  await new Promise((resolve, reject) => {
    const ready = (event) => {
      if (event.data && event.data.action === "ready") {
        worker.removeEventListener("message", ready);
        resolve();
      }
    };
    worker.addEventListener("message", ready);
    worker.addEventListener("error", reject, { once: true });
  });
  URL.revokeObjectURL(url);
  lib.GlobalWorkerOptions.workerPort = worker;
  return lib;
});

async function open(data) {
  let lib;
  try {
    lib = await pdfjs;
    pdf = await lib.getDocument({
      data: new Uint8Array(data),
      isEvalSupported: false,
      enableXfa: false,
      stopAtErrors: false,
      standardFontDataUrl: library + "standard_fonts/",
      cMapUrl: library + "cmaps/",
      cMapPacked: true,
      iccUrl: library + "iccs/",
      wasmUrl: library + "wasm/",
    }).promise;
  } catch (error) {
    const locked = lib && error instanceof lib.PasswordException;
    fail(locked ? labels.password : labels.failed);
    return;
  }
  element("loading").hidden = true;
  toolbar.hidden = false;
  pages.hidden = false;
  show(1);
}

function show(number) {
  queue = queue.then(() => draw(number)).catch(() => fail(labels.failed));
  return queue;
}

async function draw(number) {
  const page = await pdf.getPage(number);
  const natural = page.getViewport({ scale: 1 });
  const room = Math.max(100, pages.clientWidth - 32);
  currentScale = scale ?? room / natural.width;
  const viewport = page.getViewport({ scale: currentScale });
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.style.width = `${Math.floor(viewport.width)}px`;
  canvas.style.height = `${Math.floor(viewport.height)}px`;
  await page.render({
    canvas,
    viewport,
    transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
  }).promise;
  const changed = number !== pageNumber;
  pageNumber = number;
  const where = fill(labels.page, { page: pageNumber, pages: pdf.numPages });
  canvas.setAttribute("aria-label", where);
  pageStatus.textContent = where;
  zoomLevel.textContent = `${Math.round(currentScale * 100)} %`;
  buttons.previous.setAttribute("aria-disabled", String(pageNumber <= 1));
  buttons.next.setAttribute("aria-disabled", String(pageNumber >= pdf.numPages));
  buttons.zoomOut.setAttribute("aria-disabled", String(currentScale <= ZOOMS[0]));
  buttons.zoomIn.setAttribute("aria-disabled", String(currentScale >= ZOOMS[ZOOMS.length - 1]));
  buttons.fitWidth.setAttribute("aria-pressed", String(scale === null));
  if (changed) pages.scrollTo(0, 0);
  root.dataset.rendered = String(pageNumber);
  tell("viewer-rendered");
}

function enabled(button) {
  return pdf && button.getAttribute("aria-disabled") !== "true";
}

// Buttons stay focusable at the ends (aria-disabled, not disabled): focus never falls away.
buttons.previous.addEventListener("click", () => {
  if (enabled(buttons.previous)) show(pageNumber - 1);
});
buttons.next.addEventListener("click", () => {
  if (enabled(buttons.next)) show(pageNumber + 1);
});
buttons.zoomIn.addEventListener("click", () => {
  if (!enabled(buttons.zoomIn)) return;
  scale = ZOOMS.find((zoom) => zoom > currentScale + 0.01) ?? ZOOMS[ZOOMS.length - 1];
  show(pageNumber);
});
buttons.zoomOut.addEventListener("click", () => {
  if (!enabled(buttons.zoomOut)) return;
  scale = [...ZOOMS].reverse().find((zoom) => zoom < currentScale - 0.01) ?? ZOOMS[0];
  show(pageNumber);
});
buttons.fitWidth.addEventListener("click", () => {
  if (!pdf) return;
  scale = null;
  show(pageNumber);
});

let resizing = 0;
window.addEventListener("resize", () => {
  if (!pdf || scale !== null) return;
  cancelAnimationFrame(resizing);
  resizing = requestAnimationFrame(() => show(pageNumber));
});

window.addEventListener("message", (event) => {
  if (event.source !== window.parent || !event.data || typeof event.data !== "object") return;
  const message = event.data;
  if (message.carnet === "viewer-ping") {
    if (!received) tell("viewer-ready");
    return;
  }
  if (received) return;
  if (message.carnet === "document" && message.data instanceof ArrayBuffer) {
    received = true;
    open(message.data);
  } else if (message.carnet === "failed") {
    received = true;
    fail(labels.failed);
  }
});

tell("viewer-ready");

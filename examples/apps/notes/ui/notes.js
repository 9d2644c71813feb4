// The notes page: `load` once the bridge is there, `save:<text>` on Save
// (or Ctrl+S). What is shown as saved is what the guest said it wrote.
const text = document.getElementById("text");
const save = document.getElementById("save");
const statusEl = document.getElementById("status");
const status = (t, error = false) => {
  statusEl.textContent = t;
  statusEl.classList.toggle("error", error);
};

(function waitForBridge() {
  if (!window.weftIpc) return setTimeout(waitForBridge, 50);
  const ipc = window.weftIpc;
  ipc.onmessage = (payload) => {
    const msg = JSON.parse(payload);
    if (typeof msg.notes === "string") {
      text.value = msg.notes;
      text.disabled = save.disabled = false;
      text.placeholder = "Write something…";
      status(msg.notes ? "Loaded." : "No notes yet.");
      document.body.dataset.loaded = "1";
    } else if (typeof msg.saved === "number") {
      status(`Saved (${msg.saved} bytes).`);
      document.body.dataset.saved = String(msg.saved);
    } else if (msg.error) status(msg.error, true);
  };
  ipc.onended = (info) => {
    text.disabled = save.disabled = true;
    status(`The app has ended (${info.reason}).`, true);
  };
  const doSave = () => {
    status("Saving…");
    ipc.send(`save:${text.value}`);
  };
  save.onclick = doSave;
  text.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") {
      e.preventDefault();
      doSave();
    }
  });
  ipc.send("load");
})();

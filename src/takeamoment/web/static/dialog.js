// One modal <dialog> asks the host before anything changes: keyboard-operable, Escape cancels,
// focus starts on the harmless choice and returns to the button that opened it.

const dialog = document.getElementById("action-dialog");
const title = document.getElementById("dialog-title");
const body = document.getElementById("dialog-body");
const forceRow = document.getElementById("dialog-force-row");
const force = document.getElementById("dialog-force");
const confirmButton = document.getElementById("dialog-confirm");
const cancelButton = document.getElementById("dialog-cancel");
const errorBox = document.getElementById("dialog-error");

/**
 * Ask; resolves to {confirmed, force}. With `needsForce`, confirming needs the force box ticked.
 */
export function ask({ heading, content, confirmLabel, cancelLabel, needsForce = false }) {
  const opener = document.activeElement;
  title.textContent = heading;
  body.replaceChildren(...content);
  forceRow.hidden = !needsForce;
  force.checked = false;
  confirmButton.textContent = confirmLabel;
  confirmButton.disabled = needsForce;
  cancelButton.textContent = cancelLabel;
  errorBox.hidden = true;
  force.onchange = () => {
    confirmButton.disabled = needsForce && !force.checked;
  };
  dialog.returnValue = "";
  dialog.showModal();
  cancelButton.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve({ confirmed: dialog.returnValue === "confirm", force: needsForce && force.checked });
      if (opener && opener.isConnected) opener.focus();
    }, { once: true });
  });
}

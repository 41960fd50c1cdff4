// A yes/no question in a modal <dialog> (#confirm-dialog): focus starts on "No", Escape is "No",
// and focus goes back to what opened it.

export function confirmAction({ title, body, yes, no = "Keep it" }) {
  const dialog = document.getElementById("confirm-dialog");
  const opener = document.activeElement;
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").textContent = body;
  document.getElementById("confirm-yes").textContent = yes;
  const noButton = document.getElementById("confirm-no");
  noButton.textContent = no;
  dialog.returnValue = "";
  dialog.showModal();
  noButton.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      if (opener && opener.isConnected) opener.focus();
    }, { once: true });
  });
}
